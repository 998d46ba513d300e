/* SPDX-License-Identifier: MIT */
/*
 * VFIO backend internals shared by vfio.c (the kernel interface) and
 * vfio_sysfs.c (everything read from sysfs: enumeration, probe-mode
 * descriptions).
 */
#ifndef UDD_BACKEND_VFIO_PRIV_H
#define UDD_BACKEND_VFIO_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "udd/udd.h"
#include "backend.h"

#define UDD_INTERNAL_VFIO __attribute__((visibility("hidden")))

/* "DDDD:BB:DD.F" plus NUL. */
#define VFIO_BDF_LEN 13

/* Resources listed by sysfs "resource": 6 BARs + ROM. */
#define VFIO_SYS_NRES 7

struct vfio_sys_res {
	uint64_t start, end, flags;
};

/* The sysfs root ($UDD_SYSFS_ROOT, else "/sys"). */
UDD_INTERNAL_VFIO const char *vfio_sysfs_root(void);

/* 1 if @s is exactly a PCI address "DDDD:BB:DD.F" (lower- or upper-case
 * hex, function 0-7), else 0. Only such names are ever put in a path. */
UDD_INTERNAL_VFIO int vfio_bdf_valid(const char *s);

/* snprintf "<root>/bus/pci/devices/<bdf>/<leaf>" into @buf (leaf may be
 * NULL for the device directory). -ENAMETOOLONG if it does not fit. */
UDD_INTERNAL_VFIO int vfio_dev_path(char *buf, size_t len, const char *bdf, const char *leaf);

/* The basename of the link <devdir>/<leaf> into @out (e.g. the driver's
 * name, the IOMMU group number). -ENOENT no link; -errno. */
UDD_INTERNAL_VFIO int vfio_link_name(const char *bdf, const char *leaf, char *out, size_t outlen);

/* 0 if the device exists and is bound to vfio-pci; -ENOENT otherwise
 * (logged with the reason). */
UDD_INTERNAL_VFIO int vfio_check_bound(const char *bdf, struct udd_log *log);

/* Parse the device's sysfs "resource" file into res[VFIO_SYS_NRES]. */
UDD_INTERNAL_VFIO int vfio_sys_read_resources(const char *bdf, struct vfio_sys_res *res);

/* Number of vectors of IRQ index @index (VFIO numbering) that a device
 * with this config space would report, read from its capabilities.
 * @cfg holds @len >= 64 bytes of config space. */
UDD_INTERNAL_VFIO uint32_t vfio_cfg_irq_count(const uint8_t *cfg, size_t len, uint32_t index);

/* The enumerate op. */
UDD_INTERNAL_VFIO int vfio_enumerate(struct udd_log *log, int (*add)(void *arg, const char *loc),
				     void *arg);

#endif /* UDD_BACKEND_VFIO_PRIV_H */
