/* SPDX-License-Identifier: MIT */
/*
 * udd-sim: the provider of simulated devices. Config space lives in
 * sim_dev.cfg (with write masks), BARs are model callbacks (bar_read /
 * bar_write) or memfds (sparse-mmap areas), DMA goes through the server's
 * window table (sim_dma_read/write), interrupts are the clients' own
 * eventfds (sim_irq.c), and the power-on between borrowers builds the model
 * again from scratch. Locking as described in sim.h: the device lock around
 * config space and model calls.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim_server_priv.h"

static uint32_t model_dev_flags(struct sim_dev *d)
{
	return d->model->reset ? VFIO_DEVICE_FLAGS_RESET : 0;
}

/* Device lock held. */
static uint64_t region_size(struct sim_dev *d, uint32_t idx)
{
	if (idx < SIM_NUM_BARS)
		return d->bars[idx].size;
	if (idx == VFIO_PCI_CONFIG_REGION_INDEX)
		return d->cfg_size;
	return 0;
}

static int model_region_info(struct sim_dev *d, uint32_t index, bool want_fd,
			     struct sim_region *out)
{
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	int err = 0;
	pthread_mutex_lock(&d->lock);
	out->size = region_size(d, index);
	if (out->size)
		out->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
	const struct sim_bar *b = index < SIM_NUM_BARS ? &d->bars[index] : NULL;
	if (b && b->memfd >= 0 && b->nareas) {
		out->flags |= VFIO_REGION_INFO_FLAG_MMAP;
		out->nareas = b->nareas;
		memcpy(out->areas, b->areas, b->nareas * sizeof(b->areas[0]));
		if (want_fd) {
			out->fd = dup(b->memfd); /* the memfd may be replaced once we unlock */
			if (out->fd < 0)
				err = EMFILE;
		}
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

/* Device lock held. */
static int check_access(struct sim_dev *d, uint32_t index, uint64_t off, uint32_t len)
{
	uint64_t size = region_size(d, index);
	if (off >= size || len > size - off)
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

static int model_region_read(struct sim_client *cl, uint32_t index, uint64_t off, void *buf,
			     uint32_t len)
{
	struct sim_dev *d = cl->d;
	pthread_mutex_lock(&d->lock);
	int err = check_access(d, index, off, len);
	if (!err && index == VFIO_PCI_CONFIG_REGION_INDEX) {
		sim_cfg_read(d, (unsigned)off, buf, len);
	} else if (!err) {
		const struct sim_bar *b = &d->bars[index];
		if (in_area(b, off, len))
			memcpy(buf, b->mem + off, len);
		else if (d->model->bar_read && d->priv)
			err = -d->model->bar_read(d, (int)index, off, buf, len);
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

static int model_region_write(struct sim_client *cl, uint32_t index, uint64_t off,
			      const void *buf, uint32_t len)
{
	struct sim_dev *d = cl->d;
	pthread_mutex_lock(&d->lock);
	int err = check_access(d, index, off, len);
	if (!err && index == VFIO_PCI_CONFIG_REGION_INDEX) {
		sim_cfg_write(d, (unsigned)off, buf, len);
	} else if (!err) {
		struct sim_bar *b = &d->bars[index];
		if (in_area(b, off, len))
			memcpy(b->mem + off, buf, len);
		else if (d->model->bar_write && d->priv)
			err = -d->model->bar_write(d, (int)index, off, buf, len, cl->id);
	}
	pthread_mutex_unlock(&d->lock);
	return err;
}

static int model_irq_info(struct sim_dev *d, uint32_t index, uint32_t *count, uint32_t *flags)
{
	*count = d->model->irq_count[index];
	*flags = VFIO_IRQ_INFO_EVENTFD;
	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		*flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else
		*flags |= VFIO_IRQ_INFO_NORESIZE;
	return 0;
}

static int model_reset(struct sim_client *cl)
{
	struct sim_dev *d = cl->d;
	if (!d->model->reset)
		return ENOTSUP;
	pthread_mutex_lock(&d->lock);
	if (d->priv)
		d->model->reset(d);
	for (int i = 0; i < SIM_NUM_BARS; i++)
		if (d->bars[i].mem)
			memset(d->bars[i].mem, 0, d->bars[i].size);
	pthread_mutex_unlock(&d->lock);
	sim_client_irqs_drain(cl);
	return 0;
}

/* Device lock held. */
static void bars_release(struct sim_dev *d)
{
	for (int i = 0; i < SIM_NUM_BARS; i++) {
		struct sim_bar *b = &d->bars[i];
		if (b->mem)
			munmap(b->mem, b->size);
		if (b->memfd >= 0)
			close(b->memfd);
		memset(b, 0, sizeof(*b));
		b->memfd = -1;
	}
}

/*
 * Power-on reset, after the last borrower left (the core holds borrows off
 * meanwhile): the model is torn down and built again from scratch — config
 * space, registers, DMA engine, BAR memory in new memfds (an old holder's
 * mappings reach only the old, orphaned memory).
 */
static int model_power_on(struct sim_dev *d, bool after_excl)
{
	(void)after_excl;
	if (d->model->fini && d->priv)
		d->model->fini(d); /* joins the model's threads: device lock not held */
	pthread_mutex_lock(&d->lock);
	bars_release(d);
	memset(d->cfg, 0, sizeof(d->cfg));
	memset(d->wmask, 0, sizeof(d->wmask));
	memset(d->w1cmask, 0, sizeof(d->w1cmask));
	d->cfg_size = 256;
	d->priv = NULL;
	int rc = d->model->init(d);
	if (rc)
		bars_release(d);
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static void model_destroy(struct sim_dev *d)
{
	if (d->model->fini && d->priv)
		d->model->fini(d);
	pthread_mutex_lock(&d->lock);
	bars_release(d);
	pthread_mutex_unlock(&d->lock);
}

/* --bounce-windows: a descriptor-less window of a client that announced
 * dma_sync gets a server copy (sim_bounce.c), as on a lent device. */
static int model_dma_map(struct sim_client *cl, struct sim_win *w)
{
	if (!sim_bounce_windows || w->map || !cl->dma_sync)
		return 0; /* mapped, or reached through DMA_READ/DMA_WRITE */
	return sim_bounce_alloc(cl, w);
}

static void model_dma_unmap(struct sim_client *cl, struct sim_win *w)
{
	sim_bounce_free(cl, w);
}

const struct sim_provider sim_prov_model = {
	.name = "sim",
	.dev_flags = model_dev_flags,
	.region_info = model_region_info,
	.region_read = model_region_read,
	.region_write = model_region_write,
	.irq_info = model_irq_info,
	.set_irqs = sim_model_set_irqs,
	.dma_map = model_dma_map,
	.dma_unmap = model_dma_unmap,
	.reset = model_reset,
	.power_on = model_power_on,
	.destroy = model_destroy,
};
