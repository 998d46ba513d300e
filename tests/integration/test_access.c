/* SPDX-License-Identifier: MIT */
/*
 * Register sets and access handles against udd-sim: numbering, sizes,
 * direct/mapped/trapped handles, byte swapping, rep with and without
 * autoincrement, error flagging, bad input.
 */
#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

static const udd_acc_attr_t LE = { UDD_LITTLE_ENDIAN, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };
static const udd_acc_attr_t BE = { UDD_BIG_ENDIAN, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };
static const udd_acc_attr_t BE_FLAG = { UDD_BIG_ENDIAN, UDD_STRICTORDER, UDD_FLAGERR_ACC, 0 };

static void test_sets(udd_dev_t *be)
{
	/* config, BAR0, BAR2 (64-bit: BAR3 is its upper half), BAR4 */
	CHECK_EQ(udd_regs_count(be), 4);
	uint64_t sz;
	REQUIRE_OK(udd_regs_size(be, 0, &sz));
	CHECK_EQ(sz, 4096);
	REQUIRE_OK(udd_regs_size(be, 1, &sz));
	CHECK_EQ(sz, BE_BAR0_SIZE);
	REQUIRE_OK(udd_regs_size(be, 2, &sz));
	CHECK_EQ(sz, BE_BAR2_SIZE);
	REQUIRE_OK(udd_regs_size(be, 3, &sz));
	CHECK_EQ(sz, BE_BAR4_SIZE);
	CHECK_EQ(udd_regs_size(be, 4, &sz), -ERANGE);
	CHECK_EQ(udd_regs_rnumber(be, 0), 1);
	CHECK_EQ(udd_regs_rnumber(be, 2), 2);
	CHECK_EQ(udd_regs_rnumber(be, 3), -ENOENT);
	CHECK_EQ(udd_regs_rnumber(be, 4), 3);
	CHECK_EQ(udd_regs_rnumber(be, 6), -EINVAL);
	udd_dev_info_t info;
	REQUIRE_OK(udd_dev_get_info(be, &info));
	CHECK(info.regsets[2].flags & UDD_RS_F_PREFETCH);
	CHECK(info.regsets[2].flags & UDD_RS_F_64BIT);
	CHECK(info.regsets[2].flags & UDD_RS_F_MMAP);
	CHECK(info.regsets[1].flags & UDD_RS_F_SPARSE);
	CHECK_EQ(info.regsets[3].kind, UDD_RS_IO);
	CHECK_EQ(info.irq_count[UDD_IRQ_MSIX], BE_MSIX_VECTORS);

	udd_acc_t *a;
	CHECK_EQ(udd_regs_map(be, 4, 0, 0, NULL, &a), -ERANGE);
	CHECK_EQ(udd_regs_map(be, 1, BE_BAR0_SIZE, 0, NULL, &a), -ENXIO);
	CHECK_EQ(udd_regs_map(be, 1, 0x1000, 0x1001, NULL, &a), -ENXIO);
	udd_acc_attr_t bad = { 7, 0, 0, 0 };
	CHECK_EQ(udd_regs_map(be, 1, 0, 0, &bad, &a), -EINVAL);
	bad = (udd_acc_attr_t){ 0, 9, 0, 0 };
	CHECK_EQ(udd_regs_map(be, 1, 0, 0, &bad, &a), -EINVAL);
	bad = (udd_acc_attr_t){ 0, 0, 3, 0 };
	CHECK_EQ(udd_regs_map(be, 1, 0, 0, &bad, &a), -EINVAL);
	CHECK_EQ(udd_regs_map(be, 1, 0, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(udd_regs_map_bar(be, 5, 0, 0, NULL, &a), -ENOENT);
}

static void test_direct_and_swapped(udd_dev_t *be)
{
	udd_acc_t *raw, *sw;
	REQUIRE_OK(udd_regs_map_bar(be, 2, 0, 0, &LE, &raw));
	CHECK(udd_acc_is_direct(raw));
	CHECK(udd_acc_ptr(raw) != NULL);
	CHECK_EQ(udd_acc_size(raw), BE_BAR2_SIZE);
	udd_put32(raw, 0x100, 0x11223344);
	CHECK_EQ(udd_get32(raw, 0x100), 0x11223344);
	CHECK_EQ(udd_direct_get32(raw, 0x100), 0x11223344);
	CHECK_EQ(udd_get8(raw, 0x100), 0x44); /* little-endian memory */
	udd_direct_put64(raw, 0x108, 0x0102030405060708ull);
	CHECK_EQ(udd_get64(raw, 0x108), 0x0102030405060708ull);

	/* the same memory mapped big-endian: swapped, not direct */
	REQUIRE_OK(udd_regs_map_bar(be, 2, 0x100, 0x1000, &BE, &sw));
	CHECK(!udd_acc_is_direct(sw));
	CHECK(udd_acc_is_swapped(sw));
	CHECK(!udd_acc_is_swapped(raw));
	CHECK_EQ(udd_swapped_get32(sw, 0), 0x44332211);
	CHECK_EQ(udd_get32(sw, 0), 0x44332211);
	CHECK_EQ(udd_get16(sw, 0), 0x4433);
	CHECK_EQ(udd_get64(sw, 8), 0x0807060504030201ull);
	udd_put16(sw, 0x20, 0xabcd);
	CHECK_EQ(udd_get8(raw, 0x120), 0xab);
	CHECK_EQ(udd_get8(raw, 0x121), 0xcd);
	udd_acc_attr_t at;
	REQUIRE_OK(udd_acc_get_attr(sw, &at));
	CHECK_EQ(at.endian, UDD_BIG_ENDIAN);

	/* rep on memory, autoincrement, with swapping */
	uint32_t in[8], out[8];
	for (int i = 0; i < 8; i++)
		in[i] = 0xa0000000u + (uint32_t)i;
	udd_rep_put32(sw, 0x40, in, 8, UDD_DEV_AUTOINCR);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(udd_get32(raw, 0x140 + 4u * (unsigned)i), __builtin_bswap32(in[i]));
	udd_rep_get32(sw, 0x40, out, 8, UDD_DEV_AUTOINCR);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_EQ(udd_acc_check(sw), 0);

	udd_regs_unmap(sw);
	/* a checked (cautious) handle: an access outside it marks it, reads all ones */
	static const udd_acc_attr_t BE_CAUT = { UDD_BIG_ENDIAN, UDD_STRICTORDER, UDD_CAUTIOUS_ACC, 0 };
	REQUIRE_OK(udd_regs_map_bar(be, 2, 0x100, 0x1000, &BE_CAUT, &sw));
	CHECK(!udd_acc_is_swapped(sw) && !udd_acc_is_direct(sw));
	CHECK_EQ(udd_get32(sw, 0), 0x44332211);
	CHECK_EQ(udd_get32(sw, 0x1000), 0xffffffffu);
	CHECK_EQ(udd_acc_check(sw), -EIO);
	REQUIRE_OK(udd_acc_clear_error(sw));
	CHECK_EQ(udd_acc_check(sw), 0);
	udd_put32(sw, 2, 1); /* misaligned */
	CHECK_EQ(udd_acc_check(sw), -EIO);
	udd_acc_clear_error(sw);
	udd_rep_get32(sw, 0xff0, out, 8, UDD_DEV_AUTOINCR); /* runs off the end: nothing done */
	CHECK_EQ(udd_acc_check(sw), -EIO);
	for (int i = 0; i < 8; i++)
		CHECK_EQ(out[i], 0xffffffffu); /* and reads all ones */
	udd_regs_unmap(sw);
	udd_regs_unmap(raw);
	udd_regs_unmap(NULL);
}

static void test_trapped(udd_dev_t *be)
{
	udd_acc_t *r, *io;
	REQUIRE_OK(udd_regs_map_bar(be, 0, 0, 0x1000, &BE, &r));
	CHECK(!udd_acc_is_direct(r));
	CHECK_EQ(udd_get32(r, BE_REG_ID), BE_ID_VALUE);
	udd_put32(r, BE_REG_SCRATCH32, 0xdeadbeef);
	CHECK_EQ(udd_get32(r, BE_REG_SCRATCH32), 0xdeadbeef);
	udd_put64(r, BE_REG_SCRATCH64, 0x1122334455667788ull);
	CHECK_EQ(udd_get64(r, BE_REG_SCRATCH64), 0x1122334455667788ull);
	/* stored big-endian: a never-swap handle sees the bytes reversed */
	udd_acc_t *ns;
	REQUIRE_OK(udd_regs_map_bar(be, 0, 0, 0x1000, NULL, &ns));
	CHECK_EQ(udd_get32(ns, BE_REG_ID), __builtin_bswap32(BE_ID_VALUE));
	udd_regs_unmap(ns);

	/* FIFO: rep without autoincrement pushes/pops one register */
	uint32_t in[5] = { 1, 2, 3, 4, 5 }, out[5] = { 0 };
	udd_rep_put32(r, BE_REG_FIFO, in, 5, UDD_DEV_NO_AUTOINCR);
	CHECK_EQ(udd_get32(r, BE_REG_FIFO_LEVEL), 5);
	udd_rep_get32(r, BE_REG_FIFO, out, 5, UDD_DEV_NO_AUTOINCR);
	CHECK(memcmp(in, out, sizeof(in)) == 0);
	CHECK_EQ(udd_get32(r, BE_REG_FIFO_LEVEL), 0);
	CHECK_EQ(udd_acc_check(r), 0);

	/* the I/O BAR mirrors the FIFO */
	REQUIRE_OK(udd_regs_map_bar(be, 4, 0, 0, &BE, &io));
	udd_put32(io, BE_IO_FIFO, 0x55aa);
	CHECK_EQ(udd_get32(io, BE_IO_FIFO_LEVEL), 1);
	CHECK_EQ(udd_get32(r, BE_REG_FIFO), 0x55aa);
	udd_regs_unmap(io);

	/* the doorbell page of BAR0 is mappable (sparse mmap): direct */
	udd_acc_t *db;
	REQUIRE_OK(udd_regs_map_bar(be, 0, BE_DOORBELL_PAGE, 0x1000, NULL, &db));
	CHECK(udd_acc_is_direct(db));
	udd_regs_unmap(db);
	/* a range straddling trapped and mapped parts is trapped whole */
	REQUIRE_OK(udd_regs_map_bar(be, 0, 0, 0, NULL, &db));
	CHECK(!udd_acc_is_direct(db));
	udd_regs_unmap(db);

	/* reset clears the scratch register */
	udd_put32(r, BE_REG_SCRATCH32, 0x1234);
	REQUIRE_OK(udd_dev_reset(be));
	CHECK_EQ(udd_get32(r, BE_REG_SCRATCH32), 0);
	udd_regs_unmap(r);
}

static void test_edu_trapped(udd_ctx_t *ctx)
{
	udd_dev_t *edu;
	REQUIRE_OK(udd_dev_borrow(ctx, simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID), 0, &edu));
	udd_acc_t *r;
	REQUIRE_OK(udd_regs_map_bar(edu, 0, 0, 0, NULL, &r));
	CHECK(!udd_acc_is_direct(r));
	CHECK_EQ(udd_get32(r, EDU_REG_ID), EDU_ID_VALUE);
	udd_put32(r, EDU_REG_LIVENESS, 0x12345678);
	CHECK_EQ(udd_get32(r, EDU_REG_LIVENESS), ~0x12345678u);
	CHECK_EQ(udd_dev_reset(edu), -ENOTSUP); /* as QEMU's edu */
	udd_regs_unmap(r);
	udd_dev_return(edu);
}

/* FLAGERR: the device disappears; an all-ones read marks the handle. */
static void test_flagerr(udd_ctx_t *ctx)
{
	udd_dev_t *be;
	REQUIRE_OK(udd_dev_borrow(ctx, simenv_find(ctx, BE_VENDOR_ID, BE_DEVICE_ID), 0, &be));
	udd_acc_t *r, *plain;
	REQUIRE_OK(udd_regs_map_bar(be, 0, 0, 0x1000, &BE_FLAG, &r));
	REQUIRE_OK(udd_regs_map_bar(be, 0, 0, 0x1000, &BE, &plain));
	CHECK_EQ(udd_get32(r, BE_REG_ID), BE_ID_VALUE);
	CHECK_EQ(udd_acc_check(r), 0);
	/* all ones from a healthy device is just a value */
	udd_put32(r, BE_REG_SCRATCH32, 0xffffffffu);
	CHECK_EQ(udd_get32(r, BE_REG_SCRATCH32), 0xffffffffu);
	CHECK_EQ(udd_acc_check(r), 0);
	CHECK_EQ(udd_dev_check(be), 0);

	char reply[128];
	REQUIRE(simenv_control("unplug be", reply, sizeof(reply)) == 0);
	CHECK(strcmp(reply, "ok") == 0);
	CHECK_EQ(udd_get32(r, BE_REG_ID), 0xffffffffu);
	CHECK_EQ(udd_acc_check(r), -ENODEV);
	CHECK_EQ(udd_dev_check(be), -ENODEV);
	uint32_t v;
	CHECK_EQ(udd_cfg_read32(be, 0, &v), -ENODEV);
	CHECK_EQ(udd_acc_check(plain), -ENODEV); /* the device is gone for every handle */
	udd_dev_return(be);
}

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_dev_t *be;
	REQUIRE_OK(udd_dev_borrow(ctx, simenv_find(ctx, BE_VENDOR_ID, BE_DEVICE_ID),
				  UDD_BORROW_EXCLUSIVE, &be));
	test_sets(be);
	test_direct_and_swapped(be);
	test_trapped(be);
	udd_dev_return(be);
	test_edu_trapped(ctx);
	test_flagerr(ctx);
	udd_ctx_close(ctx);
	return t_done("test_access");
}
