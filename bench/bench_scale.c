/* SPDX-License-Identifier: MIT */
/*
 * bench_scale (table 6): P processes holding shared borrows of one simulated
 * be device at once, each doing, for a fixed time slice:
 *   trapped  udd_put32/udd_get32 on BAR0 0x04 (scratch; REGION_WRITE/READ)
 *   direct   udd_direct_put32/get32 on BAR2 (its own 4 KiB of the BAR)
 *   dma      udd_dma_map + udd_dma_unmap of 4 KiB
 * P = 1 (the baseline) and P = 64 (8 in a quick run). Each process opens its
 * own context after fork; all start together (a pipe) and run the same
 * wall-clock slice; they report operations done. Throughput per borrower
 * and in total; ratio = total / the 1-process total.
 */
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

enum { W_TRAP, W_DIRECT, W_DMA, W_N };
static const char *const wname[W_N] = { "trapped get+put (BAR0 0x04)",
					"direct get+put (BAR2)", "dma map+unmap 4 KiB" };

static double slice_ns;
static volatile uint32_t sink;

static int child(int which, unsigned idx, int go_fd, int rdy_fd, int out_fd)
{
	udd_ctx_t *ctx = bench_ctx();
	udd_dev_t *be = NULL;
	udd_acc_t *acc = NULL;
	udd_mem_t *mem = NULL;
	uint64_t ops = 0;
	int rc = bench_borrow(ctx, 0x1234, 0x0d02, 0, &be);
	if (rc == 0 && which == W_TRAP)
		rc = udd_regs_map_bar(be, 0, 0, 0x1000, NULL, &acc);
	if (rc == 0 && which == W_DIRECT)
		rc = udd_regs_map_bar(be, 2, 0, 0, NULL, &acc);
	if (rc == 0 && which == W_DMA)
		rc = udd_mem_alloc(ctx, 4096, &mem);
	char c = 1;
	if (write(rdy_fd, &c, 1) != 1 || read(go_fd, &c, 1) != 1) /* start together */
		rc = rc ? rc : -EPIPE;
	if (rc == 0) {
		double end = bench_now_ns() + slice_ns;
		uint64_t off = (idx % 256u) * 4096u;
		uint32_t s = 0;
		while (bench_now_ns() < end) {
			for (unsigned k = 0; k < (which == W_DIRECT ? 4096u : 1u); k++) {
				if (which == W_TRAP) {
					udd_put32(acc, 0x04, k);
					s += udd_get32(acc, 0x04);
				} else if (which == W_DIRECT) {
					udd_direct_put32(acc, off + 4 * (k & 1023), k);
					s += udd_direct_get32(acc, off + 4 * (k & 1023));
				} else {
					udd_dma_t *d;
					uint64_t iova;
					if (udd_dma_map(be, mem, 0, 4096, NULL, UDD_DMA_F_READ, &iova,
							&d) < 0) {
						rc = -EIO;
						break;
					}
					udd_dma_unmap(d);
				}
				ops++;
			}
			if (rc)
				break;
		}
		sink = s;
		if (acc && udd_acc_check(acc) < 0)
			rc = -EIO;
	}
	udd_mem_free(mem);
	udd_regs_unmap(acc);
	udd_dev_return(be);
	udd_ctx_close(ctx);
	int64_t res = rc < 0 ? rc : (int64_t)ops;
	return write(out_fd, &res, sizeof(res)) == sizeof(res) ? 0 : 1;
}

/* Run P processes of one kind; ops per second of each into per[]. 0 or -1. */
static int run(int which, unsigned P, double *per)
{
	int go[2], res[2], rdy[2];
	pid_t *pids = calloc(P, sizeof(*pids));
	if (!pids || pipe(go) < 0 || pipe(res) < 0 || pipe(rdy) < 0)
		return -1;
	unsigned started = 0;
	for (; started < P; started++) {
		pid_t p = fork();
		if (p < 0)
			break;
		if (p == 0) {
			close(go[1]);
			close(res[0]);
			close(rdy[0]);
			_exit(child(which, started, go[0], rdy[1], res[1]));
		}
		pids[started] = p;
	}
	close(go[0]);
	close(res[1]);
	close(rdy[1]);
	/* every child has opened its context and borrowed (not timed): go */
	for (unsigned i = 0; i < started; i++) {
		char c;
		if (read(rdy[0], &c, 1) != 1)
			break; /* a child died: its result read fails below */
	}
	close(rdy[0]);
	char gob[64] = { 0 };
	for (unsigned i = 0; i < started; i += sizeof(gob))
		if (write(go[1], gob, started - i < sizeof(gob) ? started - i : sizeof(gob)) < 0)
			break;
	int rc = started == P ? 0 : -1;
	for (unsigned i = 0; i < started; i++) {
		int64_t r;
		if (read(res[0], &r, sizeof(r)) != sizeof(r) || r < 0) {
			rc = -1;
			per[i] = 0;
			continue;
		}
		per[i] = (double)r / (slice_ns / 1e9);
	}
	for (unsigned i = 0; i < started; i++)
		waitpid(pids[i], NULL, 0);
	close(go[1]);
	close(res[0]);
	free(pids);
	return rc;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(void)
{
	unsigned P = bench_quick() ? 8 : 64;
	slice_ns = bench_quick() ? 0.3e9 : 1.5e9;
	double *per = calloc(P, sizeof(double));
	int ret = 0;
	if (!per)
		return 1;
	printf("\n== 6. scale: P processes with shared borrows of one be device, %.1f s each "
	       "(baseline: P = 1) ==\n",
	       slice_ns / 1e9);
	printf("(ops/s; per borrower: median (min..max) over the P processes; ratio = total / the "
	       "P = 1 total)\n");
	printf("%-30s %4s %12s %-27s %12s %8s\n", "work", "P", "per borrower", "  (min..max)",
	       "total", "ratio");
	for (int w = 0; w < W_N; w++) {
		double base = 0;
		unsigned ps[2] = { 1, P };
		for (int k = 0; k < 2; k++) {
			unsigned p = ps[k];
			if (run(w, p, per) < 0) {
				printf("%-30s %4u %12s\n", wname[w], p, "failed");
				ret = 1;
				continue;
			}
			double tot = 0;
			for (unsigned i = 0; i < p; i++)
				tot += per[i];
			qsort(per, p, sizeof(double), cmp_d);
			if (k == 0)
				base = tot;
			char mm[64];
			snprintf(mm, sizeof(mm), "(%.3g..%.3g)", per[0], per[p - 1]);
			printf("%-30s %4u %12.4g %-27s %12.4g %7.2fx\n", wname[w], p, per[p / 2], mm,
			       tot, base > 0 ? tot / base : 0);
		}
	}
	free(per);
	return ret;
}
