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

/* ---- shared by vfio.c and vfio_iommu.c ------------------------------------ */

#include <pthread.h>
#include <unistd.h>

#include <linux/vfio.h>
#if defined(__has_include)
#if __has_include(<linux/iommufd.h>)
#include <linux/iommufd.h>
#endif
#endif
#if defined(VFIO_DEVICE_BIND_IOMMUFD) && defined(VFIO_DEVICE_ATTACH_IOMMUFD_PT) && \
	defined(IOMMU_IOAS_ALLOC) && defined(IOMMU_IOAS_MAP)
#define VFIO_HAVE_IOMMUFD 1
#else
#define VFIO_HAVE_IOMMUFD 0
#endif

#define VFIO_MAX_INFO 65536 /* largest info buffer (with capabilities) we accept */

struct vfio_map {
	uint64_t iova, size;
};

struct vfio_dev {
	char bdf[VFIO_BDF_LEN];
	enum udd_be_mode mode;
	struct udd_log *log;
	pthread_mutex_t lock; /* maps, irq_enabled */

	/* probe mode */
	int cfg_fd; /* sysfs config, read only */
	uint64_t cfg_size;
	struct vfio_sys_res res[VFIO_SYS_NRES];
	bool can_reset;

	/* exclusive mode */
	int lock_fd;
	int group_fd, container_fd; /* legacy container */
	int iommufd;                /* iommufd: the /dev/iommu fd, or -1 */
	uint32_t ioas_id;
	bool ioas_alloced, attached;
	int device_fd;
	uint32_t dev_flags, num_regions, num_irqs;
	struct udd_be_region *regions; /* [num_regions], cached at open */
	uint64_t *region_off;          /* file offset of each region */
	int *region_err;               /* 0, or the error GET_REGION_INFO gave */
	uint32_t irq_enabled;          /* bit per IRQ index with triggers set */
	struct vfio_map *maps;
	size_t nmaps, capmaps;
	uint64_t mapped_bytes;
};

static inline void vfio_close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/*
 * Find capability @id in a VFIO info buffer of @len valid bytes whose fixed
 * part is @hdr bytes, the chain starting at offset @first (vfio.c). The
 * capability's offset (> 0) with at least @min bytes from it in the buffer,
 * 0 if the chain has none, or -EIO (a corrupt chain).
 */
UDD_INTERNAL_VFIO long vfio_cap_find(const void *buf, size_t len, size_t hdr, uint32_t first,
				     uint16_t id, size_t min);

/* vfio_iommu.c: attach to the legacy container / iommufd (0 or -errno;
 * iommufd: -ENODEV when the kernel has none), detach iommufd, unmap one
 * range (*done: bytes unmapped), and the backend ops of the IOMMU side. */
UDD_INTERNAL_VFIO int vfio_container_attach(struct vfio_dev *d);
#if VFIO_HAVE_IOMMUFD
UDD_INTERNAL_VFIO int vfio_iommufd_attach(struct vfio_dev *d);
UDD_INTERNAL_VFIO void vfio_iommufd_detach(struct vfio_dev *d);
#endif
UDD_INTERNAL_VFIO int vfio_unmap_one(struct vfio_dev *d, uint64_t iova, uint64_t size,
				     uint64_t *done);
UDD_INTERNAL_VFIO int vfio_dma_map(void *bdev, uint64_t iova, uint64_t size, int fd,
				   uint64_t fd_offset, void *vaddr, uint32_t prot);
UDD_INTERNAL_VFIO int vfio_dma_unmap(void *bdev, uint64_t iova, uint64_t size);
UDD_INTERNAL_VFIO int vfio_iova_ranges(void *bdev, struct udd_be_iova_range *r, size_t *n);

#endif /* UDD_BACKEND_VFIO_PRIV_H */
