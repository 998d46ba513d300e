/* SPDX-License-Identifier: MIT */
/*
 * illumos DDI compatibility: DMA handles, DMA memory, binding and cookies.
 *
 * Binding maps the buffer's pages as udd DMA windows (udd_dma_map for memory
 * from ddi_dma_mem_alloc, udd_dma_map_va for any other address), each window
 * at most one segment (dma_attr_seg + 1) long and placed by udd's allocator
 * inside [addr_lo, addr_hi] without crossing a segment boundary. The cookies
 * are then cut from the windows' IOVA ranges so that each also respects
 * count_max, maxxfer, the segment boundary (for sub-page segments) and
 * granularity; more cookies than dma_attr_sgllen is DDI_DMA_TOOBIG.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ddi_impl.h"

static uint64_t pgsize(void)
{
	return (uint64_t)sysconf(_SC_PAGESIZE);
}

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

int ddi_dma_alloc_handle(dev_info_t *dip, const ddi_dma_attr_t *attr, int (*waitfp)(caddr_t),
			 caddr_t arg, ddi_dma_handle_t *handlep)
{
	(void)waitfp;
	(void)arg;
	if (!dip || !attr || !handlep)
		return DDI_DMA_BADATTR;
	/* the checks illumos's rootnex makes, plus what udd can honour */
	if (attr->dma_attr_version != DMA_ATTR_V0 || attr->dma_attr_addr_lo > attr->dma_attr_addr_hi ||
	    attr->dma_attr_count_max == 0 || attr->dma_attr_sgllen <= 0 ||
	    (attr->dma_attr_align && !pow2(attr->dma_attr_align)) ||
	    (attr->dma_attr_seg && !pow2(attr->dma_attr_seg + 1) && attr->dma_attr_seg != UINT64_MAX))
		return DDI_DMA_BADATTR;
	struct ddi_udd_dma *d = calloc(1, sizeof(*d));
	if (!d)
		return DDI_DMA_NORESOURCES;
	d->dip = dip;
	d->attr = *attr;
	if (!d->attr.dma_attr_align)
		d->attr.dma_attr_align = 1;
	if (!d->attr.dma_attr_seg)
		d->attr.dma_attr_seg = UINT64_MAX;
	if (!d->attr.dma_attr_granular)
		d->attr.dma_attr_granular = 1;
	pthread_mutex_lock(&dip->lock);
	d->next = dip->dmas;
	dip->dmas = d;
	pthread_mutex_unlock(&dip->lock);
	*handlep = d;
	return DDI_SUCCESS;
}

static void unbind(struct ddi_udd_dma *d)
{
	for (uint_t i = 0; d->windows && d->windows[i]; i++)
		udd_dma_unmap(d->windows[i]);
	free(d->windows);
	free(d->cookies);
	d->windows = NULL;
	d->cookies = NULL;
	d->ncookies = 0;
	d->next_cookie = 0;
	d->bound = false;
}

static void dma_free(struct ddi_udd_dma *d)
{
	if (d->bound)
		unbind(d);
	free(d);
}

void ddi_dma_free_handle(ddi_dma_handle_t *handlep)
{
	if (!handlep || !*handlep)
		return;
	struct ddi_udd_dma *d = *handlep;
	dev_info_t *dip = d->dip;
	pthread_mutex_lock(&dip->lock);
	for (struct ddi_udd_dma **pp = &dip->dmas; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	pthread_mutex_unlock(&dip->lock);
	dma_free(d);
	*handlep = NULL;
}

DDI_INTERNAL void ddi_dma_release_all(dev_info_t *dip)
{
	pthread_mutex_lock(&dip->lock);
	struct ddi_udd_dma *d = dip->dmas;
	dip->dmas = NULL;
	pthread_mutex_unlock(&dip->lock);
	while (d) {
		struct ddi_udd_dma *n = d->next;
		dma_free(d);
		d = n;
	}
}

/* ---- DMA memory ----------------------------------------------------------------- */

int ddi_dma_mem_alloc(ddi_dma_handle_t handle, size_t length, const ddi_device_acc_attr_t *accattrp,
		      uint_t flags, int (*waitfp)(caddr_t), caddr_t arg, caddr_t *kaddrp,
		      size_t *real_length, ddi_acc_handle_t *handlep)
{
	(void)flags; /* CONSISTENT / STREAMING: all udd memory is coherent */
	(void)waitfp;
	(void)arg;
	if (!handle || !length || !kaddrp || !handlep || !accattrp)
		return DDI_FAILURE;
	if ((accattrp->devacc_attr_version != DDI_DEVICE_ATTR_V0 &&
	     accattrp->devacc_attr_version != DDI_DEVICE_ATTR_V1) ||
	    accattrp->devacc_attr_endian_flags > DDI_STRUCTURE_BE_ACC ||
	    accattrp->devacc_attr_dataorder > DDI_STORECACHING_OK_ACC)
		return DDI_FAILURE;
	dev_info_t *dip = handle->dip;
	struct ddi_udd_acc *h = calloc(1, sizeof(*h));
	if (!h)
		return DDI_FAILURE;
	if (udd_mem_alloc(dip->ctx, length, &h->mem) < 0) {
		free(h);
		return DDI_FAILURE;
	}
	h->dip = dip;
	h->kind = DDI_ACC_MEM;
	h->base = udd_mem_ptr(h->mem);
	h->len = udd_mem_size(h->mem);
	h->attr = *accattrp;
	h->swap = (accattrp->devacc_attr_endian_flags == DDI_STRUCTURE_BE_ACC &&
		   __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__) ||
		  (accattrp->devacc_attr_endian_flags == DDI_STRUCTURE_LE_ACC &&
		   __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__);
	h->dma = handle;
	pthread_mutex_lock(&dip->lock);
	h->next = dip->accs;
	dip->accs = h;
	pthread_mutex_unlock(&dip->lock);
	*kaddrp = (caddr_t)h->base;
	if (real_length)
		*real_length = h->len;
	*handlep = h;
	return DDI_SUCCESS;
}

void ddi_dma_mem_free(ddi_acc_handle_t *handlep)
{
	if (!handlep || !*handlep || (*handlep)->kind != DDI_ACC_MEM)
		return;
	struct ddi_udd_acc *h = *handlep;
	dev_info_t *dip = h->dip;
	pthread_mutex_lock(&dip->lock);
	for (struct ddi_udd_acc **pp = &dip->accs; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	pthread_mutex_unlock(&dip->lock);
	udd_mem_free(h->mem); /* windows still mapping it keep the pages */
	free(h);
	*handlep = NULL;
}

/* The DMA memory of @dip containing [addr, addr+len), or NULL. */
static struct ddi_udd_acc *find_mem(dev_info_t *dip, uintptr_t addr, size_t len)
{
	struct ddi_udd_acc *found = NULL;
	pthread_mutex_lock(&dip->lock);
	for (struct ddi_udd_acc *h = dip->accs; h; h = h->next) {
		uintptr_t b = (uintptr_t)h->base;
		if (h->kind == DDI_ACC_MEM && addr >= b && addr - b <= h->len &&
		    len <= h->len - (addr - b)) {
			found = h;
			break;
		}
	}
	pthread_mutex_unlock(&dip->lock);
	return found;
}

/* ---- binding ---------------------------------------------------------------------- */

struct cookie_list {
	ddi_dma_cookie_t *c;
	uint_t n, cap;
};

static int add_cookie(struct cookie_list *l, uint64_t addr, uint64_t size)
{
	if (l->n == l->cap) {
		uint_t cap = l->cap ? l->cap * 2 : 8;
		ddi_dma_cookie_t *c = realloc(l->c, cap * sizeof(*c));
		if (!c)
			return -ENOMEM;
		l->c = c;
		l->cap = cap;
	}
	memset(&l->c[l->n], 0, sizeof(l->c[0]));
	l->c[l->n].dmac_laddress = addr;
	l->c[l->n].dmac_size = (size_t)size;
	l->n++;
	return 0;
}

/* Cut [iova, iova+len) into cookies honouring the attributes. */
static int cut_cookies(const ddi_dma_attr_t *a, uint64_t iova, uint64_t len, bool last_range,
		       struct cookie_list *l)
{
	uint64_t maxc = a->dma_attr_count_max == UINT64_MAX ? UINT64_MAX : a->dma_attr_count_max + 1;
	if (a->dma_attr_maxxfer && a->dma_attr_maxxfer < maxc)
		maxc = a->dma_attr_maxxfer;
	uint64_t gran = a->dma_attr_granular;
	while (len) {
		uint64_t n = len < maxc ? len : maxc;
		if (a->dma_attr_seg != UINT64_MAX) {
			uint64_t to_boundary = (a->dma_attr_seg + 1) - (iova & a->dma_attr_seg);
			if (n > to_boundary)
				n = to_boundary;
		}
		/* a cookie that is not the last should be a multiple of the granularity */
		if (gran > 1 && (n < len || !last_range) && n >= gran)
			n -= n % gran;
		int rc = add_cookie(l, iova, n);
		if (rc)
			return rc;
		iova += n;
		len -= n;
	}
	return 0;
}

static int map_err(int rc)
{
	switch (rc) {
	case -ENOMEM: return DDI_DMA_NORESOURCES;
	case -E2BIG: return DDI_DMA_TOOBIG;
	default: return DDI_DMA_NOMAPPING;
	}
}

int ddi_dma_addr_bind_handle(ddi_dma_handle_t handle, struct as *as, caddr_t addr, size_t len,
			     uint_t flags, int (*waitfp)(caddr_t), caddr_t arg,
			     ddi_dma_cookie_t *cookiep, uint_t *ccountp)
{
	(void)as;
	(void)waitfp;
	(void)arg;
	if (!handle || !addr || !len)
		return DDI_DMA_NOMAPPING;
	struct ddi_udd_dma *d = handle;
	if (d->bound)
		return DDI_DMA_INUSE;
	const ddi_dma_attr_t *a = &d->attr;
	uint64_t pg = pgsize();
	uintptr_t start = (uintptr_t)addr;
	uint64_t inpage = start & (pg - 1);
	if (inpage & (a->dma_attr_align - 1))
		return DDI_DMA_NOMAPPING; /* no bounce buffers: the address cannot be aligned */
	if (a->dma_attr_minxfer && len < a->dma_attr_minxfer)
		return DDI_DMA_TOOSMALL;

	uint32_t uflags = 0;
	if (flags & DDI_DMA_WRITE)
		uflags |= UDD_DMA_F_READ; /* memory -> device: the device reads */
	if (flags & DDI_DMA_READ)
		uflags |= UDD_DMA_F_WRITE;
	if (!uflags)
		uflags = UDD_DMA_F_READ | UDD_DMA_F_WRITE;

	/* windows: the pages of the buffer, cut at most one segment long */
	uint64_t first_page = start - inpage;
	uint64_t span = ((inpage + len + pg - 1) & ~(pg - 1));
	uint64_t wmax = UINT64_MAX;
	udd_dma_attr_t ua = { 0 };
	ua.addr_lo = a->dma_attr_addr_lo;
	ua.addr_hi = a->dma_attr_addr_hi;
	ua.align = a->dma_attr_align > pg ? a->dma_attr_align : pg;
	if (a->dma_attr_seg != UINT64_MAX && a->dma_attr_seg + 1 >= pg) {
		ua.seg_boundary = a->dma_attr_seg;
		wmax = a->dma_attr_seg + 1;
	}
	struct ddi_udd_acc *memh = find_mem(d->dip, start, len);
	uint64_t nwin_max = (span + (wmax == UINT64_MAX ? span : wmax) - 1) /
			    (wmax == UINT64_MAX ? span : wmax);
	udd_dma_t **win = calloc((size_t)nwin_max + 1, sizeof(*win)); /* NULL-terminated */
	struct cookie_list l = { 0 };
	int ret = DDI_DMA_MAPPED;
	if (!win)
		return DDI_DMA_NORESOURCES;

	uint64_t done = 0; /* bytes of span mapped */
	for (uint64_t w = 0; done < span; w++) {
		uint64_t wlen = span - done < wmax ? span - done : wmax;
		uint64_t iova = 0;
		int rc;
		if (memh)
			rc = udd_dma_map(d->dip->dev, memh->mem,
					 (size_t)(first_page + done - (uintptr_t)memh->base), (size_t)wlen,
					 &ua, uflags, &iova, &win[w]);
		else
			rc = udd_dma_map_va(d->dip->dev, (void *)(uintptr_t)(first_page + done),
					    (size_t)wlen, &ua, uflags, &iova, &win[w]);
		if (rc < 0) {
			win[w] = NULL;
			ret = map_err(rc);
			break;
		}
		/* the part of the buffer inside this window */
		uint64_t lo = done == 0 ? inpage : 0;
		uint64_t hi = done + wlen > inpage + len ? inpage + len - done : wlen;
		rc = cut_cookies(a, iova + lo, hi - lo, done + wlen >= span, &l);
		if (rc) {
			ret = DDI_DMA_NORESOURCES;
			break;
		}
		/* only the first cookie must meet the alignment */
		ua.align = pg;
		done += wlen;
	}
	if (ret == DDI_DMA_MAPPED && l.n > (uint_t)a->dma_attr_sgllen)
		ret = DDI_DMA_TOOBIG; /* no partial mappings */
	if (ret != DDI_DMA_MAPPED) {
		for (uint64_t i = 0; win[i]; i++)
			udd_dma_unmap(win[i]);
		free(win);
		free(l.c);
		return ret;
	}
	d->windows = win;
	d->cookies = l.c;
	d->ncookies = l.n;
	d->next_cookie = 1;
	d->bound = true;
	d->memh = memh;
	if (cookiep)
		*cookiep = l.c[0];
	if (ccountp)
		*ccountp = l.n;
	return DDI_DMA_MAPPED;
}

int ddi_dma_unbind_handle(ddi_dma_handle_t handle)
{
	if (!handle || !handle->bound)
		return DDI_FAILURE;
	unbind(handle);
	return DDI_SUCCESS;
}

int ddi_dma_sync(ddi_dma_handle_t handle, off_t offset, size_t length, uint_t type)
{
	(void)offset;
	(void)length;
	if (!handle || !handle->bound || type > DDI_DMA_SYNC_FORKERNEL)
		return DDI_FAILURE;
	/* memory is coherent: a full barrier orders the CPU's and the device's view */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("mfence" ::: "memory");
#endif
	return DDI_SUCCESS;
}

uint_t ddi_dma_ncookies(ddi_dma_handle_t handle)
{
	return handle && handle->bound ? handle->ncookies : 0;
}

const ddi_dma_cookie_t *ddi_dma_cookie_iter(ddi_dma_handle_t handle, const ddi_dma_cookie_t *prev)
{
	if (!handle || !handle->bound)
		return NULL;
	if (!prev)
		return &handle->cookies[0];
	if (prev < handle->cookies || prev >= handle->cookies + handle->ncookies)
		return NULL;
	size_t i = (size_t)(prev - handle->cookies) + 1;
	return i < handle->ncookies ? &handle->cookies[i] : NULL;
}

const ddi_dma_cookie_t *ddi_dma_cookie_get(ddi_dma_handle_t handle, uint_t index)
{
	if (!handle || !handle->bound || index >= handle->ncookies)
		return NULL;
	return &handle->cookies[index];
}

const ddi_dma_cookie_t *ddi_dma_cookie_one(ddi_dma_handle_t handle)
{
	/* illumos panics when there is not exactly one cookie; we return NULL */
	if (!handle || !handle->bound || handle->ncookies != 1)
		return NULL;
	return &handle->cookies[0];
}

void ddi_dma_nextcookie(ddi_dma_handle_t handle, ddi_dma_cookie_t *cookiep)
{
	if (!handle || !handle->bound || !cookiep || handle->next_cookie >= handle->ncookies)
		return;
	*cookiep = handle->cookies[handle->next_cookie++];
}
