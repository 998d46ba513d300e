/* SPDX-License-Identifier: MIT */
/*
 * The simulated NVMe controller's internals, shared by sim_nvme.c (registers,
 * controller life cycle, queues, the device thread, init/fini) and
 * sim_nvme_cmds.c (data transfer by PRPs, admin and NVM commands).
 */
#ifndef UDD_SIM_NVME_PRIV_H
#define UDD_SIM_NVME_PRIV_H

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

/* relative: every target that builds src/sim (udd-sim, the fuzz harness) finds it */
#include "../../include/udd/nvme_spec.h"

#include "sim.h"

#define NV_BAR0_SIZE 0x4000
#define NV_DB_PAGE 0x1000
#define NV_MSIX_TABLE 0x2000
#define NV_MSIX_PBA 0x3000
#define NV_NVEC 32        /* MSI-X vectors (SIM_MAX_VECTORS) */
#define NV_MAX_QID 64     /* I/O queue pairs, as QEMU's default max_ioqpairs */
#define NV_MQES 2047      /* CAP.MQES (0's based): queues of up to 2048 entries */
#define NV_TO 15          /* CAP.TO: 7.5 s */
#define NV_PAGE 4096u     /* CAP.MPSMIN = MPSMAX = 0: 4 KiB memory pages only */
#define NV_MDTS 6         /* Identify MDTS: 2^6 pages = 256 KiB */
#define NV_MAX_XFER (NV_PAGE << NV_MDTS)
#define NV_LBA_SHIFT 9
#define NV_MAX_NS 16
#define NV_AERL 3          /* 0's based: 4 outstanding AERs */
#define NV_DEFAULT_NS_SIZE (64ull << 20)
#define NV_MAX_CFG 64

_Static_assert(NV_MAX_QID * 2 * 4 + 8 <= NV_DB_PAGE, "the doorbells fit their page");
_Static_assert(NV_NVEC <= SIM_MAX_VECTORS, "the server delivers every vector");

/* ---- model state ---------------------------------------------------------- */
struct nv_sq {
	bool live;
	uint64_t base;
	uint32_t size, head;
	uint16_t cqid;
};

struct nv_cq {
	bool live, phase, ien;
	uint64_t base;
	uint32_t size, tail;
	uint16_t iv;
	unsigned nsq; /* SQs completing here */
};

struct nv_ns {
	int fd;
	uint64_t nlb;
};

struct nvme {
	pthread_t thr;
	atomic_bool stop;
	/* guarded by the device lock */
	uint64_t cap, asq, acq, client;
	uint32_t cc, csts, intms, aqa;
	uint32_t gen;
	bool running; /* enabled, not shut down, no fatal error */
	struct nv_sq sq[NV_MAX_QID + 1];
	struct nv_cq cq[NV_MAX_QID + 1];
	unsigned nsqa, ncqa; /* I/O queues allocated (Number of Queues), 1-based */
	bool io_queues_made; /* since the last reset: Number of Queues is fixed */
	unsigned aer_held;
	uint32_t feat[16];
	uint32_t ivc[NV_NVEC]; /* Interrupt Vector Configuration per vector */
	unsigned rr;
	/* immutable from init to fini */
	struct nv_ns ns[NV_MAX_NS];
	unsigned nns;
	char sn[21];
	/* the device thread's own */
	uint8_t *buf;
	uint64_t units_read, units_written, host_reads, host_writes;
};

/* A result: status as (SCT << 8) | SC, and DW0. */
struct nv_res {
	uint16_t status;
	uint32_t dw0;
	bool hold; /* no completion (a held AER) */
};

#define SC_GEN(sc) ((uint16_t)(sc))
#define SC_CMD(sc) NVME_STATUS(NVME_SCT_CMD_SPECIFIC, sc)

static inline volatile uint32_t *doorbell(struct sim_dev *d, size_t off)
{
	return (volatile uint32_t *)(void *)(d->bars[0].mem + off);
}

static inline uint32_t db_load(struct sim_dev *d, size_t off)
{
	return __atomic_load_n((uint32_t *)(void *)(d->bars[0].mem + off), __ATOMIC_ACQUIRE);
}

static inline void db_clear(struct sim_dev *d, size_t off)
{
	*doorbell(d, off) = 0;
}

static inline void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static inline void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

/* ---- data transfer: PRPs (4.3) --------------------------------------------- */
struct seg {
	uint64_t iova;
	uint32_t len;
};
#define NV_MAX_SEGS (NV_MAX_XFER / NV_PAGE + 1)

struct xfer {
	struct seg s[NV_MAX_SEGS];
	unsigned n;
	uint64_t fault_iova; /* of a failed DMA */
	uint32_t fault_len;  /* its length */
	bool fault;
	bool fault_write;    /* device to host memory (a read command's data) */
};

/* Execute one admin (5) / NVM (6) command: a status as (SCT << 8) | SC. */
uint16_t exec_admin(struct sim_dev *d, struct nvme *n, uint64_t client, uint32_t gen,
		    const struct nvme_sqe *c, struct nv_res *r, struct xfer *x);
uint16_t exec_io(struct sim_dev *d, struct nvme *n, uint64_t client, const struct nvme_sqe *c,
		 struct xfer *x);

#endif
