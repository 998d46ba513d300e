/* SPDX-License-Identifier: MIT */
/*
 * bench_guest_dma (table 4, guest): DMA windows through VFIO (type1v2 on the
 * guest's emulated Intel IOMMU).
 *
 *   raw MAP_DMA + UNMAP_DMA      the baseline: the VFIO_IOMMU_MAP_DMA /
 *                                VFIO_IOMMU_UNMAP_DMA ioctl pair on a container
 *                                of our own, holding **nvme's** IOMMU group
 *                                (edu's group is held by udd's borrow: a group
 *                                belongs to one container at a time). Same
 *                                IOMMU, same type1 driver, and the very same
 *                                pages (udd_mem_alloc's memfd mappings: a page
 *                                may be pinned by both containers).
 *   udd_dma_map + udd_dma_unmap  the same through the library on the borrowed
 *                                **edu** (IOVA allocation in core, window
 *                                record in the backend, then the same ioctls).
 * Both for 4 KiB and 2 MiB windows (4a), and a 4 KiB window with 10, 1 000
 * and 10 000 windows already mapped (4b), in both containers.
 *
 * Both run in the same process at the same time, so the cells interleave
 * round robin as in every other table. RLIMIT_MEMLOCK is lifted (root).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/vfio.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "guest_bench.h"

#define NWIN_MAX 10000u
#define RAW_TEST_IOVA 0x4000000000ull /* 256 GiB: above every pre-mapped window */
#define RAW_PRE_IOVA 0x100000000ull   /* pre-mapped windows, 8 KiB apart */

static unsigned n_ops;
static int container = -1;

static int raw_map(uint64_t iova, void *va, uint64_t len)
{
	struct vfio_iommu_type1_dma_map m = { .argsz = sizeof(m),
					      .flags = VFIO_DMA_MAP_FLAG_READ |
						       VFIO_DMA_MAP_FLAG_WRITE,
					      .vaddr = (uintptr_t)va,
					      .iova = iova,
					      .size = len };
	return ioctl(container, VFIO_IOMMU_MAP_DMA, &m) == 0 ? 0 : -1;
}

static int raw_unmap(uint64_t iova, uint64_t len)
{
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = len };
	if (ioctl(container, VFIO_IOMMU_UNMAP_DMA, &u) != 0 || u.size != len)
		return -1;
	return 0;
}

static double raw_pair(void *arg)
{
	udd_mem_t *mem = arg;
	uint64_t len = udd_mem_size(mem);
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_ops; i++)
		if (raw_map(RAW_TEST_IOVA, udd_mem_ptr(mem), len) < 0 ||
		    raw_unmap(RAW_TEST_IOVA, len) < 0) {
			perror("bench: raw MAP_DMA/UNMAP_DMA");
			return -1;
		}
	return (bench_now_ns() - t0) / n_ops;
}

static udd_dev_t *dev;

static double udd_pair(void *arg)
{
	udd_mem_t *mem = arg;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_ops; i++) {
		udd_dma_t *d;
		uint64_t iova;
		int rc = udd_dma_map(dev, mem, 0, udd_mem_size(mem), NULL,
				     UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova, &d);
		if (rc < 0) {
			fprintf(stderr, "bench: udd_dma_map: %s\n", strerror(-rc));
			return -1;
		}
		udd_dma_unmap(d);
	}
	return (bench_now_ns() - t0) / n_ops;
}

/* The IOMMU group of nvme: $UDD_VM_NVME_GROUP (set by the guest's init). */
static int nvme_group(void)
{
	const char *g = getenv("UDD_VM_NVME_GROUP");
	char *end;
	long v = g ? strtol(g, &end, 10) : -1;
	if (!g || *g == '\0' || *end != '\0' || v < 0 || v > 65535)
		return -1;
	return (int)v;
}

/* A type1v2 container of our own holding nvme's group; returns the group fd. */
static int raw_open(void)
{
	char path[64];
	int gnum = nvme_group();
	if (gnum < 0) {
		fprintf(stderr, "bench: UDD_VM_NVME_GROUP is not set (not in the VM harness?)\n");
		return -1;
	}
	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (container < 0) {
		perror("bench: /dev/vfio/vfio");
		return -1;
	}
	snprintf(path, sizeof(path), "/dev/vfio/%d", gnum);
	int group = open(path, O_RDWR | O_CLOEXEC);
	struct vfio_group_status st = { .argsz = sizeof(st) };
	if (group < 0 || ioctl(group, VFIO_GROUP_GET_STATUS, &st) < 0 ||
	    !(st.flags & VFIO_GROUP_FLAGS_VIABLE) ||
	    ioctl(group, VFIO_GROUP_SET_CONTAINER, &container) < 0 ||
	    ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		fprintf(stderr, "bench: raw container on %s: %s\n", path, strerror(errno));
		if (group >= 0)
			close(group);
		close(container);
		container = -1;
		return -1;
	}
	return group;
}

int main(void)
{
	int ret = 1, group = -1;
	static const unsigned nwin[] = { 10, 1000, NWIN_MAX };
	udd_mem_t *m4k = NULL, *m2m = NULL, *mbig = NULL;
	udd_dma_t **pre = calloc(NWIN_MAX, sizeof(*pre));
	size_t npre = 0, nraw = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	n_ops = bench_n(200, 10);
	gb_memlock();
	/* udd first: its pool looks at every vfio-pci device's group */
	udd_ctx_t *ctx = gb_ctx();
	int rc = gb_borrow_edu(ctx, &dev);
	if (rc == 0)
		rc = udd_mem_alloc(ctx, 4096, &m4k);
	if (rc == 0)
		rc = udd_mem_alloc(ctx, 2u << 20, &m2m);
	if (rc == 0)
		rc = udd_mem_alloc(ctx, (size_t)NWIN_MAX * 4096u, &mbig);
	if (rc < 0 || !pre) {
		fprintf(stderr, "bench: edu / DMA memory: %s\n", strerror(rc < 0 ? -rc : ENOMEM));
		goto out;
	}
	group = raw_open();
	if (group < 0)
		goto out;

	struct bench_cell c[] = {
		{ .name = "raw MAP_DMA+UNMAP_DMA 4 KiB (nvme group)", .fn = raw_pair,
		  .arg = m4k },
		{ .name = "udd_dma_map+unmap 4 KiB (edu)", .fn = udd_pair, .arg = m4k },
		{ .name = "raw MAP_DMA+UNMAP_DMA 2 MiB (nvme group)", .fn = raw_pair,
		  .arg = m2m },
		{ .name = "udd_dma_map+unmap 2 MiB (edu)", .fn = udd_pair, .arg = m2m },
	};
	bench_measure(c, 4);
	bench_title("4a (guest). DMA map + unmap through VFIO type1v2 (TCG, emulated intel-iommu; "
		    "baseline: the raw ioctl pair)");
	bench_row(c[0].name, &c[0], &c[0]);
	bench_row(c[1].name, &c[1], &c[0]);
	bench_row(c[2].name, &c[2], &c[2]);
	bench_row(c[3].name, &c[3], &c[2]);

	bench_title("4b (guest). one 4 KiB map + unmap with n windows already mapped (baseline: "
		    "raw, n = 0)");
	struct bench_cell z[] = {
		{ .name = "raw, n = 0", .fn = raw_pair, .arg = m4k },
		{ .name = "udd, n = 0", .fn = udd_pair, .arg = m4k },
	};
	bench_measure(z, 2);
	bench_row(z[0].name, &z[0], &z[0]);
	bench_row(z[1].name, &z[1], &z[0]);
	for (size_t k = 0; k < sizeof(nwin) / sizeof(nwin[0]); k++) {
		for (; npre < nwin[k]; npre++) {
			uint64_t iova;
			rc = udd_dma_map(dev, mbig, npre * 4096, 4096, NULL, UDD_DMA_F_READ, &iova,
					 &pre[npre]);
			if (rc < 0) {
				fprintf(stderr, "bench: udd window %zu: %s\n", npre, strerror(-rc));
				goto out;
			}
		}
		for (; nraw < nwin[k]; nraw++)
			if (raw_map(RAW_PRE_IOVA + nraw * 8192,
				    (uint8_t *)udd_mem_ptr(mbig) + nraw * 4096, 4096) < 0) {
				fprintf(stderr, "bench: raw window %zu: %s\n", nraw, strerror(errno));
				goto out;
			}
		struct bench_cell w[] = {
			{ .name = "raw", .fn = raw_pair, .arg = m4k },
			{ .name = "udd", .fn = udd_pair, .arg = m4k },
		};
		bench_measure(w, 2);
		char name[64];
		snprintf(name, sizeof(name), "raw, n = %u", nwin[k]);
		bench_row(name, &w[0], &z[0]);
		snprintf(name, sizeof(name), "udd, n = %u", nwin[k]);
		bench_row(name, &w[1], &z[0]);
		if (w[0].failed || w[1].failed)
			goto out;
	}
	ret = c[0].failed || c[1].failed || c[2].failed || c[3].failed || z[0].failed ||
	      z[1].failed;
out:
	for (size_t i = 0; i < npre; i++)
		udd_dma_unmap(pre[i]);
	free(pre);
	for (size_t i = 0; i < nraw; i++)
		raw_unmap(RAW_PRE_IOVA + i * 8192, 4096);
	if (group >= 0)
		close(group);
	if (container >= 0)
		close(container);
	udd_mem_free(mbig);
	udd_mem_free(m2m);
	udd_mem_free(m4k);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	return ret;
}
