/* SPDX-License-Identifier: MIT */
/*
 * A buffered reader of vfio-user messages on a SOCK_STREAM AF_UNIX socket.
 *
 * vfu_msg_recv() reads a message with two system calls (header, then the
 * rest). The reader reads ahead instead: one recvmsg brings in whatever the
 * socket holds (up to a read-ahead), so a small message costs one system
 * call, and messages that arrived together cost one between them.
 *
 * Descriptors: the kernel ends a stream read right after the data that
 * carried SCM_RIGHTS descriptors, and a sender attaches them to the first
 * byte of their message (vfu_msg_send2 does), so descriptors that arrive
 * with a read belong to the last message that starts in it. While such a
 * message is incomplete, the reader reads no further than its end, so at
 * most one set of descriptors is ever pending. Descriptors that arrive
 * with no message starting in the read are a protocol error.
 *
 * Not thread-safe: one reader per socket, used by one thread.
 */
#ifndef UDD_VFIO_USER_READER_H
#define UDD_VFIO_USER_READER_H

#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define VFU_READ_AHEAD 4096u

struct vfu_reader {
	uint8_t *buf;
	size_t cap;        /* max_msg + VFU_READ_AHEAD */
	size_t max_msg;    /* largest message accepted (-EMSGSIZE beyond) */
	size_t off, len;   /* unconsumed bytes: buf[off, off + len) */
	int fds[VFU_MAX_FDS];
	size_t nfds;       /* pending descriptors ... */
	size_t fds_at;     /* ... for the message that starts at buf[fds_at] */
};

/* Set up @r for messages of at most @max_msg bytes (>= 16). 0 or -ENOMEM. */
int vfu_reader_init(struct vfu_reader *r, size_t max_msg);

/* Free the buffer and close pending descriptors. */
void vfu_reader_fini(struct vfu_reader *r);

/*
 * The next message from @sock. *@msg points at it inside the reader's
 * buffer, valid until the next call. Its descriptors go to @fds (capacity
 * *@nfds in, count out; extra ones are closed and the call fails -EPROTO).
 * Blocks in recvmsg, bounded by the socket's SO_RCVTIMEO if it has one.
 * Returns the message size (>= 16); 0 orderly EOF between messages;
 * -EAGAIN the socket timed out before any byte of a message (the stream is
 * intact: call again); -ETIMEDOUT it timed out inside a message; -EPROTO
 * malformed (msg_size < 16, EOF inside a message, stray descriptors);
 * -EMSGSIZE msg_size > max_msg; other -errno. After an error other than
 * -EAGAIN the stream is unusable.
 */
long vfu_reader_next(struct vfu_reader *r, int sock, const uint8_t **msg, int *fds, size_t *nfds);

#endif
