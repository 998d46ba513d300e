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

/*
 * Receive one whole message into @buf (capacity @cap, >= 16).
 * @fds receives up to @*nfds descriptors (in/out); any descriptors beyond
 * that, or arriving when @fds is NULL, are closed and the call fails with
 * -EPROTO. @timeout_ms: -1 forever; otherwise waits at most that long for
 * each part of the message.
 * Returns the message size (>= 16); 0 on orderly EOF before any byte;
 * -EPROTO malformed header (msg_size < 16) or truncated message;
 * -EMSGSIZE msg_size > cap (the stream is then unusable); -ETIMEDOUT;
 * -ECONNRESET; other -errno. On failure every received fd is closed.
 */
long vfu_msg_recv(int sock, void *buf, size_t cap, int *fds, size_t *nfds, int timeout_ms);

/* Close @n descriptors of @fds that are >= 0 and set them to -1. */
void vfu_close_fds(int *fds, size_t n);

#endif
