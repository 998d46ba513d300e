/* SPDX-License-Identifier: MIT */
/*
 * illumos DDI compatibility: interrupts.
 *
 * udd enables all vectors of a device at once (udd_irq_enable replaces any
 * earlier enable), so the first ddi_intr_enable() enables every allocated
 * vector in udd and the last ddi_intr_disable() disables them. Each enabled
 * vector has a library thread that polls the vector's eventfd (and a stop
 * eventfd) and calls the driver's handler; for INTx it unmasks the line
 * afterwards. Handlers therefore run in a thread, not in interrupt context:
 * they may take kmutex_t locks as illumos handlers do.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "ddi_impl.h"

struct ddi_udd_intr {
	dev_info_t *dip;
	int type;                 /* DDI_INTR_TYPE_* */
	int inum;
	ddi_intr_handler_t *handler;
	void *arg1, *arg2;
	bool enabled;
	int stop_fd;              /* eventfd, -1 unless enabled */
	pthread_t thread;
};

static int to_udd_type(int type)
{
	switch (type) {
	case DDI_INTR_TYPE_FIXED: return UDD_IRQ_INTX;
	case DDI_INTR_TYPE_MSI: return UDD_IRQ_MSI;
	case DDI_INTR_TYPE_MSIX: return UDD_IRQ_MSIX;
	default: return -1;
	}
}

int ddi_intr_get_supported_types(dev_info_t *dip, int *typesp)
{
	if (!dip || !typesp)
		return DDI_EINVAL;
	int t = 0;
	if (dip->info.irq_count[UDD_IRQ_INTX])
		t |= DDI_INTR_TYPE_FIXED;
	if (dip->info.irq_count[UDD_IRQ_MSI])
		t |= DDI_INTR_TYPE_MSI;
	if (dip->info.irq_count[UDD_IRQ_MSIX])
		t |= DDI_INTR_TYPE_MSIX;
	if (!t)
		return DDI_INTR_NOTFOUND;
	*typesp = t;
	return DDI_SUCCESS;
}

int ddi_intr_get_nintrs(dev_info_t *dip, int type, int *nintrsp)
{
	int ut = to_udd_type(type);
	if (!dip || !nintrsp || ut < 0)
		return DDI_EINVAL;
	*nintrsp = (int)dip->info.irq_count[ut];
	return *nintrsp ? DDI_SUCCESS : DDI_INTR_NOTFOUND;
}

int ddi_intr_get_navail(dev_info_t *dip, int type, int *navailp)
{
	int n, rc = ddi_intr_get_nintrs(dip, type, &n);
	if (rc != DDI_SUCCESS)
		return rc;
	pthread_mutex_lock(&dip->lock);
	if (dip->intr_type == type && dip->intr)
		for (int i = 0; i < dip->intr_nvec; i++)
			if (dip->intr[i])
				n--;
	pthread_mutex_unlock(&dip->lock);
	*navailp = n;
	return DDI_SUCCESS;
}

int ddi_intr_alloc(dev_info_t *dip, ddi_intr_handle_t *h_array, int type, int inum, int count,
		   int *actualp, int behavior)
{
	int nvec;
	if (!dip || !h_array || !actualp || count < 1 || inum < 0 ||
	    (behavior != DDI_INTR_ALLOC_NORMAL && behavior != DDI_INTR_ALLOC_STRICT))
		return DDI_EINVAL;
	if (ddi_intr_get_nintrs(dip, type, &nvec) != DDI_SUCCESS || inum >= nvec)
		return DDI_EINVAL;
	if (count > nvec - inum) {
		if (behavior == DDI_INTR_ALLOC_STRICT)
			return DDI_EAGAIN;
		count = nvec - inum;
	}
	pthread_mutex_lock(&dip->lock);
	if (dip->intr_type && dip->intr_type != type) {
		pthread_mutex_unlock(&dip->lock);
		return DDI_EINVAL; /* one interrupt type per device at a time */
	}
	if (!dip->intr) {
		dip->intr = calloc((size_t)nvec, sizeof(*dip->intr));
		if (!dip->intr) {
			pthread_mutex_unlock(&dip->lock);
			return DDI_FAILURE;
		}
		dip->intr_nvec = nvec;
	}
	for (int i = inum; i < inum + count; i++) {
		if (dip->intr[i]) {
			pthread_mutex_unlock(&dip->lock);
			return DDI_EAGAIN; /* already allocated */
		}
	}
	int got = 0;
	for (; got < count; got++) {
		struct ddi_udd_intr *h = calloc(1, sizeof(*h));
		if (!h)
			break;
		h->dip = dip;
		h->type = type;
		h->inum = inum + got;
		h->stop_fd = -1;
		dip->intr[inum + got] = h;
		h_array[got] = h;
	}
	if (got < count) { /* out of memory: undo */
		for (int i = 0; i < got; i++) {
			dip->intr[inum + i] = NULL;
			free(h_array[i]);
			h_array[i] = NULL;
		}
		pthread_mutex_unlock(&dip->lock);
		return DDI_FAILURE;
	}
	dip->intr_type = type;
	pthread_mutex_unlock(&dip->lock);
	*actualp = count;
	return DDI_SUCCESS;
}

int ddi_intr_get_pri(ddi_intr_handle_t h, uint_t *prip)
{
	if (!h || !prip)
		return DDI_EINVAL;
	*prip = 5; /* a mid-level priority: handlers run in threads anyway */
	return DDI_SUCCESS;
}

int ddi_intr_get_cap(ddi_intr_handle_t h, int *flagsp)
{
	if (!h || !flagsp)
		return DDI_EINVAL;
	*flagsp = h->type == DDI_INTR_TYPE_FIXED ? (DDI_INTR_FLAG_LEVEL | DDI_INTR_FLAG_MASKABLE)
						 : DDI_INTR_FLAG_EDGE;
	return DDI_SUCCESS;
}

int ddi_intr_add_handler(ddi_intr_handle_t h, ddi_intr_handler_t inthandler, void *arg1, void *arg2)
{
	if (!h || !inthandler || h->enabled)
		return DDI_EINVAL;
	h->handler = inthandler;
	h->arg1 = arg1;
	h->arg2 = arg2;
	return DDI_SUCCESS;
}

int ddi_intr_remove_handler(ddi_intr_handle_t h)
{
	if (!h || h->enabled)
		return DDI_EINVAL;
	h->handler = NULL;
	h->arg1 = h->arg2 = NULL;
	return DDI_SUCCESS;
}

static void *intr_thread(void *arg)
{
	struct ddi_udd_intr *h = arg;
	udd_dev_t *dev = h->dip->dev;
	struct pollfd fds[2] = {
		{ .fd = udd_irq_fd(dev, (unsigned)h->inum), .events = POLLIN },
		{ .fd = h->stop_fd, .events = POLLIN },
	};
	if (fds[0].fd < 0)
		return NULL;
	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			return NULL;
		}
		if (fds[1].revents)
			return NULL;
		if (fds[0].revents & POLLIN) {
			uint64_t n;
			if (read(fds[0].fd, &n, sizeof(n)) != (ssize_t)sizeof(n))
				continue;
			(void)h->handler((caddr_t)h->arg1, (caddr_t)h->arg2);
			if (h->type == DDI_INTR_TYPE_FIXED)
				(void)udd_irq_unmask(dev, 0);
		} else if (fds[0].revents) {
			return NULL; /* the eventfd went away */
		}
	}
}

/* Highest allocated vector + 1 (dip->lock held). */
static unsigned nvec_alloc(dev_info_t *dip)
{
	unsigned n = 0;
	for (int i = 0; i < dip->intr_nvec; i++)
		if (dip->intr[i])
			n = (unsigned)i + 1;
	return n;
}

int ddi_intr_enable(ddi_intr_handle_t h)
{
	if (!h || !h->handler)
		return DDI_EINVAL;
	if (h->enabled)
		return DDI_SUCCESS;
	dev_info_t *dip = h->dip;
	pthread_mutex_lock(&dip->lock);
	if (dip->intr_enabled_count == 0) {
		int rc = udd_irq_enable(dip->dev, (unsigned)to_udd_type(h->type), nvec_alloc(dip));
		if (rc < 0) {
			pthread_mutex_unlock(&dip->lock);
			return DDI_FAILURE;
		}
	}
	h->stop_fd = eventfd(0, EFD_CLOEXEC);
	if (h->stop_fd < 0 || pthread_create(&h->thread, NULL, intr_thread, h) != 0) {
		if (h->stop_fd >= 0)
			close(h->stop_fd);
		h->stop_fd = -1;
		if (dip->intr_enabled_count == 0)
			udd_irq_disable(dip->dev);
		pthread_mutex_unlock(&dip->lock);
		return DDI_FAILURE;
	}
	h->enabled = true;
	dip->intr_enabled_count++;
	pthread_mutex_unlock(&dip->lock);
	return DDI_SUCCESS;
}

int ddi_intr_disable(ddi_intr_handle_t h)
{
	if (!h)
		return DDI_EINVAL;
	if (!h->enabled)
		return DDI_SUCCESS;
	dev_info_t *dip = h->dip;
	uint64_t one = 1;
	if (write(h->stop_fd, &one, sizeof(one)) != (ssize_t)sizeof(one))
		return DDI_FAILURE;
	if (pthread_equal(pthread_self(), h->thread))
		pthread_detach(h->thread); /* disabled from its own handler */
	else
		pthread_join(h->thread, NULL);
	close(h->stop_fd);
	h->stop_fd = -1;
	h->enabled = false;
	pthread_mutex_lock(&dip->lock);
	if (--dip->intr_enabled_count == 0)
		udd_irq_disable(dip->dev);
	pthread_mutex_unlock(&dip->lock);
	return DDI_SUCCESS;
}

int ddi_intr_free(ddi_intr_handle_t h)
{
	if (!h)
		return DDI_EINVAL;
	if (h->enabled)
		ddi_intr_disable(h);
	dev_info_t *dip = h->dip;
	pthread_mutex_lock(&dip->lock);
	if (dip->intr && h->inum < dip->intr_nvec && dip->intr[h->inum] == h)
		dip->intr[h->inum] = NULL;
	if (dip->intr && nvec_alloc(dip) == 0) {
		free(dip->intr);
		dip->intr = NULL;
		dip->intr_nvec = 0;
		dip->intr_type = 0;
	}
	pthread_mutex_unlock(&dip->lock);
	free(h);
	return DDI_SUCCESS;
}

DDI_INTERNAL void ddi_intr_release_all(dev_info_t *dip)
{
	for (;;) {
		struct ddi_udd_intr *h = NULL;
		pthread_mutex_lock(&dip->lock);
		for (int i = 0; dip->intr && i < dip->intr_nvec && !h; i++)
			h = dip->intr[i];
		pthread_mutex_unlock(&dip->lock);
		if (!h)
			break;
		ddi_intr_free(h);
	}
}
