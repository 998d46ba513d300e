/* SPDX-License-Identifier: MIT */
/*
 * Errors say what went wrong:
 *  - a runtime directory too deep for UNIX socket paths works (it was -EIO,
 *    from udd-sim failing to bind; sockets are reached through their
 *    directory, src/backend/vfio-user/sockpath.h);
 *  - udd-sim failing to start with a reason: that errno, its message logged
 *    (it was a bare -EIO);
 *  - udd_mem_import of a range past the end of the file: -EINVAL (it was
 *    mapped, and a touch raised SIGBUS);
 *  - udd_rep_* with unknown flag bits: nothing done, the handle reports
 *    -EINVAL (it was done, as if the bits were not there).
 */
#define _GNU_SOURCE 1
#include <fcntl.h>
#include <sys/mman.h>

#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

static char logged[4096];
static void logcb(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	size_t l = strlen(logged);
	snprintf(logged + l, sizeof(logged) - l, "%s\n", msg);
}

/* A runtime directory deeper than sun_path (a deep checkout): it works —
 * udd-sim binds and the library connects through the directory. */
static void test_deep_runtime_dir(void)
{
	char deep[400];
	int n = snprintf(deep, sizeof(deep), "%s", simenv_tmpdir());
	while (n < 200) {
		n += snprintf(deep + n, sizeof(deep) - (size_t)n, "/%s", "a-rather-long-directory");
		REQUIRE(mkdir(deep, 0700) == 0);
	}
	udd_ctx_opts_t o = { 0 };
	o.runtime_dir = deep;
	o.log_cb = logcb;
	o.log_level = UDD_LOG_DEBUG;
	udd_ctx_t *ctx = NULL;
	logged[0] = '\0';
	CHECK_EQ(udd_ctx_open(&ctx, &o), 0);
	if (!ctx) {
		fprintf(stderr, "log: %s\n", logged);
		return;
	}
	udd_filter_t f = { .vendor_id = 0x1234, .device_id = 0x11e8 };
	udd_fdid_t id;
	CHECK_EQ(udd_pool_list(ctx, &f, &id, 1), 1);
	udd_dev_t *dev = NULL;
	udd_acc_t *regs = NULL;
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev), 0);
	if (dev && udd_regs_map_bar(dev, 0, 0, 0, NULL, &regs) == 0) {
		CHECK_EQ(udd_get32(regs, 0), EDU_ID_VALUE);
		udd_regs_unmap(regs);
	}
	udd_dev_return(dev);
	udd_ctx_close(ctx);
}

static void test_sim_start_failure(void)
{
	char dir[200], script[300];
	snprintf(dir, sizeof(dir), "%s/rt-fail", simenv_tmpdir());
	snprintf(script, sizeof(script), "%s/fake-sim", simenv_tmpdir());
	FILE *f = fopen(script, "w");
	REQUIRE(f != NULL);
	fprintf(f, "#!/bin/sh\necho 'udd-sim: %s/sim/edu.sock: %s' >&2\nexit 1\n", dir,
		strerror(EADDRINUSE));
	fclose(f);
	REQUIRE(chmod(script, 0700) == 0);
	udd_ctx_opts_t o = { 0 };
	o.runtime_dir = dir;
	o.sim_path = script;
	o.log_cb = logcb;
	o.log_level = UDD_LOG_DEBUG;
	udd_ctx_t *ctx = NULL;
	logged[0] = '\0';
	CHECK_EQ(udd_ctx_open(&ctx, &o), -EADDRINUSE);
	CHECK(strstr(logged, "edu.sock") != NULL);
	unlink(script);
}

static void test_import_past_eof(udd_ctx_t *ctx)
{
	long pg = sysconf(_SC_PAGESIZE);
	int fd = memfd_create("t", MFD_CLOEXEC);
	REQUIRE(fd >= 0);
	REQUIRE(ftruncate(fd, 2 * pg) == 0);
	udd_mem_t *m = NULL;
	CHECK_EQ(udd_mem_import(ctx, fd, 0, (size_t)(3 * pg), &m), -EINVAL);
	CHECK_EQ(udd_mem_import(ctx, fd, (uint64_t)pg, (size_t)pg + 1, &m), -EINVAL);
	CHECK_EQ(udd_mem_import(ctx, fd, (uint64_t)(4 * pg), 1, &m), -EINVAL);
	CHECK(m == NULL);
	REQUIRE_OK(udd_mem_import(ctx, fd, (uint64_t)pg, (size_t)pg, &m));
	((volatile char *)udd_mem_ptr(m))[pg - 1] = 1; /* inside: fine */
	udd_mem_free(m);
	REQUIRE_OK(udd_mem_import(ctx, fd, 0, (size_t)(2 * pg), &m));
	udd_mem_free(m);
	CHECK_EQ(udd_mem_import(ctx, 1000, 0, 4096, &m), -EBADF);
	close(fd);
}

static void test_rep_flags(udd_ctx_t *ctx)
{
	udd_fdid_t id = simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID);
	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(ctx, id, 0, &dev));
	udd_acc_t *a;
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, NULL, &a));
	uint32_t buf[2] = { 0, 0 };
	udd_rep_get32(a, EDU_REG_ID, buf, 2, 0x80);
	CHECK_EQ(buf[0], 0xffffffffu);
	CHECK_EQ(udd_acc_check(a), -EINVAL);
	REQUIRE_OK(udd_acc_clear_error(a));
	udd_put32(a, EDU_REG_LIVENESS, 0x1234);
	uint32_t v = 0x5555;
	udd_rep_put32(a, EDU_REG_LIVENESS, &v, 1, UDD_DEV_NO_AUTOINCR | 2);
	CHECK_EQ(udd_get32(a, EDU_REG_LIVENESS), ~0x1234u); /* the put did nothing */
	CHECK_EQ(udd_acc_check(a), -EINVAL);
	REQUIRE_OK(udd_acc_clear_error(a));
	udd_rep_get32(a, EDU_REG_ID, buf, 1, UDD_DEV_NO_AUTOINCR);
	CHECK_EQ(buf[0], EDU_ID_VALUE);
	CHECK_EQ(udd_acc_check(a), 0);
	udd_dev_return(dev);
}

int main(void)
{
	test_deep_runtime_dir();
	test_sim_start_failure();
	udd_ctx_t *ctx = simenv_ctx();
	test_import_past_eof(ctx);
	test_rep_flags(ctx);
	udd_ctx_close(ctx);
	return t_done("test_errors_named");
}
