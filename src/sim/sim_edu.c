/* SPDX-License-Identifier: MIT */
/*
 * edu: register-compatible with QEMU's educational device (hw/misc/edu.c):
 * factorial unit, interrupt raise/ack, and a DMA engine with a 4 KiB
 * buffer. Work runs on a worker thread, DMA through the windows of the
 * client that wrote the command register.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sim_devices.h"

struct edu {
	pthread_t thr;
	pthread_cond_t cv;
	bool stop, fact_pending, dma_pending;
	uint32_t addr4, fact, status, irq_status;
	uint64_t dma_src, dma_dst, dma_cnt, dma_cmd;
	uint64_t dma_client;
	uint8_t buf[EDU_DMA_BUF_SIZE];
};

/* Device lock held. */
static void edu_raise(struct sim_dev *d, uint32_t val)
{
	struct edu *e = d->priv;
	e->irq_status |= val;
	if (e->irq_status)
		sim_irq_raise(d, 0);
}

static bool edu_asserted(struct sim_dev *d)
{
	return ((struct edu *)d->priv)->irq_status != 0;
}

static bool buf_range(uint64_t addr, uint64_t cnt)
{
	return addr >= EDU_DMA_BUF && cnt <= EDU_DMA_BUF_SIZE &&
	       addr - EDU_DMA_BUF <= EDU_DMA_BUF_SIZE - cnt;
}

/* Device lock held; dropped around the transfer. */
static void edu_do_dma(struct sim_dev *d)
{
	struct edu *e = d->priv;
	uint64_t cmd = e->dma_cmd, cnt = e->dma_cnt, src = e->dma_src, dst = e->dma_dst;
	uint64_t client = e->dma_client;
	uint8_t tmp[EDU_DMA_BUF_SIZE];
	bool to_ram = (cmd & EDU_DMA_FROM_DEV) != 0;
	/* the faulting address: the RAM side, or the buffer side if out of range */
	uint64_t fault_addr = to_ram ? dst & EDU_DMA_MASK : src & EDU_DMA_MASK;
	bool ok = buf_range(to_ram ? src : dst, cnt);

	if (!ok) {
		fault_addr = to_ram ? src : dst;
	} else if (to_ram) { /* EDU buffer -> RAM */
		memcpy(tmp, e->buf + (src - EDU_DMA_BUF), cnt);
		pthread_mutex_unlock(&d->lock);
		ok = sim_dma_write(d, client, dst & EDU_DMA_MASK, tmp, cnt) == 0;
		pthread_mutex_lock(&d->lock);
	} else { /* RAM -> EDU buffer */
		pthread_mutex_unlock(&d->lock);
		ok = sim_dma_read(d, client, src & EDU_DMA_MASK, tmp, cnt) == 0;
		pthread_mutex_lock(&d->lock);
		if (ok)
			memcpy(e->buf + (dst - EDU_DMA_BUF), tmp, cnt);
	}
	e->dma_cmd &= ~(uint64_t)EDU_DMA_START;
	if (ok && (cmd & EDU_DMA_IRQ))
		edu_raise(d, EDU_IRQ_DMA);
	if (!ok) { /* reported once the engine is idle again */
		pthread_mutex_unlock(&d->lock);
		sim_dma_fault(d, client, fault_addr, cnt, to_ram);
		pthread_mutex_lock(&d->lock);
	}
}

static void *edu_worker(void *arg)
{
	struct sim_dev *d = arg;
	struct edu *e = d->priv;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!e->stop && !e->fact_pending && !e->dma_pending)
			pthread_cond_wait(&e->cv, &d->lock);
		if (e->stop)
			break;
		if (e->fact_pending) {
			/* n! mod 2^32 is 0 from n = 34 on (34! has 32 factors of 2),
			 * so the product stops there: QEMU's result, in at most
			 * 34 steps even for n = 0xffffffff, with the lock held */
			uint32_t n = e->fact, f = 1;
			for (uint32_t i = 2; i <= n && f; i++)
				f *= i;
			e->fact = f;
			e->fact_pending = false;
			e->status &= ~EDU_STATUS_COMPUTING;
			if (e->status & EDU_STATUS_IRQFACT)
				edu_raise(d, EDU_IRQ_FACT);
		}
		if (e->dma_pending) {
			e->dma_pending = false;
			pthread_mutex_unlock(&d->lock);
			sim_sleep_us(500); /* a short "transfer time" */
			pthread_mutex_lock(&d->lock);
			edu_do_dma(d);
		}
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static uint64_t get_le(const void *buf, uint32_t len)
{
	uint64_t v = 0;
	memcpy(&v, buf, len); /* x86-64: little-endian host */
	return v;
}

static int edu_read(struct sim_dev *d, int bar, uint64_t off, void *buf, uint32_t len)
{
	struct edu *e = d->priv;
	if (bar != 0)
		return -EINVAL;
	if (off >= EDU_DMA_BUF && off - EDU_DMA_BUF < EDU_DMA_BUF_SIZE) {
		if (len > EDU_DMA_BUF_SIZE - (off - EDU_DMA_BUF))
			return -EINVAL;
		memcpy(buf, e->buf + (off - EDU_DMA_BUF), len);
		return 0;
	}
	uint64_t v = ~0ull;
	if ((off < 0x80 && len != 4) || (off >= 0x80 && len != 4 && len != 8)) {
		memset(buf, 0xff, len);
		return 0;
	}
	switch (off) {
	case EDU_REG_ID:
		v = EDU_ID_VALUE;
		break;
	case EDU_REG_LIVENESS:
		v = (uint32_t)~e->addr4;
		break;
	case EDU_REG_FACT:
		v = e->fact;
		break;
	case EDU_REG_STATUS:
		v = e->status;
		break;
	case EDU_REG_IRQ_STATUS:
		v = e->irq_status;
		break;
	case EDU_REG_DMA_SRC:
		v = e->dma_src;
		break;
	case EDU_REG_DMA_DST:
		v = e->dma_dst;
		break;
	case EDU_REG_DMA_COUNT:
		v = e->dma_cnt;
		break;
	case EDU_REG_DMA_CMD:
		v = e->dma_cmd;
		break;
	}
	memcpy(buf, &v, len);
	return 0;
}

static int edu_write(struct sim_dev *d, int bar, uint64_t off, const void *buf, uint32_t len,
		     uint64_t client)
{
	struct edu *e = d->priv;
	if (bar != 0)
		return -EINVAL;
	if (off >= EDU_DMA_BUF && off - EDU_DMA_BUF < EDU_DMA_BUF_SIZE) {
		if (len > EDU_DMA_BUF_SIZE - (off - EDU_DMA_BUF))
			return -EINVAL;
		memcpy(e->buf + (off - EDU_DMA_BUF), buf, len);
		return 0;
	}
	if ((off < 0x80 && len != 4) || (off >= 0x80 && len != 4 && len != 8))
		return 0; /* ignored, as QEMU does */
	uint64_t v = get_le(buf, len);
	switch (off) {
	case EDU_REG_LIVENESS:
		e->addr4 = (uint32_t)v;
		break;
	case EDU_REG_FACT:
		if (e->status & EDU_STATUS_COMPUTING)
			break;
		e->status |= EDU_STATUS_COMPUTING;
		e->fact = (uint32_t)v;
		e->fact_pending = true;
		pthread_cond_signal(&e->cv);
		break;
	case EDU_REG_STATUS:
		if (v & EDU_STATUS_IRQFACT)
			e->status |= EDU_STATUS_IRQFACT;
		else
			e->status &= ~EDU_STATUS_IRQFACT;
		break;
	case EDU_REG_IRQ_RAISE:
		edu_raise(d, (uint32_t)v);
		break;
	case EDU_REG_IRQ_ACK:
		e->irq_status &= ~(uint32_t)v;
		break;
	case EDU_REG_DMA_SRC:
		e->dma_src = v;
		break;
	case EDU_REG_DMA_DST:
		e->dma_dst = v;
		break;
	case EDU_REG_DMA_COUNT:
		e->dma_cnt = v;
		break;
	case EDU_REG_DMA_CMD:
		if (!(v & EDU_DMA_START) || (e->dma_cmd & EDU_DMA_START))
			break;
		e->dma_cmd = v;
		e->dma_client = client;
		e->dma_pending = true;
		pthread_cond_signal(&e->cv);
		break;
	}
	return 0;
}

static int edu_init(struct sim_dev *d)
{
	struct edu *e = calloc(1, sizeof(*e));
	if (!e)
		return -ENOMEM;
	sim_cfg_header(d, EDU_VENDOR_ID, EDU_DEVICE_ID, EDU_CLASS, EDU_REVISION, 1);
	sim_cfg_bar(d, 0, EDU_BAR0_SIZE, 0);
	sim_cfg_msi(d, 0x40, true);
	pthread_cond_init(&e->cv, NULL);
	d->priv = e;
	int rc = pthread_create(&e->thr, NULL, edu_worker, d);
	if (rc) {
		pthread_cond_destroy(&e->cv);
		free(e);
		d->priv = NULL;
		return -rc;
	}
	return 0;
}

static void edu_fini(struct sim_dev *d)
{
	struct edu *e = d->priv;
	pthread_mutex_lock(&d->lock);
	e->stop = true;
	pthread_cond_signal(&e->cv);
	pthread_mutex_unlock(&d->lock);
	pthread_join(e->thr, NULL);
	pthread_cond_destroy(&e->cv);
	free(e);
	d->priv = NULL;
}

const struct sim_model sim_model_edu = {
	.name = "edu",
	.init = edu_init,
	.fini = edu_fini,
	.bar_read = edu_read,
	.bar_write = edu_write,
	.reset = NULL, /* as QEMU: no function reset */
	.intx_asserted = edu_asserted,
	.irq_count = { 1, 1, 0, 0, 0 },
};
