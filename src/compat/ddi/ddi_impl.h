/* SPDX-License-Identifier: MIT */
/* Internals of the illumos DDI compatibility layer (libudd_ddi). */
#ifndef UDD_DDI_IMPL_H
#define UDD_DDI_IMPL_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "udd/ddi.h"

#define DDI_INTERNAL __attribute__((visibility("hidden")))

enum ddi_acc_kind {
	DDI_ACC_REGS = 0,   /* a register set through a udd access handle */
	DDI_ACC_CONFIG = 1, /* pci_config_setup: offsets, not addresses */
	DDI_ACC_MEM = 2,    /* ddi_dma_mem_alloc memory: plain loads/stores */
};

struct ddi_udd_acc {
	struct ddi_udd_acc *next;    /* in dip->accs */
	dev_info_t *dip;
	int kind;                    /* enum ddi_acc_kind */
	udd_acc_t *acc;              /* REGS and CONFIG */
	uint8_t *base;               /* the DDI address of offset 0 */
	size_t len;
	void *resv;                  /* PROT_NONE reservation to unmap, or NULL */
	size_t resv_len;
	ddi_device_acc_attr_t attr;  /* as the driver gave it */
	bool swap;                   /* MEM: byte-swap */
	int err;                     /* our own faults (bad address): 0 or -errno */
	struct ddi_udd_dma *dma;     /* MEM: the DMA handle it was allocated for */
	udd_mem_t *mem;              /* MEM: the memory */
};

struct ddi_udd_intr;

struct ddi_udd_dev {
	udd_ctx_t *ctx;
	udd_dev_t *dev;
	udd_dev_info_t info;
	int instance;                /* small per-process number (ddi_get_instance) */
	pthread_mutex_t lock;        /* protects the lists and the irq state */
	struct ddi_udd_acc *accs;
	struct ddi_udd_dma *dmas;
	/* interrupts: all allocated vectors share one type */
	int intr_type;               /* DDI_INTR_TYPE_* or 0 */
	int intr_nvec;               /* vectors of that type the device has */
	struct ddi_udd_intr **intr;  /* [intr_nvec], NULL where not allocated */
	int intr_enabled_count;      /* vectors currently enabled in udd */
};

struct ddi_udd_dma {
	struct ddi_udd_dma *next;    /* in dip->dmas */
	dev_info_t *dip;
	ddi_dma_attr_t attr;
	/* binding */
	bool bound;
	uint_t ncookies;
	uint_t next_cookie;          /* for ddi_dma_nextcookie */
	ddi_dma_cookie_t *cookies;
	udd_dma_t **windows;         /* one per cookie */
	struct ddi_udd_acc *memh;    /* memory allocated with ddi_dma_mem_alloc */
};

/* Lookup of the handle a DDI address belongs to (peek/poke). */
DDI_INTERNAL struct ddi_udd_acc *ddi_find_acc(dev_info_t *dip, const void *addr, size_t width);
/* Release all interrupt state (detach). */
DDI_INTERNAL void ddi_intr_release_all(dev_info_t *dip);
/* Release all DMA handles (detach). */
DDI_INTERNAL void ddi_dma_release_all(dev_info_t *dip);

#endif
