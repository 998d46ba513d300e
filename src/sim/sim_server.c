/* SPDX-License-Identifier: MIT */
/*
 * udd-sim server core: one listening socket per device, one thread per
 * client connection (server side of QEMU's docs/interop/vfio-user.rst),
 * borrow arbitration, and the power-on reset between borrowers. The parts:
 * see sim_server_priv.h.
 *
 * What a client cannot do to the daemon or to other clients:
 * - hang it: every receive after the first byte of a message, the VERSION
 *   that must open a connection, every send and every server-to-client
 *   command has a deadline; a client that misses one is dropped. No lock is
 *   held across a blocking call; eventfds are written non-blocking.
 * - crash it: every length, index and fd is checked (DMA fds: sim_dma.c).
 * - exhaust it: at most SIM_MAX_CLIENTS_PER_DEV connections per device, and
 *   bounded windows (sim_dma.c).
 * - reach another borrower's device state: probes read config space and
 *   infos only; the device is powered on afresh (fresh BAR memory) after
 *   its last borrower leaves, so the next one finds nothing of the last.
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

#include "sim_server_priv.h"
#include "reader.h"
#include "sockpath.h"

int sim_verbose;
bool sim_no_udd_ext;
const char *sim_pio_record;
atomic_int sim_live_clients;
atomic_ullong sim_last_activity_ms;
static atomic_ullong next_client_id = 1;

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

static struct timespec deadline_in(unsigned ms)
{
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000;
	dl.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	return dl;
}

/* ------------------------------------------------------------------------ */
/* Client lookup                                                             */
/* ------------------------------------------------------------------------ */

struct sim_client *sim_client_get(struct sim_dev *d, uint64_t id)
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

void sim_client_put(struct sim_client *c)
{
	struct sim_dev *d = c->d;
	pthread_mutex_lock(&d->clients_lock);
	if (--c->refs == 0)
		pthread_cond_broadcast(&d->clients_cv);
	pthread_mutex_unlock(&d->clients_lock);
}

/* ------------------------------------------------------------------------ */
/* Borrow arbitration                                                        */
/* ------------------------------------------------------------------------ */

static bool conflicts(int want, int other)
{
	if (other != BORROW_SHARED && other != BORROW_EXCL)
		return false;
	return want == BORROW_EXCL || (want == BORROW_SHARED && other == BORROW_EXCL);
}

/* Does every holder that conflicts with @want have a peer that hung up
 * (returned the device or died; its thread is about to release it)?
 * clients_lock held. */
static bool conflicting_holders_gone(struct sim_dev *d, struct sim_client *cl, int want)
{
	for (struct sim_client *o = d->clients; o; o = o->next) {
		if (o == cl || !conflicts(want, o->borrow))
			continue;
		struct pollfd pf = { .fd = o->sock, .events = POLLRDHUP };
		if (poll(&pf, 1, 0) != 1 || !(pf.revents & (POLLRDHUP | POLLHUP | POLLERR)))
			return false;
	}
	return true;
}

int sim_borrow_grant(struct sim_client *cl, int want)
{
	struct sim_dev *d = cl->d;
	struct timespec dl = deadline_in(SIM_RESET_WAIT_MS);
	int err = 0;
	pthread_mutex_lock(&d->clients_lock);
	for (;;) {
		if (d->broken) {
			err = ENODEV;
			break;
		}
		bool busy = (want == BORROW_EXCL && (d->n_shared || d->n_excl)) ||
			    (want == BORROW_SHARED && d->n_excl);
		if (!busy && (!d->resetting || want == BORROW_PROBE))
			break;
		/* wait only for what ends by itself: a reset, or holders whose
		 * peers are gone; a live holder means EBUSY at once */
		if (busy && !conflicting_holders_gone(d, cl, want)) {
			err = EBUSY;
			break;
		}
		if (pthread_cond_timedwait(&d->clients_cv, &d->clients_lock, &dl) == ETIMEDOUT) {
			err = EBUSY;
			break;
		}
	}
	if (!err) {
		cl->borrow = want;
		if (want == BORROW_SHARED)
			d->n_shared++;
		else if (want == BORROW_EXCL)
			d->n_excl++;
	}
	pthread_mutex_unlock(&d->clients_lock);
	return err;
}

/* ------------------------------------------------------------------------ */
/* Resets                                                                    */
/* ------------------------------------------------------------------------ */

/*
 * Power-on, after the last borrower left (d->resetting set, so no borrow is
 * granted meanwhile): the provider brings the device back to the state the
 * next borrower may expect (a simulated model is built again from scratch;
 * a lent device is reset). A failure takes the device out of service.
 */
static void dev_power_on(struct sim_dev *d, bool after_excl)
{
	int rc = d->prov->power_on ? d->prov->power_on(d, after_excl) : 0;
	if (rc) {
		sim_log("%s: power-on after the last borrower failed: %s; device out of service",
			d->name, strerror(-rc));
		pthread_mutex_lock(&d->clients_lock);
		d->broken = true;
		pthread_mutex_unlock(&d->clients_lock);
	} else {
		sim_log("%s: powered on afresh for the next borrower", d->name);
	}
}

int sim_dev_function_reset(struct sim_dev *d, struct sim_client *cl)
{
	pthread_mutex_lock(&d->clients_lock);
	int holders = d->n_shared + d->n_excl;
	pthread_mutex_unlock(&d->clients_lock);
	if (holders > 1)
		return EBUSY; /* others depend on the device's state */
	return d->prov->reset ? d->prov->reset(cl) : ENOTSUP;
}

/* ------------------------------------------------------------------------ */
/* Client thread                                                             */
/* ------------------------------------------------------------------------ */

static void client_free(struct sim_client *cl)
{
	sim_client_wins_free(cl);
	sim_client_irqs_free(cl);
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

/* Receive one message. The socket's SO_RCVTIMEO (sim_sock_deadline) bounds
 * each wait without a poll per message: a timeout before the first byte
 * (-EAGAIN) just means an idle client — unless it owes us its VERSION; a
 * timeout inside a message (-ETIMEDOUT) drops it. */
static long client_recv(struct sim_client *cl, struct vfu_reader *rd, const uint8_t **msg,
			int *fds, size_t *nfds)
{
	for (;;) {
		size_t n = *nfds;
		long r = vfu_reader_next(rd, cl->sock, msg, fds, &n);
		if (r != -EAGAIN) {
			*nfds = n;
			return r;
		}
		if (cl->borrow == BORROW_NONE) {
			sim_log("%s: client %llu: no VERSION within %d ms: dropped", cl->d->name,
				(unsigned long long)cl->id, SIM_HELLO_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
	}
}

/* Messages are read ahead (reader.h: one system call for a small message);
 * a message in the reader's buffer may be unaligned, so its header is
 * copied out and its payload is read with memcpy by every handler. */
static void client_serve(struct sim_client *cl)
{
	struct vfu_reader rd;
	int fds[VFU_MAX_FDS];
	int rc = vfu_reader_init(&rd, VFU_MAX_MSG_SIZE);
	/* VERSION within SIM_HELLO_TIMEOUT_MS; each part of a message within
	 * SIM_MSG_BODY_TIMEOUT_MS; after VERSION the wait for the next message
	 * is unbounded (an idle borrower is a borrower), and costs no timer */
	vfu_reader_set_timeouts(&rd, SIM_HELLO_TIMEOUT_MS, SIM_MSG_BODY_TIMEOUT_MS);
	bool hello = true;

	while (rc == 0) {
		size_t nfds = VFU_MAX_FDS;
		const uint8_t *msg;
		long n = client_recv(cl, &rd, &msg, fds, &nfds);
		if (n <= 0) {
			if (n < 0)
				sim_log("%s: client %llu: receive failed: %s", cl->d->name,
					(unsigned long long)cl->id, strerror((int)-n));
			break;
		}
		atomic_store(&sim_last_activity_ms, sim_now_ms());
		struct vfu_hdr h;
		memcpy(&h, msg, sizeof(h));
		if ((h.flags & VFU_F_TYPE_MASK) == VFU_F_TYPE_REPLY) {
			vfu_close_fds(fds, nfds);
			sim_deliver_reply(cl, msg, n);
			continue;
		}
		if ((h.flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_COMMAND) {
			vfu_close_fds(fds, nfds);
			break;
		}
		struct req r = { .cl = cl,
				 .hdr = &h,
				 .p = msg + sizeof(h),
				 .len = (size_t)n - sizeof(h),
				 .fds = fds,
				 .nfds = nfds };
		rc = sim_dispatch(&r);
		vfu_close_fds(fds, nfds);
		if (r.close_conn)
			rc = 1;
		if (hello && cl->borrow != BORROW_NONE) {
			vfu_reader_set_timeouts(&rd, 0, SIM_MSG_BODY_TIMEOUT_MS);
			hello = false;
		}
	}
	vfu_reader_fini(&rd);
}

/* Unlink @cl and release its borrow; true if it was the device's last
 * borrower (the caller then powers the device on afresh). */
static bool client_unlink(struct sim_client *cl, bool *excl)
{
	struct sim_dev *d = cl->d;
	pthread_mutex_lock(&d->clients_lock);
	for (struct sim_client **pp = &d->clients; *pp; pp = &(*pp)->next) {
		if (*pp == cl) {
			*pp = cl->next;
			break;
		}
	}
	bool held = cl->borrow == BORROW_SHARED || cl->borrow == BORROW_EXCL;
	*excl = cl->borrow == BORROW_EXCL;
	if (cl->borrow == BORROW_SHARED)
		d->n_shared--;
	else if (cl->borrow == BORROW_EXCL)
		d->n_excl--;
	bool last = held && !d->n_shared && !d->n_excl && !d->unplugged && !d->broken;
	if (last)
		d->resetting = true;
	pthread_cond_broadcast(&d->clients_cv);
	pthread_mutex_unlock(&d->clients_lock);
	return last;
}

static void *client_thread(void *arg)
{
	struct sim_client *cl = arg;
	struct sim_dev *d = cl->d;

	client_serve(cl);
	bool excl = false;
	bool last = client_unlink(cl, &excl);

	/* wake any server-to-client waiter, wait for users, release all */
	pthread_mutex_lock(&cl->rep_lock);
	cl->dead = true;
	pthread_cond_broadcast(&cl->rep_cv);
	pthread_mutex_unlock(&cl->rep_lock);
	sim_client_drop(cl);
	pthread_mutex_lock(&d->clients_lock);
	while (cl->refs > 0)
		pthread_cond_wait(&d->clients_cv, &d->clients_lock);
	pthread_mutex_unlock(&d->clients_lock);
	sim_log("%s: client %llu gone", d->name, (unsigned long long)cl->id);
	/* the provider lets go of what the device holds of it (interrupt
	 * eventfds), then every window is unmapped (client_free) */
	if (cl->borrow != BORROW_NONE && d->prov->detach)
		d->prov->detach(cl);
	client_free(cl);

	if (last) {
		dev_power_on(d, excl);
		pthread_mutex_lock(&d->clients_lock);
		d->resetting = false;
		pthread_cond_broadcast(&d->clients_cv);
		pthread_mutex_unlock(&d->clients_lock);
	}
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

int sim_dev_alloc(const struct sim_provider *prov, const char *name, struct sim_dev **out)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, sim_dma_budget_init);
	struct sim_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	d->prov = prov;
	snprintf(d->name, sizeof(d->name), "%s", name);
	d->listen_fd = -1;
	d->cfg_size = 256;
	for (int i = 0; i < SIM_NUM_BARS; i++)
		d->bars[i].memfd = -1;
	pthread_mutex_init(&d->lock, NULL);
	pthread_mutex_init(&d->clients_lock, NULL);
	pthread_cond_init(&d->clients_cv, NULL);
	*out = d;
	return 0;
}

void sim_dev_free(struct sim_dev *d)
{
	pthread_cond_destroy(&d->clients_cv);
	pthread_mutex_destroy(&d->clients_lock);
	pthread_mutex_destroy(&d->lock);
	free(d->sock_path);
	free(d);
}

int sim_dev_create(const struct sim_model *m, const char *name, struct sim_dev **out)
{
	struct sim_dev *d;
	int rc = sim_dev_alloc(&sim_prov_model, name, &d);
	if (rc)
		return rc;
	d->model = m;
	rc = m->init(d);
	if (rc) {
		for (int i = 0; i < SIM_NUM_BARS; i++) {
			if (d->bars[i].mem)
				munmap(d->bars[i].mem, d->bars[i].size);
			if (d->bars[i].memfd >= 0)
				close(d->bars[i].memfd);
		}
		sim_dev_free(d);
		return rc;
	}
	*out = d;
	return 0;
}

int sim_dev_listen(struct sim_dev *d, const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* stale socket */
	int e = vfu_unix_bind(fd, path); /* any length (sockpath.h) */
	if (e == 0 && listen(fd, 64) < 0)
		e = -errno;
	if (e) {
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
	pthread_mutex_lock(&d->clients_lock);
	bool full = d->n_clients >= SIM_MAX_CLIENTS_PER_DEV;
	pthread_mutex_unlock(&d->clients_lock);
	if (full) {
		sim_log("%s: %d connections already: one more refused", d->name,
			SIM_MAX_CLIENTS_PER_DEV);
		close(s);
		return -EBUSY;
	}
	struct sim_client *cl = calloc(1, sizeof(*cl));
	if (!cl) {
		close(s);
		return -ENOMEM;
	}
	sim_sock_deadline(s);
	cl->d = d;
	cl->sock = s;
	cl->twin = -1;
	cl->borrow = BORROW_NONE;
	cl->max_xfer = VFU_DEFAULT_MAX_DATA_XFER;
	cl->max_fds = 1; /* the spec's default when the client names none */
	cl->id = atomic_fetch_add(&next_client_id, 1);
	cl->pid = cl->uid = -1;
	cl->iova_slot = -1;
	struct ucred uc;
	socklen_t ul = sizeof(uc);
	if (getsockopt(s, SOL_SOCKET, SO_PEERCRED, &uc, &ul) == 0 && ul == sizeof(uc)) {
		cl->pid = (int)uc.pid;
		cl->uid = (int)uc.uid;
	}
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

void sim_dev_borrowers(struct sim_dev *d, char *buf, size_t len)
{
	size_t o = 0;
	if (len)
		buf[0] = '\0';
	pthread_mutex_lock(&d->clients_lock);
	for (struct sim_client *c = d->clients; c && o + 1 < len; c = c->next) {
		if (c->borrow != BORROW_SHARED && c->borrow != BORROW_EXCL)
			continue;
		int n = snprintf(buf + o, len - o, "%s%d/%s", o ? "," : "", c->pid,
				 sim_borrow_names[c->borrow]);
		if (n < 0 || (size_t)n >= len - o)
			break;
		o += (size_t)n;
	}
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
	if (d->prov->destroy)
		d->prov->destroy(d);
	sim_dev_free(d);
}

const struct sim_model *sim_model_find(const char *name)
{
	static const struct sim_model *const all[] = { &sim_model_edu, &sim_model_pio,
						       &sim_model_be, &sim_model_nvme };
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++)
		if (!strcmp(all[i]->name, name))
			return all[i];
	return NULL;
}
