/* SPDX-License-Identifier: MIT */
#include "msg.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

void vfu_close_fds(int *fds, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (fds[i] >= 0) {
			close(fds[i]);
			fds[i] = -1;
		}
	}
}

int64_t vfu_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until @sock is writable or the deadline passes: 0 or -ETIMEDOUT. */
static int wait_writable(int sock, int64_t deadline_ms)
{
	for (;;) {
		int64_t left = deadline_ms - vfu_now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		struct pollfd p = { .fd = sock, .events = POLLOUT };
		int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
		if (r > 0)
			return 0;
		if (r < 0 && errno != EINTR)
			return -errno;
	}
}

int vfu_msg_send2_until(int sock, struct vfu_hdr *hdr, const void *p1, size_t l1, const void *p2,
			size_t l2, const int *fds, size_t nfds, int64_t deadline_ms)
{
	if (!hdr || nfds > VFU_MAX_FDS || (l1 && !p1) || (l2 && !p2) || (nfds && !fds))
		return -EINVAL;
	size_t total = sizeof(*hdr) + l1 + l2;
	if (total > UINT32_MAX || total < l1)
		return -EINVAL;
	hdr->msg_size = (uint32_t)total;

	struct iovec iov[3] = {
		{ .iov_base = hdr, .iov_len = sizeof(*hdr) },
		{ .iov_base = (void *)(uintptr_t)p1, .iov_len = l1 },
		{ .iov_base = (void *)(uintptr_t)p2, .iov_len = l2 },
	};
	union {
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 3 };
	if (nfds) {
		memset(&ctl, 0, sizeof(ctl));
		mh.msg_control = ctl.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(c), fds, sizeof(int) * nfds);
	}
	size_t sent = 0;
	/* With a deadline the socket is written without blocking and waited
	 * for by poll, so that a peer that stops reading cannot hold the send
	 * past it; without one, a blocking send (bounded by SO_SNDTIMEO). */
	int flags = MSG_NOSIGNAL | (deadline_ms >= 0 ? MSG_DONTWAIT : 0);
	while (sent < total) {
		ssize_t n = sendmsg(sock, &mh, flags);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (deadline_ms >= 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
				int w = wait_writable(sock, deadline_ms);
				if (w)
					return w;
				continue;
			}
			return -errno;
		}
		sent += (size_t)n;
		/* fds go with the first chunk only */
		mh.msg_control = NULL;
		mh.msg_controllen = 0;
		size_t adv = (size_t)n;
		while (adv && mh.msg_iovlen) {
			if (adv >= mh.msg_iov[0].iov_len) {
				adv -= mh.msg_iov[0].iov_len;
				mh.msg_iov++;
				mh.msg_iovlen--;
			} else {
				mh.msg_iov[0].iov_base = (char *)mh.msg_iov[0].iov_base + adv;
				mh.msg_iov[0].iov_len -= adv;
				adv = 0;
			}
		}
	}
	return 0;
}

int vfu_msg_send2(int sock, struct vfu_hdr *hdr, const void *p1, size_t l1, const void *p2,
		  size_t l2, const int *fds, size_t nfds)
{
	return vfu_msg_send2_until(sock, hdr, p1, l1, p2, l2, fds, nfds, -1);
}

int vfu_msg_send(int sock, struct vfu_hdr *hdr, const void *payload, size_t len, const int *fds,
		 size_t nfds)
{
	return vfu_msg_send2_until(sock, hdr, payload, len, NULL, 0, fds, nfds, -1);
}

static int wait_readable(int sock, int timeout_ms)
{
	if (timeout_ms < 0)
		return 0;
	struct pollfd p = { .fd = sock, .events = POLLIN };
	for (;;) {
		int r = poll(&p, 1, timeout_ms);
		if (r > 0)
			return 0;
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

/* Collect SCM_RIGHTS fds of one recvmsg into fds[*got..]; extra fds are closed. */
static int take_fds(struct msghdr *mh, int *fds, size_t cap, size_t *got)
{
	int rc = 0;
	if (mh->msg_flags & MSG_CTRUNC)
		rc = -EPROTO;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t n = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		const unsigned char *p = CMSG_DATA(c);
		for (size_t i = 0; i < n; i++) {
			int fd;
			memcpy(&fd, p + i * sizeof(int), sizeof(int));
			if (fds && *got < cap)
				fds[(*got)++] = fd;
			else {
				close(fd);
				rc = -EPROTO;
			}
		}
	}
	return rc;
}

long vfu_msg_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds, int timeout_ms)
{
	size_t fcap = (fds && nfds) ? *nfds : 0;
	size_t got = 0;
	int rc = 0;
	if (!buf || cap < sizeof(struct vfu_hdr))
		return -EINVAL;
	if (nfds)
		*nfds = 0;

	union {
		char buf[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	size_t have = 0, want = sizeof(struct vfu_hdr);
	while (have < want) {
		rc = wait_readable(sock, timeout_ms);
		if (rc)
			goto fail;
		struct iovec iov = { .iov_base = (char *)buf + have, .iov_len = want - have };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
				     .msg_controllen = sizeof(ctl.buf) };
		ssize_t n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK) /* SO_RCVTIMEO or O_NONBLOCK */
				rc = have == 0 && got == 0 ? -EAGAIN : -ETIMEDOUT;
			else
				rc = -errno;
			goto fail;
		}
		int frc = take_fds(&mh, fds, fcap, &got);
		if (frc)
			rc = frc;
		if (n == 0) {
			if (have == 0 && !rc && got == 0)
				return 0;
			rc = -EPROTO;
			goto fail;
		}
		have += (size_t)n;
		if (have == sizeof(struct vfu_hdr) && want == sizeof(struct vfu_hdr)) {
			const struct vfu_hdr *h = buf;
			if (h->msg_size < sizeof(struct vfu_hdr)) {
				rc = -EPROTO;
				goto fail;
			}
			if (h->msg_size > cap) {
				rc = -EMSGSIZE;
				goto fail;
			}
			want = h->msg_size;
		}
	}
	if (rc)
		goto fail;
	if (nfds)
		*nfds = got;
	return (long)have;
fail:
	if (fds)
		vfu_close_fds(fds, got);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* byte-stream transports (TCP, TLS): no descriptors, everything in-band     */
/* ------------------------------------------------------------------------ */

/* Wait for @events on the transport's fd by @deadline_ms (< 0: forever). */
static int xport_wait(struct vfu_xport *x, short events, int64_t deadline_ms)
{
	for (;;) {
		int tmo = -1;
		if (deadline_ms >= 0) {
			int64_t left = deadline_ms - vfu_now_ms();
			if (left <= 0)
				return -ETIMEDOUT;
			tmo = left > INT32_MAX ? INT32_MAX : (int)left;
		}
		struct pollfd p = { .fd = x->fd, .events = events };
		int r = poll(&p, 1, tmo);
		if (r > 0)
			return 0; /* readable, writable or an error the next call reports */
		if (r == 0)
			return -ETIMEDOUT;
		if (errno != EINTR)
			return -errno;
	}
}

int vfu_xport_write_all(struct vfu_xport *x, const void *buf, size_t len, int64_t deadline_ms)
{
	const uint8_t *p = buf;
	while (len) {
		long n = x->send(x->ctx, p, len);
		if (n == -EAGAIN) {
			int w = xport_wait(x, POLLOUT, deadline_ms);
			if (w)
				return w;
			continue;
		}
		if (n < 0)
			return (int)n;
		if (n == 0)
			return -EPIPE;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

long vfu_xport_read_full(struct vfu_xport *x, void *buf, size_t len, int64_t deadline_ms)
{
	size_t have = 0;
	while (have < len) {
		/* a TLS transport returns buffered bytes without -EAGAIN: the
		 * poll is only reached when nothing is left above the socket */
		long n = x->recv(x->ctx, (uint8_t *)buf + have, len - have);
		if (n == -EAGAIN) {
			int w = xport_wait(x, POLLIN, deadline_ms);
			if (w)
				return w;
			continue;
		}
		if (n < 0)
			return n;
		if (n == 0)
			return have ? -EPROTO : 0;
		have += (size_t)n;
	}
	return (long)len;
}

int vfu_xmsg_send(struct vfu_xport *x, struct vfu_hdr *hdr, const void *p1, size_t l1,
		  const void *p2, size_t l2, int64_t deadline_ms)
{
	if (!x || !hdr || (l1 && !p1) || (l2 && !p2))
		return -EINVAL;
	size_t total = sizeof(*hdr) + l1 + l2;
	if (total > UINT32_MAX || total < l1)
		return -EINVAL;
	hdr->msg_size = (uint32_t)total;
	/* small messages go as one write (one TLS record, one segment) */
	if (total <= 512) {
		uint8_t b[512];
		memcpy(b, hdr, sizeof(*hdr));
		if (l1)
			memcpy(b + sizeof(*hdr), p1, l1);
		if (l2)
			memcpy(b + sizeof(*hdr) + l1, p2, l2);
		return vfu_xport_write_all(x, b, total, deadline_ms);
	}
	int rc = vfu_xport_write_all(x, hdr, sizeof(*hdr), deadline_ms);
	if (!rc && l1)
		rc = vfu_xport_write_all(x, p1, l1, deadline_ms);
	if (!rc && l2)
		rc = vfu_xport_write_all(x, p2, l2, deadline_ms);
	return rc;
}

long vfu_xmsg_recv(struct vfu_xport *x, void *buf, size_t cap, int64_t idle_deadline_ms,
		   int msg_timeout_ms)
{
	if (!x || !buf || cap < sizeof(struct vfu_hdr) || msg_timeout_ms <= 0)
		return -EINVAL;
	/* the first byte, waited for until the idle deadline */
	uint8_t *b = buf;
	long n;
	for (;;) {
		n = x->recv(x->ctx, b, 1);
		if (n != -EAGAIN)
			break;
		int w = xport_wait(x, POLLIN, idle_deadline_ms);
		if (w == -ETIMEDOUT)
			return -EAGAIN;
		if (w)
			return w;
	}
	if (n <= 0)
		return n;
	int64_t deadline = vfu_now_ms() + msg_timeout_ms;
	n = vfu_xport_read_full(x, b + 1, sizeof(struct vfu_hdr) - 1, deadline);
	if (n <= 0)
		return n == 0 ? -EPROTO : n;
	struct vfu_hdr h;
	memcpy(&h, b, sizeof(h));
	if (h.msg_size < sizeof(h))
		return -EPROTO;
	if (h.msg_size > cap)
		return -EMSGSIZE;
	if (h.msg_size > sizeof(h)) {
		n = vfu_xport_read_full(x, b + sizeof(h), h.msg_size - sizeof(h), deadline);
		if (n <= 0)
			return n == 0 ? -EPROTO : n;
	}
	return (long)h.msg_size;
}
