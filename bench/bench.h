/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the udd benchmarks: timing, repeat-and-median
 * statistics, table printing with a ratio to a baseline measured in the
 * same run, and opening a private embedded pool.
 *
 * Every benchmark is a cell (a function timing one batch and returning the
 * cost of one operation in ns). Cells are run round robin, RUNS times each,
 * so that slow drift of the machine (frequency, other load) spreads over
 * every cell alike; a row reports the median and the spread (min..max).
 *
 * UDD_BENCH_QUICK=1 in the environment: few runs, small batches (a smoke run).
 */
#ifndef UDD_BENCH_H
#define UDD_BENCH_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <udd/udd.h>

#define BENCH_MAX_RUNS 15

static inline double bench_now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static inline int bench_quick(void)
{
	const char *q = getenv("UDD_BENCH_QUICK");
	return q && *q && strcmp(q, "0") != 0;
}

/* Repetitions of each cell: 11 normally, 3 in a quick run. */
static inline int bench_runs(void)
{
	return bench_quick() ? 3 : 11;
}

/* n normally, n / div (at least 1) in a quick run. */
static inline unsigned bench_n(unsigned n, unsigned div)
{
	if (!bench_quick())
		return n;
	return n / div ? n / div : 1;
}

struct bench_stat {
	double med, min, max;
};

struct bench_cell {
	const char *name;
	double (*fn)(void *arg); /* one batch: returns ns per operation, < 0 on failure */
	void *arg;
	double t[BENCH_MAX_RUNS];
	struct bench_stat s;
	int failed;
};

static int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

/* Run every cell once to warm up, then `runs` rounds of all cells. */
static inline void bench_measure(struct bench_cell *c, size_t n)
{
	int runs = bench_runs();
	for (size_t i = 0; i < n; i++)
		if (c[i].fn(c[i].arg) < 0)
			c[i].failed = 1;
	for (int r = 0; r < runs; r++)
		for (size_t i = 0; i < n; i++) {
			if (c[i].failed)
				continue;
			c[i].t[r] = c[i].fn(c[i].arg);
			if (c[i].t[r] < 0)
				c[i].failed = 1;
		}
	for (size_t i = 0; i < n; i++) {
		if (c[i].failed)
			continue;
		qsort(c[i].t, (size_t)runs, sizeof(double), bench_cmp_double);
		c[i].s.med = c[i].t[runs / 2];
		c[i].s.min = c[i].t[0];
		c[i].s.max = c[i].t[runs - 1];
	}
}

/* A value with a unit that keeps 3-4 significant digits. */
static inline const char *bench_fmt_ns(char *buf, size_t cap, double ns)
{
	if (ns < 10)
		snprintf(buf, cap, "%.2f ns", ns);
	else if (ns < 1000)
		snprintf(buf, cap, "%.1f ns", ns);
	else if (ns < 1e6)
		snprintf(buf, cap, "%.2f us", ns / 1e3);
	else
		snprintf(buf, cap, "%.2f ms", ns / 1e6);
	return buf;
}

static inline void bench_title(const char *title)
{
	printf("\n== %s ==\n", title);
	printf("(median of %d runs; spread = min..max over the runs; ratio = median / the baseline's "
	       "median, same run)\n",
	       bench_runs());
	printf("%-44s %12s   %-25s %9s\n", "path", "median", "spread", "ratio");
}

static inline void bench_row(const char *name, const struct bench_cell *c,
			     const struct bench_cell *base)
{
	char a[32], b[32], m[32], sp[80];
	if (c->failed) {
		printf("%-44s %12s   %-25s %9s\n", name, "failed", "", "");
		return;
	}
	snprintf(sp, sizeof(sp), "%s..%s", bench_fmt_ns(a, sizeof(a), c->s.min),
		 bench_fmt_ns(b, sizeof(b), c->s.max));
	if (base && !base->failed && base->s.med > 0)
		printf("%-44s %12s   %-25s %8.2fx\n", name, bench_fmt_ns(m, sizeof(m), c->s.med), sp,
		       c->s.med / base->s.med);
	else
		printf("%-44s %12s   %-25s %9s\n", name, bench_fmt_ns(m, sizeof(m), c->s.med), sp, "-");
}

/* Open a context on the pool of $UDD_RUNTIME_DIR (the bench target sets a
 * private one, so that the benchmarks neither disturb nor are disturbed by
 * other users of the default embedded pool). */
static inline udd_ctx_t *bench_ctx(void)
{
	udd_ctx_t *ctx = NULL;
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_VFIO };
	int rc = udd_ctx_open(&ctx, &o);
	if (rc < 0) {
		fprintf(stderr, "bench: opening the pool: %s\n", strerror(-rc));
		exit(1);
	}
	return ctx;
}

static inline int bench_borrow(udd_ctx_t *ctx, uint16_t vendor, uint16_t device, uint32_t flags,
			       udd_dev_t **dev)
{
	udd_filter_t f = { .vendor_id = vendor, .device_id = device };
	udd_fdid_t fdid;
	int rc = udd_pool_list(ctx, &f, &fdid, 1);
	if (rc < 0)
		return rc;
	if (rc == 0)
		return -ENOENT;
	return udd_dev_borrow(ctx, fdid, flags, dev);
}

#endif
