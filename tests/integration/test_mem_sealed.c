/* SPDX-License-Identifier: MIT */
/*
 * DMA memory from udd_mem_alloc is a memfd sealed against shrinking and
 * growing (servers will only mmap DMA fds so sealed, and fall back to
 * message-based DMA otherwise): the fd the library passes to the server
 * (udd_mem_fd) carries F_SEAL_SHRINK | F_SEAL_GROW, its size cannot change,
 * and it still works for DMA with a real server.
 */
#include <fcntl.h>

#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

int main(void)
{
	udd_ctx_t *ctx = simenv_ctx();
	udd_mem_t *m;
	REQUIRE_OK(udd_mem_alloc(ctx, 3 * 4096, &m));
	int fd = udd_mem_fd(m);
	REQUIRE(fd >= 0);
	int seals = fcntl(fd, F_GET_SEALS);
	CHECK(seals >= 0);
	CHECK_EQ(seals & (F_SEAL_SHRINK | F_SEAL_GROW), F_SEAL_SHRINK | F_SEAL_GROW);
	CHECK_EQ(seals & (F_SEAL_WRITE | F_SEAL_SEAL), 0); /* still writable by the device */
	CHECK(ftruncate(fd, 4096) < 0 && errno == EPERM);
	CHECK(ftruncate(fd, 1 << 20) < 0 && errno == EPERM);

	/* the edu DMA engine copies from it: the server takes the sealed fd */
	udd_fdid_t id = simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID);
	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(ctx, id, 0, &dev));
	uint64_t iova;
	udd_dma_t *dma;
	REQUIRE_OK(udd_dma_map(dev, m, 0, 4096, NULL, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova,
			       &dma));
	udd_dma_unmap(dma);
	udd_dev_return(dev);
	udd_mem_free(m);
	udd_ctx_close(ctx);
	return t_done("test_mem_sealed");
}
