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
#include "sim_nvme_priv.h"


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
