/* SPDX-License-Identifier: MIT */
/*
 * DMA against udd-sim's edu: RAM -> EDU -> RAM round trips through windows
 * made by udd_dma_map (memfd memory the server maps) and udd_dma_map_va
 * (memory served by the library through messages), memory kept alive by a
 * window after udd_mem_free, faults for DMA outside every window (counted,
 * memory untouched), unmapped windows unreachable, argument errors.
 */
#include <stdint.h>

#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

#define PG 4096u

static const udd_acc_attr_t LE = { UDD_LITTLE_ENDIAN, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };
static const udd_dma_attr_t EDU_ATTR = { .addr_hi = EDU_DMA_MASK };

/* Wait (polling the device) until the DMA engine is idle. */
static int dma_wait(udd_acc_t *bar)
{
	for (int i = 0; i < 20000; i++) {
		if (!(udd_get64(bar, EDU_REG_DMA_CMD) & EDU_DMA_START))
			return 0;
		struct timespec ts = { 0, 200 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static int edu_dma(udd_acc_t *bar, uint64_t src, uint64_t dst, uint64_t cnt, uint64_t cmd)
{
	udd_put64(bar, EDU_REG_DMA_SRC, src);
	udd_put64(bar, EDU_REG_DMA_DST, dst);
	udd_put64(bar, EDU_REG_DMA_COUNT, cnt);
	udd_put64(bar, EDU_REG_DMA_CMD, cmd | EDU_DMA_START);
	return dma_wait(bar);
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

/* The EDU buffer equals @want? */
static int edu_buf_equals(udd_acc_t *bar, const uint8_t *want, size_t n)
{
	int bad = 0;

	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = udd_get32(bar, EDU_DMA_BUF + i), w;

		memcpy(&w, want + i, 4);
		if (v != w)
			bad++;
	}
	return bad == 0;
}

/* RAM(src window) -> EDU -> RAM(dst window), verified byte for byte. */
static void round_trip(udd_acc_t *bar, uint8_t *src, uint64_t src_iova, uint8_t *dst,
		       uint64_t dst_iova, unsigned seed)
{
	fill(src, PG, seed);
	memset(dst, 0, PG);
	REQUIRE_OK(edu_dma(bar, src_iova, EDU_DMA_BUF, PG, 0));
	CHECK(edu_buf_equals(bar, src, PG));
	REQUIRE_OK(edu_dma(bar, EDU_DMA_BUF, dst_iova, PG, EDU_DMA_FROM_DEV));
	CHECK(memcmp(src, dst, PG) == 0);
	/* and a partial one at an offset */
	memset(dst, 0, PG);
	REQUIRE_OK(edu_dma(bar, EDU_DMA_BUF + 0x100, dst_iova + 0x200, 0x300, EDU_DMA_FROM_DEV));
	CHECK(memcmp(dst + 0x200, src + 0x100, 0x300) == 0);
	CHECK(dst[0x1ff] == 0 && dst[0x500] == 0);
}

static void test_mem_windows(udd_ctx_t *ctx, udd_dev_t *edu, udd_acc_t *bar)
{
	udd_mem_t *mem;
	udd_dma_t *ws, *wd;
	uint64_t is, id;

	REQUIRE_OK(udd_mem_alloc(ctx, 2 * PG, &mem));
	uint8_t *p = udd_mem_ptr(mem);
	REQUIRE_OK(udd_dma_map(edu, mem, 0, PG, &EDU_ATTR, UDD_DMA_F_READ, &is, &ws));
	REQUIRE_OK(udd_dma_map(edu, mem, PG, PG, &EDU_ATTR, UDD_DMA_F_WRITE, &id, &wd));
	CHECK(is != 0 && id != 0 && is != id);
	CHECK(is <= EDU_DMA_MASK && id <= EDU_DMA_MASK);
	CHECK_EQ(udd_dma_iova(ws), is);
	CHECK_EQ(udd_dma_len(wd), PG);
	round_trip(bar, p, is, p + PG, id, 1);

	/* the windows keep the memory alive after udd_mem_free */
	udd_mem_free(mem);
	round_trip(bar, p, is, p + PG, id, 2);
	udd_dma_unmap(ws);

	/* an unmapped window is out of reach: a DMA there is a fault */
	udd_dma_faults(edu, NULL);
	memset(p + PG, 0xaa, PG);
	udd_dma_unmap(wd); /* the last reference: p is gone now */
	REQUIRE_OK(edu_dma(bar, EDU_DMA_BUF, id, 64, EDU_DMA_FROM_DEV));
	uint64_t last = 0;
	int n = 0;
	for (int i = 0; i < 5000 && n == 0; i++) {
		n = udd_dma_faults(edu, &last);
		if (n == 0) {
			struct timespec ts = { 0, 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	CHECK_EQ(n, 1);
	CHECK_EQ(last, id);
}

static void test_va_windows(udd_dev_t *edu, udd_acc_t *bar)
{
	uint8_t *buf = aligned_alloc(PG, 2 * PG);
	udd_dma_t *ws, *wd;
	uint64_t is, id;

	REQUIRE(buf != NULL);
	REQUIRE_OK(udd_dma_map_va(edu, buf, PG, &EDU_ATTR, UDD_DMA_F_READ, &is, &ws));
	REQUIRE_OK(udd_dma_map_va(edu, buf + PG, PG, &EDU_ATTR, UDD_DMA_F_READ | UDD_DMA_F_WRITE,
				  &id, &wd));
	CHECK(is != 0 && id != 0 && is != id);
	round_trip(bar, buf, is, buf + PG, id, 3);
	udd_dma_unmap(ws);
	udd_dma_unmap(wd);
	free(buf);
}

static void test_fixed_and_faults(udd_ctx_t *ctx, udd_dev_t *edu, udd_acc_t *bar)
{
	udd_mem_t *mem;
	udd_dma_t *w, *w2;
	uint64_t iova = 0x0100000, x, last = 0;

	REQUIRE_OK(udd_mem_alloc(ctx, 2 * PG, &mem));
	uint8_t *p = udd_mem_ptr(mem);
	REQUIRE_OK(udd_dma_map(edu, mem, 0, 2 * PG, &EDU_ATTR,
			       UDD_DMA_F_READ | UDD_DMA_F_WRITE | UDD_DMA_F_FIXED, &iova, &w));
	CHECK_EQ(iova, 0x0100000);
	x = 0x0101000;
	CHECK_EQ(udd_dma_map(edu, mem, 0, PG, &EDU_ATTR, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &w2),
		 -EEXIST);

	/* DMA through the fixed window, at an offset inside it */
	fill(p, 2 * PG, 9);
	REQUIRE_OK(edu_dma(bar, iova + PG, EDU_DMA_BUF, PG, 0));
	CHECK(edu_buf_equals(bar, p + PG, PG));

	/* EDU -> RAM aimed just past the window: a fault, nothing written */
	memset(p, 0x5a, 2 * PG);
	udd_dma_faults(edu, NULL);
	REQUIRE_OK(edu_dma(bar, EDU_DMA_BUF, iova + 2 * PG, 16, EDU_DMA_FROM_DEV));
	/* RAM -> EDU from an unmapped IOVA: a fault, the EDU buffer unchanged */
	REQUIRE_OK(edu_dma(bar, 0x0f000000, EDU_DMA_BUF, 16, 0));
	int n = 0, got;
	for (int i = 0; i < 5000 && n < 2; i++) {
		got = udd_dma_faults(edu, &last);
		CHECK(got >= 0);
		n += got;
		if (n < 2) {
			struct timespec ts = { 0, 1000 * 1000 };
			nanosleep(&ts, NULL);
		}
	}
	CHECK_EQ(n, 2);
	CHECK_EQ(last, 0x0f000000);
	int untouched = 1;
	for (size_t i = 0; i < 2 * PG; i++)
		if (p[i] != 0x5a)
			untouched = 0;
	CHECK(untouched);
	/* the EDU buffer still holds page 1 of the fill(9) pattern */
	static uint8_t want[2 * PG];
	fill(want, 2 * PG, 9);
	CHECK(edu_buf_equals(bar, want + PG, PG));
	CHECK_EQ(udd_dma_faults(edu, NULL), 0);

	/* argument errors */
	CHECK_EQ(udd_dma_map(edu, mem, 0, 3 * PG, NULL, UDD_DMA_F_READ, &x, &w2), -EINVAL);
	CHECK_EQ(udd_dma_map(edu, mem, 1, PG, NULL, UDD_DMA_F_READ, &x, &w2), -EINVAL);
	CHECK_EQ(udd_dma_map(edu, mem, 0, PG, NULL, 0, &x, &w2), -EINVAL);
	CHECK_EQ(udd_dma_map(NULL, mem, 0, PG, NULL, UDD_DMA_F_READ, &x, &w2), -EINVAL);
	udd_dma_attr_t at = { .max_seg = PG };
	CHECK_EQ(udd_dma_map(edu, mem, 0, 2 * PG, &at, UDD_DMA_F_READ, &x, &w2), -E2BIG);
	at = (udd_dma_attr_t){ .addr_lo = 0x0100000, .addr_hi = 0x0101fff };
	CHECK_EQ(udd_dma_map(edu, mem, 0, PG, &at, UDD_DMA_F_READ, &x, &w2), -ENOSPC);
	CHECK_EQ(udd_dma_faults(NULL, NULL), -EINVAL);

	udd_dma_unmap(w);
	udd_mem_free(mem);
}

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_dev_t *edu;
	udd_acc_t *bar;

	REQUIRE_OK(udd_dev_borrow(ctx, simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID), 0, &edu));
	REQUIRE_OK(udd_regs_map_bar(edu, 0, 0, 0, &LE, &bar));
	REQUIRE(udd_get32(bar, EDU_REG_ID) == EDU_ID_VALUE);
	test_mem_windows(ctx, edu, bar);
	test_va_windows(edu, bar);
	test_fixed_and_faults(ctx, edu, bar);

	/* windows left mapped are released by udd_dev_return */
	udd_mem_t *mem;
	udd_dma_t *w;
	uint64_t iova;
	REQUIRE_OK(udd_mem_alloc(ctx, PG, &mem));
	REQUIRE_OK(udd_dma_map(edu, mem, 0, PG, NULL, UDD_DMA_F_READ, &iova, &w));
	udd_mem_free(mem);
	udd_dev_return(edu);
	udd_ctx_close(ctx);
	return t_done("test_dma");
}
