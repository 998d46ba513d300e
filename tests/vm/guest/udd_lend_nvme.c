/* SPDX-License-Identifier: MIT */
/*
 * Guest test of the lender (udd-sim --lend-only, src/sim/lend_vfio.c) on QEMU's
 * nvme controller (1b36:0010) bound to vfio-pci behind intel-iommu:
 *
 *  1. two processes share the controller. A borrows it shared, brings the
 *     controller up (CC.EN, admin queue, Identify controller and namespace)
 *     and creates its own I/O queue pair. B (another process, also a shared
 *     borrower) puts an I/O SQ and CQ in its own DMA windows (so in its own
 *     16 MiB IOVA slot) and sends A their IOVAs over a socketpair; A checks
 *     that a reset is refused while B shares the device (-EBUSY), creates the
 *     pair with a queue id for B (Create I/O CQ/SQ) and replies with the qid
 *     and the doorbell offsets. B writes a pattern to LBAs and reads it back
 *     through its own queues, polling its CQ (no interrupts), more commands
 *     than the queue has entries (the queues wrap, the phase flips). A does
 *     its own I/O meanwhile and afterwards reads B's LBAs through its own
 *     queue: B's data is on the medium. Then A deletes B's queues.
 *  2. kill -9 of an exclusive borrower with a stream of reads in flight (it
 *     keeps 8 reads outstanding on its own queue pair): the lender resets the
 *     controller after its last borrower (VFIO_DEVICE_RESET: QEMU's nvme has
 *     one), so the next borrower finds CC.EN=0 and CSTS.RDY=0, and brings the
 *     controller up again and identifies it.
 *
 * The NVMe helper below is this test's own (NVM Express Base Specification
 * 1.4; section numbers at each definition). Needs /bin/udd-sim and /bin/udd
 * (build-extras.sh). Linked with libudd.a.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#if __has_include("udd/udd.h")
#include "udd/udd.h"

/* ---- NVMe (NVM Express Base Specification 1.4) ---------------------------- */

/* 3.1 Register definition (BAR0). */
#define NVME_CAP 0x00   /* 3.1.1: MQES 15:0, TO 31:24 (500 ms units), DSTRD 35:32 */
#define NVME_VS 0x08    /* 3.1.2 */
#define NVME_CC 0x14    /* 3.1.5 */
#define NVME_CSTS 0x1c  /* 3.1.6 */
#define NVME_AQA 0x24   /* 3.1.8: ACQS 27:16, ASQS 11:0 (0's based) */
#define NVME_ASQ 0x28   /* 3.1.9 */
#define NVME_ACQ 0x30   /* 3.1.10 */
#define NVME_DBS 0x1000 /* 3.1.24/25: SQyTDBL at 0x1000 + 2y*(4<<DSTRD), CQyHDBL +(2y+1) */
#define NVME_CC_EN 0x1u
#define NVME_CC_IOSQES(n) ((uint32_t)(n) << 16) /* log2 of the SQE size: 6 */
#define NVME_CC_IOCQES(n) ((uint32_t)(n) << 20) /* log2 of the CQE size: 4 */
#define NVME_CSTS_RDY 0x1u
#define NVME_CSTS_CFS 0x2u

/* 5 Admin command set; 6 NVM command set. */
#define NVME_ADM_DELETE_SQ 0x00 /* 5.6 */
#define NVME_ADM_CREATE_SQ 0x01 /* 5.4 */
#define NVME_ADM_DELETE_CQ 0x04 /* 5.5 */
#define NVME_ADM_CREATE_CQ 0x05 /* 5.3 */
#define NVME_ADM_IDENTIFY 0x06  /* 5.15 */
#define NVME_CMD_WRITE 0x01     /* 6.15 */
#define NVME_CMD_READ 0x02      /* 6.9 */

/* 4.2 Submission queue entry (64 bytes). */
struct nvme_sqe {
	uint8_t opc;
	uint8_t flags; /* FUSE 1:0, PSDT 7:6 (0: PRPs) */
	uint16_t cid;
	uint32_t nsid;
	uint32_t cdw2, cdw3;
	uint64_t mptr;
	uint64_t prp1, prp2;
	uint32_t cdw10, cdw11, cdw12, cdw13, cdw14, cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "4.2: SQE is 64 bytes");
_Static_assert(offsetof(struct nvme_sqe, nsid) == 4, "4.2: NSID at DW1");
_Static_assert(offsetof(struct nvme_sqe, mptr) == 16, "4.2: MPTR at DW4");
_Static_assert(offsetof(struct nvme_sqe, prp1) == 24, "4.2: PRP1 at DW6");
_Static_assert(offsetof(struct nvme_sqe, cdw10) == 40, "4.2: CDW10 at DW10");

/* 4.6 Completion queue entry (16 bytes). */
struct nvme_cqe {
	uint32_t dw0, dw1;
	uint16_t sqhd, sqid;
	uint16_t cid;
	uint16_t status; /* P bit 0, SC 8:1, SCT 11:9 (4.6.1) */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "4.6: CQE is 16 bytes");
_Static_assert(offsetof(struct nvme_cqe, sqhd) == 8, "4.6: SQHD at DW2");
_Static_assert(offsetof(struct nvme_cqe, cid) == 12, "4.6: CID at DW3");

/* A queue pair in DMA memory, polled. */
struct nq {
	struct nvme_sqe *sq;
	volatile struct nvme_cqe *cq;
	uint16_t qid, depth, sq_tail, cq_head, cid;
	uint8_t phase;
	uint32_t sq_db, cq_db; /* BAR0 offsets */
};

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void pause_us(long us)
{
	struct timespec ts = { 0, us * 1000 };
	nanosleep(&ts, NULL);
}

static uint32_t db_sq(unsigned dstrd, unsigned qid)
{
	return NVME_DBS + (2u * qid) * (4u << dstrd);
}

static uint32_t db_cq(unsigned dstrd, unsigned qid)
{
	return NVME_DBS + (2u * qid + 1u) * (4u << dstrd);
}

static void nq_init(struct nq *q, unsigned dstrd, uint16_t qid, uint16_t depth, void *sq,
		    void *cq)
{
	memset(q, 0, sizeof(*q));
	q->sq = sq;
	q->cq = cq;
	q->qid = qid;
	q->depth = depth;
	q->phase = 1;
	q->sq_db = db_sq(dstrd, qid);
	q->cq_db = db_cq(dstrd, qid);
	memset(sq, 0, (size_t)depth * sizeof(struct nvme_sqe));
	memset(cq, 0, (size_t)depth * sizeof(struct nvme_cqe));
}

/* Queue @e (its CID is set here; returned) and ring the SQ tail doorbell. */
static uint16_t nq_submit(udd_acc_t *bar, struct nq *q, struct nvme_sqe *e)
{
	e->cid = ++q->cid;
	q->sq[q->sq_tail] = *e;
	q->sq_tail = (uint16_t)((q->sq_tail + 1) % q->depth);
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* the entry before the doorbell */
	udd_put32(bar, q->sq_db, q->sq_tail);
	return e->cid;
}

/* The next completion (deadline @secs), consumed and its head doorbell rung.
 * 0 or -ETIMEDOUT. */
static int nq_reap(udd_acc_t *bar, struct nq *q, struct nvme_cqe *out, double secs)
{
	double end = now() + secs;
	volatile struct nvme_cqe *c = &q->cq[q->cq_head];
	while ((c->status & 1u) != q->phase) {
		if (now() > end)
			return -ETIMEDOUT;
		pause_us(100);
	}
	__atomic_thread_fence(__ATOMIC_ACQUIRE);
	out->dw0 = c->dw0;
	out->sqhd = c->sqhd;
	out->sqid = c->sqid;
	out->cid = c->cid;
	out->status = c->status;
	if (++q->cq_head == q->depth) {
		q->cq_head = 0;
		q->phase ^= 1u;
	}
	udd_put32(bar, q->cq_db, q->cq_head);
	return 0;
}

/* Submit @e and wait for its completion: the status code (SCT<<8|SC, 0 is
 * success), or -errno. */
static int nq_cmd(udd_acc_t *bar, struct nq *q, struct nvme_sqe *e)
{
	uint16_t cid = nq_submit(bar, q, e);
	struct nvme_cqe c;
	int rc = nq_reap(bar, q, &c, 20);
	if (rc)
		return rc;
	if (c.cid != cid)
		return -EPROTO;
	return (c.status >> 1) & 0x7ff;
}

static int wait_rdy(udd_acc_t *bar, uint32_t rdy, double secs)
{
	double end = now() + secs;
	while ((udd_get32(bar, NVME_CSTS) & NVME_CSTS_RDY) != rdy) {
		if (udd_get32(bar, NVME_CSTS) == UINT32_MAX || now() > end)
			return -ETIMEDOUT;
		pause_us(1000);
	}
	return 0;
}

/* 7.6.1 Initialization: disable, admin queue, enable. */
static int ctrl_enable(udd_acc_t *bar, struct nq *adm, void *sq, uint64_t sq_iova, void *cq,
		       uint64_t cq_iova, uint16_t depth)
{
	uint64_t cap = udd_get64(bar, NVME_CAP);
	unsigned dstrd = (unsigned)((cap >> 32) & 0xf);
	double to = ((cap >> 24) & 0xff) * 0.5 + 1;
	if (to > 20)
		to = 20;
	udd_put32(bar, NVME_CC, 0);
	int rc = wait_rdy(bar, 0, to);
	if (rc)
		return rc;
	nq_init(adm, dstrd, 0, depth, sq, cq);
	udd_put32(bar, NVME_AQA, (uint32_t)(depth - 1) << 16 | (uint32_t)(depth - 1));
	udd_put64(bar, NVME_ASQ, sq_iova);
	udd_put64(bar, NVME_ACQ, cq_iova);
	udd_put32(bar, NVME_CC, NVME_CC_EN | NVME_CC_IOSQES(6) | NVME_CC_IOCQES(4));
	return wait_rdy(bar, 1, to);
}

/* 5.15: Identify with CNS @cns into the page at @iova. */
static int identify(udd_acc_t *bar, struct nq *adm, uint32_t cns, uint32_t nsid, uint64_t iova)
{
	struct nvme_sqe e = { .opc = NVME_ADM_IDENTIFY, .nsid = nsid, .prp1 = iova, .cdw10 = cns };
	return nq_cmd(bar, adm, &e);
}

/* 5.3 / 5.4: an I/O CQ (polled: IEN=0, physically contiguous) and its SQ. */
static int create_pair(udd_acc_t *bar, struct nq *adm, uint16_t qid, uint16_t depth,
		       uint64_t sq_iova, uint64_t cq_iova)
{
	struct nvme_sqe e = { .opc = NVME_ADM_CREATE_CQ, .prp1 = cq_iova,
			      .cdw10 = (uint32_t)(depth - 1) << 16 | qid, .cdw11 = 0x1 /* PC */ };
	int rc = nq_cmd(bar, adm, &e);
	if (rc)
		return rc;
	struct nvme_sqe s = { .opc = NVME_ADM_CREATE_SQ, .prp1 = sq_iova,
			      .cdw10 = (uint32_t)(depth - 1) << 16 | qid,
			      .cdw11 = (uint32_t)qid << 16 | 0x1 /* CQID, PC */ };
	return nq_cmd(bar, adm, &s);
}

/* 5.6 / 5.5: delete an I/O SQ, then its CQ. */
static int delete_pair(udd_acc_t *bar, struct nq *adm, uint16_t qid)
{
	struct nvme_sqe s = { .opc = NVME_ADM_DELETE_SQ, .cdw10 = qid };
	int rc = nq_cmd(bar, adm, &s);
	if (rc)
		return rc;
	struct nvme_sqe c = { .opc = NVME_ADM_DELETE_CQ, .cdw10 = qid };
	return nq_cmd(bar, adm, &c);
}

/* 6.9 / 6.15: one page (@nlb blocks) at @slba from/to the page at @iova. */
static void rw_sqe(struct nvme_sqe *e, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
		   uint64_t iova)
{
	memset(e, 0, sizeof(*e));
	e->opc = opc;
	e->nsid = nsid;
	e->prp1 = iova;
	e->cdw10 = (uint32_t)slba;
	e->cdw11 = (uint32_t)(slba >> 32);
	e->cdw12 = nlb - 1; /* NLB, 0's based */
}

/* ---- the test ------------------------------------------------------------ */

#define RT "/tmp/lendn"
#define PAGE 4096u
#define IOQ_DEPTH 16
#define B_ROUNDS 20    /* write+read rounds of B: 40 commands, > IOQ_DEPTH */
#define B_LBA_PAGE 16  /* B's first page-sized block group (A uses page 0) */

static const char *bdf;

/* B -> A: where B's queues are. */
struct b_req {
	uint32_t magic;
	uint16_t depth, pad;
	uint64_t sq_iova, cq_iova;
};
/* A -> B: the queue pair it created for B. */
struct a_rep {
	int32_t status; /* 0, NVMe status (> 0) or -errno */
	uint16_t qid, dstrd;
	uint32_t sq_db, cq_db;
	uint32_t nsid, lba_bytes;
	uint64_t nsze;
};
/* B -> A: done (rounds verified); A -> B: queues deleted. */
struct b_done {
	uint32_t magic;
	int32_t ok_rounds;
};
#define B_MAGIC 0x42514e56u

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	if (level <= UDD_LOG_WARN)
		fprintf(stderr, "  [udd %d] %s\n", level, msg);
}

static int open_ctx(udd_ctx_t **ctx)
{
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_VFIO, .log_cb = log_cb,
			     .log_level = UDD_LOG_WARN };
	return udd_ctx_open(ctx, &o);
}

static int find_nvme(udd_ctx_t *ctx, udd_fdid_t *id)
{
	udd_filter_t f = { .vendor_id = 0x1b36, .device_id = 0x0010 };
	udd_fdid_t ids[8];
	int n = udd_pool_list(ctx, &f, ids, 8);
	for (int i = 0; i < n && i < 8; i++) {
		udd_dev_info_t info;
		if (udd_pool_info(ctx, ids[i], &info) == 0 &&
		    strcmp(info.backend, "vfio-user") == 0) {
			*id = ids[i];
			return 0;
		}
	}
	return n < 0 ? n : -ENOENT;
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), fmt, arg);
	printf("$ %s\n", cmd);
	fflush(stdout);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static void fill(uint8_t *p, unsigned round, uint8_t who)
{
	for (unsigned i = 0; i < PAGE; i++)
		p[i] = (uint8_t)(i * 7 + round * 13 + who);
}

static int sock_deadline(int fd, int secs)
{
	struct timeval tv = { .tv_sec = secs };
	if (setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) ||
	    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)))
		return -errno;
	return 0;
}

static int msg_recv(int fd, void *buf, size_t len)
{
	ssize_t n = recv(fd, buf, len, 0);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EPROTO;
}

static int msg_send(int fd, const void *buf, size_t len)
{
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
	return n == (ssize_t)len ? 0 : n < 0 ? -errno : -EPROTO;
}

/* Process B: a shared borrower whose I/O queues A creates. */
static int proc_b(int sock)
{
	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev;
	udd_acc_t *bar;
	udd_mem_t *mem;
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	REQUIRE_OK(sock_deadline(sock, 60));
	REQUIRE_OK(open_ctx(&ctx));
	REQUIRE_OK(find_nvme(ctx, &id));
	REQUIRE_OK(udd_dev_borrow(ctx, id, 0 /* shared */, &dev));
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0x2000, &attr, &bar));
	CHECK(udd_acc_is_direct(bar));
	/* SQ, CQ, write page, read page: in B's own windows */
	REQUIRE_OK(udd_mem_alloc(ctx, 4 * PAGE, &mem));
	uint8_t *m = udd_mem_ptr(mem);
	REQUIRE_OK(udd_dma_map(dev, mem, 0, 4 * PAGE, NULL, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova,
			       &dma));
	printf("B: pid %d, shared borrow, BAR0 %s, queue memory at iova 0x%" PRIx64 "\n",
	       (int)getpid(), udd_acc_is_direct(bar) ? "direct" : "trapped", iova);
	fflush(stdout);
	struct b_req rq = { .magic = B_MAGIC, .depth = IOQ_DEPTH, .sq_iova = iova,
			    .cq_iova = iova + PAGE };
	REQUIRE_OK(msg_send(sock, &rq, sizeof(rq)));
	struct a_rep rp;
	REQUIRE_OK(msg_recv(sock, &rp, sizeof(rp)));
	printf("B: A created qid %u (SQ doorbell 0x%x, CQ doorbell 0x%x), status %d\n", rp.qid,
	       rp.sq_db, rp.cq_db, rp.status);
	fflush(stdout);
	REQUIRE(rp.status == 0 && rp.lba_bytes >= 512 && rp.lba_bytes <= PAGE);
	struct nq q;
	nq_init(&q, rp.dstrd, rp.qid, IOQ_DEPTH, m, m + PAGE);
	CHECK_EQ(q.sq_db, rp.sq_db);
	CHECK_EQ(q.cq_db, rp.cq_db);
	uint32_t nlb = PAGE / rp.lba_bytes;
	uint8_t *w = m + 2 * PAGE, *r = m + 3 * PAGE;
	int ok = 0;
	for (unsigned i = 0; i < B_ROUNDS; i++) {
		uint64_t slba = (uint64_t)(B_LBA_PAGE + i) * nlb;
		struct nvme_sqe e;
		fill(w, i, 0xb0);
		memset(r, 0, PAGE);
		rw_sqe(&e, NVME_CMD_WRITE, rp.nsid, slba, nlb, iova + 2 * PAGE);
		int rc = nq_cmd(bar, &q, &e);
		if (rc == 0) {
			rw_sqe(&e, NVME_CMD_READ, rp.nsid, slba, nlb, iova + 3 * PAGE);
			rc = nq_cmd(bar, &q, &e);
		}
		if (rc) {
			printf("B: round %u (lba %" PRIu64 "): %d\n", i, slba, rc);
			CHECK_EQ(rc, 0);
			break;
		}
		CHECK(memcmp(w, r, PAGE) == 0);
		ok += memcmp(w, r, PAGE) == 0;
	}
	printf("B: %d of %d write+read rounds verified (lba %u..%u, through qid %u, polled)\n", ok,
	       B_ROUNDS, B_LBA_PAGE * nlb, (B_LBA_PAGE + B_ROUNDS) * nlb - 1, rp.qid);
	fflush(stdout);
	struct b_done dn = { .magic = B_MAGIC, .ok_rounds = ok };
	REQUIRE_OK(msg_send(sock, &dn, sizeof(dn)));
	/* keep the queue memory until A deleted the queues */
	CHECK_EQ(msg_recv(sock, &dn, sizeof(dn)), 0);
	udd_dma_unmap(dma);
	udd_mem_free(mem);
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	return t_done("udd_lend_nvme (B)");
}

/* A's DMA memory: admin SQ, admin CQ, identify page, I/O SQ, I/O CQ, data. */
enum { A_ASQ, A_ACQ, A_ID, A_SQ, A_CQ, A_DATA, A_PAGES };

static void phase_two_processes(void)
{
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) == 0);
	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev;
	udd_acc_t *bar;
	udd_mem_t *mem;
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	REQUIRE_OK(open_ctx(&ctx));
	REQUIRE_OK(find_nvme(ctx, &id));
	REQUIRE_OK(udd_dev_borrow(ctx, id, 0 /* shared */, &dev));
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0x2000, &attr, &bar));
	REQUIRE_OK(udd_mem_alloc(ctx, A_PAGES * PAGE, &mem));
	uint8_t *m = udd_mem_ptr(mem);
	REQUIRE_OK(udd_dma_map(dev, mem, 0, A_PAGES * PAGE, NULL,
			       UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova, &dma));
#define AP(i) (m + (size_t)(i) * PAGE)
#define AI(i) (iova + (uint64_t)(i) * PAGE)
	printf("A: pid %d, shared borrow, BAR0 %s, memory at iova 0x%" PRIx64 "\n", (int)getpid(),
	       udd_acc_is_direct(bar) ? "direct" : "trapped", iova);
	uint64_t cap = udd_get64(bar, NVME_CAP);
	unsigned dstrd = (unsigned)((cap >> 32) & 0xf);
	printf("A: CAP 0x%016" PRIx64 " VS 0x%08x CSTS 0x%x\n", cap, udd_get32(bar, NVME_VS),
	       udd_get32(bar, NVME_CSTS));
	struct nq adm, q;
	REQUIRE_OK(ctrl_enable(bar, &adm, AP(A_ASQ), AI(A_ASQ), AP(A_ACQ), AI(A_ACQ), 8));
	printf("A: controller enabled: CC 0x%08x CSTS 0x%x\n", udd_get32(bar, NVME_CC),
	       udd_get32(bar, NVME_CSTS));
	/* Identify controller (5.15.2.1): PCI vendor id at 0, serial at 4..23 */
	REQUIRE_OK(identify(bar, &adm, 1, 0, AI(A_ID)));
	uint8_t *idc = AP(A_ID);
	char sn[21];
	memcpy(sn, idc + 4, 20);
	sn[20] = '\0';
	for (int i = 19; i >= 0 && sn[i] == ' '; i--)
		sn[i] = '\0';
	printf("A: identify controller: vid %04x sn '%s' mn '%.16s'\n", idc[0] | idc[1] << 8, sn,
	       (const char *)idc + 24);
	CHECK_EQ(idc[0] | idc[1] << 8, 0x1b36);
	CHECK(strcmp(sn, "udd0") == 0);
	/* Identify namespace 1 (5.15.2.3): NSZE, FLBAS, LBAF[].LBADS */
	memset(AP(A_ID), 0, PAGE);
	REQUIRE_OK(identify(bar, &adm, 0, 1, AI(A_ID)));
	uint64_t nsze;
	memcpy(&nsze, idc, 8);
	uint32_t lbaf;
	memcpy(&lbaf, idc + 128 + 4 * (idc[26] & 0xf), 4);
	uint32_t lba_bytes = 1u << ((lbaf >> 16) & 0xff);
	printf("A: namespace 1: %" PRIu64 " blocks of %u bytes\n", nsze, lba_bytes);
	REQUIRE(lba_bytes >= 512 && lba_bytes <= PAGE);
	uint32_t nlb = PAGE / lba_bytes;
	REQUIRE(nsze >= (uint64_t)(B_LBA_PAGE + B_ROUNDS) * nlb);

	/* A's own I/O queue pair, qid 1 */
	REQUIRE_OK(create_pair(bar, &adm, 1, IOQ_DEPTH, AI(A_SQ), AI(A_CQ)));
	nq_init(&q, dstrd, 1, IOQ_DEPTH, AP(A_SQ), AP(A_CQ));

	pid_t b = fork();
	if (b == 0) {
		close(sv[0]);
		char arg[16];
		snprintf(arg, sizeof(arg), "%d", sv[1]);
		int fl = fcntl(sv[1], F_GETFD);
		fcntl(sv[1], F_SETFD, fl & ~FD_CLOEXEC);
		execl("/proc/self/exe", "udd_lend_nvme", "b", arg, (char *)NULL);
		_exit(127);
	}
	REQUIRE(b > 0);
	close(sv[1]);
	int s = sv[0];
	REQUIRE_OK(sock_deadline(s, 60));
	struct b_req rq;
	REQUIRE_OK(msg_recv(s, &rq, sizeof(rq)));
	REQUIRE(rq.magic == B_MAGIC && rq.depth >= 2 && rq.depth <= IOQ_DEPTH);
	printf("A: B asks for a queue pair: SQ at iova 0x%" PRIx64 ", CQ at 0x%" PRIx64 "\n",
	       rq.sq_iova, rq.cq_iova);
	CHECK(rq.sq_iova / (16u << 20) != iova / (16u << 20)); /* B's own IOVA slot */

	/* B shares the device: a reset is refused */
	int rc = udd_dev_reset(dev);
	printf("A: udd_dev_reset while B shares the controller: %d (%s)\n", rc, strerror(-rc));
	CHECK_EQ(rc, -EBUSY);

	struct a_rep rp = { .qid = 2, .dstrd = (uint16_t)dstrd, .sq_db = db_sq(dstrd, 2),
			    .cq_db = db_cq(dstrd, 2), .nsid = 1, .lba_bytes = lba_bytes,
			    .nsze = nsze };
	rp.status = create_pair(bar, &adm, rp.qid, rq.depth, rq.sq_iova, rq.cq_iova);
	printf("A: Create I/O CQ/SQ qid %u for B: status %d\n", rp.qid, rp.status);
	CHECK_EQ(rp.status, 0);
	REQUIRE_OK(msg_send(s, &rp, sizeof(rp)));

	/* A's own I/O meanwhile: page 0 .. 7 */
	int aok = 0;
	for (unsigned i = 0; i < 8; i++) {
		struct nvme_sqe e;
		fill(AP(A_DATA), i, 0xa0);
		rw_sqe(&e, NVME_CMD_WRITE, 1, (uint64_t)i * nlb, nlb, AI(A_DATA));
		int wrc = nq_cmd(bar, &q, &e);
		memset(AP(A_DATA), 0, PAGE);
		rw_sqe(&e, NVME_CMD_READ, 1, (uint64_t)i * nlb, nlb, AI(A_DATA));
		int rrc = wrc ? wrc : nq_cmd(bar, &q, &e);
		uint8_t want[PAGE];
		fill(want, i, 0xa0);
		CHECK_EQ(rrc, 0);
		aok += rrc == 0 && memcmp(want, AP(A_DATA), PAGE) == 0;
	}
	printf("A: %d of 8 write+read rounds verified (through qid 1, polled)\n", aok);
	CHECK_EQ(aok, 8);

	struct b_done dn;
	REQUIRE_OK(msg_recv(s, &dn, sizeof(dn)));
	CHECK_EQ(dn.ok_rounds, B_ROUNDS);
	/* B's data is on the medium: A reads B's blocks through its own queue */
	int bok = 0;
	for (unsigned i = 0; i < B_ROUNDS; i++) {
		struct nvme_sqe e;
		uint8_t want[PAGE];
		memset(AP(A_DATA), 0, PAGE);
		rw_sqe(&e, NVME_CMD_READ, 1, (uint64_t)(B_LBA_PAGE + i) * nlb, nlb, AI(A_DATA));
		fill(want, i, 0xb0);
		bok += nq_cmd(bar, &q, &e) == 0 && memcmp(want, AP(A_DATA), PAGE) == 0;
	}
	printf("A: reads B's %d pages through qid 1: %d hold B's pattern\n", B_ROUNDS, bok);
	CHECK_EQ(bok, B_ROUNDS);
	rc = delete_pair(bar, &adm, rp.qid);
	printf("A: Delete I/O SQ/CQ qid %u: status %d\n", rp.qid, rc);
	CHECK_EQ(rc, 0);
	CHECK_EQ(msg_send(s, &dn, sizeof(dn)), 0);
	int st = 0;
	double end = now() + 60;
	pid_t w;
	while ((w = waitpid(b, &st, WNOHANG)) == 0 && now() < end)
		pause_us(10000);
	if (w == 0) {
		kill(b, SIGKILL);
		waitpid(b, &st, 0);
	}
	printf("A: B exited: %s %d\n", WIFEXITED(st) ? "status" : "signal",
	       WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	close(s);
	/* A leaves the controller enabled: the lender resets it after its last
	 * borrower (checked by the next phase's first borrower) */
	CHECK(udd_get32(bar, NVME_CSTS) & NVME_CSTS_RDY);
	udd_dma_unmap(dma);
	udd_mem_free(mem);
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
#undef AP
#undef AI
}

/* The victim: exclusive, reports CSTS at borrow time, keeps 8 reads in
 * flight until killed (at most 60 s). */
static int proc_victim(void)
{
	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev;
	udd_acc_t *bar;
	udd_mem_t *mem;
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	if (open_ctx(&ctx) || find_nvme(ctx, &id) ||
	    udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev) ||
	    udd_regs_map_bar(dev, 0, 0, 0x2000, &attr, &bar) ||
	    udd_mem_alloc(ctx, 16 * PAGE, &mem) ||
	    udd_dma_map(dev, mem, 0, 16 * PAGE, NULL, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova,
			&dma))
		return 1;
	uint8_t *m = udd_mem_ptr(mem);
	printf("victim: CC 0x%08x CSTS 0x%x at borrow\n", udd_get32(bar, NVME_CC),
	       udd_get32(bar, NVME_CSTS));
	fflush(stdout);
	uint64_t cap = udd_get64(bar, NVME_CAP);
	struct nq adm, q;
	if (ctrl_enable(bar, &adm, m, iova, m + PAGE, iova + PAGE, 8) ||
	    create_pair(bar, &adm, 1, IOQ_DEPTH, iova + 2 * PAGE, iova + 3 * PAGE))
		return 2;
	nq_init(&q, (unsigned)((cap >> 32) & 0xf), 1, IOQ_DEPTH, m + 2 * PAGE, m + 3 * PAGE);
	struct nvme_sqe e;
	for (unsigned i = 0; i < 8; i++) {
		rw_sqe(&e, NVME_CMD_READ, 1, i, 1, iova + (4 + i) * (uint64_t)PAGE);
		nq_submit(bar, &q, &e);
	}
	double end = now() + 60;
	for (unsigned done = 0; now() < end;) {
		struct nvme_cqe c;
		if (nq_reap(bar, &q, &c, 20))
			return 3;
		if (++done == 100) {
			printf("RUNNING CC 0x%08x CSTS 0x%x, 100 reads done, 8 in flight\n",
			       udd_get32(bar, NVME_CC), udd_get32(bar, NVME_CSTS));
			fflush(stdout);
		}
		unsigned slot = done % 8;
		rw_sqe(&e, NVME_CMD_READ, 1, slot, 1, iova + (4 + slot) * (uint64_t)PAGE);
		nq_submit(bar, &q, &e);
	}
	return 4;
}

static void phase_kill_exclusive(void)
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	pid_t c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl("/proc/self/exe", "udd_lend_nvme", "victim", (char *)NULL);
		_exit(127);
	}
	REQUIRE(c > 0);
	close(p[1]);
	char out[1024] = "";
	size_t got = 0;
	ssize_t n;
	struct timeval tv = { .tv_sec = 60 };
	fd_set rs;
	while (got + 1 < sizeof(out) && !strstr(out, "RUNNING")) {
		FD_ZERO(&rs);
		FD_SET(p[0], &rs);
		if (select(p[0] + 1, &rs, NULL, NULL, &tv) <= 0)
			break; /* tv counts down: 60 s in all */
		if ((n = read(p[0], out + got, sizeof(out) - 1 - got)) <= 0)
			break;
		got += (size_t)n;
		out[got] = '\0';
	}
	close(p[0]);
	printf("%s", out);
	unsigned vcc = 1, vcsts = 1;
	const char *at = strstr(out, "at borrow");
	CHECK(at && sscanf(strstr(out, "victim: "), "victim: CC 0x%x CSTS 0x%x", &vcc, &vcsts) == 2);
	printf("after the shared borrowers left: CC.EN=%u CSTS.RDY=%u\n", vcc & 1, vcsts & 1);
	CHECK_EQ(vcc & NVME_CC_EN, 0);
	CHECK_EQ(vcsts & NVME_CSTS_RDY, 0);
	bool running = strstr(out, "RUNNING") != NULL;
	printf("kill -9 %d (exclusive borrower, 8 reads in flight)\n", (int)c);
	kill(c, SIGKILL);
	int st;
	waitpid(c, &st, 0);
	REQUIRE(running);
	CHECK(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);

	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev = NULL;
	udd_acc_t *bar;
	udd_mem_t *mem;
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	REQUIRE_OK(open_ctx(&ctx));
	REQUIRE_OK(find_nvme(ctx, &id));
	int rc = -EBUSY;
	for (int i = 0; i < 100 && rc == -EBUSY; i++) {
		rc = udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev);
		if (rc == -EBUSY)
			pause_us(100000);
	}
	REQUIRE_OK(rc);
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0x2000, &attr, &bar));
	uint32_t cc = udd_get32(bar, NVME_CC), csts = udd_get32(bar, NVME_CSTS);
	printf("next borrower: CC 0x%08x CSTS 0x%x (CC.EN=%u CSTS.RDY=%u)\n", cc, csts,
	       cc & NVME_CC_EN, csts & NVME_CSTS_RDY);
	CHECK_EQ(cc & NVME_CC_EN, 0);
	CHECK_EQ(csts & NVME_CSTS_RDY, 0);
	CHECK_EQ(csts & NVME_CSTS_CFS, 0);
	REQUIRE_OK(udd_mem_alloc(ctx, 3 * PAGE, &mem));
	uint8_t *m = udd_mem_ptr(mem);
	REQUIRE_OK(udd_dma_map(dev, mem, 0, 3 * PAGE, NULL, UDD_DMA_F_READ | UDD_DMA_F_WRITE,
			       &iova, &dma));
	struct nq adm;
	REQUIRE_OK(ctrl_enable(bar, &adm, m, iova, m + PAGE, iova + PAGE, 8));
	rc = identify(bar, &adm, 1, 0, iova + 2 * PAGE);
	printf("next borrower: identify controller: status %d, vid %04x, sn '%.4s'\n", rc,
	       m[2 * PAGE] | m[2 * PAGE + 1] << 8, (const char *)m + 2 * PAGE + 4);
	CHECK_EQ(rc, 0);
	CHECK_EQ(m[2 * PAGE] | m[2 * PAGE + 1] << 8, 0x1b36);
	CHECK(memcmp(m + 2 * PAGE + 4, "udd0", 4) == 0);
	udd_put32(bar, NVME_CC, 0);
	CHECK_EQ(wait_rdy(bar, 0, 20), 0);
	udd_dma_unmap(dma);
	udd_mem_free(mem);
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
}

/* The lender's pid, from the control socket's `stats` (0 if unknown). */
static pid_t lender_pid(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sim/control.sock", RT);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	char q[64], out[512];
	size_t got = 0;
	snprintf(q, sizeof(q), "stats %s\n", bdf);
	if (sock_deadline(fd, 5) == 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    msg_send(fd, q, strlen(q)) == 0) {
		ssize_t n;
		while (got + 1 < sizeof(out) && !memchr(out, '\n', got) &&
		       (n = read(fd, out + got, sizeof(out) - 1 - got)) > 0)
			got += (size_t)n;
	}
	out[got] = '\0';
	close(fd);
	const char *lp = strstr(out, "lender=");
	return lp ? (pid_t)atoi(lp + 7) : 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "b") == 0)
		return proc_b(atoi(argv[2]));
	if (argc == 2 && strcmp(argv[1], "victim") == 0)
		return proc_victim();
	bdf = getenv("UDD_VM_NVME");
	REQUIRE(bdf != NULL);
	setenv("UDD_RUNTIME_DIR", RT, 1);
	mkdir(RT, 0700);
	signal(SIGPIPE, SIG_IGN);
	REQUIRE(sh("/bin/udd-sim -v --dir " RT " --lend-only --daemon 2>>/tmp/lendn.log%s", "") ==
		0);
	REQUIRE(sh("/bin/udd add %s", bdf) == 0);

	phase_two_processes();
	phase_kill_exclusive();

	CHECK_EQ(sh("grep -E 'VFIO_DEVICE_RESET after the last' /tmp/lendn.log%s", ""), 0);
	pid_t lender = lender_pid();
	CHECK_EQ(sh("/bin/udd remove %s", bdf), 0);
	if (lender > 1)
		kill(lender, SIGTERM); /* clean exit */
	pause_us(300000);
	if (t_failures)
		sh("cat /tmp/lendn.log%s", "");
	return t_done("udd_lend_nvme");
}
#else
int main(void)
{
	fprintf(stderr, "udd_lend_nvme: FAIL: built without libudd\n");
	return 1;
}
#endif
