/* SPDX-License-Identifier: MIT */
/*
 * vfio-user client: one request and its reply, and serving the server's commands (client_priv.h).
 */
#include <stddef.h>

#include "client_priv.h"

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

VFU_CLIENT_INTERNAL int violation(struct vfu_client *c, const char *what)
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
VFU_CLIENT_INTERNAL int win_cmp(const void *a, const void *b)
{
	const struct vfu_win *x = a, *y = b;
	if (x->iova + (x->size - 1) < y->iova)
		return -1;
	if (y->iova + (y->size - 1) < x->iova)
		return 1;
	return 0;
}

/* The window overlapping [iova, iova+size) (size > 0), or NULL. Under dma_lock. */
VFU_CLIENT_INTERNAL struct vfu_win *win_find(struct vfu_client *c, uint64_t iova, uint64_t size)
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
	struct vfu_udd_irq m = { .count = 1 };
	if (plen < offsetof(struct vfu_udd_irq, count) || !c->irq_msgs) {
		udd_logf(c->log, UDD_LOG_WARN, "vfio-user: unexpected interrupt message ignored");
		return;
	}
	memcpy(&m, pl, plen < sizeof(m) ? plen : sizeof(m));
	if (m.count == 0)
		m.count = 1;
	pthread_mutex_lock(&c->irq_lock);
	if (m.index < VFU_CLIENT_MAX_IRQ_TYPES && m.vector < c->irq_n[m.index] &&
	    c->irq_efd[m.index][m.vector] >= 0) {
		uint64_t n = m.count;
		/* a full counter (never in practice) only loses a count */
		(void)!write(c->irq_efd[m.index][m.vector], &n, sizeof(n));
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
VFU_CLIENT_INTERNAL void *net_reader(void *arg)
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
	c->reply = c->rx;
	return n - (long)sizeof(r);
}

VFU_CLIENT_INTERNAL void *svc_thread(void *arg)
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
 * Returns the reply payload length (payload at c->reply + 16, valid until
 * the next request), or a negative
 * errno. Descriptors that come with the reply go to @rfds (capacity *@nrfds
 * in, count out); more than that is a protocol violation.
 */
VFU_CLIENT_INTERNAL long xact(struct vfu_client *c, uint16_t cmd, const void *p1, size_t l1, const void *p2,
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
	 * deadline, so a flood of them cannot hold the call (vfu_reader_next_until
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
		/* read ahead (reader.h): a small reply is one recvmsg, not two */
		const uint8_t *m = NULL;
		long n = vfu_reader_next_until(&c->rd, c->sock, &m, tfds, &nf, deadline,
					       &c->rcv_timeo_ms);
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
		memcpy(&r, m, sizeof(r));
		uint32_t type = r.flags & VFU_F_TYPE_MASK;
		if (type == VFU_F_TYPE_COMMAND) {
			/* a server command interleaved with our request: its reply
			 * is built in place, so it is served from c->rx */
			if (nf) {
				vfu_close_fds(tfds, nf);
				return violation(c, "descriptors with a server command");
			}
			memcpy(c->rx, m, (size_t)n);
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
		c->reply = m; /* in the reader's buffer: not copied */
		return n - (long)sizeof(r);
	}
}

