/* SPDX-License-Identifier: MIT */
/* Record parsing and descriptor factories shared by the fuzz harnesses. */
#include "fuzz.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

bool fuzz_next(struct fuzz_in *in, struct fuzz_rec *r)
{
	if (in->left < FUZZ_REC_HDR)
		return false;
	const uint8_t *p = in->p;
	r->kind = p[0];
	r->fdspec = p[1];
	r->arg = (uint16_t)(p[2] | p[3] << 8);
	size_t len = (size_t)(p[4] | p[5] << 8);
	in->p += FUZZ_REC_HDR;
	in->left -= FUZZ_REC_HDR;
	if (len > in->left)
		len = in->left;
	r->data = in->p;
	r->len = len;
	in->p += len;
	in->left -= len;
	return true;
}

uint64_t fuzz_fd_size(const struct fuzz_rec *r)
{
	return (r->fdspec & FUZZ_FD_PAGES) ? (uint64_t)r->arg * 4096u : r->arg;
}

/* A memfd of @size bytes, or -1. */
static int make_memfd(uint64_t size)
{
	int fd = memfd_create("udd-fuzz", MFD_CLOEXEC);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Reopen @fd read-only through /proc (closes @fd). */
static int reopen_ro(int fd)
{
	if (fd < 0)
		return -1;
	char path[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	int ro = open(path, O_RDONLY | O_CLOEXEC);
	close(fd);
	return ro;
}

static int make_rofile(uint64_t size)
{
	const char *dir = getenv("TMPDIR");
	char path[256];
	snprintf(path, sizeof(path), "%s/udd-fuzz-XXXXXX", dir && *dir ? dir : "/tmp");
	int fd = mkostemp(path, O_CLOEXEC);
	if (fd < 0)
		return -1;
	unlink(path);
	if (ftruncate(fd, (off_t)size) < 0) {
		close(fd);
		return -1;
	}
	return reopen_ro(fd);
}

static int make_one(unsigned type, uint64_t size)
{
	int p[2];
	switch (type) {
	case FUZZ_FD_MEMFD:
		return make_memfd(size);
	case FUZZ_FD_EVENTFD:
		return eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	case FUZZ_FD_ROFILE:
		return make_rofile(size);
	case FUZZ_FD_PIPE:
		if (pipe2(p, O_CLOEXEC | O_NONBLOCK) < 0)
			return -1;
		close(p[1]);
		return p[0];
	case FUZZ_FD_SOCKET:
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
			return -1;
		close(p[1]);
		return p[0];
	case FUZZ_FD_DIR:
		return open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	case FUZZ_FD_ROMEMFD:
		return reopen_ro(make_memfd(size));
	default:
		return -1;
	}
}

size_t fuzz_make_fds(const struct fuzz_rec *r, int *fds)
{
	unsigned type = FUZZ_FD_TYPE(r->fdspec);
	unsigned n = FUZZ_FD_COUNT(r->fdspec);
	uint64_t size = fuzz_fd_size(r);
	size_t got = 0;
	for (unsigned i = 0; i < n && got < FUZZ_MAX_FDS; i++) {
		int fd = make_one(type, size);
		if (fd >= 0)
			fds[got++] = fd;
	}
	return got;
}

void fuzz_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0)
			close(fds[i]);
		fds[i] = -1;
	}
}

uint64_t fuzz_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void fuzz_sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

ssize_t fuzz_send_part(int sock, const uint8_t *p, size_t off, size_t len, const int *fds,
		       size_t nfds)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * (FUZZ_MAX_FDS + 1))];
		struct cmsghdr align;
	} ctl;
	struct iovec iov = { .iov_base = (void *)(p + off), .iov_len = len - off };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (nfds > FUZZ_MAX_FDS + 1)
		nfds = FUZZ_MAX_FDS + 1;
	if (nfds && off == 0) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.b;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	return sendmsg(sock, &mh, MSG_NOSIGNAL | MSG_DONTWAIT);
}
