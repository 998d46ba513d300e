/* SPDX-License-Identifier: MIT */
/*
 * udd-sim server core: interrupts. A client hands eventfds over with
 * SET_IRQS (DATA_EVENTFD | ACTION_TRIGGER); the server checks each one is
 * an eventfd and makes it non-blocking, so that raising an interrupt never
 * blocks: a counter the client let fill up loses the signal, not the server.
 * SET_IRQS with DATA_EVENTFD and no fds de-assigns the vectors named
 * (QEMU's vfio-user.rst, VFIO_USER_DEVICE_SET_IRQS).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "sim_server_priv.h"

static void signal_fd(int fd)
{
	uint64_t one = 1;
	ssize_t n = write(fd, &one, sizeof(one)); /* O_NONBLOCK: EAGAIN drops it */
	(void)n;
}

bool sim_eventfd_adopt(int fd)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	if (strcmp(link, "anon_inode:[eventfd]") != 0)
		return false;
	int fl = fcntl(fd, F_GETFL);
	return fl >= 0 && fcntl(fd, F_SETFL, fl | O_NONBLOCK) == 0;
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
		if (c->borrow != BORROW_SHARED && c->borrow != BORROW_EXCL)
			continue;
		pthread_mutex_lock(&c->irq_lock);
		client_raise(c, v);
		pthread_mutex_unlock(&c->irq_lock);
	}
	pthread_mutex_unlock(&d->clients_lock);
}

static void irq_clear(struct sim_client *c, unsigned idx, uint32_t start, uint32_t count)
{
	for (uint32_t i = start; i < start + count && i < SIM_MAX_VECTORS; i++) {
		if (c->irq_fd[idx][i] >= 0)
			close(c->irq_fd[idx][i]);
		c->irq_fd[idx][i] = -1;
		c->irq_masked[idx][i] = false;
	}
}

void sim_client_irqs_free(struct sim_client *cl)
{
	for (unsigned i = 0; i < SIM_NUM_IRQ_IDX; i++)
		irq_clear(cl, i, 0, SIM_MAX_VECTORS);
}

void sim_client_irqs_drain(struct sim_client *cl)
{
	pthread_mutex_lock(&cl->irq_lock);
	for (unsigned i = 0; i < SIM_NUM_IRQ_IDX; i++) {
		for (unsigned v = 0; v < SIM_MAX_VECTORS; v++) {
			uint64_t cnt;
			if (cl->irq_fd[i][v] >= 0 && read(cl->irq_fd[i][v], &cnt, sizeof(cnt)) < 0)
				cnt = 0; /* nothing pending (EAGAIN) */
			cl->irq_masked[i][v] = false;
		}
	}
	pthread_mutex_unlock(&cl->irq_lock);
}

int sim_cmd_irq_info(struct req *r)
{
	struct sim_dev *d = r->cl->d;
	struct vfu_irq_info in, out;
	if (r->len < sizeof(in))
		return sim_send_error(r->cl, r->hdr, EINVAL);
	memcpy(&in, r->p, sizeof(in));
	if (in.argsz < sizeof(in) || in.index >= SIM_NUM_IRQ_IDX)
		return sim_send_error(r->cl, r->hdr, EINVAL);
	out = (struct vfu_irq_info){ .argsz = sizeof(out), .index = in.index };
	int err = d->prov->irq_info(d, in.index, &out.count, &out.flags);
	if (err)
		return sim_send_error(r->cl, r->hdr, err);
	return sim_send_reply(r->cl, r->hdr, &out, sizeof(out), NULL, 0, NULL, 0);
}

/* Validate a SET_IRQS request against the device; 0 or errno. */
int sim_set_irqs_check(const struct req *r, const struct vfu_irq_set *s, uint32_t n)
{
	uint32_t dt = s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t act = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	if (s->argsz < sizeof(*s) || s->index >= SIM_NUM_IRQ_IDX ||
	    (s->flags & ~(VFIO_IRQ_SET_DATA_TYPE_MASK | VFIO_IRQ_SET_ACTION_TYPE_MASK)) ||
	    __builtin_popcount(dt) != 1 || __builtin_popcount(act) != 1)
		return EINVAL;
	if (s->count == 0)
		return dt == VFIO_IRQ_SET_DATA_NONE && act == VFIO_IRQ_SET_ACTION_TRIGGER &&
				       !r->nfds
			       ? 0
			       : EINVAL;
	if (s->start >= n || s->count > n - s->start)
		return EINVAL;
	if (dt == VFIO_IRQ_SET_DATA_EVENTFD) {
		if (act != VFIO_IRQ_SET_ACTION_TRIGGER || (r->nfds && r->nfds != s->count))
			return EINVAL;
		for (size_t i = 0; i < r->nfds; i++)
			if (!sim_eventfd_adopt(r->fds[i]))
				return EINVAL;
	} else if (r->nfds) {
		return EINVAL;
	}
	if (dt == VFIO_IRQ_SET_DATA_BOOL && r->len - sizeof(*s) < s->count)
		return EINVAL;
	if ((act == VFIO_IRQ_SET_ACTION_MASK || act == VFIO_IRQ_SET_ACTION_UNMASK) &&
	    s->index != VFIO_PCI_INTX_IRQ_INDEX)
		return EINVAL;
	return 0;
}

/* irq_lock held. */
static void set_irqs_apply(struct sim_client *cl, const struct req *r, const struct vfu_irq_set *s,
			   bool reassert)
{
	uint32_t dt = s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t act = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	const uint8_t *bools = r->p + sizeof(*s);
	if (dt == VFIO_IRQ_SET_DATA_EVENTFD && !r->nfds) {
		irq_clear(cl, s->index, s->start, s->count); /* de-assign */
		return;
	}
	for (uint32_t i = 0; i < s->count; i++) {
		uint32_t v = s->start + i;
		bool on = dt == VFIO_IRQ_SET_DATA_BOOL ? bools[i] != 0 : true;
		if (act == VFIO_IRQ_SET_ACTION_TRIGGER && dt == VFIO_IRQ_SET_DATA_EVENTFD) {
			if (cl->irq_fd[s->index][v] >= 0)
				close(cl->irq_fd[s->index][v]);
			cl->irq_fd[s->index][v] = r->fds[i];
			r->fds[i] = -1;
			cl->irq_masked[s->index][v] = false;
		} else if (act == VFIO_IRQ_SET_ACTION_TRIGGER) {
			if (on && cl->irq_fd[s->index][v] >= 0)
				signal_fd(cl->irq_fd[s->index][v]);
		} else if (act == VFIO_IRQ_SET_ACTION_MASK) {
			if (on)
				cl->irq_masked[s->index][v] = true;
		} else if (on && cl->irq_masked[s->index][v]) { /* UNMASK */
			cl->irq_masked[s->index][v] = false;
			if (reassert)
				client_raise(cl, 0);
		}
	}
}

int sim_cmd_set_irqs(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct vfu_irq_set s;
	if (r->len < sizeof(s))
		return sim_send_error(cl, r->hdr, EINVAL);
	memcpy(&s, r->p, sizeof(s));
	if (cl->borrow == BORROW_PROBE)
		return sim_send_error(cl, r->hdr, EPERM);
	int err = cl->d->prov->set_irqs(r, &s);
	if (err)
		return sim_send_error(cl, r->hdr, err);
	return sim_send_reply(cl, r->hdr, NULL, 0, NULL, 0, NULL, 0);
}

int sim_model_set_irqs(struct req *r, const struct vfu_irq_set *sp)
{
	struct sim_client *cl = r->cl;
	struct sim_dev *d = cl->d;
	struct vfu_irq_set s = *sp;
	uint32_t n = d->model->irq_count[s.index < SIM_NUM_IRQ_IDX ? s.index : 0];
	if (n > SIM_MAX_VECTORS)
		n = SIM_MAX_VECTORS;
	int err = sim_set_irqs_check(r, &s, n);
	if (err)
		return err;
	if (s.count == 0) {
		pthread_mutex_lock(&cl->irq_lock);
		irq_clear(cl, s.index, 0, SIM_MAX_VECTORS);
		pthread_mutex_unlock(&cl->irq_lock);
		return 0;
	}
	bool reassert = false;
	if ((s.flags & VFIO_IRQ_SET_ACTION_UNMASK) && d->model->intx_asserted) {
		pthread_mutex_lock(&d->lock);
		reassert = d->priv && d->model->intx_asserted(d);
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_lock(&cl->irq_lock);
	set_irqs_apply(cl, r, &s, reassert);
	pthread_mutex_unlock(&cl->irq_lock);
	return 0;
}
