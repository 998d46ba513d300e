/* SPDX-License-Identifier: MIT */
/*
 * DDI DMA over the simulated edu device: handles, attribute validation,
 * cookies that respect a 64 KiB segment boundary, an addr_hi below 4 GiB,
 * count_max and sgllen (DDI_DMA_TOOBIG), the cookie iteration functions,
 * and a real transfer (edu DMA engine) through a ddi_dma_mem_alloc buffer.
 */
#include <stdlib.h>
#include <sys/mman.h>

#include <udd/ddi.h>

#include "sim_devices.h"
#include "simenv.h"
#include "testlib.h"

static ddi_dma_attr_t base_attr(void)
{
	ddi_dma_attr_t a = {
		.dma_attr_version = DMA_ATTR_V0,
		.dma_attr_addr_lo = 0,
		.dma_attr_addr_hi = 0xffffffffull, /* below 4 GiB */
		.dma_attr_count_max = 0xffffffffull,
		.dma_attr_align = 1,
		.dma_attr_burstsizes = 1,
		.dma_attr_minxfer = 1,
		.dma_attr_maxxfer = 0xffffffffull,
		.dma_attr_seg = 0xffffull, /* 64 KiB boundary */
		.dma_attr_sgllen = 64,
		.dma_attr_granular = 1,
	};
	return a;
}

/* Every cookie inside the limits, and together they cover len bytes. */
static void check_cookies(ddi_dma_handle_t h, const ddi_dma_attr_t *a, size_t len, uint_t expect_n)
{
	uint_t n = ddi_dma_ncookies(h);
	CHECK(n >= 1);
	if (expect_n)
		CHECK_EQ(n, expect_n);
	size_t total = 0;
	uint_t i = 0;
	for (const ddi_dma_cookie_t *c = ddi_dma_cookie_iter(h, NULL); c; c = ddi_dma_cookie_iter(h, c), i++) {
		uint64_t first = c->dmac_laddress, last = first + c->dmac_size - 1;
		CHECK(c->dmac_size > 0);
		CHECK(first >= a->dma_attr_addr_lo && last <= a->dma_attr_addr_hi);
		CHECK_EQ(first & ~a->dma_attr_seg, last & ~a->dma_attr_seg); /* no boundary crossed */
		CHECK(c->dmac_size - 1 <= a->dma_attr_count_max);
		CHECK(c == ddi_dma_cookie_get(h, i));
		total += c->dmac_size;
	}
	CHECK_EQ(i, n);
	CHECK_EQ(total, len);
	CHECK(ddi_dma_cookie_get(h, n) == NULL);
}

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_fdid_t id = simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID);
	dev_info_t *dip = NULL;
	REQUIRE(ddi_udd_attach(ctx, id, UDD_BORROW_EXCLUSIVE, &dip) == DDI_SUCCESS);
	ddi_dma_attr_t a = base_attr();
	ddi_dma_handle_t h = NULL;

	/* attribute validation */
	ddi_dma_attr_t bad = a;
	bad.dma_attr_version = 3;
	CHECK_EQ(ddi_dma_alloc_handle(dip, &bad, DDI_DMA_SLEEP, NULL, &h), DDI_DMA_BADATTR);
	bad = a;
	bad.dma_attr_sgllen = 0;
	CHECK_EQ(ddi_dma_alloc_handle(dip, &bad, DDI_DMA_SLEEP, NULL, &h), DDI_DMA_BADATTR);
	bad = a;
	bad.dma_attr_align = 3;
	CHECK_EQ(ddi_dma_alloc_handle(dip, &bad, DDI_DMA_SLEEP, NULL, &h), DDI_DMA_BADATTR);
	bad = a;
	bad.dma_attr_addr_lo = 0x2000, bad.dma_attr_addr_hi = 0x1000;
	CHECK_EQ(ddi_dma_alloc_handle(dip, &bad, DDI_DMA_SLEEP, NULL, &h), DDI_DMA_BADATTR);
	CHECK(h == NULL);

	/* 1) 256 KiB of DMA memory starting 4 KiB into a segment: 64 KiB
	 *    boundary -> at least 4 cookies, each inside one segment */
	REQUIRE(ddi_dma_alloc_handle(dip, &a, DDI_DMA_SLEEP, NULL, &h) == DDI_SUCCESS);
	ddi_device_acc_attr_t acc = { DDI_DEVICE_ATTR_V0, DDI_NEVERSWAP_ACC, DDI_STRICTORDER_ACC, 0 };
	ddi_acc_handle_t mh;
	caddr_t kaddr;
	size_t real;
	REQUIRE(ddi_dma_mem_alloc(h, 320 << 10, &acc, DDI_DMA_CONSISTENT, DDI_DMA_SLEEP, NULL, &kaddr,
				  &real, &mh) == DDI_SUCCESS);
	ddi_dma_cookie_t ck;
	uint_t cc = 0;
	CHECK_EQ(ddi_dma_addr_bind_handle(h, NULL, kaddr + 4096, 256 << 10, DDI_DMA_RDWR | DDI_DMA_CONSISTENT,
					  DDI_DMA_SLEEP, NULL, &ck, &cc), DDI_DMA_MAPPED);
	CHECK(cc >= 4);
	CHECK_EQ(cc, ddi_dma_ncookies(h));
	CHECK_EQ(ck.dmac_laddress, ddi_dma_cookie_get(h, 0)->dmac_laddress);
	check_cookies(h, &a, 256 << 10, 0);
	/* legacy iteration gives the same cookies */
	for (uint_t i = 1; i < cc; i++) {
		ddi_dma_nextcookie(h, &ck);
		CHECK_EQ(ck.dmac_laddress, ddi_dma_cookie_get(h, i)->dmac_laddress);
	}
	CHECK(ddi_dma_cookie_one(h) == NULL); /* more than one cookie */
	CHECK_EQ(ddi_dma_addr_bind_handle(h, NULL, kaddr, 4096, DDI_DMA_READ, DDI_DMA_SLEEP, NULL, &ck, &cc),
		 DDI_DMA_INUSE);
	CHECK_EQ(ddi_dma_sync(h, 0, 0, DDI_DMA_SYNC_FORDEV), DDI_SUCCESS);
	CHECK_EQ(ddi_dma_unbind_handle(h), DDI_SUCCESS);
	CHECK_EQ(ddi_dma_ncookies(h), 0);
	CHECK_EQ(ddi_dma_unbind_handle(h), DDI_FAILURE);

	/* 2) sgllen: the same buffer with sgllen 2 is too big */
	ddi_dma_handle_t h2;
	ddi_dma_attr_t small = a;
	small.dma_attr_sgllen = 2;
	REQUIRE(ddi_dma_alloc_handle(dip, &small, DDI_DMA_SLEEP, NULL, &h2) == DDI_SUCCESS);
	CHECK_EQ(ddi_dma_addr_bind_handle(h2, NULL, kaddr, 256 << 10, DDI_DMA_WRITE, DDI_DMA_SLEEP, NULL,
					  &ck, &cc), DDI_DMA_TOOBIG);
	CHECK_EQ(ddi_dma_ncookies(h2), 0);
	/* but 64 KiB fits in one segment-sized cookie... */
	CHECK_EQ(ddi_dma_addr_bind_handle(h2, NULL, kaddr, 64 << 10, DDI_DMA_WRITE, DDI_DMA_SLEEP, NULL,
					  &ck, &cc), DDI_DMA_MAPPED);
	CHECK_EQ(cc, 1);
	CHECK(ddi_dma_cookie_one(h2) != NULL);
	CHECK_EQ(ck.dmac_size, 64 << 10);
	check_cookies(h2, &small, 64 << 10, 1);
	ddi_dma_free_handle(&h2); /* frees a bound handle: unbinds */

	/* 3) count_max 16 KiB - 1 on 40 KiB of ordinary (malloc'ed) memory at an
	 *    unaligned address: cookies of at most 16 KiB, udd_dma_map_va */
	ddi_dma_attr_t cm = a;
	cm.dma_attr_count_max = (16 << 10) - 1;
	ddi_dma_handle_t h3;
	REQUIRE(ddi_dma_alloc_handle(dip, &cm, DDI_DMA_SLEEP, NULL, &h3) == DDI_SUCCESS);
	char *heap = mmap(NULL, 64 << 10, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(heap != MAP_FAILED);
	CHECK_EQ(ddi_dma_addr_bind_handle(h3, NULL, heap + 100, 40 << 10, DDI_DMA_RDWR, DDI_DMA_SLEEP, NULL,
					  &ck, &cc), DDI_DMA_MAPPED);
	CHECK(cc >= 3);
	check_cookies(h3, &cm, 40 << 10, 0);
	CHECK_EQ(ck.dmac_laddress & 4095, 100); /* the in-page offset is kept */
	ddi_dma_unbind_handle(h3);
	/* alignment that the address cannot meet (no bounce buffers) */
	ddi_dma_attr_t al = a;
	al.dma_attr_align = 64;
	ddi_dma_handle_t h4;
	REQUIRE(ddi_dma_alloc_handle(dip, &al, DDI_DMA_SLEEP, NULL, &h4) == DDI_SUCCESS);
	CHECK_EQ(ddi_dma_addr_bind_handle(h4, NULL, heap + 100, 512, DDI_DMA_RDWR, DDI_DMA_SLEEP, NULL, &ck,
					  &cc), DDI_DMA_NOMAPPING);
	CHECK_EQ(ddi_dma_addr_bind_handle(h4, NULL, heap + 128, 512, DDI_DMA_RDWR, DDI_DMA_SLEEP, NULL, &ck,
					  &cc), DDI_DMA_MAPPED);
	CHECK_EQ(ck.dmac_laddress & 63, 0);
	ddi_dma_free_handle(&h4);
	ddi_dma_free_handle(&h3);

	/* 4) a real transfer: the edu DMA engine copies RAM -> its buffer -> RAM;
	 *    edu masks addresses to 28 bits, so keep the cookies below 256 MiB */
	ddi_dma_attr_t ea = a;
	ea.dma_attr_addr_hi = EDU_DMA_MASK;
	ddi_dma_handle_t eh;
	ddi_acc_handle_t emh, regs;
	caddr_t ebuf, r;
	REQUIRE(ddi_dma_alloc_handle(dip, &ea, DDI_DMA_SLEEP, NULL, &eh) == DDI_SUCCESS);
	REQUIRE(ddi_dma_mem_alloc(eh, 8192, &acc, DDI_DMA_CONSISTENT, DDI_DMA_SLEEP, NULL, &ebuf, &real,
				  &emh) == DDI_SUCCESS);
	REQUIRE(ddi_dma_addr_bind_handle(eh, NULL, ebuf, 8192, DDI_DMA_RDWR, DDI_DMA_SLEEP, NULL, &ck, &cc) ==
		DDI_DMA_MAPPED);
	CHECK_EQ(cc, 1);
	CHECK(ck.dmac_laddress + 8192 - 1 <= EDU_DMA_MASK);
	ddi_device_acc_attr_t le = { DDI_DEVICE_ATTR_V0, DDI_STRUCTURE_LE_ACC, DDI_STRICTORDER_ACC, 0 };
	REQUIRE(ddi_regs_map_setup(dip, 1, &r, 0, 0, &le, &regs) == DDI_SUCCESS);
	for (int i = 0; i < 256; i++)
		ddi_put8(emh, (uint8_t *)(ebuf + i), (uint8_t)(i ^ 0x5a));
	ddi_dma_sync(eh, 0, 256, DDI_DMA_SYNC_FORDEV);
	/* RAM -> device buffer */
	ddi_put64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_SRC), ck.dmac_laddress);
	ddi_put64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_DST), EDU_DMA_BUF);
	ddi_put64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_COUNT), 256);
	ddi_put64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_CMD), EDU_DMA_START);
	for (int i = 0; i < 5000 && (ddi_get64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_CMD)) & EDU_DMA_START); i++)
		usleep(1000);
	/* device buffer -> RAM, 4 KiB further */
	ddi_put64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_SRC), EDU_DMA_BUF);
	ddi_put64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_DST), ck.dmac_laddress + 4096);
	ddi_put64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_COUNT), 256);
	ddi_put64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_CMD), EDU_DMA_START | EDU_DMA_FROM_DEV);
	for (int i = 0; i < 5000 && (ddi_get64(regs, (uint64_t *)(void *)(r + EDU_REG_DMA_CMD)) & EDU_DMA_START); i++)
		usleep(1000);
	ddi_dma_sync(eh, 4096, 256, DDI_DMA_SYNC_FORCPU);
	CHECK(memcmp(ebuf, ebuf + 4096, 256) == 0);
	CHECK_EQ(ddi_get8(emh, (uint8_t *)(ebuf + 4096 + 7)), 7 ^ 0x5a);
	CHECK_EQ(ddi_check_acc_handle(regs), DDI_SUCCESS);
	uint64_t last;
	CHECK_EQ(udd_dma_faults(ddi_udd_dev(dip), &last), 0);

	ddi_regs_map_free(&regs);
	ddi_dma_unbind_handle(eh);
	ddi_dma_mem_free(&emh);
	ddi_dma_free_handle(&eh);
	ddi_dma_mem_free(&mh);
	ddi_dma_free_handle(&h);
	munmap(heap, 64 << 10);
	ddi_udd_detach(dip);
	udd_ctx_close(ctx);
	return t_done("test_ddi_dma");
}
