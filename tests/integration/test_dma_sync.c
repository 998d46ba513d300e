/* SPDX-License-Identifier: MIT */
/*
 * Explicit DMA coherence (udd.dma_sync, VFU_UDD_CMD_DMA_SYNC) against
 * `udd-sim --bounce-windows`, whose simulated edu DMAs into the server's
 * copy of a descriptor-less window (udd_dma_map_va), as a real device lent
 * across hosts does: without udd_dma_sync the device sees zeros and the CPU
 * does not see what the device wrote; FOR_DEVICE / FOR_CPU move the bytes,
 * in chunks of max_data_xfer_size; the per-borrower limit of bounce memory
 * (64 MiB, ENOSPC beyond). Then a plain udd-sim (no copies): the same
 * window is reached through DMA_READ/WRITE messages and sync changes
 * nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <sys/wait.h>

#include <sys/prctl.h>

#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

#define PG 4096u
#define MIB (1u << 20)

static const udd_acc_attr_t LE = { UDD_LITTLE_ENDIAN, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };
static const udd_dma_attr_t EDU_ATTR = { .addr_hi = EDU_DMA_MASK };

static pid_t spawn(const char *sock, bool bounce)
{
	const char *sim = getenv("UDD_SIM");
	REQUIRE(sim != NULL);
	unlink(sock);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* no orphan after a failed REQUIRE */
		if (bounce)
			execl(sim, "udd-sim", "--bounce-windows", "--socket", sock, "--device", "edu",
			      (char *)NULL);
		else
			execl(sim, "udd-sim", "--socket", sock, "--device", "edu", (char *)NULL);
		_exit(127);
	}
	for (int i = 0; i < 500; i++) { /* ready when it accepts, not at bind() */
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		size_t l = strlen(sock);
		int s = l < sizeof(sa.sun_path) ? socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0) : -1;
		if (s >= 0)
			memcpy(sa.sun_path, sock, l + 1);
		int up = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (s >= 0)
			close(s);
		if (up)
			return pid;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	kill(pid, SIGKILL);
	REQUIRE(!"udd-sim did not create its socket");
	return -1;
}

static udd_dev_t *borrow(udd_ctx_t **ctx, const char *sock)
{
	udd_ctx_opts_t o = { 0 };
	o.flags = UDD_CTX_F_NO_EMBEDDED;
	o.sockets = sock;
	REQUIRE_OK(udd_ctx_open(ctx, &o));
	udd_fdid_t id;
	REQUIRE(udd_pool_list(*ctx, NULL, &id, 1) == 1);
	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(*ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	return dev;
}

static int edu_dma(udd_acc_t *bar, uint64_t src, uint64_t dst, uint64_t cnt, uint64_t cmd)
{
	udd_put64(bar, EDU_REG_DMA_SRC, src);
	udd_put64(bar, EDU_REG_DMA_DST, dst);
	udd_put64(bar, EDU_REG_DMA_COUNT, cnt);
	udd_put64(bar, EDU_REG_DMA_CMD, cmd | EDU_DMA_START);
	for (int i = 0; i < 20000; i++) { /* bounded: 4 s */
		if (!(udd_get64(bar, EDU_REG_DMA_CMD) & EDU_DMA_START))
			return 0;
		struct timespec ts = { 0, 200 * 1000 };
		nanosleep(&ts, NULL);
	}
	return -ETIMEDOUT;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(i * 7 + seed + (i >> 8));
}

static bool edu_buf_is(udd_acc_t *bar, const uint8_t *want, size_t n)
{
	for (size_t i = 0; i < n; i += 4) {
		uint32_t v = udd_get32(bar, EDU_DMA_BUF + i), w;
		memcpy(&w, want + i, 4);
		if (v != w)
			return false;
	}
	return true;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static void test_bounce(udd_dev_t *edu, udd_acc_t *bar)
{
	const size_t len = 3 * MIB; /* three max_data_xfer_size chunks */
	uint8_t *buf = aligned_alloc(PG, len), *want = malloc(PG), *zero = calloc(1, PG);
	REQUIRE(buf && want && zero);
	memset(buf, 0, len);
	udd_dma_t *w;
	uint64_t iova;
	REQUIRE_OK(udd_dma_map_va(edu, buf, len, &EDU_ATTR, UDD_DMA_F_READ | UDD_DMA_F_WRITE,
				  &iova, &w));

	/* the device reads the server's copy: zeros until FOR_DEVICE */
	fill(buf, len, 3);
	REQUIRE_OK(edu_dma(bar, iova + 2 * MIB + PG, EDU_DMA_BUF, PG, 0));
	CHECK(edu_buf_is(bar, zero, PG));
	CHECK_EQ(udd_dma_sync(w, 0, len, UDD_DMA_SYNC_FOR_DEVICE), 0);
	REQUIRE_OK(edu_dma(bar, iova + 2 * MIB + PG, EDU_DMA_BUF, PG, 0));
	CHECK(edu_buf_is(bar, buf + 2 * MIB + PG, PG));

	/* the device writes across a chunk boundary: seen only after FOR_CPU */
	memcpy(want, buf + 2 * MIB + PG, PG);
	const size_t at = MIB - 100;
	memset(buf + at, 0, PG);
	REQUIRE_OK(edu_dma(bar, EDU_DMA_BUF, iova + at, PG, EDU_DMA_FROM_DEV));
	CHECK(all_zero(buf + at, PG));
	CHECK_EQ(udd_dma_sync(w, at - 7, PG + 20, UDD_DMA_SYNC_FOR_CPU), 0);
	CHECK(memcmp(buf + at, want, PG) == 0);

	/* argument checks before any message */
	CHECK_EQ(udd_dma_sync(w, len - 1, 2, UDD_DMA_SYNC_FOR_CPU), -EINVAL);
	CHECK_EQ(udd_dma_sync(w, 0, 1, 0), -EINVAL);
	CHECK_EQ(udd_dma_sync(w, len, 0, UDD_DMA_SYNC_FOR_CPU), 0);
	udd_dma_unmap(w);

	/* 64 MiB of bounce memory per borrower */
	uint8_t *big = aligned_alloc(PG, 64 * MIB);
	REQUIRE(big);
	udd_dma_t *wb, *wx;
	uint64_t ib, ix;
	REQUIRE_OK(udd_dma_map_va(edu, big, 64 * MIB, &EDU_ATTR, UDD_DMA_F_READ, &ib, &wb));
	CHECK_EQ(udd_dma_map_va(edu, buf, PG, &EDU_ATTR, UDD_DMA_F_READ, &ix, &wx), -ENOSPC);
	udd_dma_unmap(wb); /* freed with its window: room again */
	REQUIRE_OK(udd_dma_map_va(edu, buf, PG, &EDU_ATTR, UDD_DMA_F_READ, &ix, &wx));
	udd_dma_unmap(wx);
	free(big);
	free(buf);
	free(want);
	free(zero);
}

/* No server copy: the device reaches the window through messages at once;
 * sync is answered without data and changes nothing. */
static void test_plain(udd_dev_t *edu, udd_acc_t *bar)
{
	uint8_t *buf = aligned_alloc(PG, 2 * PG);
	REQUIRE(buf);
	udd_dma_t *w;
	uint64_t iova;
	REQUIRE_OK(udd_dma_map_va(edu, buf, 2 * PG, &EDU_ATTR, UDD_DMA_F_READ | UDD_DMA_F_WRITE,
				  &iova, &w));
	fill(buf, PG, 9);
	memset(buf + PG, 0, PG);
	REQUIRE_OK(edu_dma(bar, iova, EDU_DMA_BUF, PG, 0));
	CHECK(edu_buf_is(bar, buf, PG));
	REQUIRE_OK(edu_dma(bar, EDU_DMA_BUF, iova + PG, PG, EDU_DMA_FROM_DEV));
	CHECK(memcmp(buf, buf + PG, PG) == 0);
	CHECK_EQ(udd_dma_sync(w, 0, 2 * PG, UDD_DMA_SYNC_FOR_CPU), 0);
	CHECK(memcmp(buf, buf + PG, PG) == 0);
	CHECK_EQ(udd_dma_sync(w, 0, 2 * PG, UDD_DMA_SYNC_FOR_DEVICE), 0);
	udd_dma_unmap(w);
	free(buf);
}

static void run(bool bounce)
{
	char sock[400];
	snprintf(sock, sizeof(sock), "%s/edu-sync%d.sock", simenv_tmpdir(), bounce);
	pid_t srv = spawn(sock, bounce);
	udd_ctx_t *ctx;
	udd_dev_t *edu = borrow(&ctx, sock);
	udd_acc_t *bar;
	REQUIRE_OK(udd_regs_map_bar(edu, 0, 0, 0, &LE, &bar));
	REQUIRE(udd_get32(bar, EDU_REG_ID) == EDU_ID_VALUE);
	if (bounce)
		test_bounce(edu, bar);
	else
		test_plain(edu, bar);
	udd_dev_return(edu);
	udd_ctx_close(ctx);
	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
}

int main(void)
{
	run(true);
	run(false);
	return t_done("test_dma_sync");
}
