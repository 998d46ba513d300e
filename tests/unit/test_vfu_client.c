/* SPDX-License-Identifier: MIT */
/*
 * The vfio-user client backend against a fake server thread written here,
 * over a real AF_UNIX socket: a good session (handshake, region info with a
 * sparse-mmap capability and an fd, region read/write with chunking, IRQs,
 * DMA served from vaddr in twin-socket and single-socket mode), and a
 * misbehaving server (wrong ids, short/huge/truncated messages, bad
 * capability chains, too many fds, bad VERSION replies, EOF, EBUSY, hangs).
 * Each case must end in a clean negative errno, without a leaked fd.
 */
#include <dirent.h>
#include <fcntl.h>
#include <time.h>
#include <poll.h>
#include <signal.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <json-c/json.h>

#include "testlib.h"

#include "client.h"
#include "internal.h"
#include "msg.h"
#include "proto.h"

/* ------------------------------------------------------------------------ */
/* the fake server                                                           */
/* ------------------------------------------------------------------------ */

enum bad {
	BAD_NONE,
	BAD_WRONG_ID,       /* REGION_READ reply with another id */
	BAD_WRONG_CMD,      /* REGION_READ reply naming another command */
	BAD_SHORT_SIZE,     /* REGION_READ reply with msg_size 8 */
	BAD_HUGE_SIZE,      /* REGION_READ reply with msg_size > VFU_MAX_MSG_SIZE */
	BAD_TRUNC_EOF,      /* REGION_READ reply cut short, then EOF */
	BAD_READ_ECHO,      /* REGION_READ reply echoes another offset */
	BAD_READ_COUNT,     /* REGION_READ reply with fewer data bytes */
	BAD_CAP_OUTSIDE,    /* region 0 info: cap_offset past the reply */
	BAD_CAP_NEXT_OUT,   /* region 0 info: next past the reply */
	BAD_CAP_LOOP,       /* region 0 info: next points to itself */
	BAD_CAP_LOOP2,      /* region 0 info: a two-cap loop */
	BAD_SPARSE_OUTSIDE, /* region 0 info: an area past the region end */
	BAD_SPARSE_NR,      /* region 0 info: nr_areas larger than the reply */
	BAD_TOO_MANY_FDS,   /* region 0 info: two fds */
	BAD_ARGSZ_RETRY,    /* region 0 info: first reply only says argsz (good) */
	BAD_CLOSE,          /* close the connection at REGION_READ */
	BAD_HANG,           /* never answer REGION_READ */
	BAD_VERSION_JSON,   /* VERSION reply: not JSON */
	BAD_VERSION_MAJOR,  /* VERSION reply: major 1 */
	BAD_VERSION_MINOR,  /* VERSION reply: minor 2 */
	BAD_VERSION_CAPS,   /* VERSION reply: capabilities is a number */
	BAD_VERSION_XFER,   /* VERSION reply: max_data_xfer_size is a string */
	BAD_VERSION_TWIN,   /* VERSION reply: twin supported, no fd_index */
	BAD_VERSION_NUL,    /* VERSION reply: JSON without terminating NUL */
	BAD_VERSION_FD,     /* VERSION reply: an fd without twin socket */
	BAD_VERSION_EBUSY,  /* VERSION: error reply EBUSY */
	BAD_VERSION_EOF,    /* VERSION: close at once */
	BAD_DEVINFO_IRQS,   /* DEVICE_GET_INFO: num_irqs 1000 */
	BAD_DMA_FLOOD,      /* REGION_READ: DMA_READ commands every 10 ms for 5 s, no reply */
	BAD_DRIBBLE,        /* REGION_READ: the reply one byte per 50 ms */
	BAD_SHORT_MMAP,     /* region 0: the mmap fd ends before the last sparse area */
	BAD_MMAP_PIPE,      /* region 0: the mmap fd is a pipe */
};

#define R2_SIZE 0x20000u
#define IOVA_RW 0x100000ull
#define IOVA_RO 0x200000ull

struct fake {
	/* configuration */
	char path[108];
	enum bad bad;
	bool twin;          /* offer a twin socket */
	bool echo_udd;      /* echo the udd capability */
	uint32_t max_xfer;  /* advertised max_data_xfer_size, 0: leave out */
	uint32_t max_fds;   /* advertised max_msg_fds, 0: leave out */
	const char *expect_borrow;
	/* state */
	int lfd, sock, sock2;
	pthread_t thr;
	uint16_t id;
	uint8_t *buf;
	uint8_t r2[R2_SIZE];
	int memfd;
	int shortfd;        /* a memfd of 0x12000 bytes: short for region 0 */
	int pipefd[2];
	pthread_mutex_t lock;
	/* observations */
	bool caps_ok;
	int nreq[32];
	uint32_t irq_counts[8];
	uint32_t irq_nfds_total;
	uint32_t irq_last_flags;
	uint32_t irq_last_count;
	uint32_t mask_flags;
	uint32_t dma_maps;
	uint32_t dma_map_nfds;
	uint64_t dma_rw_iova;
	int dma_write_err, dma_read_err, dma_outside_err, dma_ro_write_err, dma_len_err;
	uint8_t dma_read_data[16];
};

static void fake_send(struct fake *f, int s, struct vfu_hdr *h, const void *p, size_t l,
		      const int *fds, size_t nfds)
{
	int rc = vfu_msg_send(s, h, p, l, fds, nfds);
	if (rc)
		fprintf(stderr, "fake: send failed: %d\n", rc);
}

static void reply(struct fake *f, const struct vfu_hdr *req, const void *p, size_t l,
		  const int *fds, size_t nfds)
{
	struct vfu_hdr h = { .msg_id = req->msg_id, .cmd = req->cmd, .flags = VFU_F_TYPE_REPLY };
	fake_send(f, f->sock, &h, p, l, fds, nfds);
}

static void reply_err(struct fake *f, const struct vfu_hdr *req, uint32_t err)
{
	struct vfu_hdr h = { .msg_id = req->msg_id, .cmd = req->cmd,
			     .flags = VFU_F_TYPE_REPLY | VFU_F_ERROR, .error = err };
	fake_send(f, f->sock, &h, NULL, 0, NULL, 0);
}

/* raw bytes on the main socket */
static void raw(struct fake *f, const void *p, size_t l)
{
	ssize_t n = send(f->sock, p, l, MSG_NOSIGNAL);
	(void)n;
}

static bool check_client_caps(struct fake *f, const char *js)
{
	bool ok = false;
	struct json_object *root = json_tokener_parse(js), *caps, *o, *v;
	if (!root || !json_object_object_get_ex(root, "capabilities", &caps))
		goto out;
	if (!json_object_object_get_ex(caps, "max_msg_fds", &v) ||
	    !json_object_is_type(v, json_type_int) || json_object_get_int(v) < 1)
		goto out;
	if (!json_object_object_get_ex(caps, "max_data_xfer_size", &v) ||
	    json_object_get_int64(v) != VFU_DEFAULT_MAX_DATA_XFER)
		goto out;
	if (!json_object_object_get_ex(caps, "twin_socket", &o) ||
	    !json_object_object_get_ex(o, "supported", &v) || !json_object_get_boolean(v))
		goto out;
	if (!json_object_object_get_ex(caps, "udd", &o) ||
	    !json_object_object_get_ex(o, "borrow", &v) ||
	    strcmp(json_object_get_string(v), f->expect_borrow) != 0 ||
	    !json_object_object_get_ex(o, "dma_faults", &v) || !json_object_get_boolean(v))
		goto out;
	ok = true;
out:
	json_object_put(root);
	return ok;
}

static void do_version(struct fake *f, const struct vfu_hdr *req, const uint8_t *pl, size_t plen)
{
	if (plen > 4 && pl[plen - 1] == 0)
		f->caps_ok = check_client_caps(f, (const char *)pl + 4);
	if (f->bad == BAD_VERSION_EBUSY) {
		reply_err(f, req, EBUSY);
		return;
	}
	char js[512];
	struct vfu_version v = { 0, 1 };
	int fds[2];
	size_t nfds = 0;
	char caps[400] = "";
	size_t cl = 0;
#define ADD(...) cl += (size_t)snprintf(caps + cl, sizeof(caps) - cl, __VA_ARGS__)
	ADD("\"pgsizes\":4096");
	if (f->max_fds)
		ADD(",\"max_msg_fds\":%u", f->max_fds);
	if (f->max_xfer)
		ADD(",\"max_data_xfer_size\":%u", f->max_xfer);
	if (f->echo_udd)
		ADD(",\"udd\":{\"borrow\":\"%s\",\"dma_faults\":true}", f->expect_borrow);
	if (f->twin) {
		int sp[2];
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
			f->sock2 = sp[0];
			fds[nfds++] = sp[1];
			ADD(",\"twin_socket\":{\"supported\":true,\"fd_index\":0}");
		}
	}
	switch (f->bad) {
	case BAD_VERSION_JSON:
		snprintf(js, sizeof(js), "{\"capabilities\":{");
		break;
	case BAD_VERSION_CAPS:
		snprintf(js, sizeof(js), "{\"capabilities\":42}");
		break;
	case BAD_VERSION_XFER:
		snprintf(js, sizeof(js), "{\"capabilities\":{\"max_data_xfer_size\":\"big\"}}");
		break;
	case BAD_VERSION_TWIN:
		snprintf(js, sizeof(js), "{\"capabilities\":{\"twin_socket\":{\"supported\":true}}}");
		break;
	default:
		snprintf(js, sizeof(js), "{\"capabilities\":{%s}}", caps);
		break;
	}
	if (f->bad == BAD_VERSION_MAJOR)
		v.major = 1;
	if (f->bad == BAD_VERSION_MINOR)
		v.minor = 2;
	if (f->bad == BAD_VERSION_FD)
		fds[nfds++] = dup(f->sock);
	size_t jl = strlen(js) + (f->bad == BAD_VERSION_NUL ? 0 : 1);
	struct vfu_hdr h = { .msg_id = req->msg_id, .cmd = req->cmd, .flags = VFU_F_TYPE_REPLY };
	vfu_msg_send2(f->sock, &h, &v, sizeof(v), js, jl, fds, nfds);
	vfu_close_fds(fds, nfds);
}


static void do_region_info(struct fake *f, const struct vfu_hdr *req, const uint8_t *pl,
			   size_t plen)
{
	struct vfu_region_info ri;
	if (plen < sizeof(ri)) {
		reply_err(f, req, EINVAL);
		return;
	}
	memcpy(&ri, pl, sizeof(ri));
	uint32_t asked = ri.argsz;
	uint8_t out[8192];
	memset(out, 0, sizeof(out));
	struct vfu_region_info *o = (struct vfu_region_info *)out;
	o->index = ri.index;
	o->argsz = sizeof(*o);
	int fds[2] = { -1, -1 };
	size_t nfds = 0;
	switch (ri.index) {
	case 0: { /* 16 KiB, mappable in two sparse areas */
		o->size = 0x4000;
		o->offset = 0x10000;
		o->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
			   VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
		o->cap_offset = 40; /* after an unknown 8-byte cap at 32 */
		struct vfu_cap_hdr unk = { .id = 77, .version = 1, .next = 0 };
		memcpy(out + 32, &unk, sizeof(unk));
		struct vfu_cap_sparse_mmap sm = { .hdr = { VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 32 },
						  .nr_areas = 2 };
		struct vfu_sparse_area a[2] = { { 0x1000, 0x1000 }, { 0x3000, 0x1000 } };
		if (f->bad == BAD_SPARSE_OUTSIDE)
			a[1].size = 0x1001;
		if (f->bad == BAD_SPARSE_NR)
			sm.nr_areas = 3;
		if (f->bad == BAD_CAP_NEXT_OUT)
			sm.hdr.next = 4000;
		if (f->bad == BAD_CAP_LOOP) { /* the first cap points to itself */
			o->cap_offset = 32;
			unk.next = 32;
			memcpy(out + 32, &unk, sizeof(unk));
		}
		if (f->bad == BAD_CAP_LOOP2) { /* sparse -> unknown -> sparse */
			sm.hdr.next = 32;
			unk.next = 40;
			memcpy(out + 32, &unk, sizeof(unk));
		}
		memcpy(out + 40, &sm, sizeof(sm));
		memcpy(out + 56, a, sizeof(a));
		o->argsz = 56 + sizeof(a);
		if (f->bad == BAD_CAP_OUTSIDE)
			o->cap_offset = o->argsz;
		fds[nfds++] = f->memfd;
		if (f->bad == BAD_SHORT_MMAP)
			fds[0] = f->shortfd;
		if (f->bad == BAD_MMAP_PIPE)
			fds[0] = f->pipefd[0];
		if (f->bad == BAD_TOO_MANY_FDS)
			fds[nfds++] = f->memfd;
		if (f->bad == BAD_ARGSZ_RETRY && asked < 5000) {
			/* say 5000 is needed, send only the struct and no fd */
			o->argsz = 5000;
			reply(f, req, out, sizeof(*o), NULL, 0);
			return;
		}
		if (f->bad == BAD_ARGSZ_RETRY)
			o->argsz = 5000; /* caps within the first bytes; padding after */
		break;
	}
	case 1: /* doorbell */
		o->size = 0x1000;
		o->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case 2:
		o->size = R2_SIZE;
		o->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		break;
	case 3: { /* ten sparse areas: the client keeps UDD_BE_MAX_SPARSE */
		o->size = 0x10000;
		o->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP |
			   VFIO_REGION_INFO_FLAG_CAPS;
		o->cap_offset = 32;
		struct vfu_cap_sparse_mmap sm = { .hdr = { VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 0 },
						  .nr_areas = 10 };
		memcpy(out + 32, &sm, sizeof(sm));
		for (uint32_t i = 0; i < 10; i++) {
			struct vfu_sparse_area a = { i * 0x1000ull, 0x800 };
			memcpy(out + 48 + i * 16, &a, sizeof(a));
		}
		o->argsz = 48 + 160;
		fds[nfds++] = f->memfd;
		break;
	}
	case 4: { /* sparse capability without areas: nothing mappable */
		o->size = 0x1000;
		o->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_MMAP |
			   VFIO_REGION_INFO_FLAG_CAPS;
		o->cap_offset = 32;
		struct vfu_cap_sparse_mmap sm = { .hdr = { VFIO_REGION_INFO_CAP_SPARSE_MMAP, 1, 0 },
						  .nr_areas = 0 };
		memcpy(out + 32, &sm, sizeof(sm));
		o->argsz = 48;
		fds[nfds++] = f->memfd;
		break;
	}
	case 7:
		o->size = 256;
		o->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		break;
	default:
		break;
	}
	size_t len = o->argsz <= asked ? o->argsz : sizeof(*o);
	reply(f, req, out, len, fds, nfds);
}

/* A command from the server to the client; returns the reply's error (0 ok)
 * and copies up to @cap bytes of its payload to @out. */
static int fake_cmd(struct fake *f, uint16_t cmd, const void *p, size_t l, uint32_t flags,
		    void *out, size_t cap)
{
	int s = f->twin ? f->sock2 : f->sock;
	struct vfu_hdr h = { .msg_id = ++f->id, .cmd = cmd, .flags = VFU_F_TYPE_COMMAND | flags };
	fake_send(f, s, &h, p, l, NULL, 0);
	if (flags & VFU_F_NO_REPLY)
		return 0;
	size_t nf = 0;
	long n = vfu_msg_recv(s, f->buf, VFU_MAX_MSG_SIZE, NULL, &nf, 5000);
	if (n < 16)
		return -1000;
	struct vfu_hdr r;
	memcpy(&r, f->buf, sizeof(r));
	if (r.msg_id != h.msg_id || r.cmd != cmd || (r.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_REPLY)
		return -1001;
	if (r.flags & VFU_F_ERROR)
		return (int)r.error;
	size_t pl = (size_t)n - 16;
	if (out)
		memcpy(out, f->buf + 16, pl < cap ? pl : cap);
	return 0;
}

/* Doorbell: act as a DMA-capable device, on the twin socket if there is one. */
static void do_dma_script(struct fake *f)
{
	struct vfu_udd_dma_fault nf = { .iova = 0xdead000, .len = 64, .write = 1 };
	fake_cmd(f, VFU_UDD_CMD_DMA_FAULT, &nf, sizeof(nf), VFU_F_NO_REPLY, NULL, 0);

	uint8_t msg[16 + 16];
	struct vfu_dma_access a = { .addr = IOVA_RW + 0x10, .count = 16 };
	memcpy(msg, &a, sizeof(a));
	for (int i = 0; i < 16; i++)
		msg[16 + i] = (uint8_t)(0xa0 + i);
	uint8_t echo[16] = { 0 };
	f->dma_write_err = fake_cmd(f, VFU_CMD_DMA_WRITE, msg, sizeof(msg), 0, echo, sizeof(echo));
	struct vfu_dma_access e;
	memcpy(&e, echo, sizeof(e));
	if (!f->dma_write_err && (e.addr != a.addr || e.count != 16))
		f->dma_write_err = -2000;

	a.addr = IOVA_RW + 0x40;
	uint8_t rep[32] = { 0 };
	f->dma_read_err = fake_cmd(f, VFU_CMD_DMA_READ, &a, sizeof(a), 0, rep, sizeof(rep));
	memcpy(f->dma_read_data, rep + 16, 16);

	a.addr = 0x7000000000ull; /* in no window */
	f->dma_outside_err = fake_cmd(f, VFU_CMD_DMA_READ, &a, sizeof(a), 0, NULL, 0);

	/* straddling the end of the window */
	a.addr = IOVA_RW + 0x1000 - 8;
	f->dma_len_err = fake_cmd(f, VFU_CMD_DMA_READ, &a, sizeof(a), 0, NULL, 0);

	/* a write to the read-only window */
	a.addr = IOVA_RO;
	memcpy(msg, &a, sizeof(a));
	f->dma_ro_write_err = fake_cmd(f, VFU_CMD_DMA_WRITE, msg, sizeof(msg), 0, NULL, 0);
}

static void *fake_main(void *arg)
{
	struct fake *f = arg;
	int as = accept4(f->lfd, NULL, NULL, SOCK_CLOEXEC);
	if (as < 0)
		return NULL;
	pthread_mutex_lock(&f->lock);
	f->sock = as;
	pthread_mutex_unlock(&f->lock);
	if (f->bad == BAD_VERSION_EOF)
		goto out;
	for (;;) {
		int fds[VFU_MAX_FDS];
		size_t nf = VFU_MAX_FDS;
		long n = vfu_msg_recv(f->sock, f->buf, VFU_MAX_MSG_SIZE, fds, &nf, -1);
		if (n <= 0)
			break;
		struct vfu_hdr h;
		memcpy(&h, f->buf, sizeof(h));
		const uint8_t *pl = f->buf + 16;
		size_t plen = (size_t)n - 16;
		pthread_mutex_lock(&f->lock);
		if (h.cmd < 32)
			f->nreq[h.cmd]++;
		pthread_mutex_unlock(&f->lock);
		switch (h.cmd) {
		case VFU_CMD_VERSION:
			do_version(f, &h, pl, plen);
			break;
		case VFU_CMD_DEVICE_GET_INFO: {
			struct vfu_device_info di = { .argsz = 16,
						      .flags = VFIO_DEVICE_FLAGS_PCI |
							       VFIO_DEVICE_FLAGS_RESET,
						      .num_regions = 9, .num_irqs = 5 };
			if (f->bad == BAD_DEVINFO_IRQS)
				di.num_irqs = 1000;
			reply(f, &h, &di, sizeof(di), NULL, 0);
			break;
		}
		case VFU_CMD_DEVICE_GET_REGION_INFO:
			do_region_info(f, &h, pl, plen);
			break;
		case VFU_CMD_DEVICE_GET_IRQ_INFO: {
			struct vfu_irq_info ii;
			memcpy(&ii, pl, sizeof(ii));
			ii.count = ii.index == VFIO_PCI_MSIX_IRQ_INDEX ? 8 : 1;
			ii.flags = VFIO_IRQ_INFO_EVENTFD | VFIO_IRQ_INFO_MASKABLE;
			reply(f, &h, &ii, sizeof(ii), NULL, 0);
			break;
		}
		case VFU_CMD_DEVICE_SET_IRQS: {
			struct vfu_irq_set s;
			memcpy(&s, pl, sizeof(s));
			pthread_mutex_lock(&f->lock);
			if (s.flags & (VFIO_IRQ_SET_ACTION_MASK | VFIO_IRQ_SET_ACTION_UNMASK)) {
				f->mask_flags = s.flags;
			} else {
				f->irq_counts[s.index & 7]++;
				f->irq_nfds_total += (uint32_t)nf;
				f->irq_last_flags = s.flags;
				f->irq_last_count = s.count;
			}
			pthread_mutex_unlock(&f->lock);
			reply(f, &h, NULL, 0, NULL, 0);
			break;
		}
		case VFU_CMD_REGION_READ: {
			struct vfu_region_access a;
			memcpy(&a, pl, sizeof(a));
			if (f->bad == BAD_CLOSE)
				goto out;
			if (f->bad == BAD_HANG)
				break;
			if (f->bad == BAD_DMA_FLOOD) {
				/* legitimate-looking commands, each well within the
				 * timeout, but never the reply */
				struct vfu_dma_access da = { .addr = 0x7000000000ull, .count = 8 };
				for (int i = 0; i < 500; i++) {
					struct vfu_hdr c = { .msg_id = ++f->id, .cmd = VFU_CMD_DMA_READ,
							     .flags = VFU_F_TYPE_COMMAND |
								      VFU_F_NO_REPLY };
					if (vfu_msg_send(f->sock, &c, &da, sizeof(da), NULL, 0))
						break;
					usleep(10000);
				}
				break;
			}
			if (f->bad == BAD_DRIBBLE) {
				uint8_t m[16 + 16 + 4];
				struct vfu_hdr r = { .msg_id = h.msg_id, .cmd = h.cmd,
						     .flags = VFU_F_TYPE_REPLY,
						     .msg_size = sizeof(m) };
				a.count = 4;
				memcpy(m, &r, 16);
				memcpy(m + 16, &a, 16);
				memset(m + 32, 0x5a, 4);
				for (size_t i = 0; i < sizeof(m); i++) {
					if (send(f->sock, m + i, 1, MSG_NOSIGNAL) != 1)
						break;
					usleep(50000);
				}
				break;
			}
			if (f->bad == BAD_SHORT_SIZE || f->bad == BAD_HUGE_SIZE) {
				struct vfu_hdr r = { .msg_id = h.msg_id, .cmd = h.cmd,
						     .flags = VFU_F_TYPE_REPLY };
				r.msg_size = f->bad == BAD_SHORT_SIZE ? 8 : VFU_MAX_MSG_SIZE + 1;
				raw(f, &r, sizeof(r));
				break;
			}
			if (f->bad == BAD_TRUNC_EOF) {
				struct vfu_hdr r = { .msg_id = h.msg_id, .cmd = h.cmd,
						     .flags = VFU_F_TYPE_REPLY,
						     .msg_size = 16 + 16 + a.count };
				raw(f, &r, sizeof(r));
				raw(f, &a, 10);
				goto out;
			}
			uint8_t *out = f->buf + 16 + 16 + 64; /* after the request */
			if (a.region == 2 && a.count <= R2_SIZE && a.offset <= R2_SIZE - a.count)
				memcpy(out + 16, f->r2 + a.offset, a.count);
			else
				memset(out + 16, 0xff, a.count);
			if (f->bad == BAD_READ_ECHO)
				a.offset++;
			memcpy(out, &a, sizeof(a));
			size_t len = 16 + a.count - (f->bad == BAD_READ_COUNT ? 1 : 0);
			if (f->bad == BAD_WRONG_ID || f->bad == BAD_WRONG_CMD) {
				struct vfu_hdr r = { .msg_id = h.msg_id, .cmd = h.cmd,
						     .flags = VFU_F_TYPE_REPLY };
				if (f->bad == BAD_WRONG_ID)
					r.msg_id++;
				else
					r.cmd = VFU_CMD_REGION_WRITE;
				fake_send(f, f->sock, &r, out, len, NULL, 0);
				break;
			}
			reply(f, &h, out, len, NULL, 0);
			break;
		}
		case VFU_CMD_REGION_WRITE: {
			struct vfu_region_access a;
			memcpy(&a, pl, sizeof(a));
			if (a.count != plen - 16) {
				reply_err(f, &h, EINVAL);
				break;
			}
			if (a.region == 2 && a.count <= R2_SIZE && a.offset <= R2_SIZE - a.count)
				memcpy(f->r2 + a.offset, pl + 16, a.count);
			if (a.region == 1 && a.offset == 0) {
				/* copy the request header: the script reuses f->buf */
				struct vfu_hdr hh = h;
				do_dma_script(f);
				h = hh;
			}
			reply(f, &h, &a, sizeof(a), NULL, 0);
			break;
		}
		case VFU_CMD_DMA_MAP: {
			struct vfu_dma_map m;
			memcpy(&m, pl, sizeof(m));
			pthread_mutex_lock(&f->lock);
			f->dma_maps++;
			f->dma_map_nfds += (uint32_t)nf;
			pthread_mutex_unlock(&f->lock);
			reply(f, &h, NULL, 0, NULL, 0);
			break;
		}
		case VFU_CMD_DMA_UNMAP: {
			struct vfu_dma_unmap u;
			memcpy(&u, pl, sizeof(u));
			reply(f, &h, &u, sizeof(u), NULL, 0);
			break;
		}
		case VFU_CMD_DEVICE_RESET:
			reply(f, &h, NULL, 0, NULL, 0);
			break;
		default:
			reply_err(f, &h, ENOSYS);
			break;
		}
		vfu_close_fds(fds, nf);
	}
out:
	if (f->sock2 >= 0) {
		close(f->sock2);
		f->sock2 = -1;
	}
	pthread_mutex_lock(&f->lock);
	close(f->sock);
	f->sock = -1;
	pthread_mutex_unlock(&f->lock);
	return NULL;
}

static int n_test;

static struct fake *fake_start(enum bad bad, bool twin, const char *borrow)
{
	struct fake *f = calloc(1, sizeof(*f));
	REQUIRE(f);
	f->bad = bad;
	f->twin = twin;
	f->echo_udd = true;
	f->expect_borrow = borrow;
	f->sock = f->sock2 = -1;
	f->buf = malloc(VFU_MAX_MSG_SIZE);
	REQUIRE(f->buf);
	pthread_mutex_init(&f->lock, NULL);
	for (size_t i = 0; i < R2_SIZE; i++)
		f->r2[i] = (uint8_t)(i * 7 + 3);
	f->memfd = memfd_create("fake-bar", MFD_CLOEXEC);
	REQUIRE(f->memfd >= 0);
	REQUIRE(ftruncate(f->memfd, 0x20000) == 0);
	f->shortfd = memfd_create("fake-short", MFD_CLOEXEC);
	REQUIRE(f->shortfd >= 0);
	REQUIRE(ftruncate(f->shortfd, 0x12000) == 0);
	REQUIRE(pipe2(f->pipefd, O_CLOEXEC) == 0);
	snprintf(f->path, sizeof(f->path), "/tmp/udd-vfu-client-%d-%d.sock", (int)getpid(),
		 n_test++);
	unlink(f->path);
	f->lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	REQUIRE(f->lfd >= 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, f->path);
	REQUIRE(bind(f->lfd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	REQUIRE(listen(f->lfd, 4) == 0);
	return f;
}

static void fake_run(struct fake *f)
{
	REQUIRE(pthread_create(&f->thr, NULL, fake_main, f) == 0);
}

/* Wait for the fake's thread (it ends when the client closes) and free it. */
static void fake_stop(struct fake *f)
{
	pthread_join(f->thr, NULL);
	close(f->lfd);
	close(f->memfd);
	close(f->shortfd);
	close(f->pipefd[0]);
	close(f->pipefd[1]);
	unlink(f->path);
	pthread_mutex_destroy(&f->lock);
	free(f->buf);
	free(f);
}

/* ------------------------------------------------------------------------ */
/* helpers                                                                   */
/* ------------------------------------------------------------------------ */

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	int n = 0;
	if (!d)
		return -1;
	while (readdir(d))
		n++;
	closedir(d);
	return n;
}

static atomic_int n_log;
static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	n_log++;
	if (getenv("UDD_TEST_VERBOSE"))
		fprintf(stderr, "  log[%d]: %s\n", level, msg);
}
static struct udd_log tlog = { PTHREAD_MUTEX_INITIALIZER, log_cb, NULL, UDD_LOG_DEBUG };

static const struct udd_backend_ops *be = &udd_vfio_user_backend;

struct fault_seen {
	pthread_mutex_t lock;
	int n;
	uint64_t iova, len;
	int write;
};
static void fault_cb(void *user, uint64_t iova, uint64_t len, int write)
{
	struct fault_seen *s = user;
	pthread_mutex_lock(&s->lock);
	s->n++;
	s->iova = iova;
	s->len = len;
	s->write = write;
	pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------------ */
/* good sessions                                                             */
/* ------------------------------------------------------------------------ */

static void test_good(bool twin)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(BAD_NONE, twin, "exclusive");
	f->max_xfer = 4096;
	f->max_fds = 2;
	fake_run(f);
	void *d = NULL;
	REQUIRE_OK(be->open(f->path, UDD_BE_EXCLUSIVE, &tlog, &d));
	CHECK(f->caps_ok);
	CHECK(vfu_client_enforces_borrow(d));
	CHECK_EQ(vfu_client_twin_socket(d), twin);
	CHECK_EQ(be->check(d), 0);

	struct udd_be_devinfo di;
	REQUIRE_OK(be->device_info(d, &di));
	CHECK_EQ(di.num_regions, 9);
	CHECK_EQ(di.num_irqs, 5);
	CHECK(di.flags & VFIO_DEVICE_FLAGS_RESET);

	/* region 0: two sparse areas, an fd we can map */
	struct udd_be_region r;
	REQUIRE_OK(be->region_info(d, 0, &r));
	CHECK_EQ(r.size, 0x4000);
	CHECK(r.flags & VFIO_REGION_INFO_FLAG_MMAP);
	CHECK(r.flags & VFIO_REGION_INFO_FLAG_READ);
	CHECK(r.mmap_fd >= 0);
	CHECK_EQ(r.mmap_offset, 0x10000);
	CHECK_EQ(r.nsparse, 2);
	CHECK_EQ(r.sparse[0].offset, 0x1000);
	CHECK_EQ(r.sparse[1].offset, 0x3000);
	CHECK_EQ(r.sparse[1].size, 0x1000);
	if (r.mmap_fd >= 0) {
		void *m = mmap(NULL, 0x1000, PROT_READ | PROT_WRITE, MAP_SHARED, r.mmap_fd,
			       (off_t)(r.mmap_offset + r.sparse[0].offset));
		CHECK(m != MAP_FAILED);
		if (m != MAP_FAILED) {
			((volatile uint32_t *)m)[0] = 0x12345678;
			uint32_t v = 0;
			CHECK_EQ(pread(f->memfd, &v, 4, 0x11000), 4);
			CHECK_EQ(v, 0x12345678);
			munmap(m, 0x1000);
		}
	}
	/* cached: same fd, no second request */
	struct udd_be_region r2;
	REQUIRE_OK(be->region_info(d, 0, &r2));
	CHECK_EQ(r2.mmap_fd, r.mmap_fd);
	CHECK_EQ(f->nreq[VFU_CMD_DEVICE_GET_REGION_INFO], 1);

	/* region 2: trapped */
	REQUIRE_OK(be->region_info(d, 2, &r));
	CHECK_EQ(r.size, R2_SIZE);
	CHECK_EQ(r.mmap_fd, -1);
	CHECK(!(r.flags & VFIO_REGION_INFO_FLAG_MMAP));
	/* region 3: ten areas, the first UDD_BE_MAX_SPARSE kept */
	REQUIRE_OK(be->region_info(d, 3, &r));
	CHECK_EQ(r.nsparse, UDD_BE_MAX_SPARSE);
	CHECK_EQ(r.sparse[7].offset, 0x7000);
	CHECK(r.mmap_fd >= 0);
	/* region 4: sparse capability without areas: not mappable, fd closed */
	REQUIRE_OK(be->region_info(d, 4, &r));
	CHECK(!(r.flags & VFIO_REGION_INFO_FLAG_MMAP));
	CHECK_EQ(r.mmap_fd, -1);
	CHECK_EQ(be->region_info(d, 9, &r), -EINVAL);

	/* register-sized and bulk accesses; bulk split by max_data_xfer_size */
	uint32_t v32 = 0;
	REQUIRE_OK(be->region_read(d, 2, 0x100, &v32, 4));
	uint32_t want;
	memcpy(&want, f->r2 + 0x100, 4);
	CHECK_EQ(v32, want);
	v32 = 0xcafef00d;
	REQUIRE_OK(be->region_write(d, 2, 0x200, &v32, 4));
	memcpy(&want, f->r2 + 0x200, 4);
	CHECK_EQ(want, 0xcafef00d);
	uint8_t *big = malloc(10000), *back = malloc(10000);
	REQUIRE(big && back);
	for (int i = 0; i < 10000; i++)
		big[i] = (uint8_t)(i ^ 0x5a);
	int w0 = f->nreq[VFU_CMD_REGION_WRITE];
	REQUIRE_OK(be->region_write(d, 2, 0x1003, big, 10000));
	CHECK_EQ(f->nreq[VFU_CMD_REGION_WRITE] - w0, 3);
	CHECK(memcmp(f->r2 + 0x1003, big, 10000) == 0);
	REQUIRE_OK(be->region_read(d, 2, 0x1003, back, 10000));
	CHECK(memcmp(back, big, 10000) == 0);
	free(big);
	free(back);

	/* interrupts */
	uint32_t cnt = 0, fl = 0;
	REQUIRE_OK(be->irq_info(d, VFIO_PCI_MSIX_IRQ_INDEX, &cnt, &fl));
	CHECK_EQ(cnt, 8);
	CHECK(fl & VFIO_IRQ_INFO_EVENTFD);
	CHECK_EQ(be->irq_info(d, 7, &cnt, &fl), -EINVAL);
	int efds[3] = { dup(0), dup(0), dup(0) };
	REQUIRE_OK(be->irq_set(d, VFIO_PCI_MSIX_IRQ_INDEX, 0, 3, efds));
	vfu_close_fds(efds, 3);
	/* max_msg_fds 2: two messages, three fds in all */
	CHECK_EQ(f->irq_counts[VFIO_PCI_MSIX_IRQ_INDEX], 2);
	CHECK_EQ(f->irq_nfds_total, 3);
	REQUIRE_OK(be->irq_set(d, VFIO_PCI_MSIX_IRQ_INDEX, 0, 0, NULL));
	CHECK_EQ(f->irq_last_flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER);
	CHECK_EQ(f->irq_last_count, 0);
	REQUIRE_OK(be->irq_mask(d, VFIO_PCI_MSIX_IRQ_INDEX, 1, true));
	CHECK_EQ(f->mask_flags, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_MASK);

	/* DMA: a read-write window and a read-only one, without fds */
	struct fault_seen fs = { .lock = PTHREAD_MUTEX_INITIALIZER };
	be->set_fault_cb(d, fault_cb, &fs);
	uint8_t *mem = calloc(1, 0x2000);
	REQUIRE(mem);
	for (int i = 0; i < 16; i++)
		mem[0x40 + i] = (uint8_t)(0x30 + i);
	REQUIRE_OK(be->dma_map(d, IOVA_RW, 0x1000, -1, 0, mem, UDD_DMA_F_READ | UDD_DMA_F_WRITE));
	REQUIRE_OK(be->dma_map(d, IOVA_RO, 0x1000, -1, 0, mem + 0x1000, UDD_DMA_F_READ));
	CHECK_EQ(be->dma_map(d, IOVA_RW + 0x800, 0x1000, -1, 0, mem, UDD_DMA_F_READ), -EEXIST);
	CHECK_EQ(f->dma_maps, 2);
	CHECK_EQ(f->dma_map_nfds, 0);
	v32 = 1;
	REQUIRE_OK(be->region_write(d, 1, 0, &v32, 4)); /* doorbell: the device DMAs */
	CHECK_EQ(f->dma_write_err, 0);
	CHECK_EQ(f->dma_read_err, 0);
	CHECK(memcmp(f->dma_read_data, mem + 0x40, 16) == 0);
	CHECK_EQ(f->dma_outside_err, EFAULT);
	CHECK_EQ(f->dma_len_err, EFAULT);
	CHECK_EQ(f->dma_ro_write_err, EFAULT);
	pthread_mutex_lock(&fs.lock);
	CHECK_EQ(fs.n, 1);
	CHECK_EQ(fs.iova, 0xdead000);
	CHECK_EQ(fs.len, 64);
	CHECK_EQ(fs.write, 1);
	pthread_mutex_unlock(&fs.lock);
	CHECK_EQ(be->dma_unmap(d, IOVA_RW, 0x800), -ENOENT);
	REQUIRE_OK(be->dma_unmap(d, IOVA_RW, 0x1000));
	REQUIRE_OK(be->dma_unmap(d, IOVA_RO, 0x1000));
	/* read after the unmap: it orders the service thread's copy before us */
	for (int i = 0; i < 16; i++)
		CHECK_EQ(mem[0x10 + i], 0xa0 + i);
	CHECK_EQ(mem[0x1000], 0); /* the read-only window was not written */

	/* a window with an fd: the fd travels */
	int mfd = memfd_create("dma", MFD_CLOEXEC);
	REQUIRE(mfd >= 0);
	REQUIRE_OK(be->dma_map(d, 0x400000, 0x1000, mfd, 0, mem, UDD_DMA_F_WRITE));
	CHECK_EQ(f->dma_map_nfds, 1);
	REQUIRE_OK(be->dma_unmap(d, 0x400000, 0x1000));
	close(mfd);

	CHECK_EQ(be->reset(d), 0);
	struct udd_be_iova_range ir[2];
	size_t nir = 2;
	if (be->iova_ranges) {
		REQUIRE_OK(be->iova_ranges(d, ir, &nir));
		CHECK_EQ(nir, 1);
		CHECK(ir[0].end == UINT64_MAX);
	}
	CHECK_EQ(be->check(d), 0);
	be->close(d);
	free(mem);
	fake_stop(f);
	CHECK_EQ(count_fds(), fd0);
}

/* A server without the udd capability, defaults for everything. */
static void test_plain_server(void)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(BAD_NONE, false, "probe");
	f->echo_udd = false;
	fake_run(f);
	void *d = NULL;
	REQUIRE_OK(be->open(f->path, UDD_BE_PROBE, NULL, &d));
	CHECK(f->caps_ok);
	CHECK(!vfu_client_enforces_borrow(d));
	CHECK(!vfu_client_twin_socket(d));
	/* default max_msg_fds 1: one fd per SET_IRQS */
	int efds[2] = { dup(0), dup(0) };
	REQUIRE_OK(be->irq_set(d, VFIO_PCI_MSI_IRQ_INDEX, 0, 2, efds));
	vfu_close_fds(efds, 2);
	CHECK_EQ(f->irq_counts[VFIO_PCI_MSI_IRQ_INDEX], 2);
	/* a 16 KiB read is one message with the default max_data_xfer_size */
	uint8_t buf[16384];
	int r0 = f->nreq[VFU_CMD_REGION_READ];
	REQUIRE_OK(be->region_read(d, 2, 0, buf, sizeof(buf)));
	CHECK_EQ(f->nreq[VFU_CMD_REGION_READ] - r0, 1);
	CHECK(memcmp(buf, f->r2, sizeof(buf)) == 0);
	be->close(d);
	fake_stop(f);
	CHECK_EQ(count_fds(), fd0);
}

static void test_argsz_retry(void)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(BAD_ARGSZ_RETRY, false, "shared");
	fake_run(f);
	void *d = NULL;
	REQUIRE_OK(be->open(f->path, UDD_BE_SHARED, &tlog, &d));
	struct udd_be_region r;
	REQUIRE_OK(be->region_info(d, 0, &r));
	CHECK_EQ(f->nreq[VFU_CMD_DEVICE_GET_REGION_INFO], 2);
	CHECK_EQ(r.nsparse, 2);
	CHECK(r.mmap_fd >= 0);
	be->close(d);
	fake_stop(f);
	CHECK_EQ(count_fds(), fd0);
}

/* ------------------------------------------------------------------------ */
/* misbehaving servers                                                       */
/* ------------------------------------------------------------------------ */

/* The server misbehaves on a REGION_READ: that call fails with @want, every
 * later one with -ENODEV; check() says gone. */
static void test_bad_read(enum bad bad, int want, const char *name)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(bad, false, "shared");
	fake_run(f);
	void *d = NULL;
	bool timed = bad == BAD_HANG || bad == BAD_DMA_FLOOD || bad == BAD_DRIBBLE;
	int rc = timed ? vfu_client_open_timeout(f->path, UDD_BE_SHARED, &tlog, 300, &d)
		       : be->open(f->path, UDD_BE_SHARED, &tlog, &d);
	REQUIRE_OK(rc);
	uint32_t v = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	rc = be->region_read(d, 2, 0, &v, 4);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	if (rc != want)
		fprintf(stderr, "case %s: got %d, want %d\n", name, rc, want);
	CHECK_EQ(rc, want);
	if (timed) {
		/* the 300 ms bound the whole call, not each receive */
		if (ms > 800)
			fprintf(stderr, "case %s: took %ld ms\n", name, ms);
		CHECK(ms >= 250 && ms <= 800);
	}
	CHECK_EQ(be->region_read(d, 2, 0, &v, 4), -ENODEV);
	CHECK_EQ(be->region_write(d, 2, 0, &v, 4), -ENODEV);
	CHECK_EQ(be->check(d), -ENODEV);
	CHECK_EQ(be->dma_map(d, 0x1000, 0x1000, -1, 0, &v, UDD_DMA_F_READ), -ENODEV);
	be->close(d);
	fake_stop(f);
	CHECK_EQ(count_fds(), fd0);
}

/* The server sends a bad region-0 info: -EPROTO, no fd leaks. */
static void test_bad_region(enum bad bad, const char *name)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(bad, false, "shared");
	fake_run(f);
	void *d = NULL;
	REQUIRE_OK(be->open(f->path, UDD_BE_SHARED, &tlog, &d));
	struct udd_be_region r;
	int rc = be->region_info(d, 0, &r);
	if (rc != -EPROTO)
		fprintf(stderr, "case %s: got %d\n", name, rc);
	CHECK_EQ(rc, -EPROTO);
	CHECK_EQ(be->region_info(d, 1, &r), -ENODEV);
	be->close(d);
	fake_stop(f);
	CHECK_EQ(count_fds(), fd0);
}

/* The server spoils the handshake: open fails with @want. */
static void test_bad_open(enum bad bad, int want, const char *name)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(bad, true, "exclusive");
	fake_run(f);
	void *d = (void *)1;
	int rc = be->open(f->path, UDD_BE_EXCLUSIVE, &tlog, &d);
	if (rc != want)
		fprintf(stderr, "case %s: got %d, want %d\n", name, rc, want);
	CHECK_EQ(rc, want);
	CHECK(d == (void *)1); /* untouched on failure */
	fake_stop(f);
	CHECK_EQ(count_fds(), fd0);
}

static void test_no_server(void)
{
	void *d = NULL;
	char p[108];
	snprintf(p, sizeof(p), "/tmp/udd-vfu-client-%d-none.sock", (int)getpid());
	unlink(p);
	CHECK_EQ(be->open(p, UDD_BE_PROBE, NULL, &d), -ENOENT);
	/* a socket file nobody listens on */
	int s = socket(AF_UNIX, SOCK_STREAM, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, p);
	REQUIRE(bind(s, (struct sockaddr *)&sa, sizeof(sa)) == 0);
	close(s);
	CHECK_EQ(be->open(p, UDD_BE_PROBE, NULL, &d), -ECONNREFUSED);
	unlink(p);
	CHECK_EQ(be->open(NULL, UDD_BE_PROBE, NULL, &d), -EINVAL);
	CHECK_EQ(be->open(p, (enum udd_be_mode)7, NULL, &d), -EINVAL);
}

/* The server dies while the client is idle: check() notices, calls fail. */
static void test_server_gone_idle(void)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(BAD_NONE, true, "shared");
	fake_run(f);
	void *d = NULL;
	REQUIRE_OK(be->open(f->path, UDD_BE_SHARED, &tlog, &d));
	CHECK_EQ(be->check(d), 0);
	/* make the fake leave: shut its socket down under it */
	pthread_mutex_lock(&f->lock);
	int ps = f->sock; /* the fake closes it only after this shutdown */
	pthread_mutex_unlock(&f->lock);
	shutdown(ps, SHUT_RDWR);
	pthread_join(f->thr, NULL);
	CHECK_EQ(be->check(d), -ENODEV);
	uint32_t v;
	CHECK_EQ(be->region_read(d, 2, 0, &v, 4), -ENODEV);
	be->close(d);
	/* fake_stop() without a second join */
	f->thr = pthread_self();
	close(f->lfd);
	close(f->memfd);
	close(f->shortfd);
	close(f->pipefd[0]);
	close(f->pipefd[1]);
	unlink(f->path);
	pthread_mutex_destroy(&f->lock);
	free(f->buf);
	free(f);
	CHECK_EQ(count_fds(), fd0);
}

/* The server hands out an mmap fd that cannot back the region (shorter than
 * the areas, or not a file): the region is trapped, never mmapped into a
 * SIGBUS; the rest of the session works. */
static void test_bad_mmap_fd(enum bad bad, const char *name)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(bad, false, "shared");
	fake_run(f);
	void *d = NULL;
	REQUIRE_OK(be->open(f->path, UDD_BE_SHARED, &tlog, &d));
	struct udd_be_region r;
	int rc = be->region_info(d, 0, &r);
	if (rc)
		fprintf(stderr, "case %s: got %d\n", name, rc);
	CHECK_EQ(rc, 0);
	CHECK_EQ(r.mmap_fd, -1);
	CHECK_EQ(r.flags & VFIO_REGION_INFO_FLAG_MMAP, 0);
	CHECK_EQ(r.nsparse, 0);
	CHECK_EQ(r.size, 0x4000);
	uint32_t v = 0;
	CHECK_EQ(be->region_read(d, 2, 0, &v, 4), 0);
	be->close(d);
	fake_stop(f);
	CHECK_EQ(count_fds(), fd0);
}

/* A server whose accept backlog is full: the connect is bounded by the
 * call's deadline (a blocking connect would wait for it forever). */
static void test_backlog_full(void)
{
	int fd0 = count_fds();
	struct fake *f = fake_start(BAD_NONE, false, "shared");
	/* never accepted: backlog 0 holds one connection, ours fills it */
	REQUIRE(listen(f->lfd, 0) == 0);
	int fill[4], nfill = 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strcpy(sa.sun_path, f->path);
	for (; nfill < 4; nfill++) {
		fill[nfill] = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
		REQUIRE(fill[nfill] >= 0);
		if (connect(fill[nfill], (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			close(fill[nfill]);
			break;
		}
	}
	CHECK(nfill >= 1 && nfill < 4);
	void *d = (void *)1;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	int rc = vfu_client_open_timeout(f->path, UDD_BE_PROBE, &tlog, 300, &d);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
	CHECK_EQ(rc, -ETIMEDOUT);
	CHECK(d == (void *)1);
	CHECK(ms >= 250 && ms <= 800);
	for (int i = 0; i < nfill; i++)
		close(fill[i]);
	f->thr = pthread_self();
	close(f->lfd);
	close(f->memfd);
	close(f->shortfd);
	close(f->pipefd[0]);
	close(f->pipefd[1]);
	unlink(f->path);
	pthread_mutex_destroy(&f->lock);
	free(f->buf);
	free(f);
	CHECK_EQ(count_fds(), fd0);
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	test_good(true);
	test_good(false);
	test_plain_server();
	test_argsz_retry();

	test_bad_read(BAD_WRONG_ID, -EPROTO, "wrong id");
	test_bad_read(BAD_WRONG_CMD, -EPROTO, "wrong cmd");
	test_bad_read(BAD_SHORT_SIZE, -EPROTO, "msg_size < 16");
	test_bad_read(BAD_HUGE_SIZE, -EPROTO, "msg_size huge");
	test_bad_read(BAD_TRUNC_EOF, -EPROTO, "truncated then EOF");
	test_bad_read(BAD_READ_ECHO, -EPROTO, "bad echo");
	test_bad_read(BAD_READ_COUNT, -EPROTO, "short data");
	test_bad_read(BAD_CLOSE, -ENODEV, "server closes mid-session");
	test_bad_read(BAD_HANG, -ETIMEDOUT, "server hangs");
	test_bad_read(BAD_DMA_FLOOD, -ETIMEDOUT, "DMA_READ flood holds the reply back");
	test_bad_read(BAD_DRIBBLE, -ETIMEDOUT, "reply dribbled a byte at a time");
	test_bad_mmap_fd(BAD_SHORT_MMAP, "mmap fd shorter than the areas");
	test_bad_mmap_fd(BAD_MMAP_PIPE, "mmap fd is a pipe");
	test_backlog_full();

	test_bad_region(BAD_CAP_OUTSIDE, "cap_offset outside");
	test_bad_region(BAD_CAP_NEXT_OUT, "next outside");
	test_bad_region(BAD_CAP_LOOP, "cap loop");
	test_bad_region(BAD_CAP_LOOP2, "cap loop of two");
	test_bad_region(BAD_SPARSE_OUTSIDE, "sparse area outside the region");
	test_bad_region(BAD_SPARSE_NR, "nr_areas too big");
	test_bad_region(BAD_TOO_MANY_FDS, "too many fds");

	test_bad_open(BAD_VERSION_JSON, -EPROTO, "bad JSON");
	test_bad_open(BAD_VERSION_MAJOR, -EPROTO, "wrong major");
	test_bad_open(BAD_VERSION_MINOR, -EPROTO, "minor too new");
	test_bad_open(BAD_VERSION_CAPS, -EPROTO, "non-object capabilities");
	test_bad_open(BAD_VERSION_XFER, -EPROTO, "non-number max_data_xfer_size");
	test_bad_open(BAD_VERSION_TWIN, -EPROTO, "twin socket without fd_index");
	test_bad_open(BAD_VERSION_NUL, -EPROTO, "JSON without NUL");
	test_bad_open(BAD_VERSION_FD, -EPROTO, "stray fd in VERSION reply");
	test_bad_open(BAD_VERSION_EBUSY, -EBUSY, "EBUSY");
	test_bad_open(BAD_VERSION_EOF, -ECONNREFUSED, "EOF at VERSION");
	test_bad_open(BAD_DEVINFO_IRQS, -EPROTO, "absurd num_irqs");

	test_no_server();
	test_server_gone_idle();
	return t_done("test_vfu_client");
}
