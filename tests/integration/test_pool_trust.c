/* SPDX-License-Identifier: MIT */
/*
 * $UDD_POOL directories and their sockets are trusted only when they belong
 * to this user (or root) and a directory is not group/world-writable:
 * otherwise they are skipped, with a log line naming them (they used to be
 * listed and borrowed from whoever planted them).
 */
#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

static char logged[8192];
static void logcb(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	size_t l = strlen(logged);
	snprintf(logged + l, sizeof(logged) - l, "%s\n", msg);
}

static int listed(const char *dir)
{
	udd_ctx_opts_t o = { 0 };
	o.flags = UDD_CTX_F_NO_EMBEDDED;
	o.pool_dirs = dir;
	o.log_cb = logcb;
	o.log_level = UDD_LOG_DEBUG;
	udd_ctx_t *ctx;
	REQUIRE_OK(udd_ctx_open(&ctx, &o));
	logged[0] = '\0';
	int n = udd_pool_list(ctx, NULL, NULL, 0);
	udd_ctx_close(ctx);
	return n;
}

int main(void)
{
	char dir[300], sock[400];
	snprintf(dir, sizeof(dir), "%s/pool", simenv_tmpdir());
	REQUIRE(mkdir(dir, 0700) == 0);
	snprintf(sock, sizeof(sock), "%s/edu.sock", dir);
	pid_t srv = simenv_spawn(sock, "edu");

	CHECK_EQ(listed(dir), 1);

	/* group- or world-writable: anyone could have planted the socket */
	REQUIRE(chmod(dir, 0770) == 0);
	CHECK_EQ(listed(dir), 0);
	CHECK(strstr(logged, dir) != NULL && strstr(logged, "group") != NULL);
	REQUIRE(chmod(dir, 0703) == 0);
	CHECK_EQ(listed(dir), 0);
	CHECK(strstr(logged, "everyone") != NULL);
	REQUIRE(chmod(dir, 0755) == 0);
	CHECK_EQ(listed(dir), 1); /* readable by others is fine */

	/* someone else's socket or directory (needs root to arrange) */
	if (getuid() == 0) {
		REQUIRE(chown(sock, 65534, 65534) == 0);
		CHECK_EQ(listed(dir), 0);
		CHECK(strstr(logged, sock) != NULL && strstr(logged, "uid 65534") != NULL);
		REQUIRE(chown(sock, 0, 0) == 0);
		REQUIRE(chown(dir, 65534, 65534) == 0);
		CHECK_EQ(listed(dir), 0);
		CHECK(strstr(logged, dir) != NULL && strstr(logged, "uid 65534") != NULL);
		REQUIRE(chown(dir, 0, 0) == 0);
		CHECK_EQ(listed(dir), 1);
	} else {
		fprintf(stderr, "test_pool_trust: not root, ownership cases skipped\n");
	}

	kill(srv, SIGTERM);
	int st;
	waitpid(srv, &st, 0);
	unlink(sock);
	rmdir(dir);
	return t_done("test_pool_trust");
}
