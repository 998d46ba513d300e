/* SPDX-License-Identifier: MIT */
/*
 * nvme: an NVM Express 1.4 controller (ids as QEMU's nvme, 1b36:0010, class
 * 010802), register layouts from include/udd/nvme_spec.h.
 *
 * BAR0 (16 KiB, 64-bit): page 0 the controller registers (trapped: every
 * access is a bar_read/bar_write), page 1 the doorbells (a memfd page, a
 * sparse-mmap area the driver writes directly), 0x2000 the MSI-X table and
 * 0x3000 the PBA (trapped, as QEMU places them in BAR0).
 *
 * One device thread per controller polls the doorbell page and executes
 * commands one at a time: it takes the device lock only to look at and
 * update queue state, never across DMA or file I/O. All device DMA goes
 * through the windows of the client that set CC.EN. A generation counter,
 * bumped by every controller reset, shutdown or fatal error, makes the
 * thread drop the completion of a command that was in flight across one.
 *
 * Namespaces: files named on the command line (sim_nvme_add_ns), opened
 * by init and closed by fini, so their data survives the power-on reset
 * between borrowers (by design: it is the medium, not controller state);
 * without one, a 64 MiB memfd that does not survive it. 512-byte LBAs.
 */
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

/* ---- configuration (command line; not model state) ----------------------- */
struct nv_cfg {
	char dev[32];
	char path[PATH_MAX];
	uint64_t size; /* 0: the file's size, or the default for a new file */
};
static struct nv_cfg nv_cfgs[NV_MAX_CFG];
static unsigned nv_ncfg;

int sim_nvme_add_ns(const char *dev, const char *spec)
{
	if (nv_ncfg == NV_MAX_CFG || strlen(dev) >= sizeof(nv_cfgs[0].dev))
		return -ENOSPC;
	struct nv_cfg *c = &nv_cfgs[nv_ncfg];
	memset(c, 0, sizeof(*c));
	if (snprintf(c->path, sizeof(c->path), "%s", spec) >= (int)sizeof(c->path))
		return -ENAMETOOLONG;
	char *colon = strrchr(c->path, ':');
	if (colon && colon != c->path) {
		char *end;
		unsigned long long v = strtoull(colon + 1, &end, 0);
		unsigned shift = 0;
		if (*end == 'K' || *end == 'k')
			shift = 10, end++;
		else if (*end == 'M' || *end == 'm')
			shift = 20, end++;
		else if (*end == 'G' || *end == 'g')
			shift = 30, end++;
		if (*end || end == colon + 1 || v == 0 || v > (1ull << 44) >> shift)
			return -EINVAL;
		c->size = (uint64_t)v << shift;
		if (c->size < NV_PAGE)
			return -EINVAL;
		*colon = '\0';
	}
	snprintf(c->dev, sizeof(c->dev), "%s", dev);
	nv_ncfg++;
	return 0;
}

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

static volatile uint32_t *doorbell(struct sim_dev *d, size_t off)
{
	return (volatile uint32_t *)(void *)(d->bars[0].mem + off);
}

static uint32_t db_load(struct sim_dev *d, size_t off)
{
	return __atomic_load_n((uint32_t *)(void *)(d->bars[0].mem + off), __ATOMIC_ACQUIRE);
}

static void db_clear(struct sim_dev *d, size_t off)
{
	*doorbell(d, off) = 0;
}

static void feat_defaults(struct nvme *n)
{
	memset(n->feat, 0, sizeof(n->feat));
	n->feat[NVME_FEAT_TEMP_THRESH] = 0x0157; /* 343 K over-temperature threshold */
	n->feat[NVME_FEAT_VOLATILE_WC] = 1;      /* write cache enabled */
	for (unsigned i = 0; i < NV_NVEC; i++)
		n->ivc[i] = i;
	n->nsqa = n->ncqa = NV_MAX_QID;
}

/* Every queue deleted, held AERs dropped, in-flight completions dropped
 * (device lock held). */
static void queues_drop(struct sim_dev *d, struct nvme *n)
{
	memset(n->sq, 0, sizeof(n->sq));
	memset(n->cq, 0, sizeof(n->cq));
	n->aer_held = 0;
	n->io_queues_made = false;
	n->running = false;
	n->gen++;
	memset(d->bars[0].mem + NV_DB_PAGE, 0, NV_DB_PAGE); /* doorbells read 0 after reset */
}

static void fatal(struct sim_dev *d, struct nvme *n, const char *why)
{
	sim_log("%s: controller fatal status: %s", d->name, why);
	n->csts |= NVME_CSTS_CFS;
	n->running = false;
	n->gen++;
}

/* 7.3.1 Controller reset (CC.EN 1 -> 0): queues deleted, registers other
 * than AQA/ASQ/ACQ/CC back to their reset values. */
static void ctrl_reset(struct sim_dev *d, struct nvme *n)
{
	queues_drop(d, n);
	n->csts = 0;
	n->intms = 0;
	feat_defaults(n);
}

/* 7.6.1 Initialization: CC.EN 0 -> 1. */
static void ctrl_enable(struct sim_dev *d, struct nvme *n, uint64_t client)
{
	uint32_t asqs = NVME_AQA_ASQS(n->aqa) + 1, acqs = NVME_AQA_ACQS(n->aqa) + 1;
	const char *bad = NULL;
	if (NVME_CC_CSS(n->cc) != 0)
		bad = "CC.CSS not NVM";
	else if (NVME_CC_MPS(n->cc) != 0)
		bad = "CC.MPS not 4 KiB";
	else if (NVME_CC_AMS(n->cc) != 0)
		bad = "CC.AMS not round robin";
	else if (asqs < 2 || acqs < 2)
		bad = "AQA: admin queues of fewer than 2 entries";
	else if ((n->asq | n->acq) & (NV_PAGE - 1) || !n->asq || !n->acq)
		bad = "ASQ/ACQ not page aligned";
	if (bad) {
		fatal(d, n, bad);
		return;
	}
	queues_drop(d, n);
	n->sq[0] = (struct nv_sq){ .live = true, .base = n->asq, .size = asqs, .cqid = 0 };
	n->cq[0] = (struct nv_cq){ .live = true, .phase = true, .ien = true, .base = n->acq,
				   .size = acqs, .iv = 0, .nsq = 1 };
	n->client = client;
	n->running = true;
	n->csts = (n->csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_RDY;
}

static void write_cc(struct sim_dev *d, struct nvme *n, uint32_t v, uint64_t client)
{
	uint32_t old = n->cc;
	n->cc = v & 0x00fffff1u; /* EN, CSS, MPS, AMS, SHN, IOSQES, IOCQES */
	if ((old & NVME_CC_EN) && !(v & NVME_CC_EN)) {
		ctrl_reset(d, n);
		return;
	}
	if (!(old & NVME_CC_EN) && (v & NVME_CC_EN) && !(n->csts & NVME_CSTS_CFS))
		ctrl_enable(d, n, client);
	if ((v & NVME_CC_EN) && NVME_CC_SHN(v) && !NVME_CC_SHN(old)) {
		/* 7.6.2 Shutdown: nothing is cached, so it completes at once */
		queues_drop(d, n);
		n->csts = (n->csts & ~NVME_CSTS_SHST_MASK) | NVME_CSTS_SHST_COMPLETE;
	} else if (!NVME_CC_SHN(v) && NVME_CC_SHN(old)) {
		n->csts &= ~NVME_CSTS_SHST_MASK;
	}
}

static void write_reg32(struct sim_dev *d, struct nvme *n, uint64_t off, uint32_t v,
			uint64_t client)
{
	switch (off) {
	case NVME_REG_INTMS:
		n->intms |= v;
		break;
	case NVME_REG_INTMC:
		n->intms &= ~v;
		break;
	case NVME_REG_CC:
		write_cc(d, n, v, client);
		break;
	case NVME_REG_AQA:
		n->aqa = v & 0x0fff0fffu;
		break;
	case NVME_REG_ASQ:
		n->asq = (n->asq & ~0xffffffffull) | (v & ~0xfffu);
		break;
	case NVME_REG_ASQ + 4:
		n->asq = (n->asq & 0xffffffffull) | ((uint64_t)v << 32);
		break;
	case NVME_REG_ACQ:
		n->acq = (n->acq & ~0xffffffffull) | (v & ~0xfffu);
		break;
	case NVME_REG_ACQ + 4:
		n->acq = (n->acq & 0xffffffffull) | ((uint64_t)v << 32);
		break;
	default: /* CAP, VS, CSTS, NSSR (not supported): read-only or ignored */
		break;
	}
}

static void put64(uint8_t *p, uint64_t v)
{
	memcpy(p, &v, 8);
}

static void put32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, 4);
}

static int nv_read(struct sim_dev *d, int bar, uint64_t off, void *buf, uint32_t len)
{
	struct nvme *n = d->priv;
	if (bar != 0)
		return -EINVAL;
	if ((off & ~(uint64_t)(NV_PAGE - 1)) != ((off + len - 1) & ~(uint64_t)(NV_PAGE - 1)))
		return -EINVAL; /* straddles two pages */
	if (off >= NV_DB_PAGE) { /* doorbells, MSI-X table and PBA: the memfd */
		memcpy(buf, d->bars[0].mem + off, len);
		return 0;
	}
	uint8_t img[0x40] = { 0 };
	put64(img + NVME_REG_CAP, n->cap);
	put32(img + NVME_REG_VS, NVME_VS_1_4);
	put32(img + NVME_REG_INTMS, n->intms);
	put32(img + NVME_REG_INTMC, n->intms);
	put32(img + NVME_REG_CC, n->cc);
	put32(img + NVME_REG_CSTS, n->csts);
	put32(img + NVME_REG_AQA, n->aqa);
	put64(img + NVME_REG_ASQ, n->asq);
	put64(img + NVME_REG_ACQ, n->acq);
	memset(buf, 0, len);
	if (off < sizeof(img))
		memcpy(buf, img + off, len < sizeof(img) - off ? len : sizeof(img) - off);
	return 0;
}

static int nv_write(struct sim_dev *d, int bar, uint64_t off, const void *buf, uint32_t len,
		    uint64_t client)
{
	struct nvme *n = d->priv;
	if (bar != 0)
		return -EINVAL;
	if ((off & ~(uint64_t)(NV_PAGE - 1)) != ((off + len - 1) & ~(uint64_t)(NV_PAGE - 1)))
		return -EINVAL;
	if (off >= NV_DB_PAGE && off < NV_MSIX_TABLE) { /* a doorbell written through a trap */
		memcpy(d->bars[0].mem + off, buf, len);
		return 0;
	}
	if (off >= NV_MSIX_TABLE) {
		if (off < NV_MSIX_TABLE + 16u * NV_NVEC && len <= NV_MSIX_TABLE + 16u * NV_NVEC - off)
			memcpy(d->bars[0].mem + off, buf, len);
		return 0; /* PBA and the rest: read-only */
	}
	/* 3.1: registers are written as dwords (or qwords for the 64-bit ones) */
	if ((len != 4 && len != 8) || (off & 3))
		return 0;
	uint32_t v[2];
	memcpy(v, buf, len);
	write_reg32(d, n, off, v[0], client);
	if (len == 8)
		write_reg32(d, n, off + 4, v[1], client);
	return 0;
}

static void nv_reset(struct sim_dev *d)
{
	struct nvme *n = d->priv;
	ctrl_reset(d, n);
	n->cc = n->aqa = 0;
	n->asq = n->acq = 0;
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

/* Record the DMA that failed, for sim_dma_fault() once the lock is free. */
static void xfer_fault(struct xfer *x, uint64_t iova, uint32_t len, bool write)
{
	x->fault = true;
	x->fault_iova = iova;
	x->fault_len = len;
	x->fault_write = write;
}

static void seg_add(struct xfer *x, uint64_t iova, uint32_t len)
{
	if (x->n && x->s[x->n - 1].iova + x->s[x->n - 1].len == iova)
		x->s[x->n - 1].len += len;
	else
		x->s[x->n++] = (struct seg){ iova, len };
}

/* Build the segments of a @len-byte transfer from PRP1/PRP2. Every loop is
 * bounded by the pages of the transfer (at most NV_MAX_SEGS entries). */
static uint16_t prp_build(struct sim_dev *d, uint64_t client, uint64_t prp1, uint64_t prp2,
			  uint32_t len, struct xfer *x)
{
	x->n = 0;
	x->fault = false;
	if (!len)
		return NVME_SC_SUCCESS;
	if (prp1 & 3) /* 4.3: the offset of PRP1 is dword aligned */
		return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
	uint32_t first = NV_PAGE - (uint32_t)(prp1 & (NV_PAGE - 1));
	if (first > len)
		first = len;
	seg_add(x, prp1, first);
	uint32_t rem = len - first;
	if (!rem)
		return NVME_SC_SUCCESS;
	if (rem <= NV_PAGE) { /* PRP2 is the second page */
		if (prp2 & (NV_PAGE - 1))
			return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
		seg_add(x, prp2, rem);
		return NVME_SC_SUCCESS;
	}
	/* PRP2 points to a PRP list (qword aligned; it may start inside a page;
	 * the last entry of a full list page points to the next list page) */
	uint64_t list = prp2;
	uint64_t ent[NV_PAGE / 8];
	for (unsigned pages = 0; rem && pages <= NV_MAX_SEGS; pages++) {
		if (list & 7)
			return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
		uint32_t room = (NV_PAGE - (uint32_t)(list & (NV_PAGE - 1))) / 8;
		uint32_t need = (rem + NV_PAGE - 1) / NV_PAGE;
		uint32_t take = need <= room ? need : room; /* entries read from this page */
		if (sim_dma_read(d, client, list, ent, (size_t)take * 8)) {
			xfer_fault(x, list, take * 8, false);
			return SC_GEN(NVME_SC_DATA_XFER_ERROR);
		}
		uint32_t data = need <= room ? take : take - 1;
		for (uint32_t i = 0; i < data; i++) {
			if (ent[i] & (NV_PAGE - 1))
				return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
			uint32_t l = rem < NV_PAGE ? rem : NV_PAGE;
			seg_add(x, ent[i], l);
			rem -= l;
		}
		if (rem)
			list = ent[take - 1];
	}
	return rem ? SC_GEN(NVME_SC_INVALID_FIELD) : NVME_SC_SUCCESS;
}

/* Move @len bytes between n->buf and the segments. */
static uint16_t xfer_dma(struct sim_dev *d, uint64_t client, struct xfer *x, void *buf,
			 bool to_host)
{
	uint8_t *p = buf;
	for (unsigned i = 0; i < x->n; i++) {
		int rc = to_host ? sim_dma_write(d, client, x->s[i].iova, p, x->s[i].len)
				 : sim_dma_read(d, client, x->s[i].iova, p, x->s[i].len);
		if (rc) {
			xfer_fault(x, x->s[i].iova, x->s[i].len, to_host);
			return SC_GEN(NVME_SC_DATA_XFER_ERROR);
		}
		p += x->s[i].len;
	}
	return NVME_SC_SUCCESS;
}

/* Transfer @len bytes of @buf to/from the command's PRPs. */
static uint16_t data_xfer(struct sim_dev *d, uint64_t client, const struct nvme_sqe *c,
			  void *buf, uint32_t len, bool to_host, struct xfer *x)
{
	if (NVME_SQE_PSDT(c->flags)) /* SGLs are not supported (SGLS = 0) */
		return SC_GEN(NVME_SC_INVALID_FIELD);
	uint16_t st = prp_build(d, client, c->prp1, c->prp2, len, x);
	if (st)
		return st;
	return xfer_dma(d, client, x, buf, to_host);
}

/* ---- admin commands (5) ---------------------------------------------------- */
static void pad(char *dst, size_t cap, const char *s)
{
	memset(dst, ' ', cap);
	size_t l = strlen(s);
	memcpy(dst, s, l < cap ? l : cap);
}

static void id_ctrl(struct sim_dev *d, struct nvme *n, struct nvme_id_ctrl *id)
{
	memset(id, 0, sizeof(*id));
	id->vid = 0x1b36;
	id->ssvid = 0x1af4;
	pad(id->sn, sizeof(id->sn), n->sn);
	pad(id->mn, sizeof(id->mn), "udd-sim NVMe Ctrl");
	pad(id->fr, sizeof(id->fr), "1.0");
	id->rab = 6;
	id->ieee[0] = 0x00, id->ieee[1] = 0x54, id->ieee[2] = 0x52; /* as QEMU */
	id->mdts = NV_MDTS;
	id->ver = NVME_VS_1_4;
	id->cntrltype = 1; /* I/O controller */
	id->acl = 3;
	id->aerl = NV_AERL;
	id->frmw = 0x03; /* one slot, slot 1 read-only */
	id->lpa = 0;
	id->elpe = 0;    /* one error log entry */
	id->npss = 0;
	id->wctemp = 0x0157;
	id->cctemp = 0x0175;
	id->sqes = (NVME_SQES_LOG2 << 4) | NVME_SQES_LOG2;
	id->cqes = (NVME_CQES_LOG2 << 4) | NVME_CQES_LOG2;
	id->nn = n->nns;
	id->oncs = NVME_ONCS_DSM | NVME_ONCS_WRITE_ZEROES;
	id->vwc = 1;
	snprintf(id->subnqn, sizeof(id->subnqn), "nqn.2019-08.org.qemu:%s", n->sn);
	id->psd[0].mp = 2500; /* 25 W */
	(void)d;
}

static void id_ns(struct nvme *n, unsigned nsid, struct nvme_id_ns *id)
{
	memset(id, 0, sizeof(*id));
	const struct nv_ns *ns = &n->ns[nsid - 1];
	id->nsze = id->ncap = id->nuse = ns->nlb;
	id->nsfeat = 0;
	id->nlbaf = 0;
	id->flbas = 0;
	id->dlfeat = 0x09; /* deallocated blocks read zeroes; Write Zeroes may deallocate */
	id->lbaf[0].lbads = NV_LBA_SHIFT;
	uint64_t h = 0xcbf29ce484222325ull; /* EUI-64 from the serial and nsid */
	for (const char *p = n->sn; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h = (h ^ nsid) * 0x100000001b3ull;
	memcpy(id->eui64, &h, 8);
	id->eui64[0] = 0x52; /* QEMU's OUI 525400 */
	id->eui64[1] = 0x54;
	id->eui64[2] = 0x00;
}

static void put128(uint8_t *p, uint64_t v)
{
	memset(p, 0, 16);
	memcpy(p, &v, 8);
}

static uint16_t adm_identify(struct sim_dev *d, struct nvme *n, uint64_t client,
			     const struct nvme_sqe *c, struct xfer *x)
{
	uint8_t *b = n->buf;
	unsigned cns = c->cdw10 & 0xff;
	memset(b, 0, NVME_IDENTIFY_SIZE);
	switch (cns) {
	case NVME_CNS_NS:
		if (c->nsid == 0 || c->nsid > n->nns)
			return SC_GEN(NVME_SC_INVALID_NS);
		id_ns(n, c->nsid, (struct nvme_id_ns *)(void *)b);
		break;
	case NVME_CNS_CTRL:
		id_ctrl(d, n, (struct nvme_id_ctrl *)(void *)b);
		break;
	case NVME_CNS_NS_LIST: {
		if (c->nsid >= 0xfffffffeu)
			return SC_GEN(NVME_SC_INVALID_NS);
		unsigned k = 0;
		for (unsigned i = 1; i <= n->nns; i++)
			if (i > c->nsid)
				put32(b + 4 * k++, i);
		break;
	}
	default:
		return SC_GEN(NVME_SC_INVALID_FIELD);
	}
	return data_xfer(d, client, c, b, NVME_IDENTIFY_SIZE, true, x);
}

static uint16_t adm_get_log(struct sim_dev *d, struct nvme *n, uint64_t client,
			    const struct nvme_sqe *c, struct xfer *x)
{
	unsigned lid = c->cdw10 & 0xff;
	uint64_t numd = ((uint64_t)(c->cdw11 & 0xffff) << 16 | (c->cdw10 >> 16)) + 1;
	uint64_t off = (uint64_t)c->cdw13 << 32 | c->cdw12;
	uint64_t len = numd * 4;
	uint32_t size;
	if (len > NV_PAGE)
		return SC_GEN(NVME_SC_INVALID_FIELD);
	uint8_t *b = n->buf;
	memset(b, 0, 2 * NV_PAGE);
	switch (lid) {
	case NVME_LOG_ERROR:
		size = NVME_ERROR_LOG_ENTRY_SIZE * 1; /* ELPE + 1 entries, all empty */
		break;
	case NVME_LOG_SMART: {
		struct nvme_smart_log *s = (struct nvme_smart_log *)(void *)b;
		size = sizeof(*s);
		uint16_t t = 0x0143; /* 323 K */
		memcpy(&s->temperature, &t, 2);
		s->avail_spare = 100;
		s->spare_thresh = 10;
		put128(s->data_units_read, (n->units_read + 999) / 1000);
		put128(s->data_units_written, (n->units_written + 999) / 1000);
		put128(s->host_reads, n->host_reads);
		put128(s->host_writes, n->host_writes);
		put128(s->power_cycles, 1);
		break;
	}
	case NVME_LOG_FW_SLOT:
		size = 512;
		b[0] = 1; /* active slot 1 */
		memcpy(b + 8, "1.0     ", 8);
		break;
	default:
		return SC_CMD(NVME_SC_INVALID_LOG_PAGE);
	}
	if (off & 3 || off > size)
		return SC_GEN(NVME_SC_INVALID_FIELD);
	return data_xfer(d, client, c, b + off, (uint32_t)len, true, x);
}

/* 5.3/5.4/5.5/5.6: queue management (device lock held). */
static uint16_t adm_queue(struct sim_dev *d, struct nvme *n, const struct nvme_sqe *c)
{
	unsigned qid = c->cdw10 & 0xffff;
	uint32_t qsize = (c->cdw10 >> 16) + 1;
	switch (c->opc) {
	case NVME_ADM_CREATE_CQ: {
		unsigned iv = c->cdw11 >> 16;
		if (qid == 0 || qid > n->ncqa || n->cq[qid].live)
			return SC_CMD(NVME_SC_INVALID_QID);
		if (qsize < 2 || qsize > NV_MQES + 1)
			return SC_CMD(NVME_SC_INVALID_QSIZE);
		if (!(c->cdw11 & NVME_QUEUE_PC) || NVME_CC_IOCQES(n->cc) != NVME_CQES_LOG2)
			return SC_GEN(NVME_SC_INVALID_FIELD);
		if (!c->prp1 || (c->prp1 & (NV_PAGE - 1)))
			return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
		if ((c->cdw11 & NVME_CQ_IEN) && iv >= NV_NVEC)
			return SC_CMD(NVME_SC_INVALID_VECTOR);
		n->cq[qid] = (struct nv_cq){ .live = true, .phase = true,
					     .ien = (c->cdw11 & NVME_CQ_IEN) != 0, .base = c->prp1,
					     .size = qsize, .iv = (uint16_t)iv };
		db_clear(d, NVME_CQ_HDBL(qid, 0));
		n->io_queues_made = true;
		return NVME_SC_SUCCESS;
	}
	case NVME_ADM_CREATE_SQ: {
		unsigned cqid = c->cdw11 >> 16;
		if (qid == 0 || qid > n->nsqa || n->sq[qid].live)
			return SC_CMD(NVME_SC_INVALID_QID);
		if (cqid == 0 || cqid > NV_MAX_QID || !n->cq[cqid].live)
			return SC_CMD(NVME_SC_CQ_INVALID);
		if (qsize < 2 || qsize > NV_MQES + 1)
			return SC_CMD(NVME_SC_INVALID_QSIZE);
		if (!(c->cdw11 & NVME_QUEUE_PC) || NVME_CC_IOSQES(n->cc) != NVME_SQES_LOG2)
			return SC_GEN(NVME_SC_INVALID_FIELD);
		if (!c->prp1 || (c->prp1 & (NV_PAGE - 1)))
			return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
		n->sq[qid] = (struct nv_sq){ .live = true, .base = c->prp1, .size = qsize,
					     .cqid = (uint16_t)cqid };
		n->cq[cqid].nsq++;
		db_clear(d, NVME_SQ_TDBL(qid, 0));
		n->io_queues_made = true;
		return NVME_SC_SUCCESS;
	}
	case NVME_ADM_DELETE_SQ:
		if (qid == 0 || qid > NV_MAX_QID || !n->sq[qid].live)
			return SC_CMD(NVME_SC_INVALID_QID);
		n->cq[n->sq[qid].cqid].nsq--;
		n->sq[qid].live = false;
		return NVME_SC_SUCCESS;
	case NVME_ADM_DELETE_CQ:
		if (qid == 0 || qid > NV_MAX_QID || !n->cq[qid].live)
			return SC_CMD(NVME_SC_INVALID_QID);
		if (n->cq[qid].nsq)
			return SC_CMD(NVME_SC_INVALID_QUEUE_DELETION);
		n->cq[qid].live = false;
		return NVME_SC_SUCCESS;
	}
	return SC_GEN(NVME_SC_INVALID_OPCODE);
}

/* 5.12 Get Features / 5.21 Set Features (device lock held). */
static uint16_t adm_features(struct nvme *n, const struct nvme_sqe *c, struct nv_res *r)
{
	unsigned fid = c->cdw10 & 0xff;
	bool set = c->opc == NVME_ADM_SET_FEATURES;
	if (set && (c->cdw10 >> 31))
		return SC_CMD(NVME_SC_FEATURE_NOT_SAVEABLE); /* SV: nothing is saveable */
	unsigned sel = (c->cdw10 >> 8) & 7;
	if (!set && sel > 3)
		return SC_GEN(NVME_SC_INVALID_FIELD);
	switch (fid) {
	case NVME_FEAT_NUM_QUEUES:
		if (set) {
			unsigned nsqr = c->cdw11 & 0xffff, ncqr = c->cdw11 >> 16;
			if (nsqr == 0xffff || ncqr == 0xffff)
				return SC_GEN(NVME_SC_INVALID_FIELD);
			if (n->io_queues_made)
				return SC_GEN(NVME_SC_CMD_SEQ_ERROR);
			n->nsqa = nsqr + 1 < NV_MAX_QID ? nsqr + 1 : NV_MAX_QID;
			n->ncqa = ncqr + 1 < NV_MAX_QID ? ncqr + 1 : NV_MAX_QID;
		}
		r->dw0 = (n->ncqa - 1) << 16 | (n->nsqa - 1);
		if (!set && sel == 1)
			r->dw0 = (NV_MAX_QID - 1) << 16 | (NV_MAX_QID - 1);
		return NVME_SC_SUCCESS;
	case NVME_FEAT_IRQ_CONFIG: {
		unsigned iv = c->cdw11 & 0xffff;
		if (iv >= NV_NVEC)
			return SC_GEN(NVME_SC_INVALID_FIELD);
		if (set)
			n->ivc[iv] = c->cdw11 & 0x1ffff;
		r->dw0 = n->ivc[iv];
		return NVME_SC_SUCCESS;
	}
	case NVME_FEAT_ARBITRATION:
	case NVME_FEAT_POWER_MGMT:
	case NVME_FEAT_TEMP_THRESH:
	case NVME_FEAT_ERROR_RECOVERY:
	case NVME_FEAT_VOLATILE_WC:
	case NVME_FEAT_IRQ_COALESCE: /* stored; completions are never coalesced */
	case NVME_FEAT_WRITE_ATOMIC:
	case NVME_FEAT_ASYNC_EVENT:
		if (set)
			n->feat[fid] = c->cdw11;
		r->dw0 = n->feat[fid];
		if (!set && sel == 3)
			r->dw0 = 1u << 2; /* changeable, not saveable */
		return NVME_SC_SUCCESS;
	}
	return SC_GEN(NVME_SC_INVALID_FIELD);
}

static uint16_t exec_admin(struct sim_dev *d, struct nvme *n, uint64_t client, uint32_t gen,
			   const struct nvme_sqe *c, struct nv_res *r, struct xfer *x)
{
	uint16_t st;
	switch (c->opc) {
	case NVME_ADM_IDENTIFY:
		return adm_identify(d, n, client, c, x);
	case NVME_ADM_GET_LOG_PAGE:
		return adm_get_log(d, n, client, c, x);
	case NVME_ADM_ABORT:
		r->dw0 = 1; /* 5.1: the command was not aborted (it completes anyway) */
		return NVME_SC_SUCCESS;
	case NVME_ADM_CREATE_CQ:
	case NVME_ADM_CREATE_SQ:
	case NVME_ADM_DELETE_CQ:
	case NVME_ADM_DELETE_SQ:
	case NVME_ADM_GET_FEATURES:
	case NVME_ADM_SET_FEATURES:
	case NVME_ADM_AER:
		pthread_mutex_lock(&d->lock);
		if (gen != n->gen) {
			st = SC_GEN(NVME_SC_ABORT_SQ_DELETED); /* dropped anyway */
		} else if (c->opc == NVME_ADM_AER) {
			/* 5.2: held until an event; none is ever generated */
			if (n->aer_held > NV_AERL) {
				st = SC_CMD(NVME_SC_AER_LIMIT);
			} else {
				n->aer_held++;
				r->hold = true;
				st = NVME_SC_SUCCESS;
			}
		} else if (c->opc == NVME_ADM_GET_FEATURES || c->opc == NVME_ADM_SET_FEATURES) {
			st = adm_features(n, c, r);
		} else {
			st = adm_queue(d, n, c);
		}
		pthread_mutex_unlock(&d->lock);
		return st;
	}
	return SC_GEN(NVME_SC_INVALID_OPCODE);
}

/* ---- NVM commands (6) ---------------------------------------------------------- */
static uint16_t io_flush(struct nvme *n, uint32_t nsid)
{
	if (nsid == 0xffffffffu) {
		for (unsigned i = 0; i < n->nns; i++)
			fdatasync(n->ns[i].fd);
		return NVME_SC_SUCCESS;
	}
	if (fdatasync(n->ns[nsid - 1].fd) < 0 && errno != EINVAL)
		return SC_GEN(NVME_SC_INTERNAL);
	return NVME_SC_SUCCESS;
}

/* Zero [slba, slba+nlb): punch a hole, else write zeroes. */
static uint16_t io_zero(struct nvme *n, const struct nv_ns *ns, uint64_t slba, uint64_t nlb)
{
	off_t off = (off_t)(slba << NV_LBA_SHIFT), len = (off_t)(nlb << NV_LBA_SHIFT);
	if (fallocate(ns->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
		return NVME_SC_SUCCESS;
	memset(n->buf, 0, NV_MAX_XFER);
	while (len > 0) {
		size_t l = len < (off_t)NV_MAX_XFER ? (size_t)len : NV_MAX_XFER;
		if (pwrite(ns->fd, n->buf, l, off) != (ssize_t)l)
			return SC_GEN(NVME_SC_INTERNAL);
		off += (off_t)l, len -= (off_t)l;
	}
	return NVME_SC_SUCCESS;
}

static uint16_t exec_io(struct sim_dev *d, struct nvme *n, uint64_t client,
			const struct nvme_sqe *c, struct xfer *x)
{
	if (c->opc == NVME_CMD_FLUSH && c->nsid == 0xffffffffu)
		return io_flush(n, c->nsid);
	if (c->opc != NVME_CMD_FLUSH && c->opc != NVME_CMD_WRITE && c->opc != NVME_CMD_READ &&
	    c->opc != NVME_CMD_WRITE_ZEROES && c->opc != NVME_CMD_DSM)
		return SC_GEN(NVME_SC_INVALID_OPCODE);
	if (c->nsid == 0 || c->nsid > n->nns)
		return SC_GEN(NVME_SC_INVALID_NS);
	if (NVME_SQE_FUSE(c->flags))
		return SC_GEN(NVME_SC_INVALID_FIELD); /* fused operations: not supported */
	const struct nv_ns *ns = &n->ns[c->nsid - 1];
	uint64_t slba = (uint64_t)c->cdw11 << 32 | c->cdw10;
	uint64_t nlb = (c->cdw12 & 0xffff) + 1u;
	switch (c->opc) {
	case NVME_CMD_FLUSH:
		return io_flush(n, c->nsid);
	case NVME_CMD_READ:
	case NVME_CMD_WRITE: {
		if (slba >= ns->nlb || nlb > ns->nlb - slba)
			return SC_GEN(NVME_SC_LBA_RANGE);
		if (nlb << NV_LBA_SHIFT > NV_MAX_XFER)
			return SC_GEN(NVME_SC_INVALID_FIELD); /* over MDTS */
		uint32_t len = (uint32_t)(nlb << NV_LBA_SHIFT);
		off_t off = (off_t)(slba << NV_LBA_SHIFT);
		if (c->opc == NVME_CMD_WRITE) {
			uint16_t st = data_xfer(d, client, c, n->buf, len, false, x);
			if (st)
				return st;
			if (pwrite(ns->fd, n->buf, len, off) != (ssize_t)len)
				return SC_GEN(NVME_SC_INTERNAL);
			n->host_writes++;
			n->units_written += nlb;
			return NVME_SC_SUCCESS;
		}
		ssize_t got = pread(ns->fd, n->buf, len, off);
		if (got < 0)
			return SC_GEN(NVME_SC_INTERNAL);
		if ((uint32_t)got < len) /* the file shrank under us: zeroes */
			memset(n->buf + got, 0, len - (uint32_t)got);
		n->host_reads++;
		n->units_read += nlb;
		return data_xfer(d, client, c, n->buf, len, true, x);
	}
	case NVME_CMD_WRITE_ZEROES:
		if (slba >= ns->nlb || nlb > ns->nlb - slba)
			return SC_GEN(NVME_SC_LBA_RANGE);
		return io_zero(n, ns, slba, nlb);
	case NVME_CMD_DSM: {
		uint32_t nr = (c->cdw10 & 0xff) + 1;
		struct nvme_dsm_range *rg = (struct nvme_dsm_range *)(void *)n->buf;
		uint16_t st = data_xfer(d, client, c, rg, nr * 16, false, x);
		if (st)
			return st;
		struct nvme_dsm_range copy[256];
		memcpy(copy, rg, nr * sizeof(copy[0]));
		for (uint32_t i = 0; i < nr; i++)
			if (copy[i].slba >= ns->nlb || copy[i].nlb > ns->nlb - copy[i].slba)
				return SC_GEN(NVME_SC_LBA_RANGE);
		if (!(c->cdw11 & NVME_DSM_AD))
			return NVME_SC_SUCCESS; /* hints only */
		for (uint32_t i = 0; i < nr; i++)
			if (copy[i].nlb && (st = io_zero(n, ns, copy[i].slba, copy[i].nlb)))
				return st;
		return NVME_SC_SUCCESS;
	}
	}
	return SC_GEN(NVME_SC_INVALID_OPCODE);
}

/* ---- the device thread ------------------------------------------------------------ */

/* Post a completion to CQ @cqid (device lock held on entry and return;
 * dropped around the DMA and while the CQ is full). */
static void post(struct sim_dev *d, struct nvme *n, uint32_t gen, unsigned sqid,
		 const struct nvme_sqe *c, const struct nv_res *r)
{
	for (;;) {
		if (gen != n->gen || atomic_load(&n->stop))
			return;
		struct nv_cq *cq = &n->cq[n->sq[sqid].cqid];
		if (!n->sq[sqid].live || !cq->live)
			return; /* the queue went away meanwhile */
		uint32_t head = db_load(d, NVME_CQ_HDBL(n->sq[sqid].cqid, 0));
		if (head >= cq->size) {
			fatal(d, n, "CQ head doorbell beyond the queue");
			return;
		}
		if ((cq->tail + 1) % cq->size != head)
			break;
		pthread_mutex_unlock(&d->lock); /* full: wait for the host to consume */
		sim_sleep_us(50);
		pthread_mutex_lock(&d->lock);
	}
	unsigned cqid = n->sq[sqid].cqid;
	struct nv_cq *cq = &n->cq[cqid];
	struct nvme_cqe e = {
		.dw0 = r->dw0,
		.sqhd = (uint16_t)n->sq[sqid].head,
		.sqid = (uint16_t)sqid,
		.cid = c->cid,
		.status = (uint16_t)((r->status & 0xff) << 1 | ((r->status >> 8) & 7) << 9 |
				     (r->status ? NVME_ST_DNR : 0) | (cq->phase ? 1 : 0)),
	};
	uint64_t addr = cq->base + (uint64_t)cq->tail * sizeof(e);
	if (++cq->tail == cq->size) {
		cq->tail = 0;
		cq->phase = !cq->phase;
	}
	bool ien = cq->ien;
	unsigned iv = cq->iv;
	uint64_t client = n->client;
	pthread_mutex_unlock(&d->lock);
	int rc = sim_dma_write(d, client, addr, &e, sizeof(e));
	if (rc)
		sim_dma_fault(d, client, addr, sizeof(e), true);
	pthread_mutex_lock(&d->lock);
	if (gen != n->gen)
		return;
	if (rc)
		fatal(d, n, "cannot write a completion");
	else if (ien)
		sim_irq_raise(d, iv); /* no coalescing: one interrupt per completion */
}

/* Fetch and execute one command, if a queue has one (device lock held on
 * entry and return). true if one was found. */
static bool step(struct sim_dev *d, struct nvme *n)
{
	for (unsigned k = 0; k <= NV_MAX_QID; k++) {
		unsigned qid = (n->rr + k) % (NV_MAX_QID + 1);
		struct nv_sq *sq = &n->sq[qid];
		if (!sq->live)
			continue;
		uint32_t tail = db_load(d, NVME_SQ_TDBL(qid, 0));
		if (tail >= sq->size) {
			fatal(d, n, "SQ tail doorbell beyond the queue");
			return false;
		}
		if (tail == sq->head)
			continue;
		n->rr = qid + 1;
		uint64_t addr = sq->base + (uint64_t)sq->head * sizeof(struct nvme_sqe);
		sq->head = (sq->head + 1) % sq->size;
		uint32_t gen = n->gen;
		uint64_t client = n->client;
		pthread_mutex_unlock(&d->lock);

		struct nvme_sqe c;
		struct nv_res r = { 0 };
		struct xfer x = { .n = 0 };
		if (sim_dma_read(d, client, addr, &c, sizeof(c))) {
			sim_dma_fault(d, client, addr, sizeof(c), false);
			pthread_mutex_lock(&d->lock);
			if (gen == n->gen)
				fatal(d, n, "cannot fetch a command");
			return true;
		}
		r.status = qid ? exec_io(d, n, client, &c, &x)
			       : exec_admin(d, n, client, gen, &c, &r, &x);
		if (x.fault)
			sim_dma_fault(d, client, x.fault_iova, x.fault_len, x.fault_write);
		pthread_mutex_lock(&d->lock);
		if (!r.hold)
			post(d, n, gen, qid, &c, &r);
		return true;
	}
	return false;
}

static void *nv_thread(void *arg)
{
	struct sim_dev *d = arg;
	struct nvme *n = d->priv;
	uint64_t hot_until = 0;
	while (!atomic_load(&n->stop)) {
		pthread_mutex_lock(&d->lock);
		bool did = n->running && step(d, n);
		bool running = n->running;
		pthread_mutex_unlock(&d->lock);
		if (did) {
			hot_until = sim_now_ms() + 20;
			continue;
		}
		if (running && sim_now_ms() < hot_until)
			sched_yield(); /* just busy: answer the next doorbell quickly */
		else
			sim_sleep_us(running ? 100 : 2000);
	}
	return NULL;
}

/* ---- life cycle ------------------------------------------------------------------------ */
static int ns_open(struct nv_ns *ns, const struct nv_cfg *c)
{
	int fd = open(c->path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	uint64_t size = c->size;
	if (!size)
		size = (uint64_t)st.st_size >= NV_PAGE ? (uint64_t)st.st_size : NV_DEFAULT_NS_SIZE;
	if ((uint64_t)st.st_size < size && ftruncate(fd, (off_t)size) < 0) { /* sparse */
		int e = -errno;
		close(fd);
		return e;
	}
	ns->fd = fd;
	ns->nlb = size >> NV_LBA_SHIFT;
	return 0;
}

static void nv_free(struct nvme *n)
{
	for (unsigned i = 0; i < n->nns; i++)
		close(n->ns[i].fd);
	free(n->buf);
	free(n);
}

static int nv_init(struct sim_dev *d)
{
	struct nvme *n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->buf = malloc(NV_MAX_XFER);
	if (!n->buf) {
		free(n);
		return -ENOMEM;
	}
	int rc = 0;
	for (unsigned i = 0; i < nv_ncfg && !rc; i++) {
		if (strcmp(nv_cfgs[i].dev, d->name))
			continue;
		if (n->nns == NV_MAX_NS)
			rc = -ENOSPC;
		else if (!(rc = ns_open(&n->ns[n->nns], &nv_cfgs[i])))
			n->nns++;
		if (rc)
			sim_log("%s: namespace %s: %s", d->name, nv_cfgs[i].path, strerror(-rc));
	}
	if (!rc && !n->nns) { /* no file: a memfd, lost at the next power-on */
		int fd = memfd_create("udd-sim-nvme-ns", MFD_CLOEXEC);
		if (fd < 0 || ftruncate(fd, (off_t)NV_DEFAULT_NS_SIZE) < 0) {
			rc = -errno;
			if (fd >= 0)
				close(fd);
		} else {
			n->ns[0] = (struct nv_ns){ fd, NV_DEFAULT_NS_SIZE >> NV_LBA_SHIFT };
			n->nns = 1;
		}
	}
	if (rc) {
		nv_free(n);
		return rc;
	}
	snprintf(n->sn, sizeof(n->sn), "UDDSIM-%.13s", d->name);
	n->cap = NV_MQES | NVME_CAP_CQR | (uint64_t)NV_TO << 24 | NVME_CAP_CSS_NVM;
	feat_defaults(n);

	d->cfg_size = SIM_CFG_SIZE;
	sim_cfg_header(d, 0x1b36, 0x0010, NVME_PCI_CLASS, 0x02, 1);
	sim_cfg_bar(d, 0, NV_BAR0_SIZE, SIM_BAR_64);
	sim_cfg_pm(d, 0x40);
	sim_cfg_msix(d, 0x48, NV_NVEC, 0, NV_MSIX_TABLE, NV_MSIX_PBA);
	sim_cfg_pcie(d, 0x60);
	rc = sim_bar_memfd(d, 0, "udd-sim-nvme-bar0");
	if (rc) {
		nv_free(n);
		return rc;
	}
	for (unsigned i = 0; i < NV_NVEC; i++)
		d->bars[0].mem[NV_MSIX_TABLE + 16 * i + 12] = 1; /* vector control: masked */
	d->bars[0].nareas = 1;
	d->bars[0].areas[0] = (struct vfu_sparse_area){ NV_DB_PAGE, NV_DB_PAGE };
	d->priv = n;
	rc = pthread_create(&n->thr, NULL, nv_thread, d);
	if (rc) {
		d->priv = NULL;
		nv_free(n);
		return -rc;
	}
	return 0;
}

static void nv_fini(struct sim_dev *d)
{
	struct nvme *n = d->priv;
	atomic_store(&n->stop, true);
	pthread_join(n->thr, NULL);
	nv_free(n);
	d->priv = NULL;
}

const struct sim_model sim_model_nvme = {
	.name = "nvme",
	.init = nv_init,
	.fini = nv_fini,
	.bar_read = nv_read,
	.bar_write = nv_write,
	.reset = nv_reset,
	.irq_count = { 1, 0, NV_NVEC, 0, 0 },
};
