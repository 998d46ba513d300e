/* SPDX-License-Identifier: MIT */
/*
 * vfio-user client backend: talks to a vfio-user server (QEMU
 * docs/interop/vfio-user.rst, protocol 0.1) over an AF_UNIX stream socket.
 *
 * Design:
 *  - Requests on the main socket are serialised by c->lock: one request and
 *    its reply at a time; message ids increment. A reply must carry our id,
 *    our command and the reply type, or the connection is broken.
 *  - Server-to-client commands (DMA_READ, DMA_WRITE, the udd DMA-fault
 *    notice) are served by a thread on the twin socket when the server
 *    negotiated twin-socket mode. Without it they are served on the main
 *    socket while a request waits for its reply. LIMITATION: in that mode
 *    they are not served while the client is idle (no request under way).
 *  - DMA_READ/DMA_WRITE are served from the vaddr given to dma_map(), only
 *    when the whole access lies inside one window with the permission it
 *    needs; anything else gets an error reply EFAULT.
 *  - Every call has an overall deadline (10 s, DEVICE_RESET 30 s) that
 *    bounds the connect, the send, the wait for the reply and the server
 *    commands served meanwhile, however the server cuts its messages up;
 *    after a timeout, EOF or any protocol violation the connection is
 *    marked broken and every later call fails with -ENODEV at once.
 *  - A mappable region's descriptor is checked (fstat) before the core may
 *    mmap it: one that is not a regular file, or is shorter than the areas
 *    it should back, leaves the region trapped (no SIGBUS later).
 *  - Errors: an error reply gives -(error) (1..4095, else -EIO); peer gone
 *    -ENODEV; malformed -EPROTO; no answer -ETIMEDOUT.
 */
#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "msg.h"
#include "net.h"
#include "sockpath.h"
#include "proto.h"
#include "udd/udd.h"

/* The TLS transport (net_tls.c) is referred to weakly: a static program that
 * does not ask for it (-Wl,-u,vfu_net_open) links without GnuTLS, and then
 * tcp:// locations are -ENOTSUP. The shared library always has it. */
extern int vfu_net_open(struct vfu_xport *x, int fd, const struct vfu_net_key *key, bool server,
			int64_t deadline_ms, char *err, size_t errcap) __attribute__((weak));
extern void vfu_net_shutdown(struct vfu_xport *x) __attribute__((weak));
extern void vfu_net_close(struct vfu_xport *x) __attribute__((weak));

struct vfu_win {
	uint64_t iova, size;
	uint8_t *vaddr;
	uint32_t prot; /* UDD_DMA_F_READ | UDD_DMA_F_WRITE */
};

struct vfu_region_cache {
	bool valid;
	struct udd_be_region r; /* r.mmap_fd owned here */
};

struct vfu_client {
	int sock;               /* main socket: our requests, their replies */
	int sock2;              /* twin socket (server commands), or -1 */
	struct udd_log *log;
	int timeout_ms;
	int rcv_timeo_ms;       /* SO_RCVTIMEO set on sock (0: none yet); under lock */
	enum udd_be_mode mode;

	pthread_mutex_t lock;   /* one request at a time; region cache; rx */
	uint16_t next_id;
	uint8_t *rx;            /* VFU_MAX_MSG_SIZE bytes */
	atomic_bool broken;
	atomic_bool closing;

	/* what the server accepts */
	uint32_t srv_max_fds;
	uint32_t srv_max_xfer;
	uint64_t srv_max_dma_maps;
	bool enforces_borrow;
	bool srv_dma_faults;
	bool twin;
	/* udd.iova_range from the server (a lender): windows must lie inside */
	bool srv_iova;
	uint64_t srv_iova_start, srv_iova_end;

	struct udd_be_devinfo info;
	struct vfu_region_cache *regions; /* info.num_regions entries */

	pthread_mutex_t dma_lock; /* wins */
	void *wins;               /* tsearch tree of struct vfu_win *, disjoint */
	size_t nwins;

	pthread_mutex_t fault_lock;
	udd_be_fault_cb_t fault_cb;
	void *fault_user;

	pthread_t thr;
	bool thr_started;
	uint8_t *rx2;           /* the service thread's buffer */

	/* tcp:// (net.c): a byte stream without descriptors. Whoever holds
	 * rx_lock reads it: a request waiting for its reply reads it itself (no
	 * thread hand-off on the fast path); while no request is under way a
	 * reader thread serves server commands and interrupt messages, and
	 * hands over a reply that it happened to read first. */
	bool net;
	atomic_bool opened;        /* open() succeeded: a later end of stream is news */
	struct vfu_xport xp;
	pthread_mutex_t rx_lock;
	pthread_mutex_t send_lock; /* one message at a time onto the stream */
	pthread_mutex_t rep_lock;
	bool rep_waiting, rep_ready;
	int64_t last_req_ms;       /* when the last request ended (vfu_now_ms) */
	pthread_cond_t idle_cond;  /* CLOCK_MONOTONIC; signalled on close */
	uint16_t rep_id;
	long rep_len;
	bool irq_msgs;             /* the peer sends VFU_UDD_CMD_IRQ */
	pthread_mutex_t irq_lock;
	int *irq_efd[VFU_CLIENT_MAX_IRQ_TYPES]; /* dup'd eventfds per index, or NULL */
	uint32_t irq_n[VFU_CLIENT_MAX_IRQ_TYPES];
};

static const char *const mode_names[] = { "probe", "shared", "exclusive" };

/* ------------------------------------------------------------------------ */
/* errors                                                                    */
/* ------------------------------------------------------------------------ */

static int peer_err(uint32_t e)
{
	return (e > 0 && e < 4096) ? -(int)e : -EIO;
}

static void mark_broken(struct vfu_client *c, int why)
{
	if (!atomic_exchange(&c->broken, true))
		udd_logf(c->log, UDD_LOG_WARN, "vfio-user: connection broken (%s)", strerror(-why));
}

/* A transport-level failure (rc < 0, or 0 for EOF): the stream is unusable. */
static int io_fail(struct vfu_client *c, long rc)
{
	int r;
	switch (rc) {
	case 0:
	case -EPIPE:
	case -ECONNRESET:
	case -ENOTCONN:
	case -ENODEV:
		r = -ENODEV;
		break;
	case -ETIMEDOUT:
	case -EAGAIN:
		r = -ETIMEDOUT;
		break;
	case -EPROTO:
	case -EMSGSIZE:
		r = -EPROTO;
		break;
	default:
		r = (int)rc;
		break;
	}
	mark_broken(c, r == -ENODEV ? -EPIPE : r);
	return r;
}

static int violation(struct vfu_client *c, const char *what)
{
	udd_logf(c->log, UDD_LOG_ERR, "vfio-user: protocol violation: %s", what);
	mark_broken(c, -EPROTO);
	return -EPROTO;
}

/* ------------------------------------------------------------------------ */
/* server-to-client commands                                                 */
/* ------------------------------------------------------------------------ */

/*
 * Windows are kept in a balanced tree (tsearch) ordered by IOVA: two ranges
 * compare equal when they overlap, a consistent order over disjoint
 * windows, so a lookup of any range finds a window overlapping it. Map,
 * unmap and DMA message lookups cost O(log n) (bench_dma: a linear table
 * made each map cost grow with the number of windows).
 */
static int win_cmp(const void *a, const void *b)
{
	const struct vfu_win *x = a, *y = b;
	if (x->iova + (x->size - 1) < y->iova)
		return -1;
	if (y->iova + (y->size - 1) < x->iova)
		return 1;
	return 0;
}

/* The window overlapping [iova, iova+size) (size > 0), or NULL. Under dma_lock. */
static struct vfu_win *win_find(struct vfu_client *c, uint64_t iova, uint64_t size)
{
	struct vfu_win key = { .iova = iova, .size = size };
	struct vfu_win **w = tfind(&key, &c->wins, win_cmp);
	return w ? *w : NULL;
}

/* Copy between DMA window memory and @data. 0, or -EFAULT when the access
 * is not inside one window with the permission it needs. */
static int dma_copy(struct vfu_client *c, uint64_t addr, uint8_t *data, uint64_t count,
		    bool to_mem)
{
	uint32_t need = to_mem ? UDD_DMA_F_WRITE : UDD_DMA_F_READ;
	int rc = -EFAULT;
	pthread_mutex_lock(&c->dma_lock);
	const struct vfu_win *w = win_find(c, addr, 1);
	if (w && !(addr < w->iova || count > w->size || addr - w->iova > w->size - count) &&
	    (w->prot & need)) {
		uint8_t *p = w->vaddr + (addr - w->iova);
		if (to_mem)
			memcpy(p, data, count);
		else
			memcpy(data, p, count);
		rc = 0;
	}
	pthread_mutex_unlock(&c->dma_lock);
	return rc;
}

/* Send one message to the server: on @sock (UNIX), or onto the TCP/TLS
 * stream, whose senders are serialised by send_lock. */
static int send_msg(struct vfu_client *c, int sock, struct vfu_hdr *h, const void *p1, size_t l1,
		    const void *p2, size_t l2, const int *fds, size_t nfds, int64_t deadline_ms)
{
	if (!c->net)
		return vfu_msg_send2_until(sock, h, p1, l1, p2, l2, fds, nfds, deadline_ms);
	if (nfds)
		return -EINVAL; /* nothing but bytes crosses a network */
	pthread_mutex_lock(&c->send_lock);
	int rc = vfu_xmsg_send(&c->xp, h, p1, l1, p2, l2, deadline_ms);
	pthread_mutex_unlock(&c->send_lock);
	return rc;
}

/* An interrupt message: signal the vector's eventfd, as a local server
 * would have (udd_irq_wait sees no difference). */
static void irq_notice(struct vfu_client *c, const uint8_t *pl, size_t plen)
{
	struct vfu_udd_irq m;
	if (plen < sizeof(m) || !c->irq_msgs) {
		udd_logf(c->log, UDD_LOG_WARN, "vfio-user: unexpected interrupt message ignored");
		return;
	}
	memcpy(&m, pl, sizeof(m));
	pthread_mutex_lock(&c->irq_lock);
	if (m.index < VFU_CLIENT_MAX_IRQ_TYPES && m.vector < c->irq_n[m.index] &&
	    c->irq_efd[m.index][m.vector] >= 0) {
		uint64_t one = 1;
		/* a full counter (never in practice) only loses a count */
		(void)!write(c->irq_efd[m.index][m.vector], &one, sizeof(one));
	}
	pthread_mutex_unlock(&c->irq_lock);
}

/* Serve one server command of @len bytes in @buf (capacity VFU_MAX_MSG_SIZE;
 * the reply is built in place), its reply sent by @deadline_ms (< 0: none).
 * Returns 0, or a negative errno when the reply could not be sent. */
static int serve_cmd(struct vfu_client *c, int sock, uint8_t *buf, size_t len,
		     int64_t deadline_ms)
{
	struct vfu_hdr h;
	memcpy(&h, buf, sizeof(h));
	const uint8_t *pl = buf + sizeof(h);
	size_t plen = len - sizeof(h);
	uint32_t err = 0;
	size_t rlen = 0;
	struct vfu_dma_access a;

	switch (h.cmd) {
	case VFU_UDD_CMD_IRQ:
		irq_notice(c, pl, plen);
		return 0; /* a notice: never replied to */
	case VFU_UDD_CMD_DMA_FAULT: {
		struct vfu_udd_dma_fault f;
		if (plen < sizeof(f)) {
			udd_logf(c->log, UDD_LOG_WARN, "vfio-user: short DMA fault notice ignored");
			return 0;
		}
		memcpy(&f, pl, sizeof(f));
		udd_logf(c->log, UDD_LOG_DEBUG, "vfio-user: device DMA fault at 0x%llx+0x%llx (%s)",
			 (unsigned long long)f.iova, (unsigned long long)f.len,
			 f.write ? "write" : "read");
		pthread_mutex_lock(&c->fault_lock);
		if (c->fault_cb)
			c->fault_cb(c->fault_user, f.iova, f.len, f.write ? 1 : 0);
		pthread_mutex_unlock(&c->fault_lock);
		return 0; /* a notice: never replied to */
	}
	case VFU_CMD_DMA_READ:
		if (plen != sizeof(a)) {
			err = EINVAL;
			break;
		}
		memcpy(&a, pl, sizeof(a));
		if (a.count > VFU_DEFAULT_MAX_DATA_XFER) {
			err = EINVAL;
			break;
		}
		if (dma_copy(c, a.addr, buf + sizeof(h) + sizeof(a), a.count, false) < 0) {
			udd_logf(c->log, UDD_LOG_WARN,
				 "vfio-user: refused DMA_READ 0x%llx+0x%llx outside every window",
				 (unsigned long long)a.addr, (unsigned long long)a.count);
			err = EFAULT;
			break;
		}
		rlen = sizeof(a) + a.count;
		break;
	case VFU_CMD_DMA_WRITE:
		if (plen < sizeof(a)) {
			err = EINVAL;
			break;
		}
		memcpy(&a, pl, sizeof(a));
		if (a.count != plen - sizeof(a)) {
			err = EINVAL;
			break;
		}
		if (dma_copy(c, a.addr, buf + sizeof(h) + sizeof(a), a.count, true) < 0) {
			udd_logf(c->log, UDD_LOG_WARN,
				 "vfio-user: refused DMA_WRITE 0x%llx+0x%llx outside every window",
				 (unsigned long long)a.addr, (unsigned long long)a.count);
			err = EFAULT;
			break;
		}
		rlen = sizeof(a);
		break;
	default:
		err = ENOSYS;
		break;
	}
	if (h.flags & VFU_F_NO_REPLY)
		return 0;
	struct vfu_hdr r = { .msg_id = h.msg_id, .cmd = h.cmd, .flags = VFU_F_TYPE_REPLY };
	if (err) {
		r.flags |= VFU_F_ERROR;
		r.error = err;
		rlen = 0;
	}
	/* the request's struct vfu_dma_access is still at buf+16: echoed */
	return send_msg(c, sock, &r, buf + sizeof(h), rlen, NULL, 0, NULL, 0, deadline_ms);
}

/* The reader of a TCP/TLS stream: every message the server sends. */
static void *net_reader(void *arg)
{
	struct vfu_client *c = arg;
	int why = -EPIPE;
	for (;;) {
		/* bytes a TLS record left buffered do not show in a poll; the
		 * session's buffer is only looked at under rx_lock */
		pthread_mutex_lock(&c->rx_lock);
		bool buffered = c->xp.pending && c->xp.pending(c->xp.ctx);
		pthread_mutex_unlock(&c->rx_lock);
		if (!buffered) {
			struct pollfd p = { .fd = c->xp.fd, .events = POLLIN | POLLRDHUP };
			if (poll(&p, 1, -1) < 0 && errno != EINTR) {
				why = -errno;
				break;
			}
		}
		/* Requests read the stream themselves, server commands and
		 * interrupt messages included: while they come (a request under way,
		 * or one ended less than VFU_NET_READER_IDLE_MS ago) stand aside
		 * instead of waking up and contending for the stream on every
		 * round trip. So a message that arrives right after a burst waits
		 * at most that long. */
		pthread_mutex_lock(&c->rep_lock);
		bool busy = false;
		for (;;) {
			int64_t t = vfu_now_ms();
			if (atomic_load(&c->closing) ||
			    (!c->rep_waiting && t - c->last_req_ms >= VFU_NET_READER_IDLE_MS))
				break;
			busy = true;
			int64_t until = t + VFU_NET_READER_IDLE_MS;
			struct timespec ts = { .tv_sec = (time_t)(until / 1000),
					       .tv_nsec = (long)(until % 1000) * 1000000 };
			pthread_cond_timedwait(&c->idle_cond, &c->rep_lock, &ts);
		}
		pthread_mutex_unlock(&c->rep_lock);
		if (atomic_load(&c->closing))
			break;
		if (busy)
			continue; /* poll again: the requests may have read everything */
		pthread_mutex_lock(&c->rx_lock);
		/* a request may have read what woke us: then nothing is there */
		long n = vfu_xmsg_recv(&c->xp, c->rx2, VFU_MAX_MSG_SIZE, vfu_now_ms(), c->timeout_ms);
		if (n == -EAGAIN) {
			pthread_mutex_unlock(&c->rx_lock);
			continue;
		}
		if (n <= 0) {
			pthread_mutex_unlock(&c->rx_lock);
			why = n ? (int)n : -EPIPE;
			if (n == -EMSGSIZE || n == -EPROTO)
				udd_logf(c->log, UDD_LOG_ERR,
					 "vfio-user: malformed or oversized message from the network");
			break;
		}
		struct vfu_hdr h;
		memcpy(&h, c->rx2, sizeof(h));
		uint32_t type = h.flags & VFU_F_TYPE_MASK;
		if (type == VFU_F_TYPE_COMMAND) {
			int rc = serve_cmd(c, -1, c->rx2, (size_t)n, vfu_now_ms() + c->timeout_ms);
			pthread_mutex_unlock(&c->rx_lock);
			if (rc) {
				why = rc;
				break;
			}
			continue;
		}
		pthread_mutex_lock(&c->rep_lock);
		bool ok = type == VFU_F_TYPE_REPLY && c->rep_waiting && !c->rep_ready &&
			  h.msg_id == c->rep_id;
		if (ok) {
			/* hand the buffer over: the requester reads c->rx */
			uint8_t *t = c->rx;
			c->rx = c->rx2;
			c->rx2 = t;
			c->rep_len = n;
			c->rep_ready = true;
		}
		pthread_mutex_unlock(&c->rep_lock);
		pthread_mutex_unlock(&c->rx_lock);
		if (!ok) {
			udd_logf(c->log, UDD_LOG_ERR,
				 "vfio-user: protocol violation: a reply nobody waits for");
			why = -EPROTO;
			break;
		}
	}
	/* a server that refused the borrow (EBUSY) hangs up during open():
	 * open() reports that; only a stream ending later is worth a warning */
	if (!atomic_load(&c->closing) && atomic_load(&c->opened))
		mark_broken(c, why);
	else
		atomic_store(&c->broken, true);
	/* wake whoever waits: a request reading the stream, udd_irq_wait (POLLHUP) */
	shutdown(c->xp.fd, SHUT_RDWR);
	return NULL;
}

/* xact() over TCP/TLS: send, then read the stream until the reply (serving
 * server commands meanwhile), unless the reader thread got it first. Same
 * contract as xact(); caller holds c->lock. */
static long xact_net(struct vfu_client *c, uint16_t cmd, const void *p1, size_t l1,
		     const void *p2, size_t l2, int timeout_ms)
{
	int64_t deadline = vfu_now_ms() + timeout_ms;
	uint16_t id = c->next_id++;
	pthread_mutex_lock(&c->rep_lock);
	c->rep_waiting = true;
	c->rep_ready = false;
	c->rep_id = id;
	pthread_mutex_unlock(&c->rep_lock);
	struct vfu_hdr h = { .msg_id = id, .cmd = cmd, .flags = VFU_F_TYPE_COMMAND };
	int rc = send_msg(c, -1, &h, p1, l1, p2, l2, NULL, 0, deadline);
	long n = 0;
	pthread_mutex_lock(&c->rx_lock);
	pthread_mutex_lock(&c->rep_lock);
	bool got = c->rep_ready; /* the reader thread read it first */
	n = c->rep_len;
	pthread_mutex_unlock(&c->rep_lock);
	while (!rc && !got) {
		if (atomic_load(&c->broken)) {
			rc = -ENODEV;
			break;
		}
		long m = vfu_xmsg_recv(&c->xp, c->rx, VFU_MAX_MSG_SIZE, deadline, timeout_ms);
		if (m <= 0) {
			rc = m == 0 ? -ENODEV : m == -EAGAIN ? -ETIMEDOUT : (int)m;
			break;
		}
		struct vfu_hdr r;
		memcpy(&r, c->rx, sizeof(r));
		uint32_t type = r.flags & VFU_F_TYPE_MASK;
		if (type == VFU_F_TYPE_COMMAND) {
			rc = serve_cmd(c, -1, c->rx, (size_t)m, deadline);
			continue;
		}
		if (type != VFU_F_TYPE_REPLY || r.msg_id != id) {
			pthread_mutex_unlock(&c->rx_lock);
			pthread_mutex_lock(&c->rep_lock);
			c->rep_waiting = false;
			pthread_mutex_unlock(&c->rep_lock);
			return violation(c, "reply does not match the request");
		}
		got = true;
		n = m;
	}
	pthread_mutex_lock(&c->rep_lock);
	c->rep_waiting = false;
	c->rep_ready = false;
	c->last_req_ms = vfu_now_ms();
	pthread_mutex_unlock(&c->rep_lock);
	pthread_mutex_unlock(&c->rx_lock);
	if (rc == -EINVAL)
		return rc;
	if (rc) {
		if (rc == -ETIMEDOUT)
			udd_logf(c->log, UDD_LOG_ERR, "vfio-user: no reply to cmd %u within %d ms",
				 cmd, timeout_ms);
		return io_fail(c, rc);
	}
	struct vfu_hdr r;
	memcpy(&r, c->rx, sizeof(r));
	if (r.cmd != cmd)
		return violation(c, "reply does not match the request");
	if (r.flags & VFU_F_ERROR)
		return peer_err(r.error);
	return n - (long)sizeof(r);
}

static void *svc_thread(void *arg)
{
	struct vfu_client *c = arg;
	int why = -EPIPE;
	for (;;) {
		size_t nf = 0;
		long n = vfu_msg_recv(c->sock2, c->rx2, VFU_MAX_MSG_SIZE, NULL, &nf, -1);
		if (n <= 0) {
			why = n ? (int)n : -EPIPE;
			break;
		}
		struct vfu_hdr h;
		memcpy(&h, c->rx2, sizeof(h));
		if ((h.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_COMMAND) {
			udd_logf(c->log, UDD_LOG_ERR,
				 "vfio-user: unexpected message type on the twin socket");
			why = -EPROTO;
			break;
		}
		int rc = serve_cmd(c, c->sock2, c->rx2, (size_t)n, -1);
		if (rc) {
			why = rc;
			break;
		}
	}
	if (!atomic_load(&c->closing))
		mark_broken(c, why);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* request / reply                                                           */
/* ------------------------------------------------------------------------ */

/*
 * Send a request and wait for its reply. Caller holds c->lock.
 * Returns the reply payload length (payload at c->rx + 16), or a negative
 * errno. Descriptors that come with the reply go to @rfds (capacity *@nrfds
 * in, count out); more than that is a protocol violation.
 */
static long xact(struct vfu_client *c, uint16_t cmd, const void *p1, size_t l1, const void *p2,
		 size_t l2, const int *fds, size_t nfds, int timeout_ms, int *rfds, size_t *nrfds)
{
	size_t rcap = (rfds && nrfds) ? *nrfds : 0;
	if (nrfds)
		*nrfds = 0;
	if (atomic_load(&c->broken))
		return -ENODEV;
	/* The reply is waited for by a blocking recvmsg bounded by SO_RCVTIMEO
	 * (EAGAIN -> -ETIMEDOUT in io_fail), not by a poll before each
	 * recvmsg: two system calls fewer per round trip (bench_transport).
	 * @timeout_ms bounds the whole call, not each receive: server commands
	 * interleaved with the reply (DMA_READ/WRITE) are served only until the
	 * deadline, so a flood of them cannot hold the call (vfu_msg_recv_until
	 * shortens SO_RCVTIMEO as the deadline comes near). */
	if (timeout_ms <= 0)
		return -EINVAL;
	if (c->net)
		return nfds ? -EINVAL : xact_net(c, cmd, p1, l1, p2, l2, timeout_ms);
	int64_t deadline = vfu_now_ms() + timeout_ms;
	if (timeout_ms != c->rcv_timeo_ms) {
		struct timeval tv = { .tv_sec = timeout_ms / 1000,
				      .tv_usec = (timeout_ms % 1000) * 1000 };
		if (setsockopt(c->sock, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0)
			return -EINVAL;
		c->rcv_timeo_ms = timeout_ms;
	}
	uint16_t id = c->next_id++;
	struct vfu_hdr h = { .msg_id = id, .cmd = cmd, .flags = VFU_F_TYPE_COMMAND };
	int rc = vfu_msg_send2_until(c->sock, &h, p1, l1, p2, l2, fds, nfds, deadline);
	if (rc == -EINVAL)
		return rc; /* refused before anything was sent */
	if (rc)
		return io_fail(c, rc);
	for (;;) {
		int tfds[VFU_CLIENT_MAX_RECV_FDS];
		size_t nf = VFU_CLIENT_MAX_RECV_FDS;
		long n = vfu_msg_recv_until(c->sock, c->rx, VFU_MAX_MSG_SIZE, tfds, &nf, -1,
					    deadline, &c->rcv_timeo_ms);
		if (n <= 0) {
			if (n == -EPROTO)
				udd_logf(c->log, UDD_LOG_ERR,
					 "vfio-user: malformed or truncated message (cmd %u)", cmd);
			else if (n == -EMSGSIZE)
				udd_logf(c->log, UDD_LOG_ERR, "vfio-user: oversized message (cmd %u)",
					 cmd);
			return io_fail(c, n);
		}
		struct vfu_hdr r;
		memcpy(&r, c->rx, sizeof(r));
		uint32_t type = r.flags & VFU_F_TYPE_MASK;
		if (type == VFU_F_TYPE_COMMAND) {
			/* a server command interleaved with our request */
			if (nf) {
				vfu_close_fds(tfds, nf);
				return violation(c, "descriptors with a server command");
			}
			rc = serve_cmd(c, c->sock, c->rx, (size_t)n, deadline);
			if (rc)
				return io_fail(c, rc);
			if (vfu_now_ms() >= deadline) {
				udd_logf(c->log, UDD_LOG_ERR,
					 "vfio-user: no reply to cmd %u within %d ms (server commands "
					 "kept coming)", cmd, timeout_ms);
				return io_fail(c, -ETIMEDOUT);
			}
			continue;
		}
		if (type != VFU_F_TYPE_REPLY || r.msg_id != id || r.cmd != cmd) {
			vfu_close_fds(tfds, nf);
			return violation(c, "reply does not match the request");
		}
		if (r.flags & VFU_F_ERROR) {
			vfu_close_fds(tfds, nf);
			return peer_err(r.error);
		}
		if (nf > rcap) {
			vfu_close_fds(tfds, nf);
			return violation(c, "too many descriptors in a reply");
		}
		for (size_t i = 0; i < nf; i++)
			rfds[i] = tfds[i];
		if (nrfds)
			*nrfds = nf;
		return n - (long)sizeof(r);
	}
}

/* ------------------------------------------------------------------------ */
/* handshake                                                                 */
/* ------------------------------------------------------------------------ */

/* Integer capability @key of @o: 0 absent, 1 present (in *out), -EPROTO
 * wrong type or outside [min, max]. */
static int cap_int(struct json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EPROTO;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno || x < min || x > max)
		return -EPROTO;
	*out = x;
	return 1;
}

/* Boolean @key: 0 absent, 1 present, -EPROTO not a boolean. */
static int cap_bool(struct json_object *o, const char *key, bool *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -EPROTO;
	*out = json_object_get_boolean(v);
	return 1;
}

/* Object @key: 0 absent, 1 present, -EPROTO not an object. */
static int cap_obj(struct json_object *o, const char *key, struct json_object **out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return -EPROTO;
	*out = v;
	return 1;
}

static struct json_object *build_caps(const struct vfu_client *c)
{
	struct json_object *root = json_object_new_object();
	struct json_object *caps = json_object_new_object();
	struct json_object *twin = json_object_new_object();
	struct json_object *udd = json_object_new_object();
	if (!root || !caps || !twin || !udd)
		goto fail;
	if (json_object_object_add(twin, "supported", json_object_new_boolean(1)) ||
	    json_object_object_add(udd, VFU_UDD_CAP_BORROW,
				   json_object_new_string(mode_names[c->mode])) ||
	    json_object_object_add(udd, VFU_UDD_CAP_DMA_FAULTS, json_object_new_boolean(1)) ||
	    (c->net && json_object_object_add(udd, VFU_UDD_CAP_IRQ_MSGS,
					      json_object_new_boolean(1))) ||
	    json_object_object_add(caps, "max_msg_fds",
				   json_object_new_int(c->net ? 0 : VFU_CLIENT_MAX_RECV_FDS)) ||
	    json_object_object_add(caps, "max_data_xfer_size",
				   json_object_new_int64(VFU_DEFAULT_MAX_DATA_XFER)) ||
	    /* proposed so that a server may state its own limits: the reply's
	     * capabilities are a subset of the proposal (vfio-user.rst) */
	    json_object_object_add(caps, "max_dma_maps",
				   json_object_new_int64(VFU_DEFAULT_MAX_DMA_MAPS)) ||
	    json_object_object_add(caps, "pgsizes", json_object_new_int64(4096)))
		goto fail;
	if (c->net) {
		json_object_put(twin); /* a twin socket is a descriptor: not over TCP */
	} else if (json_object_object_add(caps, "twin_socket", twin)) {
		twin = NULL; /* json-c frees the value when add fails */
		goto fail;
	}
	twin = NULL;
	if (json_object_object_add(caps, VFU_UDD_CAP, udd)) {
		udd = NULL;
		goto fail;
	}
	udd = NULL;
	if (json_object_object_add(root, "capabilities", caps)) {
		caps = NULL;
		goto fail;
	}
	return root;
fail:
	json_object_put(udd);
	json_object_put(twin);
	json_object_put(caps);
	json_object_put(root);
	return NULL;
}

/* Parse the capabilities of the server's VERSION reply. Takes ownership of
 * @fds (the twin socket, if any, goes to *twin_fd; the rest are closed). */
static int parse_caps(struct vfu_client *c, struct json_object *caps, int *fds, size_t nf,
		      int *twin_fd)
{
	int64_t v;
	int r;
	bool b;
	struct json_object *o;

	if ((r = cap_int(caps, "max_msg_fds", 0, INT32_MAX, &v)) < 0)
		return violation(c, "bad max_msg_fds");
	if (r)
		c->srv_max_fds = v > VFU_MAX_FDS ? VFU_MAX_FDS : (uint32_t)v;
	/* at least 8 so that a register access is never split */
	if ((r = cap_int(caps, "max_data_xfer_size", 8, INT64_MAX, &v)) < 0)
		return violation(c, "bad max_data_xfer_size");
	if (r)
		c->srv_max_xfer = v > (int64_t)VFU_DEFAULT_MAX_DATA_XFER ? VFU_DEFAULT_MAX_DATA_XFER
									 : (uint32_t)v;
	if ((r = cap_int(caps, "max_dma_maps", 1, INT64_MAX, &v)) < 0)
		return violation(c, "bad max_dma_maps");
	if (r)
		c->srv_max_dma_maps = (uint64_t)v;
	if (cap_int(caps, "pgsizes", 0, INT64_MAX, &v) < 0)
		return violation(c, "bad pgsizes");
	if (cap_bool(caps, "write_multiple", &b) < 0)
		return violation(c, "bad write_multiple");

	/* twin_socket */
	if ((r = cap_obj(caps, "twin_socket", &o)) < 0)
		return violation(c, "twin_socket is not an object");
	bool twin = false;
	if (r) {
		if (cap_bool(o, "supported", &twin) < 0)
			return violation(c, "bad twin_socket.supported");
		if (twin) {
			r = cap_int(o, "fd_index", 0, (int64_t)nf - 1, &v);
			if (r <= 0)
				return violation(c, "twin_socket without a valid fd_index");
			struct stat st;
			if (fstat(fds[v], &st) || !S_ISSOCK(st.st_mode))
				return violation(c, "twin socket descriptor is not a socket");
			*twin_fd = fds[v];
			fds[v] = -1;
		}
	}
	if (!twin && nf)
		return violation(c, "descriptors in the VERSION reply without a twin socket");
	if (twin && nf > 1)
		return violation(c, "extra descriptors in the VERSION reply");

	/* udd extension */
	if ((r = cap_obj(caps, VFU_UDD_CAP, &o)) < 0)
		return violation(c, "udd capability is not an object");
	if (r) {
		struct json_object *m;
		if (json_object_object_get_ex(o, VFU_UDD_CAP_BORROW, &m)) {
			if (!json_object_is_type(m, json_type_string) ||
			    strcmp(json_object_get_string(m), mode_names[c->mode]) != 0)
				return violation(c, "udd.borrow is not the mode asked for");
			c->enforces_borrow = true;
		}
		if (cap_bool(o, VFU_UDD_CAP_DMA_FAULTS, &c->srv_dma_faults) < 0)
			return violation(c, "bad udd.dma_faults");
		bool im = false;
		if (cap_bool(o, VFU_UDD_CAP_IRQ_MSGS, &im) < 0)
			return violation(c, "bad udd.irq_msgs");
		c->irq_msgs = im && c->net; /* only asked for over a network */
		struct json_object *io, *ja, *jb;
		if (json_object_object_get_ex(o, VFU_UDD_CAP_IOVA_RANGE, &io)) {
			if (!json_object_is_type(io, json_type_object) ||
			    !json_object_object_get_ex(io, "start", &ja) ||
			    !json_object_object_get_ex(io, "end", &jb) ||
			    !json_object_is_type(ja, json_type_int) ||
			    !json_object_is_type(jb, json_type_int))
				return violation(c, "bad udd.iova_range");
			c->srv_iova_start = json_object_get_uint64(ja);
			c->srv_iova_end = json_object_get_uint64(jb);
			if (c->srv_iova_start > c->srv_iova_end)
				return violation(c, "empty udd.iova_range");
			c->srv_iova = true;
		}
	}
	return 0;
}

/* Parse a VERSION reply payload; owns @fds whatever happens. */
static int parse_version(struct vfu_client *c, const uint8_t *pl, size_t plen, int *fds, size_t nf)
{
	int rc;
	int twin_fd = -1;
	struct json_object *root = NULL;
	struct json_tokener *tok = NULL;
	struct vfu_version v;

	if (plen < sizeof(v)) {
		rc = violation(c, "short VERSION reply");
		goto out;
	}
	memcpy(&v, pl, sizeof(v));
	if (v.major != VFU_PROTO_MAJOR || v.minor > VFU_PROTO_MINOR) {
		udd_logf(c->log, UDD_LOG_ERR, "vfio-user: server speaks version %u.%u, we %u.%u",
			 v.major, v.minor, VFU_PROTO_MAJOR, VFU_PROTO_MINOR);
		rc = violation(c, "incompatible version");
		goto out;
	}
	const char *js = (const char *)pl + sizeof(v);
	size_t jl = plen - sizeof(v);
	size_t sl = jl ? strnlen(js, jl) : 0;
	if (jl && sl == jl) {
		rc = violation(c, "version data is not NUL-terminated");
		goto out;
	}
	if (sl > INT_MAX) {
		rc = violation(c, "version data too long");
		goto out;
	}
	if (sl) {
		tok = json_tokener_new();
		if (!tok) {
			rc = -ENOMEM;
			goto out;
		}
		root = json_tokener_parse_ex(tok, js, (int)sl);
		if (!root || json_tokener_get_error(tok) != json_tokener_success) {
			rc = violation(c, "version data is not valid JSON");
			goto out;
		}
		for (size_t i = json_tokener_get_parse_end(tok); i < sl; i++) {
			if (js[i] != ' ' && js[i] != '\t' && js[i] != '\n' && js[i] != '\r') {
				rc = violation(c, "trailing bytes after the version JSON");
				goto out;
			}
		}
		if (!json_object_is_type(root, json_type_object)) {
			rc = violation(c, "version data is not a JSON object");
			goto out;
		}
		struct json_object *caps;
		int r = cap_obj(root, "capabilities", &caps);
		if (r < 0) {
			rc = violation(c, "capabilities is not an object");
			goto out;
		}
		if (r) {
			rc = parse_caps(c, caps, fds, nf, &twin_fd);
			if (rc)
				goto out;
		}
	}
	if (twin_fd < 0 && nf) {
		rc = violation(c, "descriptors in the VERSION reply without a twin socket");
		goto out;
	}
	if (twin_fd >= 0) {
		c->sock2 = twin_fd;
		twin_fd = -1;
		c->twin = true;
	}
	rc = 0;
out:
	if (twin_fd >= 0)
		close(twin_fd);
	vfu_close_fds(fds, nf);
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return rc;
}

static int handshake(struct vfu_client *c)
{
	struct json_object *root = build_caps(c);
	if (!root)
		return -ENOMEM;
	const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	if (!js) {
		json_object_put(root);
		return -ENOMEM;
	}
	struct vfu_version v = { .major = VFU_PROTO_MAJOR, .minor = VFU_PROTO_MINOR };
	int fds[VFU_CLIENT_MAX_RECV_FDS];
	size_t nf = VFU_CLIENT_MAX_RECV_FDS;
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_VERSION, &v, sizeof(v), js, strlen(js) + 1, NULL, 0,
		      c->timeout_ms, fds, &nf);
	int rc = n < 0 ? (int)n : parse_version(c, c->rx + sizeof(struct vfu_hdr), (size_t)n, fds, nf);
	pthread_mutex_unlock(&c->lock);
	json_object_put(root);
	if (rc == -EBUSY)
		udd_logf(c->log, UDD_LOG_INFO, "vfio-user: server refused borrow mode %s: busy",
			 mode_names[c->mode]);
	return rc;
}

static int get_devinfo(struct vfu_client *c)
{
	struct vfu_device_info di = { .argsz = sizeof(di) };
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, NULL, 0, c->timeout_ms,
		      NULL, NULL);
	int rc = 0;
	if (n < 0) {
		rc = (int)n;
	} else if ((size_t)n < sizeof(di)) {
		rc = violation(c, "short DEVICE_GET_INFO reply");
	} else {
		memcpy(&di, c->rx + sizeof(struct vfu_hdr), sizeof(di));
		if (di.num_irqs > VFU_CLIENT_MAX_IRQ_TYPES) {
			rc = violation(c, "absurd num_irqs");
		} else {
			if (di.num_regions > VFU_CLIENT_MAX_REGIONS) {
				udd_logf(c->log, UDD_LOG_WARN,
					 "vfio-user: %u regions, using the first %u", di.num_regions,
					 VFU_CLIENT_MAX_REGIONS);
				di.num_regions = VFU_CLIENT_MAX_REGIONS;
			}
			c->info.flags = di.flags & (VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI);
			c->info.num_regions = di.num_regions;
			c->info.num_irqs = di.num_irqs;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* open / close                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Connect by @deadline_ms. The socket is non-blocking while connecting: a
 * server whose accept backlog is full makes connect() fail with EAGAIN
 * (a blocking one would wait for it without bound), which is retried until
 * the deadline. Blocking again afterwards (replies are read by blocking
 * recvmsg under SO_RCVTIMEO).
 */
static int do_connect(struct udd_log *log, const char *path, int64_t deadline_ms, int *out)
{
	struct sockaddr_un sa;
	int dirfd = -1; /* a path longer than sun_path goes through its directory */
	int e = vfu_unix_addr(path, &sa, &dirfd);
	if (e) {
		if (e == -ENAMETOOLONG)
			udd_logf(log, UDD_LOG_ERR,
				 "vfio-user: socket path %s cannot be reached (its file name is too "
				 "long for a UNIX socket, or /proc is not mounted)", path);
		return e;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) {
		e = -errno;
		if (dirfd >= 0)
			close(dirfd);
		return e;
	}
	for (;;) {
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EINPROGRESS) {
			e = -errno;
			break;
		}
		if (errno == EINPROGRESS) {
			/* not seen for AF_UNIX today; wait for the outcome */
			int64_t left = deadline_ms - vfu_now_ms();
			struct pollfd p = { .fd = s, .events = POLLOUT };
			int r = left > 0 ? poll(&p, 1, (int)left) : 0;
			int soe = 0;
			socklen_t sl = sizeof(soe);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				e = r == 0 ? -ETIMEDOUT : -errno;
				break;
			}
			if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soe, &sl) < 0)
				soe = errno;
			e = -soe;
			break;
		}
		if (vfu_now_ms() >= deadline_ms) {
			udd_logf(log, UDD_LOG_INFO,
				 "vfio-user: %s: the server accepts no connection (backlog full)",
				 path);
			e = -ETIMEDOUT;
			break;
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (dirfd >= 0)
		close(dirfd);
	int fl = e ? 0 : fcntl(s, F_GETFL);
	if (!e && (fl < 0 || fcntl(s, F_SETFL, fl & ~O_NONBLOCK) < 0))
		e = -errno;
	if (e) {
		close(s);
		return e;
	}
	*out = s;
	return 0;
}

/*
 * Dial a gateway: TCP, then TLS with the cluster key (or plaintext when the
 * settings say insecure, logged as a warning). A missing or unreadable key
 * is -EACCES; a peer with another key fails the handshake (-EACCES).
 */
static int net_dial(struct udd_log *log, const char *host, const char *port, int64_t deadline_ms,
		    struct vfu_xport *xp)
{
	if (!vfu_net_open) {
		udd_logf(log, UDD_LOG_ERR,
			 "cluster: %s:%s: this program was linked without the TCP/TLS transport "
			 "(static: -Wl,-u,vfu_net_open -lgnutls)", host, port);
		return -ENOTSUP;
	}
	struct vfu_net_settings st;
	int rc = vfu_net_settings(&st);
	if (rc) {
		udd_logf(log, UDD_LOG_ERR, "cluster: cannot read the cluster file: %s",
			 strerror(-rc));
		return rc;
	}
	struct vfu_net_key key;
	char err[256] = "";
	bool have_key = false;
	if (st.insecure) {
		udd_logf(log, UDD_LOG_WARN,
			 "cluster: %s:%s: plaintext TCP (insecure): no authentication, no "
			 "encryption", host, port);
	} else {
		if (!st.key_path[0]) {
			udd_logf(log, UDD_LOG_ERR,
				 "cluster: %s:%s: no cluster key ($UDD_CLUSTER_KEY or `key` in the "
				 "cluster file)", host, port);
			return -EACCES;
		}
		rc = vfu_net_load_key(st.key_path, &key, err, sizeof(err));
		if (rc) {
			udd_logf(log, UDD_LOG_ERR, "cluster: %s", err);
			return -EACCES;
		}
		have_key = true;
	}
	int fd;
	rc = vfu_net_connect(host, port, deadline_ms, &fd);
	if (rc) {
		udd_logf(log, UDD_LOG_INFO, "cluster: %s:%s: %s", host, port, strerror(-rc));
	} else {
		rc = vfu_net_open(xp, fd, have_key ? &key : NULL, false, deadline_ms, err,
				  sizeof(err));
		if (rc)
			udd_logf(log, UDD_LOG_ERR, "cluster: %s:%s: %s", host, port, err);
	}
	memset(&key, 0, sizeof(key));
	return rc;
}

/* Parse "ok" / "error ERRNO text" from a gateway: 0 or -ERRNO. */
static int gw_status(const char *line)
{
	if (strcmp(line, "ok") == 0)
		return 0;
	if (strncmp(line, "error ", 6) == 0) {
		long e = strtol(line + 6, NULL, 10);
		return (e > 0 && e < 4096) ? -(int)e : -EIO;
	}
	return -EPROTO;
}

/* Open the device of a tcp:// location on its gateway: dial, then the
 * preamble `open NAME` / `ok`; vfio-user follows on the same stream. */
static int net_open_dev(struct vfu_client *c, const char *loc, int64_t deadline_ms)
{
	char host[256], port[8], dev[128];
	if (vfu_net_parse(loc, host, sizeof(host), port, sizeof(port), dev, sizeof(dev)) ||
	    !dev[0]) {
		udd_logf(c->log, UDD_LOG_ERR, "cluster: %s: not tcp://HOST[:PORT]/DEVICE", loc);
		return -EINVAL;
	}
	int rc = net_dial(c->log, host, port, deadline_ms, &c->xp);
	if (rc)
		return rc;
	char line[VFU_NET_LINE_MAX];
	int n = snprintf(line, sizeof(line), "open %s\n", dev);
	rc = vfu_xport_write_all(&c->xp, line, (size_t)n, deadline_ms);
	long r = rc ? rc : vfu_net_read_line(&c->xp, line, sizeof(line), deadline_ms);
	if (r == 0)
		r = -ECONNRESET;
	if (r < 0)
		return (int)r;
	rc = gw_status(line);
	if (rc)
		udd_logf(c->log, rc == -EBUSY ? UDD_LOG_INFO : UDD_LOG_ERR,
			 "cluster: %s: the gateway says: %s", loc, line);
	return rc;
}

int vfu_net_list(const char *hostport, struct udd_log *log, int timeout_ms,
		 int (*add)(void *arg, const char *loc, uint32_t fdid), void *arg)
{
	char host[256], port[8], loc[300];
	if (!hostport || !add || timeout_ms <= 0)
		return -EINVAL;
	if (snprintf(loc, sizeof(loc), VFU_NET_SCHEME "%s", hostport) >= (int)sizeof(loc) ||
	    vfu_net_parse(loc, host, sizeof(host), port, sizeof(port), NULL, 0))
		return -EINVAL;
	int64_t deadline = vfu_now_ms() + timeout_ms;
	struct vfu_xport xp;
	int rc = net_dial(log, host, port, deadline, &xp);
	if (rc)
		return rc;
	rc = vfu_xport_write_all(&xp, "list\n", 5, deadline);
	char line[VFU_NET_LINE_MAX];
	/* bounded: a gateway listing more than this is cut off */
	for (int i = 0; !rc && i < 1024; i++) {
		long r = vfu_net_read_line(&xp, line, sizeof(line), deadline);
		if (r <= 0) {
			rc = r ? (int)r : -EPROTO;
			break;
		}
		if (strcmp(line, "end") == 0)
			break;
		char name[128];
		unsigned long fd;
		if (sscanf(line, "dev %127s %lx", name, &fd) != 2 || fd == 0 || fd > 0x7fffffffUL) {
			if (strncmp(line, "node ", 5) == 0)
				continue;
			rc = line[0] == 'e' ? gw_status(line) : -EPROTO;
			break;
		}
		char dl[600];
		if (snprintf(dl, sizeof(dl), VFU_NET_SCHEME "%s%s%s:%s/%s", strchr(host, ':') ? "[" : "",
			     host, strchr(host, ':') ? "]" : "", port, name) < (int)sizeof(dl))
			rc = add(arg, dl, (uint32_t)fd);
	}
	vfu_net_shutdown(&xp);
	vfu_net_close(&xp);
	return rc;
}

static void set_send_timeout(int s, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	/* best effort: without it a send to a stuck peer could block */
	(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void client_free(struct vfu_client *c)
{
	if (c->thr_started) {
		atomic_store(&c->closing, true);
		if (c->net) {
			pthread_mutex_lock(&c->rep_lock);
			pthread_cond_signal(&c->idle_cond);
			pthread_mutex_unlock(&c->rep_lock);
		}
		if (c->net)
			vfu_net_shutdown(&c->xp); /* close_notify, then both ways */
		else
			shutdown(c->sock2, SHUT_RDWR);
		pthread_join(c->thr, NULL);
	}
	if (c->net && vfu_net_close)
		vfu_net_close(&c->xp);
	for (uint32_t i = 0; i < VFU_CLIENT_MAX_IRQ_TYPES; i++) {
		if (c->irq_efd[i])
			vfu_close_fds(c->irq_efd[i], c->irq_n[i]);
		free(c->irq_efd[i]);
	}
	pthread_mutex_destroy(&c->send_lock);
	pthread_mutex_destroy(&c->rx_lock);
	pthread_cond_destroy(&c->idle_cond);
	pthread_mutex_destroy(&c->rep_lock);
	pthread_mutex_destroy(&c->irq_lock);
	if (c->sock2 >= 0)
		close(c->sock2);
	if (c->sock >= 0)
		close(c->sock);
	if (c->regions) {
		for (uint32_t i = 0; i < c->info.num_regions; i++)
			if (c->regions[i].valid && c->regions[i].r.mmap_fd >= 0)
				close(c->regions[i].r.mmap_fd);
		free(c->regions);
	}
	tdestroy(c->wins, free);
	free(c->rx);
	free(c->rx2);
	pthread_mutex_destroy(&c->fault_lock);
	pthread_mutex_destroy(&c->dma_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int start_thread(struct vfu_client *c)
{
	c->rx2 = malloc(VFU_MAX_MSG_SIZE);
	if (!c->rx2)
		return -ENOMEM;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&c->thr, NULL, c->net ? net_reader : svc_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return -e;
	c->thr_started = true;
	return 0;
}

int vfu_client_open_timeout(const char *loc, enum udd_be_mode mode, struct udd_log *log,
			    int timeout_ms, void **bdev)
{
	if (!loc || !bdev || timeout_ms <= 0 ||
	    (mode != UDD_BE_PROBE && mode != UDD_BE_SHARED && mode != UDD_BE_EXCLUSIVE))
		return -EINVAL;
	struct vfu_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sock = -1;
	c->sock2 = -1;
	c->log = log;
	c->timeout_ms = timeout_ms;
	c->mode = mode;
	c->srv_max_fds = VFU_DEFAULT_MAX_MSG_FDS;
	c->srv_max_xfer = VFU_DEFAULT_MAX_DATA_XFER;
	c->srv_max_dma_maps = VFU_DEFAULT_MAX_DMA_MAPS;
	atomic_init(&c->broken, false);
	atomic_init(&c->closing, false);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->dma_lock, NULL);
	pthread_mutex_init(&c->fault_lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_mutex_init(&c->rx_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->idle_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&c->rep_lock, NULL);
	pthread_mutex_init(&c->irq_lock, NULL);
	c->xp.fd = -1;

	int rc = -ENOMEM;
	c->rx = malloc(VFU_MAX_MSG_SIZE);
	if (!c->rx)
		goto fail;
	if (vfu_net_is_tcp(loc)) {
		c->net = true;
		c->srv_max_fds = 0;
		rc = net_open_dev(c, loc, vfu_now_ms() + timeout_ms);
		if (!rc)
			rc = start_thread(c);
	} else {
		rc = do_connect(log, loc, vfu_now_ms() + timeout_ms, &c->sock);
		if (!rc)
			set_send_timeout(c->sock, timeout_ms);
	}
	if (rc)
		goto fail;
	rc = handshake(c);
	if (rc)
		goto fail;
	if (c->twin) {
		set_send_timeout(c->sock2, timeout_ms);
		rc = start_thread(c);
		if (rc)
			goto fail;
	}
	rc = get_devinfo(c);
	if (rc)
		goto fail;
	if (c->info.num_regions) {
		c->regions = calloc(c->info.num_regions, sizeof(*c->regions));
		if (!c->regions) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	udd_logf(log, UDD_LOG_DEBUG,
		 "vfio-user: %s open (%s): %u regions, %u irq types, twin socket %s, borrow %s",
		 loc, mode_names[mode], c->info.num_regions, c->info.num_irqs,
		 c->twin ? "yes" : "no", c->enforces_borrow ? "enforced" : "not enforced");
	atomic_store(&c->opened, true);
	*bdev = c;
	return 0;
fail:
	/* the peer closing on us during the handshake: nothing usable there */
	if (rc == -ENODEV)
		rc = -ECONNREFUSED;
	client_free(c);
	return rc;
}

static int vu_open(const char *loc, enum udd_be_mode mode, struct udd_log *log, void **bdev)
{
	return vfu_client_open_timeout(loc, mode, log, VFU_CLIENT_TIMEOUT_MS, bdev);
}

static void vu_close(void *bdev)
{
	if (bdev)
		client_free(bdev);
}

bool vfu_client_enforces_borrow(void *bdev)
{
	const struct vfu_client *c = bdev;
	return c && c->enforces_borrow;
}

bool vfu_client_twin_socket(void *bdev)
{
	const struct vfu_client *c = bdev;
	return c && c->twin;
}

/* ------------------------------------------------------------------------ */
/* device and regions                                                        */
/* ------------------------------------------------------------------------ */

static int vu_device_info(void *bdev, struct udd_be_devinfo *out)
{
	struct vfu_client *c = bdev;
	if (!c || !out)
		return -EINVAL;
	if (atomic_load(&c->broken))
		return -ENODEV;
	*out = c->info;
	return 0;
}

/* Is @fd a VFIO device (what a lender of a real device passes for its BARs)? */
static bool is_vfio_device_fd(int fd)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[vfio-device]") == 0;
}

/*
 * Can @fd back every mappable area of @r (mmap_offset, size, sparse areas
 * filled in)? Only a regular file (memfd, shm, file) whose size reaches the
 * end of each area: mapping past the end of a file gives SIGBUS on access,
 * which a malicious or broken server must not be able to cause. No: logged,
 * and the region is trapped instead.
 */
static bool mmap_fd_covers(struct vfu_client *c, uint32_t index, int fd,
			   const struct udd_be_region *r)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && is_vfio_device_fd(fd))
		return true; /* a lender's device: the kernel bounds the mmap by the region */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		udd_logf(c->log, UDD_LOG_WARN,
			 "vfio-user: region %u: the mmap descriptor is not a regular file; "
			 "trapping the region", index);
		return false;
	}
	uint64_t end = 0;
	if (r->nsparse == 0) {
		end = r->size;
	} else {
		for (uint32_t i = 0; i < r->nsparse; i++)
			if (r->sparse[i].offset + r->sparse[i].size > end)
				end = r->sparse[i].offset + r->sparse[i].size;
	}
	/* mmap_offset + region size <= INT64_MAX was checked by the caller */
	if (st.st_size < 0 || (uint64_t)st.st_size < r->mmap_offset + end) {
		udd_logf(c->log, UDD_LOG_WARN,
			 "vfio-user: region %u: the mmap descriptor has %lld bytes, the mappable "
			 "area ends at %llu; trapping the region", index, (long long)st.st_size,
			 (unsigned long long)(r->mmap_offset + end));
		return false;
	}
	return true;
}

/*
 * Parse a DEVICE_GET_REGION_INFO reply. Owns @fds. Returns 0 (out filled,
 * the fd in it now owned by the caller), 1 when the reply says a larger
 * argsz is needed (*need set), or a negative errno.
 */
static int parse_region(struct vfu_client *c, uint32_t index, const uint8_t *pl, size_t plen,
			uint32_t req_argsz, int *fds, size_t nf, struct udd_be_region *out,
			uint32_t *need)
{
	struct vfu_region_info ri;
	int rc;
	if (plen < sizeof(ri)) {
		rc = violation(c, "short region info reply");
		goto fail;
	}
	memcpy(&ri, pl, sizeof(ri));
	if (ri.index != index || ri.argsz < sizeof(ri)) {
		rc = violation(c, "region info reply: bad index or argsz");
		goto fail;
	}
	if (ri.argsz > req_argsz) {
		*need = ri.argsz;
		vfu_close_fds(fds, nf);
		return 1;
	}
	if (plen < ri.argsz) {
		rc = violation(c, "region info reply shorter than its argsz");
		goto fail;
	}
	size_t len = ri.argsz;
	bool mmap_ok = (ri.flags & VFIO_REGION_INFO_FLAG_MMAP) != 0;
	if (mmap_ok ? nf > 1 : nf > 0) {
		rc = violation(c, "too many descriptors in a region info reply");
		goto fail;
	}
	if (mmap_ok && nf == 0) {
		udd_logf(c->log, c->net ? UDD_LOG_DEBUG : UDD_LOG_WARN, "vfio-user: region %u: MMAP without a descriptor",
			 index);
		mmap_ok = false;
	}
	if (mmap_ok && (ri.size == 0)) {
		mmap_ok = false;
	}
	if (mmap_ok && (ri.offset > (uint64_t)INT64_MAX || ri.size > (uint64_t)INT64_MAX - ri.offset)) {
		rc = violation(c, "region mmap offset out of range");
		goto fail;
	}

	memset(out, 0, sizeof(*out));
	out->size = ri.size;
	out->flags = ri.flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	out->mmap_fd = -1;
	out->mmap_offset = mmap_ok ? ri.offset : 0;

	bool sparse_seen = false;
	uint32_t trapped = 0;
	if (ri.flags & VFIO_REGION_INFO_FLAG_CAPS) {
		size_t max_steps = (len - sizeof(ri)) / sizeof(struct vfu_cap_hdr);
		size_t steps = 0;
		uint32_t off = ri.cap_offset;
		while (off) {
			struct vfu_cap_hdr ch;
			if (off < sizeof(ri) || off > len || len - off < sizeof(ch)) {
				rc = violation(c, "region capability outside the reply");
				goto fail;
			}
			if (++steps > max_steps) {
				rc = violation(c, "region capability chain loops");
				goto fail;
			}
			memcpy(&ch, pl + off, sizeof(ch));
			if (ch.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
				struct vfu_cap_sparse_mmap sm;
				if (sparse_seen || len - off < sizeof(sm)) {
					rc = violation(c, "bad sparse mmap capability");
					goto fail;
				}
				memcpy(&sm, pl + off, sizeof(sm));
				size_t room = (len - off - sizeof(sm)) / sizeof(struct vfu_sparse_area);
				if (sm.nr_areas > room) {
					rc = violation(c, "sparse mmap areas outside the reply");
					goto fail;
				}
				for (uint32_t i = 0; i < sm.nr_areas; i++) {
					struct vfu_sparse_area a;
					memcpy(&a, pl + off + sizeof(sm) + (size_t)i * sizeof(a),
					       sizeof(a));
					if (a.offset > ri.size || a.size > ri.size - a.offset) {
						rc = violation(c, "sparse mmap area outside the region");
						goto fail;
					}
					if (a.size == 0)
						continue;
					if (out->nsparse < UDD_BE_MAX_SPARSE) {
						out->sparse[out->nsparse].offset = a.offset;
						out->sparse[out->nsparse].size = a.size;
						out->nsparse++;
					} else {
						trapped++;
					}
				}
				sparse_seen = true;
			}
			off = ch.next;
		}
	}
	if (trapped)
		udd_logf(c->log, UDD_LOG_INFO,
			 "vfio-user: region %u: %u sparse areas beyond %u are trapped", index,
			 trapped, UDD_BE_MAX_SPARSE);
	if (sparse_seen && out->nsparse == 0)
		mmap_ok = false; /* a sparse capability with no area: nothing mappable */
	if (mmap_ok && !mmap_fd_covers(c, index, fds[0], out))
		mmap_ok = false;
	if (mmap_ok) {
		out->flags |= VFIO_REGION_INFO_FLAG_MMAP;
		out->mmap_fd = fds[0];
		fds[0] = -1;
	} else {
		out->nsparse = 0;
		out->mmap_offset = 0;
	}
	vfu_close_fds(fds, nf);
	return 0;
fail:
	vfu_close_fds(fds, nf);
	return rc;
}

static int vu_region_info(void *bdev, uint32_t index, struct udd_be_region *out)
{
	struct vfu_client *c = bdev;
	if (!c || !out)
		return -EINVAL;
	if (index >= c->info.num_regions)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	int rc;
	if (c->regions[index].valid) {
		*out = c->regions[index].r;
		rc = atomic_load(&c->broken) ? -ENODEV : 0;
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	uint32_t argsz = 4096;
	struct udd_be_region r;
	for (int attempt = 0;; attempt++) {
		struct vfu_region_info req = { .argsz = argsz, .index = index };
		int fds[VFU_CLIENT_MAX_RECV_FDS];
		size_t nf = VFU_CLIENT_MAX_RECV_FDS;
		long n = xact(c, VFU_CMD_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0, NULL, 0,
			      c->timeout_ms, fds, &nf);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		uint32_t need = 0;
		rc = parse_region(c, index, c->rx + sizeof(struct vfu_hdr), (size_t)n, argsz, fds,
				  nf, &r, &need);
		if (rc == 1) {
			if (attempt == 0 && need <= VFU_CLIENT_MAX_REGION_INFO) {
				argsz = need;
				continue;
			}
			rc = violation(c, "region info too large");
		}
		break;
	}
	if (rc == 0) {
		c->regions[index].r = r;
		c->regions[index].valid = true;
		*out = r;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int region_rw(struct vfu_client *c, uint32_t index, uint64_t off, uint8_t *buf,
		     size_t len, bool write)
{
	if (!c || (len && !buf) || index >= c->info.num_regions)
		return -EINVAL;
	if (len && off + len - 1 < off)
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->broken))
		rc = -ENODEV;
	while (!rc && len) {
		uint32_t n = len > c->srv_max_xfer ? c->srv_max_xfer : (uint32_t)len;
		struct vfu_region_access a = { .offset = off, .region = index, .count = n };
		long got;
		size_t want;
		if (write) {
			got = xact(c, VFU_CMD_REGION_WRITE, &a, sizeof(a), buf, n, NULL, 0,
				   c->timeout_ms, NULL, NULL);
			want = sizeof(a);
		} else {
			got = xact(c, VFU_CMD_REGION_READ, &a, sizeof(a), NULL, 0, NULL, 0,
				   c->timeout_ms, NULL, NULL);
			want = sizeof(a) + n;
		}
		if (got < 0) {
			rc = (int)got;
			break;
		}
		const uint8_t *pl = c->rx + sizeof(struct vfu_hdr);
		struct vfu_region_access e;
		if ((size_t)got != want) {
			rc = violation(c, "region access reply of the wrong size");
			break;
		}
		memcpy(&e, pl, sizeof(e));
		if (e.offset != off || e.region != index || e.count != n) {
			rc = violation(c, "region access reply does not echo the request");
			break;
		}
		if (!write)
			memcpy(buf, pl + sizeof(e), n);
		off += n;
		buf += n;
		len -= n;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int vu_region_read(void *bdev, uint32_t index, uint64_t off, void *buf, size_t len)
{
	return region_rw(bdev, index, off, buf, len, false);
}

static int vu_region_write(void *bdev, uint32_t index, uint64_t off, const void *buf, size_t len)
{
	return region_rw(bdev, index, off, (uint8_t *)(uintptr_t)buf, len, true);
}

/* ------------------------------------------------------------------------ */
/* interrupts                                                                */
/* ------------------------------------------------------------------------ */

static int vu_irq_info(void *bdev, uint32_t index, uint32_t *count, uint32_t *flags)
{
	struct vfu_client *c = bdev;
	if (!c || !count || !flags || index >= c->info.num_irqs)
		return -EINVAL;
	struct vfu_irq_info ii = { .argsz = sizeof(ii), .index = index };
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii), NULL, 0, NULL, 0,
		      c->timeout_ms, NULL, NULL);
	int rc = 0;
	if (n < 0) {
		rc = (int)n;
	} else if ((size_t)n < sizeof(ii)) {
		rc = violation(c, "short IRQ info reply");
	} else {
		memcpy(&ii, c->rx + sizeof(struct vfu_hdr), sizeof(ii));
		if (ii.index != index || ii.count > VFU_CLIENT_MAX_IRQ_VECS) {
			rc = violation(c, "IRQ info reply: bad index or count");
		} else {
			*count = ii.count;
			*flags = ii.flags;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* One SET_IRQS request; caller holds c->lock. */
static int set_irqs(struct vfu_client *c, uint32_t flags, uint32_t index, uint32_t start,
		    uint32_t count, const int *fds, size_t nfds)
{
	struct vfu_irq_set s = {
		.argsz = sizeof(s), .flags = flags, .index = index, .start = start, .count = count
	};
	long n = xact(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), NULL, 0, fds, nfds, c->timeout_ms,
		      NULL, NULL);
	return n < 0 ? (int)n : 0;
}

/*
 * Record (dups of) the eventfds of vectors [start, start+count) of @index
 * for interrupt messages; @fds NULL clears them (count 0: the whole index).
 */
static int irq_store(struct vfu_client *c, uint32_t index, uint32_t start, uint32_t count,
		     const int *fds)
{
	if (index >= VFU_CLIENT_MAX_IRQ_TYPES || start > VFU_CLIENT_MAX_IRQ_VECS ||
	    count > VFU_CLIENT_MAX_IRQ_VECS - start)
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&c->irq_lock);
	if (!fds && count == 0) {
		if (c->irq_efd[index])
			vfu_close_fds(c->irq_efd[index], c->irq_n[index]);
		pthread_mutex_unlock(&c->irq_lock);
		return 0;
	}
	if (start + count > c->irq_n[index]) {
		int *nv = realloc(c->irq_efd[index], (start + count) * sizeof(int));
		if (!nv) {
			pthread_mutex_unlock(&c->irq_lock);
			return -ENOMEM;
		}
		for (uint32_t i = c->irq_n[index]; i < start + count; i++)
			nv[i] = -1;
		c->irq_efd[index] = nv;
		c->irq_n[index] = start + count;
	}
	for (uint32_t i = 0; i < count; i++) {
		int *slot = &c->irq_efd[index][start + i];
		if (*slot >= 0) {
			close(*slot);
			*slot = -1;
		}
		if (fds && fds[i] >= 0) {
			*slot = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
			if (*slot < 0)
				rc = -errno;
		}
	}
	pthread_mutex_unlock(&c->irq_lock);
	return rc;
}

/* vu_irq_set() over a network: vectors are delivered as VFU_UDD_CMD_IRQ
 * messages (proto.h), which the reader thread turns into eventfd writes. */
static int irq_set_net(struct vfu_client *c, uint32_t index, uint32_t start, uint32_t count,
		       const int *fds)
{
	if (!c->irq_msgs)
		return -ENOTSUP; /* the peer cannot deliver interrupts without eventfds */
	const uint32_t fl = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (!fds) {
		rc = set_irqs(c, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0,
			      NULL, 0);
		if (!rc)
			rc = irq_store(c, index, 0, 0, NULL);
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	/* a run is at most this long: a gateway passes one eventfd per vector */
	uint8_t ones[VFU_MAX_FDS];
	memset(ones, 1, sizeof(ones));
	uint32_t i = 0;
	while (!rc && i < count) {
		uint32_t j = i;
		bool assign = fds[i] >= 0;
		while (j < count && (fds[j] >= 0) == assign && (!assign || j - i < sizeof(ones)))
			j++;
		struct vfu_irq_set st = { .argsz = (uint32_t)sizeof(st) + (assign ? j - i : 0),
					  .flags = fl, .index = index, .start = start + i,
					  .count = j - i };
		/* the eventfds are recorded first: an interrupt may follow at once */
		rc = irq_store(c, index, start + i, j - i, assign ? fds + i : NULL);
		if (!rc) {
			long n = xact(c, VFU_CMD_DEVICE_SET_IRQS, &st, sizeof(st), ones,
				      assign ? j - i : 0, NULL, 0, c->timeout_ms, NULL, NULL);
			rc = n < 0 ? (int)n : 0;
			if (rc && assign)
				(void)irq_store(c, index, start + i, j - i, NULL);
		}
		i = j;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int vu_irq_set(void *bdev, uint32_t index, uint32_t start, uint32_t count, const int *fds)
{
	struct vfu_client *c = bdev;
	if (!c || index >= c->info.num_irqs)
		return -EINVAL;
	if (fds && count == 0)
		return 0; /* nothing to set */
	if (fds && start + count < start)
		return -EINVAL;
	if (c->net)
		return irq_set_net(c, index, start, count, fds);
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (!fds) {
		rc = set_irqs(c, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0,
			      NULL, 0);
	} else {
		const uint32_t fl = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
		uint32_t i = 0;
		while (!rc && i < count) {
			uint32_t j = i;
			if (fds[i] < 0) {
				/* a run of "no eventfd": de-assign those vectors */
				while (j < count && fds[j] < 0)
					j++;
				rc = set_irqs(c, fl, index, start + i, j - i, NULL, 0);
			} else {
				if (c->srv_max_fds == 0) {
					rc = -ENOTSUP;
					break;
				}
				uint32_t lim = c->srv_max_fds < VFU_MAX_FDS ? c->srv_max_fds
									  : VFU_MAX_FDS;
				while (j < count && fds[j] >= 0 && j - i < lim)
					j++;
				rc = set_irqs(c, fl, index, start + i, j - i, fds + i, j - i);
			}
			i = j;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int vu_irq_mask(void *bdev, uint32_t index, uint32_t vec, bool mask)
{
	struct vfu_client *c = bdev;
	if (!c || index >= c->info.num_irqs)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	int rc = set_irqs(c,
			  VFIO_IRQ_SET_DATA_NONE |
				  (mask ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK),
			  index, vec, 1, NULL, 0);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* DMA                                                                       */
/* ------------------------------------------------------------------------ */

static int win_add(struct vfu_client *c, uint64_t iova, uint64_t size, void *vaddr, uint32_t prot)
{
	int rc = 0;
	struct vfu_win *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct vfu_win){ iova, size, vaddr, prot };
	pthread_mutex_lock(&c->dma_lock);
	if (win_find(c, iova, size))
		rc = -EEXIST;
	else if (c->nwins >= c->srv_max_dma_maps)
		rc = -ENOSPC; /* the server's max_dma_maps */
	else if (!tsearch(w, &c->wins, win_cmp))
		rc = -ENOMEM;
	else
		c->nwins++;
	pthread_mutex_unlock(&c->dma_lock);
	if (rc)
		free(w);
	return rc;
}

/* Remove the window exactly [iova, iova+size): 0 or -ENOENT. */
static int win_del(struct vfu_client *c, uint64_t iova, uint64_t size, bool dry)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&c->dma_lock);
	struct vfu_win *w = size ? win_find(c, iova, size) : NULL;
	if (w && w->iova == iova && w->size == size) {
		if (!dry) {
			tdelete(w, &c->wins, win_cmp);
			c->nwins--;
			free(w);
		}
		rc = 0;
	}
	pthread_mutex_unlock(&c->dma_lock);
	return rc;
}

static int vu_dma_map(void *bdev, uint64_t iova, uint64_t size, int fd, uint64_t fd_offset,
		      void *vaddr, uint32_t prot)
{
	struct vfu_client *c = bdev;
	if (!c || !size || !vaddr || iova + (size - 1) < iova || !prot ||
	    (prot & ~(uint32_t)(UDD_DMA_F_READ | UDD_DMA_F_WRITE)))
		return -EINVAL;
	if (atomic_load(&c->broken))
		return -ENODEV;
	/* the window exists before the server hears of it: it may use it at once */
	int rc = win_add(c, iova, size, vaddr, prot);
	if (rc)
		return rc;
	bool with_fd = fd >= 0 && c->srv_max_fds >= 1 && !c->net;
	struct vfu_dma_map m = {
		.argsz = sizeof(m),
		.flags = ((prot & UDD_DMA_F_READ) ? VFU_DMA_F_READ : 0) |
			 ((prot & UDD_DMA_F_WRITE) ? VFU_DMA_F_WRITE : 0),
		.offset = with_fd ? fd_offset : 0,
		.addr = iova,
		.size = size,
	};
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, with_fd ? &fd : NULL,
		      with_fd ? 1 : 0, c->timeout_ms, NULL, NULL);
	pthread_mutex_unlock(&c->lock);
	if (n < 0) {
		win_del(c, iova, size, false);
		return (int)n;
	}
	return 0;
}

static int vu_dma_unmap(void *bdev, uint64_t iova, uint64_t size)
{
	struct vfu_client *c = bdev;
	if (!c)
		return -EINVAL;
	if (win_del(c, iova, size, true))
		return -ENOENT;
	struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = iova, .size = size };
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL, 0, c->timeout_ms, NULL,
		      NULL);
	if (n < 0) {
		rc = (int)n;
	} else if (n > 0) {
		/* the reply echoes the request (some servers send nothing) */
		struct vfu_dma_unmap e;
		if ((size_t)n < sizeof(e)) {
			rc = violation(c, "short DMA_UNMAP reply");
		} else {
			memcpy(&e, c->rx + sizeof(struct vfu_hdr), sizeof(e));
			if (e.addr != iova || e.size != size)
				rc = violation(c, "DMA_UNMAP reply does not echo the request");
		}
	}
	pthread_mutex_unlock(&c->lock);
	/* whatever the server said, this process stops serving the window: its
	 * memory is about to go away */
	win_del(c, iova, size, false);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* reset, check, faults                                                      */
/* ------------------------------------------------------------------------ */

static int vu_reset(void *bdev)
{
	struct vfu_client *c = bdev;
	if (!c)
		return -EINVAL;
	if (!(c->info.flags & VFIO_DEVICE_FLAGS_RESET))
		return -ENOTSUP;
	int tmo = c->timeout_ms > VFU_CLIENT_RESET_TIMEOUT_MS ? c->timeout_ms
							       : VFU_CLIENT_RESET_TIMEOUT_MS;
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, tmo, NULL, NULL);
	pthread_mutex_unlock(&c->lock);
	return n < 0 ? (int)n : 0;
}

static int vu_check(void *bdev)
{
	struct vfu_client *c = bdev;
	if (!c)
		return -EINVAL;
	if (atomic_load(&c->broken))
		return -ENODEV;
	if (c->net)
		return 0; /* the reader thread sees the stream end and marks it broken */
	struct pollfd p = { .fd = c->sock, .events = POLLIN | POLLRDHUP };
	int r;
	do
		r = poll(&p, 1, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP))
		return -ENODEV;
	if (p.revents & POLLIN) {
		char b;
		ssize_t n;
		do
			n = recv(c->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return -ENODEV;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -ENODEV;
	}
	return 0;
}

static int vu_peer_fd(void *bdev)
{
	const struct vfu_client *c = bdev;
	return c ? (c->net ? c->xp.fd : c->sock) : -1;
}

static void vu_set_fault_cb(void *bdev, udd_be_fault_cb_t cb, void *user)
{
	struct vfu_client *c = bdev;
	if (!c)
		return;
	pthread_mutex_lock(&c->fault_lock);
	c->fault_cb = cb;
	c->fault_user = user;
	pthread_mutex_unlock(&c->fault_lock);
}

static int vu_iova_ranges(void *bdev, struct udd_be_iova_range *r, size_t *n)
{
	struct vfu_client *c = bdev;
	if (!bdev || !n || (*n && !r))
		return -EINVAL;
	if (*n && c->srv_iova) /* the range a lender gave this borrower */
		r[0] = (struct udd_be_iova_range){ c->srv_iova_start, c->srv_iova_end };
	else if (*n)
		r[0] = (struct udd_be_iova_range){ 0, UINT64_MAX };
	*n = 1;
	return 0;
}

const struct udd_backend_ops udd_vfio_user_backend = {
	.name = "vfio-user",
	.open = vu_open,
	.close = vu_close,
	.device_info = vu_device_info,
	.region_info = vu_region_info,
	.region_read = vu_region_read,
	.region_write = vu_region_write,
	.irq_info = vu_irq_info,
	.irq_set = vu_irq_set,
	.irq_mask = vu_irq_mask,
	.dma_map = vu_dma_map,
	.dma_unmap = vu_dma_unmap,
	.reset = vu_reset,
	.check = vu_check,
	.iova_ranges = vu_iova_ranges,
	.set_fault_cb = vu_set_fault_cb,
	.peer_fd = vu_peer_fd,
};
