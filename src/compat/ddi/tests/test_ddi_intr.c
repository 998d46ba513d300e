/* SPDX-License-Identifier: MIT */
/*
 * DDI interrupts over the simulated edu device (write 0x60 raises, 0x64
 * acks, 0x24 status): allocation rules, a handler running on the library
 * thread that claims and acknowledges, kmutex/kcondvar hand-off, disable;
 * and the soft state functions.
 */
#include <udd/ddi.h>

#include "sim_devices.h"
#include "simenv.h"
#include "testlib.h"

struct state {
	kmutex_t mutex;
	kcondvar_t cv;
	ddi_acc_handle_t regs;
	caddr_t base;
	int count;
	uint32_t status;
	int owned_in_handler;
};

static uint_t edu_intr(caddr_t arg1, caddr_t arg2)
{
	struct state *s = (struct state *)(void *)arg1;
	(void)arg2;
	mutex_enter(&s->mutex);
	s->owned_in_handler = mutex_owned(&s->mutex);
	uint32_t st = ddi_get32(s->regs, (uint32_t *)(void *)(s->base + EDU_REG_IRQ_STATUS));
	if (!st) {
		mutex_exit(&s->mutex);
		return DDI_INTR_UNCLAIMED;
	}
	ddi_put32(s->regs, (uint32_t *)(void *)(s->base + EDU_REG_IRQ_ACK), st);
	s->status |= st;
	s->count++;
	cv_broadcast(&s->cv);
	mutex_exit(&s->mutex);
	return DDI_INTR_CLAIMED;
}

/* Wait (at most 5 s) until the handler has run @n times. */
static int wait_count(struct state *s, int n)
{
	int ok = 1;
	clock_t deadline = ddi_get_lbolt() + drv_usectohz(5000000);
	mutex_enter(&s->mutex);
	while (s->count < n)
		if (cv_timedwait(&s->cv, &s->mutex, deadline) == -1) {
			ok = s->count >= n;
			break;
		}
	mutex_exit(&s->mutex);
	return ok;
}

static void test_soft_state(void)
{
	void *ss = NULL;
	CHECK_EQ(ddi_soft_state_init(&ss, 48, 1), 0);
	CHECK(ddi_get_soft_state(ss, 3) == NULL);
	CHECK_EQ(ddi_soft_state_zalloc(ss, 3), DDI_SUCCESS);
	CHECK_EQ(ddi_soft_state_zalloc(ss, 3), DDI_FAILURE); /* already there */
	CHECK_EQ(ddi_soft_state_zalloc(ss, 100), DDI_SUCCESS); /* grows */
	unsigned char *p = ddi_get_soft_state(ss, 3);
	REQUIRE(p != NULL);
	int zero = 1;
	for (int i = 0; i < 48; i++)
		zero &= p[i] == 0;
	CHECK(zero);
	CHECK(ddi_get_soft_state(ss, 100) != NULL && ddi_get_soft_state(ss, 100) != (void *)p);
	CHECK(ddi_get_soft_state(ss, -1) == NULL);
	ddi_soft_state_free(ss, 3);
	CHECK(ddi_get_soft_state(ss, 3) == NULL);
	ddi_soft_state_fini(&ss); /* frees item 100 too */
	CHECK(ss == NULL);
}

int main(void)
{
	test_soft_state();

	udd_ctx_t *ctx = simenv_ctx();
	udd_fdid_t id = simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID);
	dev_info_t *dip = NULL;
	REQUIRE(ddi_udd_attach(ctx, id, UDD_BORROW_EXCLUSIVE, &dip) == DDI_SUCCESS);

	struct state s = { 0 };
	ddi_device_acc_attr_t le = { DDI_DEVICE_ATTR_V0, DDI_STRUCTURE_LE_ACC, DDI_STRICTORDER_ACC, 0 };
	REQUIRE(ddi_regs_map_setup(dip, 1, &s.base, 0, 0, &le, &s.regs) == DDI_SUCCESS);
	CHECK_EQ(ddi_get32(s.regs, (uint32_t *)(void *)(s.base + EDU_REG_ID)), EDU_ID_VALUE);

	int types = 0, n = 0, actual = 0;
	CHECK_EQ(ddi_intr_get_supported_types(dip, &types), DDI_SUCCESS);
	CHECK(types & DDI_INTR_TYPE_MSI);
	CHECK_EQ(ddi_intr_get_nintrs(dip, DDI_INTR_TYPE_MSI, &n), DDI_SUCCESS);
	CHECK(n >= 1);
	CHECK_EQ(ddi_intr_get_nintrs(dip, 0x40, &n), DDI_EINVAL);

	ddi_intr_handle_t hv[4] = { 0 };
	CHECK_EQ(ddi_intr_alloc(dip, hv, DDI_INTR_TYPE_MSI, 0, n + 1, &actual, DDI_INTR_ALLOC_STRICT),
		 DDI_EAGAIN);
	CHECK_EQ(ddi_intr_alloc(dip, hv, DDI_INTR_TYPE_MSI, n, 1, &actual, DDI_INTR_ALLOC_NORMAL), DDI_EINVAL);
	CHECK_EQ(ddi_intr_alloc(dip, hv, DDI_INTR_TYPE_MSI, 0, n + 1, &actual, DDI_INTR_ALLOC_NORMAL),
		 DDI_SUCCESS);
	CHECK_EQ(actual, n); /* NORMAL: as many as there are */
	int navail = -1;
	CHECK_EQ(ddi_intr_get_navail(dip, DDI_INTR_TYPE_MSI, &navail), DDI_SUCCESS);
	CHECK_EQ(navail, 0);
	uint_t pri = 0;
	CHECK_EQ(ddi_intr_get_pri(hv[0], &pri), DDI_SUCCESS);
	CHECK(pri >= DDI_INTR_PRI_MIN && pri <= DDI_INTR_PRI_MAX);

	mutex_init(&s.mutex, NULL, MUTEX_DRIVER, DDI_INTR_PRI(pri));
	cv_init(&s.cv, NULL, CV_DRIVER, NULL);
	CHECK(!mutex_owned(&s.mutex));

	CHECK_EQ(ddi_intr_enable(hv[0]), DDI_EINVAL); /* no handler yet */
	CHECK_EQ(ddi_intr_add_handler(hv[0], edu_intr, &s, NULL), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_enable(hv[0]), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_remove_handler(hv[0]), DDI_EINVAL); /* while enabled */

	/* raise: the handler claims, records and acknowledges */
	ddi_put32(s.regs, (uint32_t *)(void *)(s.base + EDU_REG_IRQ_RAISE), 0x40);
	CHECK(wait_count(&s, 1));
	mutex_enter(&s.mutex);
	CHECK(mutex_owned(&s.mutex));
	CHECK_EQ(s.status, 0x40);
	CHECK(s.owned_in_handler);
	mutex_exit(&s.mutex);
	CHECK_EQ(ddi_get32(s.regs, (uint32_t *)(void *)(s.base + EDU_REG_IRQ_STATUS)), 0);
	ddi_put32(s.regs, (uint32_t *)(void *)(s.base + EDU_REG_IRQ_RAISE), 0x2);
	CHECK(wait_count(&s, 2));
	CHECK_EQ(s.status, 0x42);

	/* disabled: no handler runs; the raise stays pending in the status */
	CHECK_EQ(ddi_intr_disable(hv[0]), DDI_SUCCESS);
	int before = s.count;
	ddi_put32(s.regs, (uint32_t *)(void *)(s.base + EDU_REG_IRQ_RAISE), 0x100);
	CHECK_EQ(ddi_get32(s.regs, (uint32_t *)(void *)(s.base + EDU_REG_IRQ_STATUS)), 0x100);
	CHECK_EQ(s.count, before);
	ddi_put32(s.regs, (uint32_t *)(void *)(s.base + EDU_REG_IRQ_ACK), 0x100);

	/* enable again: delivered again */
	CHECK_EQ(ddi_intr_enable(hv[0]), DDI_SUCCESS);
	ddi_put32(s.regs, (uint32_t *)(void *)(s.base + EDU_REG_IRQ_RAISE), 0x8);
	CHECK(wait_count(&s, before + 1));
	CHECK_EQ(s.status & 0x8, 0x8);
	CHECK_EQ(ddi_intr_disable(hv[0]), DDI_SUCCESS);

	CHECK_EQ(ddi_intr_remove_handler(hv[0]), DDI_SUCCESS);
	for (int i = 0; i < actual; i++)
		CHECK_EQ(ddi_intr_free(hv[i]), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_get_navail(dip, DDI_INTR_TYPE_MSI, &navail), DDI_SUCCESS);
	CHECK_EQ(navail, n);

	/* left enabled at detach: detach stops the thread and frees it */
	CHECK_EQ(ddi_intr_alloc(dip, hv, DDI_INTR_TYPE_MSI, 0, 1, &actual, DDI_INTR_ALLOC_STRICT), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_add_handler(hv[0], edu_intr, &s, NULL), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_enable(hv[0]), DDI_SUCCESS);

	ddi_udd_detach(dip);
	cv_destroy(&s.cv);
	mutex_destroy(&s.mutex);
	udd_ctx_close(ctx);
	return t_done("test_ddi_intr");
}
