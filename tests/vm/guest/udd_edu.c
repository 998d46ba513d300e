/* SPDX-License-Identifier: MIT */
/*
 * Guest test of the VFIO backend through the public API, on QEMU's edu device
 * (1234:11e8) bound to vfio-pci behind intel-iommu (kernel 6.1: the legacy
 * container/type1v2 path).
 *
 *  - the pool lists the edu (filter 1234:11e8) with backend "vfio" and its PCI
 *    address, and never a device that is not bound to vfio-pci;
 *  - shared borrowing is refused (-EOPNOTSUPP), exclusive borrowing works and
 *    enables bus mastering; a second borrower, in this process or another one,
 *    gets -EBUSY and the log names the holder's pid; returning releases it and
 *    clears bus mastering;
 *  - BAR0 through an access handle: id register, liveness register;
 *  - DMA round trip RAM -> edu -> RAM through udd_dma_map with addr_hi 0x0fffffff;
 *  - MSI through udd_irq_enable/udd_irq_wait with the edu raise register (0x60);
 *  - udd_dev_reset is -ENOTSUP (edu cannot reset), udd_dev_check is 0;
 *  - unknown fdid -> -ENOENT;
 *  - without CAP_IPC_LOCK and with a small RLIMIT_MEMLOCK, a large DMA map is
 *    -ENOMEM with a log line naming the limit.
 *
 * Must be linked with libudd.a (include/ on the include path).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <linux/capability.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#if __has_include("udd/udd.h")
#include "udd/udd.h"
#if __has_include("backend.h")
#include "backend.h" /* only to try the backend on a device not bound to vfio-pci */
#define HAVE_BACKEND_H 1
#endif

#define EDU_ID 0x00
#define EDU_LIVE 0x04
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1u
#define EDU_CMD_TO_RAM 0x2u
#define EDU_BUF 0x40000u
#define XFER 2048u /* the last byte of edu's 4 KiB buffer aborts QEMU: stay well below */

static char all_logs[8192]; /* every message, for "was it said" checks */
static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	fprintf(stderr, "  [udd %d] %s\n", level, msg);
	size_t used = strlen(all_logs);
	snprintf(all_logs + used, sizeof(all_logs) - used, "%s\n", msg);
}

static int open_ctx(udd_ctx_t **ctx)
{
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_EMBEDDED, .log_cb = log_cb,
			     .log_level = UDD_LOG_INFO };
	return udd_ctx_open(ctx, &o);
}

static int find_edu(udd_ctx_t *ctx, udd_fdid_t *id)
{
	udd_filter_t f = { .vendor_id = 0x1234, .device_id = 0x11e8 };
	udd_fdid_t ids[4];
	int n = udd_pool_list(ctx, &f, ids, 4);
	if (n < 1)
		return n < 0 ? n : -ENOENT;
	*id = ids[0];
	return 0;
}

static uint16_t sysfs_command(const char *bdf)
{
	char p[128];
	uint16_t cmd = 0xffff;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	int fd = open(p, O_RDONLY);
	if (fd >= 0) {
		if (pread(fd, &cmd, 2, 4) != 2)
			cmd = 0xffff;
		close(fd);
	}
	return cmd;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Start an edu DMA and poll its command register until it is done. */
static int edu_dma(udd_acc_t *bar, uint64_t src, uint64_t dst, uint32_t cmd)
{
	udd_put64(bar, EDU_DMA_SRC, src);
	udd_put64(bar, EDU_DMA_DST, dst);
	udd_put64(bar, EDU_DMA_CNT, XFER);
	udd_put64(bar, EDU_DMA_CMD, EDU_CMD_START | cmd);
	double end = now() + 20;
	while (udd_get64(bar, EDU_DMA_CMD) & EDU_CMD_START) {
		if (now() > end)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

/* Child mode: borrow the edu, expect -EBUSY naming the parent. */
static int child_busy(pid_t holder)
{
	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev = NULL;
	REQUIRE_OK(open_ctx(&ctx));
	REQUIRE_OK(find_edu(ctx, &id));
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev), -EBUSY);
	char want[64];
	snprintf(want, sizeof(want), "borrowed by pid %ld", (long)holder);
	CHECK(strstr(all_logs, want) != NULL);
	CHECK(dev == NULL);
	udd_ctx_close(ctx);
	return t_done("udd_edu child");
}

/* Child mode: without CAP_IPC_LOCK and with a 64 KiB RLIMIT_MEMLOCK, a 1 MiB
 * DMA map fails with -ENOMEM and the log says why. */
static int child_memlock(void)
{
	struct rlimit rl = { 65536, 65536 };
	REQUIRE(setrlimit(RLIMIT_MEMLOCK, &rl) == 0);
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct cd[2];
	REQUIRE(syscall(SYS_capget, &h, cd) == 0);
	cd[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	cd[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	REQUIRE(syscall(SYS_capset, &h, cd) == 0);

	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev;
	udd_mem_t *mem;
	udd_dma_t *dma = NULL;
	uint64_t iova = 0;
	REQUIRE_OK(open_ctx(&ctx));
	REQUIRE_OK(find_edu(ctx, &id));
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	REQUIRE_OK(udd_mem_alloc(ctx, 1 << 20, &mem));
	udd_dma_attr_t dattr = { .addr_hi = 0x0fffffff };
	CHECK_EQ(udd_dma_map(dev, mem, 0, 1 << 20, &dattr, UDD_DMA_F_READ, &iova, &dma), -ENOMEM);
	CHECK(strstr(all_logs, "RLIMIT_MEMLOCK (65536 bytes) too small") != NULL);
	CHECK(dma == NULL);
	/* a small one still fits */
	CHECK_EQ(udd_dma_map(dev, mem, 0, 4096, &dattr, UDD_DMA_F_READ, &iova, &dma), 0);
	udd_mem_free(mem);
	udd_ctx_close(ctx);
	return t_done("udd_edu memlock child");
}

static int run_child(const char *self, const char *a1, const char *a2)
{
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		execl("/proc/self/exe", self, a1, a2, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	if (waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

int main(int argc, char **argv)
{
	if (argc == 3 && strcmp(argv[1], "busy") == 0)
		return child_busy((pid_t)atol(argv[2]));
	if (argc == 2 && strcmp(argv[1], "memlock") == 0)
		return child_memlock();

	const char *bdf = getenv("UDD_VM_EDU");
	REQUIRE(bdf != NULL);
	udd_ctx_t *ctx;
	REQUIRE_OK(open_ctx(&ctx));

	/* ---- pool ---- */
	udd_fdid_t all[16];
	int n = udd_pool_list(ctx, NULL, all, 16);
	CHECK(n >= 2); /* edu and nvme */
	for (int i = 0; i < n && i < 16; i++) {
		udd_dev_info_t info;
		REQUIRE_OK(udd_pool_info(ctx, all[i], &info));
		printf("pool: %#x %s %s %04x:%04x\n", all[i], info.backend, info.location,
		       info.vendor_id, info.device_id);
		CHECK(strcmp(info.backend, "vfio") == 0);
		CHECK((info.vendor_id == 0x1234 && info.device_id == 0x11e8) ||
		      (info.vendor_id == 0x1b36 && info.device_id == 0x0010));
	}
	udd_fdid_t id;
	REQUIRE_OK(find_edu(ctx, &id));
	udd_dev_info_t pinfo;
	REQUIRE_OK(udd_pool_info(ctx, id, &pinfo));
	CHECK(strcmp(pinfo.location, bdf) == 0);
	CHECK_EQ(pinfo.class_code >> 16, 0x00);
	CHECK_EQ(pinfo.can_reset, 0);
	CHECK(pinfo.nregsets >= 2);
	CHECK_EQ(pinfo.regsets[1].bar, 0);
	CHECK_EQ(pinfo.regsets[1].size, 1 << 20);
	CHECK(pinfo.irq_count[UDD_IRQ_MSI] >= 1);

	/* ---- bad input ---- */
	udd_dev_t *dev = NULL;
	udd_fdid_t bogus = 0x7ffffff0;
	for (int i = 0; i < n && i < 16; i++)
		if (all[i] == bogus)
			bogus--;
	udd_dev_info_t tmp;
	CHECK_EQ(udd_pool_info(ctx, bogus, &tmp), -ENOENT);
	CHECK_EQ(udd_dev_borrow(ctx, bogus, UDD_BORROW_EXCLUSIVE, &dev), -ENOENT);
	CHECK_EQ(udd_dev_borrow(ctx, id, 0, &dev), -EOPNOTSUPP);
	CHECK(strstr(all_logs, "shared borrowing of a local VFIO device is not possible") != NULL);
	CHECK(dev == NULL);
#ifdef HAVE_BACKEND_H
	{
		/* the host bridge is bound to no driver (or another one): -ENOENT */
		void *bd = NULL;
		CHECK_EQ(udd_vfio_backend.open("0000:00:00.0", UDD_BE_EXCLUSIVE, NULL, &bd), -ENOENT);
		CHECK_EQ(udd_vfio_backend.open("0000:00:00.0", UDD_BE_PROBE, NULL, &bd), -ENOENT);
		CHECK(bd == NULL);
	}
#endif

	/* ---- borrow ---- */
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	CHECK_EQ(sysfs_command(bdf) & 0x6, 0x6); /* memory + bus master */
	uint16_t cmd = 0;
	REQUIRE_OK(udd_cfg_read16(dev, 4, &cmd));
	CHECK_EQ(cmd & 0x4, 0x4);
	uint16_t ven = 0;
	REQUIRE_OK(udd_cfg_read16(dev, 0, &ven));
	CHECK_EQ(ven, 0x1234);
	CHECK_EQ(udd_dev_check(dev), 0);
	CHECK_EQ(udd_dev_reset(dev), -ENOTSUP);

	/* a second borrower: same process, other context */
	{
		udd_ctx_t *c2;
		udd_dev_t *d2 = NULL;
		REQUIRE_OK(open_ctx(&c2));
		CHECK_EQ(udd_dev_borrow(c2, id, UDD_BORROW_EXCLUSIVE, &d2), -EBUSY);
		udd_ctx_close(c2);
	}
	/* ... and another process */
	{
		char pid[32];
		snprintf(pid, sizeof(pid), "%ld", (long)getpid());
		CHECK_EQ(run_child(argv[0], "busy", pid), 0);
	}

	/* ---- BAR0 ---- */
	udd_acc_t *bar;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, &attr, &bar));
	printf("BAR0 handle: %s, %llu bytes\n", udd_acc_is_direct(bar) ? "direct" : "trapped",
	       (unsigned long long)udd_acc_size(bar));
	CHECK_EQ(udd_get32(bar, EDU_ID), 0x010000ed);
	udd_put32(bar, EDU_LIVE, 0x12345678);
	CHECK_EQ(udd_get32(bar, EDU_LIVE), (uint32_t)~0x12345678u);
	CHECK_EQ(udd_acc_check(bar), 0);

	/* ---- DMA round trip ---- */
	udd_mem_t *mem;
	REQUIRE_OK(udd_mem_alloc(ctx, 8192, &mem));
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_dma_attr_t dattr = { .addr_hi = 0x0fffffff };
	REQUIRE_OK(udd_dma_map(dev, mem, 0, 8192, &dattr, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova,
			       &dma));
	printf("DMA window at iova 0x%llx\n", (unsigned long long)iova);
	CHECK(iova + 8192 - 1 <= 0x0fffffff);
	uint8_t *p = udd_mem_ptr(mem);
	for (unsigned i = 0; i < XFER; i++)
		p[i] = (uint8_t)(i * 7 + 3);
	memset(p + 4096, 0, XFER);
	CHECK_EQ(edu_dma(bar, iova, EDU_BUF, 0), 0);                         /* RAM -> edu */
	CHECK_EQ(edu_dma(bar, EDU_BUF, iova + 4096, EDU_CMD_TO_RAM), 0);     /* edu -> RAM */
	CHECK(memcmp(p, p + 4096, XFER) == 0);
	/* a second window works too, and unmapping gives the IOVA back */
	udd_dma_t *dma2;
	uint64_t iova2 = 0;
	REQUIRE_OK(udd_dma_map(dev, mem, 4096, 4096, &dattr, UDD_DMA_F_READ, &iova2, &dma2));
	CHECK(iova2 != iova);
	udd_dma_unmap(dma2);

	/* ---- MSI ---- */
	REQUIRE_OK(udd_irq_enable(dev, UDD_IRQ_MSI, 1));
	CHECK(udd_irq_fd(dev, 0) >= 0);
	CHECK_EQ(udd_irq_wait(dev, 0, 0, NULL), -ETIMEDOUT); /* nothing pending yet */
	udd_put32(bar, EDU_IRQ_RAISE, 0x5a5a);
	uint64_t count = 0;
	CHECK_EQ(udd_irq_wait(dev, 0, 10000, &count), 0);
	CHECK(count >= 1);
	CHECK_EQ(udd_get32(bar, EDU_IRQ_STATUS), 0x5a5a);
	udd_put32(bar, EDU_IRQ_ACK, 0x5a5a);
	/* again, to be sure the vector stays armed */
	udd_put32(bar, EDU_IRQ_RAISE, 0x1);
	CHECK_EQ(udd_irq_wait(dev, 0, 10000, &count), 0);
	udd_put32(bar, EDU_IRQ_ACK, 0x1);
	CHECK_EQ(udd_irq_mask(dev, 0), -ENOTSUP); /* MSI is not maskable through VFIO */
	REQUIRE_OK(udd_irq_disable(dev));
	CHECK_EQ(udd_irq_enable(dev, UDD_IRQ_MSI, 64), -ENOTSUP);

	/* ---- return: released, bus mastering off; borrowable again ---- */
	udd_dma_unmap(dma);
	udd_mem_free(mem);
	udd_dev_return(dev);
	CHECK_EQ(sysfs_command(bdf) & 0x4, 0);
	dev = NULL;
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar));
	CHECK_EQ(udd_get32(bar, EDU_ID), 0x010000ed);
	/* DMA, IRQs and handles left for udd_ctx_close to release */
	REQUIRE_OK(udd_mem_alloc(ctx, 4096, &mem));
	REQUIRE_OK(udd_dma_map(dev, mem, 0, 4096, &dattr, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova,
			       &dma));
	REQUIRE_OK(udd_irq_enable(dev, UDD_IRQ_MSI, 1));
	udd_mem_free(mem); /* the window keeps its pages until it is unmapped */
	udd_ctx_close(ctx);
	CHECK_EQ(sysfs_command(bdf) & 0x4, 0);
	/* the lock is free again: a fresh context can borrow it */
	REQUIRE_OK(open_ctx(&ctx));
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	udd_ctx_close(ctx);

	/* RLIMIT_MEMLOCK too small: -ENOMEM and a clear log line */
	CHECK_EQ(run_child(argv[0], "memlock", NULL), 0);
	return t_done("udd_edu");
}
#else
int main(void)
{
	fprintf(stderr, "udd_edu: FAIL: built without libudd (build-tests.sh must compile "
			"tests/vm/guest/udd_*.c with -I include and link libudd.a -ljson-c -lpthread)\n");
	return 1;
}
#endif
