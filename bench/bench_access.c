/* SPDX-License-Identifier: MIT */
/*
 * bench_access: what a register access costs, path by path.
 *
 * All memory paths run on the same memory: BAR2 of the "be" device (1 MiB
 * prefetchable RAM, mapped directly into this process):
 *   raw         a volatile pointer (the baseline; what a SISCI program does)
 *   udd_get32   the checked inline path on a direct handle
 *   direct      udd_direct_get32: the unchecked inline path
 *   swapped     udd_get32 on the same BAR mapped UDD_BIG_ENDIAN, and
 *               udd_swapped_get32 on it (a load and a bswap)
 *   DPDK        rte_read32/rte_write32 (only when built with libdpdk)
 *   out-of-line one non-inlined call through a function pointer per access
 *               (illumos's ddi_get32 design)
 *   trapped     udd_get32 on the edu's BAR0 0x04: a REGION_READ/WRITE round
 *               trip to the device's server
 * Each path is timed RUNS times; the table gives the median ns per access,
 * the spread (min..max) and the ratio to the raw pointer.
 *
 * Usage: bench_access [-q | --icount]
 *   -q (or UDD_BENCH_QUICK=1)  fewer iterations, for a quick check
 *   --icount  run each path's loop once, ICOUNT_N accesses, in a function of
 *             its own (ic_*), for valgrind --tool=callgrind to count the
 *             instructions per access (bench/run.sh does this)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <udd/udd.h>

#include "bench.h"

#ifdef UDD_BENCH_DPDK
#include <rte_io.h>
#endif
#if defined(__has_include)
#if __has_include(<valgrind/callgrind.h>)
#include <valgrind/callgrind.h>
#define IC_HAVE_CG 1
#endif
#endif
#ifndef IC_HAVE_CG
#define CALLGRIND_ZERO_STATS
#define CALLGRIND_DUMP_STATS_AT(s) (void)(s)
#endif

#define RUNS 11
#define SPAN_MASK 0xffu /* accesses cycle over 256 dwords (1 KiB) */

static unsigned n_fast = 1u << 22;
static unsigned n_slow = 20000;

/* Sinks the compiler must assume are observed. */
static volatile uint32_t sink;

struct path {
	const char *name;
	udd_acc_t *acc;
	volatile uint8_t *raw;
	uint64_t base_off; /* first register */
	unsigned mask;     /* access i goes to base_off + 4 * (i & mask) */
	unsigned n;
};

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* ---- the out-of-line design: one real call per access ----------------- */

__attribute__((noinline)) static uint32_t ool_get32(volatile uint8_t *base, uint64_t off)
{
	return *(volatile uint32_t *)(void *)(base + off);
}

__attribute__((noinline)) static void ool_put32(volatile uint8_t *base, uint64_t off, uint32_t v)
{
	*(volatile uint32_t *)(void *)(base + off) = v;
}

/* volatile so that the compiler cannot see through the pointer and inline */
static uint32_t (*volatile ool_get_fn)(volatile uint8_t *, uint64_t) = ool_get32;
static void (*volatile ool_put_fn)(volatile uint8_t *, uint64_t, uint32_t) = ool_put32;

/* ---- the timed loops --------------------------------------------------------- */

enum kind { K_RAW, K_UDD, K_DIRECT, K_OOL, K_SWAPPED, K_DPDK };

#define OFF(p, i) (b_ + (((i) & m_) << 2))

static double run_get(const struct path *p, enum kind k)
{
	const uint64_t b_ = p->base_off;
	const unsigned m_ = p->mask;
	uint32_t acc = 0;
	double t0 = now_ns();
	switch (k) {
	case K_RAW:
		for (unsigned i = 0; i < p->n; i++)
			acc += *(volatile uint32_t *)(void *)(p->raw + OFF(p, i));
		break;
	case K_UDD:
		for (unsigned i = 0; i < p->n; i++)
			acc += udd_get32(p->acc, OFF(p, i));
		break;
	case K_DIRECT:
		for (unsigned i = 0; i < p->n; i++)
			acc += udd_direct_get32(p->acc, OFF(p, i));
		break;
	case K_OOL: {
		uint32_t (*fn)(volatile uint8_t *, uint64_t) = ool_get_fn;
		for (unsigned i = 0; i < p->n; i++)
			acc += fn(p->raw, OFF(p, i));
		break;
	}
	case K_SWAPPED:
		for (unsigned i = 0; i < p->n; i++)
			acc += udd_swapped_get32(p->acc, OFF(p, i));
		break;
	case K_DPDK:
#ifdef UDD_BENCH_DPDK
		for (unsigned i = 0; i < p->n; i++)
			acc += rte_read32(p->raw + OFF(p, i));
#endif
		break;
	}
	double t1 = now_ns();
	sink = acc;
	return (t1 - t0) / p->n;
}

static double run_put(const struct path *p, enum kind k)
{
	const uint64_t b_ = p->base_off;
	const unsigned m_ = p->mask;
	double t0 = now_ns();
	switch (k) {
	case K_RAW:
		for (unsigned i = 0; i < p->n; i++)
			*(volatile uint32_t *)(void *)(p->raw + OFF(p, i)) = i;
		break;
	case K_UDD:
		for (unsigned i = 0; i < p->n; i++)
			udd_put32(p->acc, OFF(p, i), i);
		break;
	case K_DIRECT:
		for (unsigned i = 0; i < p->n; i++)
			udd_direct_put32(p->acc, OFF(p, i), i);
		break;
	case K_OOL: {
		void (*fn)(volatile uint8_t *, uint64_t, uint32_t) = ool_put_fn;
		for (unsigned i = 0; i < p->n; i++)
			fn(p->raw, OFF(p, i), i);
		break;
	}
	case K_SWAPPED:
		for (unsigned i = 0; i < p->n; i++)
			udd_swapped_put32(p->acc, OFF(p, i), i);
		break;
	case K_DPDK:
#ifdef UDD_BENCH_DPDK
		for (unsigned i = 0; i < p->n; i++)
			rte_write32(i, p->raw + OFF(p, i));
#endif
		break;
	}
	return (now_ns() - t0) / p->n;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

struct stat3 {
	double med, min, max;
};

/* One cell of the table: a path, get or put, and its RUNS timings. */
struct cell {
	const struct path *p;
	enum kind k;
	int put;
	double t[RUNS];
	struct stat3 s;
};

static double run1(const struct cell *c)
{
	return c->put ? run_put(c->p, c->k) : run_get(c->p, c->k);
}

/* Round robin: run r of every cell, then run r+1, so that slow drift of the
 * machine (frequency, other load) spreads over all cells alike. */
static void measure_all(struct cell *cells, size_t n)
{
	for (size_t i = 0; i < n; i++)
		(void)run1(&cells[i]); /* warm up */
	for (int r = 0; r < RUNS; r++)
		for (size_t i = 0; i < n; i++)
			cells[i].t[r] = run1(&cells[i]);
	for (size_t i = 0; i < n; i++) {
		qsort(cells[i].t, RUNS, sizeof(cells[i].t[0]), cmp_double);
		cells[i].s.med = cells[i].t[RUNS / 2];
		cells[i].s.min = cells[i].t[0];
		cells[i].s.max = cells[i].t[RUNS - 1];
	}
}

static void row(const char *name, struct stat3 g, struct stat3 pt, const struct stat3 *raw_g,
		const struct stat3 *raw_p)
{
	printf("%-36s %9.2f %8.2f..%-9.2f %7.1fx %9.2f %8.2f..%-9.2f %7.1fx\n", name, g.med, g.min,
	       g.max, g.med / raw_g->med, pt.med, pt.min, pt.max, pt.med / raw_p->med);
}

/* ---- instruction counts (under callgrind) ------------------------------------ */

#define ICOUNT_N 100000u
#define IC_FN(name, kind, put)                                                     \
	__attribute__((noinline)) static void ic_##name(const struct path *p)     \
	{                                                                          \
		if (put)                                                           \
			(void)run_put(p, kind);                                    \
		else                                                               \
			(void)run_get(p, kind);                                    \
	}
IC_FN(raw_get, K_RAW, 0)
IC_FN(raw_put, K_RAW, 1)
IC_FN(udd_get, K_UDD, 0)
IC_FN(udd_put, K_UDD, 1)
IC_FN(direct_get, K_DIRECT, 0)
IC_FN(direct_put, K_DIRECT, 1)
IC_FN(ool_get, K_OOL, 0)
IC_FN(ool_put, K_OOL, 1)
IC_FN(swapped_get, K_SWAPPED, 0)
IC_FN(swapped_put, K_SWAPPED, 1)
IC_FN(udd_be_get, K_UDD, 0)
IC_FN(udd_be_put, K_UDD, 1)
#ifdef UDD_BENCH_DPDK
IC_FN(dpdk_get, K_DPDK, 0)
IC_FN(dpdk_put, K_DPDK, 1)
#endif

/* One dump per path (callgrind's client requests; no-ops outside valgrind):
 * bench/run.sh divides each dump's instruction total by ICOUNT_N. */
#define IC(name, p)                                \
	do {                                       \
		CALLGRIND_ZERO_STATS;              \
		ic_##name(p);                      \
		CALLGRIND_DUMP_STATS_AT(#name);    \
	} while (0)

static void icount(const struct path *fast, const struct path *be)
{
	IC(raw_get, fast);
	IC(raw_put, fast);
	IC(udd_get, fast);
	IC(udd_put, fast);
	IC(direct_get, fast);
	IC(direct_put, fast);
	IC(ool_get, fast);
	IC(ool_put, fast);
	IC(swapped_get, be);
	IC(swapped_put, be);
	IC(udd_be_get, be);
	IC(udd_be_put, be);
#ifdef UDD_BENCH_DPDK
	IC(dpdk_get, fast);
	IC(dpdk_put, fast);
#endif
}

/* ---- setup ------------------------------------------------------------------ */

static int find_and_borrow(udd_ctx_t *ctx, uint16_t vendor, uint16_t device, udd_dev_t **dev)
{
	udd_filter_t f = { .vendor_id = vendor, .device_id = device };
	udd_fdid_t fdid;
	int rc = udd_pool_list(ctx, &f, &fdid, 1);

	if (rc < 0)
		return rc;
	if (rc == 0)
		return -ENOENT;
	return udd_dev_borrow(ctx, fdid, UDD_BORROW_EXCLUSIVE, dev);
}

int main(int argc, char **argv)
{
	udd_acc_attr_t be_attr = { .endian = UDD_BIG_ENDIAN, .order = UDD_STRICTORDER };
	udd_ctx_t *ctx = NULL;
	udd_dev_t *be = NULL, *edu = NULL;
	udd_acc_t *mem = NULL, *mem_be = NULL, *trap = NULL;
	int rc, ret = 1, ic = 0;

	if ((argc > 1 && strcmp(argv[1], "-q") == 0) || bench_quick()) {
		n_fast = 1u << 16;
		n_slow = 500;
	}
	if (argc > 1 && strcmp(argv[1], "--icount") == 0) {
		ic = 1;
	} else if (argc > 1 && strcmp(argv[1], "-q") != 0) {
		fprintf(stderr, "usage: bench_access [-q | --icount]\n");
		return 2;
	}
	ctx = bench_ctx();
	rc = find_and_borrow(ctx, 0x1234, 0x0d02, &be);
	if (rc < 0) {
		fprintf(stderr, "bench: the be device (1234:0d02): %s\n", strerror(-rc));
		goto out;
	}
	if ((rc = udd_regs_map_bar(be, 2, 0, 0, NULL, &mem)) < 0 ||
	    (rc = udd_regs_map_bar(be, 2, 0, 0, &be_attr, &mem_be)) < 0) {
		fprintf(stderr, "bench: mapping be BAR2: %s\n", strerror(-rc));
		goto out;
	}
	if (!udd_acc_is_direct(mem)) {
		fprintf(stderr, "bench: be BAR2 did not map directly; the memory paths need it\n");
		goto out;
	}
	/* Sanity: the swapped handle sees the same memory, byte-swapped. */
	udd_direct_put32(mem, 0, 0x11223344);
	if (udd_get32(mem_be, 0) != 0x44332211) {
		fprintf(stderr, "bench: the big-endian handle does not swap (got 0x%08x)\n",
			udd_get32(mem_be, 0));
		goto out;
	}
	if (!udd_acc_is_swapped(mem_be)) {
		fprintf(stderr, "bench: the big-endian handle is not on the inline swapped path\n");
		goto out;
	}
	if (ic) {
		struct path f = { .acc = mem, .raw = udd_acc_ptr(mem), .mask = SPAN_MASK, .n = ICOUNT_N };
		struct path b = { .acc = mem_be, .raw = udd_acc_ptr(mem), .mask = SPAN_MASK,
				  .n = ICOUNT_N };
		icount(&f, &b);
		ret = 0;
		goto out;
	}
	rc = find_and_borrow(ctx, 0x1234, 0x11e8, &edu);
	if (rc == 0)
		rc = udd_regs_map_bar(edu, 0, 0, 0, NULL, &trap);
	if (rc < 0)
		fprintf(stderr, "bench: no trapped path (edu BAR0: %s)\n", strerror(-rc));

	volatile uint8_t *base = udd_acc_ptr(mem);
	struct path fast = { .acc = mem, .raw = base, .mask = SPAN_MASK, .n = n_fast };
	struct path swapped = { .acc = mem_be, .raw = base, .mask = SPAN_MASK, .n = n_fast };
	struct path tp = { .acc = trap, .base_off = 0x04, .mask = 0, .n = n_slow };
	static const char *const names[] = {
		"raw volatile pointer (be BAR2)", "udd_get32/put32 (checked inline)",
		"udd_direct_get32/put32", "out-of-line call (illumos-style)",
		"swapped: udd_get32 (UDD_BIG_ENDIAN)", "trapped REGION_READ/WRITE (edu 0x04)",
		"swapped: udd_swapped_get32/put32", "DPDK rte_read32/rte_write32",
	};
	struct cell cells[16] = {
		{ &fast, K_RAW, 0, .t = { 0 } },    { &fast, K_RAW, 1, .t = { 0 } },
		{ &fast, K_UDD, 0, .t = { 0 } },    { &fast, K_UDD, 1, .t = { 0 } },
		{ &fast, K_DIRECT, 0, .t = { 0 } }, { &fast, K_DIRECT, 1, .t = { 0 } },
		{ &fast, K_OOL, 0, .t = { 0 } },    { &fast, K_OOL, 1, .t = { 0 } },
		{ &swapped, K_UDD, 0, .t = { 0 } }, { &swapped, K_UDD, 1, .t = { 0 } },
		{ &tp, K_UDD, 0, .t = { 0 } },      { &tp, K_UDD, 1, .t = { 0 } },
		{ &swapped, K_SWAPPED, 0, .t = { 0 } }, { &swapped, K_SWAPPED, 1, .t = { 0 } },
		{ &fast, K_DPDK, 0, .t = { 0 } },   { &fast, K_DPDK, 1, .t = { 0 } },
	};
#ifdef UDD_BENCH_DPDK
	size_t ncells = 16;
#else
	size_t ncells = 14;
#endif
	if (!trap) { /* drop the trapped pair */
		memmove(&cells[10], &cells[12], sizeof(cells[0]) * (ncells - 12));
		ncells -= 2;
	}

	measure_all(cells, ncells);
	printf("\n== 1. register access: ns per access, median of %d runs (min..max), ratio to the "
	       "raw pointer ==\n",
	       RUNS);
#ifndef UDD_BENCH_DPDK
	printf("(no DPDK row: libdpdk was not found by pkg-config when this was built)\n");
#endif
	printf("%-36s %9s %-20s %8s %9s %-20s %8s\n", "path", "get32", "  spread", "ratio", "put32",
	       "  spread", "ratio");
	for (size_t i = 0; i < ncells; i += 2) {
		const struct cell *c = &cells[i];
		const char *name = c->p == &tp ? names[5]
				   : c->k == K_SWAPPED ? names[6]
				   : c->k == K_DPDK ? names[7]
						    : names[i / 2];
		if (c->p == &tp && udd_acc_is_direct(trap))
			name = "edu BAR0 0x04 (mapped directly!)";
		row(name, cells[i].s, cells[i + 1].s, &cells[0].s, &cells[1].s);
	}
	if (trap && udd_acc_check(trap) < 0) {
		fprintf(stderr, "bench: trapped accesses failed\n");
		goto out;
	}
	if (udd_acc_check(mem) < 0 || udd_acc_check(mem_be) < 0) {
		fprintf(stderr, "bench: accesses to be BAR2 failed\n");
		goto out;
	}
	ret = 0;
out:
	udd_regs_unmap(trap);
	udd_regs_unmap(mem_be);
	udd_regs_unmap(mem);
	udd_dev_return(edu);
	udd_dev_return(be);
	udd_ctx_close(ctx);
	return ret;
}
