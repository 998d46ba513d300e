/* SPDX-License-Identifier: MIT */
/*
 * bench_bulk (table 2): bulk transfers into a memory BAR.
 *
 * be BAR2 (1 MiB prefetchable memory) is mapped twice: once asking for
 * write-combining (UDD_MERGING_OK) and once strict (UDD_STRICTORDER, what
 * would be uncached). The simulator's BAR is ordinary shared memory (a
 * memfd), so WC and UC cannot differ here: the rows show what the library
 * adds on top of the memory, not what the bus would do.
 *
 *   memcpy into the mapping          the limit (what any program can do)
 *   udd_rep_put32, merging handle    the library's block path on a WC map
 *   udd_rep_put32, strict handle     every item a 32-bit store, in order
 *   udd_direct_put32 loop            what a driver writes by hand
 *   udd_rep_get32, strict handle     the read direction
 *   memcpy out of the mapping        its limit
 */
#include "bench.h"

#define BLOCK (64u * 1024u) /* bytes per transfer */

static udd_acc_t *wc, *uc;
static volatile uint8_t *wc_p;
static uint32_t *src, *dst;
static unsigned reps;

static double t_memcpy_to(void *arg)
{
	(void)arg;
	double t0 = bench_now_ns();
	for (unsigned r = 0; r < reps; r++) {
		memcpy((void *)(uintptr_t)(wc_p + (r & 7) * BLOCK), src, BLOCK);
		UDD_COMPILER_BARRIER();
	}
	return (bench_now_ns() - t0) / reps;
}

static double t_memcpy_from(void *arg)
{
	(void)arg;
	double t0 = bench_now_ns();
	for (unsigned r = 0; r < reps; r++) {
		memcpy(dst, (const void *)(uintptr_t)(wc_p + (r & 7) * BLOCK), BLOCK);
		UDD_COMPILER_BARRIER();
	}
	return (bench_now_ns() - t0) / reps;
}

static double t_rep_put(void *arg)
{
	udd_acc_t *a = arg;
	double t0 = bench_now_ns();
	for (unsigned r = 0; r < reps; r++)
		udd_rep_put32(a, (r & 7) * BLOCK, src, BLOCK / 4, UDD_DEV_AUTOINCR);
	double t = (bench_now_ns() - t0) / reps;
	return udd_acc_check(a) < 0 ? -1 : t;
}

static double t_rep_get(void *arg)
{
	udd_acc_t *a = arg;
	double t0 = bench_now_ns();
	for (unsigned r = 0; r < reps; r++)
		udd_rep_get32(a, (r & 7) * BLOCK, dst, BLOCK / 4, UDD_DEV_AUTOINCR);
	double t = (bench_now_ns() - t0) / reps;
	return udd_acc_check(a) < 0 ? -1 : t;
}

static double t_loop_put(void *arg)
{
	udd_acc_t *a = arg;
	double t0 = bench_now_ns();
	for (unsigned r = 0; r < reps; r++) {
		uint64_t base = (r & 7) * BLOCK;
		for (unsigned i = 0; i < BLOCK / 4; i++)
			udd_direct_put32(a, base + 4 * i, src[i]);
	}
	return (bench_now_ns() - t0) / reps;
}

int main(void)
{
	int ret = 1;
	udd_acc_attr_t a_wc = { .order = UDD_MERGING_OK }, a_uc = { .order = UDD_STRICTORDER };
	reps = bench_n(2000, 40);
	src = aligned_alloc(64, BLOCK);
	dst = aligned_alloc(64, BLOCK);
	if (!src || !dst)
		return 1;
	for (unsigned i = 0; i < BLOCK / 4; i++)
		src[i] = i * 2654435761u;

	udd_ctx_t *ctx = bench_ctx();
	udd_dev_t *be = NULL;
	int rc = bench_borrow(ctx, 0x1234, 0x0d02, UDD_BORROW_EXCLUSIVE, &be);
	if (rc == 0)
		rc = udd_regs_map_bar(be, 2, 0, 0, &a_wc, &wc);
	if (rc == 0)
		rc = udd_regs_map_bar(be, 2, 0, 0, &a_uc, &uc);
	if (rc < 0 || !udd_acc_is_direct(wc) || !udd_acc_is_direct(uc)) {
		fprintf(stderr, "bench: be BAR2: %s\n", rc < 0 ? strerror(-rc) : "not direct");
		goto out;
	}
	wc_p = udd_acc_ptr(wc);
	/* sanity: a rep put lands, and reads back through the other mapping */
	udd_rep_put32(wc, 8 * BLOCK, src, BLOCK / 4, UDD_DEV_AUTOINCR);
	udd_rep_get32(uc, 8 * BLOCK, dst, BLOCK / 4, UDD_DEV_AUTOINCR);
	if (memcmp(src, dst, BLOCK) != 0) {
		fprintf(stderr, "bench: rep put/get do not round-trip\n");
		goto out;
	}

	struct bench_cell c[] = {
		{ .name = "memcpy into the mapping (limit)", .fn = t_memcpy_to },
		{ .name = "udd_rep_put32, merging (WC) handle", .fn = t_rep_put, .arg = wc },
		{ .name = "udd_rep_put32, strict (UC) handle", .fn = t_rep_put, .arg = uc },
		{ .name = "udd_direct_put32 loop, strict handle", .fn = t_loop_put, .arg = uc },
		{ .name = "memcpy out of the mapping (limit)", .fn = t_memcpy_from },
		{ .name = "udd_rep_get32, strict (UC) handle", .fn = t_rep_get, .arg = uc },
		{ .name = "udd_rep_get32, merging (WC) handle", .fn = t_rep_get, .arg = wc },
	};
	size_t n = sizeof(c) / sizeof(c[0]);
	bench_measure(c, n);
	bench_title("2. bulk: one 64 KiB transfer into be BAR2 (baseline: memcpy; the sim's BAR is "
		    "plain memory, WC = UC here)");
	for (size_t i = 0; i < 4; i++)
		bench_row(c[i].name, &c[i], &c[0]);
	for (size_t i = 4; i < n; i++)
		bench_row(c[i].name, &c[i], &c[4]);
	printf("(memcpy into the mapping: %.2f GB/s)\n", c[0].failed ? 0 : BLOCK / c[0].s.med);
	ret = 0;
	for (size_t i = 0; i < n; i++)
		ret |= c[i].failed;
out:
	udd_regs_unmap(uc);
	udd_regs_unmap(wc);
	udd_dev_return(be);
	udd_ctx_close(ctx);
	free(src);
	free(dst);
	return ret;
}
