/* SPDX-License-Identifier: MIT */
/*
 * udd-gw: lends this host's vfio-user devices to the cluster over TCP.
 *
 * It listens on TCP (TLS 1.3 with the cluster's pre-shared key, or
 * plaintext with --insecure), and for each borrower opens a connection of
 * its own to the device's local UNIX socket (udd-sim's sockets, or any
 * vfio-user server's) and relays vfio-user messages both ways, translating
 * what cannot cross hosts (docs/cluster.md):
 *   - REGION_INFO replies lose their mmap descriptors, FLAG_MMAP and
 *     capabilities: the borrower traps every register access;
 *   - SET_IRQS asking for interrupt messages gets local eventfds, passed to
 *     the server; each signal goes to the borrower as VFU_UDD_CMD_IRQ;
 *   - VERSION: twin_socket is dropped both ways (server commands, i.e.
 *     DMA_READ/DMA_WRITE, come on the main socket and are relayed), and
 *     "irq_msgs" is answered by the gateway itself;
 *   - VFU_UDD_CMD_DMA_SYNC (udd.dma_sync, which passes through VERSION) is
 *     relayed as it is: the lender syncs its copies of the borrower's
 *     descriptor-less windows with it;
 *   - nothing from the network carries descriptors (TCP has none).
 * Before vfio-user, a one-line preamble: `open NAME` (reply `ok` or
 * `error ERRNO text`) or `list` (reply `node N`, `dev NAME FDID`..., `end`).
 *
 * One thread per borrower. Every length from the network is checked; a bad
 * peer loses its connection, never the daemon; every wait has a deadline
 * except a borrower's idle time, which TCP keepalive bounds (net.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <dirent.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "msg.h"
#include "net.h"
#include "proto.h"

#define GW_HANDSHAKE_MS 5000  /* TLS handshake + preamble */
#define GW_MSG_MS 10000       /* one message, once its first byte came */
#define GW_MAX_CLIENTS 64
/* Connections still in their TLS handshake or preamble (not yet known to
 * hold the key): fewer, so that peers without the key cannot take every
 * slot from borrowers (each holds one for GW_HANDSHAKE_MS at most). */
#define GW_MAX_HANDSHAKES 16
#define GW_MAX_IRQS 256       /* interrupt vectors relayed per borrower */
#define GW_IRQ_TYPES 8
#define GW_MAX_PENDING 8      /* SET_IRQS awaiting the server's reply */

static struct {
	const char *pool;
	struct vfu_net_key key;
	bool insecure;
	unsigned node;
	int verbose;
} gw;
static atomic_int nclients;
static atomic_int nhandshakes;
static volatile sig_atomic_t stop;

static void logmsg(int verbose_only, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logmsg(int verbose_only, const char *fmt, ...)
{
	if (verbose_only && !gw.verbose)
		return;
	char b[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b, sizeof(b), fmt, ap);
	va_end(ap);
	fprintf(stderr, "udd-gw: %s\n", b);
}

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

/* The cluster-wide fdid of a local socket: node id above a 21-bit local id
 * (the same as udd_fdid_of on this host when its cluster file names the
 * node, src/core/pool.c). */
static uint32_t cluster_fdid(const char *path)
{
	return (uint32_t)gw.node << 21 | (fnv1a(path) & 0x1fffffu);
}

static bool name_ok(const char *n)
{
	return vfu_net_name_ok(n) && strcmp(n, "control") != 0;
}

/* ---- one borrower --------------------------------------------------------- */

struct irqv {
	int fd;
	uint32_t index, vec;
};

struct pending {
	bool used;
	uint16_t id;
	uint32_t index, start, count;
	bool assign;     /* new eventfds in efd[] */
	int efd[VFU_MAX_FDS];
};

struct conn {
	struct vfu_xport xp;
	int local;
	char peer[80];
	bool irq_msgs;   /* the borrower asked for interrupt messages */
	uint16_t irq_id;
	struct irqv irq[GW_MAX_IRQS];
	size_t nirq;
	struct pending pend[GW_MAX_PENDING];
	uint8_t *rbuf, *lbuf;
};

static int line(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int line(struct conn *c, const char *fmt, ...)
{
	char b[VFU_NET_LINE_MAX];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(b, sizeof(b) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || n >= (int)sizeof(b) - 1)
		return -EINVAL;
	b[n++] = '\n';
	return vfu_xport_write_all(&c->xp, b, (size_t)n, vfu_now_ms() + GW_HANDSHAKE_MS);
}

static void do_list(struct conn *c)
{
	if (line(c, "node %u", gw.node))
		return;
	DIR *d = opendir(gw.pool);
	if (d) {
		struct dirent *de;
		int n = 0;
		while ((de = readdir(d)) && n < 1000) {
			size_t l = strlen(de->d_name);
			if (l < 6 || strcmp(de->d_name + l - 5, ".sock") != 0)
				continue;
			char name[128], path[700];
			if (l - 5 >= sizeof(name))
				continue;
			memcpy(name, de->d_name, l - 5);
			name[l - 5] = '\0';
			if (!name_ok(name))
				continue;
			snprintf(path, sizeof(path), "%s/%s", gw.pool, de->d_name);
			struct stat st;
			if (stat(path, &st) < 0 || !S_ISSOCK(st.st_mode))
				continue;
			if (line(c, "dev %s %x", name, cluster_fdid(path)))
				break;
			n++;
		}
		closedir(d);
	}
	(void)line(c, "end");
}

static int connect_local(const char *name, int *out)
{
	char path[700];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(path, sizeof(path), "%s/%s.sock", gw.pool, name);
	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, (size_t)n + 1);
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0)
		return -errno;
	int64_t deadline = vfu_now_ms() + GW_HANDSHAKE_MS;
	for (;;) {
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (errno == EINTR)
			continue;
		/* a full accept backlog (a one-client server): retry until the deadline */
		if (errno != EAGAIN || vfu_now_ms() >= deadline) {
			int e = errno == EAGAIN ? -EBUSY : -errno;
			close(s);
			return e;
		}
		struct timespec ts = { 0, 5000000 };
		nanosleep(&ts, NULL);
	}
	int fl = fcntl(s, F_GETFL);
	if (fl < 0 || fcntl(s, F_SETFL, fl & ~O_NONBLOCK) < 0) {
		int e = -errno;
		close(s);
		return e;
	}
	struct timeval tv = { .tv_sec = GW_MSG_MS / 1000 };
	(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	*out = s;
	return 0;
}

/* Rewrite a VERSION payload's JSON with @fix; the result goes to @out
 * (capacity @cap); returns its length or -errno. */
static long version_rewrite(const uint8_t *pl, size_t len, uint8_t *out, size_t cap,
			    void (*fix)(struct conn *, json_object *caps), struct conn *c)
{
	struct vfu_version v;
	if (len < sizeof(v))
		return -EINVAL;
	memcpy(out, pl, sizeof(v));
	if (len == sizeof(v)) {
		json_object *root = json_object_new_object(), *caps = json_object_new_object();
		json_object_object_add(root, "capabilities", caps);
		fix(c, caps);
		const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
		size_t jl = strlen(js) + 1;
		long r = sizeof(v) + jl <= cap ? (long)(sizeof(v) + jl) : -EMSGSIZE;
		if (r > 0)
			memcpy(out + sizeof(v), js, jl);
		json_object_put(root);
		return r;
	}
	const char *js = (const char *)pl + sizeof(v);
	size_t jl = len - sizeof(v);
	if (!memchr(js, '\0', jl))
		return -EINVAL;
	json_tokener *tok = json_tokener_new_ex(16);
	if (!tok)
		return -ENOMEM;
	json_object *root = json_tokener_parse_ex(tok, js, (int)strlen(js));
	bool ok = root && json_tokener_get_error(tok) == json_tokener_success &&
		  json_object_is_type(root, json_type_object);
	json_tokener_free(tok);
	if (!ok) {
		json_object_put(root);
		return -EINVAL;
	}
	json_object *caps;
	if (!json_object_object_get_ex(root, "capabilities", &caps)) {
		caps = json_object_new_object();
		json_object_object_add(root, "capabilities", caps);
	}
	if (!json_object_is_type(caps, json_type_object)) {
		json_object_put(root);
		return -EINVAL;
	}
	fix(c, caps);
	const char *o = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	size_t ol = strlen(o) + 1;
	long r = sizeof(v) + ol <= cap ? (long)(sizeof(v) + ol) : -EMSGSIZE;
	if (r > 0)
		memcpy(out + sizeof(v), o, ol);
	json_object_put(root);
	return r;
}

/* The borrower's proposal, as the local server should see it. */
static void fix_request(struct conn *c, json_object *caps)
{
	json_object *u;
	json_object_object_del(caps, "twin_socket");
	/* the gateway is the server's client: it can take descriptors */
	json_object_object_add(caps, "max_msg_fds", json_object_new_int(VFU_MAX_FDS));
	if (json_object_object_get_ex(caps, VFU_UDD_CAP, &u) &&
	    json_object_is_type(u, json_type_object)) {
		json_object *im;
		if (json_object_object_get_ex(u, VFU_UDD_CAP_IRQ_MSGS, &im))
			c->irq_msgs = json_object_get_boolean(im);
		json_object_object_del(u, VFU_UDD_CAP_IRQ_MSGS);
	}
}

/* The server's reply, as the borrower should see it. */
static void fix_reply(struct conn *c, json_object *caps)
{
	json_object_object_del(caps, "twin_socket");
	json_object_object_add(caps, "max_msg_fds", json_object_new_int(0));
	if (!c->irq_msgs)
		return;
	json_object *u;
	if (!json_object_object_get_ex(caps, VFU_UDD_CAP, &u) ||
	    !json_object_is_type(u, json_type_object)) {
		u = json_object_new_object();
		json_object_object_add(caps, VFU_UDD_CAP, u);
	}
	json_object_object_add(u, VFU_UDD_CAP_IRQ_MSGS, json_object_new_boolean(1));
}

static void irq_drop(struct conn *c, uint32_t index, uint32_t start, uint32_t count, bool all)
{
	for (size_t i = 0; i < c->nirq;) {
		struct irqv *v = &c->irq[i];
		if (v->index == index && (all || (v->vec >= start && v->vec - start < count))) {
			close(v->fd);
			*v = c->irq[--c->nirq];
		} else {
			i++;
		}
	}
}

static int send_error_reply(struct conn *c, const struct vfu_hdr *req, uint32_t err)
{
	struct vfu_hdr r = { .msg_id = req->msg_id, .cmd = req->cmd,
			     .flags = VFU_F_TYPE_REPLY | VFU_F_ERROR, .error = err };
	return vfu_xmsg_send(&c->xp, &r, NULL, 0, NULL, 0, vfu_now_ms() + GW_MSG_MS);
}

/* A message from the borrower (@n bytes in c->rbuf): to the local server.
 * 0, or -errno to drop the borrower. */
static int from_remote(struct conn *c, size_t n)
{
	struct vfu_hdr h;
	memcpy(&h, c->rbuf, sizeof(h));
	uint8_t *pl = c->rbuf + sizeof(h);
	size_t plen = n - sizeof(h);
	uint32_t type = h.flags & VFU_F_TYPE_MASK;
	int64_t dl = vfu_now_ms() + GW_MSG_MS;

	if (type == VFU_F_TYPE_REPLY) {
		/* only server commands are answered by a client */
		if (h.cmd != VFU_CMD_DMA_READ && h.cmd != VFU_CMD_DMA_WRITE)
			return -EPROTO;
		return vfu_msg_send2_until(c->local, &h, pl, plen, NULL, 0, NULL, 0, dl);
	}
	if (type != VFU_F_TYPE_COMMAND || h.cmd == VFU_CMD_DMA_READ ||
	    h.cmd == VFU_CMD_DMA_WRITE || (h.cmd >= VFU_CMD_MAX && h.cmd != VFU_UDD_CMD_DMA_SYNC))
		return -EPROTO; /* not a client's command */

	if (h.cmd == VFU_CMD_VERSION) {
		long l = version_rewrite(pl, plen, c->lbuf, VFU_MAX_MSG_SIZE, fix_request, c);
		if (l < 0)
			return send_error_reply(c, &h, EINVAL);
		return vfu_msg_send2_until(c->local, &h, c->lbuf, (size_t)l, NULL, 0, NULL, 0, dl);
	}
	if (h.cmd == VFU_CMD_DEVICE_SET_IRQS && plen >= sizeof(struct vfu_irq_set)) {
		struct vfu_irq_set s;
		memcpy(&s, pl, sizeof(s));
		bool evfd = (s.flags & VFIO_IRQ_SET_DATA_EVENTFD) != 0;
		bool none_trig = (s.flags & VFIO_IRQ_SET_DATA_NONE) &&
				 (s.flags & VFIO_IRQ_SET_ACTION_TRIGGER) && s.count == 0;
		if (evfd || none_trig) {
			struct pending *p = NULL;
			for (size_t i = 0; i < GW_MAX_PENDING && !p; i++)
				if (!c->pend[i].used)
					p = &c->pend[i];
			if (!p || s.index >= GW_IRQ_TYPES)
				return send_error_reply(c, &h, p ? EINVAL : EAGAIN);
			bool assign = evfd && plen == sizeof(s) + s.count && s.count > 0;
			if (assign) {
				if (!c->irq_msgs || s.count > VFU_MAX_FDS ||
				    s.argsz != sizeof(s) + s.count ||
				    c->nirq + s.count > GW_MAX_IRQS)
					return send_error_reply(c, &h, EINVAL);
				for (uint32_t i = 0; i < s.count; i++)
					if (pl[sizeof(s) + i] != 1)
						return send_error_reply(c, &h, EINVAL);
			} else if (plen != sizeof(s)) {
				return send_error_reply(c, &h, EINVAL);
			}
			*p = (struct pending){ .used = true, .id = h.msg_id, .index = s.index,
					       .start = s.start, .count = s.count,
					       .assign = assign };
			if (assign) {
				for (uint32_t i = 0; i < s.count; i++) {
					p->efd[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
					if (p->efd[i] < 0) {
						vfu_close_fds(p->efd, i);
						p->used = false;
						return send_error_reply(c, &h, ENOMEM);
					}
				}
				s.argsz = sizeof(s);
				int rc = vfu_msg_send2_until(c->local, &h, &s, sizeof(s), NULL, 0,
							     p->efd, s.count, dl);
				if (rc) {
					vfu_close_fds(p->efd, s.count);
					p->used = false;
				}
				return rc;
			}
		}
	}
	return vfu_msg_send2_until(c->local, &h, pl, plen, NULL, 0, NULL, 0, dl);
}

/* A message from the local server (@n bytes in c->lbuf, @nf descriptors):
 * to the borrower. */
static int from_local(struct conn *c, size_t n, int *fds, size_t nf)
{
	struct vfu_hdr h;
	memcpy(&h, c->lbuf, sizeof(h));
	uint8_t *pl = c->lbuf + sizeof(h);
	size_t plen = n - sizeof(h);
	uint32_t type = h.flags & VFU_F_TYPE_MASK;
	/* no descriptor can cross: mmap fds (the region is trapped instead) */
	vfu_close_fds(fds, nf);
	int64_t dl = vfu_now_ms() + GW_MSG_MS;

	if (type == VFU_F_TYPE_REPLY && !(h.flags & VFU_F_ERROR)) {
		if (h.cmd == VFU_CMD_VERSION) {
			long l = version_rewrite(pl, plen, c->rbuf, VFU_MAX_MSG_SIZE, fix_reply, c);
			if (l < 0)
				return (int)l;
			return vfu_xmsg_send(&c->xp, &h, c->rbuf, (size_t)l, NULL, 0, dl);
		}
		if (h.cmd == VFU_CMD_DEVICE_GET_REGION_INFO && plen >= sizeof(struct vfu_region_info)) {
			struct vfu_region_info ri;
			memcpy(&ri, pl, sizeof(ri));
			ri.flags &= ~(uint32_t)(VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS);
			ri.cap_offset = 0;
			ri.argsz = sizeof(ri);
			return vfu_xmsg_send(&c->xp, &h, &ri, sizeof(ri), NULL, 0, dl);
		}
	}
	if (type == VFU_F_TYPE_REPLY && h.cmd == VFU_CMD_DEVICE_SET_IRQS) {
		for (size_t i = 0; i < GW_MAX_PENDING; i++) {
			struct pending *p = &c->pend[i];
			if (!p->used || p->id != h.msg_id)
				continue;
			p->used = false;
			if (h.flags & VFU_F_ERROR) {
				if (p->assign)
					vfu_close_fds(p->efd, p->count);
				break;
			}
			irq_drop(c, p->index, p->start, p->count, p->count == 0 && !p->assign);
			if (p->assign) {
				for (uint32_t v = 0; v < p->count; v++)
					c->irq[c->nirq++] = (struct irqv){ p->efd[v], p->index,
									   p->start + v };
			}
			break;
		}
	}
	return vfu_xmsg_send(&c->xp, &h, pl, plen, NULL, 0, dl);
}

static int relay(struct conn *c)
{
	for (;;) {
		struct pollfd p[2 + GW_MAX_IRQS];
		p[0] = (struct pollfd){ .fd = c->xp.fd, .events = POLLIN };
		p[1] = (struct pollfd){ .fd = c->local, .events = POLLIN };
		for (size_t i = 0; i < c->nirq; i++)
			p[2 + i] = (struct pollfd){ .fd = c->irq[i].fd, .events = POLLIN };
		bool buffered = c->xp.pending && c->xp.pending(c->xp.ctx);
		int r = poll(p, 2 + c->nirq, buffered ? 0 : 1000);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (stop)
			return 0;
		if (r < 0)
			continue;
		if (buffered || p[0].revents) {
			long n = vfu_xmsg_recv(&c->xp, c->rbuf, VFU_MAX_MSG_SIZE, 0, GW_MSG_MS);
			if (n == 0)
				return 0;
			if (n < 0 && n != -EAGAIN) {
				if (n == -EMSGSIZE || n == -EPROTO)
					logmsg(0, "%s: malformed or oversized message: dropped", c->peer);
				return (int)n;
			}
			if (n > 0) {
				int rc = from_remote(c, (size_t)n);
				if (rc) {
					if (rc == -EPROTO)
						logmsg(0, "%s: protocol violation: dropped", c->peer);
					return rc;
				}
			}
		}
		if (p[1].revents) {
			int fds[VFU_MAX_FDS];
			size_t nf = VFU_MAX_FDS;
			long n = vfu_msg_recv(c->local, c->lbuf, VFU_MAX_MSG_SIZE, fds, &nf, GW_MSG_MS);
			if (n <= 0) {
				logmsg(1, "%s: the local server closed the connection", c->peer);
				return n ? (int)n : -EPIPE;
			}
			int rc = from_local(c, (size_t)n, fds, nf);
			if (rc)
				return rc;
		}
		for (size_t i = 0; i < c->nirq; i++) {
			if (!p[2 + i].revents)
				continue;
			uint64_t cnt;
			if (read(c->irq[i].fd, &cnt, sizeof(cnt)) != sizeof(cnt))
				continue;
			/* the eventfd's count: interrupts that came together (posted
			 * writes raise them back to back) stay counted */
			struct vfu_udd_irq m = { .index = c->irq[i].index,
						 .vector = c->irq[i].vec,
						 .count = cnt > UINT32_MAX ? UINT32_MAX : (uint32_t)cnt };
			struct vfu_hdr h = { .msg_id = c->irq_id++, .cmd = VFU_UDD_CMD_IRQ,
					     .flags = VFU_F_TYPE_COMMAND | VFU_F_NO_REPLY };
			int rc = vfu_xmsg_send(&c->xp, &h, &m, sizeof(m), NULL, 0,
					       vfu_now_ms() + GW_MSG_MS);
			if (rc)
				return rc;
		}
	}
}

static void *conn_thread(void *arg)
{
	struct conn *c = arg;
	char err[256] = "";
	int fd = c->xp.fd;
	int64_t dl = vfu_now_ms() + GW_HANDSHAKE_MS;
	int rc = vfu_net_open(&c->xp, fd, gw.insecure ? NULL : &gw.key, true, dl, err, sizeof(err));
	if (rc) {
		atomic_fetch_sub(&nhandshakes, 1);
		logmsg(0, "%s: refused: %s", c->peer, err);
		goto out;
	}
	char req[VFU_NET_LINE_MAX];
	long n = vfu_net_read_line(&c->xp, req, sizeof(req), dl);
	atomic_fetch_sub(&nhandshakes, 1);
	if (n <= 0) {
		logmsg(1, "%s: no request (%s)", c->peer, n ? strerror((int)-n) : "EOF");
		goto out;
	}
	if (strcmp(req, "list") == 0) {
		do_list(c);
		goto out;
	}
	if (strncmp(req, "open ", 5) != 0 || !name_ok(req + 5)) {
		(void)line(c, "error %d bad request", EINVAL);
		goto out;
	}
	rc = connect_local(req + 5, &c->local);
	if (rc) {
		(void)line(c, "error %d %s: %s", -rc, req + 5, strerror(-rc));
		goto out;
	}
	c->rbuf = malloc(VFU_MAX_MSG_SIZE);
	c->lbuf = malloc(VFU_MAX_MSG_SIZE);
	if (!c->rbuf || !c->lbuf || line(c, "ok"))
		goto out;
	logmsg(1, "%s: borrows %s", c->peer, req + 5);
	rc = relay(c);
	logmsg(1, "%s: done with %s (%s)", c->peer, req + 5, rc ? strerror(-rc) : "closed");
out:
	/* closing the local connection releases the borrow on the server */
	if (c->local >= 0)
		close(c->local);
	for (size_t i = 0; i < c->nirq; i++)
		close(c->irq[i].fd);
	for (size_t i = 0; i < GW_MAX_PENDING; i++)
		if (c->pend[i].used && c->pend[i].assign)
			vfu_close_fds(c->pend[i].efd, c->pend[i].count);
	if (c->xp.ctx) { /* else vfu_net_open failed and closed the socket */
		vfu_net_shutdown(&c->xp);
		vfu_net_close(&c->xp);
	}
	free(c->rbuf);
	free(c->lbuf);
	free(c);
	atomic_fetch_sub(&nclients, 1);
	return NULL;
}

/* ---- main ------------------------------------------------------------------ */

static void on_signal(int s)
{
	(void)s;
	stop = 1;
}

static int listen_on(const char *spec, int *out)
{
	char host[256] = "", port[16];
	const char *colon = strrchr(spec, ':');
	if (colon && spec[0] != '[') {
		size_t hl = (size_t)(colon - spec);
		if (hl >= sizeof(host))
			return -EINVAL;
		memcpy(host, spec, hl);
		host[hl] = '\0';
		snprintf(port, sizeof(port), "%s", colon + 1);
	} else {
		snprintf(port, sizeof(port), "%s", spec);
	}
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *res;
	if (getaddrinfo(host[0] ? host : NULL, port, &hints, &res))
		return -EINVAL;
	int rc = -EADDRNOTAVAIL;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
		if (s < 0)
			continue;
		int one = 1;
		setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 && listen(s, 64) == 0) {
			*out = s;
			rc = 0;
			break;
		}
		rc = -errno;
		close(s);
	}
	freeaddrinfo(res);
	return rc;
}

static void usage(void)
{
	fprintf(stderr, "usage: udd-gw [-v] [--daemon] [--listen [ADDR:]PORT] --pool DIR\n"
			"              [--key FILE | --insecure] [--node N]\n"
			"  --pool DIR   the vfio-user sockets to lend (DIR/NAME.sock), e.g.\n"
			"               the runtime directory's sim/ of udd-sim\n"
			"  --key FILE   the cluster key (default: $UDD_CLUSTER_KEY, the cluster file)\n"
			"  --insecure   plaintext TCP: no authentication (a warning is logged)\n"
			"  --node N     this host's node id, 1..1023 (default: the cluster file's)\n");
}

int main(int argc, char **argv)
{
	const char *listen_spec = VFU_NET_DEFAULT_PORT, *keyfile = NULL;
	bool daemonize = false;
	long node = -1;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		bool more = i + 1 < argc;
		if (!strcmp(a, "-v"))
			gw.verbose = 1;
		else if (!strcmp(a, "--daemon"))
			daemonize = true;
		else if (!strcmp(a, "--insecure"))
			gw.insecure = true;
		else if (!strcmp(a, "--listen") && more)
			listen_spec = argv[++i];
		else if (!strcmp(a, "--pool") && more)
			gw.pool = argv[++i];
		else if (!strcmp(a, "--key") && more)
			keyfile = argv[++i];
		else if (!strcmp(a, "--node") && more)
			node = strtol(argv[++i], NULL, 0);
		else {
			usage();
			return 2;
		}
	}
	if (!gw.pool) {
		usage();
		return 2;
	}
	struct vfu_net_settings st;
	if (vfu_net_settings(&st) == 0) {
		if (!keyfile && st.key_path[0])
			keyfile = st.key_path;
		if (node < 0 && st.node)
			node = st.node;
	}
	if (node < 1 || node > 1023) {
		if (node != -1) {
			fprintf(stderr, "udd-gw: --node must be 1..1023\n");
			return 2;
		}
		char hn[256] = "";
		gethostname(hn, sizeof(hn) - 1);
		node = 1 + (long)(fnv1a(hn) % 1023);
	}
	gw.node = (unsigned)node;
	if (gw.insecure) {
		logmsg(0, "WARNING: --insecure: plaintext TCP, anyone who can reach the port "
			  "may borrow these devices and read their traffic");
	} else {
		char err[256];
		if (!keyfile) {
			fprintf(stderr, "udd-gw: no cluster key: --key FILE, $UDD_CLUSTER_KEY or "
					"`key` in the cluster file (or --insecure)\n");
			return 2;
		}
		if (vfu_net_load_key(keyfile, &gw.key, err, sizeof(err))) {
			fprintf(stderr, "udd-gw: %s\n", err);
			return 2;
		}
	}
	int ls = -1;
	int rc = listen_on(listen_spec, &ls);
	if (rc) {
		fprintf(stderr, "udd-gw: cannot listen on %s: %s\n", listen_spec, strerror(-rc));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (daemonize) {
		pid_t pid = fork();
		if (pid < 0)
			return 1;
		if (pid > 0)
			return 0; /* listening already: the caller may connect at once */
		setsid();
	}
	logmsg(1, "listening on %s, node %u, lending %s (%s)", listen_spec, gw.node, gw.pool,
	       gw.insecure ? "plaintext" : "TLS-PSK");
	while (!stop) {
		struct pollfd p = { .fd = ls, .events = POLLIN };
		if (poll(&p, 1, 500) <= 0)
			continue;
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		int fd = accept4(ls, (struct sockaddr *)&ss, &sl, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		if (atomic_load(&nclients) >= GW_MAX_CLIENTS ||
		    atomic_load(&nhandshakes) >= GW_MAX_HANDSHAKES) {
			logmsg(0, "too many %s: connection refused",
			       atomic_load(&nhandshakes) >= GW_MAX_HANDSHAKES ? "handshakes under way"
									   : "borrowers");
			close(fd);
			continue;
		}
		vfu_net_tune(fd);
		struct conn *c = calloc(1, sizeof(*c));
		if (!c) {
			close(fd);
			continue;
		}
		c->xp.fd = fd;
		c->local = -1;
		char h[64] = "?", sv[16] = "";
		getnameinfo((struct sockaddr *)&ss, sl, h, sizeof(h), sv, sizeof(sv),
			    NI_NUMERICHOST | NI_NUMERICSERV);
		snprintf(c->peer, sizeof(c->peer), "%s:%s", h, sv);
		atomic_fetch_add(&nclients, 1);
		atomic_fetch_add(&nhandshakes, 1);
		pthread_attr_t at;
		pthread_attr_init(&at);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		pthread_t t;
		if (pthread_create(&t, &at, conn_thread, c)) {
			atomic_fetch_sub(&nclients, 1);
			atomic_fetch_sub(&nhandshakes, 1);
			close(fd);
			free(c);
		}
		pthread_attr_destroy(&at);
	}
	close(ls);
	memset(&gw.key, 0, sizeof(gw.key));
	return 0;
}
