/* SPDX-License-Identifier: MIT */
/*
 * be: big-endian registers, a FIFO (also behind an I/O BAR), MSI-X with 4
 * vectors, a memfd-backed doorbell page polled by a device thread, and a
 * 1 MiB 64-bit prefetchable RAM BAR. PCIe, PM and DSN capabilities.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>

#include "sim.h"
#include "sim_devices.h"

struct be {
	pthread_t thr;
	atomic_bool stop;
	uint8_t page0[BE_DOORBELL_PAGE]; /* stored register images */
	uint32_t fifo[BE_FIFO_DEPTH];
	uint32_t head, level;
};

static uint32_t be32_get(const void *p)
{
	uint32_t v;
	memcpy(&v, p, 4);
	return __builtin_bswap32(v);
}

static void be32_put(void *p, uint32_t v)
{
	v = __builtin_bswap32(v);
	memcpy(p, &v, 4);
}

static uint32_t fifo_pop(struct be *b)
{
	if (!b->level)
		return 0;
	uint32_t v = b->fifo[b->head];
	b->head = (b->head + 1) % BE_FIFO_DEPTH;
	b->level--;
	return v;
}

static void fifo_push(struct be *b, uint32_t v)
{
	if (b->level == BE_FIFO_DEPTH)
		return; /* full: dropped */
	b->fifo[(b->head + b->level) % BE_FIFO_DEPTH] = v;
	b->level++;
}

static int be_read(struct sim_dev *d, int bar, uint64_t off, void *buf, uint32_t len)
{
	struct be *b = d->priv;
	if (bar == 0) {
		if (off >= BE_DOORBELL_PAGE) {
			memcpy(buf, d->bars[0].mem + off, len);
			return 0;
		}
		if (len > BE_DOORBELL_PAGE - off)
			return -EINVAL; /* straddles trapped and mapped pages */
		if (off == BE_REG_FIFO && len == 4)
			be32_put(buf, fifo_pop(b));
		else if (off == BE_REG_FIFO_LEVEL && len == 4)
			be32_put(buf, b->level);
		else
			memcpy(buf, b->page0 + off, len);
		return 0;
	}
	if (bar == 4) {
		memset(buf, 0, len);
		if (off == BE_IO_FIFO && len == 4)
			be32_put(buf, fifo_pop(b));
		else if (off == BE_IO_FIFO_LEVEL && len == 4)
			be32_put(buf, b->level);
		return 0;
	}
	return -EINVAL;
}

static bool within(uint64_t off, uint32_t len, uint64_t start, uint64_t size)
{
	return off >= start && off - start < size && len <= size - (off - start);
}

static int be_write(struct sim_dev *d, int bar, uint64_t off, const void *buf, uint32_t len,
		    uint64_t client)
{
	struct be *b = d->priv;
	if (bar == 0) {
		if (off >= BE_DOORBELL_PAGE) {
			memcpy(d->bars[0].mem + off, buf, len);
			return 0;
		}
		if (len > BE_DOORBELL_PAGE - off)
			return -EINVAL;
		if (off == BE_REG_FIFO && len == 4)
			fifo_push(b, be32_get(buf));
		else if (off == BE_REG_RAISE && len == 4) {
			uint32_t v = be32_get(buf);
			if (v < BE_MSIX_VECTORS)
				sim_irq_raise(d, v);
		} else if (within(off, len, BE_REG_SCRATCH32, 12) ||
			   within(off, len, BE_MSIX_TABLE, 16 * BE_MSIX_VECTORS))
			memcpy(b->page0 + off, buf, len);
		/* id, level, PBA and unused space: read-only */
		return 0;
	}
	if (bar == 4) {
		if (off == BE_IO_FIFO && len == 4)
			fifo_push(b, be32_get(buf));
		return 0;
	}
	return -EINVAL;
}

static void be_reset(struct sim_dev *d)
{
	struct be *b = d->priv;
	b->head = b->level = 0;
	memset(b->page0 + BE_REG_SCRATCH32, 0, 12);
}

/* Doorbell: copy the u32 at 0x1000 to 0x1004 whenever it changes. Spins for
 * a while after a change (low latency), then polls slowly. */
static void *be_doorbell(void *arg)
{
	struct sim_dev *d = arg;
	struct be *b = d->priv;
	uint32_t *bell = (uint32_t *)(void *)(d->bars[0].mem + BE_DOORBELL);
	uint32_t *echo = (uint32_t *)(void *)(d->bars[0].mem + BE_DOORBELL_ECHO);
	uint32_t last = __atomic_load_n(bell, __ATOMIC_ACQUIRE);
	uint64_t hot_until = 0;
	unsigned spins = 0;
	while (!atomic_load(&b->stop)) {
		uint32_t v = __atomic_load_n(bell, __ATOMIC_ACQUIRE);
		if (v != last) {
			__atomic_store_n(echo, v, __ATOMIC_RELEASE);
			last = v;
			hot_until = sim_now_ms() + 20;
			continue;
		}
		if (++spins % 1024)
			continue;
		if (sim_now_ms() < hot_until)
			sched_yield();
		else
			sim_sleep_us(sim_dev_nclients(d) ? 100 : 5000);
	}
	return NULL;
}

static int be_init(struct sim_dev *d)
{
	struct be *b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	d->cfg_size = SIM_CFG_SIZE;
	sim_cfg_header(d, BE_VENDOR_ID, BE_DEVICE_ID, BE_CLASS, 0x01, 0);
	sim_cfg_bar(d, 0, BE_BAR0_SIZE, 0);
	sim_cfg_bar(d, 2, BE_BAR2_SIZE, SIM_BAR_64 | SIM_BAR_PREFETCH);
	sim_cfg_bar(d, 4, BE_BAR4_SIZE, SIM_BAR_IO);
	sim_cfg_pm(d, 0x40);
	sim_cfg_msix(d, 0x48, BE_MSIX_VECTORS, 0, BE_MSIX_TABLE, BE_MSIX_PBA);
	sim_cfg_pcie(d, 0x60);
	sim_cfg_ext_dsn(d, 0x100, BE_DSN);
	be32_put(b->page0 + BE_REG_ID, BE_ID_VALUE);
	for (unsigned i = 0; i < BE_MSIX_VECTORS; i++)
		b->page0[BE_MSIX_TABLE + 16 * i + 12] = 1; /* vector control: masked */

	int rc = sim_bar_memfd(d, 0, "udd-sim-be-bar0");
	if (!rc)
		rc = sim_bar_memfd(d, 2, "udd-sim-be-bar2");
	if (rc) {
		free(b);
		return rc; /* the server unmaps/closes BAR memfds */
	}
	d->bars[0].nareas = 1;
	d->bars[0].areas[0] = (struct vfu_sparse_area){ BE_DOORBELL_PAGE, 0x1000 };
	d->bars[2].nareas = 1;
	d->bars[2].areas[0] = (struct vfu_sparse_area){ 0, BE_BAR2_SIZE };
	d->priv = b;
	rc = pthread_create(&b->thr, NULL, be_doorbell, d);
	if (rc) {
		free(b);
		d->priv = NULL;
		return -rc;
	}
	return 0;
}

static void be_fini(struct sim_dev *d)
{
	struct be *b = d->priv;
	atomic_store(&b->stop, true);
	pthread_join(b->thr, NULL);
	free(b);
	d->priv = NULL;
}

const struct sim_model sim_model_be = {
	.name = "be",
	.init = be_init,
	.fini = be_fini,
	.bar_read = be_read,
	.bar_write = be_write,
	.reset = be_reset,
	.irq_count = { 0, 0, BE_MSIX_VECTORS, 1, 1 },
};
