/* SPDX-License-Identifier: MIT */
/*
 * pio: the fictional character device of the illumos DDI "Programmed I/O"
 * chapter: an 8-bit CSR (BAR0) and an 8-bit data register (BAR1). Each
 * character written makes the device busy for PIO_BUSY_US; when it is idle
 * again and interrupts are enabled, it raises its interrupt. BAR2 holds the
 * record of received bytes (read-only).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sim.h"
#include "sim_devices.h"

struct pio {
	pthread_t thr;
	pthread_cond_t cv;
	bool stop, busy, ie, pending;
	uint32_t count;
	uint8_t rec[PIO_REC_MAX];
	int rec_fd;
};

static uint8_t pio_csr(const struct pio *p)
{
	return (uint8_t)((p->ie ? PIO_INTR_ENABLE : 0) | (p->busy ? 0 : PIO_IDLE) |
			 (p->pending ? PIO_INTR_PENDING : 0));
}

/* Device lock held. */
static void pio_assert(struct sim_dev *d)
{
	struct pio *p = d->priv;
	p->pending = true;
	sim_irq_raise(d, 0);
}

static bool pio_asserted(struct sim_dev *d)
{
	const struct pio *p = d->priv;
	return p->pending && p->ie;
}

static void *pio_worker(void *arg)
{
	struct sim_dev *d = arg;
	struct pio *p = d->priv;
	pthread_mutex_lock(&d->lock);
	for (;;) {
		while (!p->stop && !p->busy)
			pthread_cond_wait(&p->cv, &d->lock);
		if (p->stop)
			break;
		pthread_mutex_unlock(&d->lock);
		sim_sleep_us(PIO_BUSY_US);
		pthread_mutex_lock(&d->lock);
		p->busy = false;
		if (p->ie)
			pio_assert(d);
	}
	pthread_mutex_unlock(&d->lock);
	return NULL;
}

static int pio_read(struct sim_dev *d, int bar, uint64_t off, void *buf, uint32_t len)
{
	struct pio *p = d->priv;
	memset(buf, 0, len);
	if (bar == PIO_CSR_BAR) {
		if (off == PIO_REG_CSR)
			((uint8_t *)buf)[0] = pio_csr(p);
	} else if (bar == PIO_RECORD_BAR) {
		uint8_t page[PIO_RECORD_SIZE];
		memcpy(page, &p->count, sizeof(p->count)); /* little-endian host */
		memcpy(page + PIO_REC_DATA, p->rec, sizeof(p->rec));
		memcpy(buf, page + off, len);
	} else if (bar != PIO_DATA_BAR) {
		return -EINVAL;
	}
	return 0;
}

static int pio_write(struct sim_dev *d, int bar, uint64_t off, const void *buf, uint32_t len,
		     uint64_t client)
{
	struct pio *p = d->priv;
	uint8_t v = ((const uint8_t *)buf)[0];
	if (bar == PIO_CSR_BAR && off == PIO_REG_CSR) {
		bool was = p->ie;
		p->ie = (v & PIO_INTR_ENABLE) != 0;
		if (v & PIO_INTR_CLEAR)
			p->pending = false;
		/* "reasserted ... the next time PIO_INTR_ENABLE is toggled on" */
		if (!was && p->ie && !p->busy)
			pio_assert(d);
	} else if (bar == PIO_DATA_BAR && off == PIO_REG_DATA) {
		if (p->count < PIO_REC_MAX)
			p->rec[p->count++] = v;
		if (p->rec_fd >= 0) {
			ssize_t n = write(p->rec_fd, &v, 1);
			(void)n;
		}
		p->busy = true;
		pthread_cond_signal(&p->cv);
	} else if (bar > PIO_RECORD_BAR) {
		return -EINVAL;
	}
	/* other offsets and the read-only record: writes are ignored */
	return 0;
}

static void pio_reset(struct sim_dev *d)
{
	struct pio *p = d->priv;
	p->ie = false;
	p->pending = false;
	/* the record is kept (it is the "paper"); a busy character completes */
}

static int pio_init(struct sim_dev *d)
{
	struct pio *p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->rec_fd = -1;
	if (sim_pio_record) {
		p->rec_fd = open(sim_pio_record, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
		if (p->rec_fd < 0) {
			int e = -errno;
			free(p);
			return e;
		}
	}
	sim_cfg_header(d, PIO_VENDOR_ID, PIO_DEVICE_ID, PIO_CLASS, 0x01, 1);
	sim_cfg_bar(d, PIO_CSR_BAR, PIO_REG_BAR_SIZE, 0);
	sim_cfg_bar(d, PIO_DATA_BAR, PIO_REG_BAR_SIZE, 0);
	sim_cfg_bar(d, PIO_RECORD_BAR, PIO_RECORD_SIZE, 0);
	sim_cfg_msi(d, 0x40, true);
	pthread_cond_init(&p->cv, NULL);
	d->priv = p;
	int rc = pthread_create(&p->thr, NULL, pio_worker, d);
	if (rc) {
		pthread_cond_destroy(&p->cv);
		if (p->rec_fd >= 0)
			close(p->rec_fd);
		free(p);
		d->priv = NULL;
		return -rc;
	}
	return 0;
}

static void pio_fini(struct sim_dev *d)
{
	struct pio *p = d->priv;
	pthread_mutex_lock(&d->lock);
	p->stop = true;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&d->lock);
	pthread_join(p->thr, NULL);
	pthread_cond_destroy(&p->cv);
	if (p->rec_fd >= 0)
		close(p->rec_fd);
	free(p);
	d->priv = NULL;
}

const struct sim_model sim_model_pio = {
	.name = "pio",
	.init = pio_init,
	.fini = pio_fini,
	.bar_read = pio_read,
	.bar_write = pio_write,
	.reset = pio_reset,
	.intx_asserted = pio_asserted,
	.irq_count = { 1, 1, 0, 0, 0 },
};
