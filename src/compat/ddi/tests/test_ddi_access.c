/* SPDX-License-Identifier: MIT */
/*
 * DDI register access over the simulated big-endian device (be, 1234:0d02):
 * register numbers and sizes, the documented error returns of
 * ddi_regs_map_setup, LE/BE swapping, rep with and without autoincrement
 * against the FIFO register, against BAR memory and against DMA memory,
 * bad addresses marking the handle, configuration space.
 */
#include <udd/ddi.h>

#include "sim_devices.h"
#include "simenv.h"
#include "testlib.h"

static ddi_device_acc_attr_t attr(uchar_t endian)
{
	ddi_device_acc_attr_t a = { DDI_DEVICE_ATTR_V0, endian, DDI_STRICTORDER_ACC, 0 };
	return a;
}

static void test_regsets(dev_info_t *dip)
{
	int n = 0;
	off_t sz = 0;
	CHECK_EQ(ddi_dev_nregs(dip, &n), DDI_SUCCESS);
	CHECK_EQ(n, 4); /* config, BAR0, BAR2, BAR4 */
	CHECK_EQ(ddi_dev_regsize(dip, 0, &sz), DDI_SUCCESS);
	CHECK(sz >= 256);
	CHECK_EQ(ddi_dev_regsize(dip, 1, &sz), DDI_SUCCESS);
	CHECK_EQ(sz, BE_BAR0_SIZE);
	CHECK_EQ(ddi_dev_regsize(dip, 2, &sz), DDI_SUCCESS);
	CHECK_EQ(sz, BE_BAR2_SIZE);
	CHECK_EQ(ddi_dev_regsize(dip, 3, &sz), DDI_SUCCESS);
	CHECK_EQ(sz, BE_BAR4_SIZE);
	CHECK_EQ(ddi_dev_regsize(dip, 4, &sz), DDI_FAILURE);
}

static void test_map_errors(dev_info_t *dip)
{
	ddi_device_acc_attr_t a = attr(DDI_STRUCTURE_BE_ACC);
	ddi_acc_handle_t h = NULL;
	caddr_t base = NULL;

	CHECK_EQ(ddi_regs_map_setup(dip, 4, &base, 0, 0, &a, &h), DDI_ME_RNUMBER_RANGE);
	CHECK_EQ(ddi_regs_map_setup(dip, 99, &base, 0, 4, &a, &h), DDI_ME_RNUMBER_RANGE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, BE_BAR0_SIZE, 0, &a, &h), DDI_FAILURE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, -4, 4, &a, &h), DDI_FAILURE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, BE_BAR0_SIZE + 1, &a, &h), DDI_FAILURE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0x1000, 0x1001, &a, &h), DDI_FAILURE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, -1, &a, &h), DDI_FAILURE);
	ddi_device_acc_attr_t bad = a;
	bad.devacc_attr_version = 7;
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, 0, &bad, &h), DDI_FAILURE);
	bad = a;
	bad.devacc_attr_endian_flags = 3;
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, 0, &bad, &h), DDI_FAILURE);
	bad = a;
	bad.devacc_attr_dataorder = 5;
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, 0, &bad, &h), DDI_FAILURE);
	bad = a;
	bad.devacc_attr_version = DDI_DEVICE_ATTR_V1;
	bad.devacc_attr_access = 9;
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, 0, &bad, &h), DDI_FAILURE);
	CHECK(h == NULL); /* untouched on failure */

	/* len 0 maps to the end of the set; offset is honoured */
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0x10, 0, &a, &h), DDI_SUCCESS);
	CHECK_EQ(ddi_get32(h, (uint32_t *)(void *)base), 0); /* FIFO empty: reads 0 */
	CHECK_EQ(ddi_get32(h, (uint32_t *)(void *)(base + 4)), 0); /* FIFO level */
	CHECK_EQ(ddi_check_acc_handle(h), DDI_SUCCESS);
	ddi_regs_map_free(&h);
	CHECK(h == NULL);
}

static void test_swap(dev_info_t *dip)
{
	ddi_device_acc_attr_t be = attr(DDI_STRUCTURE_BE_ACC), ns = attr(DDI_NEVERSWAP_ACC),
			      le = attr(DDI_STRUCTURE_LE_ACC);
	ddi_acc_handle_t hb, hn, hl;
	caddr_t b, n, l;
	REQUIRE(ddi_regs_map_setup(dip, 1, &b, 0, 0x1000, &be, &hb) == DDI_SUCCESS);
	REQUIRE(ddi_regs_map_setup(dip, 1, &n, 0, 0x1000, &ns, &hn) == DDI_SUCCESS);
	REQUIRE(ddi_regs_map_setup(dip, 1, &l, 0, 0x1000, &le, &hl) == DDI_SUCCESS);
	CHECK(b != n && n != l && b != l); /* DDI addresses are unique per mapping */

	CHECK_EQ(ddi_get32(hb, (uint32_t *)(void *)(b + BE_REG_ID)), BE_ID_VALUE);
	CHECK_EQ(ddi_get32(hn, (uint32_t *)(void *)(n + BE_REG_ID)), __builtin_bswap32(BE_ID_VALUE));
	CHECK_EQ(ddi_get32(hl, (uint32_t *)(void *)(l + BE_REG_ID)), __builtin_bswap32(BE_ID_VALUE));
	CHECK_EQ(ddi_mem_get32(hb, (uint32_t *)(void *)(b + BE_REG_ID)), BE_ID_VALUE);
	/* the first byte of a big-endian register is its most significant */
	CHECK_EQ(ddi_get8(hb, (uint8_t *)(b + BE_REG_ID)), (BE_ID_VALUE >> 24) & 0xff);

	ddi_put32(hb, (uint32_t *)(void *)(b + BE_REG_SCRATCH32), 0x11223344u);
	CHECK_EQ(ddi_get32(hb, (uint32_t *)(void *)(b + BE_REG_SCRATCH32)), 0x11223344u);
	CHECK_EQ(ddi_get32(hn, (uint32_t *)(void *)(n + BE_REG_SCRATCH32)), 0x44332211u);
	CHECK_EQ(ddi_get16(hb, (uint16_t *)(void *)(b + BE_REG_SCRATCH32)), 0x1122);
	ddi_put16(hb, (uint16_t *)(void *)(b + BE_REG_SCRATCH32 + 2), 0xa0b0);
	CHECK_EQ(ddi_get32(hb, (uint32_t *)(void *)(b + BE_REG_SCRATCH32)), 0x1122a0b0u);

	ddi_put64(hb, (uint64_t *)(void *)(b + BE_REG_SCRATCH64), 0x0102030405060708ull);
	CHECK_EQ(ddi_get64(hb, (uint64_t *)(void *)(b + BE_REG_SCRATCH64)), 0x0102030405060708ull);
	CHECK_EQ(ddi_get64(hn, (uint64_t *)(void *)(n + BE_REG_SCRATCH64)), 0x0807060504030201ull);
	ddi_mem_put64(hn, (uint64_t *)(void *)(n + BE_REG_SCRATCH64), 0x0807060504030201ull);
	CHECK_EQ(ddi_get64(hb, (uint64_t *)(void *)(b + BE_REG_SCRATCH64)), 0x0102030405060708ull);
	CHECK_EQ(ddi_swap32(0x11223344u), 0x44332211u);
	CHECK_EQ(ddi_swap16(0x1122), 0x2211);
	CHECK_EQ(ddi_swap64(1), 1ull << 56);

	CHECK_EQ(ddi_check_acc_handle(hb), DDI_SUCCESS);
	CHECK_EQ(ddi_check_acc_handle(hn), DDI_SUCCESS);
	ddi_regs_map_free(&hl);
	ddi_regs_map_free(&hn);
	ddi_regs_map_free(&hb);
}

static void test_rep_fifo(dev_info_t *dip)
{
	ddi_device_acc_attr_t be = attr(DDI_STRUCTURE_BE_ACC);
	ddi_acc_handle_t h;
	caddr_t b;
	uint32_t out[8], in[8];
	REQUIRE(ddi_regs_map_setup(dip, 1, &b, 0, 0x1000, &be, &h) == DDI_SUCCESS);
	uint32_t *fifo = (uint32_t *)(void *)(b + BE_REG_FIFO);
	uint32_t *level = (uint32_t *)(void *)(b + BE_REG_FIFO_LEVEL);

	for (int i = 0; i < 8; i++)
		out[i] = 0xc0de0000u + (uint32_t)i * 0x101u;
	ddi_rep_put32(h, out, fifo, 8, DDI_DEV_NO_AUTOINCR);
	CHECK_EQ(ddi_get32(h, level), 8); /* every item went to the FIFO register */
	memset(in, 0, sizeof(in));
	ddi_rep_get32(h, in, fifo, 8, DDI_DEV_NO_AUTOINCR);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_EQ(ddi_get32(h, level), 0);

	/* the I/O family never increments the port */
	ddi_io_rep_put32(h, out, fifo, 3);
	CHECK_EQ(ddi_io_get32(h, level), 3);
	ddi_io_rep_get32(h, in, fifo, 3);
	CHECK(memcmp(in, out, 3 * sizeof(in[0])) == 0);

	/* with autoincrement the items go to consecutive registers instead:
	 * FIFO, FIFO level (read-only), then the raise register... use the
	 * scratch registers: scratch32 at 4, scratch64 at 8..15 */
	uint32_t sv[3] = { 0xa1a2a3a4u, 0xb1b2b3b4u, 0xc1c2c3c4u };
	ddi_rep_put32(h, sv, (uint32_t *)(void *)(b + BE_REG_SCRATCH32), 3, DDI_DEV_AUTOINCR);
	CHECK_EQ(ddi_get32(h, (uint32_t *)(void *)(b + BE_REG_SCRATCH32)), 0xa1a2a3a4u);
	CHECK_EQ(ddi_get64(h, (uint64_t *)(void *)(b + BE_REG_SCRATCH64)), 0xb1b2b3b4c1c2c3c4ull);
	uint32_t rb[3] = { 0 };
	ddi_rep_get32(h, rb, (uint32_t *)(void *)(b + BE_REG_SCRATCH32), 3, DDI_DEV_AUTOINCR);
	CHECK(memcmp(rb, sv, sizeof(sv)) == 0);
	CHECK_EQ(ddi_get32(h, level), 0); /* the FIFO was not touched */
	CHECK_EQ(ddi_check_acc_handle(h), DDI_SUCCESS);

	/* a rep running past the end of the mapping does nothing and marks the handle */
	ddi_rep_put32(h, out, (uint32_t *)(void *)(b + 0x1000 - 8), 4, DDI_DEV_AUTOINCR);
	CHECK_EQ(ddi_check_acc_handle(h), DDI_FAILURE);
	ddi_fm_error_t de;
	ddi_fm_acc_err_get(h, &de, DDI_FME_VERSION);
	CHECK_EQ(de.fme_status, DDI_FM_NONFATAL);
	CHECK(de.fme_acc_handle == h);
	ddi_fm_acc_err_clear(h, DDI_FME_VERSION);
	CHECK_EQ(ddi_check_acc_handle(h), DDI_SUCCESS);
	/* an address outside the mapping reads all ones and marks the handle */
	CHECK_EQ(ddi_get32(h, (uint32_t *)(void *)(b + 0x1000)), 0xffffffffu);
	CHECK_EQ(ddi_check_acc_handle(h), DDI_FAILURE);
	ddi_fm_acc_err_clear(h, DDI_FME_VERSION);
	/* misaligned */
	CHECK_EQ(ddi_get32(h, (uint32_t *)(void *)(b + 2)), 0xffffffffu);
	CHECK_EQ(ddi_check_acc_handle(h), DDI_FAILURE);
	ddi_regs_map_free(&h);
}

static void test_rep_bar_memory(dev_info_t *dip)
{
	ddi_device_acc_attr_t ns = attr(DDI_NEVERSWAP_ACC);
	ddi_acc_handle_t h;
	caddr_t b;
	uint8_t out[64], in[64];
	REQUIRE(ddi_regs_map_setup(dip, 2, &b, 0, 0, &ns, &h) == DDI_SUCCESS);
	CHECK(udd_acc_is_direct(ddi_udd_acc(h))); /* plain memory: mapped directly */
	for (int i = 0; i < 64; i++)
		out[i] = (uint8_t)(i * 7 + 1);
	ddi_rep_put8(h, out, (uint8_t *)(b + 0x100), 64, DDI_DEV_AUTOINCR);
	for (int i = 0; i < 64; i++)
		CHECK_EQ(ddi_get8(h, (uint8_t *)(b + 0x100 + i)), out[i]);
	CHECK_EQ((uint8_t)b[0x100 + 5], out[5]); /* a direct DDI address is the mapping */
	memset(in, 0, sizeof(in));
	ddi_rep_get8(h, in, (uint8_t *)(b + 0x100), 64, DDI_DEV_AUTOINCR);
	CHECK(memcmp(in, out, 64) == 0);
	/* without autoincrement every item hits the same location: the last stays */
	ddi_rep_put8(h, out, (uint8_t *)(b + 0x200), 64, DDI_DEV_NO_AUTOINCR);
	CHECK_EQ(ddi_get8(h, (uint8_t *)(b + 0x200)), out[63]);
	CHECK_EQ(ddi_get8(h, (uint8_t *)(b + 0x201)), 0);
	ddi_rep_get8(h, in, (uint8_t *)(b + 0x100), 4, DDI_DEV_NO_AUTOINCR);
	CHECK(in[0] == out[0] && in[1] == out[0] && in[2] == out[0] && in[3] == out[0]);
	uint64_t q[4] = { 1, 2, 3, 0xffffffffffffffffull }, r[4] = { 0 };
	ddi_rep_put64(h, q, (uint64_t *)(void *)(b + 0x400), 4, DDI_DEV_AUTOINCR);
	ddi_mem_rep_get64(h, r, (uint64_t *)(void *)(b + 0x400), 4, DDI_DEV_AUTOINCR);
	CHECK(memcmp(q, r, sizeof(q)) == 0);
	CHECK_EQ(ddi_check_acc_handle(h), DDI_SUCCESS);
	ddi_regs_map_free(&h);
}

static void test_rep_dma_memory(dev_info_t *dip)
{
	ddi_dma_attr_t da = { .dma_attr_version = DMA_ATTR_V0, .dma_attr_addr_hi = ~0ull,
			      .dma_attr_count_max = ~0ull, .dma_attr_align = 1,
			      .dma_attr_sgllen = 1, .dma_attr_granular = 1 };
	ddi_device_acc_attr_t be = attr(DDI_STRUCTURE_BE_ACC);
	ddi_dma_handle_t dh;
	ddi_acc_handle_t mh;
	caddr_t kaddr;
	size_t real = 0;
	REQUIRE(ddi_dma_alloc_handle(dip, &da, DDI_DMA_SLEEP, NULL, &dh) == DDI_SUCCESS);
	REQUIRE(ddi_dma_mem_alloc(dh, 100, &be, DDI_DMA_CONSISTENT, DDI_DMA_SLEEP, NULL, &kaddr,
				  &real, &mh) == DDI_SUCCESS);
	CHECK(real >= 100);
	CHECK(ddi_udd_acc(mh) == NULL);
	uint32_t out[4] = { 0x01020304u, 0x05060708u, 0xa0b0c0d0u, 0xdeadbeefu }, in[4] = { 0 };
	uint32_t *dev = (uint32_t *)(void *)kaddr;
	ddi_rep_put32(mh, out, dev, 4, DDI_DEV_AUTOINCR);
	/* stored big-endian in memory */
	CHECK_EQ((uint8_t)kaddr[0], 0x01);
	CHECK_EQ((uint8_t)kaddr[3], 0x04);
	CHECK_EQ((uint8_t)kaddr[12], 0xde);
	ddi_rep_get32(mh, in, dev, 4, DDI_DEV_AUTOINCR);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	ddi_rep_get32(mh, in, dev + 2, 4, DDI_DEV_NO_AUTOINCR);
	CHECK(in[0] == out[2] && in[3] == out[2]);
	ddi_put16(mh, (uint16_t *)(void *)(kaddr + 20), 0x1234);
	CHECK_EQ((uint8_t)kaddr[20], 0x12);
	CHECK_EQ(ddi_get16(mh, (uint16_t *)(void *)(kaddr + 20)), 0x1234);
	CHECK_EQ(ddi_check_acc_handle(mh), DDI_SUCCESS);
	/* past the end of the memory */
	ddi_rep_get32(mh, in, (uint32_t *)(void *)(kaddr + real - 4), 2, DDI_DEV_AUTOINCR);
	CHECK_EQ(ddi_check_acc_handle(mh), DDI_FAILURE);
	ddi_dma_mem_free(&mh);
	CHECK(mh == NULL);
	ddi_dma_free_handle(&dh);
	CHECK(dh == NULL);
}

static void test_config(dev_info_t *dip)
{
	ddi_acc_handle_t ch;
	REQUIRE(pci_config_setup(dip, &ch) == DDI_SUCCESS);
	CHECK_EQ(pci_config_get16(ch, 0), BE_VENDOR_ID);
	CHECK_EQ(pci_config_get16(ch, 2), BE_DEVICE_ID);
	CHECK_EQ(pci_config_get32(ch, 0), (uint32_t)BE_DEVICE_ID << 16 | BE_VENDOR_ID);
	CHECK_EQ(pci_config_get8(ch, 0), BE_VENDOR_ID & 0xff);
	CHECK_EQ(pci_config_get64(ch, 0) & 0xffffffffu, (uint32_t)BE_DEVICE_ID << 16 | BE_VENDOR_ID);
	CHECK_EQ(ddi_check_acc_handle(ch), DDI_SUCCESS);
	CHECK_EQ(pci_config_get32(ch, 0x10000), 0xffffffffu);
	CHECK_EQ(ddi_check_acc_handle(ch), DDI_FAILURE);
	pci_config_teardown(&ch);
	CHECK(ch == NULL);
}

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_fdid_t id = simenv_find(ctx, BE_VENDOR_ID, BE_DEVICE_ID);
	dev_info_t *dip = NULL;
	REQUIRE(ddi_udd_attach(ctx, id, UDD_BORROW_EXCLUSIVE, &dip) == DDI_SUCCESS);
	CHECK(ddi_get_instance(dip) >= 0);
	CHECK_EQ(udd_dev_fdid(ddi_udd_dev(dip)), id);

	test_regsets(dip);
	test_map_errors(dip);
	test_swap(dip);
	test_rep_fifo(dip);
	test_rep_bar_memory(dip);
	test_rep_dma_memory(dip);
	test_config(dip);

	/* handles left mapped are released by detach */
	ddi_acc_handle_t h;
	caddr_t b;
	ddi_device_acc_attr_t a = attr(DDI_STRUCTURE_BE_ACC);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &b, 0, 0, &a, &h), DDI_SUCCESS);
	ddi_udd_detach(dip);
	udd_ctx_close(ctx);
	return t_done("test_ddi_access");
}
