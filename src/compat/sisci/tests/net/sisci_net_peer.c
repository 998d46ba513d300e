/* SPDX-License-Identifier: MIT */
/*
 * sisci_net_peer: a SISCI program run on a borrower host of a udd cluster
 * (net_sisci.sh: network namespaces, udd-gw with a cluster key). Written
 * only against sisci_api.h, as a SmartIO program would be.
 *
 * Usage: sisci_net_peer LOCAL_NODE REMOTE_NODE
 *
 * Checks: SCIGetLocalNodeId is the cluster's node id; SCIGetDeviceList lists
 * this host's and the remote host's devices, with and without filters; the
 * device info gives each device's node; the remote edu, found by its node,
 * is borrowed exclusively; its BAR0 mapped with SCIMapRemoteSegment (every
 * access a trapped round trip through the gateway) reads the id register,
 * the liveness register and computes factorials; a local segment mapped for
 * the remote device carries a DMA round trip through edu's buffer (the
 * device reads and writes this host's memory through DMA_READ/DMA_WRITE
 * messages), with SCICacheSync around it as a portable program does.
 * Prints one line per check; the exit status is the number of failures.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sisci_api.h"
#include "sisci_error.h"
#include "sisci_types.h"

#define EDU_ID 0x00
#define EDU_LIVENESS 0x04
#define EDU_FACT 0x08
#define EDU_STATUS 0x20
#define EDU_STATUS_COMPUTING 0x01
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_BUF 0x40000
#define DMA_BYTES 2048

static int fails, checks;

static void check(int cond, const char *what, sci_error_t e)
{
	checks++;
	if (cond) {
		printf("ok: %s\n", what);
	} else {
		fails++;
		printf("FAIL: %s (%s)\n", what, SCIGetErrorString(e));
	}
	fflush(stdout);
}

static volatile uint32_t *reg32(volatile void *bar, size_t off)
{
	return (volatile uint32_t *)(void *)((volatile uint8_t *)bar + off);
}

static volatile uint64_t *reg64(volatile void *bar, size_t off)
{
	return (volatile uint64_t *)(void *)((volatile uint8_t *)bar + off);
}

static void nap_ms(long ms)
{
	struct timespec ts = { 0, ms * 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* Bounded: 2000 polls of a trapped register, 1 ms apart. */
static int wait_clear(volatile void *bar, size_t off, uint32_t bit)
{
	for (int i = 0; i < 2000; i++) {
		if (!(*reg32(bar, off) & bit))
			return 0;
		nap_ms(1);
	}
	return -1;
}

static int dma(volatile void *bar, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	*reg64(bar, EDU_DMA_SRC) = src;
	*reg64(bar, EDU_DMA_DST) = dst;
	*reg64(bar, EDU_DMA_COUNT) = len;
	*reg64(bar, EDU_DMA_CMD) = EDU_CMD_START | dir;
	return wait_clear(bar, EDU_DMA_CMD, EDU_CMD_START);
}

static int fact(volatile void *bar, uint32_t n, uint32_t *out)
{
	*reg32(bar, EDU_FACT) = n;
	if (wait_clear(bar, EDU_STATUS, EDU_STATUS_COMPUTING) < 0)
		return -1;
	*out = *reg32(bar, EDU_FACT);
	return 0;
}

static int info_of(sci_desc_t sd, unsigned fdid, sci_smartio_device_info_t *info)
{
	sci_smartio_query_device_t q;
	sci_error_t e;
	memset(&q, 0, sizeof(q));
	q.subcommand = SCI_Q_DEVICE_INFO;
	q.fdid = fdid;
	q.data = info;
	SCIQuery(SCI_Q_DEVICE, &q, 0, &e);
	(void)sd;
	return e == SCI_ERR_OK ? 0 : -1;
}

/* The remote edu: a DMA round trip through a local segment. */
static void dma_round_trip(sci_desc_t sd, sci_smartio_device_t dev, volatile void *bar)
{
	sci_error_t e;
	sci_local_segment_t seg;
	sci_map_t map;
	sci_ioaddr_t io = 0;
	char what[128];

	SCICreateSegment(sd, &seg, 0, 8192, NULL, NULL, SCI_FLAG_AUTO_ID | SCI_FLAG_PRIVATE, &e);
	check(e == SCI_ERR_OK, "SCICreateSegment (8 KiB)", e);
	if (e != SCI_ERR_OK)
		return;
	SCIPrepareSegment(seg, 0, 0, &e);
	if (e == SCI_ERR_OK)
		SCIMapLocalSegmentForDevice(seg, 0, dev, &io, 0, 8192, 0, &e);
	snprintf(what, sizeof(what), "SCIMapLocalSegmentForDevice on the remote edu (ioaddr %#llx)",
		 (unsigned long long)io);
	check(e == SCI_ERR_OK, what, e);
	if (e != SCI_ERR_OK)
		goto remove;
	uint8_t *buf = SCIMapLocalSegment(seg, &map, 0, 8192, NULL, 0, &e);
	check(e == SCI_ERR_OK && buf, "SCIMapLocalSegment", e);
	if (e != SCI_ERR_OK)
		goto unmap_dev;
	for (int i = 0; i < DMA_BYTES; i++) {
		buf[i] = (uint8_t)(i * 7 + 3);
		buf[4096 + i] = 0;
	}
	/* the CPU wrote, the device will read */
	SCICacheSync(map, buf, DMA_BYTES, SCI_FLAG_CACHE_FLUSH, &e);
	check(e == SCI_ERR_OK, "SCICacheSync(FLUSH) before the device reads", e);
	int rc = dma(bar, io, EDU_BUF, DMA_BYTES, 0);
	check(rc == 0, "edu DMA: this host's segment -> the remote edu's buffer", e);
	rc = rc ? rc : dma(bar, EDU_BUF, io + 4096, DMA_BYTES, EDU_CMD_TO_RAM);
	check(rc == 0, "edu DMA: the remote edu's buffer -> this host's segment", e);
	/* the device wrote, the CPU will read */
	SCICacheSync(map, buf + 4096, DMA_BYTES, SCI_FLAG_CACHE_INVALIDATE, &e);
	check(e == SCI_ERR_OK, "SCICacheSync(INVALIDATE) after the device wrote", e);
	check(rc == 0 && memcmp(buf, buf + 4096, DMA_BYTES) == 0,
	      "DMA round trip through the remote edu: the bytes came back", SCI_ERR_OK);
	SCIUnmapSegment(map, 0, &e);
unmap_dev:
	SCIUnmapLocalSegmentForDevice(seg, 0, dev, 0, &e);
	check(e == SCI_ERR_OK, "SCIUnmapLocalSegmentForDevice", e);
remove:
	SCIRemoveSegment(seg, 0, &e);
}

static void use_remote_edu(sci_desc_t sd, unsigned fdid, unsigned rnode)
{
	sci_error_t e;
	sci_smartio_device_t dev;
	sci_remote_segment_t bar_seg;
	sci_map_t bar_map;
	char what[160];

	SCIBorrowDevice(sd, &dev, fdid, SCI_FLAG_EXCLUSIVE, &e);
	snprintf(what, sizeof(what), "SCIBorrowDevice(%#x, EXCLUSIVE): the remote edu", fdid);
	check(e == SCI_ERR_OK, what, e);
	if (e != SCI_ERR_OK)
		return;
	check(SCIGetFabricDeviceId(dev) == fdid, "SCIGetFabricDeviceId", SCI_ERR_OK);
	sci_smartio_device_info_t info;
	check(info_of(sd, fdid, &info) == 0 && info.nodeid == rnode,
	      "device info of the borrowed device: the remote node", SCI_ERR_OK);

	SCIConnectDeviceSegment(dev, &bar_seg, 0, SCI_MEMTYPE_BAR, NULL, NULL, 0, &e);
	check(e == SCI_ERR_OK, "SCIConnectDeviceSegment(BAR0)", e);
	if (e != SCI_ERR_OK)
		goto give_back;
	check(SCIGetRemoteSegmentNodeId(bar_seg) == rnode, "SCIGetRemoteSegmentNodeId: the remote node",
	      SCI_ERR_OK);
	size_t size = SCIGetRemoteSegmentSize(bar_seg);
	volatile void *bar = SCIMapRemoteSegment(bar_seg, &bar_map, 0, size, NULL,
						 SCI_FLAG_IO_MAP_IOSPACE, &e);
	check(e == SCI_ERR_OK && bar, "SCIMapRemoteSegment(BAR0, IO_MAP_IOSPACE)", e);
	if (e != SCI_ERR_OK)
		goto disconnect;

	/* A remote BAR cannot be mapped (nothing crosses TCP but messages):
	 * the layer's SIGSEGV handler traps every access. */
	struct sigaction sa;
	check(sigaction(SIGSEGV, NULL, &sa) == 0 && (sa.sa_flags & SA_SIGINFO),
	      "the remote BAR is trapped (the layer's SIGSEGV handler is installed)", SCI_ERR_OK);
	uint32_t id = *reg32(bar, EDU_ID);
	snprintf(what, sizeof(what), "id register through the pointer: %#010x", id);
	check(id == 0x010000ed, what, SCI_ERR_OK);
	*reg32(bar, EDU_LIVENESS) = 0x12345678;
	check(*reg32(bar, EDU_LIVENESS) == ~0x12345678u, "liveness register: ~written", SCI_ERR_OK);
	uint32_t f5 = 0, f10 = 0;
	check(fact(bar, 5, &f5) == 0 && f5 == 120, "factorial: 5! = 120 by the remote edu",
	      SCI_ERR_OK);
	check(fact(bar, 10, &f10) == 0 && f10 == 3628800u, "factorial: 10! = 3628800", SCI_ERR_OK);

	dma_round_trip(sd, dev, bar);

	SCIUnmapSegment(bar_map, 0, &e);
	check(e == SCI_ERR_OK, "SCIUnmapSegment(BAR0)", e);
disconnect:
	SCIDisconnectSegment(bar_seg, 0, &e);
give_back:
	SCIReturnDevice(dev, 0, &e);
	check(e == SCI_ERR_OK, "SCIReturnDevice", e);
}

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: sisci_net_peer LOCAL_NODE REMOTE_NODE\n");
		return 100;
	}
	unsigned lnode = (unsigned)strtoul(argv[1], NULL, 0);
	unsigned rnode = (unsigned)strtoul(argv[2], NULL, 0);
	sci_error_t e;
	sci_desc_t sd;
	char what[160];

	SCIInitialize(0, &e);
	SCIOpen(&sd, 0, &e);
	check(e == SCI_ERR_OK, "SCIInitialize + SCIOpen", e);
	if (e != SCI_ERR_OK)
		return 1;
	unsigned me = 0;
	SCIGetLocalNodeId(0, &me, 0, &e);
	snprintf(what, sizeof(what), "SCIGetLocalNodeId: %u (the cluster file's node)", me);
	check(e == SCI_ERR_OK && me == lnode, what, e);

	/* Every device of the cluster, and on which node. */
	unsigned ids[64];
	int n = SCIGetDeviceList(sd, ids, 64, NULL, 0, &e);
	int here = 0, there = 0, other = 0;
	for (int i = 0; i < n; i++) {
		sci_smartio_device_info_t info;
		if (info_of(sd, ids[i], &info) < 0)
			other++;
		else if (info.nodeid == lnode)
			here++;
		else if (info.nodeid == rnode && ids[i] >> 21 == rnode)
			there++;
		else
			other++;
	}
	snprintf(what, sizeof(what),
		 "SCIGetDeviceList: %d devices, %d on node %u (here), %d on node %u", n, here, lnode,
		 there, rnode);
	check(e == SCI_ERR_OK && here >= 4 && there >= 4 && other == 0, what, e);

	/* The filter works the same on remote devices. */
	sci_smartio_device_info_t f;
	memset(&f, 0, sizeof(f));
	f.pci_vendor_id = 0x1234;
	f.pci_device_id = 0x11e8;
	n = SCIGetDeviceList(sd, ids, 64, &f, 0, &e);
	unsigned remote_edu = 0;
	int edus_here = 0, edus_there = 0, wrong = 0;
	for (int i = 0; i < n; i++) {
		sci_smartio_device_info_t info;
		if (info_of(sd, ids[i], &info) < 0 || info.pci_vendor_id != 0x1234 ||
		    info.pci_device_id != 0x11e8) {
			wrong++;
			continue;
		}
		if (info.nodeid == rnode) {
			edus_there++;
			remote_edu = ids[i];
		} else if (info.nodeid == lnode) {
			edus_here++;
		}
	}
	snprintf(what, sizeof(what), "filter 1234:11e8: %d edus, one here and one on node %u", n,
		 rnode);
	check(e == SCI_ERR_OK && n == 2 && edus_here == 1 && edus_there == 1 && !wrong, what, e);
	memset(&f, 0, sizeof(f));
	f.pci_class = 0x010802; /* NVMe */
	n = SCIGetDeviceList(sd, ids, 64, &f, 0, &e);
	check(e == SCI_ERR_OK && n == 2, "class filter 0x010802: both hosts' NVMe controllers", e);
	f.pci_vendor_id = 0xdead;
	n = SCIGetDeviceList(sd, ids, 64, &f, 0, &e);
	check(e == SCI_ERR_OK && n == 0, "a filter matching nothing: 0", e);

	if (remote_edu)
		use_remote_edu(sd, remote_edu, rnode);

	SCIClose(sd, 0, &e);
	check(e == SCI_ERR_OK, "SCIClose", e);
	SCITerminate();
	printf("sisci_net_peer: %d checks, %d failed\n", checks, fails);
	return fails;
}
