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

/*
 * As vfu_msg_recv(), with an overall deadline for the whole message when
 * @deadline_ms >= 0 (vfu_now_ms() time; @timeout_ms is then ignored): a peer
 * that sends a message in dribbles cannot hold the call past it.
 * @armed_ms NULL: each part is waited for by poll. Otherwise the socket is
 * read by blocking recvmsg bounded by SO_RCVTIMEO, and *@armed_ms is the
 * timeout currently armed on it (0: none), shortened here as the deadline
 * comes near (one system call fewer per part than a poll).
 */
long vfu_msg_recv_until(int sock, void *buf, size_t cap, int *fds, size_t *nfds, int timeout_ms,
			int64_t deadline_ms, int *armed_ms);

/* Close @n descriptors of @fds that are >= 0 and set them to -1. */
void vfu_close_fds(int *fds, size_t n);

#endif
