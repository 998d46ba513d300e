/* SPDX-License-Identifier: MIT */
/* Core-internal definitions shared by the files of src/core. */
#ifndef UDD_CORE_INTERNAL_H
#define UDD_CORE_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "udd/udd.h"
#include "backend.h"

#define UDD_INTERNAL __attribute__((visibility("hidden")))

/* ---- logging ------------------------------------------------------------ */
struct udd_log {
	pthread_mutex_t lock;
	udd_log_cb_t cb;
	void *user;
	int level;
};

/* ---- context -------------------------------------------------------------- */
struct udd_ctx {
	struct udd_log log;
	uint32_t flags;
	char *pool_dirs;    /* colon-separated, from opts + $UDD_POOL */
	char *sockets;      /* colon-separated, from opts + $UDD_SOCKETS */
	char *runtime_dir;  /* embedded pool's runtime directory */
	char *sim_path;
	int lease_fd;       /* connection to the embedded udd-sim's control socket, or -1 */
	pthread_mutex_t lock;
	struct udd_dev *devs; /* borrowed devices (list) */
};

/* ---- borrowed device ------------------------------------------------------ */
struct udd_irq_vec {
	int efd; /* eventfd, -1 when not enabled */
};

/* One IOVA range in use (sorted list in udd_dev.iova, see dma.c). */
struct udd_iova_node;

struct udd_dev {
	struct udd_ctx *ctx;
	struct udd_dev *next;        /* in ctx->devs */
	const struct udd_backend_ops *be;
	void *bdev;
	int lock_fd;                 /* lock-file fallback for peers without the udd cap, or -1 */
	udd_dev_info_t info;
	/* rnumber -> VFIO region index (config = VFIO_PCI_CONFIG_REGION_INDEX) */
	uint32_t region_index[UDD_MAX_REGSETS];
	struct udd_be_region region[UDD_MAX_REGSETS];
	pthread_mutex_t lock;        /* protects the lists below */
	struct udd_acc_impl *accs;   /* mapped handles */
	struct udd_dma *dmas;        /* DMA windows */
	/* interrupts */
	int irq_type;                /* enabled type or -1 */
	unsigned irq_nvec;
	struct udd_irq_vec *irq;
	/* the backend's valid IOVA ranges, fetched once (dma.c) */
	struct udd_be_iova_range iova_ranges[32];
	size_t n_iova_ranges;
	int iova_ranges_state;       /* 0 not fetched, 1 cached (atomic) */
	/* DMA faults reported by the peer */
	uint64_t dma_faults;
	uint64_t dma_fault_last;
	bool gone;                   /* the peer was seen gone */
};

/* ---- access handles -------------------------------------------------------- */
struct udd_acc_impl {
	struct udd_acc_head head;    /* must be first: the inline functions read it */
	struct udd_acc_impl *next;   /* in dev->accs */
	struct udd_dev *dev;
	unsigned rnumber;
	uint32_t region;             /* backend region index */
	uint64_t offset;             /* start in the register set */
	uint64_t size;
	udd_acc_attr_t attr;
	bool swap;                   /* byte-swap on this host */
	volatile uint8_t *map;       /* mapping of the whole range, or NULL (trapped) */
	void *map_base;              /* what to munmap */
	size_t map_len;
	/* partially mapped (sparse): per-access choice between map and trap */
	bool partial;
	int err;                     /* 0, or the first error seen (negative errno) */
};

/* ---- DMA --------------------------------------------------------------------- */
struct udd_mem {
	struct udd_ctx *ctx;
	int fd;
	uint64_t fd_offset;          /* file offset of ptr in fd (0 unless imported) */
	void *ptr;
	size_t size;
	int refs;                    /* 1 + windows mapping it; freed at 0 */
	pthread_mutex_t lock;
};

struct udd_dma {
	struct udd_dma *next;        /* in dev->dmas, sorted by iova */
	struct udd_dev *dev;
	struct udd_mem *mem;         /* NULL for udd_dma_map_va() */
	uint64_t iova;
	size_t len;
	void *va;
};

/* ---- internal functions shared between core files ---------------------------- */

/* Config space through the backend (no alignment checks). */
UDD_INTERNAL int udd_cfg_raw_read(struct udd_dev *dev, uint32_t off, void *buf, size_t len);
UDD_INTERNAL int udd_cfg_raw_write(struct udd_dev *dev, uint32_t off, const void *buf, size_t len);

/* Parse a device's config space + backend infos into @info (fdid and
 * location are set by the caller). Used by pool probing and borrow. */
UDD_INTERNAL int udd_dev_describe(const struct udd_backend_ops *be, void *bdev, udd_dev_info_t *info,
				  uint32_t region_index[UDD_MAX_REGSETS],
				  struct udd_be_region region[UDD_MAX_REGSETS]);

/* Release everything a device holds (handles, DMA windows, IRQs); used by
 * udd_dev_return(). Implemented in the files that own each list. */
UDD_INTERNAL void udd_regs_release_all(struct udd_dev *dev);
UDD_INTERNAL void udd_dma_release_all(struct udd_dev *dev);
UDD_INTERNAL void udd_irq_release_all(struct udd_dev *dev);

/* Make (or accept) a directory of this user closed to others: 0, -EPERM if
 * it exists but is a symlink, someone else's, or group/world-writable. */
UDD_INTERNAL int udd_private_dir(const char *path);

/* Mark the device gone (peer vanished); handles report -ENODEV afterwards. */
UDD_INTERNAL void udd_dev_mark_gone(struct udd_dev *dev);

/* IOVA allocator (dma.c): find a free range of @len satisfying @attr (all
 * fields filled, defaults applied) and the backend's valid ranges. */
UDD_INTERNAL int udd_iova_alloc(struct udd_dev *dev, uint64_t len, const udd_dma_attr_t *attr,
				uint64_t *iova);

#endif /* UDD_CORE_INTERNAL_H */
