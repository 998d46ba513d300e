/* SPDX-License-Identifier: MIT */
/*
 * The VFIO backend: devices of this host bound to vfio-pci.
 * Placeholder until the VFIO issue lands: it finds no devices, so the pool
 * is made of vfio-user devices only.
 */
#include <errno.h>

#include "backend.h"

static int vfio_open(const char *loc, enum udd_be_mode mode, struct udd_log *log, void **bdev)
{
	(void)loc; (void)mode; (void)log; (void)bdev;
	return -ENOTSUP;
}

const struct udd_backend_ops udd_vfio_backend = {
	.name = "vfio",
	.open = vfio_open,
	.enumerate = NULL,
};
