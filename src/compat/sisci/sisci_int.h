/* SPDX-License-Identifier: MIT */
/* Internals of udd's SISCI layer. */
#ifndef UDD_SISCI_INT_H
#define UDD_SISCI_INT_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include <udd/udd.h>

#include "sisci_api.h"

#define SCI_HIDDEN __attribute__((visibility("hidden")))

enum {
	M_DESC = 0x5d15c001,
	M_LSEG,
	M_RSEG,
	M_MAP,
	M_SEQ,
	M_DMAQ,
	M_LINTR,
	M_RINTR,
	M_LDINTR,
	M_RDINTR,
	M_DEV,
};

struct sci_desc {
	uint32_t magic;
	int nres; /* objects created through it and not yet released */
};

/* A window of a segment for a device (one per segment and device). */
struct devwin {
	struct devwin *next;
	struct sci_smartio_device *dev;
	udd_mem_t *mem;  /* imported memory (NULL for BAR/user windows) */
	udd_dma_t *dma;
};

struct sci_local_segment {
	uint32_t magic;
	struct sci_desc *sd;
	unsigned int id;
	unsigned int flags;
	size_t size;      /* as asked */
	size_t alloc;     /* rounded up to pages */
	int fd;           /* memory (-1: empty or user memory) */
	void *base;       /* RW mapping of the whole segment (or the user memory) */
	bool user_mem;    /* SCIRegisterSegmentMemory */
	bool prepared, available, published;
	int nmaps;
	struct devwin *wins;
	char path[PATH_MAX]; /* registry file, "" for private segments */
};

enum rseg_kind { RS_MEM = 1, RS_BAR = 2 };

struct sci_remote_segment {
	uint32_t magic;
	struct sci_desc *sd;
	enum rseg_kind kind;
	unsigned int node, id;
	size_t size;
	int fd;                      /* RS_MEM */
	void *base;                  /* RS_MEM: RW mapping, for copies */
	struct sci_smartio_device *dev; /* device segments: the device (counts in dev->nsegs) */
	unsigned int bar;            /* RS_BAR */
	int nmaps;
	struct devwin *wins;
};

enum map_kind { MK_MEM = 1, MK_BAR_DIRECT, MK_BAR_TRAP };

struct sci_map {
	uint32_t magic;
	enum map_kind kind;
	struct sci_local_segment *lseg;
	struct sci_remote_segment *rseg;
	void *ptr;        /* what the caller got */
	size_t off;       /* where it starts in its segment */
	void *mbase;      /* our mmap (MK_MEM, MK_BAR_TRAP) */
	size_t mlen;
	size_t size;
	udd_acc_t *acc;   /* MK_BAR_* */
	int trap_slot;
	int nseq;
};

struct sci_sequence {
	uint32_t magic;
	struct sci_map *map;
};

struct devseg { /* a PRIVATE device segment */
	struct devseg *next;
	unsigned int id;
	size_t size;
	int fd;
};

struct sci_smartio_device {
	uint32_t magic;
	struct sci_desc *sd;
	udd_dev_t *udd;
	unsigned int fdid;
	unsigned int node; /* the node it is on (a remote one through a gateway) */
	int nsegs;  /* connected device segments */
	int nwins;  /* windows of segments for this device */
	struct devseg *priv;
	struct sci_smartio_device *next; /* sci_g.devs */
};

/* Global state. */
struct sisci_global {
	pthread_mutex_t lock;
	int init_count;
	int ndesc;
	udd_ctx_t *ctx;
	char regdir[PATH_MAX - 64];
	unsigned int node_id;
	unsigned int next_auto;
	struct sci_smartio_device *devs; /* borrowed devices */
};
SCI_HIDDEN extern struct sisci_global sci_g;

SCI_HIDDEN sci_error_t sci_from_errno(int e);
SCI_HIDDEN sci_error_t sci_need_ctx(void);
SCI_HIDDEN size_t sci_page(void);
SCI_HIDDEN size_t sci_round_page(size_t n);
SCI_HIDDEN int sci_regdir_ok(void);

/* trap.c */
SCI_HIDDEN int sci_trap_add(void *base, size_t len, size_t size, udd_acc_t *acc, bool readonly);
SCI_HIDDEN void sci_trap_del(int slot);

/* segment.c */
SCI_HIDDEN sci_error_t sci_map_sync(struct sci_map *m, size_t off, size_t len, unsigned dir);

/* smartio.c */
SCI_HIDDEN void sci_win_release(struct devwin **list, struct sci_smartio_device *dev);

/* Dolphin's header renames every function to _SISCI_PUBLIC_FUNC_ST_<name>
 * (_MT_ with _REENTRANT); configure scripts and dlsym users look for those
 * names, so each function is exported under them too, as aliases. */
#define SCI_ALIASES(name)                                                     \
	extern __typeof__(name) _SISCI_PUBLIC_FUNC_ST_##name                  \
		__attribute__((alias(#name), visibility("default")));         \
	extern __typeof__(name) _SISCI_PUBLIC_FUNC_MT_##name                  \
		__attribute__((alias(#name), visibility("default")));

#define SET_ERR(e, v)                      \
	do {                               \
		if (e)                     \
			*(e) = (v);        \
	} while (0)

#endif
