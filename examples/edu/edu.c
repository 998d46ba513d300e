/* SPDX-License-Identifier: MIT */
/*
 * edu: a tiny user-space driver for QEMU's educational PCI device.
 *
 * Finds the edu in the pool, borrows it exclusively, and exercises every
 * feature once: identification and liveness, the factorial unit, a DMA
 * round trip through the device's buffer, and an MSI. Stays within QEMU's
 * edu semantics (docs/specs/edu.rst), so it also runs on a real QEMU edu
 * behind VFIO.
 *
 * Usage: edu [FDID]      (default: the first 1234:11e8 in the pool)
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep when built with -std=c17 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <udd/udd.h>

#include "edu.h"

#define DMA_BYTES 2048 /* QEMU's edu refuses transfers beyond its buffer */

static int fail(const char *what, int err)
{
	fprintf(stderr, "edu: %s: %s\n", what, err ? strerror(err < 0 ? -err : err) : "failed");
	return -1;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Poll a register until (value & mask) == 0, for up to 5 s. */
static int wait_clear(udd_acc_t *bar, uint64_t reg, uint32_t mask)
{
	const struct timespec pause = { 0, 50 * 1000 };
	double deadline = now_s() + 5.0;

	while (udd_get32(bar, reg) & mask) {
		if (udd_acc_check(bar) < 0)
			return -EIO;
		if (now_s() > deadline)
			return -ETIMEDOUT;
		nanosleep(&pause, NULL);
	}
	return udd_acc_check(bar);
}

static uint32_t factorial(uint32_t n)
{
	uint32_t r = 1;
	while (n > 1)
		r *= n--;
	return r;
}

static int check_id(udd_acc_t *bar, uint32_t *id)
{
	*id = udd_get32(bar, EDU_REG_ID);
	if ((*id & EDU_ID_MASK) != EDU_ID_MAGIC)
		return fail("unexpected identification register", 0);
	udd_put32(bar, EDU_REG_LIVENESS, 0x12345678);
	if (udd_get32(bar, EDU_REG_LIVENESS) != ~0x12345678u)
		return fail("liveness check", 0);
	return 0;
}

static int do_factorial(udd_acc_t *bar, uint32_t n, uint32_t *result)
{
	int rc;

	udd_put32(bar, EDU_REG_FACTORIAL, n);
	rc = wait_clear(bar, EDU_REG_STATUS, EDU_STATUS_BUSY);
	if (rc < 0)
		return fail("factorial", rc);
	*result = udd_get32(bar, EDU_REG_FACTORIAL);
	if (*result != factorial(n))
		return fail("wrong factorial", 0);
	return 0;
}

/* One transfer of the edu's DMA engine, waited for by polling. */
static int dma_run(udd_acc_t *bar, uint64_t src, uint64_t dst, uint32_t len, uint32_t dir)
{
	udd_put64(bar, EDU_REG_DMA_SRC, src);
	udd_put64(bar, EDU_REG_DMA_DST, dst);
	udd_put64(bar, EDU_REG_DMA_COUNT, len);
	udd_put64(bar, EDU_REG_DMA_CMD, EDU_DMA_START | dir);
	return wait_clear(bar, EDU_REG_DMA_CMD, EDU_DMA_START);
}

static int do_dma(udd_ctx_t *ctx, udd_dev_t *dev, udd_acc_t *bar, size_t *verified)
{
	udd_dma_attr_t attr = { .addr_hi = EDU_DMA_MASK };
	udd_mem_t *mem = NULL;
	udd_dma_t *dma = NULL;
	uint64_t iova = 0;
	uint8_t *buf;
	int rc;

	rc = udd_mem_alloc(ctx, 4096, &mem);
	if (rc < 0)
		return fail("allocating DMA memory", rc);
	rc = udd_dma_map(dev, mem, 0, 4096, &attr, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova, &dma);
	if (rc < 0) {
		udd_mem_free(mem);
		return fail("mapping DMA memory", rc);
	}
	buf = udd_mem_ptr(mem);
	for (size_t i = 0; i < DMA_BYTES; i++)
		buf[i] = (uint8_t)(i * 7 + 3);

	/* RAM -> EDU buffer, forget our copy, EDU buffer -> RAM, compare. */
	rc = dma_run(bar, iova, EDU_BUF_ADDR, DMA_BYTES, 0);
	if (rc == 0) {
		memset(buf, 0, DMA_BYTES);
		rc = dma_run(bar, EDU_BUF_ADDR, iova, DMA_BYTES, EDU_DMA_TO_RAM);
	}
	if (rc < 0) {
		fail("DMA transfer", rc);
	} else {
		for (size_t i = 0; i < DMA_BYTES; i++) {
			if (buf[i] != (uint8_t)(i * 7 + 3)) {
				fprintf(stderr, "edu: DMA mismatch at byte %zu: 0x%02x\n", i, buf[i]);
				rc = -1;
				break;
			}
		}
	}
	uint64_t last = 0;
	int faults = udd_dma_faults(dev, &last);
	if (faults > 0) {
		fprintf(stderr, "edu: %d DMA faults (last at 0x%llx)\n", faults, (unsigned long long)last);
		rc = -1;
	}
	udd_dma_unmap(dma);
	udd_mem_free(mem);
	if (rc == 0)
		*verified = DMA_BYTES;
	return rc < 0 ? -1 : 0;
}

static int do_irq(udd_dev_t *dev, udd_acc_t *bar, uint32_t *status)
{
	uint64_t count = 0;
	int rc;

	rc = udd_irq_enable(dev, UDD_IRQ_MSI, 1);
	if (rc < 0)
		return fail("enabling MSI", rc);
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x5a);
	rc = udd_irq_wait(dev, 0, 5000, &count);
	if (rc < 0) {
		udd_irq_disable(dev);
		return fail("waiting for the MSI", rc);
	}
	*status = udd_get32(bar, EDU_REG_IRQ_STATUS);
	udd_put32(bar, EDU_REG_IRQ_ACK, *status); /* as an ISR must, even with MSI */
	udd_irq_disable(dev);
	if (!(*status & 0x5a))
		return fail("interrupt status does not show the raised value", 0);
	if (udd_get32(bar, EDU_REG_IRQ_STATUS) != 0)
		return fail("interrupt status not cleared by the acknowledge", 0);
	return 0;
}

int main(int argc, char **argv)
{
	udd_filter_t filter = { .vendor_id = EDU_VENDOR_ID, .device_id = EDU_DEVICE_ID };
	udd_ctx_t *ctx = NULL;
	udd_dev_t *dev = NULL;
	udd_acc_t *bar = NULL;
	udd_fdid_t fdid;
	uint32_t id = 0, fact = 0, irq_status = 0;
	uint16_t cmd;
	size_t verified = 0;
	int rc, ret = 1;

	rc = udd_ctx_open(&ctx, NULL);
	if (rc < 0) {
		fail("opening the pool", rc);
		return 1;
	}
	if (argc > 1) {
		char *end;
		unsigned long v = strtoul(argv[1], &end, 0);
		if (*argv[1] == '\0' || *end != '\0' || v > UINT32_MAX) {
			fprintf(stderr, "usage: edu [FDID]\n");
			goto out;
		}
		fdid = (udd_fdid_t)v;
	} else {
		rc = udd_pool_list(ctx, &filter, &fdid, 1);
		if (rc <= 0) {
			fail("no edu device in the pool", rc < 0 ? rc : 0);
			goto out;
		}
	}
	rc = udd_dev_borrow(ctx, fdid, UDD_BORROW_EXCLUSIVE, &dev);
	if (rc < 0) {
		fail("borrowing the edu", rc);
		goto out;
	}
	rc = udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar);
	if (rc < 0) {
		fail("mapping BAR0", rc);
		goto out;
	}
	/* Memory decoding and bus mastering on, so the edu may DMA. */
	rc = udd_cfg_read16(dev, PCI_CFG_COMMAND, &cmd);
	if (rc == 0)
		rc = udd_cfg_write16(dev, PCI_CFG_COMMAND, cmd | PCI_CMD_MEMORY | PCI_CMD_MASTER);
	if (rc < 0) {
		fail("enabling bus mastering", rc);
		goto out;
	}

	if (check_id(bar, &id) < 0 || do_factorial(bar, 10, &fact) < 0 ||
	    do_dma(ctx, dev, bar, &verified) < 0 || do_irq(dev, bar, &irq_status) < 0)
		goto out;
	if (udd_acc_check(bar) < 0) {
		fail("register access", EIO);
		goto out;
	}
	printf("edu: id 0x%08x, 10! = %u, DMA %zu bytes verified, MSI received (status 0x%x)\n",
	       id, fact, verified, irq_status);
	ret = 0;
out:
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	return ret;
}
