/* SPDX-License-Identifier: MIT */
/*
 * vfio-user message framing over a SOCK_STREAM AF_UNIX socket, with file
 * descriptors as SCM_RIGHTS. Shared by the client backend and udd-sim.
 */
#ifndef UDD_VFIO_USER_MSG_H
#define UDD_VFIO_USER_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

/*
 * Send one message: @hdr (msg_size is filled in here) followed by @len bytes
 * of @payload, with @nfds descriptors attached to the first byte.
 * Returns 0; -EINVAL (nfds > VFU_MAX_FDS, size overflow); -EPIPE/-ECONNRESET
 * peer gone; other -errno. Never raises SIGPIPE.
 */
int vfu_msg_send(int sock, struct vfu_hdr *hdr, const void *payload, size_t len, const int *fds,
		 size_t nfds);

/* As vfu_msg_send() with the payload in two pieces (header struct + data). */
int vfu_msg_send2(int sock, struct vfu_hdr *hdr, const void *p1, size_t l1, const void *p2,
		  size_t l2, const int *fds, size_t nfds);

/* CLOCK_MONOTONIC in milliseconds: the clock of every deadline below. */
int64_t vfu_now_ms(void);

/*
 * As vfu_msg_send2(), finished by @deadline_ms (vfu_now_ms() time; < 0: no
 * deadline, a blocking send). With a deadline the socket is written without
 * blocking and polled for room, so a peer that stops reading gets
 * -ETIMEDOUT at the deadline, not one send timeout per chunk.
 */
int vfu_msg_send2_until(int sock, struct vfu_hdr *hdr, const void *p1, size_t l1, const void *p2,
			size_t l2, const int *fds, size_t nfds, int64_t deadline_ms);

/*
 * Receive one whole message into @buf (capacity @cap, >= 16).
 * @fds receives up to @*nfds descriptors (in/out); any descriptors beyond
 * that, or arriving when @fds is NULL, are closed and the call fails with
 * -EPROTO. @timeout_ms: -1 forever; otherwise waits at most that long for
 * each part of the message.
 * Returns the message size (>= 16); 0 on orderly EOF before any byte;
 * -EPROTO malformed header (msg_size < 16) or truncated message;
 * -EMSGSIZE msg_size > cap (the stream is then unusable); -ETIMEDOUT;
 * -EAGAIN: a socket timeout (SO_RCVTIMEO) or O_NONBLOCK ended the wait before
 * any byte of a message was read (the stream is intact: call again); a
 * socket timeout after part of a message is -ETIMEDOUT (stream unusable);
 * -ECONNRESET; other -errno. On failure every received fd is closed.
 */
long vfu_msg_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds, int timeout_ms);


/* Close @n descriptors of @fds that are >= 0 and set them to -1. */
void vfu_close_fds(int *fds, size_t n);

/*
 * Framing over a byte stream that is not a socket with SCM_RIGHTS (TCP,
 * TLS): a transport is a pair of non-blocking send/recv functions plus the
 * descriptor to poll. No descriptors travel: everything is in-band.
 *
 * send/recv return the bytes moved (> 0), 0 for EOF (recv only), -EAGAIN
 * when they would block (the caller polls @fd: POLLIN for recv, POLLOUT for
 * send), or another -errno. pending (may be NULL) says whether recv has
 * bytes buffered that a poll on @fd would not show (TLS records).
 */
struct vfu_xport {
	int fd;
	void *ctx;
	long (*send)(void *ctx, const void *buf, size_t len);
	long (*recv)(void *ctx, void *buf, size_t len);
	int (*pending)(void *ctx);
};

/*
 * Send one message (header + p1 + p2) over @x by @deadline_ms (< 0: none).
 * msg_size is filled in. 0, -ETIMEDOUT, -EPIPE/-ECONNRESET, -EINVAL, -errno.
 * Not thread-safe against other senders of the same transport.
 */
int vfu_xmsg_send(struct vfu_xport *x, struct vfu_hdr *hdr, const void *p1, size_t l1,
		  const void *p2, size_t l2, int64_t deadline_ms);

/*
 * Receive one whole message into @buf (capacity @cap >= 16). The first byte
 * is waited for until @idle_deadline_ms (< 0: forever); once it came, the
 * rest must arrive within @msg_timeout_ms (> 0). msg_size is checked before
 * any payload is read: < 16 is -EPROTO, > @cap is -EMSGSIZE (stream then
 * unusable). Returns the size, 0 on EOF before any byte, -EAGAIN when the
 * idle deadline passed before any byte (stream intact), -ETIMEDOUT inside a
 * message, -EPROTO truncated, other -errno.
 */
long vfu_xmsg_recv(struct vfu_xport *x, void *buf, size_t cap, int64_t idle_deadline_ms,
		   int msg_timeout_ms);

/* Write all @len bytes of @buf by @deadline_ms (< 0: none): 0 or -errno. */
int vfu_xport_write_all(struct vfu_xport *x, const void *buf, size_t len, int64_t deadline_ms);

/* Read exactly @len bytes by @deadline_ms (< 0: none): @len, 0 for EOF
 * before any byte, -EPROTO EOF inside, -ETIMEDOUT, -errno. */
long vfu_xport_read_full(struct vfu_xport *x, void *buf, size_t len, int64_t deadline_ms);

#endif
