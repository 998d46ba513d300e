/* SPDX-License-Identifier: MIT */
/*
 * edu_smartio: a driver for QEMU's educational PCI device written only
 * against Dolphin's SISCI SmartIO API (sisci_api.h), in the style of
 * Dolphin's "Writing drivers with SmartIO": find the device with a filter,
 * borrow it exclusively, connect and map BAR0 (SCI_FLAG_IO_MAP_IOSPACE),
 * check the identification and liveness registers through the pointer,
 * then give the device a local segment (SCIMapLocalSegmentForDevice) and
 * run a DMA round trip through the device's buffer.
 *
 * Usage: edu_smartio [FDID]
 */
#define _POSIX_C_SOURCE 200809L /* nanosleep */
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
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_COUNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_TO_RAM 0x2
#define EDU_BUF 0x40000
#define DMA_BYTES 2048

static volatile uint32_t *reg32(volatile void *bar, size_t off)
{
	return (volatile uint32_t *)(void *)((volatile uint8_t *)bar + off);
}

static volatile uint64_t *reg64(volatile void *bar, size_t off)
{
	return (volatile uint64_t *)(void *)((volatile uint8_t *)bar + off);
}

static int dma(volatile void *bar, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	*reg64(bar, EDU_DMA_SRC) = src;
	*reg64(bar, EDU_DMA_DST) = dst;
	*reg64(bar, EDU_DMA_COUNT) = len;
	*reg64(bar, EDU_DMA_CMD) = EDU_CMD_START | dir;
	SCIFlush(NULL, 0);
	for (int i = 0; i < 5000; i++) {
		if (!(*reg32(bar, EDU_DMA_CMD) & EDU_CMD_START))
			return 0;
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -1;
}

int main(int argc, char **argv)
{
	sci_error_t err;
	sci_desc_t sd;
	sci_smartio_device_t dev;
	sci_remote_segment_t bar_seg;
	sci_map_t bar_map, buf_map;
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

	/* Find and borrow an edu. */
	int n;
	if (argc > 1) {
		ids[0] = (unsigned int)strtoul(argv[1], NULL, 0);
		n = 1;
	} else {
		sci_smartio_device_info_t filter;
		memset(&filter, 0, sizeof(filter));
		filter.pci_vendor_id = 0x1234;
		filter.pci_device_id = 0x11e8;
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
		fprintf(stderr, "edu_smartio: no edu could be borrowed (%d found)\n", n);
		goto close;
	}

	/* BAR0 as a remote segment, mapped uncached. */
	SCIConnectDeviceSegment(dev, &bar_seg, 0, SCI_MEMTYPE_BAR, NULL, NULL, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIConnectDeviceSegment: %s\n", SCIGetErrorString(err));
		goto give_back;
	}
	size_t size = SCIGetRemoteSegmentSize(bar_seg);
	volatile void *bar = SCIMapRemoteSegment(bar_seg, &bar_map, 0, size, NULL,
						 SCI_FLAG_IO_MAP_IOSPACE, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIMapRemoteSegment: %s\n", SCIGetErrorString(err));
		goto disconnect;
	}

	uint32_t id = *reg32(bar, EDU_ID);
	*reg32(bar, EDU_LIVENESS) = 0x12345678;
	uint32_t live = *reg32(bar, EDU_LIVENESS);
	if ((id & 0xff) != 0xed || live != ~0x12345678u) {
		fprintf(stderr, "edu_smartio: id 0x%08x liveness 0x%08x: not an edu\n", id, live);
		goto unmap_bar;
	}

	/* A local segment the device can reach. */
	SCICreateSegment(sd, &seg, 0, 4096, NULL, NULL, SCI_FLAG_AUTO_ID | SCI_FLAG_PRIVATE, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCICreateSegment: %s\n", SCIGetErrorString(err));
		goto unmap_bar;
	}
	SCIPrepareSegment(seg, 0, 0, &err);
	if (err == SCI_ERR_OK)
		SCIMapLocalSegmentForDevice(seg, 0, dev, &ioaddr, 0, 4096, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "mapping the segment for the device: %s\n", SCIGetErrorString(err));
		goto remove_seg;
	}
	uint8_t *buf = SCIMapLocalSegment(seg, &buf_map, 0, 4096, NULL, 0, &err);
	if (err != SCI_ERR_OK) {
		fprintf(stderr, "SCIMapLocalSegment: %s\n", SCIGetErrorString(err));
		goto unmap_dev;
	}

	for (int i = 0; i < DMA_BYTES; i++)
		buf[i] = (uint8_t)(i * 7 + 3);
	int ok = dma(bar, ioaddr, EDU_BUF, DMA_BYTES, 0) == 0;
	if (ok) {
		memset(buf, 0, DMA_BYTES);
		ok = dma(bar, EDU_BUF, ioaddr, DMA_BYTES, EDU_CMD_TO_RAM) == 0;
	}
	for (int i = 0; ok && i < DMA_BYTES; i++)
		if (buf[i] != (uint8_t)(i * 7 + 3)) {
			fprintf(stderr, "edu_smartio: DMA mismatch at byte %d\n", i);
			ok = 0;
		}
	if (ok) {
		printf("edu_smartio: fdid 0x%x, id 0x%08x, liveness ok, DMA %d bytes verified at "
		       "ioaddr 0x%llx\n",
		       SCIGetFabricDeviceId(dev), id, DMA_BYTES, (unsigned long long)ioaddr);
		rc = 0;
	} else {
		fprintf(stderr, "edu_smartio: DMA round trip failed\n");
	}

	SCIUnmapSegment(buf_map, 0, &err);
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
