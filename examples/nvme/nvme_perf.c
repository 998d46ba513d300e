/* SPDX-License-Identifier: MIT */
/*
 * nvme-perf: I/O load on an NVMe controller through libudd_nvme.
 *   nvme-perf [-w randread|randwrite|read|write] [-b BYTES] [-q QD] [-j THREADS]
 *             [-t SECONDS] [--irq] [--span BLOCKS] [FDID]
 * One I/O queue pair per thread, QD commands kept in flight on each. Prints
 * IOPS, MB/s and latency percentiles (submission to completion seen); a
 * progress line each second on runs of 3 s or more.
 */
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "nvme.h"

#define MAX_SAMPLES (1u << 21) /* latencies kept per thread */

struct job {
	struct nvme_ctrl *c;
	int id;
	pthread_t thr;
	uint64_t *lat; /* ns */
	size_t nlat;
	atomic_ullong ios;
	int err;
};

static bool opt_rand = true, opt_write;
static unsigned opt_bs = 4096, opt_qd = 32, opt_jobs = 1;
static double opt_time = 5;
static uint64_t opt_span;
static atomic_bool stop;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t xorshift(uint64_t *s)
{
	uint64_t x = *s;
	x ^= x << 13, x ^= x >> 7, x ^= x << 17;
	return *s = x;
}

struct slot {
	uint64_t t0;
	size_t off;
};

static void *worker(void *arg)
{
	struct job *j = arg;
	struct nvme_ctrl *c = j->c;
	uint32_t lba = nvme_lba_size(c), nlb = opt_bs / lba;
	uint64_t blocks = opt_span ? opt_span : nvme_ns_blocks(c);
	uint64_t nunits = blocks / nlb, seq = (uint64_t)j->id * (nunits / opt_jobs);
	uint64_t rnd = 0x9e3779b97f4a7c15ull * (uint64_t)(j->id + 1);
	struct nvme_ioq *q = NULL;
	struct nvme_buf buf = { 0 };
	struct slot *slots = calloc(opt_qd, sizeof(*slots));
	struct nvme_done *done = calloc(opt_qd, sizeof(*done));
	int rc = !slots || !done ? -ENOMEM : nvme_ioq_create(c, opt_qd + 1, &q);
	if (!rc)
		rc = nvme_buf_alloc(c, (size_t)opt_bs * opt_qd, &buf);
	unsigned inflight = 0;
	for (unsigned i = 0; !rc && i < opt_qd; i++)
		slots[i].off = (size_t)i * opt_bs;
	/* free slots: a stack of indexes */
	unsigned *freeidx = calloc(opt_qd, sizeof(unsigned)), nfree = 0;
	for (unsigned i = 0; freeidx && i < opt_qd; i++)
		freeidx[nfree++] = opt_qd - 1 - i;
	if (!freeidx)
		rc = -ENOMEM;
	while (!rc && (!atomic_load(&stop) || inflight)) {
		while (!atomic_load(&stop) && nfree) {
			unsigned s = freeidx[nfree - 1];
			uint64_t unit = opt_rand ? xorshift(&rnd) % nunits : seq++ % nunits;
			slots[s].t0 = now_ns();
			rc = nvme_submit_rw(q, opt_write ? NVME_CMD_WRITE : NVME_CMD_READ, 1, unit * nlb, nlb,
					    &buf, slots[s].off, &slots[s]);
			if (rc == -EBUSY) {
				rc = 0;
				break;
			}
			if (rc)
				break;
			nfree--;
			inflight++;
		}
		if (rc || !inflight)
			continue;
		int n = nvme_wait(q, done, (int)opt_qd, 10000);
		if (n < 0) {
			rc = n;
			break;
		}
		uint64_t t = now_ns();
		for (int i = 0; i < n; i++) {
			struct slot *s = done[i].tag;
			if (done[i].status) {
				fprintf(stderr, "nvme-perf: I/O error: %s\n", nvme_status_str(done[i].status));
				rc = -EIO;
			}
			if (j->nlat < MAX_SAMPLES)
				j->lat[j->nlat++] = t - s->t0;
			freeidx[nfree++] = (unsigned)(s - slots);
			inflight--;
		}
		atomic_fetch_add(&j->ios, (unsigned long long)n);
	}
	j->err = rc;
	if (rc)
		atomic_store(&stop, true);
	nvme_buf_free(&buf);
	nvme_ioq_delete(q);
	free(slots);
	free(done);
	free(freeidx);
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static void usage(void)
{
	fprintf(stderr, "usage: nvme-perf [-w randread|randwrite|read|write] [-b BYTES] [-q QD] "
			"[-j THREADS] [-t SECONDS] [--irq] [--span BLOCKS] [FDID]\n");
	exit(2);
}

int main(int argc, char **argv)
{
	struct nvme_opts o = { 0 };
	udd_fdid_t id = 0;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "--irq")) {
			o.irq = true;
		} else if (a[0] == '-' && !v) {
			usage();
		} else if (!strcmp(a, "-w")) {
			opt_rand = !strncmp(v, "rand", 4);
			opt_write = strstr(v, "write") != NULL;
			if (!strstr(v, "read") && !opt_write)
				usage();
			i++;
		} else if (!strcmp(a, "-b")) {
			opt_bs = (unsigned)strtoul(v, NULL, 0), i++;
		} else if (!strcmp(a, "-q")) {
			opt_qd = (unsigned)strtoul(v, NULL, 0), i++;
		} else if (!strcmp(a, "-j")) {
			opt_jobs = (unsigned)strtoul(v, NULL, 0), i++;
		} else if (!strcmp(a, "-t")) {
			opt_time = strtod(v, NULL), i++;
		} else if (!strcmp(a, "--span")) {
			opt_span = strtoull(v, NULL, 0), i++;
		} else if (a[0] != '-') {
			id = (udd_fdid_t)strtoul(a, NULL, 0);
		} else {
			usage();
		}
	}
	if (!opt_qd || !opt_jobs || opt_jobs > 64 || opt_time <= 0)
		usage();
	udd_ctx_t *ctx;
	int rc = udd_ctx_open(&ctx, NULL);
	if (rc) {
		fprintf(stderr, "nvme-perf: %s\n", strerror(-rc));
		return 1;
	}
	if (!id) {
		udd_filter_t f = { .class_code = NVME_PCI_CLASS };
		if (udd_pool_list(ctx, &f, &id, 1) < 1) {
			fprintf(stderr, "nvme-perf: no NVMe controller in the pool\n");
			return 2;
		}
	}
	o.nr_ioqs = opt_jobs;
	struct nvme_ctrl *c;
	rc = nvme_open(ctx, id, &o, &c);
	if (rc) {
		fprintf(stderr, "nvme-perf: open %#x: %s\n", id, nvme_status_str(rc));
		return 1;
	}
	uint32_t lba = nvme_lba_size(c);
	uint64_t span = opt_span ? opt_span : nvme_ns_blocks(c);
	if (opt_bs < lba || opt_bs % lba || opt_bs > nvme_max_xfer(c) || span > nvme_ns_blocks(c) ||
	    span < opt_bs / lba || nvme_nr_ioqs(c) < opt_jobs ||
	    opt_qd + 1 > NVME_CAP_MQES(nvme_cap(c)) + 1) {
		fprintf(stderr, "nvme-perf: bad parameters (block %u..%u in %u steps, %u queues, QD < %u)\n",
			lba, nvme_max_xfer(c), lba, nvme_nr_ioqs(c), NVME_CAP_MQES(nvme_cap(c)) + 1);
		nvme_close(c);
		return 2;
	}
	printf("nvme-perf: %s%s bs %u qd %u threads %u, %.1f s, %s completions\n",
	       opt_rand ? "rand" : "seq", opt_write ? "write" : "read", opt_bs, opt_qd, opt_jobs,
	       opt_time, o.irq ? "MSI-X" : "polled");
	struct job *jobs = calloc(opt_jobs, sizeof(*jobs));
	for (unsigned i = 0; i < opt_jobs; i++) {
		jobs[i].c = c;
		jobs[i].id = (int)i;
		jobs[i].lat = malloc(MAX_SAMPLES * sizeof(uint64_t));
		pthread_create(&jobs[i].thr, NULL, worker, &jobs[i]);
	}
	uint64_t t0 = now_ns(), end = t0 + (uint64_t)(opt_time * 1e9), last = 0, last_t = t0;
	while (!atomic_load(&stop) && now_ns() < end) {
		uint64_t left = end - now_ns();
		usleep((useconds_t)(left < 1000000000ull ? left / 1000 : 1000000));
		if (opt_time >= 3) {
			uint64_t ios = 0, t = now_ns();
			for (unsigned i = 0; i < opt_jobs; i++)
				ios += atomic_load(&jobs[i].ios);
			fprintf(stderr, "  %5.1f s: %.0f IOPS\n", (double)(t - t0) / 1e9,
				(double)(ios - last) * 1e9 / (double)(t - last_t));
			last = ios, last_t = t;
		}
	}
	atomic_store(&stop, true);
	uint64_t ios = 0;
	size_t nlat = 0;
	int err = 0;
	for (unsigned i = 0; i < opt_jobs; i++) {
		pthread_join(jobs[i].thr, NULL);
		ios += atomic_load(&jobs[i].ios);
		nlat += jobs[i].nlat;
		if (jobs[i].err && !err)
			err = jobs[i].err;
	}
	double secs = (double)(now_ns() - t0) / 1e9;
	uint64_t *all = malloc((nlat ? nlat : 1) * sizeof(uint64_t));
	size_t k = 0;
	for (unsigned i = 0; i < opt_jobs; i++) {
		memcpy(all + k, jobs[i].lat, jobs[i].nlat * sizeof(uint64_t));
		k += jobs[i].nlat;
		free(jobs[i].lat);
	}
	qsort(all, nlat, sizeof(uint64_t), cmp_u64);
#define PCT(p) (nlat ? (double)all[(size_t)((double)(nlat - 1) * (p))] / 1000.0 : 0.0)
	printf("%.0f IOPS, %.1f MB/s, latency us: p50 %.1f p99 %.1f p99.9 %.1f max %.1f (%zu samples)\n",
	       (double)ios / secs, (double)ios * opt_bs / secs / 1e6, PCT(0.5), PCT(0.99), PCT(0.999),
	       PCT(1.0), nlat);
	if (err)
		fprintf(stderr, "nvme-perf: stopped on an error: %s\n", nvme_status_str(err));
	free(all);
	free(jobs);
	nvme_close(c);
	udd_ctx_close(ctx);
	return err ? 1 : 0;
}
