/* SPDX-License-Identifier: MIT */
/*
 * The IOVA allocator and DMA window bookkeeping on their own: a hand-built
 * device whose backend only records dma_map/dma_unmap calls.
 */
#include <fcntl.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "internal.h"
#include "testlib.h"

#define PG 4096ull

static struct {
	int maps, unmaps;
	uint64_t iova, size, fd_offset;
	int fd;
	void *vaddr;
	uint32_t prot;
	int fail_next; /* error to return from the next dma_map */
	udd_be_fault_cb_t fault_cb;
	void *fault_user;
	int fault_regs;
} rec;

static int fake_map(void *bdev, uint64_t iova, uint64_t size, int fd, uint64_t fd_offset,
		    void *vaddr, uint32_t prot)
{
	(void)bdev;
	if (rec.fail_next) {
		int r = rec.fail_next;

		rec.fail_next = 0;
		return r;
	}
	rec.maps++;
	rec.iova = iova;
	rec.size = size;
	rec.fd = fd;
	rec.fd_offset = fd_offset;
	rec.vaddr = vaddr;
	rec.prot = prot;
	return 0;
}

static int fake_unmap(void *bdev, uint64_t iova, uint64_t size)
{
	(void)bdev;
	rec.unmaps++;
	rec.iova = iova;
	rec.size = size;
	return 0;
}

static void fake_set_fault_cb(void *bdev, udd_be_fault_cb_t cb, void *user)
{
	(void)bdev;
	rec.fault_cb = cb;
	rec.fault_user = user;
	rec.fault_regs++;
}

static int fake_ranges(void *bdev, struct udd_be_iova_range *r, size_t *n)
{
	(void)bdev;
	if (*n < 2)
		return -ENOSPC;
	/* deliberately unsorted */
	r[0].start = 0x100000;
	r[0].end = 0x1fffff;
	r[1].start = 0x1000;
	r[1].end = 0x3fff;
	*n = 2;
	return 0;
}

static const struct udd_backend_ops fake_ops = {
	.name = "fake",
	.dma_map = fake_map,
	.dma_unmap = fake_unmap,
	.set_fault_cb = fake_set_fault_cb,
};

static const struct udd_backend_ops fake_ranges_ops = {
	.name = "fake-ranges",
	.dma_map = fake_map,
	.dma_unmap = fake_unmap,
	.iova_ranges = fake_ranges,
};

static void dev_init(struct udd_dev *dev, const struct udd_backend_ops *ops)
{
	memset(dev, 0, sizeof(*dev));
	dev->be = ops;
	dev->irq_type = -1;
	dev->lock_fd = -1;
	pthread_mutex_init(&dev->lock, NULL);
}

static void dev_fini(struct udd_dev *dev)
{
	udd_dma_release_all(dev);
	pthread_mutex_destroy(&dev->lock);
}

/* A page-aligned buffer for udd_dma_map_va (never touched by the fake). */
static char *va_buf;

static int map(struct udd_dev *dev, uint64_t len, const udd_dma_attr_t *attr, uint32_t flags,
	       uint64_t *iova, udd_dma_t **d)
{
	return udd_dma_map_va(dev, va_buf, len, attr, flags, iova, d);
}

/* The list dev->dmas must be sorted by IOVA and free of overlaps. */
static size_t check_list(struct udd_dev *dev)
{
	size_t n = 0;
	const struct udd_dma *p = NULL;

	for (const struct udd_dma *d = dev->dmas; d; d = d->next) {
		if (p)
			CHECK(p->iova + p->len <= d->iova);
		p = d;
		n++;
	}
	return n;
}

static void test_basic(void)
{
	struct udd_dev dev;
	udd_dma_t *a, *b, *c, *d;
	uint64_t ia, ib, ic, id, x;

	dev_init(&dev, &fake_ops);
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_READ, &ia, &a));
	CHECK_EQ(ia, PG); /* never IOVA 0 */
	CHECK_EQ(udd_dma_iova(a), PG);
	CHECK_EQ(udd_dma_len(a), PG);
	CHECK_EQ(rec.iova, PG);
	CHECK_EQ(rec.fd, -1);
	CHECK(rec.vaddr == va_buf);
	CHECK_EQ(rec.prot, UDD_DMA_F_READ);
	CHECK_EQ(rec.fault_regs, 1);
	CHECK(rec.fault_user == &dev);

	REQUIRE_OK(map(&dev, 2 * PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &ib, &b));
	CHECK_EQ(ib, 2 * PG);
	CHECK_EQ(rec.prot, UDD_DMA_F_READ | UDD_DMA_F_WRITE);
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_WRITE, &ic, &c));
	CHECK_EQ(ic, 4 * PG);
	CHECK_EQ(check_list(&dev), 3);
	CHECK_EQ(rec.fault_regs, 1); /* registered once while windows exist */

	/* reuse after unmap: the hole left by b is the lowest fit */
	int unmaps = rec.unmaps;
	udd_dma_unmap(b);
	CHECK_EQ(rec.unmaps, unmaps + 1);
	CHECK_EQ(rec.iova, ib);
	CHECK_EQ(rec.size, 2 * PG);
	CHECK_EQ(check_list(&dev), 2);
	REQUIRE_OK(udd_iova_alloc(&dev, 2 * PG, NULL, &x));
	CHECK_EQ(x, ib);
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_READ, &id, &d));
	CHECK_EQ(id, ib);
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_READ, &x, &b));
	CHECK_EQ(x, ib + PG);
	/* a 2-page window no longer fits the hole */
	REQUIRE_OK(udd_iova_alloc(&dev, 2 * PG, NULL, &x));
	CHECK_EQ(x, 5 * PG);

	/* a failing backend leaves no trace */
	rec.fail_next = -EIO;
	CHECK_EQ(map(&dev, PG, NULL, UDD_DMA_F_READ, &x, &b), -EIO);
	CHECK_EQ(check_list(&dev), 4);
	REQUIRE_OK(udd_iova_alloc(&dev, PG, NULL, &x));
	CHECK_EQ(x, 5 * PG);

	dev_fini(&dev);
	CHECK(dev.dmas == NULL);
}

static void test_args(void)
{
	struct udd_dev dev;
	udd_dma_t *d = NULL;
	uint64_t x = 0;
	udd_dma_attr_t at;

	int maps0 = rec.maps;

	dev_init(&dev, &fake_ops);
	CHECK_EQ(map(&dev, PG, NULL, 0, &x, &d), -EINVAL);               /* no direction */
	CHECK_EQ(map(&dev, PG, NULL, UDD_DMA_F_READ | 0x80, &x, &d), -EINVAL); /* unknown flag */
	CHECK_EQ(map(&dev, 100, NULL, UDD_DMA_F_READ, &x, &d), -EINVAL);  /* len not page-aligned */
	CHECK_EQ(map(&dev, 0, NULL, UDD_DMA_F_READ, &x, &d), -EINVAL);
	CHECK_EQ(udd_dma_map_va(&dev, va_buf + 8, PG, NULL, UDD_DMA_F_READ, &x, &d), -EINVAL);
	CHECK_EQ(udd_dma_map_va(NULL, va_buf, PG, NULL, UDD_DMA_F_READ, &x, &d), -EINVAL);
	CHECK_EQ(udd_dma_map_va(&dev, va_buf, PG, NULL, UDD_DMA_F_READ, NULL, &d), -EINVAL);
	CHECK_EQ(udd_dma_map_va(&dev, va_buf, PG, NULL, UDD_DMA_F_READ, &x, NULL), -EINVAL);
	memset(&at, 0, sizeof(at));
	at.align = 3 * PG;
	CHECK_EQ(map(&dev, PG, &at, UDD_DMA_F_READ, &x, &d), -EINVAL);
	memset(&at, 0, sizeof(at));
	at.seg_boundary = 0x10000; /* not a mask */
	CHECK_EQ(map(&dev, PG, &at, UDD_DMA_F_READ, &x, &d), -EINVAL);
	memset(&at, 0, sizeof(at));
	at.addr_lo = 0x20000;
	at.addr_hi = 0x10000;
	CHECK_EQ(map(&dev, PG, &at, UDD_DMA_F_READ, &x, &d), -EINVAL);
	x = PG + 1;
	CHECK_EQ(map(&dev, PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &d), -EINVAL);
	CHECK(d == NULL);
	CHECK_EQ(rec.maps, maps0); /* nothing reached the backend */
	CHECK(dev.dmas == NULL);
	CHECK_EQ(udd_dma_iova(NULL), 0);
	CHECK_EQ(udd_dma_len(NULL), 0);
	udd_dma_unmap(NULL);
	dev_fini(&dev);
}

static void test_attrs(void)
{
	struct udd_dev dev;
	udd_dma_t *d[8];
	uint64_t x, y;
	udd_dma_attr_t at;

	dev_init(&dev, &fake_ops);
	/* alignment: 1 MiB, lowest such address */
	memset(&at, 0, sizeof(at));
	at.align = 1 << 20;
	REQUIRE_OK(map(&dev, PG, &at, UDD_DMA_F_READ, &x, &d[0]));
	CHECK_EQ(x, 1 << 20);
	REQUIRE_OK(map(&dev, PG, &at, UDD_DMA_F_READ, &x, &d[1]));
	CHECK_EQ(x, 2 << 20);
	/* a sub-page power of two is satisfied by page alignment */
	at.align = 16;
	REQUIRE_OK(map(&dev, PG, &at, UDD_DMA_F_READ, &x, &d[2]));
	CHECK_EQ(x, PG);

	/* addr_lo / addr_hi, inclusive */
	memset(&at, 0, sizeof(at));
	at.addr_lo = 0x10000000;
	at.addr_hi = 0x10003fff;
	REQUIRE_OK(map(&dev, 3 * PG, &at, UDD_DMA_F_READ, &x, &d[3]));
	CHECK_EQ(x, 0x10000000);
	REQUIRE_OK(map(&dev, PG, &at, UDD_DMA_F_READ, &x, &d[4]));
	CHECK_EQ(x, 0x10003000);
	CHECK_EQ(map(&dev, PG, &at, UDD_DMA_F_READ, &x, &d[5]), -ENOSPC);
	CHECK_EQ(udd_iova_alloc(&dev, PG, &at, &x), -ENOSPC);
	at.addr_hi = 0x10004fff;
	CHECK_EQ(map(&dev, 2 * PG, &at, UDD_DMA_F_READ, &x, &d[5]), -ENOSPC);
	/* the top of the address space */
	memset(&at, 0, sizeof(at));
	at.addr_lo = UINT64_MAX - 2 * PG + 1;
	REQUIRE_OK(map(&dev, 2 * PG, &at, UDD_DMA_F_READ, &x, &d[5]));
	CHECK_EQ(x, UINT64_MAX - 2 * PG + 1);
	CHECK_EQ(map(&dev, PG, &at, UDD_DMA_F_READ, &y, &d[6]), -ENOSPC);
	udd_dma_unmap(d[5]);

	/* max_seg */
	memset(&at, 0, sizeof(at));
	at.max_seg = 2 * PG;
	CHECK_EQ(map(&dev, 3 * PG, &at, UDD_DMA_F_READ, &x, &d[5]), -E2BIG);
	CHECK_EQ(udd_iova_alloc(&dev, 3 * PG, &at, &x), -E2BIG);
	REQUIRE_OK(map(&dev, 2 * PG, &at, UDD_DMA_F_READ, &x, &d[5]));
	CHECK_EQ(x, 2 * PG);
	udd_dma_unmap(d[5]);

	/* 64 KiB segment boundary: a window never crosses one */
	memset(&at, 0, sizeof(at));
	at.seg_boundary = 0xffff;
	at.addr_lo = 0x4000f000; /* one page before a boundary */
	REQUIRE_OK(map(&dev, 2 * PG, &at, UDD_DMA_F_READ, &x, &d[5]));
	CHECK_EQ(x, 0x40010000);
	CHECK_EQ(x >> 16, (x + 2 * PG - 1) >> 16);
	REQUIRE_OK(map(&dev, PG, &at, UDD_DMA_F_READ, &y, &d[6]));
	CHECK_EQ(y, 0x4000f000); /* a page fits before the boundary */
	REQUIRE_OK(map(&dev, 0x10000, &at, UDD_DMA_F_READ, &y, &d[7]));
	CHECK_EQ(y, 0x40020000); /* exactly one segment */
	CHECK_EQ(map(&dev, 0x11000, &at, UDD_DMA_F_READ, &y, &d[7]), -E2BIG);
	/* a fixed window across the boundary */
	y = 0x4003f000;
	CHECK_EQ(map(&dev, 2 * PG, &at, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &y, &d[7]), -E2BIG);
	dev_fini(&dev);
}

static void test_fixed(void)
{
	struct udd_dev dev;
	udd_dma_t *a, *b, *c;
	uint64_t x;

	dev_init(&dev, &fake_ops);
	x = 0x100000;
	REQUIRE_OK(map(&dev, 4 * PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &a));
	CHECK_EQ(x, 0x100000);
	CHECK_EQ(rec.iova, 0x100000);
	x = 0x103000; /* overlaps the last page */
	CHECK_EQ(map(&dev, 2 * PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &b), -EEXIST);
	x = 0xff000; /* overlaps the first page */
	CHECK_EQ(map(&dev, 2 * PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &b), -EEXIST);
	x = 0xf0000; /* covers it entirely */
	CHECK_EQ(map(&dev, 0x100000, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &b), -EEXIST);
	x = 0x104000; /* adjacent: fine */
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &b));
	x = 0xff000;
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &c));
	CHECK_EQ(check_list(&dev), 3);
	CHECK_EQ(dev.dmas->iova, 0xff000);
	/* the allocator works around fixed windows */
	udd_dma_attr_t at = { .addr_lo = 0xfe000 };
	REQUIRE_OK(udd_iova_alloc(&dev, 2 * PG, &at, &x));
	CHECK_EQ(x, 0x105000);
	at.addr_lo = 0;
	at.align = 0x100000;
	REQUIRE_OK(udd_iova_alloc(&dev, PG, &at, &x));
	CHECK_EQ(x, 0x200000);
	udd_dma_unmap(a);
	x = 0x103000;
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &a));
	CHECK_EQ(check_list(&dev), 3);
	dev_fini(&dev);
}

static void test_ranges(void)
{
	struct udd_dev dev;
	udd_dma_t *a, *b, *c;
	uint64_t x;

	dev_init(&dev, &fake_ranges_ops);
	REQUIRE_OK(map(&dev, 3 * PG, NULL, UDD_DMA_F_READ, &x, &a));
	CHECK_EQ(x, 0x1000);
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_READ, &x, &b));
	CHECK_EQ(x, 0x100000);
	REQUIRE_OK(map(&dev, 2 * PG, NULL, UDD_DMA_F_READ, &x, &c));
	CHECK_EQ(x, 0x101000);
	x = 0x5000; /* outside every valid range */
	CHECK_EQ(map(&dev, PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &c), -EINVAL);
	x = 0x1ff000; /* straddles the end of a range */
	CHECK_EQ(map(&dev, 2 * PG, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &c), -EINVAL);
	CHECK_EQ(udd_iova_alloc(&dev, 0x100000, NULL, &x), -ENOSPC);
	dev_fini(&dev);
}

static void test_faults(void)
{
	struct udd_dev dev;
	udd_dma_t *a;
	uint64_t x, last = 0;

	dev_init(&dev, &fake_ops);
	rec.fault_cb = NULL;
	CHECK_EQ(udd_dma_faults(&dev, &last), 0);
	REQUIRE_OK(map(&dev, PG, NULL, UDD_DMA_F_READ, &x, &a));
	REQUIRE(rec.fault_cb != NULL);
	rec.fault_cb(rec.fault_user, 0xdead000, 8, 1);
	rec.fault_cb(rec.fault_user, 0xbeef000, 4, 0);
	CHECK_EQ(udd_dma_faults(&dev, &last), 2);
	CHECK_EQ(last, 0xbeef000);
	CHECK_EQ(udd_dma_faults(&dev, NULL), 0);
	CHECK_EQ(udd_dma_faults(NULL, NULL), -EINVAL);
	dev_fini(&dev);
}

static void test_mem(void)
{
	struct udd_ctx ctx;
	struct udd_dev dev;
	udd_mem_t *m;
	udd_dma_t *d;
	uint64_t x;
	char *p;
	int fd;

	memset(&ctx, 0, sizeof(ctx));
	dev_init(&dev, &fake_ops);
	CHECK_EQ(udd_mem_alloc(NULL, PG, &m), -EINVAL);
	CHECK_EQ(udd_mem_alloc(&ctx, 0, &m), -EINVAL);
	REQUIRE_OK(udd_mem_alloc(&ctx, 3 * PG + 1, &m));
	CHECK_EQ(udd_mem_size(m), 4 * PG);
	p = udd_mem_ptr(m);
	REQUIRE(p != NULL);
	CHECK(((uintptr_t)p & (PG - 1)) == 0);
	CHECK(p[0] == 0 && p[4 * PG - 1] == 0);
	fd = udd_mem_fd(m);
	CHECK(fd >= 0);
	CHECK(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	CHECK_EQ(udd_mem_fd(NULL), -EINVAL);
	CHECK(udd_mem_ptr(NULL) == NULL);
	CHECK_EQ(udd_mem_size(NULL), 0);

	CHECK_EQ(udd_dma_map(&dev, m, PG, 4 * PG, NULL, UDD_DMA_F_READ, &x, &d), -EINVAL);
	CHECK_EQ(udd_dma_map(&dev, m, 100, PG, NULL, UDD_DMA_F_READ, &x, &d), -EINVAL);
	REQUIRE_OK(udd_dma_map(&dev, m, PG, 2 * PG, NULL, UDD_DMA_F_WRITE, &x, &d));
	CHECK_EQ(rec.fd, fd);
	CHECK_EQ(rec.fd_offset, PG);
	CHECK(rec.vaddr == p + PG);
	CHECK_EQ(rec.size, 2 * PG);

	/* the window keeps the memory alive after udd_mem_free */
	udd_mem_free(m);
	CHECK(fcntl(fd, F_GETFD) >= 0);
	memset(p + PG, 0x5a, 2 * PG); /* still mapped (ASan/SEGV otherwise) */
	udd_dma_unmap(d);
	CHECK(fcntl(fd, F_GETFD) < 0); /* closed with the last reference */
	udd_mem_free(NULL);
	dev_fini(&dev);
}

/* ---- many windows against a brute-force reference ------------------------------ */

struct iv {
	uint64_t lo, hi; /* inclusive */
};

static struct iv *ref;
static size_t nref;

static uint64_t rnd_state = 0x9e3779b97f4a7c15ull;

static uint64_t rnd(void)
{
	rnd_state ^= rnd_state << 13;
	rnd_state ^= rnd_state >> 7;
	rnd_state ^= rnd_state << 17;
	return rnd_state;
}

static bool ref_fit(uint64_t a, uint64_t b, uint64_t len, const udd_dma_attr_t *at, uint64_t *out)
{
	uint64_t lo = a < at->addr_lo ? at->addr_lo : a, hi = b, x, mask = at->seg_boundary;
	uint64_t align = at->align ? at->align : PG;

	if (lo == 0)
		lo = 1;
	if (at->addr_hi && hi > at->addr_hi)
		hi = at->addr_hi;
	/* brute force: try each aligned address from lo (coarse steps: align) */
	for (x = (lo + align - 1) & ~(align - 1); x <= hi && hi - x >= len - 1; x += align) {
		if (mask && ((x ^ (x + len - 1)) & ~mask))
			continue;
		*out = x;
		return true;
	}
	return false;
}

/* Lowest fit in the reference (addresses below 1 << 32 only). */
static bool ref_alloc(uint64_t len, const udd_dma_attr_t *at, uint64_t *out)
{
	uint64_t prev = 0;

	for (size_t i = 0; i <= nref; i++) {
		uint64_t end = i < nref ? ref[i].lo - 1 : (1ull << 32) - 1;

		if (i < nref && ref[i].lo == 0) {
			prev = ref[i].hi + 1;
			continue;
		}
		if (end >= prev && ref_fit(prev, end, len, at, out))
			return true;
		if (i < nref)
			prev = ref[i].hi + 1;
	}
	return false;
}

static void ref_insert(uint64_t lo, uint64_t hi)
{
	size_t i = 0, a = 0, b = nref;

	while (a < b) {
		size_t m = (a + b) / 2;

		if (ref[m].lo < lo)
			a = m + 1;
		else
			b = m;
	}
	i = a;
	memmove(&ref[i + 1], &ref[i], (nref - i) * sizeof(*ref));
	ref[i].lo = lo;
	ref[i].hi = hi;
	nref++;
}

static void ref_remove(uint64_t lo)
{
	for (size_t i = 0; i < nref; i++) {
		if (ref[i].lo == lo) {
			memmove(&ref[i], &ref[i + 1], (nref - i - 1) * sizeof(*ref));
			nref--;
			return;
		}
	}
	CHECK(!"removed window not in reference");
}

static void test_many(void)
{
	enum { N = 10000 };
	struct udd_dev dev;
	udd_dma_t **w = calloc(N, sizeof(*w));
	size_t live = 0, mismatches = 0, e2big = 0;

	REQUIRE(w != NULL);
	ref = calloc(N + 1, sizeof(*ref));
	REQUIRE(ref != NULL);
	nref = 0;
	dev_init(&dev, &fake_ops);
	for (int i = 0; i < N; i++) {
		udd_dma_attr_t at;
		uint64_t len = (1 + rnd() % 4) * PG, x = 0, want = 0;
		bool ok;
		int r;

		memset(&at, 0, sizeof(at));
		switch (rnd() % 4) {
		case 0:
			break;
		case 1:
			at.align = PG << (rnd() % 5);
			break;
		case 2:
			at.seg_boundary = 0xffff;
			break;
		case 3:
			at.addr_lo = (rnd() % 4096) * PG;
			break;
		}
		ok = ref_alloc(len, &at, &want);
		r = map(&dev, len, &at, UDD_DMA_F_READ, &x, &w[live]);
		if (!ok) {
			CHECK_EQ(r, -ENOSPC);
			continue;
		}
		if (r != 0 || x != want) {
			if (mismatches++ < 5)
				fprintf(stderr, "window %d: r=%d iova 0x%llx, want 0x%llx\n", i, r,
					(unsigned long long)x, (unsigned long long)want);
			if (r != 0) {
				e2big++;
				continue;
			}
		}
		ref_insert(x, x + len - 1);
		live++;
		/* unmap a random window now and then */
		if (rnd() % 3 == 0) {
			size_t k = rnd() % live;

			ref_remove(udd_dma_iova(w[k]));
			udd_dma_unmap(w[k]);
			w[k] = w[--live];
		}
	}
	CHECK_EQ(mismatches, 0);
	CHECK_EQ(e2big, 0);
	CHECK_EQ(check_list(&dev), live);
	CHECK_EQ(nref, live);
	/* the sorted list equals the reference */
	size_t i = 0;
	for (const struct udd_dma *d = dev.dmas; d && i < nref; d = d->next, i++) {
		if (d->iova != ref[i].lo || d->iova + d->len - 1 != ref[i].hi) {
			CHECK(!"list differs from reference");
			break;
		}
	}
	/* fixed-overlap checks agree with the reference too */
	for (int k = 0; k < 1000; k++) {
		uint64_t x = ((rnd() % 0x20000) + 1) * PG, len = PG;
		bool ov = false;
		udd_dma_t *d;
		int r;

		for (size_t j = 0; j < nref; j++)
			if (ref[j].lo <= x + len - 1 && ref[j].hi >= x)
				ov = true;
		r = map(&dev, len, NULL, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &x, &d);
		CHECK_EQ(r, ov ? -EEXIST : 0);
		if (r == 0)
			udd_dma_unmap(d);
	}
	int unmaps = rec.unmaps;
	dev_fini(&dev);
	CHECK_EQ(rec.unmaps, unmaps + (int)live);
	CHECK(dev.dmas == NULL);
	free(ref);
	free(w);
}

int main(void)
{
	va_buf = aligned_alloc(PG, 1u << 20);
	REQUIRE(va_buf != NULL);
	test_basic();
	test_args();
	test_attrs();
	test_fixed();
	test_ranges();
	test_faults();
	test_mem();
	test_many();
	free(va_buf);
	return t_done("test_iova");
}
