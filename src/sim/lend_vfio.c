/* SPDX-License-Identifier: MIT */
/*
 * The lender's device provider: a device of this host bound to vfio-pci,
 * opened once by the lender through the library's VFIO backend
 * (src/backend/vfio: container/type1v2 or iommufd, its lock file, region
 * infos) and served through the ordinary server core to many borrowers.
 * The data path stays the kernel's:
 *
 * - BARs: a borrower gets the VFIO device fd itself with the region's
 *   offset in it and VFIO's own sparse-mmap areas (the MSI-X table stays
 *   trapped where VFIO traps it); it mmaps the BAR directly. Trapped parts
 *   are pread/pwrite on the device fd.
 * - DMA: the core mmaps the borrower's sealed memfd (sim_dma.c), and the
 *   mapping is given to the IOMMU (VFIO_IOMMU_MAP_DMA / IOMMU_IOAS_MAP) at
 *   the borrower's IOVA. All borrowers share one IOMMU domain, so each
 *   shared borrower gets its own IOVA range (LEND_SLOT_SIZE bytes, slot k
 *   at LEND_IOVA_BASE + k * LEND_SLOT_SIZE), advertised in the VERSION
 *   reply; a window outside it is refused (ERANGE, by the core). An
 *   exclusive borrower gets everything from LEND_IOVA_BASE to the end of
 *   the IOMMU's valid range that holds it. A window without a mappable fd
 *   (a borrower through udd-gw) gets the lender's own memory instead,
 *   synced with the borrower's by VFU_UDD_CMD_DMA_SYNC (sim_bounce.c);
 *   without udd.dma_sync it is refused (EINVAL): the device cannot DMA
 *   through messages.
 * - Interrupts: the borrower's eventfds go to VFIO_DEVICE_SET_IRQS, so the
 *   kernel signals the borrower directly. One vector belongs to one
 *   borrower at a time (another claim: EBUSY); VFIO enables one index at a
 *   time, so the first claim enables every vector of its index (the others
 *   with fd -1) and claims on another index are EBUSY meanwhile.
 *   Loopback triggers (DATA_NONE/BOOL TRIGGER) are ENOTSUP.
 * - Config space: pread/pwrite on VFIO's config region (which virtualizes
 *   what it must). A shared borrower may not change what its co-borrowers
 *   depend on: the command register, the BARs and the ROM BAR, the MSI and
 *   MSI-X message control words. Such a write is EPERM unless it leaves
 *   those bytes as they are. An exclusive borrower writes through.
 * - Reset: VFIO_DEVICE_RESET for the only borrower (the core refuses it
 *   with EBUSY while others share the device); ENOTSUP where VFIO has none.
 * - A borrower that goes (returns, dies): its vectors are detached (fd -1;
 *   the index is disabled once nobody holds a vector of it), every window
 *   it mapped is unmapped from the IOMMU before its memory is unmapped
 *   (sim_dma.c), and after the last borrower the device is reset
 *   (VFIO_DEVICE_RESET where it has one; else memory space and bus
 *   mastering are set again) before the next borrower is admitted.
 *
 * Lock: lend.lock guards the vector owners and the IOVA slots; it is held
 * across the SET_IRQS ioctl (bounded kernel work, no peer to wait for) so
 * that the owner table and the kernel agree. The backend is thread-safe.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <linux/vfio.h>

#include <udd/udd.h>

#include "backend.h"
#include "sim_server_priv.h"

#define LEND_IOVA_BASE (16ull << 20) /* below: nothing (a null IOVA stays invalid) */
#define LEND_SLOT_SIZE (16ull << 20) /* per shared borrower */
#define LEND_SLOTS 64                /* == SIM_MAX_CLIENTS_PER_DEV */
_Static_assert(LEND_SLOTS >= SIM_MAX_CLIENTS_PER_DEV, "a slot for every connection");

struct lend {
	char bdf[16];
	const struct udd_backend_ops *be;
	void *bdev;
	uint32_t dev_flags;
	struct udd_be_region regions[VFIO_PCI_NUM_REGIONS];
	int region_err[VFIO_PCI_NUM_REGIONS];
	uint32_t irq_count[SIM_NUM_IRQ_IDX], irq_flags[SIM_NUM_IRQ_IDX];
	unsigned msi_cap, msix_cap; /* config offsets, 0: none */
	uint64_t iova_end;          /* last valid IOVA from LEND_IOVA_BASE on */
	unsigned nslots;

	pthread_mutex_t lock;
	uint64_t owner[SIM_NUM_IRQ_IDX][SIM_MAX_VECTORS]; /* client id, 0: free */
	int active;                                        /* index enabled in VFIO, or -1 */
	uint64_t slots;                                    /* bit per IOVA slot in use */
};

static struct lend *L(struct sim_dev *d)
{
	return d->lend;
}

const char *lend_vfio_bdf(const struct sim_dev *d)
{
	return d->prov && d->lend ? ((const struct lend *)d->lend)->bdf : NULL;
}

static uint32_t lend_dev_flags(struct sim_dev *d)
{
	return L(d)->dev_flags;
}

static int lend_region_info(struct sim_dev *d, uint32_t index, bool want_fd,
			    struct sim_region *out)
{
	struct lend *l = L(d);
	memset(out, 0, sizeof(*out));
	out->fd = -1;
	if (l->region_err[index])
		return -l->region_err[index];
	const struct udd_be_region *r = &l->regions[index];
	out->size = r->size;
	out->flags = r->flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	if (!(r->flags & VFIO_REGION_INFO_FLAG_MMAP) || r->mmap_fd < 0 || !r->size)
		return 0;
	if (r->nsparse == 0) { /* the whole region */
		out->nareas = 1;
		out->areas[0] = (struct vfu_sparse_area){ 0, r->size };
	} else {
		out->nareas = r->nsparse < SIM_MAX_AREAS ? r->nsparse : SIM_MAX_AREAS;
		for (uint32_t i = 0; i < out->nareas; i++)
			out->areas[i] = (struct vfu_sparse_area){ r->sparse[i].offset, r->sparse[i].size };
	}
	out->flags |= VFIO_REGION_INFO_FLAG_MMAP;
	out->mmap_offset = r->mmap_offset; /* VFIO's region offset in the device fd */
	if (want_fd) {
		out->fd = dup(r->mmap_fd);
		if (out->fd < 0)
			return EMFILE;
	}
	return 0;
}

static int lend_check(struct lend *l, uint32_t index, uint64_t off, uint32_t len)
{
	if (l->region_err[index] || !l->regions[index].size)
		return EINVAL;
	uint64_t size = l->regions[index].size;
	if (off >= size || len > size - off)
		return EINVAL;
	return 0;
}

static int lend_region_read(struct sim_client *cl, uint32_t index, uint64_t off, void *buf,
			    uint32_t len)
{
	struct lend *l = L(cl->d);
	int err = lend_check(l, index, off, len);
	if (err)
		return err;
	int rc = l->be->region_read(l->bdev, index, off, buf, len);
	return rc < 0 ? -rc : 0;
}

/* Is config byte @o one that co-borrowers of a shared device depend on? */
static bool cfg_guarded(const struct lend *l, uint64_t o)
{
	if ((o >= 0x04 && o < 0x06) || (o >= 0x10 && o < 0x28) || (o >= 0x30 && o < 0x34))
		return true;
	if (l->msi_cap && o >= l->msi_cap + 2u && o < l->msi_cap + 4u)
		return true;
	if (l->msix_cap && o >= l->msix_cap + 2u && o < l->msix_cap + 4u)
		return true;
	return false;
}

static int lend_region_write(struct sim_client *cl, uint32_t index, uint64_t off,
			     const void *buf, uint32_t len)
{
	struct lend *l = L(cl->d);
	int err = lend_check(l, index, off, len);
	if (err)
		return err;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX && cl->borrow == BORROW_SHARED) {
		uint8_t cur[64];
		const uint8_t *in = buf;
		for (uint64_t o = off; o < off + len; o++) {
			if (!cfg_guarded(l, o))
				continue;
			/* a guarded byte: allowed only if it stays as it is */
			if (l->be->region_read(l->bdev, index, o, cur, 1) < 0 || cur[0] != in[o - off]) {
				sim_log("%s: client %llu (shared): config write at 0x%llx refused",
					cl->d->name, (unsigned long long)cl->id, (unsigned long long)o);
				return EPERM;
			}
		}
	}
	int rc = l->be->region_write(l->bdev, index, off, buf, len);
	return rc < 0 ? -rc : 0;
}

static int lend_irq_info(struct sim_dev *d, uint32_t index, uint32_t *count, uint32_t *flags)
{
	*count = L(d)->irq_count[index];
	*flags = L(d)->irq_flags[index];
	return 0;
}

/* Give vectors [start, start+count) of @index the fds (-1: none). lock held. */
static int vectors_set(struct lend *l, uint32_t index, uint32_t start, uint32_t count,
		       const int *fds)
{
	int rc = l->be->irq_set(l->bdev, index, start, count, fds);
	return rc < 0 ? -rc : 0;
}

/* Detach vector @v of @index from its owner; the index goes off with its
 * last vector. lock held. */
static void vector_release(struct lend *l, uint32_t index, uint32_t v)
{
	int none = -1;
	if (l->active == (int)index)
		(void)vectors_set(l, index, v, 1, &none);
	l->owner[index][v] = 0;
	for (uint32_t i = 0; i < SIM_MAX_VECTORS; i++)
		if (l->owner[index][i])
			return;
	if (l->active == (int)index) {
		(void)l->be->irq_set(l->bdev, index, 0, 0, NULL);
		l->active = -1;
	}
}

/* Claim vectors [s->start, +count) of s->index for @cl with r->fds. lock held. */
static int vectors_claim(struct lend *l, struct sim_client *cl, const struct req *r,
			 const struct vfu_irq_set *s)
{
	uint32_t n = l->irq_count[s->index];
	if (l->active >= 0 && l->active != (int)s->index)
		return EBUSY; /* VFIO runs one interrupt index at a time */
	for (uint32_t i = 0; i < s->count; i++) {
		uint64_t o = l->owner[s->index][s->start + i];
		if (o && o != cl->id)
			return EBUSY;
	}
	int err;
	if (l->active < 0) {
		/* first claim: enable the whole index, unclaimed vectors without fd */
		int fds[SIM_MAX_VECTORS];
		for (uint32_t i = 0; i < n; i++)
			fds[i] = -1;
		for (uint32_t i = 0; i < s->count; i++)
			fds[s->start + i] = r->fds[i];
		err = vectors_set(l, s->index, 0, n, fds);
		if (!err)
			l->active = (int)s->index;
	} else {
		err = vectors_set(l, s->index, s->start, s->count, r->fds);
	}
	if (!err)
		for (uint32_t i = 0; i < s->count; i++)
			l->owner[s->index][s->start + i] = cl->id;
	return err;
}

static int lend_set_irqs(struct req *r, const struct vfu_irq_set *s)
{
	struct sim_client *cl = r->cl;
	struct lend *l = L(cl->d);
	uint32_t n = s->index < SIM_NUM_IRQ_IDX ? l->irq_count[s->index] : 0;
	int err = sim_set_irqs_check(r, s, n);
	if (err)
		return err;
	uint32_t dt = s->flags & VFIO_IRQ_SET_DATA_TYPE_MASK;
	uint32_t act = s->flags & VFIO_IRQ_SET_ACTION_TYPE_MASK;
	pthread_mutex_lock(&l->lock);
	if (s->count == 0) { /* every vector of the index this borrower holds */
		for (uint32_t v = 0; v < SIM_MAX_VECTORS; v++)
			if (l->owner[s->index][v] == cl->id)
				vector_release(l, s->index, v);
	} else if (dt == VFIO_IRQ_SET_DATA_EVENTFD && r->nfds) {
		err = vectors_claim(l, cl, r, s);
	} else if (dt == VFIO_IRQ_SET_DATA_EVENTFD) { /* de-assign */
		for (uint32_t i = 0; i < s->count && !err; i++)
			if (l->owner[s->index][s->start + i] &&
			    l->owner[s->index][s->start + i] != cl->id)
				err = EBUSY;
		for (uint32_t i = 0; i < s->count && !err; i++)
			if (l->owner[s->index][s->start + i] == cl->id)
				vector_release(l, s->index, s->start + i);
	} else if (act == VFIO_IRQ_SET_ACTION_MASK || act == VFIO_IRQ_SET_ACTION_UNMASK) {
		const uint8_t *bools = r->p + sizeof(*s);
		for (uint32_t i = 0; i < s->count && !err; i++) {
			uint32_t v = s->start + i;
			if (l->owner[s->index][v] != cl->id) {
				err = EBUSY;
			} else if (dt != VFIO_IRQ_SET_DATA_BOOL || bools[i]) {
				int rc = l->be->irq_mask(l->bdev, s->index, v,
							 act == VFIO_IRQ_SET_ACTION_MASK);
				err = rc < 0 ? -rc : 0;
			}
		}
	} else {
		err = ENOTSUP; /* loopback triggers */
	}
	pthread_mutex_unlock(&l->lock);
	return err;
}

static int lend_dma_map(struct sim_client *cl, struct sim_win *w)
{
	struct lend *l = L(cl->d);
	int err = w->map ? 0 : sim_bounce_alloc(cl, w); /* sim_bounce.c */
	if (err)
		return err;
	uint32_t prot = ((w->flags & VFU_DMA_F_READ) ? UDD_DMA_F_READ : 0) |
			((w->flags & VFU_DMA_F_WRITE) ? UDD_DMA_F_WRITE : 0);
	if (!prot)
		return EINVAL;
	int rc = l->be->dma_map(l->bdev, w->addr, w->size, -1, 0, w->map ? w->map : w->bounce, prot);
	if (rc)
		sim_bounce_free(cl, w);
	if (rc)
		sim_log("%s: client %llu: IOMMU map 0x%llx+0x%llx: %s", cl->d->name,
			(unsigned long long)cl->id, (unsigned long long)w->addr,
			(unsigned long long)w->size, strerror(-rc));
	return rc < 0 ? -rc : 0;
}

static void lend_dma_unmap(struct sim_client *cl, struct sim_win *w)
{
	struct lend *l = L(cl->d);
	if (!w->map && !w->bounce)
		return;
	int rc = l->be->dma_unmap(l->bdev, w->addr, w->size);
	if (rc)
		sim_log("%s: client %llu: IOMMU unmap 0x%llx: %s", cl->d->name,
			(unsigned long long)cl->id, (unsigned long long)w->addr, strerror(-rc));
	sim_bounce_free(cl, w); /* the device no longer reaches it */
}

static int lend_reset(struct sim_client *cl)
{
	struct lend *l = L(cl->d);
	int rc = l->be->reset(l->bdev);
	return rc < 0 ? -rc : 0;
}

static int lend_attach(struct sim_client *cl)
{
	struct lend *l = L(cl->d);
	cl->has_iova = true;
	if (cl->borrow == BORROW_EXCL) {
		cl->iova_lo = LEND_IOVA_BASE;
		cl->iova_hi = l->iova_end;
		return 0;
	}
	pthread_mutex_lock(&l->lock);
	unsigned k = 0;
	while (k < l->nslots && (l->slots & (1ull << k)))
		k++;
	if (k < l->nslots)
		l->slots |= 1ull << k;
	pthread_mutex_unlock(&l->lock);
	if (k >= l->nslots) {
		cl->has_iova = false;
		return ENOSPC;
	}
	cl->iova_slot = (int)k;
	cl->iova_lo = LEND_IOVA_BASE + k * LEND_SLOT_SIZE;
	cl->iova_hi = cl->iova_lo + LEND_SLOT_SIZE - 1;
	return 0;
}

static void lend_detach(struct sim_client *cl)
{
	struct lend *l = L(cl->d);
	pthread_mutex_lock(&l->lock);
	for (uint32_t i = 0; i < SIM_NUM_IRQ_IDX; i++)
		for (uint32_t v = 0; v < SIM_MAX_VECTORS; v++)
			if (l->owner[i][v] == cl->id)
				vector_release(l, i, v);
	if (cl->iova_slot >= 0)
		l->slots &= ~(1ull << cl->iova_slot);
	cl->iova_slot = -1;
	pthread_mutex_unlock(&l->lock);
}

/* Memory space and bus mastering on (the lender keeps them on). */
static int command_on(struct lend *l)
{
	uint16_t cmd;
	int rc = l->be->region_read(l->bdev, VFIO_PCI_CONFIG_REGION_INDEX, 0x04, &cmd, 2);
	if (rc)
		return rc;
	cmd |= 0x6;
	return l->be->region_write(l->bdev, VFIO_PCI_CONFIG_REGION_INDEX, 0x04, &cmd, 2);
}

static int lend_power_on(struct sim_dev *d, bool after_excl)
{
	struct lend *l = L(d);
	pthread_mutex_lock(&l->lock);
	for (uint32_t i = 0; i < SIM_NUM_IRQ_IDX; i++) /* nothing should be left */
		for (uint32_t v = 0; v < SIM_MAX_VECTORS; v++)
			if (l->owner[i][v])
				vector_release(l, i, v);
	pthread_mutex_unlock(&l->lock);
	int rc = l->be->check(l->bdev);
	if (rc)
		return rc;
	if (l->dev_flags & VFIO_DEVICE_FLAGS_RESET) {
		rc = l->be->reset(l->bdev);
		sim_log("%s: VFIO_DEVICE_RESET after the last %s borrower: %s", d->name,
			after_excl ? "exclusive" : "shared", rc ? strerror(-rc) : "ok");
		if (rc == -ENODEV)
			return rc;
	} else {
		sim_log("%s: no VFIO reset; the next borrower finds the device as the last left it",
			d->name);
	}
	rc = command_on(l);
	return rc == -ENODEV ? rc : 0;
}

static void lend_destroy(struct sim_dev *d)
{
	struct lend *l = L(d);
	if (!l)
		return;
	l->be->close(l->bdev);
	pthread_mutex_destroy(&l->lock);
	free(l);
	d->lend = NULL;
}

static void lend_stats(struct sim_dev *d, char *buf, size_t len)
{
	snprintf(buf, len, " lent=%s", L(d)->bdf);
}

static const struct sim_provider lend_prov = {
	.name = "vfio",
	.dev_flags = lend_dev_flags,
	.region_info = lend_region_info,
	.region_read = lend_region_read,
	.region_write = lend_region_write,
	.irq_info = lend_irq_info,
	.set_irqs = lend_set_irqs,
	.dma_map = lend_dma_map,
	.dma_unmap = lend_dma_unmap,
	.reset = lend_reset,
	.attach = lend_attach,
	.detach = lend_detach,
	.power_on = lend_power_on,
	.destroy = lend_destroy,
	.stats = lend_stats,
};

/* Config offset of capability @id, or 0 (bounded walk). */
static unsigned cap_find(struct lend *l, uint8_t id)
{
	uint8_t p = 0, hdr[2];
	uint16_t status;
	if (l->be->region_read(l->bdev, VFIO_PCI_CONFIG_REGION_INDEX, 0x06, &status, 2) ||
	    !(status & 0x10))
		return 0;
	if (l->be->region_read(l->bdev, VFIO_PCI_CONFIG_REGION_INDEX, 0x34, &p, 1))
		return 0;
	for (int n = 0; n < 48 && p >= 0x40; n++) {
		p &= 0xfc;
		if (l->be->region_read(l->bdev, VFIO_PCI_CONFIG_REGION_INDEX, p, hdr, 2))
			return 0;
		if (hdr[0] == id)
			return p;
		p = hdr[1];
	}
	return 0;
}

static int lend_open(struct lend *l)
{
	struct udd_be_devinfo di;
	int rc = l->be->device_info(l->bdev, &di);
	if (rc)
		return rc;
	l->dev_flags = di.flags;
	for (uint32_t i = 0; i < VFIO_PCI_NUM_REGIONS; i++) {
		rc = i < di.num_regions ? l->be->region_info(l->bdev, i, &l->regions[i]) : -EINVAL;
		l->region_err[i] = rc < 0 ? -rc : 0;
		if (rc)
			memset(&l->regions[i], 0, sizeof(l->regions[i]));
	}
	if (l->region_err[VFIO_PCI_CONFIG_REGION_INDEX])
		return -l->region_err[VFIO_PCI_CONFIG_REGION_INDEX];
	for (uint32_t i = 0; i < SIM_NUM_IRQ_IDX; i++) {
		uint32_t c = 0, f = 0;
		if (i < di.num_irqs && l->be->irq_info(l->bdev, i, &c, &f) == 0) {
			l->irq_count[i] = c > SIM_MAX_VECTORS ? SIM_MAX_VECTORS : c;
			l->irq_flags[i] = f;
		}
	}
	l->msi_cap = cap_find(l, 0x05);
	l->msix_cap = cap_find(l, 0x11);
	/* the IOVA space handed out: from LEND_IOVA_BASE to the end of the
	 * IOMMU's valid range that holds it */
	l->iova_end = LEND_IOVA_BASE + (uint64_t)LEND_SLOTS * LEND_SLOT_SIZE - 1;
	struct udd_be_iova_range rg[16];
	size_t nr = 16;
	if (l->be->iova_ranges && l->be->iova_ranges(l->bdev, rg, &nr) == 0) {
		uint64_t end = 0;
		bool found = false;
		for (size_t i = 0; i < nr && i < 16; i++)
			if (rg[i].start <= LEND_IOVA_BASE && rg[i].end >= LEND_IOVA_BASE + LEND_SLOT_SIZE - 1) {
				end = rg[i].end;
				found = true;
			}
		if (!found)
			return -ERANGE;
		l->iova_end = end;
	}
	uint64_t span = l->iova_end - LEND_IOVA_BASE + 1;
	l->nslots = span / LEND_SLOT_SIZE >= LEND_SLOTS ? LEND_SLOTS : (unsigned)(span / LEND_SLOT_SIZE);
	return 0;
}

int lend_vfio_create(const char *bdf, const char *name, struct sim_dev **out)
{
	if (!bdf || strlen(bdf) != 12)
		return -EINVAL;
	struct lend *l = calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	memcpy(l->bdf, bdf, 13);
	l->be = &udd_vfio_backend;
	l->active = -1;
	pthread_mutex_init(&l->lock, NULL);
	int rc = l->be->open(bdf, UDD_BE_EXCLUSIVE, NULL, &l->bdev);
	if (rc) {
		pthread_mutex_destroy(&l->lock);
		free(l);
		return rc;
	}
	rc = lend_open(l);
	struct sim_dev *d = NULL;
	if (!rc)
		rc = sim_dev_alloc(&lend_prov, name, &d);
	if (rc) {
		l->be->close(l->bdev);
		pthread_mutex_destroy(&l->lock);
		free(l);
		return rc;
	}
	d->lend = l;
	d->cfg_size = (uint32_t)l->regions[VFIO_PCI_CONFIG_REGION_INDEX].size;
	*out = d;
	return 0;
}
