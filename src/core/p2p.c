/* SPDX-License-Identifier: MIT */
/*
 * DMA windows onto memory the library did not allocate: memory held by a
 * file descriptor (another process's segment), and another device's BAR
 * (peer-to-peer). Both become a struct udd_mem over a shared mapping of the
 * fd, so that udd_dma_map() gives them to the device like any other memory:
 * a vfio-user server gets the fd (and maps it itself), VFIO pins the pages.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

int udd_mem_import(udd_ctx_t *ctx, int fd, uint64_t offset, size_t size, udd_mem_t **out)
{
	long pg = sysconf(_SC_PAGESIZE);
	if (!ctx || fd < 0 || !out || size == 0 || (offset & ((uint64_t)pg - 1)) ||
	    offset > (uint64_t)INT64_MAX)
		return -EINVAL;
	if (size > SIZE_MAX - (size_t)pg)
		return -ENOMEM;
	size_t len = (size + (size_t)pg - 1) & ~((size_t)pg - 1);
	/* A range past the end of a file would be mapped, but touching it (by
	 * the caller, or by a server given the fd) raises SIGBUS: refused.
	 * Devices (a VFIO BAR, st_size 0) have no such size to check. */
	struct stat st;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (S_ISREG(st.st_mode) &&
	    (st.st_size < 0 || (uint64_t)st.st_size < offset || (uint64_t)st.st_size - offset < size))
		return -EINVAL;
	struct udd_mem *mem = calloc(1, sizeof(*mem));
	if (!mem)
		return -ENOMEM;
	int rc;
	int dfd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
	if (dfd < 0) {
		rc = -errno;
		goto fail_free;
	}
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, dfd, (off_t)offset);
	if (p == MAP_FAILED) {
		rc = -errno;
		goto fail_close;
	}
	rc = -pthread_mutex_init(&mem->lock, NULL);
	if (rc)
		goto fail_unmap;
	mem->ctx = ctx;
	mem->fd = dfd;
	mem->fd_offset = offset;
	mem->ptr = p;
	mem->size = len;
	mem->refs = 1;
	*out = mem;
	return 0;
fail_unmap:
	munmap(p, len);
fail_close:
	close(dfd);
fail_free:
	free(mem);
	return rc;
}

int udd_dma_map_peer(udd_dev_t *dev, udd_dev_t *peer, unsigned rnumber, uint64_t offset,
		     size_t len, const udd_dma_attr_t *attr, uint32_t flags, uint64_t *iova,
		     udd_dma_t **out)
{
	if (!dev || !peer || !iova || !out || len == 0)
		return -EINVAL;
	if (rnumber == 0 || rnumber >= peer->info.nregsets)
		return -ERANGE;
	const udd_regset_info_t *rs = &peer->info.regsets[rnumber];
	if (offset >= rs->size || len > rs->size - offset)
		return -ENXIO;
	const struct udd_be_region *r = &peer->region[rnumber];
	if (!(rs->flags & UDD_RS_F_MMAP) || r->mmap_fd < 0)
		return -ENOTSUP;
	if (r->nsparse) { /* the range must lie in one mappable area */
		bool inside = false;
		for (uint32_t i = 0; i < r->nsparse && i < UDD_BE_MAX_SPARSE; i++)
			if (offset >= r->sparse[i].offset &&
			    offset - r->sparse[i].offset < r->sparse[i].size &&
			    len <= r->sparse[i].size - (offset - r->sparse[i].offset))
				inside = true;
		if (!inside)
			return -ENOTSUP;
	}
	if (__atomic_load_n(&peer->gone, __ATOMIC_ACQUIRE))
		return -ENODEV;
	udd_mem_t *mem;
	int rc = udd_mem_import(dev->ctx, r->mmap_fd, r->mmap_offset + offset, len, &mem);
	if (rc)
		return rc;
	rc = udd_dma_map(dev, mem, 0, len, attr, flags, iova, out);
	udd_mem_free(mem); /* the window holds its own reference */
	return rc;
}
