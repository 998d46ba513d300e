/* SPDX-License-Identifier: MIT */
/*
 * The transports of net.h: plaintext TCP and TLS 1.3 with a pre-shared key
 * (GnuTLS). Kept apart from net.c: the vfio-user client refers to
 * vfu_net_open/shutdown/close weakly, so a program linked statically against
 * libudd.a pulls this file (and needs -lgnutls) only if it asks for it
 * (-Wl,-u,vfu_net_open); the shared library always has it.
 */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gnutls/gnutls.h>

/* TLS 1.3 only, PSK with ECDHE or DHE key exchange (psk_dhe_ke): no
 * certificates, and a recorded session cannot be decrypted with the key. */
#define VFU_NET_PRIORITY "NORMAL:-VERS-ALL:+VERS-TLS1.3:-KX-ALL:+ECDHE-PSK:+DHE-PSK"

struct vfu_tls {
	int fd;
	gnutls_session_t s;
	gnutls_psk_client_credentials_t cc;
	gnutls_psk_server_credentials_t sc;
	struct vfu_net_key key;
	int shut;
};

static void seterr(char *err, size_t cap, const char *what, const char *why)
{
	if (err && cap)
		snprintf(err, cap, "TLS %s: %s", what, why);
}

/* ---- the transports ---------------------------------------------------- */

static long plain_send(void *ctx, const void *buf, size_t len)
{
	struct vfu_tls *t = ctx;
	for (;;) {
		ssize_t n = send(t->fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
	}
}

static long plain_recv(void *ctx, void *buf, size_t len)
{
	struct vfu_tls *t = ctx;
	for (;;) {
		ssize_t n = recv(t->fd, buf, len, MSG_DONTWAIT);
		if (n >= 0)
			return n;
		if (errno == EINTR)
			continue;
		return (errno == EAGAIN || errno == EWOULDBLOCK) ? -EAGAIN : -errno;
	}
}

static long tls_err(ssize_t r)
{
	switch (r) {
	case GNUTLS_E_AGAIN:
		return -EAGAIN;
	case GNUTLS_E_PREMATURE_TERMINATION:
	case GNUTLS_E_PULL_ERROR:
	case GNUTLS_E_PUSH_ERROR:
		return -ECONNRESET;
	default:
		return -EPROTO;
	}
}

static long tls_send(void *ctx, const void *buf, size_t len)
{
	struct vfu_tls *t = ctx;
	for (;;) {
		ssize_t n = gnutls_record_send(t->s, buf, len);
		if (n >= 0)
			return n;
		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		return tls_err(n);
	}
}

static long tls_recv(void *ctx, void *buf, size_t len)
{
	struct vfu_tls *t = ctx;
	for (;;) {
		ssize_t n = gnutls_record_recv(t->s, buf, len);
		if (n >= 0)
			return n;
		if (n == GNUTLS_E_INTERRUPTED)
			continue;
		return tls_err(n);
	}
}

static int tls_pending(void *ctx)
{
	struct vfu_tls *t = ctx;
	return gnutls_record_check_pending(t->s) > 0;
}

/* GnuTLS writes with writev, which raises SIGPIPE on a closed connection: a
 * library must not, so records go out through send(MSG_NOSIGNAL). */
static ssize_t tls_push(gnutls_transport_ptr_t p, const void *data, size_t len)
{
	const struct vfu_tls *t = p;
	ssize_t n = send(t->fd, data, len, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		gnutls_transport_set_errno(t->s, errno);
	return n;
}

static ssize_t tls_pull(gnutls_transport_ptr_t p, void *data, size_t len)
{
	const struct vfu_tls *t = p;
	ssize_t n = recv(t->fd, data, len, MSG_DONTWAIT);
	if (n < 0)
		gnutls_transport_set_errno(t->s, errno);
	return n;
}

static int psk_server_cb(gnutls_session_t s, const char *user, gnutls_datum_t *key)
{
	const struct vfu_tls *t = gnutls_session_get_ptr(s);
	if (!t || !user || strcmp(user, t->key.identity) != 0)
		return -1; /* unknown identity: the handshake fails */
	key->data = gnutls_malloc(t->key.len);
	if (!key->data)
		return -1;
	memcpy(key->data, t->key.key, t->key.len);
	key->size = (unsigned)t->key.len;
	return 0;
}

static void tls_free(struct vfu_tls *t)
{
	if (t->s)
		gnutls_deinit(t->s);
	if (t->cc)
		gnutls_psk_free_client_credentials(t->cc);
	if (t->sc)
		gnutls_psk_free_server_credentials(t->sc);
	if (t->fd >= 0)
		close(t->fd);
	memset(&t->key, 0, sizeof(t->key));
	free(t);
}

int vfu_net_open(struct vfu_xport *x, int fd, const struct vfu_net_key *key, bool server,
		 int64_t deadline_ms, char *err, size_t errcap)
{
	if (!x || fd < 0) {
		if (fd >= 0)
			close(fd);
		return -EINVAL;
	}
	memset(x, 0, sizeof(*x));
	x->fd = -1;
	struct vfu_tls *t = calloc(1, sizeof(*t));
	if (!t) {
		close(fd);
		return -ENOMEM;
	}
	t->fd = fd;
	int fl = fcntl(fd, F_GETFL);
	if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
		int e = -errno;
		tls_free(t);
		return e;
	}
	if (!key) {
		*x = (struct vfu_xport){ .fd = fd, .ctx = t, .send = plain_send, .recv = plain_recv };
		return 0;
	}
	t->key = *key;
	int r;
	const char *what = "setup";
	if (server) {
		r = gnutls_psk_allocate_server_credentials(&t->sc);
		if (r >= 0) {
			gnutls_psk_set_server_credentials_function(t->sc, psk_server_cb);
			r = gnutls_init(&t->s, GNUTLS_SERVER | GNUTLS_NONBLOCK);
		}
		if (r >= 0)
			r = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK, t->sc);
	} else {
		r = gnutls_psk_allocate_client_credentials(&t->cc);
		gnutls_datum_t kd = { .data = t->key.key, .size = (unsigned)t->key.len };
		if (r >= 0)
			r = gnutls_psk_set_client_credentials(t->cc, t->key.identity, &kd,
							      GNUTLS_PSK_KEY_RAW);
		if (r >= 0)
			r = gnutls_init(&t->s, GNUTLS_CLIENT | GNUTLS_NONBLOCK);
		if (r >= 0)
			r = gnutls_credentials_set(t->s, GNUTLS_CRD_PSK, t->cc);
	}
	if (r >= 0)
		r = gnutls_priority_set_direct(t->s, VFU_NET_PRIORITY, NULL);
	if (r >= 0) {
		gnutls_session_set_ptr(t->s, t);
		gnutls_transport_set_ptr(t->s, t);
		gnutls_transport_set_push_function(t->s, tls_push);
		gnutls_transport_set_pull_function(t->s, tls_pull);
		what = "handshake";
		for (;;) {
			r = gnutls_handshake(t->s);
			if (r >= 0)
				break;
			if (r != GNUTLS_E_AGAIN && r != GNUTLS_E_INTERRUPTED)
				break;
			int64_t left = deadline_ms - vfu_now_ms();
			if (left <= 0) {
				seterr(err, errcap, what, "timed out");
				tls_free(t);
				return -ETIMEDOUT;
			}
			struct pollfd p = { .fd = fd,
					    .events = gnutls_record_get_direction(t->s) ? POLLOUT
											: POLLIN };
			if (poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left) < 0 &&
			    errno != EINTR) {
				r = GNUTLS_E_PULL_ERROR;
				break;
			}
		}
	}
	if (r < 0) {
		seterr(err, errcap, what, gnutls_strerror(r));
		/* a peer with another key makes the handshake fail in whichever
		 * way it chooses (an alert, a hang-up): all of it is "refused" */
		tls_free(t);
		return -EACCES;
	}
	*x = (struct vfu_xport){ .fd = fd, .ctx = t, .send = tls_send, .recv = tls_recv,
				 .pending = tls_pending };
	return 0;
}

void vfu_net_shutdown(struct vfu_xport *x)
{
	if (!x || !x->ctx)
		return;
	struct vfu_tls *t = x->ctx;
	if (t->shut)
		return;
	t->shut = 1;
	if (t->s)
		(void)gnutls_bye(t->s, GNUTLS_SHUT_WR); /* non-blocking: one try */
	shutdown(t->fd, SHUT_RDWR);
}

void vfu_net_close(struct vfu_xport *x)
{
	if (!x || !x->ctx)
		return;
	tls_free(x->ctx);
	x->ctx = NULL;
	x->fd = -1;
}

