/* SPDX-License-Identifier: MIT */
/*
 * Shared helpers of the guest benchmarks (bench/guest/bench_guest_*.c).
 *
 * These programs run inside the QEMU guest of tests/vm (run-guest): Debian's
 * kernel under TCG with an emulated Intel IOMMU, QEMU's edu (1234:11e8) and
 * nvme (1b36:0010) bound to vfio-pci. They are built statically against
 * libudd.a by bench/run.sh and print their tables in the format of the host
 * benchmarks (bench.h: median of N runs, min..max, ratio to a baseline
 * measured in the same run).
 *
 * The context is opened with the embedded simulated pool off: the pool is the
 * guest's VFIO devices.
 */
#ifndef UDD_GUEST_BENCH_H
#define UDD_GUEST_BENCH_H

#include <sys/resource.h>

#include "bench.h"

#define GB_EDU_VENDOR 0x1234
#define GB_EDU_DEVICE 0x11e8
#define GB_NVME_VENDOR 0x1b36
#define GB_NVME_DEVICE 0x0010

#define GB_EDU_LIVE 0x04 /* liveness: reads back ~value */
#define GB_EDU_IRQ_STATUS 0x24
#define GB_EDU_IRQ_RAISE 0x60
#define GB_EDU_IRQ_ACK 0x64

/* Warnings and errors of the library go to stderr (the guest's log). */
static void gb_log(void *user, int level, const char *msg)
{
	(void)user;
	fprintf(stderr, "  [udd %d] %s\n", level, msg);
}

/* A context on the guest's VFIO devices; exits on failure (a program, not
 * the library). */
static inline udd_ctx_t *gb_ctx(void)
{
	udd_ctx_t *ctx = NULL;
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_EMBEDDED, .log_cb = gb_log,
			     .log_level = UDD_LOG_WARN };
	int rc = udd_ctx_open(&ctx, &o);
	if (rc < 0) {
		fprintf(stderr, "bench: opening the VFIO pool: %s\n", strerror(-rc));
		exit(1);
	}
	return ctx;
}

/* Exclusive borrow of the edu (local VFIO devices cannot be shared). */
static inline int gb_borrow_edu(udd_ctx_t *ctx, udd_dev_t **dev)
{
	return bench_borrow(ctx, GB_EDU_VENDOR, GB_EDU_DEVICE, UDD_BORROW_EXCLUSIVE, dev);
}

/* DMA maps pin pages: lift RLIMIT_MEMLOCK (root in the guest). */
static inline void gb_memlock(void)
{
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	if (setrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		perror("bench: setrlimit(RLIMIT_MEMLOCK)");
}

#endif
