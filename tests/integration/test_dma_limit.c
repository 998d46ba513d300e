/* SPDX-License-Identifier: MIT */
/*
 * The window limit through the library: udd-sim states max_dma_maps (16384
 * per borrower) in its VERSION reply, because the client proposes it; the
 * window after the last gets -ENOSPC from udd_dma_map (the header's errno),
 * unmapping one makes room again, and the device keeps working.
 */
#include "simenv.h"
#include "testlib.h"

#define PG 4096
#define LIMIT 16384

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_fdid_t id = simenv_find(ctx, 0x1234, 0x0d02); /* be: no DMA engine needed */
	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	udd_mem_t *mem;
	REQUIRE_OK(udd_mem_alloc(ctx, PG, &mem));
	static udd_dma_t *w[LIMIT];
	int rc = 0, n = 0;
	while (n < LIMIT && rc == 0) {
		uint64_t iova;
		rc = udd_dma_map(dev, mem, 0, PG, NULL, UDD_DMA_F_READ, &iova, &w[n]);
		if (rc == 0)
			n++;
	}
	CHECK_EQ(rc, 0);
	CHECK_EQ(n, LIMIT);
	udd_dma_t *extra = NULL;
	uint64_t iova;
	CHECK_EQ(udd_dma_map(dev, mem, 0, PG, NULL, UDD_DMA_F_READ, &iova, &extra), -ENOSPC);
	udd_dma_unmap(w[--n]);
	CHECK_EQ(udd_dma_map(dev, mem, 0, PG, NULL, UDD_DMA_F_READ, &iova, &w[n]), 0);
	n++;
	for (int i = 0; i < n; i++)
		udd_dma_unmap(w[i]);
	uint32_t vid = 0;
	CHECK_EQ(udd_cfg_read32(dev, 0, &vid), 0);
	CHECK_EQ(vid, 0x0d021234);
	udd_mem_free(mem);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	return t_done("test_dma_limit");
}
