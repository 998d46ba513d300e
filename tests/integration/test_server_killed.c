/* SPDX-License-Identifier: MIT */
/*
 * A device's server killed mid-session: every call gives a clean error
 * (-ENODEV, all-ones reads with the handle marked), nothing hangs, and the
 * device can still be returned. Also: a configured socket (not the embedded
 * pool) joins the pool.
 */
#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

int main(void)
{
	char sock[400];
	snprintf(sock, sizeof(sock), "%s/edu-own.sock", simenv_tmpdir());
	pid_t pid = simenv_spawn(sock, "edu");

	udd_ctx_opts_t o = { 0 };
	o.flags = UDD_CTX_F_NO_EMBEDDED;
	o.sockets = sock;
	udd_ctx_t *ctx;
	REQUIRE_OK(udd_ctx_open(&ctx, &o));
	udd_fdid_t ids[4];
	REQUIRE(udd_pool_list(ctx, NULL, ids, 4) == 1);
	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(ctx, ids[0], UDD_BORROW_EXCLUSIVE, &dev));
	udd_acc_t *r;
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, NULL, &r));
	CHECK_EQ(udd_get32(r, EDU_REG_ID), EDU_ID_VALUE);
	udd_mem_t *mem;
	REQUIRE_OK(udd_mem_alloc(ctx, 4096, &mem));
	REQUIRE_OK(udd_irq_enable(dev, UDD_IRQ_MSI, 1));

	kill(pid, SIGKILL);
	int st;
	waitpid(pid, &st, 0);

	CHECK_EQ(udd_get32(r, EDU_REG_ID), 0xffffffffu);
	CHECK_EQ(udd_acc_check(r), -ENODEV);
	udd_put32(r, EDU_REG_LIVENESS, 1); /* no crash, no hang */
	uint32_t v;
	CHECK_EQ(udd_cfg_read32(dev, 0, &v), -ENODEV);
	CHECK_EQ(udd_dev_check(dev), -ENODEV);
	uint64_t iova;
	udd_dma_t *dma;
	int rc = udd_dma_map(dev, mem, 0, 4096, NULL, UDD_DMA_F_READ, &iova, &dma);
	CHECK(rc == -ENODEV);
	CHECK_EQ(udd_irq_wait(dev, 0, 50, NULL), -ENODEV);
	CHECK_EQ(udd_irq_wait(dev, 0, -1, NULL), -ENODEV); /* not forever */
	udd_acc_t *r2;
	CHECK_EQ(udd_regs_map_bar(dev, 0, 0, 0, NULL, &r2), -ENODEV);
	udd_dev_return(dev);
	udd_mem_free(mem);

	/* the stale socket is left out of the pool; borrowing it fails cleanly */
	CHECK_EQ(udd_pool_list(ctx, NULL, ids, 4), 0);
	CHECK(udd_dev_borrow(ctx, ids[0], 0, &dev) < 0);
	udd_ctx_close(ctx);
	return t_done("test_server_killed");
}
