/* SPDX-License-Identifier: MIT */
/*
 * DMA: memfd-backed memory, the per-device IOVA allocator and DMA windows.
 *
 * Windows of a device are kept in two structures, both under dev->lock:
 *  - dev->dmas: a singly linked list sorted by IOVA (as internal.h says);
 *  - an AVL tree keyed by IOVA, augmented per subtree with the lowest start,
 *    the highest end and the largest free gap between its windows. That lets
 *    the allocator skip every subtree without room and find the lowest
 *    fitting IOVA in O(log n) steps in the usual cases, and an overlap check
 *    take O(log n).
 * internal.h has no field for a tree root, so every window node carries a
 * pointer to the device's tree; the tree is reached through the list head
 * (dev->dmas) and exists exactly while the device has windows.
 *
 * A window is inserted (reserving its IOVA range) before the backend is
 * asked to map it, and removed only after the backend has unmapped it, so
 * the lock is never held across a backend call.
 */
#include <errno.h>
#include <stdatomic.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "internal.h"

#define DMA_MAX_RANGES 32

struct dma_tree;

struct dma_node {
	struct udd_dma pub; /* must be first */
	struct dma_node *left, *right;
	struct dma_tree *tree;
	uint64_t last;      /* pub.iova + pub.len - 1 */
	/* subtree aggregates */
	uint64_t min_start;
	uint64_t max_last;
	uint64_t max_gap;   /* largest free gap (bytes) between windows of the subtree */
	int height;
};

struct dma_tree {
	struct dma_node *root;
	size_t n;
};

static uint64_t page_size(void)
{
	static uint64_t pg;
	uint64_t v = __atomic_load_n(&pg, __ATOMIC_RELAXED);

	if (!v) {
		long s = sysconf(_SC_PAGESIZE);

		v = s > 0 ? (uint64_t)s : 4096;
		__atomic_store_n(&pg, v, __ATOMIC_RELAXED);
	}
	return v;
}

static struct udd_log *dev_log(struct udd_dev *dev)
{
	return dev->ctx ? &dev->ctx->log : NULL;
}

static struct dma_node *to_node(struct udd_dma *d)
{
	return (struct dma_node *)d;
}

/* ---- memory ------------------------------------------------------------------ */

int udd_mem_alloc(udd_ctx_t *ctx, size_t size, udd_mem_t **out)
{
	uint64_t pg = page_size();
	struct udd_mem *mem;
	size_t len;
	int fd, r;
	void *p;

	if (!ctx || !out || size == 0)
		return -EINVAL;
	if (size > SIZE_MAX - (pg - 1))
		return -ENOMEM;
	len = (size + pg - 1) & ~(size_t)(pg - 1);
	if (len > (size_t)INT64_MAX)
		return -ENOMEM;
	mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	fd = memfd_create("udd-dma", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0) {
		r = -errno;
		goto err_free;
	}
	/* Sealed against shrinking and growing once sized: a server that maps
	 * it can rely on its size (a shrink under its mapping would SIGBUS it),
	 * and servers may refuse to map DMA fds that are not sealed so. */
	if (ftruncate(fd, (off_t)len) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
		r = -errno;
		goto err_close;
	}
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		r = -errno;
		goto err_close;
	}
	r = pthread_mutex_init(&mem->lock, NULL);
	if (r) {
		r = -r;
		goto err_unmap;
	}
	mem->ctx = ctx;
	mem->fd = fd;
	mem->ptr = p;
	mem->size = len;
	mem->refs = 1;
	*out = mem;
	return 0;

err_unmap:
	munmap(p, len);
err_close:
	close(fd);
err_free:
	free(mem);
	return r;
}

static void mem_get(struct udd_mem *mem)
{
	pthread_mutex_lock(&mem->lock);
	mem->refs++;
	pthread_mutex_unlock(&mem->lock);
}

static void mem_put(struct udd_mem *mem)
{
	int refs;

	pthread_mutex_lock(&mem->lock);
	refs = --mem->refs;
	pthread_mutex_unlock(&mem->lock);
	if (refs > 0)
		return;
	munmap(mem->ptr, mem->size);
	close(mem->fd);
	pthread_mutex_destroy(&mem->lock);
	free(mem);
}

void udd_mem_free(udd_mem_t *mem)
{
	if (mem)
		mem_put(mem);
}

void *udd_mem_ptr(const udd_mem_t *mem)
{
	return mem ? mem->ptr : NULL;
}

size_t udd_mem_size(const udd_mem_t *mem)
{
	return mem ? mem->size : 0;
}

int udd_mem_fd(const udd_mem_t *mem)
{
	return mem ? mem->fd : -EINVAL;
}

/* ---- the AVL tree -------------------------------------------------------------- */

static int height(const struct dma_node *n)
{
	return n ? n->height : 0;
}

static uint64_t max64(uint64_t a, uint64_t b)
{
	return a > b ? a : b;
}

static uint64_t min64(uint64_t a, uint64_t b)
{
	return a < b ? a : b;
}

static void update(struct dma_node *n)
{
	const struct dma_node *l = n->left, *r = n->right;
	uint64_t gap = 0;

	n->min_start = l ? l->min_start : n->pub.iova;
	n->max_last = r ? r->max_last : n->last;
	if (l)
		gap = max64(l->max_gap, n->pub.iova - l->max_last - 1);
	if (r)
		gap = max64(gap, max64(r->max_gap, r->min_start - n->last - 1));
	n->max_gap = gap;
	n->height = 1 + (height(l) > height(r) ? height(l) : height(r));
}

static struct dma_node *rot_right(struct dma_node *y)
{
	struct dma_node *x = y->left;

	y->left = x->right;
	x->right = y;
	update(y);
	update(x);
	return x;
}

static struct dma_node *rot_left(struct dma_node *x)
{
	struct dma_node *y = x->right;

	x->right = y->left;
	y->left = x;
	update(x);
	update(y);
	return y;
}

static struct dma_node *rebalance(struct dma_node *n)
{
	int bf;

	update(n);
	bf = height(n->left) - height(n->right);
	if (bf > 1) {
		if (height(n->left->left) < height(n->left->right))
			n->left = rot_left(n->left);
		return rot_right(n);
	}
	if (bf < -1) {
		if (height(n->right->right) < height(n->right->left))
			n->right = rot_right(n->right);
		return rot_left(n);
	}
	return n;
}

static struct dma_node *tree_insert(struct dma_node *root, struct dma_node *n)
{
	if (!root) {
		n->left = n->right = NULL;
		update(n);
		return n;
	}
	if (n->pub.iova < root->pub.iova)
		root->left = tree_insert(root->left, n);
	else
		root->right = tree_insert(root->right, n);
	return rebalance(root);
}

static struct dma_node *tree_remove_min(struct dma_node *n, struct dma_node **min)
{
	if (!n->left) {
		*min = n;
		return n->right;
	}
	n->left = tree_remove_min(n->left, min);
	return rebalance(n);
}

static struct dma_node *tree_remove(struct dma_node *root, uint64_t iova)
{
	struct dma_node *l, *r, *m;

	if (!root)
		return NULL;
	if (iova < root->pub.iova) {
		root->left = tree_remove(root->left, iova);
	} else if (iova > root->pub.iova) {
		root->right = tree_remove(root->right, iova);
	} else {
		l = root->left;
		r = root->right;
		if (!r)
			return l;
		r = tree_remove_min(r, &m);
		m->left = l;
		m->right = r;
		return rebalance(m);
	}
	return rebalance(root);
}

/* The window with the largest IOVA below @iova, or NULL. */
static struct dma_node *tree_pred(struct dma_node *n, uint64_t iova)
{
	struct dma_node *p = NULL;

	while (n) {
		if (n->pub.iova < iova) {
			p = n;
			n = n->right;
		} else {
			n = n->left;
		}
	}
	return p;
}

static bool tree_overlaps(const struct dma_node *n, uint64_t first, uint64_t last)
{
	while (n) {
		if (n->last < first)
			n = n->right;
		else if (n->pub.iova > last)
			n = n->left;
		else
			return true;
	}
	return false;
}

/* What a free range must satisfy. */
struct fit_req {
	uint64_t len;   /* > 0 */
	uint64_t align; /* power of two */
	uint64_t mask;  /* segment boundary mask, 0 = none; len - 1 <= mask */
	uint64_t lo, hi;/* inclusive */
};

/* Lowest placement inside the free range [a, b] (inclusive). */
static bool try_fit(const struct fit_req *q, uint64_t a, uint64_t b, uint64_t *out)
{
	uint64_t x;

	a = max64(a, q->lo);
	b = min64(b, q->hi);
	if (a > b || a > UINT64_MAX - (q->align - 1))
		return false;
	x = (a + q->align - 1) & ~(q->align - 1);
	if (x > b || b - x < q->len - 1)
		return false;
	if (q->mask && ((x ^ (x + q->len - 1)) & ~q->mask)) {
		/* crosses a boundary: start at the next one. Since len - 1 <=
		 * mask, the window then fits the segment; the boundary is a
		 * multiple of align when mask + 1 >= align, and when it is
		 * smaller an aligned x never crosses (it is itself a boundary). */
		if ((x | q->mask) == UINT64_MAX)
			return false;
		x = (x | q->mask) + 1;
		if (x > b || b - x < q->len - 1)
			return false;
	}
	*out = x;
	return true;
}

/*
 * Lowest placement in subtree @n whose windows all lie within the envelope
 * [a, b]: the free ranges are [a, first start), the gaps, (last end, b].
 */
static bool tree_search(const struct fit_req *q, const struct dma_node *n, uint64_t a, uint64_t b,
			uint64_t *out)
{
	uint64_t ca = max64(a, q->lo), cb = min64(b, q->hi), big;

	if (ca > cb || cb - ca < q->len - 1)
		return false;
	if (!n)
		return try_fit(q, a, b, out);
	big = n->max_gap;
	if (n->min_start > a)
		big = max64(big, n->min_start - a);
	if (b > n->max_last)
		big = max64(big, b - n->max_last);
	if (big < q->len)
		return false;
	if (n->pub.iova > a && tree_search(q, n->left, a, n->pub.iova - 1, out))
		return true;
	if (n->last < b && tree_search(q, n->right, n->last + 1, b, out))
		return true;
	return false;
}

/* ---- allocator ---------------------------------------------------------------------- */

static struct dma_tree *dev_tree(struct udd_dev *dev)
{
	return dev->dmas ? to_node(dev->dmas)->tree : NULL;
}

/* Check @in, apply defaults. */
static int attr_norm(const udd_dma_attr_t *in, udd_dma_attr_t *out)
{
	udd_dma_attr_t a;
	uint64_t pg = page_size();

	if (in)
		a = *in;
	else
		memset(&a, 0, sizeof(a));
	if (a.addr_hi == 0)
		a.addr_hi = UINT64_MAX;
	if (a.align == 0)
		a.align = pg;
	if (a.align & (a.align - 1))
		return -EINVAL;
	if (a.align < pg)
		a.align = pg; /* windows are page-granular anyway */
	if (a.seg_boundary & (a.seg_boundary + 1))
		return -EINVAL; /* not 2^n - 1 */
	if (a.seg_boundary == UINT64_MAX)
		a.seg_boundary = 0; /* no boundary, same as the default */
	if (a.max_seg == 0)
		a.max_seg = UINT64_MAX;
	if (a.addr_lo > a.addr_hi)
		return -EINVAL;
	*out = a;
	return 0;
}

static int cmp_range(const void *a, const void *b)
{
	const struct udd_be_iova_range *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

/* The backend's valid IOVA ranges, sorted; everything when it has none. */
static int fetch_ranges(struct udd_dev *dev, struct udd_be_iova_range *r, size_t *n);

/* The IOMMU's valid ranges do not change while a device is borrowed: ask the
 * backend once (an ioctl for VFIO), then copy the cached answer. */
static int get_ranges(struct udd_dev *dev, struct udd_be_iova_range *r, size_t *n)
{
	_Static_assert(sizeof(dev->iova_ranges) / sizeof(dev->iova_ranges[0]) >= DMA_MAX_RANGES,
		       "cache holds every range");
	if (__atomic_load_n(&dev->iova_ranges_state, __ATOMIC_ACQUIRE) == 1) {
		*n = dev->n_iova_ranges;
		memcpy(r, dev->iova_ranges, *n * sizeof(*r));
		return 0;
	}
	int rc = fetch_ranges(dev, r, n);
	if (rc == 0) {
		pthread_mutex_lock(&dev->lock);
		if (dev->iova_ranges_state == 0) {
			memcpy(dev->iova_ranges, r, *n * sizeof(*r));
			dev->n_iova_ranges = *n;
			__atomic_store_n(&dev->iova_ranges_state, 1, __ATOMIC_RELEASE);
		}
		pthread_mutex_unlock(&dev->lock);
	}
	return rc;
}

static int fetch_ranges(struct udd_dev *dev, struct udd_be_iova_range *r, size_t *n)
{
	size_t cap = DMA_MAX_RANGES, i, k;
	int rc;

	if (dev->be && dev->be->iova_ranges) {
		rc = dev->be->iova_ranges(dev->bdev, r, &cap);
		if (rc < 0 && rc != -ENOTSUP && rc != -EOPNOTSUPP)
			return rc;
		if (rc == 0 && cap > 0) {
			if (cap > DMA_MAX_RANGES)
				cap = DMA_MAX_RANGES;
			for (i = 0, k = 0; i < cap; i++)
				if (r[i].start <= r[i].end)
					r[k++] = r[i];
			qsort(r, k, sizeof(*r), cmp_range);
			*n = k;
			return 0;
		}
	}
	r[0].start = 0;
	r[0].end = UINT64_MAX;
	*n = 1;
	return 0;
}

static int size_checks(uint64_t len, const udd_dma_attr_t *a)
{
	if (len > a->max_seg)
		return -E2BIG;
	if (a->seg_boundary && len - 1 > a->seg_boundary)
		return -E2BIG;
	return 0;
}

/* Find room; dev->lock held. */
static int iova_find_locked(struct udd_dev *dev, uint64_t len, const udd_dma_attr_t *a,
			    const struct udd_be_iova_range *rg, size_t nrg, uint64_t *iova)
{
	struct dma_tree *t = dev_tree(dev);
	struct fit_req q = { .len = len, .align = a->align, .mask = a->seg_boundary };
	size_t i;

	for (i = 0; i < nrg; i++) {
		q.lo = max64(max64(a->addr_lo, rg[i].start), 1); /* never IOVA 0 */
		q.hi = min64(a->addr_hi, rg[i].end);
		if (q.lo > q.hi)
			continue;
		if (tree_search(&q, t ? t->root : NULL, 0, UINT64_MAX, iova))
			return 0;
	}
	return -ENOSPC;
}

int udd_iova_alloc(struct udd_dev *dev, uint64_t len, const udd_dma_attr_t *attr, uint64_t *iova)
{
	struct udd_be_iova_range rg[DMA_MAX_RANGES];
	udd_dma_attr_t a;
	size_t nrg;
	int r;

	if (!dev || !iova || len == 0)
		return -EINVAL;
	r = attr_norm(attr, &a);
	if (r < 0)
		return r;
	r = size_checks(len, &a);
	if (r < 0)
		return r;
	r = get_ranges(dev, rg, &nrg);
	if (r < 0)
		return r;
	pthread_mutex_lock(&dev->lock);
	r = iova_find_locked(dev, len, &a, rg, nrg, iova);
	pthread_mutex_unlock(&dev->lock);
	return r;
}

/* Check a fixed placement against attr and the valid ranges. */
static int fixed_checks(uint64_t iova, uint64_t len, const udd_dma_attr_t *a,
			const struct udd_be_iova_range *rg, size_t nrg)
{
	uint64_t last;
	size_t i;

	if (iova > UINT64_MAX - (len - 1))
		return -EINVAL;
	last = iova + len - 1;
	if (iova & (a->align - 1))
		return -EINVAL;
	if (iova < a->addr_lo || last > a->addr_hi)
		return -EINVAL;
	if (a->seg_boundary && ((iova ^ last) & ~a->seg_boundary))
		return -E2BIG;
	for (i = 0; i < nrg; i++)
		if (iova >= rg[i].start && last <= rg[i].end)
			return 0;
	return -EINVAL;
}

/* Insert a reserved window; dev->lock held. Returns true if the device had
 * no window before (a new tree was started). */
static bool insert_locked(struct udd_dev *dev, struct dma_node *n, struct dma_tree *fresh)
{
	struct dma_tree *t = dev_tree(dev);
	struct dma_node *p;
	bool started = false;

	if (!t) {
		t = fresh;
		t->root = NULL;
		t->n = 0;
		started = true;
	}
	n->tree = t;
	p = tree_pred(t->root, n->pub.iova);
	if (p) {
		n->pub.next = p->pub.next;
		p->pub.next = &n->pub;
	} else {
		n->pub.next = dev->dmas;
		dev->dmas = &n->pub;
	}
	t->root = tree_insert(t->root, n);
	t->n++;
	return started;
}

/* Remove a window; dev->lock held. Returns the tree if it became empty
 * (the caller frees it). */
static struct dma_tree *remove_locked(struct udd_dev *dev, struct dma_node *n)
{
	struct dma_tree *t = n->tree;
	struct dma_node *p = tree_pred(t->root, n->pub.iova);

	if (p)
		p->pub.next = n->pub.next;
	else
		dev->dmas = n->pub.next;
	t->root = tree_remove(t->root, n->pub.iova);
	t->n--;
	n->pub.next = NULL;
	return t->n == 0 ? t : NULL;
}

/* ---- faults --------------------------------------------------------------------------- */

static void fault_cb(void *user, uint64_t iova, uint64_t len, int write)
{
	struct udd_dev *dev = user;

	(void)len;
	(void)write;
	__atomic_store_n(&dev->dma_fault_last, iova, __ATOMIC_RELAXED);
	__atomic_fetch_add(&dev->dma_faults, 1, __ATOMIC_RELEASE);
}

/* Registering again is harmless (same callback, same user). */
static void fault_cb_register(struct udd_dev *dev)
{
	if (dev->be && dev->be->set_fault_cb)
		dev->be->set_fault_cb(dev->bdev, fault_cb, dev);
}

int udd_dma_faults(udd_dev_t *dev, uint64_t *last_iova)
{
	uint64_t n;
	bool none;

	if (!dev)
		return -EINVAL;
	pthread_mutex_lock(&dev->lock);
	none = dev->dmas == NULL;
	pthread_mutex_unlock(&dev->lock);
	if (none) /* maybe never registered: do it now, for later faults */
		fault_cb_register(dev);
	n = __atomic_exchange_n(&dev->dma_faults, 0, __ATOMIC_ACQUIRE);
	if (last_iova)
		*last_iova = __atomic_load_n(&dev->dma_fault_last, __ATOMIC_RELAXED);
	return n > INT_MAX ? INT_MAX : (int)n;
}

/* ---- windows ---------------------------------------------------------------------------- */

static int dma_map_common(struct udd_dev *dev, struct udd_mem *mem, size_t offset, void *va,
			  size_t len, const udd_dma_attr_t *attr, uint32_t flags, uint64_t *iova,
			  udd_dma_t **out)
{
	struct udd_be_iova_range rg[DMA_MAX_RANGES];
	struct dma_tree *fresh, *empty;
	struct dma_node *n;
	udd_dma_attr_t a;
	uint64_t at = 0;
	size_t nrg;
	bool started;
	int r;

	r = attr_norm(attr, &a);
	if (r < 0)
		return r;
	if (flags & UDD_DMA_F_FIXED) {
		at = *iova;
		if (at & (page_size() - 1))
			return -EINVAL;
	}
	r = size_checks(len, &a);
	if (r < 0)
		return r;
	if (__atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE))
		return -ENODEV;
	r = get_ranges(dev, rg, &nrg);
	if (r < 0)
		return r;
	if (flags & UDD_DMA_F_FIXED) {
		r = fixed_checks(at, len, &a, rg, nrg);
		if (r < 0)
			return r;
	}

	n = calloc(1, sizeof(*n));
	fresh = calloc(1, sizeof(*fresh));
	if (!n || !fresh) {
		free(n);
		free(fresh);
		return -ENOMEM;
	}
	n->pub.dev = dev;
	n->pub.mem = mem;
	n->pub.len = len;
	n->pub.va = va;

	pthread_mutex_lock(&dev->lock);
	if (flags & UDD_DMA_F_FIXED) {
		struct dma_tree *t = dev_tree(dev);

		if (t && tree_overlaps(t->root, at, at + len - 1))
			r = -EEXIST;
	} else {
		r = iova_find_locked(dev, len, &a, rg, nrg, &at);
	}
	if (r < 0) {
		pthread_mutex_unlock(&dev->lock);
		free(n);
		free(fresh);
		return r;
	}
	n->pub.iova = at;
	n->last = at + len - 1;
	started = insert_locked(dev, n, fresh);
	pthread_mutex_unlock(&dev->lock);
	if (!started)
		free(fresh);
	else
		fault_cb_register(dev);

	if (mem)
		mem_get(mem);
	r = dev->be->dma_map(dev->bdev, at, len, mem ? mem->fd : -1,
			     mem ? mem->fd_offset + offset : 0, va,
			     flags & (UDD_DMA_F_READ | UDD_DMA_F_WRITE));
	if (r < 0) {
		if (r == -ENODEV)
			udd_dev_mark_gone(dev);
		udd_logf(dev_log(dev), UDD_LOG_DEBUG, "dma map of 0x%llx+0x%zx failed: %d",
			 (unsigned long long)at, len, r);
		pthread_mutex_lock(&dev->lock);
		empty = remove_locked(dev, n);
		pthread_mutex_unlock(&dev->lock);
		free(empty);
		if (mem)
			mem_put(mem);
		free(n);
		return r;
	}
	*iova = at;
	*out = &n->pub;
	return 0;
}

static int flags_ok(uint32_t flags)
{
	if (flags & ~(UDD_DMA_F_READ | UDD_DMA_F_WRITE | UDD_DMA_F_FIXED))
		return 0;
	return (flags & (UDD_DMA_F_READ | UDD_DMA_F_WRITE)) != 0;
}

int udd_dma_map(udd_dev_t *dev, udd_mem_t *mem, size_t offset, size_t len,
		const udd_dma_attr_t *attr, uint32_t flags, uint64_t *iova, udd_dma_t **out)
{
	uint64_t pg = page_size();

	if (!dev || !mem || !iova || !out || len == 0 || !flags_ok(flags))
		return -EINVAL;
	if ((offset & (pg - 1)) || (len & (pg - 1)))
		return -EINVAL;
	if (offset > mem->size || len > mem->size - offset)
		return -EINVAL;
	return dma_map_common(dev, mem, offset, (char *)mem->ptr + offset, len, attr, flags, iova,
			      out);
}

int udd_dma_map_va(udd_dev_t *dev, void *va, size_t len, const udd_dma_attr_t *attr,
		   uint32_t flags, uint64_t *iova, udd_dma_t **out)
{
	uint64_t pg = page_size();

	if (!dev || !va || !iova || !out || len == 0 || !flags_ok(flags))
		return -EINVAL;
	if (((uintptr_t)va & (pg - 1)) || (len & (pg - 1)))
		return -EINVAL;
	if ((uintptr_t)va > UINTPTR_MAX - (len - 1))
		return -EINVAL;
	return dma_map_common(dev, NULL, 0, va, len, attr, flags, iova, out);
}

void udd_dma_unmap(udd_dma_t *dma)
{
	struct dma_node *n;
	struct dma_tree *empty;
	struct udd_dev *dev;
	int r;

	if (!dma)
		return;
	n = to_node(dma);
	dev = dma->dev;
	if (!__atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE)) {
		r = dev->be->dma_unmap(dev->bdev, dma->iova, dma->len);
		if (r == -ENODEV)
			udd_dev_mark_gone(dev);
		else if (r < 0)
			udd_logf(dev_log(dev), UDD_LOG_WARN, "dma unmap of 0x%llx+0x%zx failed: %d",
				 (unsigned long long)dma->iova, dma->len, r);
	}
	pthread_mutex_lock(&dev->lock);
	empty = remove_locked(dev, n);
	pthread_mutex_unlock(&dev->lock);
	free(empty);
	if (dma->mem)
		mem_put(dma->mem);
	free(n);
}

uint64_t udd_dma_iova(const udd_dma_t *dma)
{
	return dma ? dma->iova : 0;
}

size_t udd_dma_len(const udd_dma_t *dma)
{
	return dma ? dma->len : 0;
}

void udd_dma_release_all(struct udd_dev *dev)
{
	struct udd_dma *d, *next;
	struct dma_tree *t;
	int r;

	if (!dev)
		return;
	pthread_mutex_lock(&dev->lock);
	t = dev_tree(dev);
	d = dev->dmas;
	dev->dmas = NULL;
	pthread_mutex_unlock(&dev->lock);
	for (; d; d = next) {
		next = d->next;
		if (!__atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE)) {
			r = dev->be->dma_unmap(dev->bdev, d->iova, d->len);
			if (r == -ENODEV)
				udd_dev_mark_gone(dev);
		}
		if (d->mem)
			mem_put(d->mem);
		free(to_node(d));
	}
	free(t);
}

/* A fence and the argument checks; windows the backend copies (a lent real
 * device across hosts) are synced through it (udd.h). */
int udd_dma_sync(udd_dma_t *dma, size_t offset, size_t len, unsigned dir)
{
	if (!dma || (dir != UDD_DMA_SYNC_FOR_DEVICE && dir != UDD_DMA_SYNC_FOR_CPU) ||
	    offset > dma->len || len > dma->len - offset)
		return -EINVAL;
	atomic_thread_fence(memory_order_seq_cst);
	struct udd_dev *dev = dma->dev;
	if (!len || !dev || !dev->be || !dev->be->dma_sync)
		return 0;
	if (__atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE))
		return -ENODEV;
	int r = dev->be->dma_sync(dev->bdev, dma->iova + offset, len,
				  dir == UDD_DMA_SYNC_FOR_DEVICE);
	if (r == -ENODEV)
		udd_dev_mark_gone(dev);
	atomic_thread_fence(memory_order_seq_cst);
	return r;
}
