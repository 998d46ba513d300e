/* SPDX-License-Identifier: MIT */
/*
 * Listing talks to each device once. A one-shot server stands in for
 * servers that serve a single client and exit (libvfio-user's gpio sample):
 * a relay that accepts ONE connection, passes it (descriptors included) to
 * a real udd-sim, and then removes its socket. `udd list` must still show
 * the device with its ids (it used to connect three times: count, ids,
 * info, and the device vanished from the listing), and so must
 * udd_pool_list_info().
 */
#include <poll.h>
#include <pthread.h>
#include <sys/socket.h>

#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

static char real_sock[100], shot_sock[100];
static int lfd;
static int accepted;

/* Copy what is readable on @from to @to, descriptors too. 0 on EOF/error. */
static int relay_once(int from, int to)
{
	char data[65536];
	union {
		char b[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { data, sizeof(data) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	ssize_t n = recvmsg(from, &mh, MSG_CMSG_CLOEXEC);
	if (n <= 0)
		return 0;
	int fds[64], nf = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c))
		if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_RIGHTS)
			for (size_t i = 0; i < (c->cmsg_len - CMSG_LEN(0)) / sizeof(int) && nf < 64; i++)
				memcpy(&fds[nf++], CMSG_DATA(c) + i * sizeof(int), sizeof(int));
	struct iovec oiov = { data, (size_t)n };
	struct msghdr om = { .msg_iov = &oiov, .msg_iovlen = 1 };
	union {
		char b[CMSG_SPACE(sizeof(int) * 64)];
		struct cmsghdr align;
	} octl;
	if (nf) {
		memset(&octl, 0, sizeof(octl));
		om.msg_control = octl.b;
		om.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)nf);
		struct cmsghdr *c = CMSG_FIRSTHDR(&om);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)nf);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * (size_t)nf);
	}
	ssize_t w = sendmsg(to, &om, MSG_NOSIGNAL);
	for (int i = 0; i < nf; i++)
		close(fds[i]);
	return w == n;
}

static void *one_shot(void *arg)
{
	(void)arg;
	int c = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
	accepted++;
	/* the server serves this client only: no one else gets in */
	close(lfd);
	unlink(shot_sock);
	if (c < 0)
		return NULL;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", real_sock);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0 || connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c);
		return NULL;
	}
	for (;;) {
		struct pollfd p[2] = { { c, POLLIN, 0 }, { s, POLLIN, 0 } };
		if (poll(p, 2, 10000) <= 0)
			break;
		if (p[0].revents && !relay_once(c, s))
			break;
		if (p[1].revents && !relay_once(s, c))
			break;
	}
	close(c);
	close(s);
	return NULL;
}

static pthread_t start_one_shot(void)
{
	unlink(shot_sock);
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(lfd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", shot_sock);
	REQUIRE(bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	REQUIRE(listen(lfd, 8) == 0);
	accepted = 0;
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, one_shot, NULL) == 0);
	return t;
}

int main(void)
{
	const char *bin = getenv("UDD_BIN");
	REQUIRE(bin != NULL);
	snprintf(real_sock, sizeof(real_sock), "%s/edu-real.sock", simenv_tmpdir());
	snprintf(shot_sock, sizeof(shot_sock), "%s/edu-shot.sock", simenv_tmpdir());
	pid_t srv = simenv_spawn(real_sock, "edu");

	/* the library: one call, one connection, everything known */
	pthread_t t = start_one_shot();
	udd_ctx_opts_t o = { 0 };
	o.flags = UDD_CTX_F_NO_EMBEDDED;
	o.sockets = shot_sock;
	udd_ctx_t *ctx;
	REQUIRE_OK(udd_ctx_open(&ctx, &o));
	udd_dev_info_t info[4];
	CHECK_EQ(udd_pool_list_info(ctx, NULL, info, 4), 1);
	CHECK_EQ(info[0].vendor_id, EDU_VENDOR_ID);
	CHECK_EQ(info[0].device_id, EDU_DEVICE_ID);
	CHECK(info[0].nregsets >= 2);
	CHECK(info[0].fdid != 0 && strcmp(info[0].location, shot_sock) == 0);
	CHECK_EQ(udd_pool_list_info(ctx, NULL, NULL, 1), -EINVAL);
	CHECK_EQ(udd_pool_list_info(NULL, NULL, info, 4), -EINVAL);
	udd_ctx_close(ctx);
	pthread_join(t, NULL);
	CHECK_EQ(accepted, 1);

	/* the tool: `udd list` shows the device of a one-shot server */
	t = start_one_shot();
	char cmd[1200];
	snprintf(cmd, sizeof(cmd), "UDD_NO_EMBEDDED=1 UDD_SOCKETS='%s' '%s/tools/udd' list",
		 shot_sock, bin);
	FILE *p = popen(cmd, "r");
	REQUIRE(p != NULL);
	char out[4096] = "";
	size_t got = fread(out, 1, sizeof(out) - 1, p);
	out[got] = '\0';
	CHECK_EQ(pclose(p), 0);
	char want[16];
	snprintf(want, sizeof(want), "%04x:%04x", EDU_VENDOR_ID, EDU_DEVICE_ID);
	if (!strstr(out, want))
		fprintf(stderr, "udd list printed:\n%s\n", out);
	CHECK(strstr(out, want) != NULL);
	pthread_join(t, NULL);
	CHECK_EQ(accepted, 1);

	kill(srv, SIGTERM);
	int st;
	waitpid(srv, &st, 0);
	return t_done("test_list_one_shot");
}
