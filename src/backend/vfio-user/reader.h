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

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define VFU_READ_AHEAD 4096u

struct vfu_reader {
	uint8_t *buf;
	size_t cap;        /* max_msg + VFU_READ_AHEAD */
	size_t max_msg;    /* largest message accepted (-EMSGSIZE beyond) */
	size_t off, len;   /* unconsumed bytes: buf[off, off + len) */
	int idle_ms, partial_ms; /* SO_RCVTIMEO wanted between / inside messages (0: none) */
	int armed_ms;            /* what is set on the socket (-1: unknown) */
	bool managed;            /* vfu_reader_set_timeouts() was called */
	int fds[VFU_MAX_FDS];
	size_t nfds;       /* pending descriptors ... */
	size_t fds_at;     /* ... for the message that starts at buf[fds_at] */
};

/* Set up @r for messages of at most @max_msg bytes (>= 16). 0 or -ENOMEM. */
int vfu_reader_init(struct vfu_reader *r, size_t max_msg);

/*
 * Let the reader manage the socket's SO_RCVTIMEO (vfu_reader_next only):
 * @idle_ms bounds the wait for the first byte of a message (-EAGAIN when
 * it ends), @partial_ms each wait inside a message (-ETIMEDOUT); 0: no
 * bound. The socket option is changed only when the reader passes between
 * the two states, so a server whose idle wait is unbounded arms no timer
 * per message (a blocking receive with a timeout costs a timer each time:
 * about 1 µs per round trip on a VM, bench_transport).
 */
void vfu_reader_set_timeouts(struct vfu_reader *r, int idle_ms, int partial_ms);

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

/*
 * As vfu_reader_next(), finished by @deadline_ms (vfu_now_ms() time; < 0:
 * none): each read is bounded by SO_RCVTIMEO, which is (re)armed as the
 * deadline comes near; *@armed_ms is the timeout armed on @sock (0: none
 * known). A message that has not arrived whole by the deadline is
 * -ETIMEDOUT (the stream is then unusable), however the peer cuts it up.
 * @armed_ms must be non-NULL when @deadline_ms >= 0.
 */
long vfu_reader_next_until(struct vfu_reader *r, int sock, const uint8_t **msg, int *fds,
			   size_t *nfds, int64_t deadline_ms, int *armed_ms);

#endif
