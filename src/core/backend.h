/* SPDX-License-Identifier: MIT */
/*
 * The seam between the core and a backend (vfio-user client, VFIO).
 *
 * A backend turns a "location" (a socket path, a PCI address) into an open
 * device handle and performs VFIO-shaped operations on it. The core does
 * everything else: pool, filters, borrow bookkeeping, access handles,
 * config-space helpers, IOVA allocation, eventfds.
 *
 * All functions return 0 or a negative errno. Region indices and IRQ
 * indices are VFIO's (VFIO_PCI_BAR0_REGION_INDEX.. VFIO_PCI_CONFIG_REGION_INDEX,
 * VFIO_PCI_INTX_IRQ_INDEX..). Backend functions must be thread-safe on one
 * device (the core calls them from several threads).
 */
#ifndef UDD_CORE_BACKEND_H
#define UDD_CORE_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct udd_log;

/* Borrow modes asked of a backend's open(). */
enum udd_be_mode {
	UDD_BE_PROBE = 0,     /* look only: read config space and infos, no borrow */
	UDD_BE_SHARED = 1,
	UDD_BE_EXCLUSIVE = 2,
};

#define UDD_BE_MAX_SPARSE 8

struct udd_be_region {
	uint64_t size;
	uint32_t flags;        /* VFIO_REGION_INFO_FLAG_READ/WRITE/MMAP */
	int mmap_fd;           /* >= 0 if mappable; owned by the backend */
	uint64_t mmap_offset;  /* file offset of the region's start in mmap_fd */
	uint32_t nsparse;      /* 0: the whole region is mappable (if FLAG_MMAP) */
	struct {
		uint64_t offset; /* relative to the region start */
		uint64_t size;
	} sparse[UDD_BE_MAX_SPARSE];
};

struct udd_be_devinfo {
	uint32_t flags;        /* VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI */
	uint32_t num_regions;
	uint32_t num_irqs;
};

/* A valid IOVA range of the device's IOMMU (inclusive bounds). */
struct udd_be_iova_range {
	uint64_t start, end;
};

/* Callback for DMA faults a peer reports (simulator: device DMA outside
 * every window). Called from a backend thread. */
typedef void (*udd_be_fault_cb_t)(void *user, uint64_t iova, uint64_t len, int write);

struct udd_backend_ops {
	const char *name;

	/* Open the device at @loc in @mode. -EBUSY when the mode conflicts with
	 * another borrower; -ECONNREFUSED/-ENOENT when nothing is there. The
	 * log pointer may be NULL. */
	int (*open)(const char *loc, enum udd_be_mode mode, struct udd_log *log, void **bdev);
	/* Close: releases everything the device holds (DMA maps, IRQ fds). */
	void (*close)(void *bdev);

	int (*device_info)(void *bdev, struct udd_be_devinfo *out);
	int (*region_info)(void *bdev, uint32_t index, struct udd_be_region *out);
	/* Read/write @len bytes at @off of region @index. len is 1,2,4,8 for
	 * register accesses, anything up to the region end for bulk ones. */
	int (*region_read)(void *bdev, uint32_t index, uint64_t off, void *buf, size_t len);
	int (*region_write)(void *bdev, uint32_t index, uint64_t off, const void *buf, size_t len);

	int (*irq_info)(void *bdev, uint32_t index, uint32_t *count, uint32_t *flags);
	/* Set eventfds for vectors [start, start+count) of IRQ index; fds NULL
	 * (and count 0) disables every vector of the index. */
	int (*irq_set)(void *bdev, uint32_t index, uint32_t start, uint32_t count, const int *fds);
	int (*irq_mask)(void *bdev, uint32_t index, uint32_t vec, bool mask);

	/* Map [iova, iova+size) for the device. @fd >= 0: backed by fd at
	 * fd_offset (the peer may mmap it); fd < 0: the peer must go through
	 * the backend, which serves its accesses from @vaddr. @vaddr is always
	 * the address of the memory in this process. prot: UDD_DMA_F_READ|WRITE. */
	int (*dma_map)(void *bdev, uint64_t iova, uint64_t size, int fd, uint64_t fd_offset,
		       void *vaddr, uint32_t prot);
	int (*dma_unmap)(void *bdev, uint64_t iova, uint64_t size);

	int (*reset)(void *bdev);
	/* 0 if the peer is alive, -ENODEV if it is gone. Should be cheap. */
	int (*check)(void *bdev);

	/* Optional (may be NULL): valid IOVA ranges; *n in: capacity, out: count. */
	int (*iova_ranges)(void *bdev, struct udd_be_iova_range *r, size_t *n);
	/* Optional (may be NULL): register a fault callback. */
	void (*set_fault_cb)(void *bdev, udd_be_fault_cb_t cb, void *user);

	/* Optional (may be NULL): a descriptor that reports POLLHUP/POLLRDHUP
	 * when the peer is gone (the vfio-user socket), for waits that must not
	 * outlive the peer (udd_irq_wait); -1 if there is none. Owned by the
	 * backend; valid until close(). */
	int (*peer_fd)(void *bdev);

	/* Optional (may be NULL; then every window is coherent and udd_dma_sync
	 * is a fence): make [iova, iova+len) of one window coherent,
	 * @for_device true: this process's memory to the device's view, false:
	 * back. A window the device reaches directly is a no-op (0). Bounded by
	 * the backend's timeout. */
	int (*dma_sync)(void *bdev, uint64_t iova, uint64_t len, bool for_device);

	/* Optional (may be NULL): list the devices this backend finds on its own
	 * (VFIO: devices bound to vfio-pci), calling add(arg, location) for each.
	 * Returns 0 or -errno; finding nothing is 0. */
	int (*enumerate)(struct udd_log *log, int (*add)(void *arg, const char *loc), void *arg);
};

extern const struct udd_backend_ops udd_vfio_user_backend;
extern const struct udd_backend_ops udd_vfio_backend;

/* Logging from anywhere in the library. @log may be NULL (then nothing). */
void udd_logf(struct udd_log *log, int level, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#endif /* UDD_CORE_BACKEND_H */
