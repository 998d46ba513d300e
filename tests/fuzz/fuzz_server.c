/* SPDX-License-Identifier: MIT */
/*
 * fuzz_server: udd-sim's message handling (src/sim) fed by a malicious
 * client. Each input creates a device of one model, connects a socketpair to
 * it with sim_dev_serve_fd(), writes the input's messages (with the
 * descriptors the records ask for), reads and answers what the server sends
 * (replies; DMA_READ/DMA_WRITE commands and DMA fault notices, also on a
 * twin socket), closes, waits (bounded) for the device to have no client
 * and destroys it, so that no state leaks from one input into the next.
 *
 * Configuration byte:
 *   bits 0-1  model: 0 edu, 1 pio, 2 be, 3 edu
 *   bit  2    raw: do not prepend the harness's VERSION negotiation
 *   bit  3    ask for a twin socket in that VERSION
 *   bit  4    ask for DMA fault notices in that VERSION
 *   bits 5-6  borrow mode asked: 0 exclusive, 1 shared, 2 probe, 3 no "udd" capability
 *   bit  7    answer the server's DMA commands badly (errors, short, wrong ids)
 * Record kinds (bits 0-1 of kind):
 *   0  a message: the harness sets msg_size to the record's length
 *   1  raw bytes, sent as they are (lying sizes, partial headers)
 *   2  as 0, but first wait until the server has answered everything so far,
 *      and SYNC_MS more for the device models' threads
 *   3  as 1, likewise after waiting
 *   bit 2 of kind: send in two writes, the descriptors with the second one.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz.h"
#include "proto.h"
#include "sim.h"

#define TOTAL_MS 300      /* hard cap on one input's conversation */
#define IDLE_MS 10        /* quiet time after which the server is done answering */
#define SYNC_MS 2          /* a sync record also lets device threads run this long */
#define DRAIN_WAIT_MS 5000 /* bounded wait for the server's client thread to end */

struct rx {
	int fd;
	uint8_t *buf;
	size_t have;
	bool eof, desync;
	unsigned replies;
	uint64_t last_ms;
};

struct session {
	uint8_t cfg;
	struct rx main, twin;
	uint64_t deadline;
	bool want_twin;
};

static uint8_t *rxbuf_main, *rxbuf_twin;
static bool trace; /* UDD_FUZZ_TRACE: print every message seen */

static void trace_msg(const char *what, const uint8_t *p, size_t len)
{
	struct vfu_hdr h;
	if (!trace || len < sizeof(h))
		return;
	memcpy(&h, p, sizeof(h));
	fprintf(stderr, "  %s: id %u cmd %u size %u flags 0x%x error %u\n", what, h.msg_id, h.cmd,
		h.msg_size, h.flags, h.error);
}

/* ---- sending -------------------------------------------------------------- */

/* Send @len bytes (descriptors with the first byte), polling for room and
 * reading what comes meanwhile; false when the peer is gone or time is up. */
static bool pump(struct session *s, int timeout_ms);

static bool send_all(struct session *s, int sock, const uint8_t *p, size_t len, const int *fds,
		     size_t nfds, bool may_pump)
{
	size_t off = 0;
	while (off < len) {
		ssize_t n = fuzz_send_part(sock, p, off, len, fds, nfds);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return false;
		if (fuzz_now_ms() >= s->deadline)
			return false;
		if (may_pump) {
			/* full: read the server's output meanwhile (it may be blocked on us) */
			if (!pump(s, 1))
				return false;
		} else {
			/* inside the parser (answering): only wait for room */
			struct pollfd pf = { .fd = sock, .events = POLLOUT };
			(void)poll(&pf, 1, 1);
		}
	}
	return true;
}

/* ---- answering the server's commands ------------------------------------- */

static void answer(struct session *s, struct rx *r, const uint8_t *msg, size_t len)
{
	struct vfu_hdr h;
	memcpy(&h, msg, sizeof(h));
	if (h.flags & VFU_F_NO_REPLY)
		return;
	static uint8_t out[sizeof(struct vfu_hdr) + sizeof(struct vfu_dma_access) + 65536];
	struct vfu_hdr rh = { .msg_id = h.msg_id, .cmd = h.cmd, .flags = VFU_F_TYPE_REPLY };
	size_t plen = 0;
	struct vfu_dma_access a = { 0, 0 };
	bool have_a = len >= sizeof(h) + sizeof(a);
	if (have_a)
		memcpy(&a, msg + sizeof(h), sizeof(a));
	uint8_t *pl = out + sizeof(rh);
	if (!have_a || (h.cmd != VFU_CMD_DMA_READ && h.cmd != VFU_CMD_DMA_WRITE)) {
		rh.flags |= VFU_F_ERROR;
		rh.error = ENOSYS;
	} else if (h.cmd == VFU_CMD_DMA_READ) {
		uint64_t n = a.count;
		if (n > sizeof(out) - sizeof(rh) - sizeof(a))
			n = sizeof(out) - sizeof(rh) - sizeof(a);
		memcpy(pl, &a, sizeof(a));
		memset(pl + sizeof(a), 0x5a, (size_t)n);
		plen = sizeof(a) + (size_t)n;
	} else {
		memcpy(pl, &a, sizeof(a));
		plen = sizeof(a);
	}
	if (s->cfg & 0x80) { /* a bad answer, chosen by the message id */
		switch (h.msg_id % 5) {
		case 0:
			rh.flags |= VFU_F_ERROR;
			rh.error = (uint32_t)h.msg_id * 977u; /* any errno, also absurd ones */
			plen = 0;
			break;
		case 1:
			plen = plen > 4 ? 4 : 0; /* short */
			break;
		case 2:
			rh.msg_id++; /* not the id asked */
			break;
		case 3:
			if (plen) /* one byte less, or another address */
				plen--;
			a.addr ^= 0x1000;
			memcpy(pl, &a, plen < sizeof(a) ? plen : sizeof(a));
			break;
		default:
			rh.flags = VFU_F_TYPE_COMMAND; /* a command instead of a reply */
			break;
		}
	}
	rh.msg_size = (uint32_t)(sizeof(rh) + plen);
	memcpy(out, &rh, sizeof(rh));
	trace_msg("answer", out, sizeof(rh) + plen);
	send_all(s, r->fd, out, sizeof(rh) + plen, NULL, 0, false);
}

/* ---- receiving -------------------------------------------------------------- */

/* Keep a received descriptor as the twin socket, or close it. */
static void take_fd(struct session *s, int fd)
{
	struct stat st;
	if (s->want_twin && s->twin.fd < 0 && fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode)) {
		int fl = fcntl(fd, F_GETFL);
		if (fl >= 0)
			(void)fcntl(fd, F_SETFL, fl | O_NONBLOCK);
		s->twin.fd = fd;
		return;
	}
	close(fd);
}

/* Read what is there on @r; parse whole messages. */
static void rx_read(struct session *s, struct rx *r)
{
	for (;;) {
		union {
			char b[CMSG_SPACE(sizeof(int) * VFU_MAX_FDS)];
			struct cmsghdr align;
		} ctl;
		uint8_t scratch[4096];
		struct iovec iov;
		if (r->desync) {
			iov.iov_base = scratch;
			iov.iov_len = sizeof(scratch);
		} else {
			iov.iov_base = r->buf + r->have;
			iov.iov_len = VFU_MAX_MSG_SIZE - r->have;
		}
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.b,
				     .msg_controllen = sizeof(ctl.b) };
		ssize_t n = recvmsg(r->fd, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		for (struct cmsghdr *c = CMSG_FIRSTHDR(&mh); c; c = CMSG_NXTHDR(&mh, c)) {
			if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS)
				continue;
			size_t k = (c->cmsg_len - CMSG_LEN(0)) / sizeof(int);
			for (size_t i = 0; i < k; i++) {
				int fd;
				memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof(int));
				take_fd(s, fd);
			}
		}
		if (n <= 0) {
			r->eof = true;
			return;
		}
		r->last_ms = fuzz_now_ms();
		if (r->desync)
			continue;
		r->have += (size_t)n;
		for (;;) {
			struct vfu_hdr h;
			if (r->have < sizeof(h))
				break;
			memcpy(&h, r->buf, sizeof(h));
			if (h.msg_size < sizeof(h) || h.msg_size > VFU_MAX_MSG_SIZE) {
				r->desync = true; /* the server sent garbage: stop parsing */
				break;
			}
			if (r->have < h.msg_size)
				break;
			trace_msg(r == &s->twin ? "server (twin)" : "server", r->buf, h.msg_size);
			if ((h.flags & VFU_F_TYPE_MASK) == VFU_F_TYPE_REPLY)
				r->replies++;
			else
				answer(s, r, r->buf, h.msg_size);
			memmove(r->buf, r->buf + h.msg_size, r->have - h.msg_size);
			r->have -= h.msg_size;
		}
	}
}

static bool pump(struct session *s, int timeout_ms)
{
	struct pollfd p[2] = { { .fd = s->main.fd, .events = POLLIN },
			       { .fd = s->twin.fd, .events = POLLIN } };
	int n = poll(p, (s->twin.fd >= 0 && !s->twin.eof) ? 2 : 1, timeout_ms);
	if (n < 0)
		return errno == EINTR;
	if (p[0].revents)
		rx_read(s, &s->main);
	if (s->twin.fd >= 0 && !s->twin.eof && p[1].revents)
		rx_read(s, &s->twin);
	return !s->main.eof;
}

/* Wait until the server has answered @expected messages, closed, or been
 * quiet for IDLE_MS. */
static void wait_replies(struct session *s, unsigned expected)
{
	uint64_t t0 = fuzz_now_ms();
	for (;;) {
		uint64_t now = fuzz_now_ms();
		uint64_t last = s->main.last_ms > t0 ? s->main.last_ms : t0;
		if (s->twin.last_ms > last)
			last = s->twin.last_ms;
		if (s->main.eof || s->main.replies >= expected || now >= s->deadline ||
		    now - last >= IDLE_MS)
			return;
		pump(s, 1);
	}
}

/* ---- one input ------------------------------------------------------------ */

static const char *const models[4] = { "edu", "pio", "be", "edu" };
static const char *const borrows[3] = { "exclusive", "shared", "probe" };

static size_t version_msg(uint8_t cfg, uint8_t *out, size_t cap)
{
	char js[512];
	char udd[128] = "";
	unsigned b = (cfg >> 5) & 3;
	if (b < 3)
		snprintf(udd, sizeof(udd), ",\"udd\":{\"borrow\":\"%s\"%s}", borrows[b],
			 (cfg & 0x10) ? ",\"dma_faults\":true" : "");
	snprintf(js, sizeof(js), "{\"capabilities\":{\"max_msg_fds\":8%s%s}}",
		 (cfg & 0x08) ? ",\"max_data_xfer_size\":1024,\"twin_socket\":{\"supported\":true}"
			      : "",
		 udd);
	struct vfu_hdr h = { .msg_id = 0xfffe, .cmd = VFU_CMD_VERSION, .flags = VFU_F_TYPE_COMMAND };
	struct vfu_version v = { VFU_PROTO_MAJOR, VFU_PROTO_MINOR };
	size_t jl = strlen(js) + 1;
	size_t len = sizeof(h) + sizeof(v) + jl;
	if (len > cap)
		return 0;
	h.msg_size = (uint32_t)len;
	memcpy(out, &h, sizeof(h));
	memcpy(out + sizeof(h), &v, sizeof(v));
	memcpy(out + sizeof(h) + sizeof(v), js, jl);
	return len;
}

/* Does the message in @p (as sent) ask for a reply? */
static bool wants_reply(const uint8_t *p, size_t len)
{
	struct vfu_hdr h;
	if (len < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	return h.msg_size >= sizeof(h) && h.msg_size <= len && !(h.flags & VFU_F_NO_REPLY);
}

static void run_session(struct sim_dev *d, uint8_t cfg, const uint8_t *data, size_t size)
{
	int sv[2];
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return;
	if (sim_dev_serve_fd(d, sv[1]) < 0) {
		close(sv[0]);
		return;
	}
	int fl = fcntl(sv[0], F_GETFL);
	(void)fcntl(sv[0], F_SETFL, fl | O_NONBLOCK);
	struct session s = { .cfg = cfg,
			     .main = { .fd = sv[0], .buf = rxbuf_main },
			     .twin = { .fd = -1, .buf = rxbuf_twin },
			     .deadline = fuzz_now_ms() + TOTAL_MS,
			     .want_twin = (cfg & 0x08) != 0 };
	unsigned expected = 0;

	if (!(cfg & 0x04)) {
		uint8_t v[600];
		size_t vl = version_msg(cfg, v, sizeof(v));
		if (!send_all(&s, s.main.fd, v, vl, NULL, 0, true))
			goto out;
		expected++;
		wait_replies(&s, expected);
	}

	/* a private, writable copy: msg_size is patched in place */
	uint8_t *copy = malloc(size ? size : 1);
	if (!copy)
		goto out;
	memcpy(copy, data, size);
	struct fuzz_in in = { copy, size };
	struct fuzz_rec r;
	while (!s.main.eof && fuzz_now_ms() < s.deadline && fuzz_next(&in, &r)) {
		uint8_t *p = (uint8_t *)(uintptr_t)r.data;
		unsigned kind = r.kind & 3u;
		if ((kind == 0 || kind == 2) && r.len >= sizeof(struct vfu_hdr))
			fuzz_put32(p + 4, (uint32_t)r.len);
		if (kind >= 2) {
			/* all answered, and device workers (edu's DMA engine takes 0.5 ms)
			 * given time to act on what was written */
			wait_replies(&s, expected);
			uint64_t until = fuzz_now_ms() + SYNC_MS;
			while (fuzz_now_ms() < until && pump(&s, 1))
				;
		}
		if (wants_reply(p, r.len))
			expected++;
		trace_msg("client", p, r.len);
		int fds[FUZZ_MAX_FDS];
		size_t nfds = r.len ? fuzz_make_fds(&r, fds) : 0;
		bool ok;
		if ((r.kind & 4u) && r.len >= 2) {
			size_t half = r.len / 2;
			ok = send_all(&s, s.main.fd, p, half, NULL, 0, true) &&
			     send_all(&s, s.main.fd, p + half, r.len - half, fds, nfds, true);
		} else {
			ok = send_all(&s, s.main.fd, p, r.len, fds, nfds, true);
		}
		fuzz_close_fds(fds, nfds);
		if (!ok)
			break;
		pump(&s, 0);
	}
	free(copy);
	wait_replies(&s, expected);
out:
	close(s.main.fd);
	if (s.twin.fd >= 0)
		close(s.twin.fd);
	/* the client thread must notice and end; a server that does not is a hang */
	uint64_t until = fuzz_now_ms() + DRAIN_WAIT_MS;
	while (sim_dev_nclients(d) > 0) {
		if (fuzz_now_ms() > until) {
			fprintf(stderr, "fuzz_server: the server's client thread did not end within "
					"%d ms after the client hung up\n", DRAIN_WAIT_MS);
			abort();
		}
		fuzz_sleep_us(50);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (!rxbuf_main) {
		rxbuf_main = malloc(VFU_MAX_MSG_SIZE);
		rxbuf_twin = malloc(VFU_MAX_MSG_SIZE);
		if (!rxbuf_main || !rxbuf_twin)
			abort();
		sim_verbose = getenv("UDD_FUZZ_VERBOSE") != NULL;
		trace = getenv("UDD_FUZZ_TRACE") != NULL;
	}
	if (size < 1)
		return 0;
	uint8_t cfg = data[0];
	struct sim_dev *d = NULL;
	const struct sim_model *m = sim_model_find(models[cfg & 3]);
	if (!m || sim_dev_create(m, "fuzz", &d) < 0) {
		fprintf(stderr, "fuzz_server: cannot create a %s device\n", models[cfg & 3]);
		abort();
	}
	run_session(d, cfg, data + 1, size - 1);
	sim_dev_destroy(d);
	return 0;
}
