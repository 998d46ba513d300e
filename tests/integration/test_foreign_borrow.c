/* SPDX-License-Identifier: MIT */
/*
 * Borrowing from a vfio-user server that does not know udd's extension
 * capability (udd-sim --no-udd-ext stands in for a foreign server): the
 * library falls back to a lock file per device in the runtime directory —
 * exclusive vs shared across processes, the holder's pid recorded, and a
 * killed holder releasing its borrow at once.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <sys/prctl.h>

#include "simenv.h"
#include "sockpath.h"
#include "testlib.h"
#include "sim_devices.h"

static char sock[400];

static udd_ctx_t *open_ctx(void)
{
	udd_ctx_opts_t o = { 0 };
	o.flags = UDD_CTX_F_NO_EMBEDDED;
	o.sockets = sock;
	o.runtime_dir = simenv_tmpdir(); /* where the lock files go */
	udd_ctx_t *ctx = NULL;
	REQUIRE_OK(udd_ctx_open(&ctx, &o));
	return ctx;
}

/* Child: borrow (exclusive if excl), say "ok", hold for hold_ms. Exit 0 ok, 16 EBUSY. */
static int child(int excl, int hold_ms)
{
	udd_ctx_t *ctx = open_ctx();
	udd_fdid_t id;
	if (udd_pool_list(ctx, NULL, &id, 1) != 1)
		return 98;
	udd_dev_t *d;
	int rc = udd_dev_borrow(ctx, id, excl ? UDD_BORROW_EXCLUSIVE : 0, &d);
	if (rc == 0) {
		if (write(1, "ok\n", 3) != 3)
			return 97;
		usleep((useconds_t)hold_ms * 1000);
		udd_dev_return(d);
	}
	udd_ctx_close(ctx);
	return rc == 0 ? 0 : rc == -EBUSY ? 16 : 99;
}

static pid_t spawn(int excl, int hold_ms, int *outfd)
{
	int p[2];
	REQUIRE(pipe(p) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		int o = outfd ? p[1] : open("/dev/null", O_WRONLY);
		dup2(o, 1);
		close(p[0]);
		char ex[8], hold[16];
		snprintf(ex, sizeof(ex), "%d", excl);
		snprintf(hold, sizeof(hold), "%d", hold_ms);
		execl("/proc/self/exe", "child", "child", simenv_tmpdir(), sock, ex, hold, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	if (outfd)
		*outfd = p[0];
	else
		close(p[0]);
	return pid;
}

static int status_of(pid_t pid)
{
	int st;
	REQUIRE(waitpid(pid, &st, 0) == pid);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static char lastlog[512];
static void logcb(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	snprintf(lastlog, sizeof(lastlog), "%s", msg);
}

int main(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "child") == 0) {
		if (argc != 6)
			return 96; /* never fall through to the parent's part */
		snprintf(simenv_dir, sizeof(simenv_dir), "%s", argv[2]);
		snprintf(sock, sizeof(sock), "%s", argv[3]);
		return child(atoi(argv[4]), atoi(argv[5]));
	}
	const char *sim = getenv("UDD_SIM");
	REQUIRE(sim != NULL);
	snprintf(sock, sizeof(sock), "%s/foreign-edu.sock", simenv_tmpdir());
	pid_t srv = fork();
	REQUIRE(srv >= 0);
	if (srv == 0) {
		/* dies with the test: a failed REQUIRE must not leave it holding
		 * ctest's output pipe (which made ctest wait to its timeout) */
		prctl(PR_SET_PDEATHSIG, SIGTERM);
		execl(sim, "udd-sim", "--no-udd-ext", "--socket", sock, "--device", "edu", (char *)NULL);
		_exit(127);
	}
	/* ready when it accepts a connection (the socket file exists from bind(),
	 * a moment before listen()) */
	bool up = false;
	for (int i = 0; i < 500 && !up; i++) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		up = s >= 0 && vfu_unix_connect(s, sock) == 0;
		if (s >= 0)
			close(s);
		if (!up)
			usleep(10000);
	}
	REQUIRE(up);

	udd_ctx_t *ctx = open_ctx();
	udd_ctx_set_log(ctx, logcb, NULL, UDD_LOG_DEBUG);
	udd_fdid_t id;
	REQUIRE(udd_pool_list(ctx, NULL, &id, 1) == 1);
	udd_dev_info_t info;
	REQUIRE_OK(udd_pool_info(ctx, id, &info));
	CHECK_EQ(info.device_id, EDU_DEVICE_ID);

	/* exclusive here: another process gets EBUSY, from the lock file */
	udd_dev_t *a;
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &a));
	char lockp[600], buf[32] = { 0 };
	snprintf(lockp, sizeof(lockp), "%s/locks/%08x.lock", simenv_tmpdir(), id);
	int lf = open(lockp, O_RDONLY);
	CHECK(lf >= 0);
	if (lf >= 0) {
		CHECK(read(lf, buf, sizeof(buf) - 1) > 0);
		CHECK_EQ(atol(buf), getpid()); /* the holder's pid is recorded */
		close(lf);
	}
	CHECK_EQ(status_of(spawn(1, 0, NULL)), 16);
	CHECK_EQ(status_of(spawn(0, 0, NULL)), 16);
	/* in this process too, and the log names the holder */
	udd_dev_t *b;
	CHECK_EQ(udd_dev_borrow(ctx, id, 0, &b), -EBUSY);
	char want[64];
	snprintf(want, sizeof(want), "pid %ld", (long)getpid());
	CHECK(strstr(lastlog, want) != NULL);
	/* a server that accepts no one meanwhile (as a single-client server
	 * busy with the holder would; stopped here) must not delay the answer:
	 * the lock file is looked at before connecting */
	kill(srv, SIGSTOP);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &b), -EBUSY);
	CHECK_EQ(udd_dev_borrow(ctx, id, 0, &b), -EBUSY);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK(ms < 500);
	kill(srv, SIGCONT);
	udd_dev_return(a);

	/* shared + shared across processes; shared blocks exclusive */
	REQUIRE_OK(udd_dev_borrow(ctx, id, 0, &a));
	CHECK_EQ(status_of(spawn(0, 0, NULL)), 0);
	CHECK_EQ(status_of(spawn(1, 0, NULL)), 16);
	udd_dev_return(a);
	CHECK_EQ(status_of(spawn(1, 0, NULL)), 0);

	/* a killed holder releases its borrow at once (the kernel drops its flock) */
	int fd;
	pid_t holder = spawn(1, 60000, &fd);
	char ok[4] = { 0 };
	REQUIRE(read(fd, ok, 3) == 3);
	close(fd);
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &a), -EBUSY);
	kill(holder, SIGKILL);
	CHECK_EQ(status_of(holder), 200);
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &a), 0);
	udd_dev_return(a);

	udd_ctx_close(ctx);
	kill(srv, SIGTERM);
	CHECK_EQ(status_of(srv), 0);
	return t_done("test_foreign_borrow");
}
