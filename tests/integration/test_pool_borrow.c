/* SPDX-License-Identifier: MIT */
/*
 * The pool and borrowing, against the embedded udd-sim over real sockets:
 * listing with filters, device info, exclusive vs shared across processes,
 * a race of exclusive borrowers (exactly one wins), a killed borrower
 * releasing its borrow, and bad input.
 */
#include <fcntl.h>
#include <sys/stat.h>

#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

/* Child mode: borrow and report through the exit status; hold for hold_ms. */
static int child(const char *dir, const char *fdid_s, const char *excl_s, const char *hold_s,
		 const char *go)
{
	udd_ctx_opts_t o = { 0 };
	o.runtime_dir = dir;
	udd_ctx_t *ctx;
	if (udd_ctx_open(&ctx, &o))
		return 100;
	struct stat st;
	if (go[0])
		while (stat(go, &st) != 0)
			usleep(500);
	udd_dev_t *dev;
	int rc = udd_dev_borrow(ctx, (udd_fdid_t)strtoul(fdid_s, NULL, 0),
				atoi(excl_s) ? UDD_BORROW_EXCLUSIVE : 0, &dev);
	if (rc == 0) {
		if (write(1, "ok\n", 3) != 3)
			return 101;
		usleep((useconds_t)atoi(hold_s) * 1000);
		udd_dev_return(dev);
	}
	udd_ctx_close(ctx);
	return rc == 0 ? 0 : (rc == -EBUSY ? 16 : 99);
}

static pid_t spawn_child(udd_fdid_t id, int excl, int hold_ms, const char *go, int *outfd)
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		/* a child nobody listens to reports to /dev/null, not a closed pipe */
		int o = outfd ? p[1] : open("/dev/null", O_WRONLY);
		dup2(o, 1);
		close(p[0]);
		char ids[32], ex[8], hold[16];
		snprintf(ids, sizeof(ids), "%u", id);
		snprintf(ex, sizeof(ex), "%d", excl);
		snprintf(hold, sizeof(hold), "%d", hold_ms);
		execl("/proc/self/exe", "child", "child", simenv_tmpdir(), ids, ex, hold, go,
		      (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (outfd)
		*outfd = p[0];
	else
		close(p[0]);
	return pid;
}

static int wait_status(pid_t pid)
{
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

/* Wait until the child says it holds the device. */
static void wait_ok(int fd)
{
	char buf[4] = { 0 };
	REQUIRE(read(fd, buf, 3) == 3 && strcmp(buf, "ok\n") == 0);
}

static void test_listing(udd_ctx_t *ctx)
{
	udd_fdid_t ids[16];
	int n = udd_pool_list(ctx, NULL, ids, 16);
	CHECK_EQ(n, 4); /* pio, edu, be, nvme */
	for (int i = 1; i < n; i++)
		CHECK(ids[i - 1] < ids[i]);
	CHECK_EQ(udd_pool_list(ctx, NULL, NULL, 0), 4);

	udd_filter_t f = { .vendor_id = 0x1234 };
	CHECK_EQ(udd_pool_list(ctx, &f, ids, 16), 3);
	f = (udd_filter_t){ .vendor_id = 0x1234, .device_id = EDU_DEVICE_ID };
	CHECK_EQ(udd_pool_list(ctx, &f, ids, 16), 1);
	udd_dev_info_t info;
	REQUIRE_OK(udd_pool_info(ctx, ids[0], &info));
	CHECK_EQ(info.vendor_id, EDU_VENDOR_ID);
	CHECK_EQ(info.device_id, EDU_DEVICE_ID);
	CHECK_EQ(info.class_code, EDU_CLASS);
	CHECK_EQ(info.revision, EDU_REVISION);
	CHECK_EQ(info.fdid, ids[0]);
	CHECK(strcmp(info.backend, "vfio-user") == 0);
	CHECK(strstr(info.location, "edu.sock") != NULL);
	CHECK_EQ(info.nregsets, 2); /* config + BAR0 */
	CHECK_EQ(info.regsets[0].kind, UDD_RS_CONFIG);
	CHECK_EQ(info.regsets[1].bar, 0);
	CHECK_EQ(info.regsets[1].size, EDU_BAR0_SIZE);
	CHECK_EQ(info.irq_count[UDD_IRQ_MSI], 1);
	CHECK_EQ(info.irq_count[UDD_IRQ_INTX], 1);

	/* class with mask: 0x11xxxx is the be device only; 0x07 base class the pio */
	f = (udd_filter_t){ .class_code = 0x110000, .class_mask = 0xff0000 };
	CHECK_EQ(udd_pool_list(ctx, &f, ids, 16), 1);
	REQUIRE_OK(udd_pool_info(ctx, ids[0], &info));
	CHECK_EQ(info.device_id, BE_DEVICE_ID);
	f = (udd_filter_t){ .class_code = PIO_CLASS };
	CHECK_EQ(udd_pool_list(ctx, &f, ids, 16), 1);
	f = (udd_filter_t){ .vendor_id = 0x8086 };
	CHECK_EQ(udd_pool_list(ctx, &f, ids, 16), 0);
	f = (udd_filter_t){ .subsys_vendor_id = 0x1af4, .subsys_id = 0x1100 };
	CHECK_EQ(udd_pool_list(ctx, &f, ids, 16), 4);

	/* bad input */
	CHECK_EQ(udd_pool_list(NULL, NULL, ids, 16), -EINVAL);
	CHECK_EQ(udd_pool_list(ctx, NULL, NULL, 4), -EINVAL);
	CHECK_EQ(udd_pool_info(ctx, 0x12345, &info), -ENOENT);
	CHECK_EQ(udd_pool_info(ctx, ids[0], NULL), -EINVAL);
}

static void test_borrow_modes(udd_ctx_t *ctx, udd_fdid_t id)
{
	udd_dev_t *a, *b;
	udd_dev_info_t info;
	/* exclusive in this process excludes everyone, this process included */
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &a));
	CHECK_EQ(udd_dev_fdid(a), id);
	REQUIRE_OK(udd_dev_get_info(a, &info));
	CHECK_EQ(info.fdid, id);
	CHECK_EQ(udd_dev_borrow(ctx, id, 0, &b), -EBUSY);
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &b), -EBUSY);
	CHECK_EQ(wait_status(spawn_child(id, 1, 0, "", NULL)), 16);
	CHECK_EQ(wait_status(spawn_child(id, 0, 0, "", NULL)), 16);
	udd_dev_return(a);

	/* shared + shared is fine, in two processes; shared blocks exclusive */
	REQUIRE_OK(udd_dev_borrow(ctx, id, 0, &a));
	REQUIRE_OK(udd_dev_borrow(ctx, id, 0, &b));
	CHECK_EQ(wait_status(spawn_child(id, 0, 0, "", NULL)), 0);
	CHECK_EQ(wait_status(spawn_child(id, 1, 0, "", NULL)), 16);
	udd_dev_return(a);
	CHECK_EQ(wait_status(spawn_child(id, 1, 0, "", NULL)), 16); /* b still holds */
	udd_dev_return(b);
	CHECK_EQ(wait_status(spawn_child(id, 1, 0, "", NULL)), 0);

	/* bad input */
	CHECK_EQ(udd_dev_borrow(ctx, id, 0x80, &a), -EINVAL);
	CHECK_EQ(udd_dev_borrow(ctx, id, 0, NULL), -EINVAL);
	CHECK_EQ(udd_dev_borrow(NULL, id, 0, &a), -EINVAL);
	CHECK_EQ(udd_dev_borrow(ctx, 0x7654321, 0, &a), -ENOENT);
	udd_dev_return(NULL);
	CHECK_EQ(udd_dev_fdid(NULL), 0);
}

static void test_race(udd_fdid_t id)
{
	enum { N = 6 };
	char go[300];
	snprintf(go, sizeof(go), "%s/go", simenv_tmpdir());
	unlink(go);
	pid_t pids[N];
	for (int i = 0; i < N; i++)
		pids[i] = spawn_child(id, 1, 1500, go, NULL);
	int fd = open(go, O_CREAT | O_WRONLY, 0600);
	REQUIRE(fd >= 0);
	close(fd);
	int winners = 0, busy = 0;
	for (int i = 0; i < N; i++) {
		int s = wait_status(pids[i]);
		winners += s == 0;
		busy += s == 16;
	}
	CHECK_EQ(winners, 1);
	CHECK_EQ(busy, N - 1);
}

static void test_killed_borrower(udd_ctx_t *ctx, udd_fdid_t id)
{
	int fd;
	pid_t pid = spawn_child(id, 1, 60000, "", &fd);
	wait_ok(fd);
	close(fd);
	udd_dev_t *d;
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &d), -EBUSY);
	kill(pid, SIGKILL);
	CHECK_EQ(wait_status(pid), 200);
	/* The kernel closed the dead borrower's socket; the server sees it at once
	 * or within a few milliseconds. */
	int rc = -1;
	for (int i = 0; i < 200 && rc != 0; i++) {
		rc = udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &d);
		if (rc)
			usleep(10000);
	}
	CHECK_EQ(rc, 0);
	if (rc == 0)
		udd_dev_return(d);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "child") == 0) /* never fall through to the parent's part */
		return argc == 7 ? child(argv[2], argv[3], argv[4], argv[5], argv[6]) : 96;
	udd_ctx_t *ctx = simenv_ctx();
	test_listing(ctx);
	udd_fdid_t edu = simenv_find(ctx, EDU_VENDOR_ID, EDU_DEVICE_ID);
	udd_fdid_t be = simenv_find(ctx, BE_VENDOR_ID, BE_DEVICE_ID);
	test_borrow_modes(ctx, edu);
	test_borrow_modes(ctx, be);
	test_race(edu);
	test_killed_borrower(ctx, edu);
	udd_ctx_close(ctx);
	return t_done("test_pool_borrow");
}
