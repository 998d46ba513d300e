/* SPDX-License-Identifier: MIT */
/*
 * Interrupts: one eventfd per enabled vector, handed to the backend.
 *
 * dev->lock protects irq_type, irq_nvec and irq. Enabling and disabling hold
 * it across the backend's irq_set so that they are serialised; waiting does
 * not hold it (it copies the fd out first; disabling while another thread
 * waits is the caller's bug, as the header says).
 */
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "internal.h"

static bool irq_enabled(const struct udd_dev *dev)
{
	return dev->irq && dev->irq_type >= 0 && dev->irq_nvec > 0;
}

static struct udd_log *dev_log(struct udd_dev *dev)
{
	return dev->ctx ? &dev->ctx->log : NULL;
}

static bool dev_gone(struct udd_dev *dev)
{
	return __atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE);
}

/* Disable whatever is enabled and close the fds; dev->lock held. */
static void irq_off_locked(struct udd_dev *dev)
{
	unsigned i;
	int r;

	if (!irq_enabled(dev)) {
		free(dev->irq);
		dev->irq = NULL;
		dev->irq_nvec = 0;
		dev->irq_type = -1;
		return;
	}
	if (!dev_gone(dev)) {
		r = dev->be->irq_set(dev->bdev, (uint32_t)dev->irq_type, 0, 0, NULL);
		if (r == -ENODEV)
			udd_dev_mark_gone(dev);
		else if (r < 0)
			udd_logf(dev_log(dev), UDD_LOG_WARN, "disabling irq type %d failed: %d",
				 dev->irq_type, r);
	}
	for (i = 0; i < dev->irq_nvec; i++)
		if (dev->irq[i].efd >= 0)
			close(dev->irq[i].efd);
	free(dev->irq);
	dev->irq = NULL;
	dev->irq_nvec = 0;
	dev->irq_type = -1;
}

int udd_irq_enable(udd_dev_t *dev, unsigned type, unsigned nvec)
{
	struct udd_irq_vec *vec;
	uint32_t count = 0, flags = 0;
	int *fds;
	unsigned i;
	int r;

	if (!dev || type >= UDD_IRQ_NTYPES || nvec == 0)
		return -EINVAL;
	if (dev_gone(dev))
		return -ENODEV;
	/* enum udd_irq_type matches VFIO_PCI_{INTX,MSI,MSIX}_IRQ_INDEX */
	r = dev->be->irq_info(dev->bdev, type, &count, &flags);
	if (r == -EINVAL || r == -ENOENT || r == -ENOTSUP)
		return -ENOTSUP;
	if (r < 0)
		return r;
	if (count == 0 || nvec > count)
		return -ENOTSUP;

	vec = calloc(nvec, sizeof(*vec));
	fds = calloc(nvec, sizeof(*fds));
	if (!vec || !fds) {
		r = -ENOMEM;
		goto err_free;
	}
	for (i = 0; i < nvec; i++)
		vec[i].efd = -1;
	for (i = 0; i < nvec; i++) {
		vec[i].efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vec[i].efd < 0) {
			r = -errno;
			goto err_close;
		}
		fds[i] = vec[i].efd;
	}

	pthread_mutex_lock(&dev->lock);
	irq_off_locked(dev);
	r = dev->be->irq_set(dev->bdev, type, 0, nvec, fds);
	if (r < 0) {
		pthread_mutex_unlock(&dev->lock);
		if (r == -ENODEV)
			udd_dev_mark_gone(dev);
		goto err_close;
	}
	dev->irq = vec;
	dev->irq_nvec = nvec;
	dev->irq_type = (int)type;
	pthread_mutex_unlock(&dev->lock);
	free(fds);
	return 0;

err_close:
	for (i = nvec; i-- > 0;)
		if (vec[i].efd >= 0)
			close(vec[i].efd);
err_free:
	free(fds);
	free(vec);
	return r;
}

int udd_irq_disable(udd_dev_t *dev)
{
	if (!dev)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	irq_off_locked(dev);
	pthread_mutex_unlock(&dev->lock);
	return 0;
}

void udd_irq_release_all(struct udd_dev *dev)
{
	if (dev)
		udd_irq_disable(dev);
}

/* The fd and type of vector @vec, or -ENOENT. */
static int irq_lookup(struct udd_dev *dev, unsigned vec, int *type)
{
	int fd = -ENOENT;

	pthread_mutex_lock(&dev->lock);
	if (irq_enabled(dev) && vec < dev->irq_nvec) {
		fd = dev->irq[vec].efd;
		if (type)
			*type = dev->irq_type;
	}
	pthread_mutex_unlock(&dev->lock);
	return fd;
}

int udd_irq_fd(udd_dev_t *dev, unsigned vec)
{
	if (!dev)
		return -EINVAL;
	return irq_lookup(dev, vec, NULL);
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * Waiting polls the vector's eventfd and, when the backend has one, the
 * peer's socket for a hang-up (POLLRDHUP; POLLHUP/POLLERR come anyway): a
 * server that dies ends the wait with -ENODEV, whatever the timeout,
 * instead of leaving the caller blocked on an eventfd nobody will signal.
 * An event that fired before the peer went is still delivered first.
 */
int udd_irq_wait(udd_dev_t *dev, unsigned vec, int timeout_ms, uint64_t *count)
{
	int64_t deadline = 0;
	int type = -1, fd, r;

	if (!dev || timeout_ms < -1)
		return -EINVAL;
	fd = irq_lookup(dev, vec, &type);
	if (fd < 0)
		return fd;
	int pfd = dev->be->peer_fd ? dev->be->peer_fd(dev->bdev) : -1;
	if (timeout_ms > 0)
		deadline = now_ms() + timeout_ms;
	for (;;) {
		bool gone = dev_gone(dev);
		struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
				       { .fd = gone ? -1 : pfd, .events = POLLRDHUP } };
		int wait = gone ? 0 : timeout_ms;
		uint64_t v;
		ssize_t n;

		if (timeout_ms > 0 && !gone) {
			int64_t left = deadline - now_ms();

			wait = left > 0 ? (int)left : 0;
		}
		r = poll(p, 2, wait);
		if (r < 0)
			return errno == EINTR ? -EINTR : -errno;
		if (r == 0)
			return gone ? -ENODEV : -ETIMEDOUT;
		if (!(p[0].revents & POLLIN)) {
			/* only the peer's socket: has it hung up? */
			if (dev->be->check(dev->bdev) == -ENODEV)
				udd_dev_mark_gone(dev);
			else
				pfd = -1; /* not a hang-up after all: stop watching it */
			continue;
		}
		n = read(fd, &v, sizeof(v));
		if (n == (ssize_t)sizeof(v)) {
			if (type == UDD_IRQ_INTX && !dev_gone(dev)) {
				/* INTx masked itself when it fired */
				r = dev->be->irq_mask(dev->bdev, VFIO_PCI_INTX_IRQ_INDEX, 0, false);
				if (r == -ENODEV)
					udd_dev_mark_gone(dev);
				else if (r < 0)
					udd_logf(dev_log(dev), UDD_LOG_WARN,
						 "unmasking INTx failed: %d", r);
			}
			if (count)
				*count = v;
			return 0;
		}
		if (n < 0 && errno == EINTR)
			return -EINTR;
		if (n < 0 && errno != EAGAIN)
			return -errno;
		/* someone else consumed it: wait again (or time out) */
		if (timeout_ms == 0)
			return gone ? -ENODEV : -ETIMEDOUT;
	}
}

static int irq_mask_common(struct udd_dev *dev, unsigned vec, bool mask)
{
	uint32_t count = 0, flags = 0;
	int type = -1, fd, r;

	if (!dev)
		return -EINVAL;
	fd = irq_lookup(dev, vec, &type);
	if (fd < 0)
		return fd;
	if (dev_gone(dev))
		return -ENODEV;
	r = dev->be->irq_info(dev->bdev, (uint32_t)type, &count, &flags);
	if (r < 0)
		return r;
	if (!(flags & VFIO_IRQ_INFO_MASKABLE))
		return -ENOTSUP;
	r = dev->be->irq_mask(dev->bdev, (uint32_t)type, vec, mask);
	if (r == -ENODEV)
		udd_dev_mark_gone(dev);
	return r < 0 ? r : 0;
}

int udd_irq_mask(udd_dev_t *dev, unsigned vec)
{
	return irq_mask_common(dev, vec, true);
}

int udd_irq_unmask(udd_dev_t *dev, unsigned vec)
{
	return irq_mask_common(dev, vec, false);
}
