/* SPDX-License-Identifier: MIT */
/*
 * Register sets and access handles.
 *
 * A handle is one of:
 *  - direct: the range is mmapped, no swap, default access. head.direct is
 *    set and the inline functions of udd/access.h do the access themselves;
 *    the functions below are only reached through rep.
 *  - mapped: mmapped, but swapping and/or checked (FLAGERR/CAUTIOUS): the
 *    per-handle functions access the mapping.
 *  - trapped: not mappable (or only partly): every access is a backend
 *    region read/write (a vfio-user REGION_READ/WRITE message).
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "internal.h"

#define ACC(a) ((struct udd_acc_impl *)(void *)(a))

static inline bool host_is_le(void)
{
	return __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__;
}

static void set_err(struct udd_acc_impl *a, int err)
{
	int zero = 0;
	__atomic_compare_exchange_n(&a->err, &zero, err, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

static bool bad_off(struct udd_acc_impl *a, uint64_t off, unsigned width)
{
	if (off >= a->size || a->size - off < width || (off & (width - 1))) {
		set_err(a, -EIO); /* reported as a failed access (udd_acc_check) */
		return true;
	}
	if (__atomic_load_n(&a->dev->gone, __ATOMIC_ACQUIRE)) {
		set_err(a, -ENODEV);
		return true;
	}
	return false;
}

/* After an all-ones read on a FLAGERR/CAUTIOUS handle: is the device still well? */
static void check_after_ones(struct udd_acc_impl *a)
{
	if (a->attr.access == UDD_DEFAULT_ACC)
		return;
	int rc = udd_dev_check(a->dev);
	if (rc)
		set_err(a, rc);
}

static uint64_t swapw(uint64_t v, unsigned width)
{
	switch (width) {
	case 2: return __builtin_bswap16((uint16_t)v);
	case 4: return __builtin_bswap32((uint32_t)v);
	case 8: return __builtin_bswap64(v);
	default: return v;
	}
}

static uint64_t ones(unsigned width)
{
	return width == 8 ? UINT64_MAX : ((uint64_t)1 << (width * 8)) - 1;
}

/* One read of @width bytes at @off: from the mapping or through the backend. */
static uint64_t do_read(struct udd_acc_impl *a, uint64_t off, unsigned width)
{
	if (bad_off(a, off, width))
		return ones(width);
	uint64_t v = 0;
	if (a->map) {
		volatile uint8_t *p = a->map + off;
		switch (width) {
		case 1: v = *(volatile uint8_t *)p; break;
		case 2: v = *(volatile uint16_t *)(volatile void *)p; break;
		case 4: v = *(volatile uint32_t *)(volatile void *)p; break;
		default: v = *(volatile uint64_t *)(volatile void *)p; break;
		}
	} else {
		int rc = a->dev->be->region_read(a->dev->bdev, a->region, a->offset + off, &v, width);
		if (rc) {
			if (rc == -ENODEV)
				udd_dev_mark_gone(a->dev);
			set_err(a, rc == -ENODEV ? -ENODEV : -EIO);
			return ones(width);
		}
	}
	if (v == ones(width))
		check_after_ones(a);
	return a->swap ? swapw(v, width) : v;
}

static void do_write(struct udd_acc_impl *a, uint64_t off, unsigned width, uint64_t v)
{
	if (bad_off(a, off, width))
		return;
	if (a->swap)
		v = swapw(v, width);
	if (a->map) {
		volatile uint8_t *p = a->map + off;
		switch (width) {
		case 1: *(volatile uint8_t *)p = (uint8_t)v; break;
		case 2: *(volatile uint16_t *)(volatile void *)p = (uint16_t)v; break;
		case 4: *(volatile uint32_t *)(volatile void *)p = (uint32_t)v; break;
		default: *(volatile uint64_t *)(volatile void *)p = v; break;
		}
		return;
	}
	int rc = a->dev->be->region_write(a->dev->bdev, a->region, a->offset + off, &v, width);
	if (rc) {
		if (rc == -ENODEV)
			udd_dev_mark_gone(a->dev);
		set_err(a, rc == -ENODEV ? -ENODEV : -EIO);
	}
}

static uint8_t s_get8(struct udd_acc *h, uint64_t o) { return (uint8_t)do_read(ACC(h), o, 1); }
static uint16_t s_get16(struct udd_acc *h, uint64_t o) { return (uint16_t)do_read(ACC(h), o, 2); }
static uint32_t s_get32(struct udd_acc *h, uint64_t o) { return (uint32_t)do_read(ACC(h), o, 4); }
static uint64_t s_get64(struct udd_acc *h, uint64_t o) { return do_read(ACC(h), o, 8); }
static void s_put8(struct udd_acc *h, uint64_t o, uint8_t v) { do_write(ACC(h), o, 1, v); }
static void s_put16(struct udd_acc *h, uint64_t o, uint16_t v) { do_write(ACC(h), o, 2, v); }
static void s_put32(struct udd_acc *h, uint64_t o, uint32_t v) { do_write(ACC(h), o, 4, v); }
static void s_put64(struct udd_acc *h, uint64_t o, uint64_t v) { do_write(ACC(h), o, 8, v); }

/*
 * rep on a mapped, non-swapping, default-access handle whose span has been
 * checked: a tight loop of volatile accesses of the item width (the device
 * sees exactly the accesses asked for), or, for stores that may merge
 * (order >= UDD_MERGING_OK: write-combining allowed) into consecutive
 * addresses, one memcpy (bench_bulk: a per-item do_write ran at a fraction
 * of memcpy's speed).
 */
#define REP_LOOP(T)                                                                       \
	do {                                                                              \
		volatile T *d_ = (volatile T *)(volatile void *)p;                        \
		size_t st_ = step / sizeof(T);                                            \
		T v_;                                                                     \
		if (dir == 0)                                                             \
			for (size_t i = 0; i < count; i++, d_ += st_) {                   \
				v_ = *d_;                                                 \
				memcpy(b + i * sizeof(T), &v_, sizeof(T));                \
			}                                                                 \
		else                                                                      \
			for (size_t i = 0; i < count; i++, d_ += st_) {                   \
				memcpy(&v_, b + i * sizeof(T), sizeof(T));                \
				*d_ = v_;                                                 \
			}                                                                 \
	} while (0)

static void rep_mapped(struct udd_acc_impl *a, uint64_t off, uint8_t *b, size_t count,
		       unsigned width, uint64_t step, int dir)
{
	volatile uint8_t *p = a->map + off;
	if (dir == 1 && step && a->attr.order >= UDD_MERGING_OK) {
		memcpy((void *)(uintptr_t)p, b, count * width);
		return;
	}
	switch (width) {
	case 1: REP_LOOP(uint8_t); break;
	case 2: REP_LOOP(uint16_t); break;
	case 4: REP_LOOP(uint32_t); break;
	default: REP_LOOP(uint64_t); break;
	}
}
#undef REP_LOOP

static void s_rep(struct udd_acc *h, uint64_t off, void *buf, size_t count, unsigned width,
		  unsigned flags, int dir)
{
	struct udd_acc_impl *a = ACC(h);
	uint8_t *b = buf;
	uint64_t step = (flags & UDD_DEV_NO_AUTOINCR) ? 0 : width;
	if ((width != 1 && width != 2 && width != 4 && width != 8) ||
	    (flags & ~(unsigned)UDD_DEV_NO_AUTOINCR)) {
		/* a bad argument: nothing done, the handle says -EINVAL */
		set_err(a, -EINVAL);
		if (dir == 0 && width && width <= 8 && count <= SIZE_MAX / width)
			memset(buf, 0xff, count * width);
		return;
	}
	/* Check the whole span up front so a bad rep does nothing at all. */
	uint64_t span = step ? (uint64_t)count * width : width;
	if (count && (count > a->size / width || bad_off(a, off, width) || a->size - off < span)) {
		set_err(a, -EIO); /* outside the handle: as a single access would */
		if (dir == 0 && count <= SIZE_MAX / width)
			memset(buf, 0xff, count * width); /* refused reads read all ones */
		return;
	}
	if (count && a->map && !a->partial && !a->swap && a->attr.access == UDD_DEFAULT_ACC) {
		rep_mapped(a, off, b, count, width, step, dir);
		return;
	}
	for (size_t i = 0; i < count; i++, off += step, b += width) {
		if (dir == 0) {
			uint64_t v = do_read(a, off, width);
			memcpy(b, &v, width); /* little-endian host: low bytes first */
		} else {
			uint64_t v = 0;
			memcpy(&v, b, width);
			do_write(a, off, width, v);
		}
	}
}

static const struct udd_acc_ops slow_ops = {
	.get8 = s_get8, .get16 = s_get16, .get32 = s_get32, .get64 = s_get64,
	.put8 = s_put8, .put16 = s_put16, .put32 = s_put32, .put64 = s_put64,
	.rep = s_rep,
};

/* ---- register sets ---- */

int udd_regs_count(udd_dev_t *dev)
{
	return dev ? dev->info.nregsets : -EINVAL;
}

int udd_regs_size(udd_dev_t *dev, unsigned rnumber, uint64_t *size)
{
	if (!dev || !size)
		return -EINVAL;
	if (rnumber >= dev->info.nregsets)
		return -ERANGE;
	*size = dev->info.regsets[rnumber].size;
	return 0;
}

int udd_regs_rnumber(udd_dev_t *dev, unsigned bar)
{
	if (!dev || bar > 5)
		return -EINVAL;
	for (unsigned i = 1; i < dev->info.nregsets; i++)
		if (dev->info.regsets[i].bar == (int32_t)bar)
			return (int)i;
	return -ENOENT;
}

/* Can [off, off+len) of region r be mmapped? Returns the area it lies in. */
static bool mappable(const struct udd_be_region *r, uint64_t off, uint64_t len, uint64_t *area_off,
		     uint64_t *area_len)
{
	if (!(r->flags & VFIO_REGION_INFO_FLAG_MMAP) || r->mmap_fd < 0)
		return false;
	if (r->nsparse == 0) {
		*area_off = 0;
		*area_len = r->size;
		return true;
	}
	for (uint32_t i = 0; i < r->nsparse && i < UDD_BE_MAX_SPARSE; i++) {
		uint64_t ao = r->sparse[i].offset, al = r->sparse[i].size;
		if (off >= ao && off - ao <= al && len <= al - (off - ao)) {
			*area_off = ao;
			*area_len = al;
			return true;
		}
	}
	return false;
}

int udd_regs_map(udd_dev_t *dev, unsigned rnumber, uint64_t offset, uint64_t len,
		 const udd_acc_attr_t *attr, udd_acc_t **out)
{
	static const udd_acc_attr_t def_attr = { UDD_NEVERSWAP, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };
	if (!dev || !out)
		return -EINVAL;
	if (!attr)
		attr = &def_attr;
	if (attr->endian > UDD_BIG_ENDIAN || attr->order > UDD_STORECACHING_OK ||
	    attr->access > UDD_CAUTIOUS_ACC || attr->reserved)
		return -EINVAL;
	if (rnumber >= dev->info.nregsets)
		return -ERANGE;
	if (__atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE))
		return -ENODEV;
	uint64_t setsize = dev->info.regsets[rnumber].size;
	if (offset >= setsize || (len && len > setsize - offset))
		return -ENXIO;
	if (!len)
		len = setsize - offset;

	struct udd_acc_impl *a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->dev = dev;
	a->rnumber = rnumber;
	a->region = dev->region_index[rnumber];
	a->offset = offset;
	a->size = len;
	a->attr = *attr;
	a->swap = (attr->endian == UDD_BIG_ENDIAN && host_is_le()) ||
		  (attr->endian == UDD_LITTLE_ENDIAN && !host_is_le());
	a->head.ops = &slow_ops;

	const struct udd_be_region *r = &dev->region[rnumber];
	uint64_t ao, al;
	if (rnumber != 0 && mappable(r, offset, len, &ao, &al)) {
		long pg = sysconf(_SC_PAGESIZE);
		uint64_t start = (offset & ~((uint64_t)pg - 1));
		if (start < ao)
			start = ao;
		uint64_t end = offset + len;
		uint64_t mlen = ((end - start) + (uint64_t)pg - 1) & ~((uint64_t)pg - 1);
		/* The backend checked the file's size when it got the fd; a file
		 * cut short since then would make an access SIGBUS: checked again. */
		struct stat st;
		void *p = MAP_FAILED;
		if (fstat(r->mmap_fd, &st) == 0 && S_ISREG(st.st_mode) &&
		    (st.st_size < 0 || (uint64_t)st.st_size < r->mmap_offset + end)) {
			udd_logf(&dev->ctx->log, UDD_LOG_WARN,
				 "regs: set %u: the server's file ends before the range (%lld bytes); "
				 "trapping it", rnumber, (long long)st.st_size);
		} else {
			p = mmap(NULL, mlen, PROT_READ | PROT_WRITE, MAP_SHARED, r->mmap_fd,
				 (off_t)(r->mmap_offset + start));
			if (p == MAP_FAILED)
				udd_logf(&dev->ctx->log, UDD_LOG_INFO,
					 "regs: mmap of set %u failed (%s); trapping it", rnumber,
					 strerror(errno));
		}
		if (p != MAP_FAILED) {
			a->map_base = p;
			a->map_len = mlen;
			a->map = (volatile uint8_t *)p + (offset - start);
		}
	}
	if (a->map && attr->access == UDD_DEFAULT_ACC) {
		if (a->swap)
			a->head.swapped = a->map;
		else
			a->head.direct = a->map;
	}

	pthread_mutex_lock(&dev->lock);
	a->next = dev->accs;
	dev->accs = a;
	pthread_mutex_unlock(&dev->lock);
	*out = (udd_acc_t *)(void *)a;
	return 0;
}

int udd_regs_map_bar(udd_dev_t *dev, unsigned bar, uint64_t offset, uint64_t len,
		     const udd_acc_attr_t *attr, udd_acc_t **out)
{
	int r = udd_regs_rnumber(dev, bar);
	if (r < 0)
		return r;
	return udd_regs_map(dev, (unsigned)r, offset, len, attr, out);
}

static void acc_free(struct udd_acc_impl *a)
{
	if (a->map_base)
		munmap(a->map_base, a->map_len);
	free(a);
}

void udd_regs_unmap(udd_acc_t *acc)
{
	if (!acc)
		return;
	struct udd_acc_impl *a = ACC(acc);
	struct udd_dev *dev = a->dev;
	pthread_mutex_lock(&dev->lock);
	for (struct udd_acc_impl **pp = &dev->accs; *pp; pp = &(*pp)->next) {
		if (*pp == a) {
			*pp = a->next;
			break;
		}
	}
	pthread_mutex_unlock(&dev->lock);
	acc_free(a);
}

void udd_regs_release_all(struct udd_dev *dev)
{
	pthread_mutex_lock(&dev->lock);
	struct udd_acc_impl *a = dev->accs;
	dev->accs = NULL;
	pthread_mutex_unlock(&dev->lock);
	while (a) {
		struct udd_acc_impl *n = a->next;
		acc_free(a);
		a = n;
	}
}

int udd_acc_check(udd_acc_t *acc)
{
	if (!acc)
		return -EINVAL;
	struct udd_acc_impl *a = ACC(acc);
	int e = __atomic_load_n(&a->err, __ATOMIC_ACQUIRE);
	if (e)
		return e == -ENODEV || e == -EINVAL ? e : -EIO;
	if (__atomic_load_n(&a->dev->gone, __ATOMIC_ACQUIRE))
		return -ENODEV;
	return 0;
}

int udd_acc_clear_error(udd_acc_t *acc)
{
	if (!acc)
		return -EINVAL;
	__atomic_store_n(&ACC(acc)->err, 0, __ATOMIC_RELEASE);
	return 0;
}

uint64_t udd_acc_size(const udd_acc_t *acc)
{
	return acc ? ((const struct udd_acc_impl *)(const void *)acc)->size : 0;
}

int udd_acc_get_attr(const udd_acc_t *acc, udd_acc_attr_t *attr)
{
	if (!acc || !attr)
		return -EINVAL;
	*attr = ((const struct udd_acc_impl *)(const void *)acc)->attr;
	return 0;
}
