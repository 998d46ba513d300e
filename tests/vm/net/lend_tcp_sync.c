/* SPDX-License-Identifier: MIT */
/*
 * A borrower of QEMU's edu lent across "hosts" (guest-sh/lend_tcp_sync.sh:
 * udd-sim --lend-only behind udd-gw on the guest's loopback), reached by
 * tcp:// (no descriptors): its DMA window lives in the lender's bounce
 * memory, kept coherent by udd_dma_sync. Maps a 2-page window, fills page
 * 0, FOR_DEVICE, edu DMAs XFER bytes of page 0 into its buffer and back to
 * page 1 with an interrupt (an interrupt message through the gateway),
 * FOR_CPU, verifies.
 * Before FOR_CPU page 1 must still be zero here (the device wrote the
 * lender's copy). Usage: lend_tcp_sync tcp://HOST:PORT/NAME. Exit 0: ok.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <udd/udd.h>

#define PG 4096u
#define EDU_ID 0x00
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1
#define EDU_CMD_FROM_DEV 0x2
#define EDU_CMD_IRQ 0x4
#define EDU_BUF 0x40000
/* bytes per edu DMA: QEMU's edu (7.2) aborts on a transfer that ends at its
 * buffer's end (its range check is off by one), so not the whole 4 KiB */
#define XFER 2048u

/* The fdid of a location named in the pool (src/core/pool.c). */
udd_fdid_t udd_fdid_of(const char *location);

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	fprintf(stderr, "  [udd %d] %s\n", level, msg);
}

static int fail(const char *what, int rc)
{
	fprintf(stderr, "lend_tcp_sync: %s: %s\n", what, strerror(rc < 0 ? -rc : rc));
	return 1;
}

/* Poll until edu's DMA engine is idle (bounded: 10 s, TCG is slow). */
static int dma_idle(udd_acc_t *bar)
{
	for (int i = 0; i < 10000; i++) {
		if (!(udd_get32(bar, EDU_DMA_CMD) & EDU_CMD_START))
			return 0;
		struct timespec ts = { 0, 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: lend_tcp_sync tcp://HOST:PORT/NAME\n");
		return 2;
	}
	const char *loc = argv[1];
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_EMBEDDED, .sockets = loc, .log_cb = log_cb };
	udd_ctx_t *ctx;
	udd_dev_t *dev;
	udd_acc_t *bar;
	int rc = udd_ctx_open(&ctx, &o);
	if (rc)
		return fail("ctx open", rc);
	if ((rc = udd_dev_borrow(ctx, udd_fdid_of(loc), UDD_BORROW_EXCLUSIVE, &dev)))
		return fail("borrow", rc);
	if ((rc = udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar)))
		return fail("map bar0", rc);
	uint32_t id = udd_get32(bar, EDU_ID);
	if ((id & 0xff) != 0xed)
		return fail("edu id", EIO);
	int n = udd_irq_enable(dev, UDD_IRQ_MSI, 1);
	if (n < 0)
		return fail("irq enable", n);

	uint8_t *buf = aligned_alloc(PG, 2 * PG);
	if (!buf)
		return fail("alloc", ENOMEM);
	memset(buf, 0, 2 * PG);
	const udd_dma_attr_t attr = { .addr_hi = (1ull << 28) - 1 }; /* edu's DMA mask */
	udd_dma_t *w;
	uint64_t iova;
	if ((rc = udd_dma_map_va(dev, buf, 2 * PG, &attr, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova,
				 &w)))
		return fail("dma map (lender's bounce window)", rc);
	for (unsigned i = 0; i < PG; i++)
		buf[i] = (uint8_t)(i * 13 + 5 + (i >> 8));
	if ((rc = udd_dma_sync(w, 0, PG, UDD_DMA_SYNC_FOR_DEVICE)))
		return fail("sync for device", rc);

	/* RAM page 0 -> edu buffer */
	udd_put64(bar, EDU_DMA_SRC, iova);
	udd_put64(bar, EDU_DMA_DST, EDU_BUF);
	udd_put64(bar, EDU_DMA_CNT, XFER);
	udd_put32(bar, EDU_DMA_CMD, EDU_CMD_START);
	if ((rc = dma_idle(bar)))
		return fail("dma to edu", rc);
	/* edu buffer -> RAM page 1, with an interrupt */
	udd_put64(bar, EDU_DMA_SRC, EDU_BUF);
	udd_put64(bar, EDU_DMA_DST, iova + PG);
	udd_put64(bar, EDU_DMA_CNT, XFER);
	udd_put32(bar, EDU_DMA_CMD, EDU_CMD_START | EDU_CMD_FROM_DEV | EDU_CMD_IRQ);
	uint64_t cnt = 0;
	if ((rc = udd_irq_wait(dev, 0, 10000, &cnt)))
		return fail("dma interrupt (message)", rc);
	uint32_t st = udd_get32(bar, EDU_IRQ_STATUS);
	udd_put32(bar, EDU_IRQ_ACK, st);
	if ((rc = dma_idle(bar)))
		return fail("dma from edu", rc);
	for (unsigned i = 0; i < PG; i++)
		if (buf[PG + i])
			return fail("page 1 changed before FOR_CPU (window not the lender's copy?)", EIO);
	if ((rc = udd_dma_sync(w, PG, PG, UDD_DMA_SYNC_FOR_CPU)))
		return fail("sync for cpu", rc);
	if (memcmp(buf, buf + PG, XFER) != 0 || buf[PG + XFER] != 0)
		return fail("bytes after the round trip", EIO);
	printf("lend_tcp_sync: iova 0x%llx, irq status 0x%x, %u bytes round trip ok\n",
	       (unsigned long long)iova, st, XFER);
	udd_dma_unmap(w);
	udd_irq_disable(dev);
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	free(buf);
	return 0;
}
