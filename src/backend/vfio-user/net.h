/* SPDX-License-Identifier: MIT */
/*
 * vfio-user over TCP: locations `tcp://HOST:PORT/DEVICE`, TLS 1.3 with a
 * pre-shared cluster key (GnuTLS, PSK with (EC)DHE: mutual authentication
 * and forward secrecy), plaintext only when asked for, TCP keepalive, and
 * the cluster configuration file. Shared by the client backend (client.c)
 * and the gateway (src/gateway/udd-gw.c). See docs/cluster.md.
 *
 * Everything returns 0 or a negative errno and never prints: failures are
 * described in the caller-provided @err buffer where there is one.
 */
#ifndef UDD_VFIO_USER_NET_H
#define UDD_VFIO_USER_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"

#define VFU_NET_SCHEME "tcp://"
#define VFU_NET_DEFAULT_PORT "7787"
/* PSK identity sent when the key file names none. */
#define VFU_NET_DEFAULT_IDENTITY "udd"

/*
 * Liveness: TCP keepalive after 1 s idle, a probe every 1 s, and
 * TCP_USER_TIMEOUT 4 s (unacknowledged data or probes): a peer that
 * vanished without a FIN is seen gone within VFU_NET_DEAD_MS.
 */
#define VFU_NET_KEEPIDLE_S 1
#define VFU_NET_KEEPINTVL_S 1
#define VFU_NET_KEEPCNT 3
#define VFU_NET_USER_TIMEOUT_MS 4000
#define VFU_NET_DEAD_MS 6000

/* Longest line of the text preamble (open/list) and of a list reply. */
#define VFU_NET_LINE_MAX 256

struct vfu_net_key {
	char identity[64];
	uint8_t key[64];
	size_t len; /* 16..64 bytes */
};

/* True if @loc is a tcp:// location. */
bool vfu_net_is_tcp(const char *loc);

/* A device name that may stand after tcp://HOST:PORT/ and in a gateway's
 * "open NAME": letters, digits, '-', '_', '.', ':' (a lent device is named
 * by its PCI address, 0000:00:01.0), 1 to 100 of them, no leading '.' (so
 * no "..", no hidden files, and no '/': never a path out of the pool). */
bool vfu_net_name_ok(const char *n);

/*
 * Split `tcp://HOST[:PORT][/DEVICE]` (HOST may be [v6]). @dev may be NULL
 * (then a device part is refused). -EINVAL when malformed.
 */
int vfu_net_parse(const char *loc, char *host, size_t hcap, char *port, size_t pcap, char *dev,
		  size_t dcap);

/* Read a key file: one line `[IDENTITY:]HEX` (32..128 hex digits). The
 * file must belong to this user or root and not be readable by group or
 * others (-EPERM). -ENOENT, -EINVAL malformed. */
int vfu_net_load_key(const char *path, struct vfu_net_key *k, char *err, size_t errcap);

/* TCP connect to @host:@port by @deadline_ms, non-blocking, TCP_NODELAY and
 * keepalive set. */
int vfu_net_connect(const char *host, const char *port, int64_t deadline_ms, int *fd);

/* Keepalive + TCP_NODELAY + TCP_USER_TIMEOUT on a connected socket. */
void vfu_net_tune(int fd);

/*
 * A transport over the connected, non-blocking socket @fd (ownership of
 * @fd passes to the transport, closed by vfu_net_close even on failure).
 * @key NULL: plaintext. Otherwise TLS-PSK as client or server, handshake
 * done by @deadline_ms; a peer with another key fails the handshake
 * (-EACCES) before any vfio-user byte is read.
 */
int vfu_net_open(struct vfu_xport *x, int fd, const struct vfu_net_key *key, bool server,
		 int64_t deadline_ms, char *err, size_t errcap);
/* Send a TLS close_notify (best effort, non-blocking) and shut the socket
 * down both ways, waking a thread blocked on it. Idempotent. */
void vfu_net_shutdown(struct vfu_xport *x);
void vfu_net_close(struct vfu_xport *x);

/* One line (without the '\n', NUL-terminated) by @deadline_ms: its length,
 * 0 EOF, -EMSGSIZE longer than @cap-1, -ETIMEDOUT, -errno. Reads byte by
 * byte: only for the short preamble. */
long vfu_net_read_line(struct vfu_xport *x, char *buf, size_t cap, int64_t deadline_ms);

/*
 * The cluster settings a client uses: $UDD_CLUSTER_KEY (key file path),
 * $UDD_CLUSTER_INSECURE=1, else the cluster file (vfu_net_config_path):
 * lines `key PATH`, `insecure`, `node N`, `peer HOST[:PORT]`, `#...`.
 */
struct vfu_net_settings {
	char key_path[512];
	bool insecure;
	unsigned node; /* this host's node id (0: none set) */
};
int vfu_net_settings(struct vfu_net_settings *s);

/* The cluster file: $UDD_CLUSTER_CONFIG, else $XDG_CONFIG_HOME/udd/cluster,
 * else $HOME/.config/udd/cluster if it exists, else /etc/udd/cluster. */
int vfu_net_config_path(char *buf, size_t cap);

/* The peers of the cluster file, calling @fn for each `peer` line. */
int vfu_net_peers(int (*fn)(void *arg, const char *hostport), void *arg);

#endif
