/* SPDX-License-Identifier: MIT */
/*
 * udd-sim server core: one listening socket per device, one thread per
 * client connection, vfio-user message dispatch (server side of QEMU's
 * docs/interop/vfio-user.rst v0.1), per-client DMA windows and IRQ eventfds.
 * Every field a client sends is validated before use.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <search.h>

#include <json-c/json.h>

#include "msg.h"
#include "sim.h"

int sim_verbose;
bool sim_no_udd_ext;
const char *sim_pio_record;
atomic_int sim_live_clients;
atomic_ullong sim_last_activity_ms;
static atomic_ullong next_client_id = 1;

#define S2C_TIMEOUT_MS 5000

void sim_log(const char *fmt, ...)
{
	if (!sim_verbose)
		return;
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "udd-sim: %s\n", buf);
}

uint64_t sim_now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void sim_sleep_us(unsigned us)
{
	struct timespec ts = { .tv_sec = us / 1000000u, .tv_nsec = (long)(us % 1000000u) * 1000 };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

enum { BORROW_NONE = -1, BORROW_PROBE = 0, BORROW_SHARED = 1, BORROW_EXCL = 2 };
static const char *const borrow_names[] = { "probe", "shared", "exclusive" };

struct sim_win {
	uint64_t addr, size;
	uint32_t flags;
	uint8_t *map;     /* NULL: reached through DMA_READ/DMA_WRITE messages */
	void *map_base;   /* what to munmap */
	size_t map_len;
};

struct sim_client {
	struct sim_client *next;
	struct sim_dev *d;
	uint64_t id;
	int sock;
	int twin; /* server end of the twin socket, or -1 */
	int borrow;
	bool dma_faults;
	uint32_t max_xfer; /* client's max_data_xfer_size */
	int refs;          /* guarded by d->clients_lock */

	pthread_mutex_t send_lock; /* writes on sock */
	pthread_mutex_t s2c_lock;  /* one server-to-client command at a time */
	uint16_t s2c_id;

	/* Reply to a server-to-client command on the main socket. */
	pthread_mutex_t rep_lock;
	pthread_cond_t rep_cv;
	bool rep_waiting, rep_ready, dead;
	uint16_t rep_id;
	void *rep_buf;
	size_t rep_cap;
	long rep_len;

	pthread_mutex_t dma_lock;
	void *wins; /* tsearch tree of struct sim_win *, disjoint, by address */
	int nwins;

	pthread_mutex_t irq_lock;
	int irq_fd[SIM_NUM_IRQ_IDX][SIM_MAX_VECTORS];
	bool irq_masked[SIM_NUM_IRQ_IDX][SIM_MAX_VECTORS];
};

/* ------------------------------------------------------------------------ */
/* Sending                                                                   */
/* ------------------------------------------------------------------------ */

static int send_reply(struct sim_client *cl, const struct vfu_hdr *req, const void *p1, size_t l1,
		      const void *p2, size_t l2, const int *fds, size_t nfds)
{
	if (req->flags & VFU_F_NO_REPLY)
		return 0;
	struct vfu_hdr h = { .msg_id = req->msg_id, .cmd = req->cmd, .flags = VFU_F_TYPE_REPLY };
	pthread_mutex_lock(&cl->send_lock);
	int rc = vfu_msg_send2(cl->sock, &h, p1, l1, p2, l2, fds, nfds);
	pthread_mutex_unlock(&cl->send_lock);
	return rc;
}

static int send_error(struct sim_client *cl, const struct vfu_hdr *req, int err)
{
	struct vfu_hdr h = { .msg_id = req->msg_id,
			     .cmd = req->cmd,
			     .flags = VFU_F_TYPE_REPLY | VFU_F_ERROR,
			     .error = (uint32_t)err };
	sim_log("%s: client %llu: cmd %u fails: %s", cl->d->name, (unsigned long long)cl->id,
		req->cmd, strerror(err));
	pthread_mutex_lock(&cl->send_lock);
	int rc = vfu_msg_send(cl->sock, &h, NULL, 0, NULL, 0);
	pthread_mutex_unlock(&cl->send_lock);
	return rc;
}

/*
 * Server-to-client command: on the twin socket if there is one, else on the
 * main socket with the reply handed over by the client's thread.
 * @rbuf receives the whole reply message; returns its length or -errno.
 */
static long s2c_call(struct sim_client *cl, uint16_t cmd, const void *p1, size_t l1,
		     const void *p2, size_t l2, void *rbuf, size_t rcap, bool noreply)
{
	long rc;
	pthread_mutex_lock(&cl->s2c_lock);
	struct vfu_hdr h = { .msg_id = ++cl->s2c_id,
			     .cmd = cmd,
			     .flags = VFU_F_TYPE_COMMAND | (noreply ? VFU_F_NO_REPLY : 0) };
	if (cl->twin >= 0) {
		rc = vfu_msg_send2(cl->twin, &h, p1, l1, p2, l2, NULL, 0);
		if (rc || noreply)
			goto out;
		rc = vfu_msg_recv(cl->twin, rbuf, rcap, NULL, NULL, S2C_TIMEOUT_MS);
		if (rc < 0)
			goto out;
		if (rc == 0) {
			rc = -ECONNRESET;
			goto out;
		}
	} else {
		if (!noreply) {
			pthread_mutex_lock(&cl->rep_lock);
			cl->rep_waiting = true;
			cl->rep_ready = false;
			cl->rep_id = h.msg_id;
			cl->rep_buf = rbuf;
			cl->rep_cap = rcap;
			pthread_mutex_unlock(&cl->rep_lock);
		}
		pthread_mutex_lock(&cl->send_lock);
		rc = vfu_msg_send2(cl->sock, &h, p1, l1, p2, l2, NULL, 0);
		pthread_mutex_unlock(&cl->send_lock);
		if (noreply)
			goto out;
		pthread_mutex_lock(&cl->rep_lock);
		if (!rc) {
			struct timespec dl;
			clock_gettime(CLOCK_REALTIME, &dl);
			dl.tv_sec += S2C_TIMEOUT_MS / 1000;
			while (!cl->rep_ready && !cl->dead && !rc)
				rc = -pthread_cond_timedwait(&cl->rep_cv, &cl->rep_lock, &dl);
			if (cl->rep_ready)
				rc = cl->rep_len;
			else if (!rc || rc == -ETIMEDOUT)
				rc = cl->dead ? -ECONNRESET : -ETIMEDOUT;
		}
		cl->rep_waiting = false;
		cl->rep_ready = false;
		pthread_mutex_unlock(&cl->rep_lock);
		if (rc < 0)
			goto out;
	}
	const struct vfu_hdr *r = rbuf;
	if ((r->flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_REPLY || r->msg_id != h.msg_id ||
	    r->cmd != cmd)
		rc = -EPROTO;
	else if (r->flags & VFU_F_ERROR)
		rc = -(long)(r->error ? r->error : EIO);
out:
	pthread_mutex_unlock(&cl->s2c_lock);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* Client lookup                                                             */
/* ------------------------------------------------------------------------ */

static struct sim_client *client_get(struct sim_dev *d, uint64_t id)
{
	pthread_mutex_lock(&d->clients_lock);
	struct sim_client *c = d->clients;
	while (c && c->id != id)
		c = c->next;
	if (c)
		c->refs++;
	pthread_mutex_unlock(&d->clients_lock);
	return c;
}

static void client_put(struct sim_client *c)
{
	struct sim_dev *d = c->d;
	pthread_mutex_lock(&d->clients_lock);
	if (--c->refs == 0)
		pthread_cond_broadcast(&d->clients_cv);
	pthread_mutex_unlock(&d->clients_lock);
}

/* ------------------------------------------------------------------------ */
/* Interrupts                                                                */
/* ------------------------------------------------------------------------ */

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one));
	(void)n;
}

/* irq_lock held. */
static void client_raise(struct sim_client *c, unsigned v)
{
	if (v < SIM_MAX_VECTORS && c->irq_fd[VFIO_PCI_MSIX_IRQ_INDEX][v] >= 0) {
		signal_fd(c->irq_fd[VFIO_PCI_MSIX_IRQ_INDEX][v]);
	} else if (v < SIM_MAX_VECTORS && c->irq_fd[VFIO_PCI_MSI_IRQ_INDEX][v] >= 0) {
		signal_fd(c->irq_fd[VFIO_PCI_MSI_IRQ_INDEX][v]);
	} else if (c->irq_fd[VFIO_PCI_INTX_IRQ_INDEX][0] >= 0 &&
		   !c->irq_masked[VFIO_PCI_INTX_IRQ_INDEX][0]) {
		signal_fd(c->irq_fd[VFIO_PCI_INTX_IRQ_INDEX][0]);
		c->irq_masked[VFIO_PCI_INTX_IRQ_INDEX][0] = true; /* automasked */
	}
}

void sim_irq_raise(struct sim_dev *d, unsigned v)
{
	pthread_mutex_lock(&d->clients_lock);
	for (struct sim_client *c = d->clients; c; c = c->next) {
		pthread_mutex_lock(&c->irq_lock);
		client_raise(c, v);
		pthread_mutex_unlock(&c->irq_lock);
	}
	pthread_mutex_unlock(&d->clients_lock);
}

static void irq_disable(struct sim_client *c, unsigned idx)
{
	for (unsigned i = 0; i < SIM_MAX_VECTORS; i++) {
		if (c->irq_fd[idx][i] >= 0)
			close(c->irq_fd[idx][i]);
		c->irq_fd[idx][i] = -1;
		c->irq_masked[idx][i] = false;
	}
}

/* ------------------------------------------------------------------------ */
/* DMA                                                                       */
/* ------------------------------------------------------------------------ */

void sim_dma_fault(struct sim_dev *d, uint64_t client_id, uint64_t iova, uint64_t len, bool write)
{
	atomic_fetch_add(&d->faults, 1);
	sim_log("%s: DMA fault: client %llu %s iova 0x%llx len %llu", d->name,
		(unsigned long long)client_id, write ? "write" : "read", (unsigned long long)iova,
		(unsigned long long)len);
	struct sim_client *c = client_get(d, client_id);
	if (!c)
		return;
	if (c->dma_faults) {
		struct vfu_udd_dma_fault f = { .iova = iova, .len = len, .write = write ? 1 : 0 };
		(void)s2c_call(c, VFU_UDD_CMD_DMA_FAULT, &f, sizeof(f), NULL, 0, NULL, 0, true);
	}
	client_put(c);
}

/* Transfer through DMA_READ/DMA_WRITE messages, in chunks of max_xfer. */
static int dma_msgs(struct sim_client *c, uint64_t iova, void *buf, size_t len, bool write)
{
	size_t chunk = c->max_xfer ? c->max_xfer : VFU_DEFAULT_MAX_DATA_XFER;
	if (chunk > VFU_DEFAULT_MAX_DATA_XFER)
		chunk = VFU_DEFAULT_MAX_DATA_XFER;
	size_t rcap = sizeof(struct vfu_hdr) + sizeof(struct vfu_dma_access) + (write ? 0 : chunk);
	uint8_t *rbuf = malloc(rcap);
	if (!rbuf)
		return -ENOMEM;
	int rc = 0;
	size_t done = 0;
	while (done < len) {
		size_t n = len - done < chunk ? len - done : chunk;
		struct vfu_dma_access a = { .addr = iova + done, .count = n };
		long r;
		if (write) {
			r = s2c_call(c, VFU_CMD_DMA_WRITE, &a, sizeof(a), (uint8_t *)buf + done, n,
				     rbuf, rcap, false);
			if (r >= 0 && (size_t)r < sizeof(struct vfu_hdr) + 12)
				r = -EPROTO;
		} else {
			r = s2c_call(c, VFU_CMD_DMA_READ, &a, sizeof(a), NULL, 0, rbuf, rcap, false);
			if (r >= 0) {
				struct vfu_dma_access ra;
				memcpy(&ra, rbuf + sizeof(struct vfu_hdr), sizeof(ra));
				if ((size_t)r != sizeof(struct vfu_hdr) + sizeof(ra) + n ||
				    ra.count != n || ra.addr != a.addr)
					r = -EPROTO;
				else
					memcpy((uint8_t *)buf + done,
					       rbuf + sizeof(struct vfu_hdr) + sizeof(ra), n);
			}
		}
		if (r < 0) {
			rc = (int)r;
			break;
		}
		done += n;
	}
	free(rbuf);
	return rc;
}

/*
 * The DMA window table of a client: a balanced tree (tsearch) of disjoint
 * windows ordered by address, so that map, unmap and every DMA lookup cost
 * O(log n) (bench_dma: a linear table made one map cost grow with the
 * number of windows). Two ranges compare equal when they overlap, which is
 * a consistent order over disjoint windows: looking up any range finds a
 * window overlapping it, if there is one.
 */
#define SIM_SERVER_MAX_WINDOWS 65536

static int win_cmp(const void *a, const void *b)
{
	const struct sim_win *x = a, *y = b;
	if (x->addr + (x->size - 1) < y->addr)
		return -1;
	if (y->addr + (y->size - 1) < x->addr)
		return 1;
	return 0;
}

/* The window overlapping [addr, addr+size), or NULL. Caller holds dma_lock. */
static struct sim_win *win_find(struct sim_client *c, uint64_t addr, uint64_t size)
{
	struct sim_win key = { .addr = addr, .size = size ? size : 1 };
	struct sim_win **w = tfind(&key, &c->wins, win_cmp);
	return w ? *w : NULL;
}

static int dma_xfer(struct sim_dev *d, uint64_t client_id, uint64_t iova, void *buf, size_t len,
		    bool write)
{
	struct sim_client *c = client_get(d, client_id);
	if (!c)
		return -EFAULT;
	int rc = -EFAULT;
	bool via_msg = false;
	uint32_t need = write ? VFU_DMA_F_WRITE : VFU_DMA_F_READ;
	pthread_mutex_lock(&c->dma_lock);
	struct sim_win *w = len ? win_find(c, iova, 1) : NULL;
	if (w && iova - w->addr <= w->size && len <= w->size - (iova - w->addr) &&
	    (w->flags & need)) {
		if (w->map) {
			if (write)
				memcpy(w->map + (iova - w->addr), buf, len);
			else
				memcpy(buf, w->map + (iova - w->addr), len);
			rc = 0;
		} else {
			via_msg = true;
		}
	}
	pthread_mutex_unlock(&c->dma_lock);
	if (via_msg) {
		rc = dma_msgs(c, iova, buf, len, write);
		if (rc)
			sim_log("%s: DMA message transfer failed: %s", d->name, strerror(-rc));
		if (rc)
			rc = -EFAULT;
	}
	client_put(c);
	return rc;
}

int sim_dma_read(struct sim_dev *d, uint64_t client_id, uint64_t iova, void *buf, size_t len)
{
	return dma_xfer(d, client_id, iova, buf, len, false);
}

int sim_dma_write(struct sim_dev *d, uint64_t client_id, uint64_t iova, const void *buf,
		  size_t len)
{
	return dma_xfer(d, client_id, iova, (void *)(uintptr_t)buf, len, true);
}

static void win_release(struct sim_win *w)
{
	if (w->map_base)
		munmap(w->map_base, w->map_len);
	memset(w, 0, sizeof(*w));
}

/* ------------------------------------------------------------------------ */
/* Commands                                                                  */
/* ------------------------------------------------------------------------ */

struct req {
	struct sim_client *cl;
	const struct vfu_hdr *hdr;
	const uint8_t *p; /* payload */
	size_t len;
	int *fds;
	size_t nfds;
	bool close_conn; /* disconnect after handling */
};

static int cmd_version(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct sim_dev *d = cl->d;
	struct vfu_version v;
	json_object *in = NULL, *caps = NULL, *out = NULL;
	int want = BORROW_SHARED;
	bool twin = false, faults = false;
	int err = 0;
	int pair[2] = { -1, -1 };

	r->close_conn = true; /* unless it all works out */
	if (cl->borrow != BORROW_NONE || r->len < sizeof(v))
		return send_error(cl, r->hdr, EINVAL);
	memcpy(&v, r->p, sizeof(v));
	if (v.major != VFU_PROTO_MAJOR)
		return send_error(cl, r->hdr, ENOTSUP);
	if (r->len > sizeof(v)) {
		const char *js = (const char *)r->p + sizeof(v);
		size_t jl = r->len - sizeof(v);
		if (!memchr(js, '\0', jl))
			return send_error(cl, r->hdr, EINVAL);
		in = json_tokener_parse(js);
		if (!in || !json_object_is_type(in, json_type_object)) {
			err = EINVAL;
			goto done;
		}
		if (json_object_object_get_ex(in, "capabilities", &caps) &&
		    json_object_is_type(caps, json_type_object)) {
			json_object *o, *s;
			if (json_object_object_get_ex(caps, "max_data_xfer_size", &o) &&
			    json_object_is_type(o, json_type_int)) {
				int64_t x = json_object_get_int64(o);
				cl->max_xfer = x < 1 ? 1 : x > (int64_t)VFU_DEFAULT_MAX_DATA_XFER
								      ? VFU_DEFAULT_MAX_DATA_XFER
								      : (uint32_t)x;
			}
			if (json_object_object_get_ex(caps, "twin_socket", &o) &&
			    json_object_object_get_ex(o, "supported", &s))
				twin = json_object_get_boolean(s);
			if (!sim_no_udd_ext && json_object_object_get_ex(caps, VFU_UDD_CAP, &o) &&
			    json_object_is_type(o, json_type_object)) {
				if (json_object_object_get_ex(o, VFU_UDD_CAP_BORROW, &s)) {
					const char *m = json_object_get_string(s);
					if (m && !strcmp(m, "probe"))
						want = BORROW_PROBE;
					else if (m && !strcmp(m, "shared"))
						want = BORROW_SHARED;
					else if (m && !strcmp(m, "exclusive"))
						want = BORROW_EXCL;
					else {
						err = EINVAL;
						goto done;
					}
				}
				if (json_object_object_get_ex(o, VFU_UDD_CAP_DMA_FAULTS, &s))
					faults = json_object_get_boolean(s);
			}
		}
	}

	/* Borrow enforcement. A holder whose peer has hung up (returned its
	 * device, or died) releases its borrow now, not when its thread gets
	 * round to reading the EOF: a return followed by a borrow then never
	 * sees a stale EBUSY. */
	pthread_mutex_lock(&d->clients_lock);
	for (struct sim_client *o = d->clients; o; o = o->next) {
		if (o == cl || (o->borrow != BORROW_SHARED && o->borrow != BORROW_EXCL))
			continue;
		struct pollfd pf = { .fd = o->sock, .events = POLLRDHUP };
		if (poll(&pf, 1, 0) == 1 && (pf.revents & (POLLRDHUP | POLLHUP | POLLERR))) {
			if (o->borrow == BORROW_SHARED)
				d->n_shared--;
			else
				d->n_excl--;
			o->borrow = BORROW_PROBE; /* no longer counted; its thread is ending */
		}
	}
	if ((want == BORROW_EXCL && (d->n_shared || d->n_excl)) ||
	    (want == BORROW_SHARED && d->n_excl)) {
		err = EBUSY;
	} else {
		cl->borrow = want;
		if (want == BORROW_SHARED)
			d->n_shared++;
		else if (want == BORROW_EXCL)
			d->n_excl++;
	}
	pthread_mutex_unlock(&d->clients_lock);
	if (err)
		goto done;
	cl->dma_faults = faults;

	out = json_object_new_object();
	json_object *oc = json_object_new_object();
	json_object_object_add(out, "capabilities", oc);
	json_object_object_add(oc, "max_msg_fds", json_object_new_int(VFU_MAX_FDS));
	json_object_object_add(oc, "max_data_xfer_size",
			       json_object_new_int64(VFU_DEFAULT_MAX_DATA_XFER));
	json_object_object_add(oc, "max_dma_maps", json_object_new_int(SIM_SERVER_MAX_WINDOWS));
	json_object_object_add(oc, "pgsizes", json_object_new_int64(4096));
	if (twin) {
		if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0) {
			err = errno;
			goto done;
		}
		json_object *t = json_object_new_object();
		json_object_object_add(t, "supported", json_object_new_boolean(1));
		json_object_object_add(t, "fd_index", json_object_new_int(0));
		json_object_object_add(oc, "twin_socket", t);
	}
	if (caps && !sim_no_udd_ext && json_object_object_get_ex(caps, VFU_UDD_CAP, NULL)) {
		json_object *u = json_object_new_object();
		json_object_object_add(u, VFU_UDD_CAP_BORROW,
				       json_object_new_string(borrow_names[want]));
		if (faults)
			json_object_object_add(u, VFU_UDD_CAP_DMA_FAULTS,
					       json_object_new_boolean(1));
		json_object_object_add(oc, VFU_UDD_CAP, u);
	}
	const char *js = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
	struct vfu_version rv = { .major = VFU_PROTO_MAJOR,
				  .minor = v.minor < VFU_PROTO_MINOR ? v.minor : VFU_PROTO_MINOR };
	int rc = send_reply(cl, r->hdr, &rv, sizeof(rv), js, strlen(js) + 1, &pair[1], twin ? 1 : 0);
	if (pair[1] >= 0)
		close(pair[1]);
	if (rc == 0) {
		cl->twin = pair[0];
		r->close_conn = false;
		sim_log("%s: client %llu: borrow %s%s%s", d->name, (unsigned long long)cl->id,
			borrow_names[want], twin ? ", twin socket" : "", faults ? ", dma faults" : "");
	} else if (pair[0] >= 0) {
		close(pair[0]);
	}
	json_object_put(in);
	json_object_put(out);
	return rc;
done:
	json_object_put(in);
	json_object_put(out);
	if (pair[0] >= 0)
		close(pair[0]);
	if (pair[1] >= 0)
		close(pair[1]);
	return send_error(cl, r->hdr, err);
}

static int cmd_device_info(struct req *r)
{
	struct vfu_device_info in, out;
	if (r->len < sizeof(in))
		return send_error(r->cl, r->hdr, EINVAL);
	memcpy(&in, r->p, sizeof(in));
	if (in.argsz < sizeof(in))
		return send_error(r->cl, r->hdr, EINVAL);
	out = (struct vfu_device_info){ .argsz = sizeof(out),
					.flags = VFIO_DEVICE_FLAGS_PCI,
					.num_regions = VFIO_PCI_NUM_REGIONS,
					.num_irqs = VFIO_PCI_NUM_IRQS };
	if (r->cl->d->model->reset)
		out.flags |= VFIO_DEVICE_FLAGS_RESET;
	return send_reply(r->cl, r->hdr, &out, sizeof(out), NULL, 0, NULL, 0);
}

static uint64_t region_size(struct sim_dev *d, uint32_t idx)
{
	if (idx < SIM_NUM_BARS)
		return d->bars[idx].size;
	if (idx == VFIO_PCI_CONFIG_REGION_INDEX)
		return d->cfg_size;
	return 0;
}

static int cmd_region_info(struct req *r)
{
	struct sim_dev *d = r->cl->d;
	struct vfu_region_info in, out;
	if (r->len < sizeof(in))
		return send_error(r->cl, r->hdr, EINVAL);
	memcpy(&in, r->p, sizeof(in));
	if (in.argsz < sizeof(in) || in.index >= VFIO_PCI_NUM_REGIONS)
		return send_error(r->cl, r->hdr, EINVAL);
	memset(&out, 0, sizeof(out));
	out.argsz = sizeof(out);
	out.index = in.index;
	out.size = region_size(d, in.index);
	if (out.size)
		out.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	const struct sim_bar *b = in.index < SIM_NUM_BARS ? &d->bars[in.index] : NULL;
	if (!b || b->memfd < 0 || !b->nareas)
		return send_reply(r->cl, r->hdr, &out, sizeof(out), NULL, 0, NULL, 0);

	uint8_t caps[sizeof(struct vfu_cap_sparse_mmap) + SIM_MAX_AREAS * sizeof(struct vfu_sparse_area)];
	struct vfu_cap_sparse_mmap sp = {
		.hdr = { .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1, .next = 0 },
		.nr_areas = b->nareas,
	};
	size_t clen = sizeof(sp) + b->nareas * sizeof(struct vfu_sparse_area);
	memcpy(caps, &sp, sizeof(sp));
	memcpy(caps + sizeof(sp), b->areas, b->nareas * sizeof(struct vfu_sparse_area));
	out.flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
	out.argsz = (uint32_t)(sizeof(out) + clen);
	if (in.argsz < out.argsz) /* too small: fixed part only, with the size needed */
		return send_reply(r->cl, r->hdr, &out, sizeof(out), NULL, 0, NULL, 0);
	out.cap_offset = sizeof(out);
	out.offset = 0; /* mmap offset into the fd */
	return send_reply(r->cl, r->hdr, &out, sizeof(out), caps, clen, &b->memfd, 1);
}

/* Validate a region access; 0 or errno. */
static int check_access(struct sim_dev *d, const struct vfu_region_access *a)
{
	if (a->region >= VFIO_PCI_NUM_REGIONS || a->count == 0 ||
	    a->count > VFU_DEFAULT_MAX_DATA_XFER)
		return EINVAL;
	uint64_t size = region_size(d, a->region);
	if (a->offset >= size || a->count > size - a->offset)
		return EINVAL;
	return 0;
}

static bool in_area(const struct sim_bar *b, uint64_t off, uint32_t len)
{
	if (!b->mem)
		return false;
	for (uint32_t i = 0; i < b->nareas; i++)
		if (off >= b->areas[i].offset && off - b->areas[i].offset < b->areas[i].size &&
		    len <= b->areas[i].size - (off - b->areas[i].offset))
			return true;
	return false;
}

static int cmd_region_read(struct req *r)
{
	struct sim_dev *d = r->cl->d;
	struct vfu_region_access a;
	if (r->len != sizeof(a))
		return send_error(r->cl, r->hdr, EINVAL);
	memcpy(&a, r->p, sizeof(a));
	int err = check_access(d, &a);
	if (err)
		return send_error(r->cl, r->hdr, err);
	uint8_t *buf = calloc(1, a.count);
	if (!buf)
		return send_error(r->cl, r->hdr, ENOMEM);
	int rc = 0;
	pthread_mutex_lock(&d->lock);
	if (a.region == VFIO_PCI_CONFIG_REGION_INDEX) {
		sim_cfg_read(d, (unsigned)a.offset, buf, a.count);
	} else {
		const struct sim_bar *b = &d->bars[a.region];
		if (in_area(b, a.offset, a.count))
			memcpy(buf, b->mem + a.offset, a.count);
		else if (d->model->bar_read)
			rc = d->model->bar_read(d, (int)a.region, a.offset, buf, a.count);
	}
	pthread_mutex_unlock(&d->lock);
	if (rc)
		rc = send_error(r->cl, r->hdr, -rc);
	else
		rc = send_reply(r->cl, r->hdr, &a, sizeof(a), buf, a.count, NULL, 0);
	free(buf);
	return rc;
}

static int cmd_region_write(struct req *r)
{
	struct sim_dev *d = r->cl->d;
	struct vfu_region_access a;
	if (r->len < sizeof(a))
		return send_error(r->cl, r->hdr, EINVAL);
	memcpy(&a, r->p, sizeof(a));
	if (a.count != r->len - sizeof(a))
		return send_error(r->cl, r->hdr, EINVAL);
	int err = check_access(d, &a);
	if (err)
		return send_error(r->cl, r->hdr, err);
	if (r->cl->borrow == BORROW_PROBE)
		return send_error(r->cl, r->hdr, EPERM);
	const uint8_t *data = r->p + sizeof(a);
	int rc = 0;
	pthread_mutex_lock(&d->lock);
	if (a.region == VFIO_PCI_CONFIG_REGION_INDEX) {
		sim_cfg_write(d, (unsigned)a.offset, data, a.count);
	} else {
		struct sim_bar *b = &d->bars[a.region];
		if (in_area(b, a.offset, a.count))
			memcpy(b->mem + a.offset, data, a.count);
		else if (d->model->bar_write)
			rc = d->model->bar_write(d, (int)a.region, a.offset, data, a.count, r->cl->id);
	}
	pthread_mutex_unlock(&d->lock);
	if (rc)
		return send_error(r->cl, r->hdr, -rc);
	return send_reply(r->cl, r->hdr, &a, sizeof(a), NULL, 0, NULL, 0);
}

static int cmd_irq_info(struct req *r)
{
	struct vfu_irq_info in, out;
	if (r->len < sizeof(in))
		return send_error(r->cl, r->hdr, EINVAL);
	memcpy(&in, r->p, sizeof(in));
	if (in.argsz < sizeof(in) || in.index >= SIM_NUM_IRQ_IDX)
		return send_error(r->cl, r->hdr, EINVAL);
	out = (struct vfu_irq_info){ .argsz = sizeof(out),
				     .flags = VFIO_IRQ_INFO_EVENTFD,
				     .index = in.index,
				     .count = r->cl->d->model->irq_count[in.index] };
	if (in.index == VFIO_PCI_INTX_IRQ_INDEX)
		out.flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		out.flags |= VFIO_IRQ_INFO_NORESIZE;
	return send_reply(r->cl, r->hdr, &out, sizeof(out), NULL, 0, NULL, 0);
}

static int cmd_set_irqs(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct sim_dev *d = cl->d;
	struct vfu_irq_set s;
	if (r->len < sizeof(s))
		return send_error(cl, r->hdr, EINVAL);
	memcpy(&s, r->p, sizeof(s));
	if (cl->borrow == BORROW_PROBE)
		return send_error(cl, r->hdr, EPERM);
	uint32_t dt = s.flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t act = s.flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	if (s.argsz < sizeof(s) || s.index >= SIM_NUM_IRQ_IDX ||
	    (s.flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) ||
	    __builtin_popcount(dt) != 1 || __builtin_popcount(act) != 1)
		return send_error(cl, r->hdr, EINVAL);
	uint32_t n = d->model->irq_count[s.index];
	if (n > SIM_MAX_VECTORS)
		n = SIM_MAX_VECTORS;
	size_t extra = r->len - sizeof(s);
	const uint8_t *bools = r->p + sizeof(s);

	if (s.count == 0) {
		if (dt != VFIO_IRQ_SET_DATA_NONE || act != VFIO_IRQ_SET_ACTION_TRIGGER || r->nfds)
			return send_error(cl, r->hdr, EINVAL);
		pthread_mutex_lock(&cl->irq_lock);
		irq_disable(cl, s.index);
		pthread_mutex_unlock(&cl->irq_lock);
		return send_reply(cl, r->hdr, NULL, 0, NULL, 0, NULL, 0);
	}
	if (s.start >= n || s.count > n - s.start)
		return send_error(cl, r->hdr, EINVAL);
	if (dt == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (act != VFIO_IRQ_SET_ACTION_TRIGGER || r->nfds != s.count)
			return send_error(cl, r->hdr, EINVAL);
	} else if (r->nfds) {
		return send_error(cl, r->hdr, EINVAL);
	}
	if (dt == VFIO_IRQ_SET_DATA_BOOL && extra < s.count)
		return send_error(cl, r->hdr, EINVAL);
	if ((act == VFIO_IRQ_SET_ACTION_MASK || act == VFIO_IRQ_SET_ACTION_UNMASK) &&
	    s.index != VFIO_PCI_INTX_IRQ_INDEX)
		return send_error(cl, r->hdr, EINVAL);

	bool reassert = false;
	if (act == VFIO_IRQ_SET_ACTION_UNMASK && d->model->intx_asserted) {
		pthread_mutex_lock(&d->lock);
		reassert = d->model->intx_asserted(d);
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_lock(&cl->irq_lock);
	for (uint32_t i = 0; i < s.count; i++) {
		uint32_t v = s.start + i;
		bool on = dt == VFIO_IRQ_SET_DATA_BOOL ? bools[i] != 0 : true;
		switch (act) {
		case VFIO_IRQ_SET_ACTION_TRIGGER:
			if (dt == VFIO_IRQ_SET_DATA_EVENTFD) {
				if (cl->irq_fd[s.index][v] >= 0)
					close(cl->irq_fd[s.index][v]);
				cl->irq_fd[s.index][v] = r->fds[i];
				r->fds[i] = -1;
				cl->irq_masked[s.index][v] = false;
			} else if (on && cl->irq_fd[s.index][v] >= 0) {
				signal_fd(cl->irq_fd[s.index][v]);
			}
			break;
		case VFIO_IRQ_SET_ACTION_MASK:
			if (on)
				cl->irq_masked[s.index][v] = true;
			break;
		case VFIO_IRQ_SET_ACTION_UNMASK:
			if (on && cl->irq_masked[s.index][v]) {
				cl->irq_masked[s.index][v] = false;
				if (reassert)
					client_raise(cl, 0);
			}
			break;
		}
	}
	pthread_mutex_unlock(&cl->irq_lock);
	return send_reply(cl, r->hdr, NULL, 0, NULL, 0, NULL, 0);
}

static int cmd_dma_map(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct vfu_dma_map m;
	if (r->len < sizeof(m))
		return send_error(cl, r->hdr, EINVAL);
	memcpy(&m, r->p, sizeof(m));
	if (cl->borrow == BORROW_PROBE)
		return send_error(cl, r->hdr, EPERM);
	if (m.argsz < sizeof(m) || m.size == 0 || m.addr + m.size < m.addr ||
	    (m.flags & ~(VFU_DMA_F_READ | VFU_DMA_F_WRITE)) || r->nfds > 1)
		return send_error(cl, r->hdr, EINVAL);
	struct sim_win w = { .addr = m.addr, .size = m.size, .flags = m.flags };
	if (r->nfds == 1) {
		long pg = sysconf(_SC_PAGESIZE);
		uint64_t delta = m.offset % (uint64_t)pg;
		if (m.size > SIZE_MAX - delta || m.offset > INT64_MAX)
			return send_error(cl, r->hdr, EINVAL);
		int prot = ((m.flags & VFU_DMA_F_READ) ? PROT_READ : 0) |
			   ((m.flags & VFU_DMA_F_WRITE) ? PROT_WRITE : 0);
		void *p = mmap(NULL, m.size + delta, prot ? prot : PROT_READ, MAP_SHARED, r->fds[0],
			       (off_t)(m.offset - delta));
		if (p == MAP_FAILED)
			return send_error(cl, r->hdr, errno);
		w.map_base = p;
		w.map_len = m.size + delta;
		w.map = (uint8_t *)p + delta;
	}
	int err = 0;
	struct sim_win *nw = malloc(sizeof(*nw));
	pthread_mutex_lock(&cl->dma_lock);
	if (!nw)
		err = ENOMEM;
	else if (win_find(cl, m.addr, m.size))
		err = EEXIST;
	else if (cl->nwins >= SIM_SERVER_MAX_WINDOWS)
		err = ENOSPC;
	if (!err) {
		*nw = w;
		if (tsearch(nw, &cl->wins, win_cmp))
			cl->nwins++;
		else
			err = ENOMEM;
	}
	pthread_mutex_unlock(&cl->dma_lock);
	if (err) {
		free(nw);
		win_release(&w);
		return send_error(cl, r->hdr, err);
	}
	return send_reply(cl, r->hdr, NULL, 0, NULL, 0, NULL, 0);
}

static int cmd_dma_unmap(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct vfu_dma_unmap u;
	if (r->len < sizeof(u))
		return send_error(cl, r->hdr, EINVAL);
	memcpy(&u, r->p, sizeof(u));
	if (cl->borrow == BORROW_PROBE)
		return send_error(cl, r->hdr, EPERM);
	if (u.argsz < sizeof(u) || u.flags)
		return send_error(cl, r->hdr, EINVAL);
	int err = ENOENT;
	pthread_mutex_lock(&cl->dma_lock);
	struct sim_win *w = u.size ? win_find(cl, u.addr, u.size) : NULL;
	if (w && w->addr == u.addr && w->size == u.size) {
		tdelete(w, &cl->wins, win_cmp);
		cl->nwins--;
		win_release(w);
		free(w);
		err = 0;
	}
	pthread_mutex_unlock(&cl->dma_lock);
	if (err)
		return send_error(cl, r->hdr, err);
	return send_reply(cl, r->hdr, &u, sizeof(u), NULL, 0, NULL, 0);
}

static int cmd_reset(struct req *r)
{
	struct sim_dev *d = r->cl->d;
	if (r->cl->borrow == BORROW_PROBE)
		return send_error(r->cl, r->hdr, EPERM);
	if (!d->model->reset)
		return send_error(r->cl, r->hdr, ENOTSUP);
	pthread_mutex_lock(&d->lock);
	d->model->reset(d);
	pthread_mutex_unlock(&d->lock);
	return send_reply(r->cl, r->hdr, NULL, 0, NULL, 0, NULL, 0);
}

static int dispatch(struct req *r)
{
	if (r->cl->borrow == BORROW_NONE && r->hdr->cmd != VFU_CMD_VERSION) {
		r->close_conn = true;
		return send_error(r->cl, r->hdr, EINVAL);
	}
	switch (r->hdr->cmd) {
	case VFU_CMD_VERSION:
		return cmd_version(r);
	case VFU_CMD_DMA_MAP:
		return cmd_dma_map(r);
	case VFU_CMD_DMA_UNMAP:
		return cmd_dma_unmap(r);
	case VFU_CMD_DEVICE_GET_INFO:
		return cmd_device_info(r);
	case VFU_CMD_DEVICE_GET_REGION_INFO:
		return cmd_region_info(r);
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		return cmd_irq_info(r);
	case VFU_CMD_DEVICE_SET_IRQS:
		return cmd_set_irqs(r);
	case VFU_CMD_REGION_READ:
		return cmd_region_read(r);
	case VFU_CMD_REGION_WRITE:
		return cmd_region_write(r);
	case VFU_CMD_DEVICE_RESET:
		return cmd_reset(r);
	default:
		return send_error(r->cl, r->hdr, ENOSYS);
	}
}

/* A reply from the client to a server-to-client command on the main socket. */
static void deliver_reply(struct sim_client *cl, const void *msg, long len)
{
	const struct vfu_hdr *h = msg;
	pthread_mutex_lock(&cl->rep_lock);
	if (cl->rep_waiting && !cl->rep_ready && h->msg_id == cl->rep_id) {
		if ((size_t)len <= cl->rep_cap) {
			memcpy(cl->rep_buf, msg, (size_t)len);
			cl->rep_len = len;
		} else {
			cl->rep_len = -EMSGSIZE;
		}
		cl->rep_ready = true;
		pthread_cond_broadcast(&cl->rep_cv);
	}
	pthread_mutex_unlock(&cl->rep_lock);
}

/* ------------------------------------------------------------------------ */
/* Client thread                                                             */
/* ------------------------------------------------------------------------ */

static void win_free(void *p)
{
	win_release(p);
	free(p);
}

static void client_free(struct sim_client *cl)
{
	tdestroy(cl->wins, win_free);
	cl->wins = NULL;
	cl->nwins = 0;
	for (unsigned i = 0; i < SIM_NUM_IRQ_IDX; i++)
		irq_disable(cl, i);
	if (cl->twin >= 0)
		close(cl->twin);
	if (cl->sock >= 0)
		close(cl->sock);
	pthread_mutex_destroy(&cl->send_lock);
	pthread_mutex_destroy(&cl->s2c_lock);
	pthread_mutex_destroy(&cl->rep_lock);
	pthread_cond_destroy(&cl->rep_cv);
	pthread_mutex_destroy(&cl->dma_lock);
	pthread_mutex_destroy(&cl->irq_lock);
	free(cl);
}

static void *client_thread(void *arg)
{
	struct sim_client *cl = arg;
	struct sim_dev *d = cl->d;
	size_t cap = VFU_MAX_MSG_SIZE;
	uint8_t *buf = malloc(cap);
	int fds[VFU_MAX_FDS];

	while (buf) {
		size_t nfds = VFU_MAX_FDS;
		long n = vfu_msg_recv(cl->sock, buf, cap, fds, &nfds, -1);
		if (n <= 0) {
			if (n < 0)
				sim_log("%s: client %llu: receive failed: %s", d->name,
					(unsigned long long)cl->id, strerror((int)-n));
			break;
		}
		atomic_store(&sim_last_activity_ms, sim_now_ms());
		const struct vfu_hdr *h = (const void *)buf;
		if ((h->flags & VFU_F_TYPE_MASK) == VFU_F_TYPE_REPLY) {
			vfu_close_fds(fds, nfds);
			deliver_reply(cl, buf, n);
			continue;
		}
		if ((h->flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_COMMAND) {
			vfu_close_fds(fds, nfds);
			break;
		}
		struct req r = { .cl = cl,
				 .hdr = h,
				 .p = buf + sizeof(*h),
				 .len = (size_t)n - sizeof(*h),
				 .fds = fds,
				 .nfds = nfds };
		int rc = dispatch(&r);
		vfu_close_fds(fds, nfds);
		if (rc || r.close_conn)
			break;
	}
	free(buf);

	/* Disconnect: unlink, wake any waiter, wait for users, release all. */
	pthread_mutex_lock(&d->clients_lock);
	for (struct sim_client **pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	if (cl->borrow == BORROW_SHARED)
		d->n_shared--;
	else if (cl->borrow == BORROW_EXCL)
		d->n_excl--;
	pthread_mutex_unlock(&d->clients_lock);

	pthread_mutex_lock(&cl->rep_lock);
	cl->dead = true;
	pthread_cond_broadcast(&cl->rep_cv);
	pthread_mutex_unlock(&cl->rep_lock);
	shutdown(cl->sock, SHUT_RDWR);
	if (cl->twin >= 0)
		shutdown(cl->twin, SHUT_RDWR);

	pthread_mutex_lock(&d->clients_lock);
	while (cl->refs > 0)
		pthread_cond_wait(&d->clients_cv, &d->clients_lock);
	pthread_mutex_unlock(&d->clients_lock);
	sim_log("%s: client %llu gone", d->name, (unsigned long long)cl->id);
	client_free(cl);

	atomic_store(&sim_last_activity_ms, sim_now_ms());
	atomic_fetch_sub(&sim_live_clients, 1);
	pthread_mutex_lock(&d->clients_lock);
	d->n_clients--;
	pthread_cond_broadcast(&d->clients_cv);
	pthread_mutex_unlock(&d->clients_lock);
	return NULL;
}

/* ------------------------------------------------------------------------ */
/* Devices                                                                   */
/* ------------------------------------------------------------------------ */

int sim_dev_create(const struct sim_model *m, const char *name, struct sim_dev **out)
{
	struct sim_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->model = m;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->listen_fd = -1;
	d->cfg_size = 256;
	for (int i = 0; i < SIM_NUM_BARS; i++)
		d->bars[i].memfd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->clients_lock, NULL);
	pthread_cond_init(&d->clients_cv, NULL);
	int rc = m->init(d);
	if (rc) {
		for (int i = 0; i < SIM_NUM_BARS; i++) {
			if (d->bars[i].mem)
				munmap(d->bars[i].mem, d->bars[i].size);
			if (d->bars[i].memfd >= 0)
				close(d->bars[i].memfd);
		}
		pthread_cond_destroy(&d->clients_cv);
		pthread_mutex_destroy(&d->clients_lock);
		pthread_mutex_destroy(&d->lock);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int sim_dev_listen(struct sim_dev *d, const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* stale socket */
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 64) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	d->sock_path = strdup(path);
	if (!d->sock_path) {
		unlink(path);
		close(fd);
		return -ENOMEM;
	}
	d->listen_fd = fd;
	return 0;
}

int sim_dev_accept(struct sim_dev *d)
{
	int s = accept4(d->listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (s < 0)
		return -errno;
	return sim_dev_serve_fd(d, s);
}

int sim_dev_serve_fd(struct sim_dev *d, int s)
{
	struct sim_client *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(s);
		return -ENOMEM;
	}
	cl->d = d;
	cl->sock = s;
	cl->twin = -1;
	cl->borrow = BORROW_NONE;
	cl->max_xfer = VFU_DEFAULT_MAX_DATA_XFER;
	cl->id = atomic_fetch_add(&next_client_id, 1);
	for (unsigned i = 0; i < SIM_NUM_IRQ_IDX; i++)
		for (unsigned j = 0; j < SIM_MAX_VECTORS; j++)
			cl->irq_fd[i][j] = -1;
	pthread_mutex_init(&cl->send_lock, NULL);
	pthread_mutex_init(&cl->s2c_lock, NULL);
	pthread_mutex_init(&cl->rep_lock, NULL);
	pthread_cond_init(&cl->rep_cv, NULL);
	pthread_mutex_init(&cl->dma_lock, NULL);
	pthread_mutex_init(&cl->irq_lock, NULL);

	pthread_mutex_lock(&d->clients_lock);
	cl->next = d->clients;
	d->clients = cl;
	d->n_clients++;
	pthread_mutex_unlock(&d->clients_lock);
	atomic_fetch_add(&sim_live_clients, 1);

	pthread_attr_t at;
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	pthread_t t;
	/* once the thread runs, cl is its own: it may end and free cl at once */
	unsigned long long id = (unsigned long long)cl->id;
	int rc = pthread_create(&t, &at, client_thread, cl);
	pthread_attr_destroy(&at);
	if (rc) {
		pthread_mutex_lock(&d->clients_lock);
		d->clients = cl->next;
		d->n_clients--;
		pthread_mutex_unlock(&d->clients_lock);
		atomic_fetch_sub(&sim_live_clients, 1);
		client_free(cl);
		return -rc;
	}
	sim_log("%s: client %llu connected", d->name, id);
	return 0;
}

void sim_dev_unplug(struct sim_dev *d)
{
	if (d->listen_fd >= 0) {
		close(d->listen_fd);
		d->listen_fd = -1;
	}
	if (d->sock_path) {
		unlink(d->sock_path);
		free(d->sock_path);
		d->sock_path = NULL;
	}
	d->unplugged = true;
	pthread_mutex_lock(&d->clients_lock);
	for (struct sim_client *c = d->clients; c; c = c->next)
		shutdown(c->sock, SHUT_RDWR);
	pthread_mutex_unlock(&d->clients_lock);
}

int sim_dev_nclients(struct sim_dev *d)
{
	pthread_mutex_lock(&d->clients_lock);
	int n = d->n_clients;
	pthread_mutex_unlock(&d->clients_lock);
	return n;
}

void sim_dev_destroy(struct sim_dev *d)
{
	if (!d)
		return;
	sim_dev_unplug(d);
	pthread_mutex_lock(&d->clients_lock);
	while (d->n_clients > 0)
		pthread_cond_wait(&d->clients_cv, &d->clients_lock);
	pthread_mutex_unlock(&d->clients_lock);
	if (d->model->fini)
		d->model->fini(d);
	for (int i = 0; i < SIM_NUM_BARS; i++) {
		if (d->bars[i].mem)
			munmap(d->bars[i].mem, d->bars[i].size);
		if (d->bars[i].memfd >= 0)
			close(d->bars[i].memfd);
	}
	pthread_cond_destroy(&d->clients_cv);
	pthread_mutex_destroy(&d->clients_lock);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

const struct sim_model *sim_model_find(const char *name)
{
	static const struct sim_model *const all[] = { &sim_model_edu, &sim_model_pio,
						       &sim_model_be };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}
