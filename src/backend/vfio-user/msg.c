/* SPDX-License-Identifier: MIT */
#include "msg.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
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

int vfu_msg_send2(int sock, struct vfu_hdr *hdr, const void *p1, size_t l1, const void *p2,
		  size_t l2, const int *fds, size_t nfds)
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
	while (sent < total) {
		ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
		if (n < 0) {
			if (errno == EINTR)
				continue;
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

int vfu_msg_send(int sock, struct vfu_hdr *hdr, const void *payload, size_t len, const int *fds,
		 size_t nfds)
{
	return vfu_msg_send2(sock, hdr, payload, len, NULL, 0, fds, nfds);
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
