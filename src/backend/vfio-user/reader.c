/* SPDX-License-Identifier: MIT */
#include "reader.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "msg.h"

#define NO_START SIZE_MAX

int vfu_reader_init(struct vfu_reader *r, size_t max_msg)
{
	memset(r, 0, sizeof(*r));
	if (max_msg < sizeof(struct vfu_hdr))
		return -EINVAL;
	r->max_msg = max_msg;
	r->cap = max_msg + VFU_READ_AHEAD;
	r->buf = malloc(r->cap);
	r->fds_at = NO_START;
	r->armed_ms = -1;
	return r->buf ? 0 : -ENOMEM;
}

void vfu_reader_set_timeouts(struct vfu_reader *r, int idle_ms, int partial_ms)
{
	r->idle_ms = idle_ms < 0 ? 0 : idle_ms;
	r->partial_ms = partial_ms < 0 ? 0 : partial_ms;
	r->managed = true;
}

/* Set SO_RCVTIMEO for the state the reader is in, if it is not set yet. */
static int arm_state(struct vfu_reader *r, int sock)
{
	int want = (r->len || r->nfds) ? r->partial_ms : r->idle_ms;
	if (want == r->armed_ms)
		return 0;
	struct timeval tv = { .tv_sec = want / 1000, .tv_usec = (want % 1000) * 1000 };
	if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	r->armed_ms = want;
	return 0;
}

void vfu_reader_fini(struct vfu_reader *r)
{
	vfu_close_fds(r->fds, r->nfds);
	r->nfds = 0;
	free(r->buf);
	r->buf = NULL;
}

static uint32_t size_at(const struct vfu_reader *r, size_t at)
{
	struct vfu_hdr h;
	memcpy(&h, r->buf + at, sizeof(h));
	return h.msg_size;
}

/* The last message start in [from, end) of the buffer, walking message
 * boundaries from r->off; NO_START if none. */
static size_t last_start(const struct vfu_reader *r, size_t from, size_t end)
{
	size_t last = NO_START;
	for (size_t s = r->off; s < end;) {
		if (s >= from)
			last = s;
		if (end - s < sizeof(struct vfu_hdr))
			break;
		uint32_t sz = size_at(r, s);
		if (sz < sizeof(struct vfu_hdr))
			break; /* malformed: reported when it is read */
		s += sz;
	}
	return last;
}

/* Take the SCM_RIGHTS descriptors of one read; 0 or -EPROTO (all closed). */
static int take_fds(struct vfu_reader *r, struct msghdr *mh, size_t old_end, size_t end)
{
	int got[VFU_MAX_FDS];
	size_t n = 0;
	bool extra = (mh->msg_flags & MSG_CTRUNC) != 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(mh); c; c = CMSG_NXTHDR(mh, c)) {
		if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
			continue;
		size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
			if (n < VFU_MAX_FDS)
				got[n++] = fd;
			else {
				close(fd);
				extra = true;
			}
		}
	}
	if (!n && !extra)
		return 0;
	size_t at = last_start(r, old_end, end);
	if (extra || r->nfds || at == NO_START) {
		vfu_close_fds(got, n);
		return -EPROTO;
	}
	memcpy(r->fds, got, n * sizeof(int));
	r->nfds = n;
	r->fds_at = at;
	return 0;
}

/* Hand the complete message at r->off (size @sz) to the caller. */
static long deliver(struct vfu_reader *r, uint32_t sz, const uint8_t **msg, int *fds, size_t fcap,
		    size_t *nfds)
{
	long rc = sz;
	if (r->nfds && r->fds_at == r->off) {
		if (r->nfds > fcap || !fds) {
			vfu_close_fds(r->fds, r->nfds);
			rc = -EPROTO;
		} else {
			memcpy(fds, r->fds, r->nfds * sizeof(int));
			*nfds = r->nfds;
		}
		r->nfds = 0;
		r->fds_at = NO_START;
	}
	*msg = r->buf + r->off;
	r->off += sz;
	r->len -= sz;
	return rc;
}

/* One recvmsg of at most @room bytes at the end of the buffered data. */
static long fill(struct vfu_reader *r, int sock, size_t room)
{
	union {
		char b[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
		struct cmsghdr align;
	} ctl;
	if (r->off && r->off + r->len + room > r->cap) { /* compact */
		memmove(r->buf, r->buf + r->off, r->len);
		if (r->nfds)
			r->fds_at -= r->off;
		r->off = 0;
	}
	size_t end = r->off + r->len;
	struct iovec iov = { .iov_base = r->buf + end, .iov_len = room };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
			     .msg_controllen = sizeof(ctl.b) };
	ssize_t n;
	do
		n = recvmsg(sock, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	bool empty = r->len == 0 && r->nfds == 0;
	if (n < 0)
		return errno == EAGAIN || errno == EWOULDBLOCK ? (empty ? -EAGAIN : -ETIMEDOUT)
							       : -errno;
	int frc = take_fds(r, &mh, end, end + (size_t)n);
	if (frc)
		return frc;
	if (n == 0)
		return empty ? 0 : -EPROTO;
	r->len += (size_t)n;
	return n;
}

/* Arm SO_RCVTIMEO so that a blocking read ends by the deadline. */
static int arm(int sock, int64_t deadline_ms, int *armed_ms)
{
	int64_t left = deadline_ms - vfu_now_ms();
	if (left <= 0)
		return -ETIMEDOUT;
	if (*armed_ms > 0 && *armed_ms <= left + 20)
		return 0; /* what is armed ends near enough the deadline */
	if (left > INT32_MAX)
		left = INT32_MAX;
	struct timeval tv = { .tv_sec = (time_t)(left / 1000),
			      .tv_usec = (suseconds_t)(left % 1000) * 1000 };
	if (setsockopt(sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
		return -errno;
	*armed_ms = (int)left;
	return 0;
}

long vfu_reader_next(struct vfu_reader *r, int sock, const uint8_t **msg, int *fds, size_t *nfds)
{
	return vfu_reader_next_until(r, sock, msg, fds, nfds, -1, NULL);
}

long vfu_reader_next_until(struct vfu_reader *r, int sock, const uint8_t **msg, int *fds,
			   size_t *nfds, int64_t deadline_ms, int *armed_ms)
{
	size_t fcap = nfds ? *nfds : 0;
	size_t dummy;
	if (!nfds)
		nfds = &dummy;
	*nfds = 0;
	if (r->len == 0)
		r->off = 0;
	for (;;) {
		size_t target = sizeof(struct vfu_hdr); /* bytes of this message we need */
		if (r->len >= sizeof(struct vfu_hdr)) {
			uint32_t sz = size_at(r, r->off);
			if (sz < sizeof(struct vfu_hdr))
				return -EPROTO;
			if (sz > r->max_msg)
				return -EMSGSIZE;
			if (r->len >= sz)
				return deliver(r, sz, msg, fds, fcap, nfds);
			target = sz;
		}
		if (r->nfds && r->fds_at != r->off)
			return -EPROTO; /* cannot happen: see take_fds */
		size_t room = target - r->len;
		if (!r->nfds) /* no descriptors pending: read ahead */
			room += VFU_READ_AHEAD;
		if (deadline_ms >= 0 && armed_ms) {
			int arc = arm(sock, deadline_ms, armed_ms);
			if (arc)
				return arc;
		} else if (r->managed) {
			int arc = arm_state(r, sock);
			if (arc)
				return arc;
		}
		long n = fill(r, sock, room);
		if ((n == -EAGAIN || n == -ETIMEDOUT) && deadline_ms >= 0) {
			if (vfu_now_ms() >= deadline_ms)
				return -ETIMEDOUT; /* the whole message's deadline */
			*armed_ms = 0;    /* re-arm for what is left */
			continue;
		}
		if (n <= 0)
			return n;
	}
}
