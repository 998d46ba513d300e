/* SPDX-License-Identifier: MIT */
/*
 * Who may borrow a lent device (docs/security.md, "Lent devices"): the
 * lender's user, and with `udd add --group GROUP` that group. The lender
 * enforces it with the socket's mode alone — DIR and DIR/sim are 0755 root,
 * DIR/sim/<bdf>.sock is 0600 (0660 with group GROUP) — so anyone else's
 * connect fails and udd_dev_borrow must say -EACCES.
 *
 * This host has no VFIO, so no device can be lent here; the permission
 * scheme is the same for any socket, and so is the library's path (pool
 * directory and socket trust checks, connect, the errno passed through), so
 * the test serves a simulated edu from a socket laid out like a lent one:
 * a 0755 root directory, the socket root's. A forked child that drops to
 * `nobody` (uid/gid 65534) then borrows it:
 *   - socket 0660, group nogroup (65534): the group may borrow (and reads
 *     the edu's id through it);
 *   - socket 0600: udd_dev_borrow -EACCES, shared and exclusive.
 * Needs root (to create a root-owned socket and to setuid); otherwise it
 * says so and passes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ftw.h>
#include <grp.h>

#include "simenv.h"
#include "testlib.h"

#define NOBODY 65534

static char lend_dir[64], sim_dir[96], sock[128], child_rt[64];

static void logcb(void *user, int level, const char *msg)
{
	(void)user;
	if (level <= UDD_LOG_WARN)
		fprintf(stderr, "  [udd %d] %s\n", level, msg);
}

static int open_pool(udd_ctx_t **ctx)
{
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_EMBEDDED | UDD_CTX_F_NO_VFIO,
			     .pool_dirs = sim_dir, .log_cb = logcb, .log_level = UDD_LOG_WARN };
	return udd_ctx_open(ctx, &o);
}

/* In a child running as nobody: borrow @id with @flags; exit -rc (0 on
 * success and the edu answering its id register). */
static int child_borrow(udd_fdid_t id, uint32_t flags)
{
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		gid_t g = NOBODY;
		if (setgroups(1, &g) || setgid(NOBODY) || setuid(NOBODY))
			_exit(100);
		setenv("UDD_RUNTIME_DIR", child_rt, 1);
		udd_ctx_t *ctx;
		udd_dev_t *dev;
		udd_acc_t *bar;
		int rc = open_pool(&ctx);
		if (rc)
			_exit(101);
		rc = udd_dev_borrow(ctx, id, flags, &dev);
		if (rc == 0) {
			rc = udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar);
			if (rc == 0 && udd_get32(bar, 0) != 0x010000ed)
				rc = -EIO;
			if (rc == 0)
				udd_regs_unmap(bar);
			udd_dev_return(dev);
		}
		udd_ctx_close(ctx);
		_exit(rc < 0 && rc > -100 ? -rc : rc ? 102 : 0);
	}
	int st = 0;
	if (waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 200;
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	(void)remove(path); /* best effort */
	return 0;
}

int main(void)
{
	if (getuid() != 0) {
		printf("test_lend_eacces: not root: cannot make a root-owned socket or setuid; "
		       "nothing checked\n");
		return 0;
	}
	/* the lender's layout: DIR and DIR/sim 0755 root (outside this test's
	 * private 0700 directory, which nobody cannot enter) */
	snprintf(lend_dir, sizeof(lend_dir), "/tmp/udd-lend-acl-XXXXXX");
	REQUIRE(mkdtemp(lend_dir) != NULL);
	REQUIRE(chmod(lend_dir, 0755) == 0);
	snprintf(sim_dir, sizeof(sim_dir), "%s/sim", lend_dir);
	REQUIRE(mkdir(sim_dir, 0755) == 0);
	snprintf(sock, sizeof(sock), "%s/0000:00:01.0.sock", sim_dir);
	/* nobody's own runtime directory (locks; the embedded pool stays off) */
	snprintf(child_rt, sizeof(child_rt), "/tmp/udd-nobody-XXXXXX");
	REQUIRE(mkdtemp(child_rt) != NULL);
	REQUIRE(chown(child_rt, NOBODY, NOBODY) == 0);

	pid_t srv = simenv_spawn(sock, "edu");
	udd_ctx_t *ctx;
	udd_fdid_t id;
	REQUIRE_OK(open_pool(&ctx));
	udd_filter_t f = { .vendor_id = 0x1234, .device_id = 0x11e8 };
	REQUIRE(udd_pool_list(ctx, &f, &id, 1) == 1);
	udd_ctx_close(ctx);

	/* --group nogroup: 0660 root:nogroup, the group may borrow */
	REQUIRE(chown(sock, 0, NOBODY) == 0);
	REQUIRE(chmod(sock, 0660) == 0);
	int rc = child_borrow(id, 0);
	printf("socket 0660 root:nogroup, nobody borrows shared: %d\n", rc);
	CHECK_EQ(rc, 0);

	/* no --group: 0600 root, nobody is refused */
	REQUIRE(chmod(sock, 0600) == 0);
	rc = child_borrow(id, 0);
	printf("socket 0600 root, nobody borrows shared: -%d (%s)\n", rc, strerror(rc));
	CHECK_EQ(rc, EACCES);
	rc = child_borrow(id, UDD_BORROW_EXCLUSIVE);
	printf("socket 0600 root, nobody borrows exclusively: -%d (%s)\n", rc, strerror(rc));
	CHECK_EQ(rc, EACCES);

	/* the lender's user still can */
	REQUIRE_OK(open_pool(&ctx));
	udd_dev_t *dev;
	rc = udd_dev_borrow(ctx, id, 0, &dev);
	CHECK_EQ(rc, 0);
	if (rc == 0)
		udd_dev_return(dev);
	udd_ctx_close(ctx);

	kill(srv, SIGTERM);
	waitpid(srv, NULL, 0);
	unlink(sock);
	rmdir(sim_dir);
	rmdir(lend_dir);
	nftw(child_rt, rm_one, 16, FTW_DEPTH | FTW_PHYS); /* the library made sim/, locks/ */
	return t_done("test_lend_eacces");
}
