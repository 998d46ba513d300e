/* SPDX-License-Identifier: MIT */
/*
 * The NVMe driver (examples/nvme, libudd_nvme) against an NVMe controller.
 * Target chosen at run time: by default the simulated controller of a
 * private embedded pool (udd-sim's nvme); with --pool, the first NVMe
 * controller of the default pool (real VFIO devices included), for example
 * QEMU's nvme in the guest suite. Checks that depend on the simulator
 * (model name, namespace persistence in its file) run only on it.
 *
 * Identify fields, queue creation/deletion and their errors, write/read
 * back across PRP lists (64 KiB and MDTS-sized, page-offset buffers), LBA
 * out of range, invalid namespace, invalid PRP offset, Flush, Write Zeroes,
 * Dataset Management, shutdown and re-enable, a function reset with I/O in
 * flight and recovery, a fatal doorbell and recovery, one queue per thread
 * with MSI-X, and data that survives the borrower returning the device.
 * No timed assertions: waits are bounded only to fail instead of hanging.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme.h"
#include "simenv.h"
#include "testlib.h"

static bool on_sim = true;

static void sim_sleep(long us)
{
	struct timespec ts = { 0, us * 1000 };
	nanosleep(&ts, NULL);
}
static udd_ctx_t *ctx;
static udd_fdid_t fdid;

static struct nvme_ctrl *open_ctrl(bool irq, unsigned nq)
{
	struct nvme_opts o = { .irq = irq, .nr_ioqs = nq };
	struct nvme_ctrl *c = NULL;
	int rc = nvme_open(ctx, fdid, &o, &c);
	if (rc) {
		fprintf(stderr, "nvme_open: %s\n", nvme_status_str(rc));
		exit(1);
	}
	return c;
}

static void fill(struct nvme_buf *b, size_t len, uint32_t seed)
{
	uint32_t *p = b->va;
	for (size_t i = 0; i < len / 4; i++)
		p[i] = seed ^ (uint32_t)(i * 2654435761u);
}

static void test_identify(struct nvme_ctrl *c)
{
	const struct nvme_id_ctrl *id = nvme_id(c);
	if (on_sim) {
		CHECK_EQ(id->vid, 0x1b36);
		CHECK(!memcmp(id->mn, "udd-sim NVMe Ctrl", 17));
		CHECK_EQ(id->ver, NVME_VS_1_4);
		CHECK_EQ(id->mdts, 6);
		CHECK_EQ(NVME_CAP_MQES(nvme_cap(c)), 2047);
		CHECK_EQ(nvme_ns_blocks(c), 131072);
	}
	CHECK(id->nn >= 1);
	CHECK_EQ(id->sqes & 0xf, 6);
	CHECK_EQ(id->cqes & 0xf, 4);
	CHECK(nvme_ns_blocks(c) > 1024);
	CHECK(nvme_lba_size(c) == 512 || nvme_lba_size(c) == 4096);
	CHECK(nvme_ns(c)->ncap <= nvme_ns(c)->nsze);
	CHECK(nvme_nr_ioqs(c) >= 1);

	/* active namespace list (CNS 02h) starts with namespace 1 */
	struct nvme_buf b;
	REQUIRE_OK(nvme_buf_alloc(c, 4096, &b));
	struct nvme_sqe cmd = { .opc = NVME_ADM_IDENTIFY, .cdw10 = NVME_CNS_NS_LIST };
	CHECK_EQ(nvme_admin(c, &cmd, &b, 4096, NULL), 0);
	CHECK_EQ(((uint32_t *)b.va)[0], 1);
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_IDENTIFY, .nsid = 0x7777, .cdw10 = NVME_CNS_NS };
	CHECK_EQ(nvme_admin(c, &cmd, &b, 4096, NULL), NVME_SC_INVALID_NS);
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_IDENTIFY, .cdw10 = 0x55 };
	CHECK_EQ(nvme_admin(c, &cmd, &b, 4096, NULL), NVME_SC_INVALID_FIELD);
	/* SMART log; an unknown log page */
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_GET_LOG_PAGE, .nsid = 0xffffffffu,
				 .cdw10 = NVME_LOG_SMART | (512 / 4 - 1) << 16 };
	CHECK_EQ(nvme_admin(c, &cmd, &b, 512, NULL), 0);
	CHECK(((struct nvme_smart_log *)b.va)->temperature > 200);
	/* Simulator only: NVMe 1.4 5.14 (Get Log Page) answers an unsupported log
	 * page with Invalid Log Page (command-specific 09h); QEMU's nvme answers Invalid Field (checked in
	 * the guest): the spec wins */
	if (on_sim) {
		cmd.cdw10 = 0x70 | (512 / 4 - 1) << 16;
		CHECK_EQ(nvme_admin(c, &cmd, &b, 512, NULL), NVME_STATUS(1, NVME_SC_INVALID_LOG_PAGE));
	}
	/* Get Features: Number of Queues, as granted */
	uint32_t dw0 = 0;
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_GET_FEATURES, .cdw10 = NVME_FEAT_NUM_QUEUES };
	CHECK_EQ(nvme_admin(c, &cmd, NULL, 0, &dw0), 0);
	CHECK((dw0 & 0xffff) + 1 >= nvme_nr_ioqs(c));
	cmd = (struct nvme_sqe){ .opc = 0x7f };
	CHECK_EQ(nvme_admin(c, &cmd, NULL, 0, NULL), NVME_SC_INVALID_OPCODE);
	nvme_buf_free(&b);
}

static void test_queues(struct nvme_ctrl *c)
{
	struct nvme_ioq *q;
	REQUIRE_OK(nvme_ioq_create(c, 16, &q));
	CHECK_EQ(nvme_ioq_id(q), 1);
	CHECK_EQ(nvme_ioq_delete(q), 0);
	REQUIRE_OK(nvme_ioq_create(c, 2, &q)); /* the smallest queue */
	CHECK_EQ(nvme_ioq_delete(q), 0);

	struct nvme_buf ring;
	REQUIRE_OK(nvme_buf_alloc(c, 4096, &ring));
	/* 5.3/5.4/5.5/5.6 errors */
	struct nvme_sqe cmd = { .opc = NVME_ADM_CREATE_CQ, .prp1 = ring.iova, .cdw10 = 15u << 16 | 0,
				.cdw11 = NVME_QUEUE_PC };
	CHECK_EQ(nvme_admin(c, &cmd, NULL, 0, NULL), NVME_STATUS(1, NVME_SC_INVALID_QID));
	cmd.cdw10 = 15u << 16 | 0xffff;
	CHECK_EQ(nvme_admin(c, &cmd, NULL, 0, NULL), NVME_STATUS(1, NVME_SC_INVALID_QID));
	cmd.cdw10 = (NVME_CAP_MQES(nvme_cap(c)) + 1) << 16 | 1; /* one entry too many */
	if (NVME_CAP_MQES(nvme_cap(c)) < 0xffff)
		CHECK_EQ(nvme_admin(c, &cmd, NULL, 0, NULL), NVME_STATUS(1, NVME_SC_INVALID_QSIZE));
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_CREATE_SQ, .prp1 = ring.iova, .cdw10 = 15u << 16 | 1,
				 .cdw11 = 9u << 16 | NVME_QUEUE_PC }; /* CQ 9 does not exist */
	CHECK_EQ(nvme_admin(c, &cmd, NULL, 0, NULL), NVME_STATUS(1, NVME_SC_CQ_INVALID));
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_DELETE_SQ, .cdw10 = 7 };
	CHECK_EQ(nvme_admin(c, &cmd, NULL, 0, NULL), NVME_STATUS(1, NVME_SC_INVALID_QID));
	/* NVMe 1.4 5.5 (Delete I/O Completion Queue, command-specific status 01h):
	 * Invalid Queue Identifier, as the simulator
	 * answers. QEMU's nvme (hw/nvme/ctrl.c, nvme_del_cq) answers Completion
	 * Queue Invalid instead: the spec wins, so the exact code is checked on
	 * the simulator only, and QEMU's is accepted elsewhere */
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_DELETE_CQ, .cdw10 = 0 };
	int st = nvme_admin(c, &cmd, NULL, 0, NULL);
	if (on_sim)
		CHECK_EQ(st, NVME_STATUS(1, NVME_SC_INVALID_QID));
	else
		CHECK(st == NVME_STATUS(1, NVME_SC_INVALID_QID) || st == NVME_STATUS(1, NVME_SC_CQ_INVALID));
	/* a CQ still used by an SQ cannot go */
	REQUIRE_OK(nvme_ioq_create(c, 8, &q));
	cmd = (struct nvme_sqe){ .opc = NVME_ADM_DELETE_CQ, .cdw10 = nvme_ioq_id(q) };
	CHECK_EQ(nvme_admin(c, &cmd, NULL, 0, NULL), NVME_STATUS(1, NVME_SC_INVALID_QUEUE_DELETION));
	CHECK_EQ(nvme_ioq_delete(q), 0);
	nvme_buf_free(&ring);
}

static int check_rw(struct nvme_ioq *q, struct nvme_buf *w, struct nvme_buf *r, size_t off,
		    uint64_t slba, size_t len, uint32_t seed, uint32_t lba)
{
	fill(w, w->size, seed);
	memset(r->va, 0xee, r->size);
	int rc = nvme_rw_sync(q, NVME_CMD_WRITE, 1, slba, (uint32_t)(len / lba), w, off);
	if (!rc)
		rc = nvme_rw_sync(q, NVME_CMD_READ, 1, slba, (uint32_t)(len / lba), r, off);
	if (rc)
		return rc;
	return memcmp((uint8_t *)w->va + off, (uint8_t *)r->va + off, len) ? -EILSEQ : 0;
}

/* The DMA fault notices the simulator sends (the vfio-user client logs each
 * one at debug level): the last one, through the context's log callback. */
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;
static char fault_msg[160];

static void fault_log(void *user, int level, const char *msg)
{
	(void)user, (void)level;
	if (!strstr(msg, "device DMA fault at"))
		return;
	pthread_mutex_lock(&fault_lock);
	snprintf(fault_msg, sizeof(fault_msg), "%s", strstr(msg, "device DMA fault at"));
	pthread_mutex_unlock(&fault_lock);
}

/* Wait (up to 5 s: the notice travels apart from the completion) for a
 * fault notice; true if the last one is @want. */
static bool fault_seen(const char *want)
{
	bool ok = false;
	for (unsigned i = 0; i < 5000 && !ok; i++) {
		pthread_mutex_lock(&fault_lock);
		ok = !strcmp(fault_msg, want);
		pthread_mutex_unlock(&fault_lock);
		if (!ok)
			sim_sleep(1000);
	}
	if (!ok)
		fprintf(stderr, "fault notice: '%s', expected '%s'\n", fault_msg, want);
	return ok;
}

/* Simulator only (QEMU's nvme behind an IOMMU reports nothing to the
 * driver): a data transfer that leaves the DMA windows is reported with its
 * real length and direction — the 1 KiB second page of a 5 KiB Read (the
 * device writes memory) and the 2 KiB of a Write (it reads memory). */
static void test_dma_faults(struct nvme_ioq *q, const struct nvme_buf *r)
{
	udd_ctx_set_log(ctx, fault_log, NULL, UDD_LOG_DEBUG);
	struct nvme_sqe cmd = { .opc = NVME_CMD_READ, .nsid = 1, .cdw12 = 5120 / 512 - 1,
				.prp1 = r->iova, .prp2 = 0 };
	CHECK_EQ(nvme_sync(q, &cmd, NULL, 0, 0, NULL), NVME_SC_DATA_XFER_ERROR);
	CHECK(fault_seen("device DMA fault at 0x0+0x400 (write)"));
	cmd = (struct nvme_sqe){ .opc = NVME_CMD_WRITE, .nsid = 1, .cdw12 = 2048 / 512 - 1,
				 .prp1 = 0 };
	CHECK_EQ(nvme_sync(q, &cmd, NULL, 0, 0, NULL), NVME_SC_DATA_XFER_ERROR);
	CHECK(fault_seen("device DMA fault at 0x0+0x800 (read)"));
	udd_ctx_set_log(ctx, NULL, NULL, 0);
}

static void test_io(struct nvme_ctrl *c)
{
	uint32_t lba = nvme_lba_size(c), mx = nvme_max_xfer(c);
	uint64_t nsze = nvme_ns_blocks(c);
	struct nvme_ioq *q;
	struct nvme_buf w, r;
	REQUIRE_OK(nvme_ioq_create(c, 32, &q));
	REQUIRE_OK(nvme_buf_alloc(c, (size_t)mx + 8192, &w));
	REQUIRE_OK(nvme_buf_alloc(c, (size_t)mx + 8192, &r));
	/* one page, two pages (PRP2 a page), 64 KiB (PRP list), at page
	 * offsets 0 and 512 (PRP1 with an offset: the list covers one more
	 * page), and the largest transfer (MDTS) */
	CHECK_EQ(check_rw(q, &w, &r, 0, 0, 4096, 1, lba), 0);
	CHECK_EQ(check_rw(q, &w, &r, 0, 64, 8192, 2, lba), 0);
	CHECK_EQ(check_rw(q, &w, &r, 0, 256, 65536, 3, lba), 0);
	CHECK_EQ(check_rw(q, &w, &r, 512, 1024, 65536, 4, lba), 0);
	CHECK_EQ(check_rw(q, &w, &r, 0, 4096, mx, 5, lba), 0);
	CHECK_EQ(check_rw(q, &w, &r, 512, nsze - mx / lba, mx, 6, lba), 0); /* the last blocks */

	/* errors: LBA out of range, invalid namespace, invalid PRP offset */
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 1, nsze - 1, 2, &r, 0), NVME_SC_LBA_RANGE);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 1, nsze, 1, &r, 0), NVME_SC_LBA_RANGE);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 1, ~0ull - 1, 4, &r, 0), NVME_SC_LBA_RANGE);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 0x4242, 0, 1, &r, 0), NVME_SC_INVALID_NS);
	/* Simulator only: PRP1 0 is a DMA outside the windows, which the guest's
	 * IOMMU would log as a DMAR fault (rate-limited, and vfio_smoke needs its
	 * own); QEMU's nvme ignores a PRP1 offset that is not dword aligned
	 * (checked in the guest), where NVMe 1.4 4.3 and the generic status PRP
	 * Offset Invalid (13h: "bits 1:0 are not cleared to 00b") side with the
	 * simulator */
	if (on_sim) {
		struct nvme_sqe cmd = { .opc = NVME_CMD_READ, .nsid = 1, .cdw12 = 15 };
		/* PRP1 0: outside every DMA window, a data transfer error */
		CHECK_EQ(nvme_sync(q, &cmd, NULL, 0, 0, NULL), NVME_SC_DATA_XFER_ERROR);
		cmd = (struct nvme_sqe){ .opc = NVME_CMD_READ, .nsid = 1, .cdw12 = 0,
					 .prp1 = r.iova + 2 };
		CHECK_EQ(nvme_sync(q, &cmd, NULL, 0, 0, NULL), NVME_SC_INVALID_PRP_OFFSET);
		cmd = (struct nvme_sqe){ .opc = NVME_CMD_READ, .nsid = 1, .cdw12 = 15,
					 .prp1 = r.iova, .prp2 = r.iova + 4096 + 8 };
		CHECK_EQ(nvme_sync(q, &cmd, NULL, 0, 0, NULL), NVME_SC_INVALID_PRP_OFFSET);
		cmd = (struct nvme_sqe){ .opc = 0x55, .nsid = 1 };
		CHECK_EQ(nvme_sync(q, &cmd, NULL, 0, 0, NULL), NVME_SC_INVALID_OPCODE);
		test_dma_faults(q, &r);
	}
	/* Flush */
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_FLUSH, 1, 0, 1, NULL, 0), 0);
	/* Write Zeroes over data, then read zeroes */
	CHECK_EQ(check_rw(q, &w, &r, 0, 2048, 16384, 7, lba), 0);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_WRITE_ZEROES, 1, 2048 + 8192 / lba, 8192 / lba, NULL, 0),
		 0);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 1, 2048, 16384 / lba, &r, 0), 0);
	CHECK(!memcmp(r.va, w.va, 8192));
	uint8_t zero[8192] = { 0 };
	CHECK(!memcmp((uint8_t *)r.va + 8192, zero, 8192));
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_WRITE_ZEROES, 1, nsze, 1, NULL, 0), NVME_SC_LBA_RANGE);
	/* Dataset Management: deallocate (the simulator reads zeroes after it) */
	CHECK_EQ(check_rw(q, &w, &r, 0, 3072, 8192, 8, lba), 0);
	struct nvme_dsm_range *rg = w.va;
	rg[0] = (struct nvme_dsm_range){ .nlb = 8192 / lba, .slba = 3072 };
	struct nvme_sqe cmd = { .opc = NVME_CMD_DSM, .nsid = 1, .cdw10 = 0, .cdw11 = NVME_DSM_AD };
	CHECK_EQ(nvme_sync(q, &cmd, &w, 0, 16, NULL), 0);
	/* Simulator only: deallocation is advisory (NVMe 1.4 6.7), and QEMU's
	 * nvme on a -drive without discard=unmap keeps the data; a range past the
	 * namespace is skipped by QEMU (hw/nvme/ctrl.c nvme_dsm: "continue") and
	 * the command succeeds, where the simulator answers LBA Out of Range,
	 * the generic status for an LBA beyond the namespace (80h) */
	if (on_sim) {
		CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 1, 3072, 8192 / lba, &r, 0), 0);
		CHECK(!memcmp(r.va, zero, 8192));
		rg[0] = (struct nvme_dsm_range){ .nlb = 2, .slba = nsze - 1 };
		cmd = (struct nvme_sqe){ .opc = NVME_CMD_DSM, .nsid = 1, .cdw11 = NVME_DSM_AD };
		CHECK_EQ(nvme_sync(q, &cmd, &w, 0, 16, NULL), NVME_SC_LBA_RANGE);
	}
	/* queue depth: fill the queue, then reap everything */
	unsigned sent = 0;
	while (nvme_submit_rw(q, NVME_CMD_READ, 1, sent * 8, 8, &r, (sent % 8) * 4096, NULL) == 0)
		sent++;
	CHECK_EQ(sent, 31);
	unsigned got = 0;
	struct nvme_done d[32];
	while (got < sent) {
		int n = nvme_wait(q, d, 32, 20000);
		if (n < 0)
			break;
		for (int i = 0; i < n; i++)
			CHECK_EQ(d[i].status, 0);
		got += (unsigned)n;
	}
	CHECK_EQ(got, sent);
	CHECK_EQ(nvme_ioq_delete(q), 0);
	nvme_buf_free(&w);
	nvme_buf_free(&r);
}

static void test_shutdown_reset(struct nvme_ctrl *c)
{
	uint32_t lba = nvme_lba_size(c);
	struct nvme_ioq *q;
	struct nvme_buf w, r;
	REQUIRE_OK(nvme_buf_alloc(c, 65536, &w));
	REQUIRE_OK(nvme_buf_alloc(c, 65536, &r));
	/* shutdown, then enable again: the data stays */
	REQUIRE_OK(nvme_ioq_create(c, 8, &q));
	CHECK_EQ(check_rw(q, &w, &r, 0, 5000, 65536, 9, lba), 0);
	CHECK_EQ(nvme_shutdown(c), 0);
	CHECK_EQ(nvme_csts(c) & NVME_CSTS_SHST_MASK, NVME_CSTS_SHST_COMPLETE);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 1, 0, 1, &r, 0), -ESTALE);
	nvme_ioq_delete(q);
	REQUIRE_OK(nvme_reinit(c));
	CHECK_EQ(nvme_csts(c) & (NVME_CSTS_RDY | NVME_CSTS_SHST_MASK), NVME_CSTS_RDY);
	REQUIRE_OK(nvme_ioq_create(c, 8, &q));
	memset(r.va, 0, 65536);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 1, 5000, 65536 / lba, &r, 0), 0);
	CHECK(!memcmp(w.va, r.va, 65536));
	nvme_ioq_delete(q);
	/* a function reset with I/O in flight, then recovery */
	REQUIRE_OK(nvme_ioq_create(c, 64, &q));
	for (unsigned i = 0; i < 40; i++)
		CHECK_EQ(nvme_submit_rw(q, NVME_CMD_WRITE, 1, 6000 + i * 8, 8, &w, (i % 16) * 4096, NULL),
			 0);
	int rc = udd_dev_reset(nvme_dev(c));
	CHECK(rc == 0 || rc == -ENOTSUP);
	REQUIRE_OK(nvme_reinit(c));
	struct nvme_done d[64];
	CHECK_EQ(nvme_wait(q, d, 64, 0), -ESTALE);
	nvme_ioq_delete(q);
	REQUIRE_OK(nvme_ioq_create(c, 8, &q));
	CHECK_EQ(check_rw(q, &w, &r, 0, 7000, 65536, 10, lba), 0);
	nvme_ioq_delete(q);

	/* a fatal error (an SQ tail doorbell beyond the queue) sets CSTS.CFS;
	 * a controller reset recovers */
	if (on_sim) {
		REQUIRE_OK(nvme_ioq_create(c, 8, &q));
		udd_acc_t *db;
		udd_acc_attr_t le = { .endian = UDD_LITTLE_ENDIAN };
		REQUIRE_OK(udd_regs_map_bar(nvme_dev(c), 0, NVME_REG_DBS, 4096, &le, &db));
		udd_put32(db, (unsigned)(NVME_SQ_TDBL(nvme_ioq_id(q), 0) - NVME_REG_DBS), 5000);
		for (unsigned i = 0; i < 100000 && !(nvme_csts(c) & NVME_CSTS_CFS); i++)
			sim_sleep(100);
		CHECK(nvme_csts(c) & NVME_CSTS_CFS);
		udd_regs_unmap(db);
		/* the driver sees it too, instead of waiting for a completion */
		CHECK_EQ(nvme_rw_sync(q, NVME_CMD_FLUSH, 1, 0, 1, NULL, 0), -EIO);
		REQUIRE_OK(nvme_reinit(c));
		nvme_ioq_delete(q);
		CHECK(!(nvme_csts(c) & NVME_CSTS_CFS));
		REQUIRE_OK(nvme_ioq_create(c, 8, &q));
		CHECK_EQ(check_rw(q, &w, &r, 0, 7100, 4096, 11, lba), 0);
		nvme_ioq_delete(q);
	}
	nvme_buf_free(&w);
	nvme_buf_free(&r);
}

struct thr {
	struct nvme_ctrl *c;
	unsigned idx;
	int rc;
};

static void *io_thread(void *arg)
{
	struct thr *t = arg;
	uint32_t lba = nvme_lba_size(t->c);
	struct nvme_ioq *q;
	struct nvme_buf w, r;
	t->rc = nvme_ioq_create(t->c, 16, &q);
	if (t->rc)
		return NULL;
	if (!(t->rc = nvme_buf_alloc(t->c, 65536, &w)) && !(t->rc = nvme_buf_alloc(t->c, 65536, &r))) {
		for (unsigned i = 0; i < 20 && !t->rc; i++)
			t->rc = check_rw(q, &w, &r, 0, 20000 + t->idx * 4096 + i * 128, 65536,
					 t->idx * 100 + i, lba);
		nvme_buf_free(&r);
	}
	nvme_buf_free(&w);
	nvme_ioq_delete(q);
	return NULL;
}

static void test_threads_irq(void)
{
	struct nvme_ctrl *c = open_ctrl(true, 3);
	CHECK_EQ(nvme_nr_ioqs(c), 3);
	pthread_t th[3];
	struct thr t[3];
	for (unsigned i = 0; i < 3; i++) {
		t[i] = (struct thr){ .c = c, .idx = i };
		pthread_create(&th[i], NULL, io_thread, &t[i]);
	}
	for (unsigned i = 0; i < 3; i++) {
		pthread_join(th[i], NULL);
		CHECK_EQ(t[i].rc, 0);
	}
	nvme_close(c);
}

/* The namespace is the medium: written by one borrower, read by the next
 * after the device was returned (and the model powered on afresh). */
static void test_persist(void)
{
	struct nvme_ctrl *c = open_ctrl(false, 1);
	uint32_t lba = nvme_lba_size(c);
	struct nvme_ioq *q;
	struct nvme_buf w, r;
	REQUIRE_OK(nvme_ioq_create(c, 4, &q));
	REQUIRE_OK(nvme_buf_alloc(c, 65536, &w));
	fill(&w, 65536, 0xabcdef);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_WRITE, 1, 9000, 65536 / lba, &w, 0), 0);
	nvme_ioq_delete(q);
	nvme_buf_free(&w);
	nvme_close(c);

	c = open_ctrl(false, 1);
	REQUIRE_OK(nvme_ioq_create(c, 4, &q));
	REQUIRE_OK(nvme_buf_alloc(c, 65536, &w));
	REQUIRE_OK(nvme_buf_alloc(c, 65536, &r));
	fill(&w, 65536, 0xabcdef);
	CHECK_EQ(nvme_rw_sync(q, NVME_CMD_READ, 1, 9000, 65536 / lba, &r, 0), 0);
	CHECK(!memcmp(w.va, r.va, 65536));
	nvme_ioq_delete(q);
	nvme_buf_free(&w);
	nvme_buf_free(&r);
	nvme_close(c);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "--pool")) {
		on_sim = false;
		REQUIRE_OK(udd_ctx_open(&ctx, NULL));
	} else {
		ctx = simenv_ctx();
	}
	udd_filter_t f = { .class_code = NVME_PCI_CLASS };
	if (udd_pool_list(ctx, &f, &fdid, 1) < 1) {
		fprintf(stderr, "no NVMe controller in the pool\n");
		return 1;
	}
	struct nvme_ctrl *c = open_ctrl(false, 2);
		test_identify(c);	test_queues(c);	test_io(c);	test_shutdown_reset(c);	nvme_close(c);
	test_threads_irq();	test_persist();
	udd_ctx_close(ctx);
	return t_done("test_nvme");
}
