/* SPDX-License-Identifier: MIT */
/*
 * Interrupts against udd-sim: edu MSI (raise/ack, factorial done), INTx
 * automask and unmask (level semantics: still asserted → fires again on
 * unmask), be MSI-X vectors each on its own eventfd, timeouts, errors.
 *
 * The simulator delivers an interrupt (writes the eventfd) while it handles
 * the register write or the unmask message, before it replies; so "no event
 * yet" checks right after such a call are deterministic.
 */
#include <poll.h>

#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

static const udd_acc_attr_t LE = { UDD_LITTLE_ENDIAN, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };
static const udd_acc_attr_t BE = { UDD_BIG_ENDIAN, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };

/* 1 if the fd has an event now, without consuming it. */
static int pending(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	return poll(&p, 1, 0) == 1;
}

/* Wait (bounded) for an event on the fd and consume it. */
static int consume(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t v;

	if (poll(&p, 1, 5000) != 1)
		return -ETIMEDOUT;
	return read(fd, &v, sizeof(v)) == (ssize_t)sizeof(v) ? 0 : -EIO;
}

static void test_errors(udd_dev_t *edu)
{
	udd_dev_info_t info;
	uint64_t cnt;

	REQUIRE_OK(udd_dev_get_info(edu, &info));
	CHECK_EQ(info.irq_count[UDD_IRQ_INTX], 1);
	CHECK_EQ(info.irq_count[UDD_IRQ_MSI], 1);
	CHECK_EQ(info.irq_count[UDD_IRQ_MSIX], 0);
	CHECK_EQ(udd_irq_enable(edu, UDD_IRQ_MSIX, 1), -ENOTSUP);
	CHECK_EQ(udd_irq_enable(edu, UDD_IRQ_MSI, 2), -ENOTSUP);
	CHECK_EQ(udd_irq_enable(edu, UDD_IRQ_MSI, 0), -EINVAL);
	CHECK_EQ(udd_irq_enable(edu, UDD_IRQ_NTYPES, 1), -EINVAL);
	CHECK_EQ(udd_irq_enable(NULL, UDD_IRQ_MSI, 1), -EINVAL);
	CHECK_EQ(udd_irq_fd(edu, 0), -ENOENT);
	CHECK_EQ(udd_irq_wait(edu, 0, 0, &cnt), -ENOENT);
	CHECK_EQ(udd_irq_mask(edu, 0), -ENOENT);
	CHECK_EQ(udd_irq_fd(NULL, 0), -EINVAL);
	CHECK_EQ(udd_irq_wait(NULL, 0, 0, NULL), -EINVAL);
	CHECK_EQ(udd_irq_disable(NULL), -EINVAL);
	CHECK_EQ(udd_irq_disable(edu), 0); /* nothing enabled: fine */
}

static void test_msi(udd_dev_t *edu, udd_acc_t *bar)
{
	uint64_t cnt = 0;

	REQUIRE_OK(udd_irq_enable(edu, UDD_IRQ_MSI, 1));
	int fd = udd_irq_fd(edu, 0);
	CHECK(fd >= 0);
	CHECK_EQ(udd_irq_fd(edu, 1), -ENOENT);
	CHECK_EQ(udd_irq_wait(edu, 1, 0, &cnt), -ENOENT);
	CHECK_EQ(udd_irq_wait(edu, 0, 0, &cnt), -ETIMEDOUT);
	CHECK_EQ(udd_irq_wait(edu, 0, 20, &cnt), -ETIMEDOUT);
	CHECK_EQ(udd_irq_wait(edu, 0, -2, &cnt), -EINVAL);
	CHECK_EQ(udd_irq_mask(edu, 0), -ENOTSUP); /* MSI is not maskable here */

	/* raise / ack */
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x1);
	CHECK_EQ(udd_irq_wait(edu, 0, 5000, &cnt), 0);
	CHECK_EQ(cnt, 1);
	CHECK_EQ(udd_get32(bar, EDU_REG_IRQ_STATUS), 0x1);
	udd_put32(bar, EDU_REG_IRQ_ACK, 0x1);
	CHECK_EQ(udd_get32(bar, EDU_REG_IRQ_STATUS), 0);
	CHECK_EQ(udd_irq_wait(edu, 0, 0, &cnt), -ETIMEDOUT);

	/* two raises before a wait: counted together */
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x2);
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x4);
	CHECK_EQ(udd_irq_wait(edu, 0, 5000, &cnt), 0);
	CHECK_EQ(cnt, 2);
	CHECK_EQ(udd_get32(bar, EDU_REG_IRQ_STATUS), 0x6);
	udd_put32(bar, EDU_REG_IRQ_ACK, 0x6);

	/* factorial with an interrupt when done */
	udd_put32(bar, EDU_REG_STATUS, EDU_STATUS_IRQFACT);
	udd_put32(bar, EDU_REG_FACT, 6);
	CHECK_EQ(udd_irq_wait(edu, 0, 5000, NULL), 0);
	CHECK_EQ(udd_get32(bar, EDU_REG_FACT), 720);
	CHECK_EQ(udd_get32(bar, EDU_REG_IRQ_STATUS), EDU_IRQ_FACT);
	udd_put32(bar, EDU_REG_IRQ_ACK, EDU_IRQ_FACT);
	udd_put32(bar, EDU_REG_STATUS, 0);

	/* the caller's own event loop on the fd */
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x8);
	CHECK_EQ(consume(fd), 0);
	udd_put32(bar, EDU_REG_IRQ_ACK, 0x8);
	CHECK(!pending(fd));
}

static void test_intx(udd_dev_t *edu, udd_acc_t *bar)
{
	uint64_t cnt = 0;

	/* replaces MSI */
	REQUIRE_OK(udd_irq_enable(edu, UDD_IRQ_INTX, 1));
	int fd = udd_irq_fd(edu, 0);
	CHECK(fd >= 0);
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x1);
	CHECK_EQ(consume(fd), 0);
	/* fired → masked: another raise while masked does not fire */
	udd_put32(bar, EDU_REG_IRQ_ACK, 0x1);
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x2);
	CHECK(!pending(fd));
	/* unmask while still asserted: fires (and masks) again */
	CHECK_EQ(udd_irq_unmask(edu, 0), 0);
	CHECK_EQ(consume(fd), 0);
	udd_put32(bar, EDU_REG_IRQ_ACK, 0x2);
	CHECK_EQ(udd_irq_unmask(edu, 0), 0); /* deasserted now: no event */
	CHECK(!pending(fd));

	/* udd_irq_wait unmasks after consuming */
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x1);
	CHECK_EQ(udd_irq_wait(edu, 0, 5000, &cnt), 0);
	CHECK_EQ(cnt, 1);
	/* still asserted: its unmask made it fire again */
	udd_put32(bar, EDU_REG_IRQ_ACK, 0x1);
	CHECK_EQ(udd_irq_wait(edu, 0, 0, &cnt), 0);
	/* that wait unmasked with the line deasserted: quiet */
	CHECK_EQ(udd_irq_wait(edu, 0, 0, &cnt), -ETIMEDOUT);
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x4);
	CHECK_EQ(udd_irq_wait(edu, 0, 5000, &cnt), 0);
	udd_put32(bar, EDU_REG_IRQ_ACK, 0x4);
	(void)udd_irq_wait(edu, 0, 0, &cnt); /* the re-fire from the unmask, if any */
	CHECK_EQ(udd_irq_wait(edu, 0, 0, &cnt), -ETIMEDOUT);

	/* explicit mask: a raise does not fire until unmasked */
	CHECK_EQ(udd_irq_mask(edu, 0), 0);
	udd_put32(bar, EDU_REG_IRQ_RAISE, 0x1);
	CHECK(!pending(fd));
	CHECK_EQ(udd_irq_unmask(edu, 0), 0);
	CHECK_EQ(consume(fd), 0);
	udd_put32(bar, EDU_REG_IRQ_ACK, 0x1);
	CHECK_EQ(udd_irq_unmask(edu, 0), 0);
	CHECK_EQ(udd_irq_mask(edu, 1), -ENOENT);

	REQUIRE_OK(udd_irq_disable(edu));
	CHECK_EQ(udd_irq_fd(edu, 0), -ENOENT);
	CHECK_EQ(udd_irq_wait(edu, 0, 0, &cnt), -ENOENT);
	REQUIRE_OK(udd_irq_disable(edu));
}

static void test_msix(udd_dev_t *be)
{
	udd_acc_t *regs;
	int fds[BE_MSIX_VECTORS];
	uint64_t cnt;

	REQUIRE_OK(udd_regs_map_bar(be, 0, 0, 0x1000, &BE, &regs));
	CHECK_EQ(udd_irq_enable(be, UDD_IRQ_MSIX, BE_MSIX_VECTORS + 1), -ENOTSUP);
	CHECK_EQ(udd_irq_enable(be, UDD_IRQ_MSI, 1), -ENOTSUP);
	REQUIRE_OK(udd_irq_enable(be, UDD_IRQ_MSIX, BE_MSIX_VECTORS));
	for (unsigned v = 0; v < BE_MSIX_VECTORS; v++) {
		fds[v] = udd_irq_fd(be, v);
		CHECK(fds[v] >= 0);
		for (unsigned u = 0; u < v; u++)
			CHECK(fds[u] != fds[v]);
	}
	CHECK_EQ(udd_irq_fd(be, BE_MSIX_VECTORS), -ENOENT);
	for (unsigned v = 0; v < BE_MSIX_VECTORS; v++) {
		udd_put32(regs, BE_REG_RAISE, v);
		for (unsigned u = 0; u < BE_MSIX_VECTORS; u++)
			if (u != v)
				CHECK(!pending(fds[u]));
		CHECK_EQ(udd_irq_wait(be, v, 5000, &cnt), 0);
		CHECK_EQ(cnt, 1);
		CHECK_EQ(udd_irq_wait(be, v, 0, &cnt), -ETIMEDOUT);
	}
	/* in reverse order, all raised before any wait */
	for (unsigned v = BE_MSIX_VECTORS; v-- > 0;)
		udd_put32(regs, BE_REG_RAISE, v);
	for (unsigned v = 0; v < BE_MSIX_VECTORS; v++) {
		CHECK_EQ(udd_irq_wait(be, v, 5000, &cnt), 0);
		CHECK_EQ(cnt, 1);
	}
	/* fewer vectors: the others are not enabled */
	REQUIRE_OK(udd_irq_enable(be, UDD_IRQ_MSIX, 2));
	CHECK(udd_irq_fd(be, 1) >= 0);
	CHECK_EQ(udd_irq_fd(be, 2), -ENOENT);
	udd_put32(regs, BE_REG_RAISE, 1);
	CHECK_EQ(udd_irq_wait(be, 1, 5000, &cnt), 0);
	CHECK_EQ(udd_irq_wait(be, 0, 0, &cnt), -ETIMEDOUT);
	/* left enabled: udd_dev_return disables it */
	udd_regs_unmap(regs);
}

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_dev_t *edu, *be;
	udd_acc_t *bar;

	REQUIRE_OK(udd_dev_borrow(ctx, simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID), 0, &edu));
	REQUIRE_OK(udd_dev_borrow(ctx, simenv_find(ctx, BE_VENDOR_ID, BE_DEVICE_ID), 0, &be));
	REQUIRE_OK(udd_regs_map_bar(edu, 0, 0, 0, &LE, &bar));
	test_errors(edu);
	test_msi(edu, bar);
	test_intx(edu, bar);
	test_msix(be);
	udd_dev_return(edu);
	udd_dev_return(be);
	udd_ctx_close(ctx);
	return t_done("test_irq");
}
