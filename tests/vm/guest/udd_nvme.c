/* SPDX-License-Identifier: MIT */
/*
 * Guest test of the VFIO backend through the public API, on QEMU's nvme
 * controller (1b36:0010) bound to vfio-pci behind intel-iommu.
 *
 *  - the pool describes it: class 010802, can_reset, 65 MSI-X vectors;
 *  - CAP and VS (0x00010400) through a BAR0 access handle;
 *  - MSI-X: 4 vectors enabled (the device's MSI-X enable bit is set), too many
 *    refused; then a real interrupt: the admin queues in DMA memory
 *    (udd_dma_map), an Identify Controller command, its completion raises
 *    MSI-X vector 0 and the identify data (PCI vendor id) arrived by DMA;
 *  - udd_dev_reset works and the controller still answers (VS), bus
 *    mastering still on; udd_dev_check is 0.
 *
 * Must be linked with libudd.a (include/ on the include path).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#if __has_include("udd/udd.h")
#include "udd/udd.h"

#define NVME_CAP 0x00
#define NVME_VS 0x08
#define NVME_INTMS 0x0c
#define NVME_CC 0x14
#define NVME_CSTS 0x1c
#define NVME_AQA 0x24
#define NVME_ASQ 0x28
#define NVME_ACQ 0x30
#define NVME_SQ0TDBL 0x1000
#define QDEPTH 4

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	fprintf(stderr, "  [udd %d] %s\n", level, msg);
}

static uint16_t sysfs_cfg16(const char *bdf, unsigned off)
{
	char p[128];
	uint16_t v = 0xffff;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	int fd = open(p, O_RDONLY);
	if (fd >= 0) {
		if (pread(fd, &v, 2, off) != 2)
			v = 0xffff;
		close(fd);
	}
	return v;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Poll CSTS.RDY until it equals @rdy. */
static int wait_ready(udd_acc_t *bar, uint32_t rdy)
{
	double end = now() + 20;
	while ((udd_get32(bar, NVME_CSTS) & 1) != rdy) {
		if (now() > end)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

int main(void)
{
	const char *bdf = getenv("UDD_VM_NVME");
	REQUIRE(bdf != NULL);
	udd_ctx_t *ctx;
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_EMBEDDED, .log_cb = log_cb,
			     .log_level = UDD_LOG_INFO };
	REQUIRE_OK(udd_ctx_open(&ctx, &o));

	udd_filter_t f = { .vendor_id = 0x1b36, .device_id = 0x0010 };
	udd_fdid_t ids[4];
	REQUIRE(udd_pool_list(ctx, &f, ids, 4) >= 1);
	/* the class filter finds it too */
	udd_filter_t fc = { .class_code = 0x010802 };
	udd_fdid_t cids[4];
	CHECK(udd_pool_list(ctx, &fc, cids, 4) >= 1);
	udd_dev_info_t info;
	REQUIRE_OK(udd_pool_info(ctx, ids[0], &info));
	CHECK(strcmp(info.location, bdf) == 0);
	CHECK_EQ(info.class_code, 0x010802);
	CHECK_EQ(info.can_reset, 1);
	CHECK_EQ(info.irq_count[UDD_IRQ_MSIX], 65);

	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(ctx, ids[0], UDD_BORROW_EXCLUSIVE, &dev));
	REQUIRE_OK(udd_dev_get_info(dev, &info));
	CHECK(info.regsets[1].flags & UDD_RS_F_64BIT);
	printf("BAR0: %llu bytes, flags %#x\n", (unsigned long long)info.regsets[1].size,
	       info.regsets[1].flags);

	/* ---- registers ---- */
	udd_acc_t *bar;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0x2000, &attr, &bar));
	uint64_t cap = udd_get64(bar, NVME_CAP);
	uint32_t vs = udd_get32(bar, NVME_VS);
	printf("CAP 0x%016llx VS 0x%08x (%s handle)\n", (unsigned long long)cap, vs,
	       udd_acc_is_direct(bar) ? "direct" : "trapped");
	CHECK_EQ(vs, 0x00010400);
	CHECK(cap != 0 && cap != UINT64_MAX);
	CHECK_EQ(udd_acc_check(bar), 0);

	/* ---- MSI-X ---- */
	CHECK_EQ(udd_irq_enable(dev, UDD_IRQ_MSIX, 66), -ENOTSUP);
	REQUIRE_OK(udd_irq_enable(dev, UDD_IRQ_MSIX, 4));
	for (unsigned v = 0; v < 4; v++)
		CHECK(udd_irq_fd(dev, v) >= 0);
	CHECK_EQ(udd_irq_fd(dev, 4), -ENOENT);
	int mx = udd_cfg_find_cap(dev, 0x11, 0);
	REQUIRE(mx > 0);
	CHECK(sysfs_cfg16(bdf, (unsigned)mx + 2) & 0x8000); /* MSI-X enable, on the device */

	/* ---- admin queue, Identify, completion interrupt on vector 0 ---- */
	udd_mem_t *mem;
	REQUIRE_OK(udd_mem_alloc(ctx, 3 * 4096, &mem));
	uint8_t *m = udd_mem_ptr(mem);
	udd_dma_t *dma;
	uint64_t iova = 0;
	REQUIRE_OK(udd_dma_map(dev, mem, 0, 3 * 4096, NULL, UDD_DMA_F_READ | UDD_DMA_F_WRITE,
			       &iova, &dma));
	uint64_t sq = iova, cq = iova + 4096, data = iova + 8192;
	unsigned dstrd = (unsigned)((cap >> 32) & 0xf);

	udd_put32(bar, NVME_CC, 0);
	CHECK_EQ(wait_ready(bar, 0), 0);
	udd_put32(bar, NVME_AQA, (QDEPTH - 1) << 16 | (QDEPTH - 1));
	udd_put64(bar, NVME_ASQ, sq);
	udd_put64(bar, NVME_ACQ, cq);
	udd_put32(bar, NVME_CC, 1u | 6u << 16 | 4u << 20); /* EN, IOSQES 64, IOCQES 16 */
	CHECK_EQ(wait_ready(bar, 1), 0);

	uint32_t cmd[16] = { 0 };
	cmd[0] = 0x06 | 0x1234u << 16;         /* Identify, CID 0x1234 */
	cmd[6] = (uint32_t)data;               /* PRP1 */
	cmd[7] = (uint32_t)(data >> 32);
	cmd[10] = 1;                           /* CNS 1: controller */
	memcpy(m, cmd, sizeof(cmd));
	udd_put32(bar, NVME_SQ0TDBL, 1);
	uint64_t count = 0;
	CHECK_EQ(udd_irq_wait(dev, 0, 20000, &count), 0);
	uint32_t cqe[4];
	memcpy(cqe, m + 4096, sizeof(cqe));
	printf("CQE %08x %08x %08x %08x\n", cqe[0], cqe[1], cqe[2], cqe[3]);
	CHECK_EQ(cqe[3] & 0xffff, 0x1234);       /* CID */
	CHECK_EQ((cqe[3] >> 16) & 1, 1);         /* phase */
	CHECK_EQ((cqe[3] >> 17) & 0x7fff, 0);    /* status: success */
	CHECK_EQ(m[8192] | m[8193] << 8, 0x1b36); /* identify: PCI vendor id */
	udd_put32(bar, (uint64_t)NVME_SQ0TDBL + (4u << dstrd), 1); /* CQ0 head */
	udd_put32(bar, NVME_CC, 0);
	CHECK_EQ(wait_ready(bar, 0), 0);

	/* ---- reset ---- */
	CHECK_EQ(udd_dev_reset(dev), 0);
	CHECK_EQ(udd_get32(bar, NVME_VS), 0x00010400);
	CHECK_EQ(sysfs_cfg16(bdf, 4) & 0x6, 0x6);
	CHECK_EQ(udd_dev_check(dev), 0);

	REQUIRE_OK(udd_irq_disable(dev));
	CHECK_EQ(sysfs_cfg16(bdf, (unsigned)mx + 2) & 0x8000, 0);
	udd_dma_unmap(dma);
	udd_mem_free(mem);
	udd_dev_return(dev);
	CHECK_EQ(sysfs_cfg16(bdf, 4) & 0x4, 0);
	udd_ctx_close(ctx);
	return t_done("udd_nvme");
}
#else
int main(void)
{
	fprintf(stderr, "udd_nvme: FAIL: built without libudd (build-tests.sh must compile "
			"tests/vm/guest/udd_*.c with -I include and link libudd.a -ljson-c -lpthread)\n");
	return 1;
}
#endif
