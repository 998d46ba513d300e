/* SPDX-License-Identifier: MIT */
/*
 * Guest test of libsisci on real devices: QEMU's edu (1234:11e8) and nvme
 * (1b36:0010) bound to vfio-pci behind intel-iommu (tests/vm/run-guest, with
 * UDD_NO_EMBEDDED=1 so the pool holds exactly those). Only the SISCI API is
 * used (plus sysfs and sigaction to observe the effects):
 *
 *  - SCIGetDeviceList: no filter, class filter, vendor:device filter, a
 *    filter matching nothing, a short array; SCIQuery(SCI_Q_DEVICE_INFO);
 *  - SCIBorrowDevice: exclusive works and turns on bus mastering (sysfs);
 *    shared borrowing of a VFIO device → SCI_ERR_NOT_SUPPORTED; another
 *    process's exclusive borrow → SCI_ERR_NOT_AVAILABLE; unknown fdid;
 *  - BAR0 of edu with SCI_FLAG_IO_MAP_IOSPACE is a direct mapping (no SIGSEGV
 *    handler appears), id/liveness through it, SCIMemCpy(BLOCK_READ) and a
 *    map sequence on it; a BAR that does not exist;
 *  - SCIMapLocalSegmentForDevice: one window (offset → window + offset),
 *    below edu's 28-bit DMA limit, SCIQuery(SCI_Q_LOCAL_SEGMENT_IOADDR);
 *    an edu DMA round trip through it;
 *  - the IOMMU really closes the window: after SCIUnmapLocalSegmentForDevice
 *    an edu→RAM DMA to the old address leaves the memory untouched;
 *  - peer-to-peer: SCIMapRemoteSegmentForDevice of nvme's BAR0 for edu, and
 *    edu DMAs the controller's CAP and VS registers out of nvme's BAR;
 *  - BUSY: returning a device with a connected BAR segment.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "sisci_api.h"
#include "testlib.h"

#define EDU_ID 0x00
#define EDU_LIVENESS 0x04
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_BUF 0x40000
#define EDU_DMA_LIMIT (1ull << 28) /* edu masks DMA addresses to 28 bits */
#define PAGE 4096

static volatile uint32_t *reg32(volatile void *bar, size_t off)
{
	return (volatile uint32_t *)(void *)((volatile uint8_t *)bar + off);
}

static volatile uint64_t *reg64(volatile void *bar, size_t off)
{
	return (volatile uint64_t *)(void *)((volatile uint8_t *)bar + off);
}

/* One edu DMA; waits for the start bit to clear (100 ms virtual timer). */
static int edu_dma(volatile void *bar, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	*reg64(bar, EDU_DMA_SRC) = src;
	*reg64(bar, EDU_DMA_DST) = dst;
	*reg64(bar, EDU_DMA_COUNT) = len;
	*reg64(bar, EDU_DMA_CMD) = EDU_CMD_START | dir;
	for (int i = 0; i < 5000; i++) {
		if (!(*reg32(bar, EDU_DMA_CMD) & EDU_CMD_START))
			return 0;
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

static uint16_t sysfs_command(const char *bdf)
{
	char p[128];
	uint16_t v = 0;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		if (pread(fd, &v, 2, 4) != 2)
			v = 0;
		close(fd);
	}
	return v;
}

/* Child: try to borrow fdid exclusively. Exit 0: borrowed (and returned);
 * 10: SCI_ERR_NOT_AVAILABLE; 1: anything else (said on stderr). */
static int child_borrow(unsigned fdid)
{
	sci_error_t err;
	sci_desc_t sd;
	sci_smartio_device_t dev;
	SCIInitialize(0, &err);
	SCIOpen(&sd, 0, &err);
	if (err != SCI_ERR_OK)
		return 1;
	SCIBorrowDevice(sd, &dev, fdid, SCI_FLAG_EXCLUSIVE, &err);
	sci_error_t got = err;
	if (got == SCI_ERR_OK)
		SCIReturnDevice(dev, 0, &err);
	SCIClose(sd, 0, &err);
	SCITerminate();
	if (got == SCI_ERR_OK)
		return 0;
	if (got == SCI_ERR_NOT_AVAILABLE)
		return 10;
	fprintf(stderr, "child: SCIBorrowDevice -> 0x%x (%s)\n", (unsigned)got,
		SCIGetErrorString(got));
	return 1;
}

static int run_child(unsigned fdid)
{
	char arg[32];
	snprintf(arg, sizeof(arg), "%u", fdid);
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		execl("/proc/self/exe", "sisci_guest", "borrow", arg, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	if (waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int list(sci_desc_t sd, unsigned vendor, unsigned device, unsigned cls, unsigned *ids,
		unsigned cap)
{
	sci_smartio_device_info_t f;
	sci_error_t err;
	memset(&f, 0, sizeof(f));
	f.pci_vendor_id = vendor;
	f.pci_device_id = device;
	f.pci_class = cls;
	int n = SCIGetDeviceList(sd, ids, cap, &f, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	return n;
}

static sci_error_t query_info(unsigned fdid, sci_smartio_device_info_t *info)
{
	sci_error_t err;
	sci_smartio_query_device_t q = { .subcommand = SCI_Q_DEVICE_INFO, .fdid = fdid,
					 .data = info };
	memset(info, 0, sizeof(*info));
	SCIQuery(SCI_Q_DEVICE, &q, 0, &err);
	return err;
}

/* Child: borrow fdid shared (flags 0) while the parent holds it shared.
 * Exit 0: borrowed, BAR0's id read, returned; 1: anything else. */
static int child_share(unsigned fdid)
{
	sci_error_t err;
	sci_desc_t sd;
	sci_smartio_device_t dev;
	sci_remote_segment_t bar_seg;
	sci_map_t bar_map;
	int rc = 1;
	SCIInitialize(0, &err);
	SCIOpen(&sd, 0, &err);
	if (err != SCI_ERR_OK)
		return 1;
	SCIBorrowDevice(sd, &dev, fdid, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "child: shared SCIBorrowDevice -> %s\n", SCIGetErrorString(err));
		goto close;
	}
	SCIConnectDeviceSegment(dev, &bar_seg, 0, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err);
	if (err == SCI_ERR_OK) {
		volatile void *bar = SCIMapRemoteSegment(bar_seg, &bar_map, 0, 4096, NULL,
							 SCI_FLAG_IO_MAP_IOSPACE, &err);
		if (err == SCI_ERR_OK) {
			rc = *reg32(bar, EDU_ID) == 0x010000ed ? 0 : 1;
			SCIUnmapSegment(bar_map, 0, &err);
		}
		SCIDisconnectSegment(bar_seg, 0, &err);
	}
	SCIReturnDevice(dev, 0, &err);
close:
	SCIClose(sd, 0, &err);
	SCITerminate();
	return rc;
}

static int run_child_mode(const char *mode, unsigned fdid)
{
	char arg[32];
	snprintf(arg, sizeof(arg), "%u", fdid);
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		execl("/proc/self/exe", "sisci_guest", mode, arg, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	if (waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/*
 * `sisci_guest lent`: QEMU's edu lent by udd-sim --lend-only (the script
 * sisci_lend starts the lender and runs this with UDD_POOL=<dir>/sim and
 * UDD_NO_VFIO=1, so the pool is the lender's socket): the lent device is
 * listed as a vfio-user device of this node, borrowed shared (flags 0) by
 * this process and a second one at once, while an exclusive borrow is
 * refused; BAR0 id/liveness; a DMA round trip through a local segment
 * mapped for it (the lender maps this process's memory into the IOMMU).
 */
static int lent(void)
{
	sci_error_t err;
	sci_desc_t sd;
	SCIInitialize(0, &err);
	REQUIRE(err == SCI_ERR_OK);
	SCIOpen(&sd, 0, &err);
	REQUIRE(err == SCI_ERR_OK);
	unsigned ids[4], me = 0;
	REQUIRE(list(sd, 0x1234, 0x11e8, 0, ids, 4) == 1);
	unsigned edu = ids[0];
	sci_smartio_device_info_t info;
	REQUIRE(query_info(edu, &info) == SCI_ERR_OK);
	printf("lent edu: fdid 0x%x node %u '%s'\n", edu, info.nodeid, info.user_name);
	CHECK(strncmp(info.user_name, "vfio-user:", 10) == 0 && strstr(info.user_name, ".sock"));
	SCIGetLocalNodeId(0, &me, 0, &err);
	CHECK_EQ(info.nodeid, me);

	sci_smartio_device_t dev;
	SCIBorrowDevice(sd, &dev, edu, 0, &err); /* shared */
	CHECK_EQ(err, SCI_ERR_OK);
	REQUIRE(err == SCI_ERR_OK);
	CHECK_EQ(run_child_mode("share", edu), 0); /* a second shared borrower */
	CHECK_EQ(run_child_mode("borrow", edu), 10); /* exclusive: NOT_AVAILABLE */

	sci_remote_segment_t bar_seg;
	sci_map_t bar_map, seg_map;
	SCIConnectDeviceSegment(dev, &bar_seg, 0, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err);
	REQUIRE(err == SCI_ERR_OK);
	volatile void *bar = SCIMapRemoteSegment(bar_seg, &bar_map, 0, 4096, NULL,
						 SCI_FLAG_IO_MAP_IOSPACE, &err);
	REQUIRE(err == SCI_ERR_OK && bar);
	CHECK_EQ(*reg32(bar, EDU_ID), 0x010000ed);
	*reg32(bar, EDU_LIVENESS) = 0x5a5a1234;
	CHECK_EQ(*reg32(bar, EDU_LIVENESS), ~0x5a5a1234u);

	sci_local_segment_t seg;
	sci_ioaddr_t io = 0;
	SCICreateSegment(sd, &seg, 0, 2 * PAGE, NULL, NULL, SCI_FLAG_AUTO_ID | SCI_FLAG_PRIVATE,
			 &err);
	REQUIRE(err == SCI_ERR_OK);
	SCIPrepareSegment(seg, 0, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIMapLocalSegmentForDevice(seg, 0, dev, &io, 0, 2 * PAGE, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	printf("lent edu: window at 0x%llx\n", (unsigned long long)io);
	CHECK(io != 0 && io + 2 * PAGE <= EDU_DMA_LIMIT);
	uint8_t *mem = SCIMapLocalSegment(seg, &seg_map, 0, 2 * PAGE, NULL, 0, &err);
	REQUIRE(err == SCI_ERR_OK && mem);
	for (int i = 0; i < 1024; i++) {
		mem[i] = (uint8_t)(i * 5 + 9);
		mem[PAGE + i] = 0;
	}
	SCICacheSync(seg_map, mem, 1024, SCI_FLAG_CACHE_FLUSH, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK_EQ(edu_dma(bar, io, EDU_BUF, 1024, 0), 0);
	CHECK_EQ(edu_dma(bar, EDU_BUF, io + PAGE, 1024, EDU_CMD_TO_RAM), 0);
	SCICacheSync(seg_map, mem + PAGE, 1024, SCI_FLAG_CACHE_INVALIDATE, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK(memcmp(mem, mem + PAGE, 1024) == 0);

	SCIUnmapSegment(seg_map, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIUnmapLocalSegmentForDevice(seg, 0, dev, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIRemoveSegment(seg, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIUnmapSegment(bar_map, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIDisconnectSegment(bar_seg, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIReturnDevice(dev, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK_EQ(run_child_mode("borrow", edu), 0); /* returned: exclusive works again */
	SCIClose(sd, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCITerminate();
	return t_done("sisci_guest lent");
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "borrow") == 0)
		return child_borrow((unsigned)strtoul(argv[2], NULL, 0));
	if (argc == 3 && strcmp(argv[1], "share") == 0)
		return child_share((unsigned)strtoul(argv[2], NULL, 0));
	if (argc == 2 && strcmp(argv[1], "lent") == 0)
		return lent();

	const char *edu_bdf = getenv("UDD_VM_EDU");
	const char *nvme_bdf = getenv("UDD_VM_NVME");
	REQUIRE(edu_bdf && nvme_bdf);
	sci_error_t err;
	sci_desc_t sd;
	SCIInitialize(0, &err);
	REQUIRE(err == SCI_ERR_OK);
	SCIOpen(&sd, 0, &err);
	REQUIRE(err == SCI_ERR_OK);

	/* ---- the pool ---- */
	unsigned all[16];
	int n = SCIGetDeviceList(sd, all, 16, NULL, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK_EQ(n, 2); /* UDD_NO_EMBEDDED=1: exactly the guest's vfio-pci devices */
	CHECK_EQ(SCIGetDeviceList(sd, all, 1, NULL, 0, &err), 1);
	unsigned ids[4];
	CHECK_EQ(list(sd, 0xdead, 0, 0, ids, 4), 0);
	REQUIRE(list(sd, 0, 0, 0x010802, ids, 4) == 1);
	unsigned nvme = ids[0];
	REQUIRE(list(sd, 0x1234, 0x11e8, 0, ids, 4) == 1);
	unsigned edu = ids[0];
	CHECK(edu != nvme);

	sci_smartio_device_info_t info;
	char want[96];
	REQUIRE(query_info(nvme, &info) == SCI_ERR_OK);
	printf("nvme: fdid 0x%x %04x:%04x class %06x bar0 %llu '%s'\n", nvme, info.pci_vendor_id,
	       info.pci_device_id, info.pci_class, info.bar_size[0], info.user_name);
	CHECK_EQ(info.fdid, nvme);
	CHECK_EQ(info.pci_vendor_id, 0x1b36);
	CHECK_EQ(info.pci_device_id, 0x0010);
	CHECK_EQ(info.pci_class, 0x010802);
	CHECK(info.bar_size[0] >= 0x2000);
	snprintf(want, sizeof(want), "vfio:%s", nvme_bdf);
	CHECK(strcmp(info.user_name, want) == 0);
	REQUIRE(query_info(edu, &info) == SCI_ERR_OK);
	printf("edu: fdid 0x%x %04x:%04x class %06x bar0 %llu '%s'\n", edu, info.pci_vendor_id,
	       info.pci_device_id, info.pci_class, info.bar_size[0], info.user_name);
	CHECK_EQ(info.pci_class >> 16, 0x00);
	CHECK_EQ(info.bar_size[0], 1 << 20);
	snprintf(want, sizeof(want), "vfio:%s", edu_bdf);
	CHECK(strcmp(info.user_name, want) == 0);

	/* ---- borrowing ---- */
	sci_smartio_device_t dev = NULL, nv = NULL;
	unsigned bogus = 0x7ffffff0;
	while (bogus == edu || bogus == nvme)
		bogus--;
	SCIBorrowDevice(sd, &dev, bogus, SCI_FLAG_EXCLUSIVE, &err);
	CHECK_EQ(err, SCI_ERR_NO_SUCH_FDID);
	SCIBorrowDevice(sd, &dev, edu, 0, &err); /* VFIO: one process owns the group */
	CHECK_EQ(err, SCI_ERR_NOT_SUPPORTED);
	SCIBorrowDevice(sd, &dev, edu, SCI_FLAG_EXCLUSIVE, &err);
	REQUIRE(err == SCI_ERR_OK);
	CHECK_EQ(SCIGetFabricDeviceId(dev), edu);
	CHECK_EQ(sysfs_command(edu_bdf) & 0x6, 0x6); /* memory + bus master */
	CHECK_EQ(run_child(edu), 10);                 /* held here: NOT_AVAILABLE there */
	SCIBorrowDevice(sd, &nv, nvme, SCI_FLAG_EXCLUSIVE, &err);
	REQUIRE(err == SCI_ERR_OK);

	/* ---- edu's BAR0 through the SISCI pointer ---- */
	sci_remote_segment_t bar_seg, nope;
	SCIConnectDeviceSegment(dev, &nope, 1, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err);
	CHECK_EQ(err, SCI_ERR_NO_SUCH_SEGMENT);
	SCIConnectDeviceSegment(dev, &bar_seg, 0, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err);
	REQUIRE(err == SCI_ERR_OK);
	CHECK_EQ(SCIGetRemoteSegmentSize(bar_seg), 1 << 20);
	struct sigaction before, after;
	sigaction(SIGSEGV, NULL, &before);
	sci_map_t bar_map;
	volatile void *bar = SCIMapRemoteSegment(bar_seg, &bar_map, 0, 1 << 20, NULL,
						 SCI_FLAG_IO_MAP_IOSPACE, &err);
	REQUIRE(err == SCI_ERR_OK && bar != NULL);
	sigaction(SIGSEGV, NULL, &after);
	/* VFIO mmaps edu's BAR0: the pointer is the mapping, no trap handler. */
	CHECK(after.sa_handler == before.sa_handler && after.sa_flags == before.sa_flags);
	CHECK(after.sa_handler == SIG_DFL);
	CHECK_EQ(SCIGetMapSize(bar_map), 1 << 20);
	CHECK_EQ(*reg32(bar, EDU_ID), 0x010000ed);
	*reg32(bar, EDU_LIVENESS) = 0x5a5a0001;
	CHECK_EQ(*reg32(bar, EDU_LIVENESS), ~0x5a5a0001u);

	sci_sequence_t seq;
	SCICreateMapSequence(bar_map, &seq, 0, &err);
	REQUIRE(err == SCI_ERR_OK);
	CHECK_EQ(SCIStartSequence(seq, 0, &err), SCI_SEQ_OK);
	uint32_t idcopy = 0;
	SCIMemCpy(seq, &idcopy, bar_map, EDU_ID, sizeof(idcopy), SCI_FLAG_BLOCK_READ, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK_EQ(idcopy, 0x010000ed);
	CHECK_EQ(SCICheckSequence(seq, 0, &err), SCI_SEQ_OK);
	SCIRemoveSequence(seq, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);

	/* ---- a local segment for the device, a DMA round trip ---- */
	sci_local_segment_t seg;
	SCICreateSegment(sd, &seg, 0, 2 * PAGE, NULL, NULL, SCI_FLAG_AUTO_ID | SCI_FLAG_PRIVATE,
			 &err);
	REQUIRE(err == SCI_ERR_OK);
	SCIPrepareSegment(seg, 0, 0, &err);
	REQUIRE(err == SCI_ERR_OK);
	sci_ioaddr_t io = 0, io2 = 0;
	SCIMapLocalSegmentForDevice(seg, 0, dev, &io, 0, 2 * PAGE, 0, &err);
	REQUIRE(err == SCI_ERR_OK);
	SCIMapLocalSegmentForDevice(seg, 0, dev, &io2, PAGE, PAGE, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK_EQ(io2, io + PAGE); /* one window for the whole segment */
	printf("segment window for edu at ioaddr 0x%llx\n", io);
	CHECK(io % PAGE == 0 && io != 0);
	CHECK(io + 2 * PAGE <= EDU_DMA_LIMIT);
	sci_query_local_segment_t ql = { .subcommand = SCI_Q_LOCAL_SEGMENT_IOADDR, .segment = seg };
	SCIQuery(SCI_Q_LOCAL_SEGMENT, &ql, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK_EQ(ql.data.ioaddr, io);
	sci_map_t seg_map;
	uint8_t *mem = SCIMapLocalSegment(seg, &seg_map, 0, 2 * PAGE, NULL, 0, &err);
	REQUIRE(err == SCI_ERR_OK && mem != NULL);
	for (int i = 0; i < 2048; i++) {
		mem[i] = (uint8_t)(i * 13 + 5);
		mem[PAGE + i] = 0;
	}
	CHECK_EQ(edu_dma(bar, io, EDU_BUF, 2048, 0), 0);                  /* RAM -> edu */
	CHECK_EQ(edu_dma(bar, EDU_BUF, io + PAGE, 2048, EDU_CMD_TO_RAM), 0); /* edu -> RAM */
	CHECK(memcmp(mem, mem + PAGE, 2048) == 0);

	/* ---- the IOMMU closes the window ---- */
	SCIUnmapLocalSegmentForDevice(seg, 0, dev, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIQuery(SCI_Q_LOCAL_SEGMENT, &ql, 0, &err);
	CHECK_EQ(err, SCI_ERR_NOT_AVAILABLE);
	SCIUnmapLocalSegmentForDevice(seg, 0, dev, 0, &err);
	CHECK_EQ(err, SCI_ERR_NOT_CONNECTED);
	memset(mem + PAGE, 0xc3, 2048);
	CHECK_EQ(edu_dma(bar, EDU_BUF, io + PAGE, 2048, EDU_CMD_TO_RAM), 0); /* blocked */
	int canary = 1;
	for (int i = 0; i < 2048; i++)
		if (mem[PAGE + i] != 0xc3)
			canary = 0;
	CHECK(canary);

	/* ---- peer-to-peer: edu reads nvme's registers by DMA ---- */
	sci_remote_segment_t nv_bar;
	SCIConnectDeviceSegment(nv, &nv_bar, 0, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err);
	REQUIRE(err == SCI_ERR_OK);
	sci_map_t nv_map;
	volatile void *nvr = SCIMapRemoteSegment(nv_bar, &nv_map, 0, 0, NULL,
						 SCI_FLAG_IO_MAP_IOSPACE, &err);
	REQUIRE(err == SCI_ERR_OK);
	uint32_t regs[4] = { *reg32(nvr, 0), *reg32(nvr, 4), *reg32(nvr, 8), 0 };
	printf("nvme CAP 0x%08x%08x VS 0x%08x\n", regs[1], regs[0], regs[2]);
	CHECK_EQ(regs[2], 0x00010400);
	sci_ioaddr_t p2p = 0;
	SCIMapRemoteSegmentForDevice(nv_bar, dev, &p2p, 0, 0, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	if (err == SCI_ERR_OK) {
		printf("nvme BAR0 window for edu at ioaddr 0x%llx\n", p2p);
		CHECK(p2p + 12 <= EDU_DMA_LIMIT);
		sci_query_remote_segment_t qr = { .subcommand = SCI_Q_REMOTE_SEGMENT_IOADDR,
						  .segment = nv_bar };
		SCIQuery(SCI_Q_REMOTE_SEGMENT, &qr, 0, &err);
		CHECK_EQ(err, SCI_ERR_OK);
		CHECK_EQ(qr.data.ioaddr, p2p);
		/* Back through a window on the same memory: edu -> RAM needs one. */
		SCIMapLocalSegmentForDevice(seg, 0, dev, &io, 0, 2 * PAGE, 0, &err);
		REQUIRE(err == SCI_ERR_OK);
		memset(mem, 0xee, 64);
		CHECK_EQ(edu_dma(bar, p2p, EDU_BUF, 12, 0), 0);          /* nvme BAR -> edu */
		CHECK_EQ(edu_dma(bar, EDU_BUF, io, 12, EDU_CMD_TO_RAM), 0); /* edu -> RAM */
		uint32_t got[3];
		memcpy(got, mem, sizeof(got));
		printf("edu read by DMA from nvme: CAP 0x%08x%08x VS 0x%08x\n", got[1], got[0],
		       got[2]);
		CHECK(memcmp(got, regs, sizeof(got)) == 0);
		CHECK_EQ(mem[12], 0xee);
		SCIReturnDevice(nv, 0, &err);
		CHECK_EQ(err, SCI_ERR_BUSY); /* BAR connected, window for edu */
		SCIUnmapRemoteSegmentForDevice(nv_bar, dev, 0, &err);
		CHECK_EQ(err, SCI_ERR_OK);
		SCIUnmapLocalSegmentForDevice(seg, 0, dev, 0, &err);
		CHECK_EQ(err, SCI_ERR_OK);
	}
	SCIUnmapSegment(nv_map, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIDisconnectSegment(nv_bar, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIReturnDevice(nv, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);

	/* ---- teardown, with BUSY where SISCI has it ---- */
	SCIUnmapSegment(seg_map, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIRemoveSegment(seg, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIReturnDevice(dev, 0, &err);
	CHECK_EQ(err, SCI_ERR_BUSY); /* BAR0 still connected */
	SCIUnmapSegment(bar_map, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIDisconnectSegment(bar_seg, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCIReturnDevice(dev, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	CHECK_EQ(run_child(edu), 0); /* returned: another process can have it */
	SCIClose(sd, 0, &err);
	CHECK_EQ(err, SCI_ERR_OK);
	SCITerminate();
	return t_done("sisci_guest");
}
