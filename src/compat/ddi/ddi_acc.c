/* SPDX-License-Identifier: MIT */
/*
 * illumos DDI compatibility: dev_info_t, register sets, data access,
 * configuration space, fault management, peek/poke.
 *
 * A DDI address is base + offset, where base is the real mapping for a
 * direct udd handle, the memory for ddi_dma_mem_alloc handles, and a
 * PROT_NONE reservation otherwise (addresses stay unique and any stray
 * dereference faults instead of touching something else). Every accessor
 * turns the address back into an offset, checks it against the handle, and
 * calls udd's accessor; a bad address marks the handle (see
 * ddi_check_acc_handle) and reads as all ones, as udd's slow path does.
 */
#include <endian.h>
#include <stdint.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "ddi_impl.h"

/* ---- dev_info_t ------------------------------------------------------------ */

int ddi_udd_attach(udd_ctx_t *ctx, udd_fdid_t fdid, uint32_t flags, dev_info_t **dipp)
{
	if (!ctx || !dipp)
		return DDI_EINVAL;
	dev_info_t *dip = calloc(1, sizeof(*dip));
	if (!dip)
		return DDI_FAILURE;
	int rc = udd_dev_borrow(ctx, fdid, flags, &dip->dev);
	if (rc < 0) {
		free(dip);
		return rc == -EBUSY ? DDI_EAGAIN : rc == -EINVAL ? DDI_EINVAL : DDI_FAILURE;
	}
	rc = udd_dev_get_info(dip->dev, &dip->info);
	if (rc < 0 || pthread_mutex_init(&dip->lock, NULL) != 0) {
		udd_dev_return(dip->dev);
		free(dip);
		return DDI_FAILURE;
	}
	dip->ctx = ctx;
	/* instance numbers are small (drivers index soft state with them) */
	static int next_instance;
	dip->instance = __atomic_fetch_add(&next_instance, 1, __ATOMIC_RELAXED);
	*dipp = dip;
	return DDI_SUCCESS;
}

static void acc_destroy(struct ddi_udd_acc *h)
{
	if (h->acc)
		udd_regs_unmap(h->acc);
	if (h->resv)
		munmap(h->resv, h->resv_len);
	if (h->mem)
		udd_mem_free(h->mem);
	free(h);
}

void ddi_udd_detach(dev_info_t *dip)
{
	if (!dip)
		return;
	ddi_intr_release_all(dip);
	ddi_dma_release_all(dip); /* also frees DMA memory handles */
	pthread_mutex_lock(&dip->lock);
	struct ddi_udd_acc *h = dip->accs;
	dip->accs = NULL;
	pthread_mutex_unlock(&dip->lock);
	while (h) {
		struct ddi_udd_acc *n = h->next;
		acc_destroy(h);
		h = n;
	}
	udd_dev_return(dip->dev);
	pthread_mutex_destroy(&dip->lock);
	free(dip);
}

udd_dev_t *ddi_udd_dev(dev_info_t *dip)
{
	return dip ? dip->dev : NULL;
}

udd_acc_t *ddi_udd_acc(ddi_acc_handle_t h)
{
	return h ? h->acc : NULL;
}

int ddi_get_instance(dev_info_t *dip)
{
	return dip ? dip->instance : -1;
}

/* ---- register sets ---------------------------------------------------------- */

int ddi_dev_nregs(dev_info_t *dip, int *resultp)
{
	if (!dip || !resultp)
		return DDI_FAILURE;
	int n = udd_regs_count(dip->dev);
	if (n <= 0)
		return DDI_FAILURE;
	*resultp = n;
	return DDI_SUCCESS;
}

int ddi_dev_regsize(dev_info_t *dip, uint_t rnumber, off_t *resultp)
{
	uint64_t size;
	if (!dip || !resultp || udd_regs_size(dip->dev, rnumber, &size) < 0)
		return DDI_FAILURE;
	*resultp = (off_t)size;
	return DDI_SUCCESS;
}

/* DDI attributes -> udd attributes. -1 if invalid. */
static int attr_to_udd(const ddi_device_acc_attr_t *a, udd_acc_attr_t *u)
{
	memset(u, 0, sizeof(*u));
	if (a->devacc_attr_version != DDI_DEVICE_ATTR_V0 &&
	    a->devacc_attr_version != DDI_DEVICE_ATTR_V1)
		return -1;
	switch (a->devacc_attr_endian_flags) {
	case DDI_NEVERSWAP_ACC: u->endian = UDD_NEVERSWAP; break;
	case DDI_STRUCTURE_LE_ACC: u->endian = UDD_LITTLE_ENDIAN; break;
	case DDI_STRUCTURE_BE_ACC: u->endian = UDD_BIG_ENDIAN; break;
	default: return -1;
	}
	/*
	 * Data order as illumos x86 maps it (hat_i86.c, hati_mkpte): strict ->
	 * uncached; merging and load-caching -> write-combining (PAT);
	 * unordered and store-caching -> write-back. udd maps BARs uncached or
	 * write-combining only, so load-caching asks udd for merging (same
	 * memory type as illumos) and unordered / store-caching are mapped
	 * strictly (allowed: "the system can access data more strictly").
	 */
	switch (a->devacc_attr_dataorder) {
	case DDI_STRICTORDER_ACC: u->order = UDD_STRICTORDER; break;
	case DDI_UNORDERED_OK_ACC: u->order = UDD_UNORDERED_OK; break;
	case DDI_MERGING_OK_ACC: u->order = UDD_MERGING_OK; break;
	case DDI_LOADCACHING_OK_ACC: u->order = UDD_MERGING_OK; break;
	case DDI_STORECACHING_OK_ACC: u->order = UDD_STORECACHING_OK; break;
	default: return -1;
	}
	u->access = UDD_DEFAULT_ACC;
	if (a->devacc_attr_version == DDI_DEVICE_ATTR_V1) {
		switch (a->devacc_attr_access) {
		case 0: /* left zero by the driver: the default */
		case DDI_DEFAULT_ACC: u->access = UDD_DEFAULT_ACC; break;
		case DDI_FLAGERR_ACC: u->access = UDD_FLAGERR_ACC; break;
		case DDI_CAUTIOUS_ACC: u->access = UDD_CAUTIOUS_ACC; break;
		default: return -1;
		}
	}
	return 0;
}

static size_t page_round(size_t n)
{
	size_t pg = (size_t)sysconf(_SC_PAGESIZE);
	return (n + pg - 1) & ~(pg - 1);
}

/* Map a register set and give it a DDI base address. */
static int map_regs(dev_info_t *dip, uint_t rnumber, uint64_t offset, uint64_t len,
		    const udd_acc_attr_t *uattr, const ddi_device_acc_attr_t *attr, int kind,
		    struct ddi_udd_acc **out)
{
	struct ddi_udd_acc *h = calloc(1, sizeof(*h));
	if (!h)
		return DDI_FAILURE;
	int rc = udd_regs_map(dip->dev, rnumber, offset, len, uattr, &h->acc);
	if (rc < 0) {
		free(h);
		return rc == -ERANGE ? DDI_ME_RNUMBER_RANGE : DDI_FAILURE;
	}
	h->dip = dip;
	h->kind = kind;
	h->len = (size_t)udd_acc_size(h->acc);
	h->attr = *attr;
	volatile void *direct = udd_acc_ptr(h->acc);
	if (direct) {
		h->base = (uint8_t *)(uintptr_t)direct;
	} else {
		h->resv_len = page_round(h->len ? h->len : 1);
		void *p = mmap(NULL, h->resv_len, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED) {
			udd_regs_unmap(h->acc);
			free(h);
			return DDI_FAILURE;
		}
		h->resv = p;
		h->base = p;
	}
	pthread_mutex_lock(&dip->lock);
	h->next = dip->accs;
	dip->accs = h;
	pthread_mutex_unlock(&dip->lock);
	*out = h;
	return DDI_SUCCESS;
}

int ddi_regs_map_setup(dev_info_t *dip, uint_t rnumber, caddr_t *addrp, offset_t offset,
		       offset_t len, const ddi_device_acc_attr_t *accattrp, ddi_acc_handle_t *handlep)
{
	static const ddi_device_acc_attr_t def = { DDI_DEVICE_ATTR_V0, DDI_NEVERSWAP_ACC,
						   DDI_STRICTORDER_ACC, 0 };
	udd_acc_attr_t uattr;
	uint64_t size;

	if (!dip || !addrp || !handlep)
		return DDI_FAILURE;
	if (!accattrp)
		accattrp = &def;
	if (udd_regs_size(dip->dev, rnumber, &size) < 0)
		return DDI_ME_RNUMBER_RANGE;
	if (attr_to_udd(accattrp, &uattr) < 0)
		return DDI_FAILURE;
	if (offset < 0 || len < 0 || (uint64_t)offset >= size ||
	    (uint64_t)len > size - (uint64_t)offset)
		return DDI_FAILURE;
	struct ddi_udd_acc *h;
	int rc = map_regs(dip, rnumber, (uint64_t)offset, (uint64_t)len, &uattr, accattrp,
			  DDI_ACC_REGS, &h);
	if (rc != DDI_SUCCESS)
		return rc;
	*addrp = (caddr_t)h->base;
	*handlep = h;
	return DDI_SUCCESS;
}

static void unlink_acc(struct ddi_udd_acc *h)
{
	dev_info_t *dip = h->dip;
	pthread_mutex_lock(&dip->lock);
	for (struct ddi_udd_acc **pp = &dip->accs; *pp; pp = &(*pp)->next) {
		if (*pp == h) {
			*pp = h->next;
			break;
		}
	}
	pthread_mutex_unlock(&dip->lock);
}

void ddi_regs_map_free(ddi_acc_handle_t *handlep)
{
	if (!handlep || !*handlep)
		return;
	struct ddi_udd_acc *h = *handlep;
	if (h->kind == DDI_ACC_MEM)
		return; /* not a register mapping: ddi_dma_mem_free() frees it */
	unlink_acc(h);
	acc_destroy(h);
	*handlep = NULL;
}

DDI_INTERNAL struct ddi_udd_acc *ddi_find_acc(dev_info_t *dip, const void *addr, size_t width)
{
	uintptr_t a = (uintptr_t)addr;
	struct ddi_udd_acc *found = NULL;
	pthread_mutex_lock(&dip->lock);
	for (struct ddi_udd_acc *h = dip->accs; h; h = h->next) {
		uintptr_t b = (uintptr_t)h->base;
		if (h->kind == DDI_ACC_REGS && a >= b && h->len >= width && a - b <= h->len - width) {
			found = h;
			break;
		}
	}
	pthread_mutex_unlock(&dip->lock);
	return found;
}

/* ---- accessors ---------------------------------------------------------------- */

static void set_err(struct ddi_udd_acc *h, int err)
{
	int zero = 0;
	__atomic_compare_exchange_n(&h->err, &zero, err, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
}

/* Offset of @addr in @h for an access of @width bytes (count items when
 * @count_span), or false (handle marked). */
static bool to_off(struct ddi_udd_acc *h, const void *addr, size_t width, size_t span,
		   uint64_t *off)
{
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)h->base;
	if (a < b || h->len < span || a - b > h->len - span || ((a - b) & (width - 1))) {
		set_err(h, -EINVAL);
		return false;
	}
	*off = a - b;
	return true;
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

static uint64_t mem_load(struct ddi_udd_acc *h, uint64_t off, unsigned width)
{
	volatile uint8_t *p = h->base + off;
	uint64_t v;
	switch (width) {
	case 1: v = *p; break;
	case 2: v = *(volatile uint16_t *)(volatile void *)p; break;
	case 4: v = *(volatile uint32_t *)(volatile void *)p; break;
	default: v = *(volatile uint64_t *)(volatile void *)p; break;
	}
	return h->swap ? swapw(v, width) : v;
}

static void mem_store(struct ddi_udd_acc *h, uint64_t off, unsigned width, uint64_t v)
{
	volatile uint8_t *p = h->base + off;
	if (h->swap)
		v = swapw(v, width);
	switch (width) {
	case 1: *p = (uint8_t)v; break;
	case 2: *(volatile uint16_t *)(volatile void *)p = (uint16_t)v; break;
	case 4: *(volatile uint32_t *)(volatile void *)p = (uint32_t)v; break;
	default: *(volatile uint64_t *)(volatile void *)p = v; break;
	}
}

#define ONES(bits) ((uint##bits##_t)~(uint##bits##_t)0)

#define DEF_GETPUT(bits)                                                                     \
	uint##bits##_t ddi_get##bits(ddi_acc_handle_t h, uint##bits##_t *addr)                \
	{                                                                                    \
		uint64_t off;                                                                \
		if (!h || !to_off(h, addr, bits / 8, bits / 8, &off))                        \
			return ONES(bits);                                                   \
		if (h->kind == DDI_ACC_MEM)                                                  \
			return (uint##bits##_t)mem_load(h, off, bits / 8);                   \
		return udd_get##bits(h->acc, off);                                           \
	}                                                                                    \
	void ddi_put##bits(ddi_acc_handle_t h, uint##bits##_t *addr, uint##bits##_t value)    \
	{                                                                                    \
		uint64_t off;                                                                \
		if (!h || !to_off(h, addr, bits / 8, bits / 8, &off))                        \
			return;                                                              \
		if (h->kind == DDI_ACC_MEM)                                                  \
			mem_store(h, off, bits / 8, value);                                  \
		else                                                                         \
			udd_put##bits(h->acc, off, value);                                   \
	}                                                                                    \
	uint##bits##_t ddi_mem_get##bits(ddi_acc_handle_t h, uint##bits##_t *addr)            \
	{                                                                                    \
		return ddi_get##bits(h, addr);                                               \
	}                                                                                    \
	void ddi_mem_put##bits(ddi_acc_handle_t h, uint##bits##_t *addr, uint##bits##_t v)    \
	{                                                                                    \
		ddi_put##bits(h, addr, v);                                                   \
	}

DEF_GETPUT(8)
DEF_GETPUT(16)
DEF_GETPUT(32)
DEF_GETPUT(64)

/* One rep transfer of @count items of @width bytes; dir 0 = get, 1 = put. */
static void do_rep(ddi_acc_handle_t h, void *host, void *dev, size_t count, unsigned width,
		   uint_t flags, int dir)
{
	uint64_t off;
	if (!h || !count)
		return;
	/* a failed rep reads as all ones: udd's rep leaves the buffer untouched
	 * when it refuses (device gone, bad span), so fill it first */
	if (dir == 0 && count <= SIZE_MAX / width)
		memset(host, 0xff, count * width);
	if (flags != DDI_DEV_AUTOINCR && flags != DDI_DEV_NO_AUTOINCR) {
		set_err(h, -EINVAL);
		return;
	}
	bool incr = flags == DDI_DEV_AUTOINCR;
	if (incr && count > h->len / width) {
		set_err(h, -EINVAL);
		return;
	}
	size_t span = incr ? count * width : width;
	if (!to_off(h, dev, width, span, &off))
		return;
	if (h->kind != DDI_ACC_MEM) {
		unsigned uf = incr ? UDD_DEV_AUTOINCR : UDD_DEV_NO_AUTOINCR;
		switch (width) {
		case 1:
			if (dir) udd_rep_put8(h->acc, off, host, count, uf);
			else udd_rep_get8(h->acc, off, host, count, uf);
			break;
		case 2:
			if (dir) udd_rep_put16(h->acc, off, host, count, uf);
			else udd_rep_get16(h->acc, off, host, count, uf);
			break;
		case 4:
			if (dir) udd_rep_put32(h->acc, off, host, count, uf);
			else udd_rep_get32(h->acc, off, host, count, uf);
			break;
		default:
			if (dir) udd_rep_put64(h->acc, off, host, count, uf);
			else udd_rep_get64(h->acc, off, host, count, uf);
			break;
		}
		return;
	}
	uint8_t *b = host;
	for (size_t i = 0; i < count; i++, b += width, off += incr ? width : 0) {
		uint64_t v = 0;
		if (dir) {
			memcpy(&v, b, width); /* little-endian host */
			mem_store(h, off, width, v);
		} else {
			v = mem_load(h, off, width);
			memcpy(b, &v, width);
		}
	}
}

#define DEF_REP(bits)                                                                          \
	void ddi_rep_get##bits(ddi_acc_handle_t h, uint##bits##_t *host_addr,                   \
			       uint##bits##_t *dev_addr, size_t repcount, uint_t flags)          \
	{                                                                                      \
		do_rep(h, host_addr, dev_addr, repcount, bits / 8, flags, 0);                  \
	}                                                                                      \
	void ddi_rep_put##bits(ddi_acc_handle_t h, uint##bits##_t *host_addr,                   \
			       uint##bits##_t *dev_addr, size_t repcount, uint_t flags)          \
	{                                                                                      \
		do_rep(h, host_addr, dev_addr, repcount, bits / 8, flags, 1);                  \
	}                                                                                      \
	void ddi_mem_rep_get##bits(ddi_acc_handle_t h, uint##bits##_t *host_addr,               \
				   uint##bits##_t *dev_addr, size_t repcount, uint_t flags)      \
	{                                                                                      \
		do_rep(h, host_addr, dev_addr, repcount, bits / 8, flags, 0);                  \
	}                                                                                      \
	void ddi_mem_rep_put##bits(ddi_acc_handle_t h, uint##bits##_t *host_addr,               \
				   uint##bits##_t *dev_addr, size_t repcount, uint_t flags)      \
	{                                                                                      \
		do_rep(h, host_addr, dev_addr, repcount, bits / 8, flags, 1);                  \
	}

DEF_REP(8)
DEF_REP(16)
DEF_REP(32)
DEF_REP(64)

#define DEF_IO(bits)                                                                            \
	uint##bits##_t ddi_io_get##bits(ddi_acc_handle_t h, uint##bits##_t *dev_addr)            \
	{                                                                                       \
		return ddi_get##bits(h, dev_addr);                                              \
	}                                                                                       \
	void ddi_io_put##bits(ddi_acc_handle_t h, uint##bits##_t *dev_addr, uint##bits##_t v)    \
	{                                                                                       \
		ddi_put##bits(h, dev_addr, v);                                                  \
	}                                                                                       \
	void ddi_io_rep_get##bits(ddi_acc_handle_t h, uint##bits##_t *host_addr,                 \
				  uint##bits##_t *dev_addr, size_t repcount)                     \
	{                                                                                       \
		do_rep(h, host_addr, dev_addr, repcount, bits / 8, DDI_DEV_NO_AUTOINCR, 0);     \
	}                                                                                       \
	void ddi_io_rep_put##bits(ddi_acc_handle_t h, uint##bits##_t *host_addr,                 \
				  uint##bits##_t *dev_addr, size_t repcount)                     \
	{                                                                                       \
		do_rep(h, host_addr, dev_addr, repcount, bits / 8, DDI_DEV_NO_AUTOINCR, 1);     \
	}

DEF_IO(8)
DEF_IO(16)
DEF_IO(32)

uint16_t ddi_swap16(uint16_t v) { return __builtin_bswap16(v); }
uint32_t ddi_swap32(uint32_t v) { return __builtin_bswap32(v); }
uint64_t ddi_swap64(uint64_t v) { return __builtin_bswap64(v); }

/* ---- configuration space ------------------------------------------------------ */

int pci_config_setup(dev_info_t *dip, ddi_acc_handle_t *handlep)
{
	/* configuration space is little-endian (PCI) */
	static const ddi_device_acc_attr_t cfg = { DDI_DEVICE_ATTR_V0, DDI_STRUCTURE_LE_ACC,
						   DDI_STRICTORDER_ACC, 0 };
	udd_acc_attr_t uattr;
	struct ddi_udd_acc *h;
	if (!dip || !handlep)
		return DDI_FAILURE;
	(void)attr_to_udd(&cfg, &uattr);
	int rc = map_regs(dip, 0, 0, 0, &uattr, &cfg, DDI_ACC_CONFIG, &h);
	if (rc != DDI_SUCCESS)
		return DDI_FAILURE;
	*handlep = h;
	return DDI_SUCCESS;
}

void pci_config_teardown(ddi_acc_handle_t *handlep)
{
	if (!handlep || !*handlep || (*handlep)->kind != DDI_ACC_CONFIG)
		return;
	unlink_acc(*handlep);
	acc_destroy(*handlep);
	*handlep = NULL;
}

static void *cfg_addr(ddi_acc_handle_t h, off_t offset)
{
	/* an out-of-range offset yields an address outside the handle, which
	 * the accessor rejects; compute it without pointer overflow */
	if (!h || offset < 0 || (uint64_t)offset > h->len)
		return NULL;
	return h->base + offset;
}

#define DEF_CFG(bits)                                                                   \
	uint##bits##_t pci_config_get##bits(ddi_acc_handle_t h, off_t offset)           \
	{                                                                               \
		uint##bits##_t *a = cfg_addr(h, offset);                                \
		if (!a) {                                                               \
			if (h)                                                          \
				set_err(h, -EINVAL);                                    \
			return ONES(bits);                                              \
		}                                                                       \
		return ddi_get##bits(h, a);                                             \
	}                                                                               \
	void pci_config_put##bits(ddi_acc_handle_t h, off_t offset, uint##bits##_t v)  \
	{                                                                               \
		uint##bits##_t *a = cfg_addr(h, offset);                                \
		if (!a) {                                                               \
			if (h)                                                          \
				set_err(h, -EINVAL);                                    \
			return;                                                         \
		}                                                                       \
		ddi_put##bits(h, a, v);                                                 \
	}

DEF_CFG(8)
DEF_CFG(16)
DEF_CFG(32)

/* 64-bit: two dwords, low first (as illumos's pci_config_get64 does). */
uint64_t pci_config_get64(ddi_acc_handle_t h, off_t offset)
{
	uint64_t lo = pci_config_get32(h, offset);
	uint64_t hi = pci_config_get32(h, offset + 4);
	return lo | (hi << 32);
}

void pci_config_put64(ddi_acc_handle_t h, off_t offset, uint64_t v)
{
	pci_config_put32(h, offset, (uint32_t)v);
	pci_config_put32(h, offset + 4, (uint32_t)(v >> 32));
}

/* ---- fault management ------------------------------------------------------- */

/* 0 no error; -ENODEV the device is gone; -EIO/-EINVAL another fault. */
static int acc_state(ddi_acc_handle_t h)
{
	int e = __atomic_load_n(&h->err, __ATOMIC_ACQUIRE);
	if (h->acc) {
		int r = udd_acc_check(h->acc);
		if (r == -ENODEV)
			return r;
		if (r < 0 && !e)
			e = r;
	}
	return e;
}

int ddi_check_acc_handle(ddi_acc_handle_t h)
{
	if (!h)
		return DDI_FAILURE;
	return acc_state(h) ? DDI_FAILURE : DDI_SUCCESS;
}

void ddi_fm_acc_err_get(ddi_acc_handle_t h, ddi_fm_error_t *de, int version)
{
	if (!de)
		return;
	memset(de, 0, sizeof(*de));
	de->fme_version = version;
	de->fme_acc_handle = h;
	de->fme_flag = DDI_FM_ERR_UNEXPECTED;
	if (!h) {
		de->fme_status = DDI_FM_UNKNOWN;
		return;
	}
	int e = acc_state(h);
	if (!e) {
		de->fme_status = DDI_FM_OK;
		return;
	}
	/* a vanished device is fatal (service lost); anything else is not */
	de->fme_status = e == -ENODEV ? DDI_FM_FATAL : DDI_FM_NONFATAL;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	de->fme_ena = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
	if (!de->fme_ena)
		de->fme_ena = 1;
}

void ddi_fm_acc_err_clear(ddi_acc_handle_t h, int version)
{
	(void)version;
	if (!h)
		return;
	__atomic_store_n(&h->err, 0, __ATOMIC_RELEASE);
	if (h->acc)
		udd_acc_clear_error(h->acc);
}

/* ---- peek / poke ---------------------------------------------------------------- */

/*
 * A cautious access: find the mapping of @addr, refuse if the device is
 * gone, do the access, then ask the device (udd_dev_check) whether it is
 * still there. An error the access left on the driver's handle is cleared
 * again if the handle was clean before (a peek is expected to fail).
 */
static int peekpoke(dev_info_t *dip, void *addr, void *val, unsigned width, int dir)
{
	if (!dip || !addr || !val)
		return DDI_FAILURE;
	struct ddi_udd_acc *h = ddi_find_acc(dip, addr, width);
	uint64_t off;
	if (!h)
		return DDI_FAILURE;
	uintptr_t a = (uintptr_t)addr, b = (uintptr_t)h->base;
	off = a - b;
	if (off & (width - 1))
		return DDI_FAILURE;
	if (udd_dev_check(dip->dev) < 0)
		return DDI_FAILURE;
	bool clean = udd_acc_check(h->acc) == 0;
	uint64_t v = 0;
	if (dir == 0) {
		switch (width) {
		case 1: v = udd_get8(h->acc, off); break;
		case 2: v = udd_get16(h->acc, off); break;
		case 4: v = udd_get32(h->acc, off); break;
		default: v = udd_get64(h->acc, off); break;
		}
	} else {
		memcpy(&v, val, width);
		switch (width) {
		case 1: udd_put8(h->acc, off, (uint8_t)v); break;
		case 2: udd_put16(h->acc, off, (uint16_t)v); break;
		case 4: udd_put32(h->acc, off, (uint32_t)v); break;
		default: udd_put64(h->acc, off, v); break;
		}
	}
	bool failed = udd_acc_check(h->acc) != 0 || udd_dev_check(dip->dev) < 0;
	if (failed) {
		if (clean)
			udd_acc_clear_error(h->acc);
		return DDI_FAILURE;
	}
	if (dir == 0)
		memcpy(val, &v, width);
	return DDI_SUCCESS;
}

int ddi_peek8(dev_info_t *dip, int8_t *addr, int8_t *val_p) { return peekpoke(dip, addr, val_p, 1, 0); }
int ddi_peek16(dev_info_t *dip, int16_t *addr, int16_t *val_p) { return peekpoke(dip, addr, val_p, 2, 0); }
int ddi_peek32(dev_info_t *dip, int32_t *addr, int32_t *val_p) { return peekpoke(dip, addr, val_p, 4, 0); }
int ddi_peek64(dev_info_t *dip, int64_t *addr, int64_t *val_p) { return peekpoke(dip, addr, val_p, 8, 0); }
int ddi_poke8(dev_info_t *dip, int8_t *addr, int8_t val) { return peekpoke(dip, addr, &val, 1, 1); }
int ddi_poke16(dev_info_t *dip, int16_t *addr, int16_t val) { return peekpoke(dip, addr, &val, 2, 1); }
int ddi_poke32(dev_info_t *dip, int32_t *addr, int32_t val) { return peekpoke(dip, addr, &val, 4, 1); }
int ddi_poke64(dev_info_t *dip, int64_t *addr, int64_t val) { return peekpoke(dip, addr, &val, 8, 1); }
