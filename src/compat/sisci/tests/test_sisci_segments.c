/* SPDX-License-Identifier: MIT */
/*
 * Segments, interrupts, data interrupts, sequences, SCIMemCpy and DMA
 * queues between two processes of this node (no device involved). The
 * parent creates segment 77 and makes it available; a child (this program
 * re-executed) connects, maps and writes, then triggers an interrupt and a
 * data interrupt the parent waits for. Then the error paths.
 */
#include <stdint.h>
#include <sys/wait.h>

#include "simenv.h"
#include "testlib.h"

#include "sisci_api.h"

static sci_error_t err;
#define EXPECT(call, want)                                                                 \
	do {                                                                               \
		err = (sci_error_t)0x12345;                                                \
		call;                                                                      \
		if (err != (want))                                                         \
			fprintf(stderr, "%s:%d: %s -> %s (0x%x), want %s\n", __FILE__,     \
				__LINE__, #call, SCIGetErrorString(err), (unsigned)err,    \
				SCIGetErrorString(want));                                  \
		CHECK_EQ(err, want);                                                       \
	} while (0)

#define SEG_ID 77u
#define SEG_SIZE 10000u /* not a page multiple on purpose */

/* The child: connect, map, write, signal. Exit status = failures. */
static int child(unsigned intno, unsigned dintno)
{
	sci_desc_t sd;
	unsigned node;
	SCIInitialize(0, &err);
	EXPECT(SCIOpen(&sd, 0, &err), SCI_ERR_OK);
	EXPECT(SCIGetLocalNodeId(0, &node, 0, &err), SCI_ERR_OK);
	sci_remote_segment_t rs;
	EXPECT(SCIConnectSegment(sd, &rs, node + 1, SEG_ID, 0, NULL, NULL, 0, 0, &err),
	       SCI_ERR_NO_SUCH_NODEID);
	EXPECT(SCIConnectSegment(sd, &rs, node, SEG_ID + 1, 0, NULL, NULL, 0, 0, &err),
	       SCI_ERR_NO_SUCH_SEGMENT);
	EXPECT(SCIConnectSegment(sd, &rs, node, SEG_ID, 0, NULL, NULL, SCI_INFINITE_TIMEOUT, 0, &err),
	       SCI_ERR_OK);
	CHECK_EQ(SCIGetRemoteSegmentSize(rs), SEG_SIZE);
	CHECK_EQ(SCIGetRemoteSegmentId(rs), SEG_ID);
	CHECK_EQ(SCIGetRemoteSegmentNodeId(rs), node);
	sci_map_t m;
	volatile uint32_t *p = SCIMapRemoteSegment(rs, &m, 0, SEG_SIZE, NULL, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	if (p) {
		CHECK_EQ(p[0], 0xfeedf00du); /* the parent wrote it */
		for (unsigned i = 1; i < SEG_SIZE / 4; i++)
			p[i] = i * 3;
		/* SCIMemCpy and a sequence */
		sci_sequence_t seq;
		EXPECT(SCICreateMapSequence(m, &seq, 0, &err), SCI_ERR_OK);
		CHECK_EQ(SCIStartSequence(seq, 0, &err), SCI_SEQ_OK);
		char msg[16] = "hello, segment";
		EXPECT(SCIMemCpy(seq, msg, m, 8192, sizeof(msg), 0, &err), SCI_ERR_OK);
		EXPECT(SCIMemCpy(seq, msg, m, SEG_SIZE - 8, sizeof(msg), 0, &err), SCI_ERR_OUT_OF_RANGE);
		CHECK_EQ(SCICheckSequence(seq, 0, &err), SCI_SEQ_OK);
		EXPECT(SCIUnmapSegment(m, 0, &err), SCI_ERR_BUSY); /* a sequence on it */
		EXPECT(SCIRemoveSequence(seq, 0, &err), SCI_ERR_OK);
		SCIFlush(NULL, 0);
		EXPECT(SCIUnmapSegment(m, 0, &err), SCI_ERR_OK);
	}
	/* a DMA queue: local segment -> the remote one */
	sci_local_segment_t ls;
	EXPECT(SCICreateSegment(sd, &ls, 0, 4096, NULL, NULL, SCI_FLAG_AUTO_ID | SCI_FLAG_PRIVATE, &err),
	       SCI_ERR_OK);
	sci_map_t lm;
	uint8_t *lp = SCIMapLocalSegment(ls, &lm, 0, 4096, NULL, 0, &err);
	for (int i = 0; lp && i < 256; i++)
		lp[i] = (uint8_t)(255 - i);
	sci_dma_queue_t dq;
	EXPECT(SCICreateDMAQueue(sd, &dq, 0, 4, 0, &err), SCI_ERR_OK);
	CHECK_EQ(SCIDMAQueueState(dq), SCI_DMAQUEUE_IDLE);
	EXPECT(SCIStartDmaTransfer(dq, ls, rs, 0, 256, 4096, NULL, NULL, 0, &err), SCI_ERR_OK);
	CHECK_EQ(SCIWaitForDMAQueue(dq, SCI_INFINITE_TIMEOUT, 0, &err), SCI_DMAQUEUE_DONE);
	dis_dma_vec_t v[2] = { { 16, 0, 4096 + 512, 0 }, { 16, 16, 4096 + 1024, 0 } };
	EXPECT(SCIStartDmaTransferVec(dq, ls, rs, 2, v, NULL, NULL, 0, &err), SCI_ERR_OK);
	EXPECT(SCIStartDmaTransfer(dq, ls, rs, 0, 256, SEG_SIZE, NULL, NULL, 0, &err), SCI_ERR_OUT_OF_RANGE);
	dis_dma_vec_t many[5] = { { 1, 0, 0, 0 } };
	EXPECT(SCIStartDmaTransferVec(dq, ls, rs, 5, many, NULL, NULL, 0, &err), SCI_ERR_MAX_ENTRIES);
	EXPECT(SCIClose(sd, 0, &err), SCI_ERR_BUSY);
	EXPECT(SCIRemoveDMAQueue(dq, 0, &err), SCI_ERR_OK);
	EXPECT(SCIUnmapSegment(lm, 0, &err), SCI_ERR_OK);
	EXPECT(SCIRemoveSegment(ls, 0, &err), SCI_ERR_OK);
	EXPECT(SCIDisconnectSegment(rs, 0, &err), SCI_ERR_OK);

	/* interrupts */
	sci_remote_interrupt_t ri;
	sci_remote_data_interrupt_t rdi;
	EXPECT(SCIConnectInterrupt(sd, &ri, node, 0, 60000, 0, 0, &err), SCI_ERR_NO_SUCH_INTNO);
	EXPECT(SCIConnectInterrupt(sd, &ri, node, 0, intno, SCI_INFINITE_TIMEOUT, 0, &err), SCI_ERR_OK);
	EXPECT(SCITriggerInterrupt(ri, 0, &err), SCI_ERR_OK);
	EXPECT(SCIDisconnectInterrupt(ri, 0, &err), SCI_ERR_OK);
	EXPECT(SCIConnectDataInterrupt(sd, &rdi, node, 0, dintno, SCI_INFINITE_TIMEOUT, 0, &err), SCI_ERR_OK);
	char data[] = "data interrupt payload";
	EXPECT(SCITriggerDataInterrupt(rdi, data, sizeof(data), 0, &err), SCI_ERR_OK);
	EXPECT(SCITriggerDataInterrupt(rdi, data, 1u << 20, 0, &err), SCI_ERR_OUT_OF_RANGE);
	EXPECT(SCIDisconnectDataInterrupt(rdi, 0, &err), SCI_ERR_OK);
	EXPECT(SCIClose(sd, 0, &err), SCI_ERR_OK);
	SCITerminate();
	return t_failures;
}

static sci_callback_action_t on_intr(void *arg, sci_local_interrupt_t i, sci_error_t st)
{
	(void)i;
	if (st == SCI_ERR_OK)
		__atomic_add_fetch((int *)arg, 1, __ATOMIC_SEQ_CST);
	return SCI_CALLBACK_CONTINUE;
}

int main(int argc, char **argv)
{
	if (argc == 4 && strcmp(argv[1], "--child") == 0)
		return child((unsigned)atoi(argv[2]), (unsigned)atoi(argv[3]));
	setenv("UDD_RUNTIME_DIR", simenv_tmpdir(), 1);
	setenv("UDD_NO_EMBEDDED", "1", 1); /* no device here: never start udd-sim */

	sci_desc_t sd, sd2;
	EXPECT(SCIInitialize(0, &err), SCI_ERR_OK);
	EXPECT(SCIOpen(&sd, 0, &err), SCI_ERR_OK);
	EXPECT(SCIOpen(&sd2, 0, &err), SCI_ERR_OK);

	sci_local_segment_t seg, dup, emp;
	EXPECT(SCICreateSegment(sd, &seg, SEG_ID, SEG_SIZE, NULL, NULL, 0x100, &err), SCI_ERR_ILLEGAL_FLAG);
	EXPECT(SCICreateSegment(NULL, &seg, SEG_ID, SEG_SIZE, NULL, NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	EXPECT(SCICreateSegment(sd, &seg, SEG_ID, SEG_SIZE, NULL, NULL, 0, &err), SCI_ERR_OK);
	EXPECT(SCICreateSegment(sd2, &dup, SEG_ID, 4096, NULL, NULL, 0, &err), SCI_ERR_SEGMENTID_USED);
	CHECK_EQ(SCIGetLocalSegmentId(seg), SEG_ID);
	CHECK_EQ(SCIGetLocalSegmentSize(seg), SEG_SIZE);
	EXPECT(SCISetSegmentAvailable(seg, 0, 0, &err), SCI_ERR_SEGMENT_NOT_PREPARED);
	EXPECT(SCIPrepareSegment(seg, 0, 0, &err), SCI_ERR_OK);
	sci_map_t m, ro;
	volatile uint32_t *p = SCIMapLocalSegment(seg, &m, 0, SEG_SIZE, NULL, 0, &err);
	REQUIRE(err == SCI_ERR_OK && p);
	EXPECT(SCIMapLocalSegment(seg, &ro, 1, 100, NULL, 0, &err), SCI_ERR_OFFSET_ALIGNMENT);
	EXPECT(SCIMapLocalSegment(seg, &ro, 0, SEG_SIZE + 1, NULL, 0, &err), SCI_ERR_OUT_OF_RANGE);
	EXPECT(SCIMapLocalSegment(seg, &ro, 16384, 4, NULL, 0, &err), SCI_ERR_OUT_OF_RANGE);
	const volatile uint32_t *rp = SCIMapLocalSegment(seg, &ro, 0, 0, NULL, SCI_FLAG_READONLY_MAP, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK_EQ(SCIGetMapSize(ro), SEG_SIZE);
	p[0] = 0xfeedf00du;
	EXPECT(SCISetSegmentAvailable(seg, 0, 0, &err), SCI_ERR_OK);

	/* an EMPTY segment with the caller's memory */
	static uint8_t mem[8192] __attribute__((aligned(4096)));
	EXPECT(SCICreateSegment(sd, &emp, 0, 8192, NULL, NULL, SCI_FLAG_EMPTY | SCI_FLAG_AUTO_ID, &err), SCI_ERR_OK);
	EXPECT(SCIPrepareSegment(emp, 0, 0, &err), SCI_ERR_ILLEGAL_OPERATION);
	EXPECT(SCIRegisterSegmentMemory(mem + 1, 8192, emp, 0, &err), SCI_ERR_OFFSET_ALIGNMENT);
	EXPECT(SCIRegisterSegmentMemory(mem, 4096, emp, 0, &err), SCI_ERR_SIZE_ALIGNMENT);
	EXPECT(SCIRegisterSegmentMemory(mem, 8192, emp, 0, &err), SCI_ERR_OK);
	EXPECT(SCIRegisterSegmentMemory(mem, 8192, emp, 0, &err), SCI_ERR_ILLEGAL_OPERATION);
	EXPECT(SCIPrepareSegment(emp, 0, 0, &err), SCI_ERR_OK);
	sci_map_t em;
	uint8_t *ep = SCIMapLocalSegment(emp, &em, 4096, 4096, NULL, 0, &err);
	CHECK(ep == mem + 4096);
	EXPECT(SCIUnmapSegment(em, 0, &err), SCI_ERR_OK);
	EXPECT(SCIRemoveSegment(emp, 0, &err), SCI_ERR_OK);

	/* interrupts: one waited for, one by callback count, one data interrupt */
	sci_local_interrupt_t li, lcb;
	sci_local_data_interrupt_t ldi;
	unsigned intno = 0, cbno = 0, dintno = 0;
	int cbcount = 0;
	EXPECT(SCICreateInterrupt(sd, &li, 0, &intno, NULL, NULL, 0, &err), SCI_ERR_OK);
	EXPECT(SCICreateInterrupt(sd, &lcb, 0, &cbno, on_intr, &cbcount, SCI_FLAG_USE_CALLBACK, &err), SCI_ERR_OK);
	CHECK(cbno != intno);
	unsigned fixed = intno;
	sci_local_interrupt_t clash;
	EXPECT(SCICreateInterrupt(sd, &clash, 0, &fixed, NULL, NULL, SCI_FLAG_FIXED_INTNO, &err),
	       SCI_ERR_NO_SUCH_INTNO);
	EXPECT(SCIWaitForInterrupt(lcb, 0, 0, &err), SCI_ERR_ILLEGAL_OPERATION);
	EXPECT(SCIWaitForInterrupt(li, 0, 0, &err), SCI_ERR_TIMEOUT);
	EXPECT(SCICreateDataInterrupt(sd, &ldi, 0, &dintno, NULL, NULL, 0, &err), SCI_ERR_OK);

	/* the other process */
	char a1[16], a2[16];
	snprintf(a1, sizeof(a1), "%u", intno);
	snprintf(a2, sizeof(a2), "%u", dintno);
	pid_t pid = fork();
	if (pid == 0) {
		execl("/proc/self/exe", argv[0], "--child", a1, a2, (char *)NULL);
		_exit(99);
	}
	EXPECT(SCIWaitForInterrupt(li, 10000, 0, &err), SCI_ERR_OK);
	char buf[64];
	unsigned len = sizeof(buf);
	EXPECT(SCIWaitForDataInterrupt(ldi, buf, &len, 10000, 0, &err), SCI_ERR_OK);
	CHECK_EQ(len, sizeof("data interrupt payload"));
	CHECK(strcmp(buf, "data interrupt payload") == 0);
	int st = 0;
	waitpid(pid, &st, 0);
	CHECK(WIFEXITED(st));
	CHECK_EQ(WEXITSTATUS(st), 0);
	/* what the child wrote */
	CHECK_EQ(rp[0], 0xfeedf00du);
	int bad = 0;
	for (unsigned i = 1; i < 1024; i++)
		bad += rp[i] != i * 3;
	CHECK_EQ(bad, 0);
	CHECK(memcmp((const char *)(uintptr_t)rp + 8192, "hello, segment", 15) == 0);
	CHECK_EQ(((const volatile uint8_t *)rp)[4096], 255);
	CHECK_EQ(((const volatile uint8_t *)rp)[4096 + 255], 0);
	CHECK_EQ(((const volatile uint8_t *)rp)[4096 + 1024 + 3], 255 - 19);

	/* the callback interrupt, from this process */
	sci_remote_interrupt_t ri;
	EXPECT(SCIConnectInterrupt(sd, &ri, 4, 0, cbno, 0, 0, &err), SCI_ERR_OK);
	EXPECT(SCITriggerInterrupt(ri, 0, &err), SCI_ERR_OK);
	EXPECT(SCITriggerInterrupt(ri, 0, &err), SCI_ERR_OK);
	for (int i = 0; i < 5000 && __atomic_load_n(&cbcount, __ATOMIC_SEQ_CST) < 2; i++) {
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	CHECK_EQ(__atomic_load_n(&cbcount, __ATOMIC_SEQ_CST), 2);
	EXPECT(SCIRemoveInterrupt(lcb, 0, &err), SCI_ERR_OK);
	EXPECT(SCITriggerInterrupt(ri, 0, &err), SCI_ERR_NO_SUCH_INTNO); /* gone */
	EXPECT(SCIDisconnectInterrupt(ri, 0, &err), SCI_ERR_OK);

	/* unavailable: nobody can connect any more */
	sci_remote_segment_t rs;
	EXPECT(SCISetSegmentUnavailable(seg, 0, 0, &err), SCI_ERR_OK);
	EXPECT(SCIConnectSegment(sd2, &rs, 4, SEG_ID, 0, NULL, NULL, 0, 0, &err), SCI_ERR_NO_SUCH_SEGMENT);
	EXPECT(SCIConnectSegment(sd2, &rs, 4, SEG_ID, 0, NULL, NULL, 30, 0, &err), SCI_ERR_TIMEOUT);

	/* bad handles and BUSY */
	EXPECT(SCIRemoveSegment(seg, 0, &err), SCI_ERR_BUSY);
	EXPECT(SCIClose(sd, 0, &err), SCI_ERR_BUSY);
	EXPECT(SCIRemoveSegment(NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	EXPECT(SCIDisconnectSegment(NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	EXPECT(SCIUnmapSegment(NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	EXPECT(SCIRemoveInterrupt(NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	EXPECT(SCIRemoveDMAQueue(NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	EXPECT(SCIClose(NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	CHECK_EQ(SCIGetLocalSegmentSize(NULL), 0);
	CHECK(SCIGetMapPointer(NULL) == NULL);
	CHECK(strcmp(SCIGetErrorString(SCI_ERR_SEGMENTID_USED), "Segment id already used") == 0);
	CHECK(strcmp(SCIGetErrorString((sci_error_t)0x7), "Unknown error") == 0);

	EXPECT(SCIRemoveDataInterrupt(ldi, 0, &err), SCI_ERR_OK);
	EXPECT(SCIRemoveInterrupt(li, 0, &err), SCI_ERR_OK);
	EXPECT(SCIUnmapSegment(m, 0, &err), SCI_ERR_OK);
	EXPECT(SCIUnmapSegment(ro, 0, &err), SCI_ERR_OK);
	EXPECT(SCIRemoveSegment(seg, 0, &err), SCI_ERR_OK);
	/* the id is free again */
	EXPECT(SCICreateSegment(sd2, &dup, SEG_ID, 4096, NULL, NULL, 0, &err), SCI_ERR_OK);
	EXPECT(SCIRemoveSegment(dup, 0, &err), SCI_ERR_OK);
	EXPECT(SCIClose(sd, 0, &err), SCI_ERR_OK);
	EXPECT(SCIClose(sd2, 0, &err), SCI_ERR_OK);
	SCITerminate();
	return t_done("test_sisci_segments");
}
