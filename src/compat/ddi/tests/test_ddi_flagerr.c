/* SPDX-License-Identifier: MIT */
/*
 * DDI fault handling: a FLAGERR mapping of the big-endian device, then the
 * device disappears (udd-sim "unplug be"): an access reads all ones,
 * ddi_check_acc_handle() returns DDI_FAILURE, ddi_fm_acc_err_get() reports
 * it, and ddi_peek/ddi_poke fail without crashing.
 */
#include <udd/ddi.h>

#include "sim_devices.h"
#include "simenv.h"
#include "testlib.h"

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_fdid_t id = simenv_find(ctx, BE_VENDOR_ID, BE_DEVICE_ID);
	dev_info_t *dip = NULL;
	REQUIRE(ddi_udd_attach(ctx, id, UDD_BORROW_EXCLUSIVE, &dip) == DDI_SUCCESS);

	ddi_device_acc_attr_t fe = { DDI_DEVICE_ATTR_V1, DDI_STRUCTURE_BE_ACC, DDI_STRICTORDER_ACC,
				     DDI_FLAGERR_ACC };
	ddi_device_acc_attr_t def = { DDI_DEVICE_ATTR_V0, DDI_NEVERSWAP_ACC, DDI_STRICTORDER_ACC, 0 };
	ddi_acc_handle_t regs, mem;
	caddr_t r, m;
	REQUIRE(ddi_regs_map_setup(dip, 1, &r, 0, 0x1000, &fe, &regs) == DDI_SUCCESS);
	REQUIRE(ddi_regs_map_setup(dip, 2, &m, 0, 0x1000, &def, &mem) == DDI_SUCCESS);
	uint32_t *idreg = (uint32_t *)(void *)(r + BE_REG_ID);

	/* healthy */
	CHECK_EQ(ddi_get32(regs, idreg), BE_ID_VALUE);
	CHECK_EQ(ddi_check_acc_handle(regs), DDI_SUCCESS);
	ddi_fm_error_t de;
	ddi_fm_acc_err_get(regs, &de, DDI_FME_VERSION);
	CHECK_EQ(de.fme_status, DDI_FM_OK);
	CHECK_EQ(de.fme_version, DDI_FME_VERSION);
	int32_t v32 = 0;
	int64_t v64 = 0;
	CHECK_EQ(ddi_peek32(dip, (int32_t *)(void *)(r + BE_REG_ID), &v32), DDI_SUCCESS);
	CHECK_EQ((uint32_t)v32, BE_ID_VALUE);
	CHECK_EQ(ddi_poke32(dip, (int32_t *)(void *)(r + BE_REG_SCRATCH32), 0x5a5a5a5a), DDI_SUCCESS);
	CHECK_EQ(ddi_get32(regs, (uint32_t *)(void *)(r + BE_REG_SCRATCH32)), 0x5a5a5a5au);
	CHECK_EQ(ddi_poke64(dip, (int64_t *)(void *)(m + 8), 42), DDI_SUCCESS);
	CHECK_EQ(ddi_peek64(dip, (int64_t *)(void *)(m + 8), &v64), DDI_SUCCESS);
	CHECK_EQ(v64, 42);
	/* peek at an address no mapping covers */
	int8_t v8 = 0;
	CHECK_EQ(ddi_peek8(dip, (int8_t *)&v8, &v8), DDI_FAILURE);
	CHECK_EQ(ddi_peek32(dip, (int32_t *)(void *)(r + 2), &v32), DDI_FAILURE); /* misaligned */

	/* the device disappears */
	char reply[64];
	REQUIRE(simenv_control("unplug be", reply, sizeof(reply)) == 0);
	CHECK(strncmp(reply, "ok", 2) == 0);

	CHECK_EQ(ddi_get32(regs, idreg), 0xffffffffu);
	CHECK_EQ(ddi_check_acc_handle(regs), DDI_FAILURE);
	ddi_fm_acc_err_get(regs, &de, DDI_FME_VERSION);
	CHECK(de.fme_status != DDI_FM_OK);
	CHECK_EQ(de.fme_status, DDI_FM_FATAL);
	CHECK(de.fme_acc_handle == regs);
	CHECK(de.fme_ena != 0);
	/* writes are dropped, not fatal */
	ddi_put32(regs, (uint32_t *)(void *)(r + BE_REG_SCRATCH32), 1);
	uint32_t buf[4];
	ddi_rep_get32(regs, buf, (uint32_t *)(void *)(r + BE_REG_FIFO), 4, DDI_DEV_NO_AUTOINCR);
	CHECK_EQ(buf[0], 0xffffffffu);
	/* the direct memory mapping reports the loss too */
	CHECK_EQ(ddi_check_acc_handle(mem), DDI_FAILURE);

	/* cautious accesses fail, never crash */
	CHECK_EQ(ddi_peek32(dip, (int32_t *)(void *)(r + BE_REG_ID), &v32), DDI_FAILURE);
	CHECK_EQ(ddi_peek8(dip, (int8_t *)(r + BE_REG_ID), &v8), DDI_FAILURE);
	CHECK_EQ(ddi_peek64(dip, (int64_t *)(void *)(m + 8), &v64), DDI_FAILURE);
	CHECK_EQ(ddi_poke16(dip, (int16_t *)(void *)(r + BE_REG_SCRATCH32), 1), DDI_FAILURE);
	CHECK_EQ(ddi_poke32(dip, (int32_t *)(void *)(m + 8), 1), DDI_FAILURE);

	/* a new mapping of a vanished device fails */
	ddi_acc_handle_t h2 = NULL;
	caddr_t a2;
	CHECK(ddi_regs_map_setup(dip, 1, &a2, 0, 0, &fe, &h2) != DDI_SUCCESS);
	CHECK(h2 == NULL);

	ddi_regs_map_free(&mem);
	ddi_regs_map_free(&regs);
	ddi_udd_detach(dip);
	udd_ctx_close(ctx);
	return t_done("test_ddi_flagerr");
}
