/* SPDX-License-Identifier: MIT */
/*
 * Configuration space against udd-sim: header fields, widths, alignment and
 * range errors, writes through the write mask, standard and extended
 * capability walks (edu: MSI only, 256 bytes; be: PM, PCIe, MSI-X and a
 * Device Serial Number at 0x100, 4 KiB).
 */
#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

struct seen {
	int n;
	uint8_t id[16];
	uint32_t off[16];
	int stop_at; /* return 7 from the callback at this index (-1: never) */
};

static int walk_cb(void *user, uint8_t id, uint32_t off)
{
	struct seen *s = user;

	if (s->n < 16) {
		s->id[s->n] = id;
		s->off[s->n] = off;
	}
	if (s->n++ == s->stop_at)
		return 7;
	return 0;
}

struct ext_seen {
	int n;
	uint16_t id[8];
	uint8_t ver[8];
	uint32_t off[8];
};

static int ext_cb(void *user, uint16_t id, uint8_t ver, uint32_t off)
{
	struct ext_seen *s = user;

	if (s->n < 8) {
		s->id[s->n] = id;
		s->ver[s->n] = ver;
		s->off[s->n] = off;
	}
	s->n++;
	return 0;
}

static void test_edu(udd_dev_t *edu)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32, lo, hi;
	uint64_t v64;

	REQUIRE_OK(udd_cfg_read16(edu, 0x00, &v16));
	CHECK_EQ(v16, EDU_VENDOR_ID);
	REQUIRE_OK(udd_cfg_read16(edu, 0x02, &v16));
	CHECK_EQ(v16, EDU_DEVICE_ID);
	REQUIRE_OK(udd_cfg_read32(edu, 0x00, &v32));
	CHECK_EQ(v32, (uint32_t)EDU_DEVICE_ID << 16 | EDU_VENDOR_ID);
	REQUIRE_OK(udd_cfg_read8(edu, 0x08, &v8));
	CHECK_EQ(v8, EDU_REVISION);
	REQUIRE_OK(udd_cfg_read32(edu, 0x08, &v32));
	CHECK_EQ(v32 >> 8, EDU_CLASS);
	REQUIRE_OK(udd_cfg_read8(edu, 0x01, &v8));
	CHECK_EQ(v8, EDU_VENDOR_ID >> 8);
	/* 64 bits = two dwords, low first */
	REQUIRE_OK(udd_cfg_read32(edu, 0x00, &lo));
	REQUIRE_OK(udd_cfg_read32(edu, 0x04, &hi));
	REQUIRE_OK(udd_cfg_read64(edu, 0x00, &v64));
	CHECK_EQ(v64, (uint64_t)hi << 32 | lo);
	REQUIRE_OK(udd_cfg_read64(edu, 0xf8, &v64)); /* last qword */

	/* alignment */
	CHECK_EQ(udd_cfg_read16(edu, 0x01, &v16), -EINVAL);
	CHECK_EQ(udd_cfg_read32(edu, 0x02, &v32), -EINVAL);
	CHECK_EQ(udd_cfg_read64(edu, 0x04, &v64), -EINVAL);
	CHECK_EQ(udd_cfg_write16(edu, 0x03, 0), -EINVAL);
	CHECK_EQ(udd_cfg_write32(edu, 0x06, 0), -EINVAL);
	CHECK_EQ(udd_cfg_write64(edu, 0x0c, 0), -EINVAL);
	/* range: edu has 256 bytes */
	CHECK_EQ(udd_cfg_read8(edu, 0x100, &v8), -ENXIO);
	CHECK_EQ(udd_cfg_read32(edu, 0x100, &v32), -ENXIO);
	CHECK_EQ(udd_cfg_read64(edu, 0x100, &v64), -ENXIO);
	CHECK_EQ(udd_cfg_read8(edu, 0xffffffffu, &v8), -ENXIO);
	CHECK_EQ(udd_cfg_read32(edu, 0xfffffffcu, &v32), -ENXIO);
	CHECK_EQ(udd_cfg_write8(edu, 0x1000, 0), -ENXIO);
	CHECK_EQ(udd_cfg_write64(edu, 0xfffffff8u, 0), -ENXIO);
	/* NULLs */
	CHECK_EQ(udd_cfg_read8(NULL, 0, &v8), -EINVAL);
	CHECK_EQ(udd_cfg_read32(edu, 0, NULL), -EINVAL);
	CHECK_EQ(udd_cfg_write32(NULL, 0, 0), -EINVAL);

	/* writes go through the device's write mask: MSI at 0x40, 64-bit */
	CHECK_EQ(udd_cfg_find_cap(edu, 0x05, 0), 0x40);
	REQUIRE_OK(udd_cfg_write64(edu, 0x48, 0x0000abcd12345678ull));
	REQUIRE_OK(udd_cfg_read32(edu, 0x48, &v32));
	CHECK_EQ(v32, 0x12345678);
	REQUIRE_OK(udd_cfg_read16(edu, 0x4c, &v16));
	CHECK_EQ(v16, 0xabcd);
	REQUIRE_OK(udd_cfg_write32(edu, 0x44, 0xfee00003u)); /* low 2 bits read-only 0 */
	REQUIRE_OK(udd_cfg_read32(edu, 0x44, &v32));
	CHECK_EQ(v32, 0xfee00000u);
	REQUIRE_OK(udd_cfg_write8(edu, 0x4d, 0x12));
	REQUIRE_OK(udd_cfg_read16(edu, 0x4c, &v16));
	CHECK_EQ(v16, 0x12cd);
	REQUIRE_OK(udd_cfg_write16(edu, 0x00, 0xffff)); /* vendor id: read-only */
	REQUIRE_OK(udd_cfg_read16(edu, 0x00, &v16));
	CHECK_EQ(v16, EDU_VENDOR_ID);
	REQUIRE_OK(udd_cfg_write64(edu, 0x48, 0));

	/* capabilities: MSI only */
	REQUIRE_OK(udd_cfg_read16(edu, 0x06, &v16));
	CHECK(v16 & 0x10);
	struct seen s = { .stop_at = -1 };
	CHECK_EQ(udd_cfg_walk_caps(edu, walk_cb, &s), 0);
	CHECK_EQ(s.n, 1);
	CHECK_EQ(s.id[0], 0x05);
	CHECK_EQ(s.off[0], 0x40);
	CHECK_EQ(udd_cfg_find_cap(edu, 0x05, 0x40), -ENOENT);
	CHECK_EQ(udd_cfg_find_cap(edu, 0x11, 0), -ENOENT);
	CHECK_EQ(udd_cfg_find_cap(edu, 0x10, 0), -ENOENT);
	struct ext_seen es = { 0 };
	CHECK_EQ(udd_cfg_walk_ext_caps(edu, ext_cb, &es), 0);
	CHECK_EQ(es.n, 0);
	CHECK_EQ(udd_cfg_find_ext_cap(edu, 0x0003, 0), -ENOENT);
	CHECK_EQ(udd_cfg_walk_caps(edu, NULL, NULL), -EINVAL);
	CHECK_EQ(udd_cfg_find_cap(NULL, 5, 0), -EINVAL);
}

static void test_be(udd_dev_t *be)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32, lo, hi;
	uint64_t v64;

	REQUIRE_OK(udd_cfg_read16(be, 0x02, &v16));
	CHECK_EQ(v16, BE_DEVICE_ID);
	/* 4 KiB of config space */
	REQUIRE_OK(udd_cfg_read32(be, 0xffc, &v32));
	CHECK_EQ(udd_cfg_read32(be, 0x1000, &v32), -ENXIO);
	CHECK_EQ(udd_cfg_read8(be, 0x1000, &v8), -ENXIO);
	CHECK_EQ(udd_cfg_read64(be, 0xffc, &v64), -EINVAL);
	REQUIRE_OK(udd_cfg_read64(be, 0xff8, &v64));

	/* standard list: PM, PCIe and MSI-X, each exactly once, in a chain */
	struct seen s = { .stop_at = -1 };
	CHECK_EQ(udd_cfg_walk_caps(be, walk_cb, &s), 0);
	CHECK_EQ(s.n, 3);
	int pm = 0, pcie = 0, msix = 0;
	for (int i = 0; i < s.n && i < 16; i++) {
		CHECK(s.off[i] >= 0x40 && s.off[i] < 0x100);
		CHECK_EQ(s.off[i] & 3, 0);
		REQUIRE_OK(udd_cfg_read8(be, s.off[i], &v8));
		CHECK_EQ(v8, s.id[i]);
		CHECK_EQ(udd_cfg_find_cap(be, s.id[i], 0), (int)s.off[i]);
		CHECK_EQ(udd_cfg_find_cap(be, s.id[i], s.off[i]), -ENOENT);
		pm += s.id[i] == 0x01;
		pcie += s.id[i] == 0x10;
		msix += s.id[i] == 0x11;
	}
	CHECK_EQ(pm, 1);
	CHECK_EQ(pcie, 1);
	CHECK_EQ(msix, 1);
	CHECK_EQ(udd_cfg_find_cap(be, 0x05, 0), -ENOENT); /* no MSI */

	/* a non-zero callback value stops the walk and is returned */
	struct seen s2 = { .stop_at = 1 };
	CHECK_EQ(udd_cfg_walk_caps(be, walk_cb, &s2), 7);
	CHECK_EQ(s2.n, 2);

	/* MSI-X: 4 vectors, table and PBA in BAR0 */
	int mx = udd_cfg_find_cap(be, 0x11, 0);
	REQUIRE(mx > 0);
	REQUIRE_OK(udd_cfg_read16(be, (uint32_t)mx + 2, &v16));
	CHECK_EQ(v16 & 0x7ff, BE_MSIX_VECTORS - 1);
	REQUIRE_OK(udd_cfg_read32(be, (uint32_t)mx + 4, &v32));
	CHECK_EQ(v32, BE_MSIX_TABLE);
	REQUIRE_OK(udd_cfg_read32(be, (uint32_t)mx + 8, &v32));
	CHECK_EQ(v32, BE_MSIX_PBA);

	/* extended list: the DSN at 0x100 */
	struct ext_seen es = { 0 };
	CHECK_EQ(udd_cfg_walk_ext_caps(be, ext_cb, &es), 0);
	CHECK_EQ(es.n, 1);
	CHECK_EQ(es.id[0], 0x0003);
	CHECK_EQ(es.ver[0], 1);
	CHECK_EQ(es.off[0], 0x100);
	CHECK_EQ(udd_cfg_find_ext_cap(be, 0x0003, 0), 0x100);
	CHECK_EQ(udd_cfg_find_ext_cap(be, 0x0003, 0x100), -ENOENT);
	CHECK_EQ(udd_cfg_find_ext_cap(be, 0x0001, 0), -ENOENT); /* no AER */
	REQUIRE_OK(udd_cfg_read32(be, 0x104, &lo));
	REQUIRE_OK(udd_cfg_read32(be, 0x108, &hi));
	CHECK_EQ((uint64_t)hi << 32 | lo, BE_DSN);
	CHECK_EQ(udd_cfg_read64(be, 0x104, &v64), -EINVAL);
}

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_dev_t *edu, *be;

	REQUIRE_OK(udd_dev_borrow(ctx, simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID), 0, &edu));
	REQUIRE_OK(udd_dev_borrow(ctx, simenv_find(ctx, BE_VENDOR_ID, BE_DEVICE_ID), 0, &be));
	test_edu(edu);
	test_be(be);
	udd_dev_return(edu);
	udd_dev_return(be);
	udd_ctx_close(ctx);
	return t_done("test_cfg");
}
