/* SPDX-License-Identifier: MIT */
/*
 * The read-ahead message reader (src/backend/vfio-user/reader.h) over real
 * socketpairs: messages that arrive together, descriptors with the second
 * of two messages and with the first, a message larger than one read, EOF
 * between and inside messages, socket timeouts before and inside a message,
 * malformed sizes, too many descriptors, stray descriptors.
 */
#include <dirent.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "msg.h"
#include "reader.h"
#include "testlib.h"

static int count_fds(void)
{
	int n = 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static void pair(int sv[2])
{
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) == 0);
}

static void send_msg(int s, uint16_t id, size_t payload, const int *fds, size_t nfds)
{
	static uint8_t p[1 << 20];
	memset(p, (int)id, payload < sizeof(p) ? payload : sizeof(p));
	struct vfu_hdr h = { .msg_id = id, .cmd = VFU_CMD_REGION_READ };
	REQUIRE(vfu_msg_send(s, &h, p, payload, fds, nfds) == 0);
}

/* Next message: its id, size and descriptor count (descriptors closed). */
static long next(struct vfu_reader *r, int s, uint16_t *id, size_t *nfds)
{
	const uint8_t *m;
	int fds[VFU_MAX_FDS];
	size_t n = VFU_MAX_FDS;
	long rc = vfu_reader_next(r, s, &m, fds, &n);
	if (rc > 0) {
		struct vfu_hdr h;
		memcpy(&h, m, sizeof(h));
		*id = h.msg_id;
		for (size_t i = 0; i < n; i++) {
			struct stat st;
			CHECK(fstat(fds[i], &st) == 0); /* a real descriptor */
			close(fds[i]);
		}
	}
	if (nfds)
		*nfds = n;
	return rc;
}

static void test_together_and_fds(void)
{
	int fd0 = count_fds();
	int sv[2];
	pair(sv);
	struct vfu_reader r;
	REQUIRE(vfu_reader_init(&r, VFU_MAX_MSG_SIZE) == 0);
	int two[2] = { dup(0), dup(0) };
	send_msg(sv[0], 1, 16, NULL, 0);   /* no fds */
	send_msg(sv[0], 2, 5, two, 2);     /* fds with the second */
	send_msg(sv[0], 3, 16, two, 1);    /* fds with the first of a pair */
	send_msg(sv[0], 4, 0, NULL, 0);
	close(two[0]);
	close(two[1]);
	uint16_t id;
	size_t nf;
	CHECK_EQ(next(&r, sv[1], &id, &nf), 32);
	CHECK_EQ(id, 1);
	CHECK_EQ(nf, 0);
	CHECK_EQ(next(&r, sv[1], &id, &nf), 21);
	CHECK_EQ(id, 2);
	CHECK_EQ(nf, 2);
	CHECK_EQ(next(&r, sv[1], &id, &nf), 32);
	CHECK_EQ(id, 3);
	CHECK_EQ(nf, 1);
	CHECK_EQ(next(&r, sv[1], &id, &nf), 16);
	CHECK_EQ(id, 4);
	CHECK_EQ(nf, 0);
	close(sv[0]);
	CHECK_EQ(next(&r, sv[1], &id, &nf), 0); /* EOF between messages */
	vfu_reader_fini(&r);
	close(sv[1]);
	CHECK_EQ(count_fds(), fd0);
}

static void test_large_and_eof_inside(void)
{
	int sv[2];
	pair(sv);
	struct vfu_reader r;
	REQUIRE(vfu_reader_init(&r, VFU_MAX_MSG_SIZE) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) { /* a 1 MiB message, then half a header */
		send_msg(sv[0], 7, 1 << 20, NULL, 0);
		struct vfu_hdr h = { .msg_id = 8, .msg_size = 64 };
		ssize_t w = write(sv[0], &h, 8);
		_exit(w == 8 ? 0 : 1);
	}
	close(sv[0]);
	uint16_t id = 0;
	CHECK_EQ(next(&r, sv[1], &id, NULL), 16 + (1 << 20));
	CHECK_EQ(id, 7);
	CHECK_EQ(next(&r, sv[1], &id, NULL), -EPROTO); /* EOF inside a message */
	vfu_reader_fini(&r);
	close(sv[1]);
	int st;
	waitpid(pid, &st, 0);
}

static void test_timeouts(void)
{
	int sv[2];
	pair(sv);
	struct timeval tv = { 0, 50 * 1000 };
	REQUIRE(setsockopt(sv[1], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) == 0);
	struct vfu_reader r;
	REQUIRE(vfu_reader_init(&r, VFU_MAX_MSG_SIZE) == 0);
	uint16_t id;
	CHECK_EQ(next(&r, sv[1], &id, NULL), -EAGAIN); /* idle: intact */
	send_msg(sv[0], 9, 0, NULL, 0);
	CHECK_EQ(next(&r, sv[1], &id, NULL), 16);
	CHECK_EQ(id, 9);
	struct vfu_hdr h = { .msg_id = 10, .msg_size = 40 };
	REQUIRE(write(sv[0], &h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK_EQ(next(&r, sv[1], &id, NULL), -ETIMEDOUT); /* inside a message */
	vfu_reader_fini(&r);
	close(sv[0]);
	close(sv[1]);
}

static void test_malformed(void)
{
	int fd0 = count_fds();
	struct vfu_reader r;
	uint16_t id;
	int sv[2];

	pair(sv);
	REQUIRE(vfu_reader_init(&r, 4096) == 0);
	struct vfu_hdr h = { .msg_id = 1, .msg_size = 8 };
	REQUIRE(write(sv[0], &h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK_EQ(next(&r, sv[1], &id, NULL), -EPROTO); /* msg_size < 16 */
	vfu_reader_fini(&r);
	close(sv[0]);
	close(sv[1]);

	pair(sv);
	REQUIRE(vfu_reader_init(&r, 4096) == 0);
	h.msg_size = 4097;
	REQUIRE(write(sv[0], &h, sizeof(h)) == (ssize_t)sizeof(h));
	CHECK_EQ(next(&r, sv[1], &id, NULL), -EMSGSIZE);
	vfu_reader_fini(&r);
	close(sv[0]);
	close(sv[1]);

	/* more descriptors than the caller takes: -EPROTO, none leaked */
	pair(sv);
	REQUIRE(vfu_reader_init(&r, 4096) == 0);
	int three[3] = { dup(0), dup(0), dup(0) };
	send_msg(sv[0], 2, 0, three, 3);
	for (int i = 0; i < 3; i++)
		close(three[i]);
	const uint8_t *m;
	int fds[2];
	size_t n = 2;
	CHECK_EQ(vfu_reader_next(&r, sv[1], &m, fds, &n), -EPROTO);
	vfu_reader_fini(&r);
	close(sv[0]);
	close(sv[1]);

	CHECK_EQ(count_fds(), fd0);
}

/* Descriptors that come with the middle of a message (not with its first
 * byte): no message starts in that read, so they are stray: -EPROTO, and
 * the descriptor is closed. */
static void send_body_with_fd(int s, size_t len)
{
	uint8_t body[64] = { 0 };
	int one = dup(0);
	struct iovec iov = { body, len };
	union {
		char b[CMSG_SPACE(sizeof(int))];
		struct cmsghdr a;
	} ctl;
	memset(&ctl, 0, sizeof(ctl));
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &one, sizeof(int));
	REQUIRE(sendmsg(s, &mh, 0) == (ssize_t)len);
	close(one);
}

static void test_stray_fds(void)
{
	int fd0 = count_fds();
	int sv[2];
	pair(sv);
	struct vfu_reader r;
	REQUIRE(vfu_reader_init(&r, 4096) == 0);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		struct vfu_hdr h = { .msg_id = 5, .msg_size = 48 };
		if (write(sv[0], &h, sizeof(h)) != (ssize_t)sizeof(h))
			_exit(1);
		usleep(50 * 1000); /* the reader has taken the header by now */
		send_body_with_fd(sv[0], 32);
		_exit(0);
	}
	close(sv[0]);
	const uint8_t *m;
	int fds[4];
	size_t n = 4;
	CHECK_EQ(vfu_reader_next(&r, sv[1], &m, fds, &n), -EPROTO);
	CHECK_EQ(n, 0);
	vfu_reader_fini(&r);
	close(sv[1]);
	int st;
	waitpid(pid, &st, 0);
	CHECK_EQ(count_fds(), fd0);
}

int main(void)
{
	test_together_and_fds();
	test_large_and_eof_inside();
	test_timeouts();
	test_malformed();
	test_stray_fds();
	return t_done("test_vfu_reader");
}
