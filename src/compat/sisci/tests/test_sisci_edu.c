/* SPDX-License-Identifier: MIT */
/*
 * SmartIO on the simulated edu and be: device list with filters, exclusive
 * borrowing (also across processes), device info, BAR0 mapped through the
 * trap handler (ids, liveness, 64-bit registers through the pointer), a
 * local segment mapped for the device and a DMA round trip, peer-to-peer
 * (edu DMAs into be's BAR2), BUSY and the other error paths, and the trap
 * handler's chaining to a previous SIGSEGV handler.
 */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <time.h>

#include "simenv.h"
#include "testlib.h"

#include "sim_devices.h"
#include "sisci_api.h"

#define OK(call)                                                                           \
	do {                                                                               \
		sci_error_t e_ = SCI_ERR_OK;                                               \
		call;                                                                      \
		(void)e_;                                                                  \
	} while (0)

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

static volatile uint32_t *r32(volatile void *b, size_t off)
{
	return (volatile uint32_t *)(void *)((volatile uint8_t *)b + off);
}
static volatile uint64_t *r64(volatile void *b, size_t off)
{
	return (volatile uint64_t *)(void *)((volatile uint8_t *)b + off);
}
static volatile uint16_t *r16(volatile void *b, size_t off)
{
	return (volatile uint16_t *)(void *)((volatile uint8_t *)b + off);
}
static volatile uint8_t *r8(volatile void *b, size_t off)
{
	return (volatile uint8_t *)b + off;
}

static int edu_dma(volatile void *bar, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	*r64(bar, EDU_REG_DMA_SRC) = src;
	*r64(bar, EDU_REG_DMA_DST) = dst;
	*r64(bar, EDU_REG_DMA_COUNT) = len;
	*r64(bar, EDU_REG_DMA_CMD) = EDU_DMA_START | dir;
	for (int i = 0; i < 10000; i++) {
		if (!(*r32(bar, EDU_REG_DMA_CMD) & EDU_DMA_START))
			return 0;
		struct timespec ts = { 0, 500 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

/* A SIGSEGV handler of the program's own, installed before the layer's. */
static sigjmp_buf jb;
static volatile sig_atomic_t my_faults;
static void my_segv(int sig, siginfo_t *si, void *uc)
{
	(void)sig;
	(void)si;
	(void)uc;
	my_faults++;
	siglongjmp(jb, 1);
}

/* Child mode: try to borrow fdid exclusively; exit code = 0 if the SISCI
 * error is SCI_ERR_NOT_AVAILABLE. */
static int child_borrow(unsigned fdid)
{
	sci_desc_t sd;
	sci_smartio_device_t d;
	sci_error_t e;
	SCIInitialize(0, &e);
	SCIOpen(&sd, 0, &e);
	if (e != SCI_ERR_OK)
		return 2;
	SCIBorrowDevice(sd, &d, fdid, SCI_FLAG_EXCLUSIVE, &e);
	if (e == SCI_ERR_OK)
		SCIReturnDevice(d, 0, &e);
	sci_error_t got = e;
	SCIClose(sd, 0, &e);
	SCITerminate();
	if (got != SCI_ERR_NOT_AVAILABLE)
		fprintf(stderr, "child: SCIBorrowDevice: %s\n", SCIGetErrorString(got));
	return got == SCI_ERR_NOT_AVAILABLE ? 0 : 1;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "--child-borrow") == 0)
		return child_borrow((unsigned)strtoul(argv[2], NULL, 0));
	setenv("UDD_RUNTIME_DIR", simenv_tmpdir(), 1);

	sci_desc_t sd;
	EXPECT(SCIOpen(&sd, 0, &err), SCI_ERR_NOT_INITIALIZED);
	EXPECT(SCIInitialize(0, &err), SCI_ERR_OK);
	EXPECT(SCIOpen(&sd, 0, &err), SCI_ERR_OK);
	EXPECT(SCIOpen(NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);

	/* ---- device list with filters ---- */
	unsigned ids[64];
	sci_smartio_device_info_t f;
	memset(&f, 0, sizeof(f));
	int nall = SCIGetDeviceList(sd, ids, 64, NULL, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK(nall >= 3);
	f.pci_vendor_id = EDU_VENDOR_ID;
	f.pci_device_id = EDU_DEVICE_ID;
	int n = SCIGetDeviceList(sd, ids, 64, &f, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	REQUIRE(n >= 1);
	unsigned edu_id = ids[0];
	memset(&f, 0, sizeof(f));
	f.pci_class = EDU_CLASS;
	n = SCIGetDeviceList(sd, ids, 64, &f, 0, &err);
	CHECK(n >= 1 && ids[0] == edu_id);
	f.pci_class = 0x010802; /* the simulated pool's NVMe controller */
	CHECK_EQ(SCIGetDeviceList(sd, ids, 64, &f, 0, &err), 1);
	CHECK_EQ(err, SCI_ERR_OK);
	memset(&f, 0, sizeof(f));
	f.pci_vendor_id = BE_VENDOR_ID;
	f.pci_device_id = BE_DEVICE_ID;
	REQUIRE(SCIGetDeviceList(sd, ids, 64, &f, 0, &err) >= 1);
	unsigned be_id = ids[0];
	CHECK_EQ(SCIGetDeviceList(sd, ids, 1, NULL, 0, &err), 1); /* never more than length */
	EXPECT(SCIGetDeviceList(NULL, ids, 64, NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);

	/* ---- borrowing ---- */
	sci_smartio_device_t edu, be;
	EXPECT(SCIBorrowDevice(sd, &edu, 0xdead0, 0, &err), SCI_ERR_NO_SUCH_FDID);
	EXPECT(SCIBorrowDevice(sd, &edu, edu_id, 0x4, &err), SCI_ERR_ILLEGAL_FLAG);
	EXPECT(SCIBorrowDevice(sd, &edu, edu_id, SCI_FLAG_EXCLUSIVE, &err), SCI_ERR_OK);
	CHECK_EQ(SCIGetFabricDeviceId(edu), edu_id);
	CHECK_EQ(SCIGetFabricDeviceId(NULL), 0);
	{ /* another process: the SISCI error */
		char arg[32];
		snprintf(arg, sizeof(arg), "%u", edu_id);
		pid_t pid = fork();
		if (pid == 0) {
			execl("/proc/self/exe", argv[0], "--child-borrow", arg, (char *)NULL);
			_exit(3);
		}
		int st = 0;
		waitpid(pid, &st, 0);
		CHECK(WIFEXITED(st));
		CHECK_EQ(WEXITSTATUS(st), 0);
	}
	/* in this process, too */
	sci_smartio_device_t again;
	EXPECT(SCIBorrowDevice(sd, &again, edu_id, SCI_FLAG_EXCLUSIVE, &err), SCI_ERR_NOT_AVAILABLE);
	EXPECT(SCIClose(sd, 0, &err), SCI_ERR_BUSY);

	/* ---- device info ---- */
	sci_smartio_device_info_t info;
	sci_smartio_query_device_t q = { .subcommand = SCI_Q_DEVICE_INFO, .fdid = edu_id, .data = &info };
	EXPECT(SCIQuery(SCI_Q_DEVICE, &q, 0, &err), SCI_ERR_OK);
	CHECK_EQ(info.fdid, edu_id);
	CHECK_EQ(info.pci_vendor_id, EDU_VENDOR_ID);
	CHECK_EQ(info.pci_device_id, EDU_DEVICE_ID);
	CHECK_EQ(info.pci_class, EDU_CLASS);
	CHECK_EQ(info.adapter, 0);
	CHECK_EQ(info.bar_size[0], EDU_BAR0_SIZE);
	q.fdid = 0xdead0;
	EXPECT(SCIQuery(SCI_Q_DEVICE, &q, 0, &err), SCI_ERR_NO_SUCH_FDID);
	q.subcommand = 12345;
	EXPECT(SCIQuery(SCI_Q_DEVICE, &q, 0, &err), SCI_ERR_ILLEGAL_QUERY);
	unsigned node = 0, qnode = 0;
	EXPECT(SCIGetLocalNodeId(0, &node, 0, &err), SCI_ERR_OK);
	EXPECT(SCIGetLocalNodeId(1, &node, 0, &err), SCI_ERR_NO_SUCH_ADAPTERNO);
	sci_query_adapter_t qa = { .subcommand = SCI_Q_ADAPTER_NODEID, .localAdapterNo = 0, .data = &qnode };
	EXPECT(SCIQuery(SCI_Q_ADAPTER, &qa, 0, &err), SCI_ERR_OK);
	CHECK_EQ(qnode, node);
	EXPECT(SCIQuery(777, &qa, 0, &err), SCI_ERR_ILLEGAL_QUERY);

	/* ---- a program's own SIGSEGV handler, then BAR0 through the trap handler ---- */
	struct sigaction mine, cur;
	memset(&mine, 0, sizeof(mine));
	mine.sa_sigaction = my_segv;
	mine.sa_flags = SA_SIGINFO;
	sigemptyset(&mine.sa_mask);
	REQUIRE_OK(sigaction(SIGSEGV, &mine, NULL));

	sci_remote_segment_t bar0, bar5;
	EXPECT(SCIConnectDeviceSegment(edu, &bar5, 5, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err),
	       SCI_ERR_NO_SUCH_SEGMENT);
	EXPECT(SCIConnectDeviceSegment(edu, &bar5, 1, SCI_MEMTYPE_PRIVATE, NULL, NULL, 0, &err),
	       SCI_ERR_NO_SUCH_SEGMENT);
	EXPECT(SCIConnectDeviceSegment(edu, &bar0, 0, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err), SCI_ERR_OK);
	CHECK_EQ(SCIGetRemoteSegmentSize(bar0), EDU_BAR0_SIZE);
	CHECK_EQ(SCIGetRemoteSegmentNodeId(bar0), node);
	sci_map_t bmap, tmp;
	EXPECT(SCIMapRemoteSegment(bar0, &tmp, 100, 4096, NULL, SCI_FLAG_IO_MAP_IOSPACE, &err),
	       SCI_ERR_OFFSET_ALIGNMENT);
	EXPECT(SCIMapRemoteSegment(bar0, &tmp, EDU_BAR0_SIZE, 4096, NULL, 0, &err), SCI_ERR_OUT_OF_RANGE);
	EXPECT(SCIMapRemoteSegment(bar0, &tmp, 4096, EDU_BAR0_SIZE, NULL, 0, &err), SCI_ERR_OUT_OF_RANGE);
	EXPECT(SCIMapRemoteSegment(NULL, &tmp, 0, 4096, NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	volatile void *bar = SCIMapRemoteSegment(bar0, &bmap, 0, EDU_BAR0_SIZE, NULL,
						 SCI_FLAG_IO_MAP_IOSPACE, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	REQUIRE(bar != NULL);
	CHECK(SCIGetMapPointer(bmap) == (void *)(uintptr_t)bar);
	CHECK_EQ(*r32(bar, EDU_REG_ID), EDU_ID_VALUE);
	*r32(bar, EDU_REG_LIVENESS) = 0x12345678;
	CHECK_EQ(*r32(bar, EDU_REG_LIVENESS), ~0x12345678u);
	*r32(bar, EDU_REG_LIVENESS) = 0;
	CHECK_EQ(*r32(bar, EDU_REG_LIVENESS), 0xffffffffu);
	*r64(bar, EDU_REG_DMA_SRC) = 0x0123456789abcdefull;
	CHECK_EQ(*r64(bar, EDU_REG_DMA_SRC), 0x0123456789abcdefull);
	*r64(bar, EDU_REG_DMA_SRC) = 0;
	/* the edu buffer through the pointer, byte by byte */
	for (unsigned i = 0; i < 16; i++)
		*r8(bar, EDU_DMA_BUF + i) = (uint8_t)(0xa0 + i);
	CHECK_EQ(*r32(bar, EDU_DMA_BUF + 4), 0xa7a6a5a4u);
	CHECK_EQ(*r8(bar, EDU_DMA_BUF + 9), 0xa9);
	CHECK_EQ(*r16(bar, EDU_DMA_BUF + 10), 0xabaa);
	*r16(bar, EDU_DMA_BUF + 2) = 0x1234;
	CHECK_EQ(*r64(bar, EDU_DMA_BUF), 0xa7a6a5a41234a1a0ull);
	sigaction(SIGSEGV, NULL, &cur);
	CHECK(cur.sa_sigaction != my_segv); /* the layer's handler is in place */

	/* a fault that is not ours reaches the program's handler */
	void *other = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(other != MAP_FAILED);
	my_faults = 0;
	if (sigsetjmp(jb, 1) == 0)
		(void)*(volatile int *)other;
	CHECK_EQ(my_faults, 1);
	/* an instruction the decoder refuses: diagnostic, then the program's handler */
	fprintf(stderr, "(an 'unsupported instruction' diagnostic is expected next)\n");
	if (sigsetjmp(jb, 1) == 0)
		__asm__ __volatile__("lock; incl (%0)" ::"r"((volatile char *)bar + EDU_REG_LIVENESS)
				     : "memory");
	CHECK_EQ(my_faults, 2);
	REQUIRE_OK(sigaction(SIGSEGV, NULL, &cur));
	munmap(other, 4096);

	/* ---- a local segment for the device, DMA round trip ---- */
	sci_local_segment_t seg;
	sci_ioaddr_t io = 0;
	EXPECT(SCICreateSegment(sd, &seg, 0, 0, NULL, NULL, SCI_FLAG_AUTO_ID, &err), SCI_ERR_SIZE_ALIGNMENT);
	EXPECT(SCICreateSegment(sd, &seg, 0, 8192, NULL, NULL, SCI_FLAG_AUTO_ID | SCI_FLAG_PRIVATE, &err),
	       SCI_ERR_OK);
	CHECK_EQ(SCIGetLocalSegmentSize(seg), 8192);
	EXPECT(SCIMapLocalSegmentForDevice(seg, 0, edu, &io, 0, 8192, 0, &err), SCI_ERR_SEGMENT_NOT_PREPARED);
	EXPECT(SCIPrepareSegment(seg, 3, 0, &err), SCI_ERR_NO_SUCH_ADAPTERNO);
	EXPECT(SCIPrepareSegment(seg, 0, 0, &err), SCI_ERR_OK);
	EXPECT(SCIMapLocalSegmentForDevice(seg, 0, edu, &io, 100, 4096, 0, &err), SCI_ERR_OFFSET_ALIGNMENT);
	EXPECT(SCIMapLocalSegmentForDevice(seg, 0, edu, &io, 0, 100, 0, &err), SCI_ERR_SIZE_ALIGNMENT);
	EXPECT(SCIMapLocalSegmentForDevice(seg, 0, edu, &io, 4096, 8192, 0, &err), SCI_ERR_OUT_OF_RANGE);
	EXPECT(SCIMapLocalSegmentForDevice(seg, 0, NULL, &io, 0, 8192, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	EXPECT(SCIUnmapLocalSegmentForDevice(seg, 0, edu, 0, &err), SCI_ERR_NOT_CONNECTED);
	EXPECT(SCIMapLocalSegmentForDevice(seg, 0, edu, &io, 0, 8192, 0, &err), SCI_ERR_OK);
	CHECK(io != 0 && io < (1ull << 28));
	sci_ioaddr_t io2 = 0;
	EXPECT(SCIMapLocalSegmentForDevice(seg, 0, edu, &io2, 4096, 4096, 0, &err), SCI_ERR_OK);
	CHECK_EQ(io2, io + 4096); /* one contiguous range for the whole segment */
	sci_query_local_segment_t ql = { .subcommand = SCI_Q_LOCAL_SEGMENT_IOADDR, .segment = seg };
	EXPECT(SCIQuery(SCI_Q_LOCAL_SEGMENT, &ql, 0, &err), SCI_ERR_OK);
	CHECK_EQ(ql.data.ioaddr, io);
	sci_map_t lmap;
	uint8_t *buf = SCIMapLocalSegment(seg, &lmap, 0, 8192, NULL, 0, &err);
	REQUIRE(err == SCI_ERR_OK && buf);
	for (int i = 0; i < 2048; i++)
		buf[i] = (uint8_t)(i * 13 + 1);
	CHECK_EQ(edu_dma(bar, io, EDU_DMA_BUF, 2048, 0), 0);
	memset(buf, 0, 2048);
	CHECK_EQ(edu_dma(bar, EDU_DMA_BUF, io + 4096, 2048, EDU_DMA_FROM_DEV), 0);
	int bad = 0;
	for (int i = 0; i < 2048; i++)
		bad += buf[4096 + i] != (uint8_t)(i * 13 + 1);
	CHECK_EQ(bad, 0);
	/* SCICacheSync and SCIMemCpy sync the segment's device windows
	 * (udd_dma_sync); a range outside the map is refused */
	EXPECT(SCICacheSync(lmap, buf, 8192, SCI_FLAG_CACHE_FLUSH, &err), SCI_ERR_OK);
	EXPECT(SCICacheSync(lmap, buf + 4096, 4096, SCI_FLAG_CACHE_INVALIDATE, &err), SCI_ERR_OK);
	EXPECT(SCICacheSync(lmap, buf + 4096, 0, 0, &err), SCI_ERR_OK);
	EXPECT(SCICacheSync(lmap, buf + 4096, 4097, SCI_FLAG_CACHE_FLUSH, &err), SCI_ERR_OUT_OF_RANGE);
	EXPECT(SCICacheSync(lmap, buf - 1, 1, SCI_FLAG_CACHE_FLUSH, &err), SCI_ERR_OUT_OF_RANGE);
	EXPECT(SCICacheSync(lmap, buf, 1, 0x1, &err), SCI_ERR_ILLEGAL_FLAG);
	EXPECT(SCIRemoveSegment(seg, 0, &err), SCI_ERR_BUSY); /* mapped */
	EXPECT(SCIReturnDevice(edu, 0, &err), SCI_ERR_BUSY);  /* window + BAR segment */

	/* ---- peer-to-peer: the edu DMAs into be's BAR2 ---- */
	EXPECT(SCIBorrowDevice(sd, &be, be_id, 0, &err), SCI_ERR_OK);
	sci_remote_segment_t bar2;
	EXPECT(SCIConnectDeviceSegment(be, &bar2, 2, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err), SCI_ERR_OK);
	CHECK_EQ(SCIGetRemoteSegmentSize(bar2), BE_BAR2_SIZE);
	sci_ioaddr_t pio = 0;
	EXPECT(SCIMapRemoteSegmentForDevice(bar2, edu, &pio, 0, BE_BAR2_SIZE, 0, &err), SCI_ERR_OK);
	if (err == SCI_ERR_OK) {
		CHECK(pio < (1ull << 28));
		sci_map_t m2;
		volatile uint8_t *b2 = SCIMapRemoteSegment(bar2, &m2, 0, BE_BAR2_SIZE, NULL, 0, &err);
		REQUIRE(err == SCI_ERR_OK && b2);
		for (int i = 0; i < 64; i++)
			b2[0x1000 + i] = 0;
		CHECK_EQ(edu_dma(bar, EDU_DMA_BUF, pio + 0x1000, 64, EDU_DMA_FROM_DEV), 0);
		bad = 0;
		for (int i = 0; i < 64; i++)
			bad += b2[0x1000 + i] != (uint8_t)(i * 13 + 1);
		CHECK_EQ(bad, 0);
		/* READONLY on a directly mapped BAR: reads work, a store faults */
		sci_map_t m3;
		volatile uint8_t *b3 = SCIMapRemoteSegment(bar2, &m3, 0, 4096 * 2, NULL,
							   SCI_FLAG_READONLY_MAP, &err);
		REQUIRE(err == SCI_ERR_OK && b3);
		CHECK_EQ(b3[0x1000 + 3], (uint8_t)(3 * 13 + 1));
		pid_t child = fork();
		if (child == 0) {
			signal(SIGSEGV, SIG_DFL);
			b3[0x1000] = 0x55;
			_exit(0);
		}
		int wst = 0;
		REQUIRE(waitpid(child, &wst, 0) == child);
		CHECK(WIFSIGNALED(wst) && WTERMSIG(wst) == SIGSEGV);
		CHECK_EQ(b2[0x1000], (uint8_t)1); /* untouched */
		EXPECT(SCIUnmapSegment(m3, 0, &err), SCI_ERR_OK);
		EXPECT(SCIDisconnectSegment(bar2, 0, &err), SCI_ERR_BUSY);
		EXPECT(SCIUnmapSegment(m2, 0, &err), SCI_ERR_OK);
		EXPECT(SCIUnmapRemoteSegmentForDevice(bar2, edu, 0, &err), SCI_ERR_OK);
	}
	EXPECT(SCIUnmapRemoteSegmentForDevice(bar2, edu, 0, &err), SCI_ERR_NOT_CONNECTED);
	EXPECT(SCIDisconnectSegment(bar2, 0, &err), SCI_ERR_OK);
	EXPECT(SCIReturnDevice(be, 0, &err), SCI_ERR_OK);

	/* ---- PRIVATE device segment (the NVMe example's queues) ---- */
	EXPECT(SCICreateDeviceSegment(edu, 7, 4096, SCI_MEMTYPE_PRIVATE,
				      SCI_MEMACCESS_DEVICE_READ | SCI_MEMACCESS_HOST_WRITE, 0, &err),
	       SCI_ERR_OK);
	EXPECT(SCICreateDeviceSegment(edu, 7, 4096, SCI_MEMTYPE_PRIVATE, 0, 0, &err), SCI_ERR_SEGMENTID_USED);
	sci_remote_segment_t ds;
	EXPECT(SCIConnectDeviceSegment(edu, &ds, 7, SCI_MEMTYPE_PRIVATE, NULL, NULL, 0, &err), SCI_ERR_OK);
	sci_map_t dmap;
	volatile uint8_t *dp = SCIMapRemoteSegment(ds, &dmap, 0, 4096, NULL, 0, &err);
	REQUIRE(err == SCI_ERR_OK && dp);
	sci_ioaddr_t dio = 0;
	EXPECT(SCIMapRemoteSegmentForDevice(ds, edu, &dio, 0, 4096, 0, &err), SCI_ERR_OK);
	CHECK_EQ(edu_dma(bar, EDU_DMA_BUF, dio, 32, EDU_DMA_FROM_DEV), 0);
	CHECK_EQ(dp[5], (uint8_t)(5 * 13 + 1));
	EXPECT(SCIUnmapRemoteSegmentForDevice(ds, edu, 0, &err), SCI_ERR_OK);
	EXPECT(SCIUnmapSegment(dmap, 0, &err), SCI_ERR_OK);
	EXPECT(SCIDisconnectSegment(ds, 0, &err), SCI_ERR_OK);

	/* ---- tear down in order ---- */
	EXPECT(SCIUnmapSegment(lmap, 0, &err), SCI_ERR_OK);
	EXPECT(SCIUnmapLocalSegmentForDevice(seg, 0, edu, 0, &err), SCI_ERR_OK);
	EXPECT(SCIRemoveSegment(seg, 0, &err), SCI_ERR_OK);
	EXPECT(SCIDisconnectSegment(bar0, 0, &err), SCI_ERR_BUSY); /* still mapped */
	EXPECT(SCIUnmapSegment(bmap, 0, &err), SCI_ERR_OK);
	/* the last trapped mapping is gone: the program's handler is back */
	REQUIRE_OK(sigaction(SIGSEGV, NULL, &cur));
	CHECK(cur.sa_sigaction == my_segv);
	EXPECT(SCIDisconnectSegment(bar0, 0, &err), SCI_ERR_OK);
	EXPECT(SCIReturnDevice(edu, 0, &err), SCI_ERR_OK);
	EXPECT(SCIReturnDevice(NULL, 0, &err), SCI_ERR_ILLEGAL_PARAMETER);
	EXPECT(SCIClose(sd, 0, &err), SCI_ERR_OK);
	SCITerminate();
	return t_done("test_sisci_edu");
}
