/* SPDX-License-Identifier: MIT */
/*
 * libudd_nvme: an NVMe driver in user space, on udd's public API only.
 * Section numbers: NVM Express Base Specification 1.4.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "nvme.h"

#define PAGE 4096u /* CC.MPS = 0: the memory page size is 4 KiB (3.1.5) */

struct nvme_req {
	bool busy;
	void *tag;
};

struct nvme_ioq {
	struct nvme_ctrl *c;
	uint16_t qid;
	uint32_t depth;
	unsigned gen;            /* the controller generation it was created in */
	struct nvme_buf ring;    /* SQ pages, then CQ pages */
	struct nvme_buf prps;    /* one PRP list page per command slot (4.3) */
	volatile struct nvme_sqe *sq;
	volatile struct nvme_cqe *cq;
	uint32_t sq_tail, sq_head, cq_head;
	bool phase;
	uint32_t inflight;
	uint16_t next_cid;
	struct nvme_req *req; /* by CID (CIDs are 0..depth-1) */
};

struct nvme_ctrl {
	udd_ctx_t *ctx;
	udd_dev_t *dev;
	udd_acc_t *regs; /* 3.1 registers: BAR0 page 0 */
	udd_acc_t *dbs;  /* 3.1.24: doorbells, BAR0 from 1000h */
	uint64_t cap;
	unsigned dstrd, timeout_ms, mqes;
	bool irq;
	unsigned want_ioqs, nr_ioqs;
	unsigned gen;
	pthread_mutex_t admin_lock;
	struct nvme_ioq *admin;
	bool qid_used[1025]; /* by I/O queue id; nr_ioqs <= 1024 */
	struct nvme_buf idbuf;
	struct nvme_id_ctrl id;
	struct nvme_id_ns ns;
	uint32_t lba_size, max_xfer;
};

/* ---- registers (3.1) ---------------------------------------------------- */
static uint32_t rd32(struct nvme_ctrl *c, unsigned off)
{
	return udd_get32(c->regs, off);
}

static void wr32(struct nvme_ctrl *c, unsigned off, uint32_t v)
{
	udd_put32(c->regs, off, v);
}

static uint64_t rd64(struct nvme_ctrl *c, unsigned off)
{
	return rd32(c, off) | (uint64_t)rd32(c, off + 4) << 32;
}

static void wr64(struct nvme_ctrl *c, unsigned off, uint64_t v)
{
	wr32(c, off, (uint32_t)v);
	wr32(c, off + 4, (uint32_t)(v >> 32));
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait until (CSTS & mask) == want, within CAP.TO (3.1.1: the worst-case
 * time to become ready or not ready). -EIO on CSTS.CFS or a vanished
 * device (all ones), -ETIMEDOUT. */
static int wait_csts(struct nvme_ctrl *c, uint32_t mask, uint32_t want)
{
	uint64_t deadline = now_ms() + c->timeout_ms;
	for (;;) {
		uint32_t csts = rd32(c, NVME_REG_CSTS);
		if (csts == 0xffffffffu)
			return -ENODEV;
		if ((csts & mask) == want)
			return 0;
		if ((csts & NVME_CSTS_CFS) && !(mask & NVME_CSTS_CFS) && want)
			return -EIO;
		if (now_ms() > deadline)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 100000 };
		nanosleep(&ts, NULL);
	}
}

/* ---- DMA memory ---------------------------------------------------------- */
int nvme_buf_alloc(struct nvme_ctrl *c, size_t size, struct nvme_buf *b)
{
	memset(b, 0, sizeof(*b));
	size = (size + PAGE - 1) & ~(size_t)(PAGE - 1);
	int rc = udd_mem_alloc(c->ctx, size, &b->mem);
	if (rc)
		return rc;
	rc = udd_dma_map(c->dev, b->mem, 0, size, NULL, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &b->iova,
			 &b->dma);
	if (rc) {
		udd_mem_free(b->mem);
		b->mem = NULL;
		return rc;
	}
	b->va = udd_mem_ptr(b->mem);
	b->size = size;
	return 0;
}

void nvme_buf_free(struct nvme_buf *b)
{
	if (!b || !b->mem)
		return;
	udd_dma_unmap(b->dma);
	udd_mem_free(b->mem);
	memset(b, 0, sizeof(*b));
}

/* ---- PRPs (4.3) ------------------------------------------------------------
 * PRP1 is the first page (it may start at an offset); if the transfer ends
 * in the next page, PRP2 is that page, else PRP2 points to a PRP list: one
 * entry per further page. With a list page per command slot and transfers
 * of at most MDTS (<= 512 pages), one list page always suffices. */
static int build_prps(struct nvme_ioq *q, uint16_t cid, struct nvme_sqe *cmd,
		      const struct nvme_buf *b, size_t off, size_t len)
{
	if (!len)
		return 0;
	if (off + len > b->size || off & 3)
		return -EINVAL;
	uint64_t addr = b->iova + off;
	cmd->prp1 = addr;
	size_t first = PAGE - (addr & (PAGE - 1));
	if (len <= first)
		return 0;
	size_t rest = len - first;
	uint64_t next = addr + first; /* page aligned */
	if (rest <= PAGE) {
		cmd->prp2 = next;
		return 0;
	}
	size_t n = (rest + PAGE - 1) / PAGE;
	if (n > PAGE / 8)
		return -E2BIG;
	uint64_t *list = (uint64_t *)((uint8_t *)q->prps.va + (size_t)cid * PAGE);
	for (size_t i = 0; i < n; i++)
		list[i] = next + i * PAGE;
	cmd->prp2 = q->prps.iova + (uint64_t)cid * PAGE;
	return 0;
}

/* ---- queues (4.1: circular, 4.6: phase tags) ------------------------------ */
static int queue_alloc(struct nvme_ctrl *c, uint16_t qid, uint32_t depth, struct nvme_ioq **out)
{
	struct nvme_ioq *q = calloc(1, sizeof(*q));
	if (!q)
		return -ENOMEM;
	q->req = calloc(depth, sizeof(*q->req));
	if (!q->req) {
		free(q);
		return -ENOMEM;
	}
	size_t sq_bytes = ((size_t)depth * 64 + PAGE - 1) & ~(size_t)(PAGE - 1);
	size_t cq_bytes = ((size_t)depth * 16 + PAGE - 1) & ~(size_t)(PAGE - 1);
	int rc = nvme_buf_alloc(c, sq_bytes + cq_bytes, &q->ring);
	if (!rc)
		rc = nvme_buf_alloc(c, (size_t)depth * PAGE, &q->prps);
	if (rc) {
		nvme_buf_free(&q->ring);
		free(q->req);
		free(q);
		return rc;
	}
	q->c = c;
	q->qid = qid;
	q->depth = depth;
	q->gen = c->gen;
	q->sq = q->ring.va;
	q->cq = (void *)((uint8_t *)q->ring.va + sq_bytes);
	q->phase = true; /* 4.6: the first pass through a new CQ carries P = 1 */
	*out = q;
	return 0;
}

static uint64_t sq_iova(const struct nvme_ioq *q)
{
	return q->ring.iova;
}

static uint64_t cq_iova(const struct nvme_ioq *q)
{
	return q->ring.iova + (((size_t)q->depth * 64 + PAGE - 1) & ~(size_t)(PAGE - 1));
}

static void queue_free(struct nvme_ioq *q)
{
	nvme_buf_free(&q->prps);
	nvme_buf_free(&q->ring);
	free(q->req);
	free(q);
}

int nvme_submit(struct nvme_ioq *q, struct nvme_sqe *cmd, const struct nvme_buf *buf, size_t off,
		size_t len, void *tag)
{
	if (q->gen != q->c->gen)
		return -ESTALE; /* the controller was reset under this queue */
	/* 4.1: full when the tail is one behind the head; we also keep one
	 * outstanding command per free slot (CIDs index req[]) */
	if (q->inflight >= q->depth - 1)
		return -EBUSY;
	uint16_t cid = q->next_cid;
	while (q->req[cid].busy)
		cid = (uint16_t)((cid + 1) % q->depth);
	q->next_cid = (uint16_t)((cid + 1) % q->depth);
	cmd->cid = cid;
	cmd->flags = 0; /* PSDT 00b: PRPs */
	if (buf) {
		int rc = build_prps(q, cid, cmd, buf, off, len);
		if (rc)
			return rc;
	}
	q->req[cid] = (struct nvme_req){ .busy = true, .tag = tag };
	q->inflight++;
	memcpy((void *)&q->sq[q->sq_tail], cmd, sizeof(*cmd));
	q->sq_tail = (q->sq_tail + 1) % q->depth;
	udd_barrier(q->c->dbs); /* the entry is in memory before the doorbell says so */
	udd_put32(q->c->dbs, (unsigned)(NVME_SQ_TDBL(q->qid, q->c->dstrd) - NVME_REG_DBS), q->sq_tail);
	return 0;
}

int nvme_poll(struct nvme_ioq *q, struct nvme_done *out, int max)
{
	/* After a reset the controller no longer knows this queue: entries it
	 * posted before may still be in memory, but they are not reaped, and
	 * its CQ head doorbell (a queue that does not exist) is not rung */
	if (q->gen != q->c->gen)
		return -ESTALE;
	int n = 0;
	while (n < max) {
		volatile struct nvme_cqe *e = &q->cq[q->cq_head];
		uint16_t st = e->status;
		if (NVME_ST_PHASE(st) != (q->phase ? 1u : 0u))
			break; /* 4.6: an entry is new when its phase tag is the current one */
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		uint16_t cid = e->cid;
		q->sq_head = e->sqhd;
		if (cid < q->depth && q->req[cid].busy) {
			out[n].tag = q->req[cid].tag;
			out[n].status = NVME_ST_CODE(st);
			out[n].dw0 = e->dw0;
			q->req[cid].busy = false;
			q->inflight--;
			n++;
		}
		if (++q->cq_head == q->depth) {
			q->cq_head = 0;
			q->phase = !q->phase;
		}
	}
	if (n) /* 3.1.25: release the entries consumed */
		udd_put32(q->c->dbs, (unsigned)(NVME_CQ_HDBL(q->qid, q->c->dstrd) - NVME_REG_DBS),
			  q->cq_head);
	return n;
}

int nvme_wait(struct nvme_ioq *q, struct nvme_done *out, int max, int timeout_ms)
{
	uint64_t deadline = timeout_ms < 0 ? UINT64_MAX : now_ms() + (uint64_t)timeout_ms;
	uint64_t next_check = now_ms() + 10;
	unsigned spins = 0;
	for (;;) {
		int n = nvme_poll(q, out, max);
		if (n)
			return n; /* a count, or -ESTALE */
		uint64_t t = now_ms();
		if (t > deadline)
			return -ETIMEDOUT;
		if (t >= next_check) { /* 3.1.6: a fatal controller will not complete it */
			uint32_t csts = rd32(q->c, NVME_REG_CSTS);
			if (csts == 0xffffffffu || (csts & NVME_CSTS_CFS))
				return -EIO;
			next_check = t + 10;
		}
		if (q->c->irq) {
			/* the vector may have fired before we looked: udd_irq_wait
			 * then returns at once and we poll again */
			int rc = udd_irq_wait(q->c->dev, q->qid, 100, NULL);
			if (rc && rc != -ETIMEDOUT && rc != -EINTR)
				return rc;
		} else if (++spins % 64 == 0) {
			sched_yield();
		}
	}
}

int nvme_sync(struct nvme_ioq *q, struct nvme_sqe *cmd, const struct nvme_buf *buf, size_t off,
	      size_t len, uint32_t *dw0)
{
	int tag;
	int rc = nvme_submit(q, cmd, buf, off, len, &tag);
	if (rc)
		return rc;
	for (;;) {
		struct nvme_done d;
		rc = nvme_wait(q, &d, 1, (int)q->c->timeout_ms + 10000);
		if (rc < 0)
			return rc;
		if (d.tag == &tag) {
			if (dw0)
				*dw0 = d.dw0;
			return d.status;
		}
	}
}

/* 6.9 Read / 6.15 Write: SLBA in CDW10/11, NLB (0's based) in CDW12 15:00.
 * Builds @cmd; *len gets the data length (0 for commands without data, for
 * which *buf is cleared). 0 or -EINVAL. */
static int rw_cmd(struct nvme_ioq *q, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
		  struct nvme_sqe *cmd, const struct nvme_buf **buf, size_t *len)
{
	if (!nlb || nlb > 65536)
		return -EINVAL;
	*cmd = (struct nvme_sqe){ .opc = opc, .nsid = nsid };
	cmd->cdw10 = (uint32_t)slba;
	cmd->cdw11 = (uint32_t)(slba >> 32);
	cmd->cdw12 = nlb - 1;
	*len = (size_t)nlb * q->c->lba_size;
	if (opc != NVME_CMD_READ && opc != NVME_CMD_WRITE) {
		*buf = NULL;
		*len = 0;
	}
	return 0;
}

int nvme_submit_rw(struct nvme_ioq *q, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
		   const struct nvme_buf *buf, size_t off, void *tag)
{
	struct nvme_sqe cmd;
	size_t len;
	int rc = rw_cmd(q, opc, nsid, slba, nlb, &cmd, &buf, &len);
	return rc ? rc : nvme_submit(q, &cmd, buf, off, len, tag);
}

int nvme_rw_sync(struct nvme_ioq *q, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
		 const struct nvme_buf *buf, size_t off)
{
	struct nvme_sqe cmd;
	size_t len;
	int rc = rw_cmd(q, opc, nsid, slba, nlb, &cmd, &buf, &len);
	return rc ? rc : nvme_sync(q, &cmd, buf, off, len, NULL);
}

/* ---- admin commands (5) ------------------------------------------------------- */
int nvme_admin(struct nvme_ctrl *c, struct nvme_sqe *cmd, const struct nvme_buf *buf, size_t len,
	       uint32_t *dw0)
{
	pthread_mutex_lock(&c->admin_lock);
	int rc = c->admin ? nvme_sync(c->admin, cmd, buf, 0, len, dw0) : -ENODEV;
	pthread_mutex_unlock(&c->admin_lock);
	return rc;
}

static int identify(struct nvme_ctrl *c, unsigned cns, uint32_t nsid, void *out)
{
	struct nvme_sqe cmd = { .opc = NVME_ADM_IDENTIFY, .nsid = nsid, .cdw10 = cns };
	int rc = nvme_admin(c, &cmd, &c->idbuf, NVME_IDENTIFY_SIZE, NULL);
	if (!rc)
		memcpy(out, c->idbuf.va, NVME_IDENTIFY_SIZE);
	return rc;
}

/* 7.6.1 Initialization, after a reset: admin queue, CC, wait RDY, identify,
 * Number of Queues. */
static int ctrl_init(struct nvme_ctrl *c)
{
	/* 7.3.1: CC.EN 1 -> 0 resets the controller; wait for CSTS.RDY = 0 */
	uint32_t cc = rd32(c, NVME_REG_CC);
	if (cc & NVME_CC_EN)
		wr32(c, NVME_REG_CC, cc & ~NVME_CC_EN);
	int rc = wait_csts(c, NVME_CSTS_RDY, 0);
	if (rc)
		return rc;
	c->gen++;
	if (c->admin)
		queue_free(c->admin);
	c->admin = NULL;
	memset(c->qid_used, 0, sizeof(c->qid_used));

	/* 3.1.8-3.1.10: admin queues of up to 64 entries (4 KiB SQ) */
	uint32_t depth = c->mqes + 1 < 64 ? c->mqes + 1 : 64;
	struct nvme_ioq *aq;
	rc = queue_alloc(c, 0, depth, &aq);
	if (rc)
		return rc;
	wr32(c, NVME_REG_AQA, NVME_AQA_MAKE(depth, depth));
	wr64(c, NVME_REG_ASQ, sq_iova(aq));
	wr64(c, NVME_REG_ACQ, cq_iova(aq));
	c->admin = aq;

	/* 3.1.5: NVM command set, 4 KiB pages, round robin, 64/16-byte entries */
	wr32(c, NVME_REG_CC, NVME_CC_MAKE_IOSQES(NVME_SQES_LOG2) | NVME_CC_MAKE_IOCQES(NVME_CQES_LOG2) |
				     NVME_CC_EN);
	rc = wait_csts(c, NVME_CSTS_RDY, NVME_CSTS_RDY);
	if (rc)
		return rc;

	/* 5.15.2: Identify Controller, then namespace 1 */
	rc = identify(c, NVME_CNS_CTRL, 0, &c->id);
	if (rc)
		return rc;
	c->max_xfer = c->id.mdts ? PAGE << c->id.mdts : 1u << 20;
	if (c->max_xfer > (PAGE / 8) * PAGE)
		c->max_xfer = (PAGE / 8) * PAGE; /* what one PRP list page describes */
	if (c->id.nn >= 1) {
		rc = identify(c, NVME_CNS_NS, 1, &c->ns);
		if (rc)
			return rc;
		c->lba_size = 1u << c->ns.lbaf[c->ns.flbas & 0xf].lbads;
	}

	/* 5.21.1.7 Number of Queues (0's based both ways) */
	unsigned want = c->want_ioqs ? c->want_ioqs : 1;
	struct nvme_sqe cmd = { .opc = NVME_ADM_SET_FEATURES, .cdw10 = NVME_FEAT_NUM_QUEUES,
				.cdw11 = (want - 1) << 16 | (want - 1) };
	uint32_t dw0 = 0;
	rc = nvme_admin(c, &cmd, NULL, 0, &dw0);
	if (rc)
		return rc;
	unsigned nsq = (dw0 & 0xffff) + 1, ncq = (dw0 >> 16) + 1;
	c->nr_ioqs = nsq < ncq ? nsq : ncq;
	if (c->nr_ioqs > want)
		c->nr_ioqs = want;
	return 0;
}

int nvme_open(udd_ctx_t *ctx, udd_fdid_t fdid, const struct nvme_opts *o, struct nvme_ctrl **out)
{
	struct nvme_ctrl *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->ctx = ctx;
	c->irq = o && o->irq;
	c->want_ioqs = o && o->nr_ioqs ? o->nr_ioqs : 1;
	if (c->want_ioqs > 1024)
		c->want_ioqs = 1024;
	pthread_mutex_init(&c->admin_lock, NULL);
	int rc = udd_dev_borrow(ctx, fdid, UDD_BORROW_EXCLUSIVE, &c->dev);
	if (rc)
		goto fail;
	/* 2.1.10 Command: memory space and bus mastering (DMA) */
	uint16_t cmdreg;
	rc = udd_cfg_read16(c->dev, 0x04, &cmdreg);
	if (!rc)
		rc = udd_cfg_write16(c->dev, 0x04, cmdreg | 0x0006);
	udd_acc_attr_t le = { .endian = UDD_LITTLE_ENDIAN };
	if (!rc)
		rc = udd_regs_map_bar(c->dev, 0, 0, 0x1000, &le, &c->regs);
	if (!rc)
		rc = udd_regs_map_bar(c->dev, 0, NVME_REG_DBS, 0x1000, &le, &c->dbs);
	if (rc)
		goto fail;
	c->cap = rd64(c, NVME_REG_CAP);
	if (c->cap == ~0ull || !(c->cap & NVME_CAP_CSS_NVM) || NVME_CAP_MPSMIN(c->cap) != 0) {
		rc = -ENOTSUP; /* gone, no NVM command set, or no 4 KiB pages */
		goto fail;
	}
	c->mqes = NVME_CAP_MQES(c->cap);
	c->dstrd = NVME_CAP_DSTRD(c->cap);
	c->timeout_ms = NVME_CAP_TO(c->cap) * 500u;
	if (!c->timeout_ms)
		c->timeout_ms = 500;
	if (NVME_SQ_TDBL(c->want_ioqs, c->dstrd) >= NVME_REG_DBS + 0x1000u) {
		rc = -ENOTSUP; /* more doorbells than the page we mapped */
		goto fail;
	}
	if (c->irq) {
		udd_dev_info_t info;
		rc = udd_dev_get_info(c->dev, &info);
		if (!rc && info.irq_count[UDD_IRQ_MSIX] < c->want_ioqs + 1)
			rc = -ENOTSUP;
		if (!rc)
			rc = udd_irq_enable(c->dev, UDD_IRQ_MSIX, c->want_ioqs + 1);
		if (rc)
			goto fail;
	}
	rc = nvme_buf_alloc(c, NVME_IDENTIFY_SIZE, &c->idbuf);
	if (!rc)
		rc = ctrl_init(c);
	if (rc)
		goto fail;
	*out = c;
	return 0;
fail:
	if (c->admin)
		queue_free(c->admin);
	nvme_buf_free(&c->idbuf);
	udd_dev_return(c->dev);
	pthread_mutex_destroy(&c->admin_lock);
	free(c);
	return rc;
}

int nvme_reinit(struct nvme_ctrl *c)
{
	return ctrl_init(c);
}

/* 7.6.2: normal shutdown, wait for CSTS.SHST = complete (within CAP.TO);
 * the I/O queues are gone afterwards */
int nvme_shutdown(struct nvme_ctrl *c)
{
	uint32_t cc = rd32(c, NVME_REG_CC);
	if (!(cc & NVME_CC_EN))
		return 0;
	c->gen++;
	wr32(c, NVME_REG_CC, (cc & ~NVME_CC_SHN_MASK) | NVME_CC_SHN_NORMAL);
	return wait_csts(c, NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_COMPLETE);
}

void nvme_close(struct nvme_ctrl *c)
{
	if (!c)
		return;
	(void)nvme_shutdown(c);
	if (c->admin)
		queue_free(c->admin);
	nvme_buf_free(&c->idbuf);
	udd_dev_return(c->dev); /* DMA windows and interrupts go with it */
	pthread_mutex_destroy(&c->admin_lock);
	free(c);
}

/* ---- I/O queues (5.3 Create I/O CQ, 5.4 Create I/O SQ, 5.5/5.6 delete) ---- */
int nvme_ioq_create(struct nvme_ctrl *c, uint32_t depth, struct nvme_ioq **out)
{
	if (depth < 2 || depth > c->mqes + 1)
		return -EINVAL;
	pthread_mutex_lock(&c->admin_lock);
	unsigned qid = 0;
	for (unsigned i = 1; i <= c->nr_ioqs && !qid; i++)
		if (!c->qid_used[i])
			qid = i;
	if (qid)
		c->qid_used[qid] = true;
	pthread_mutex_unlock(&c->admin_lock);
	if (!qid)
		return -ENOSPC;
	struct nvme_ioq *q;
	int rc = queue_alloc(c, (uint16_t)qid, depth, &q);
	if (rc)
		goto fail;
	struct nvme_sqe cmd = { .opc = NVME_ADM_CREATE_CQ, .prp1 = cq_iova(q) };
	cmd.cdw10 = (depth - 1) << 16 | qid;
	cmd.cdw11 = NVME_QUEUE_PC | (c->irq ? NVME_CQ_IEN | qid << 16 : 0);
	rc = nvme_admin(c, &cmd, NULL, 0, NULL);
	if (rc)
		goto fail_q;
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_CREATE_SQ, .prp1 = sq_iova(q) };
	cmd.cdw10 = (depth - 1) << 16 | qid;
	cmd.cdw11 = qid << 16 | NVME_QUEUE_PC;
	rc = nvme_admin(c, &cmd, NULL, 0, NULL);
	if (rc) {
		struct nvme_sqe del = { .opc = NVME_ADM_DELETE_CQ, .cdw10 = qid };
		(void)nvme_admin(c, &del, NULL, 0, NULL);
		goto fail_q;
	}
	*out = q;
	return 0;
fail_q:
	queue_free(q);
fail:
	pthread_mutex_lock(&c->admin_lock);
	c->qid_used[qid] = false;
	pthread_mutex_unlock(&c->admin_lock);
	return rc;
}

int nvme_ioq_delete(struct nvme_ioq *q)
{
	if (!q)
		return 0;
	struct nvme_ctrl *c = q->c;
	int rc = 0;
	if (q->gen == c->gen) { /* still known to the controller: SQ first (5.6) */
		struct nvme_sqe cmd = { .opc = NVME_ADM_DELETE_SQ, .cdw10 = q->qid };
		rc = nvme_admin(c, &cmd, NULL, 0, NULL);
		cmd = (struct nvme_sqe){ .opc = NVME_ADM_DELETE_CQ, .cdw10 = q->qid };
		int rc2 = nvme_admin(c, &cmd, NULL, 0, NULL);
		if (!rc)
			rc = rc2;
		pthread_mutex_lock(&c->admin_lock);
		c->qid_used[q->qid] = false;
		pthread_mutex_unlock(&c->admin_lock);
	}
	queue_free(q);
	return rc;
}

/* ---- accessors ------------------------------------------------------------ */
udd_dev_t *nvme_dev(struct nvme_ctrl *c) { return c->dev; }
const struct nvme_id_ctrl *nvme_id(const struct nvme_ctrl *c) { return &c->id; }
const struct nvme_id_ns *nvme_ns(const struct nvme_ctrl *c) { return &c->ns; }
uint64_t nvme_ns_blocks(const struct nvme_ctrl *c) { return c->ns.nsze; }
uint32_t nvme_lba_size(const struct nvme_ctrl *c) { return c->lba_size; }
uint32_t nvme_max_xfer(const struct nvme_ctrl *c) { return c->max_xfer; }
uint64_t nvme_cap(const struct nvme_ctrl *c) { return c->cap; }
uint32_t nvme_csts(struct nvme_ctrl *c) { return rd32(c, NVME_REG_CSTS); }
unsigned nvme_nr_ioqs(const struct nvme_ctrl *c) { return c->nr_ioqs; }
uint16_t nvme_ioq_id(const struct nvme_ioq *q) { return q->qid; }
uint32_t nvme_ioq_inflight(const struct nvme_ioq *q) { return q->inflight; }

const char *nvme_status_str(int st)
{
	static _Thread_local char buf[32];
	if (st < 0)
		return strerror(-st);
	switch (st) {
	case 0x000: return "Successful Completion";
	case 0x001: return "Invalid Command Opcode";
	case 0x002: return "Invalid Field in Command";
	case 0x004: return "Data Transfer Error";
	case 0x006: return "Internal Error";
	case 0x00b: return "Invalid Namespace or Format";
	case 0x00c: return "Command Sequence Error";
	case 0x013: return "Invalid PRP Offset";
	case 0x080: return "LBA Out of Range";
	case 0x100: return "Completion Queue Invalid";
	case 0x101: return "Invalid Queue Identifier";
	case 0x102: return "Invalid Queue Size";
	case 0x105: return "Asynchronous Event Request Limit Exceeded";
	case 0x108: return "Invalid Interrupt Vector";
	case 0x109: return "Invalid Log Page";
	case 0x10c: return "Invalid Queue Deletion";
	}
	snprintf(buf, sizeof(buf), "status sct %d sc %#x", st >> 8, st & 0xff);
	return buf;
}
