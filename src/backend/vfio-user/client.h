/* SPDX-License-Identifier: MIT */
/*
 * Private interface of the vfio-user client backend (client.c), beyond the
 * struct udd_backend_ops it exports as udd_vfio_user_backend.
 */
#ifndef UDD_VFIO_USER_CLIENT_H
#define UDD_VFIO_USER_CLIENT_H

#include <stdbool.h>

#include "backend.h"

/* Over TCP the reader thread stands aside while requests come at least this
 * often (they read the stream themselves, messages of the server included):
 * the longest an interrupt message arriving just after a request waits. */
#define VFU_NET_READER_IDLE_MS 2

/* Default receive timeout for a reply, and the one for DEVICE_RESET. */
#define VFU_CLIENT_TIMEOUT_MS 10000
#define VFU_CLIENT_RESET_TIMEOUT_MS 30000

/* Most regions / IRQ types / vectors of one IRQ type accepted from a server. */
#define VFU_CLIENT_MAX_REGIONS 64
#define VFU_CLIENT_MAX_IRQ_TYPES 64
#define VFU_CLIENT_MAX_IRQ_VECS 2048
/* Largest region-info reply we are willing to fetch (retry with this argsz). */
#define VFU_CLIENT_MAX_REGION_INFO 65536u
/* Descriptors we accept in one message (advertised as max_msg_fds). */
#define VFU_CLIENT_MAX_RECV_FDS 8

/*
 * True if the server echoed the "udd" capability with a "borrow" mode in its
 * VERSION reply, i.e. it enforces borrow modes itself. Otherwise the core
 * must fall back to a lock file. @bdev is a handle from open().
 */
bool vfu_client_enforces_borrow(void *bdev);

/*
 * As udd_vfio_user_backend.open(), with the reply timeout given in
 * milliseconds (> 0) instead of VFU_CLIENT_TIMEOUT_MS; it applies to the
 * handshake and to every later request except DEVICE_RESET (which uses the
 * larger of it and VFU_CLIENT_RESET_TIMEOUT_MS). Useful for pool listing,
 * where a peer that does not answer within 1 s is left out.
 */
int vfu_client_open_timeout(const char *loc, enum udd_be_mode mode, struct udd_log *log,
			    int timeout_ms, void **bdev);

/* True if twin-socket mode was negotiated (a service thread runs). */
bool vfu_client_twin_socket(void *bdev);

/*
 * Ask the gateway at @hostport (`HOST[:PORT]`) for its devices (the `list`
 * preamble, docs/cluster.md), calling add(arg, "tcp://HOST:PORT/NAME", fdid)
 * for each, fdid as the gateway computed it (its node id in the upper
 * bits). Within @timeout_ms. 0 or -errno (-EACCES: no key / key refused).
 */
int vfu_net_list(const char *hostport, struct udd_log *log, int timeout_ms,
		 int (*add)(void *arg, const char *loc, uint32_t fdid), void *arg);

#endif
