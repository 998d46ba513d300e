/* SPDX-License-Identifier: MIT */
/*
 * nvme_identify: an NVMe identify-controller program written only against
 * Dolphin's SISCI SmartIO API (sisci_api.h), in the style of Dolphin's
 * "Writing drivers with SmartIO":
 *
 *  - SCIGetDeviceList with a filter on the NVMe class code (0x010802), then
 *    SCIBorrowDevice(SCI_FLAG_EXCLUSIVE) on the first one that can be had;
 *  - BAR0 (the controller registers) as a device segment, mapped with
 *    SCI_FLAG_IO_MAP_IOSPACE (uncached, no write combining);
 *  - the admin submission and completion queues and the identify buffer in
 *    one local segment, mapped for the device (SCIMapLocalSegmentForDevice);
 *  - controller disable / admin queue setup / enable as the NVMe base
 *    specification describes it (7.6.1), one Identify Controller command
 *    (opcode 06h, CNS 01h), its completion found by polling the phase tag;
 *  - prints model number, serial number and firmware revision.
 *
 * Usage: nvme_identify [FDID]
 * Exit status: 0 identified, 1 error, 2 no NVMe controller could be borrowed.
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep, clock_gettime */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sisci_api.h"
#include "sisci_error.h"
#include "sisci_types.h"

#include "nvme_regs.h"

#define PAGE 4096u
#define QDEPTH 16u /* admin queue entries (both queues) */
/* Layout of the local segment: one page each. */
#define SEG_ASQ 0u
#define SEG_ACQ PAGE
#define SEG_IDENT (2 * PAGE)
#define SEG_SIZE (3 * PAGE)

_Static_assert(QDEPTH * sizeof(struct nvme_sqe) <= PAGE, "ASQ fits its page");
_Static_assert(QDEPTH * sizeof(struct nvme_cqe) <= PAGE, "ACQ fits its page");

static volatile uint32_t *reg32(volatile void *bar, size_t off)
{
	return (volatile uint32_t *)(void *)((volatile uint8_t *)bar + off);
}

static uint32_t rd32(volatile void *bar, size_t off)
{
	return *reg32(bar, off);
}

static void wr32(volatile void *bar, size_t off, uint32_t v)
{
	*reg32(bar, off) = v;
}

/* 64-bit registers as two 32-bit accesses, low half first (NVMe 1.4 3.1:
 * 64-bit registers may be accessed as a pair of 32-bit accesses). */
static uint64_t rd64(volatile void *bar, size_t off)
{
	uint64_t lo = rd32(bar, off);
	uint64_t hi = rd32(bar, off + 4);
	return lo | hi << 32;
}

static void wr64(volatile void *bar, size_t off, uint64_t v)
{
	wr32(bar, off, (uint32_t)v);
	wr32(bar, off + 4, (uint32_t)(v >> 32));
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void pause_ms(void)
{
	struct timespec ts = { 0, 1000 * 1000 };
	nanosleep(&ts, NULL);
}

/* Wait until CSTS.RDY == rdy; a fatal controller status ends the wait. */
static int wait_ready(volatile void *bar, uint32_t rdy, uint32_t timeout_ms)
{
	uint64_t end = now_ms() + timeout_ms;
	for (;;) {
		uint32_t csts = rd32(bar, NVME_REG_CSTS);
		if (csts == 0xffffffffu) {
			fprintf(stderr, "nvme_identify: CSTS reads all ones: the device is gone\n");
			return -1;
		}
		if ((csts & NVME_CSTS_RDY) == rdy)
			return 0;
		if (rdy && (csts & NVME_CSTS_CFS)) {
			fprintf(stderr, "nvme_identify: controller fatal status (CSTS 0x%x)\n", csts);
			return -1;
		}
		if (now_ms() > end) {
			fprintf(stderr, "nvme_identify: CSTS.RDY did not become %u within %u ms\n",
				rdy, timeout_ms);
			return -1;
		}
		pause_ms();
	}
}

/* Clear CC.EN and wait for CSTS.RDY to follow (NVMe 1.4 3.1.5, 7.6.1). */
static int disable(volatile void *bar, uint32_t timeout_ms)
{
	uint32_t cc = rd32(bar, NVME_REG_CC);
	if (cc & NVME_CC_EN)
		wr32(bar, NVME_REG_CC, cc & ~NVME_CC_EN);
	return wait_ready(bar, 0, timeout_ms);
}

/* Copy an ASCII identify field without its space padding. */
static void field(char *out, const char *in, size_t n)
{
	while (n > 0 && (in[n - 1] == ' ' || in[n - 1] == '\0'))
		n--;
	for (size_t i = 0; i < n; i++)
		out[i] = (in[i] >= 0x20 && in[i] < 0x7f) ? in[i] : '?';
	out[n] = '\0';
}

/*
 * Set the controller up with its admin queues in the segment, submit one
 * Identify Controller and wait for its completion. The caller has mapped
 * BAR0 (bar) and the segment for the CPU (mem) and for the device (ioaddr).
 */
static int identify(volatile void *bar, uint8_t *mem, sci_ioaddr_t ioaddr)
{
	uint64_t cap = rd64(bar, NVME_REG_CAP);
	uint32_t vs = rd32(bar, NVME_REG_VS);
	uint32_t to_ms = NVME_CAP_TO_MS(cap) < 1000 ? 1000 : NVME_CAP_TO_MS(cap);
	unsigned dstrd = NVME_CAP_DSTRD(cap);
	uint32_t depth = NVME_CAP_MQES(cap) < QDEPTH ? NVME_CAP_MQES(cap) : QDEPTH;

	printf("nvme_identify: CAP 0x%016llx (MQES %u, DSTRD %u, TO %u ms), VS %u.%u.%u\n",
	       (unsigned long long)cap, NVME_CAP_MQES(cap), dstrd, to_ms, vs >> 16,
	       (vs >> 8) & 0xff, vs & 0xff);
	if (cap == UINT64_MAX || depth < 2) {
		fprintf(stderr, "nvme_identify: CAP 0x%llx: not a usable NVMe controller\n",
			(unsigned long long)cap);
		return -1;
	}
	if (NVME_CAP_MPSMIN(cap) != 0 || !NVME_CAP_CSS_NVM(cap)) {
		fprintf(stderr, "nvme_identify: the controller supports no 4 KiB pages or no NVM "
				"command set (CAP 0x%llx)\n", (unsigned long long)cap);
		return -1;
	}
	if (ioaddr % PAGE) {
		fprintf(stderr, "nvme_identify: segment bus address 0x%llx is not page aligned\n",
			(unsigned long long)ioaddr);
		return -1;
	}

	/* 7.6.1: disable, program the admin queues, enable. */
	if (disable(bar, to_ms) < 0)
		return -1;
	memset(mem, 0, SEG_SIZE);
	wr32(bar, NVME_REG_INTMS, 0xffffffffu); /* polled: no interrupts wanted */
	wr32(bar, NVME_REG_AQA, NVME_AQA(depth, depth));
	wr64(bar, NVME_REG_ASQ, ioaddr + SEG_ASQ);
	wr64(bar, NVME_REG_ACQ, ioaddr + SEG_ACQ);
	wr32(bar, NVME_REG_CC, NVME_CC_CSS_NVM | NVME_CC_MPS(0) | NVME_CC_AMS_RR |
				       NVME_CC_IOSQES(NVME_SQES_LOG2) |
				       NVME_CC_IOCQES(NVME_CQES_LOG2) | NVME_CC_EN);
	if (wait_ready(bar, NVME_CSTS_RDY, to_ms) < 0)
		return -1;

	/* 5.15: Identify, CNS 01h, data into the segment's third page (one
	 * page-aligned page: PRP1 alone describes it). */
	struct nvme_sqe *sq = (struct nvme_sqe *)(void *)(mem + SEG_ASQ);
	volatile struct nvme_cqe *cq = (volatile struct nvme_cqe *)(void *)(mem + SEG_ACQ);
	memset(&sq[0], 0, sizeof(sq[0]));
	sq[0].opc = NVME_ADMIN_IDENTIFY;
	sq[0].cid = 0x1d;
	sq[0].nsid = 0;
	sq[0].prp1 = ioaddr + SEG_IDENT;
	sq[0].cdw10 = NVME_CNS_CONTROLLER;
	SCIFlush(NULL, 0); /* the command is in memory before the doorbell rings */
	wr32(bar, NVME_SQ_TDBL(0, dstrd), 1);

	/* 4.6: a new completion has the phase tag of the current pass (1 on
	 * the first pass through a zeroed queue). */
	uint64_t end = now_ms() + 5000;
	while (NVME_CQE_PHASE(cq[0].status) != 1) {
		if (now_ms() > end) {
			fprintf(stderr, "nvme_identify: no completion within 5 s (CSTS 0x%x)\n",
				rd32(bar, NVME_REG_CSTS));
			return -1;
		}
		pause_ms();
	}
	uint16_t st = cq[0].status;
	uint16_t cid = cq[0].cid;
	uint16_t sqhd = cq[0].sqhd;
	wr32(bar, NVME_CQ_HDBL(0, dstrd), 1); /* consumed: head moves to 1 */
	if (cid != 0x1d || NVME_CQE_SC(st) != 0 || NVME_CQE_SCT(st) != 0) {
		fprintf(stderr, "nvme_identify: completion cid 0x%x sqhd %u: status type %u code 0x%x\n",
			cid, sqhd, NVME_CQE_SCT(st), NVME_CQE_SC(st));
		return -1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	sci_error_t err;
	sci_desc_t sd;
	sci_smartio_device_t dev;
	sci_remote_segment_t bar_seg;
	sci_map_t bar_map, seg_map;
	sci_local_segment_t seg;
	sci_ioaddr_t ioaddr;
	unsigned int ids[64];
	int rc = 1;

	SCIInitialize(0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIInitialize: %s\n", SCIGetErrorString(err));
		return 1;
	}
	SCIOpen(&sd, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIOpen: %s\n", SCIGetErrorString(err));
		goto terminate;
	}

	/* Find NVMe controllers and borrow the first one we can have alone. */
	int n;
	if (argc > 1) {
		ids[0] = (unsigned int)strtoul(argv[1], NULL, 0);
		n = 1;
	} else {
		sci_smartio_device_info_t filter;
		memset(&filter, 0, sizeof(filter));
		filter.pci_class = NVME_PCI_CLASS;
		n = SCIGetDeviceList(sd, ids, 64, &filter, 0, &err);
		if (err != SCI_ERR_OK) {
			fprintf(stderr, "SCIGetDeviceList: %s\n", SCIGetErrorString(err));
			goto close;
		}
	}
	int it;
	for (it = 0; it < n; it++) {
		SCIBorrowDevice(sd, &dev, ids[it], SCI_FLAG_EXCLUSIVE, &err);
		if (err == SCI_ERR_OK)
			break;
	}
	if (it == n) {
		if (n == 0)
			fprintf(stderr, "nvme_identify: no NVMe controller (class 0x%06x) in the "
					"SmartIO pool\n", NVME_PCI_CLASS);
		else
			fprintf(stderr, "nvme_identify: none of the %d NVMe controller(s) could be "
					"borrowed: %s\n", n, SCIGetErrorString(err));
		rc = 2;
		goto close;
	}

	sci_smartio_device_info_t info;
	sci_smartio_query_device_t q = { .subcommand = SCI_Q_DEVICE_INFO,
					 .fdid = SCIGetFabricDeviceId(dev), .data = &info };
	memset(&info, 0, sizeof(info));
	SCIQuery(SCI_Q_DEVICE, &q, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIQuery(SCI_Q_DEVICE_INFO): %s\n", SCIGetErrorString(err));
		goto give_back;
	}
	printf("nvme_identify: fdid 0x%x, %04x:%04x class %06x (%s)\n", q.fdid,
	       info.pci_vendor_id, info.pci_device_id, info.pci_class, info.user_name);

	/* BAR0: the controller registers, uncached. */
	SCIConnectDeviceSegment(dev, &bar_seg, 0, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIConnectDeviceSegment(BAR0): %s\n", SCIGetErrorString(err));
		goto give_back;
	}
	size_t size = SCIGetRemoteSegmentSize(bar_seg);
	if (size < NVME_SQ_TDBL(0, 0) + 8) {
		fprintf(stderr, "nvme_identify: BAR0 is %zu bytes: too small for NVMe\n", size);
		goto disconnect;
	}
	volatile void *bar = SCIMapRemoteSegment(bar_seg, &bar_map, 0, size, NULL,
						 SCI_FLAG_IO_MAP_IOSPACE, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIMapRemoteSegment(BAR0): %s\n", SCIGetErrorString(err));
		goto disconnect;
	}

	/* Queues and identify data: a local segment the controller can reach. */
	SCICreateSegment(sd, &seg, 0, SEG_SIZE, NULL, NULL, SCI_FLAG_AUTO_ID | SCI_FLAG_PRIVATE,
			 &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCICreateSegment: %s\n", SCIGetErrorString(err));
		goto unmap_bar;
	}
	SCIPrepareSegment(seg, 0, 0, &err);
	if (err == SCI_ERR_OK)
		SCIMapLocalSegmentForDevice(seg, 0, dev, &ioaddr, 0, SEG_SIZE, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "mapping the segment for the device: %s\n", SCIGetErrorString(err));
		goto remove_seg;
	}
	uint8_t *mem = SCIMapLocalSegment(seg, &seg_map, 0, SEG_SIZE, NULL, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIMapLocalSegment: %s\n", SCIGetErrorString(err));
		goto unmap_dev;
	}

	int ok = identify(bar, mem, ioaddr) == 0;
	const struct nvme_id_ctrl *id = (const struct nvme_id_ctrl *)(const void *)(mem + SEG_IDENT);
	if (ok && id->vid != info.pci_vendor_id) {
		/* The first field of the identify data is the PCI vendor id: if it
		 * is not there, the data did not arrive in our segment. */
		fprintf(stderr, "nvme_identify: identify data says vendor 0x%04x, the device is "
				"0x%04x: the DMA did not land in the segment\n",
			id->vid, info.pci_vendor_id);
		ok = 0;
	}
	if (ok) {
		char mn[sizeof(id->mn) + 1], sn[sizeof(id->sn) + 1], fr[sizeof(id->fr) + 1];
		field(mn, id->mn, sizeof(id->mn));
		field(sn, id->sn, sizeof(id->sn));
		field(fr, id->fr, sizeof(id->fr));
		printf("nvme_identify: model \"%s\", serial \"%s\", firmware \"%s\", "
		       "controller id %u, identify data at ioaddr 0x%llx\n",
		       mn, sn, fr, id->cntlid, (unsigned long long)(ioaddr + SEG_IDENT));
		rc = 0;
	}
	/* Stop the controller before its queues go away. */
	uint64_t cap = rd64(bar, NVME_REG_CAP);
	if (disable(bar, NVME_CAP_TO_MS(cap) < 1000 ? 1000 : NVME_CAP_TO_MS(cap)) < 0)
		rc = 1;

	SCIUnmapSegment(seg_map, 0, &err);
unmap_dev:
	SCIUnmapLocalSegmentForDevice(seg, 0, dev, 0, &err);
remove_seg:
	do
		SCIRemoveSegment(seg, 0, &err);
	while (err == SCI_ERR_BUSY);
unmap_bar:
	SCIUnmapSegment(bar_map, 0, &err);
disconnect:
	do
		SCIDisconnectSegment(bar_seg, 0, &err);
	while (err == SCI_ERR_BUSY);
give_back:
	SCIReturnDevice(dev, 0, &err);
close:
	SCIClose(sd, 0, &err);
terminate:
	SCITerminate();
	return rc;
}
