/* SPDX-License-Identifier: MIT */
/*
 * The VFIO backend's IOMMU side: attaching the device to an IOMMU context
 * (the legacy container with type1v2, or iommufd where the kernel and the
 * build's headers have it), DMA maps and unmaps, and the IOMMU's valid IOVA
 * ranges. See vfio.c for the modes and what is tested.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "vfio_priv.h"

/* ---- legacy container ------------------------------------------------------------ */

int vfio_container_attach(struct vfio_dev *d)
{
	char grp[32], path[64];
	int rc = vfio_link_name(d->bdf, "iommu_group", grp, sizeof(grp));
	if (rc) {
		udd_logf(d->log, UDD_LOG_ERR, "vfio: %s has no IOMMU group (%s); is the IOMMU on?",
			 d->bdf, strerror(-rc));
		return rc == -ENOENT ? -ENOENT : rc;
	}
	for (const char *c = grp; *c; c++)
		if (*c < '0' || *c > '9')
			return -EIO;
	snprintf(path, sizeof(path), "/dev/vfio/%s", grp);
	d->group_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->group_fd < 0) {
		rc = -errno;
		if (rc == -EBUSY)
			udd_logf(d->log, UDD_LOG_WARN,
				 "vfio: IOMMU group %s of %s is held by another process", grp, d->bdf);
		else
			udd_logf(d->log, UDD_LOG_ERR, "vfio: %s: %s", path, strerror(-rc));
		return rc;
	}
	struct vfio_group_status st = { .argsz = sizeof(st) };
	if (ioctl(d->group_fd, VFIO_GROUP_GET_STATUS, &st) < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: VFIO_GROUP_GET_STATUS: %s", strerror(-rc));
		return rc;
	}
	if (!(st.flags & VFIO_GROUP_FLAGS_VIABLE)) {
		udd_logf(d->log, UDD_LOG_ERR,
			 "vfio: IOMMU group %s of %s is not viable: bind every device of the group "
			 "to vfio-pci (or leave it driverless)", grp, d->bdf);
		return -EBUSY;
	}
	d->container_fd = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	if (d->container_fd < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: /dev/vfio/vfio: %s", strerror(-rc));
		return rc;
	}
	int v = ioctl(d->container_fd, VFIO_GET_API_VERSION);
	if (v != VFIO_API_VERSION) {
		udd_logf(d->log, UDD_LOG_ERR, "vfio: unknown VFIO API version %d", v);
		return -ENOTSUP;
	}
	if (ioctl(d->container_fd, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) <= 0) {
		udd_logf(d->log, UDD_LOG_ERR, "vfio: the kernel lacks the type1v2 IOMMU");
		return -ENOTSUP;
	}
	if (ioctl(d->group_fd, VFIO_GROUP_SET_CONTAINER, &d->container_fd) < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: VFIO_GROUP_SET_CONTAINER: %s", strerror(-rc));
		return rc;
	}
	if (ioctl(d->container_fd, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU) < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: VFIO_SET_IOMMU: %s", strerror(-rc));
		return rc;
	}
	d->device_fd = ioctl(d->group_fd, VFIO_GROUP_GET_DEVICE_FD, d->bdf);
	if (d->device_fd < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: VFIO_GROUP_GET_DEVICE_FD(%s): %s", d->bdf,
			 strerror(-rc));
		d->device_fd = -1;
		return rc;
	}
	return 0;
}

/* ---- iommufd (kernel >= 6.6; compiled only with headers that have it) ---- */

#if VFIO_HAVE_IOMMUFD
/* The name of the device's VFIO cdev ("vfioN"), from <dev>/vfio-dev/. */
static int cdev_name(const char *bdf, char *out, size_t len)
{
	char p[600];
	int rc = vfio_dev_path(p, sizeof(p), bdf, "vfio-dev");
	if (rc)
		return rc;
	DIR *dir = opendir(p);
	if (!dir)
		return -ENOENT;
	struct dirent *de;
	rc = -ENOENT;
	while ((de = readdir(dir))) {
		const char *s = de->d_name;
		if (strncmp(s, "vfio", 4) != 0 || !s[4] || strspn(s + 4, "0123456789") != strlen(s + 4))
			continue;
		if (strlen(s) < len) {
			memcpy(out, s, strlen(s) + 1);
			rc = 0;
		}
		break;
	}
	closedir(dir);
	return rc;
}

/* 0 attached; -ENOENT: no iommufd/cdev here (use the container); -errno. */
int vfio_iommufd_attach(struct vfio_dev *d)
{
	char name[32], path[64];
	const char *e = getenv("UDD_VFIO_NO_IOMMUFD");
	if (e && strcmp(e, "1") == 0)
		return -ENOENT;
	if (access("/dev/iommu", F_OK) < 0 || cdev_name(d->bdf, name, sizeof(name)) < 0)
		return -ENOENT;
	snprintf(path, sizeof(path), "/dev/vfio/devices/%s", name);
	int rc;
	d->device_fd = open(path, O_RDWR | O_CLOEXEC);
	if (d->device_fd < 0) {
		rc = -errno;
		if (rc == -EBUSY)
			udd_logf(d->log, UDD_LOG_WARN, "vfio: %s (%s) is held by another process", d->bdf,
				 path);
		else
			udd_logf(d->log, UDD_LOG_DEBUG, "vfio: %s: %s", path, strerror(-rc));
		return rc == -EBUSY ? rc : -ENOENT;
	}
	d->iommufd = open("/dev/iommu", O_RDWR | O_CLOEXEC);
	if (d->iommufd < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: /dev/iommu: %s", strerror(-rc));
		return rc;
	}
	struct vfio_device_bind_iommufd bind = { .argsz = sizeof(bind), .iommufd = d->iommufd };
	if (ioctl(d->device_fd, VFIO_DEVICE_BIND_IOMMUFD, &bind) < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: VFIO_DEVICE_BIND_IOMMUFD: %s", strerror(-rc));
		return rc;
	}
	struct iommu_ioas_alloc alloc = { .size = sizeof(alloc) };
	if (ioctl(d->iommufd, IOMMU_IOAS_ALLOC, &alloc) < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: IOMMU_IOAS_ALLOC: %s", strerror(-rc));
		return rc;
	}
	d->ioas_id = alloc.out_ioas_id;
	d->ioas_alloced = true;
	struct vfio_device_attach_iommufd_pt at = { .argsz = sizeof(at), .pt_id = d->ioas_id };
	if (ioctl(d->device_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at) < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: VFIO_DEVICE_ATTACH_IOMMUFD_PT: %s", strerror(-rc));
		return rc;
	}
	d->attached = true;
	udd_logf(d->log, UDD_LOG_DEBUG, "vfio: %s opened through iommufd (%s)", d->bdf, path);
	return 0;
}

void vfio_iommufd_detach(struct vfio_dev *d)
{
	if (d->attached) {
		struct vfio_device_detach_iommufd_pt dt = { .argsz = sizeof(dt) };
		if (ioctl(d->device_fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt) < 0)
			udd_logf(d->log, UDD_LOG_DEBUG, "vfio: detach: %s", strerror(errno));
		d->attached = false;
	}
	vfio_close_fd(&d->device_fd);
	if (d->ioas_alloced) {
		struct iommu_destroy ds = { .size = sizeof(ds), .id = d->ioas_id };
		if (ioctl(d->iommufd, IOMMU_DESTROY, &ds) < 0)
			udd_logf(d->log, UDD_LOG_DEBUG, "vfio: IOMMU_DESTROY: %s", strerror(errno));
		d->ioas_alloced = false;
	}
	vfio_close_fd(&d->iommufd);
}
#endif


int vfio_unmap_one(struct vfio_dev *d, uint64_t iova, uint64_t size, uint64_t *done)
{
#if VFIO_HAVE_IOMMUFD
	if (d->iommufd >= 0) {
		struct iommu_ioas_unmap u = { .size = sizeof(u), .ioas_id = d->ioas_id, .iova = iova,
					      .length = size };
		if (ioctl(d->iommufd, IOMMU_IOAS_UNMAP, &u) < 0)
			return -errno;
		*done = u.length;
		return 0;
	}
#endif
	struct vfio_iommu_type1_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = size };
	if (ioctl(d->container_fd, VFIO_IOMMU_UNMAP_DMA, &u) < 0)
		return -errno;
	*done = u.size;
	return 0;
}

/* Undo an exclusive open, in reverse order; safe on a partly opened device. */

static void log_memlock(struct vfio_dev *d, uint64_t iova, uint64_t size)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_MEMLOCK, &rl) < 0)
		rl.rlim_cur = 0;
	if (rl.rlim_cur == RLIM_INFINITY)
		udd_logf(d->log, UDD_LOG_ERR,
			 "vfio: %s: DMA map of %" PRIu64 " bytes at iova 0x%" PRIx64
			 " failed for lack of memory (RLIMIT_MEMLOCK is unlimited)",
			 d->bdf, size, iova);
	else
		udd_logf(d->log, UDD_LOG_ERR,
			 "vfio: %s: RLIMIT_MEMLOCK (%llu bytes) too small for a DMA map of %" PRIu64
			 " bytes at iova 0x%" PRIx64 " (%" PRIu64 " bytes already mapped by this "
			 "device); raise it (ulimit -l) or grant CAP_IPC_LOCK",
			 d->bdf, (unsigned long long)rl.rlim_cur, size, iova, d->mapped_bytes);
}

int vfio_dma_map(void *bdev, uint64_t iova, uint64_t size, int fd, uint64_t fd_offset,
			void *vaddr, uint32_t prot)
{
	struct vfio_dev *d = bdev;
	(void)fd; /* the kernel pins the pages of this process: vaddr is enough */
	(void)fd_offset;
	if (!d || !size || !vaddr || !(prot & (UDD_DMA_F_READ | UDD_DMA_F_WRITE)) ||
	    iova + size - 1 < iova)
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE)
		return -EPERM;
	pthread_mutex_lock(&d->lock);
	int rc = 0;
	if (d->nmaps == d->capmaps) {
		size_t ncap = d->capmaps ? d->capmaps * 2 : 16;
		struct vfio_map *nm = realloc(d->maps, ncap * sizeof(*nm));
		if (!nm) {
			rc = -ENOMEM;
			goto out;
		}
		d->maps = nm;
		d->capmaps = ncap;
	}
#if VFIO_HAVE_IOMMUFD
	if (d->iommufd >= 0) {
		struct iommu_ioas_map m = {
			.size = sizeof(m),
			.flags = IOMMU_IOAS_MAP_FIXED_IOVA |
				 ((prot & UDD_DMA_F_READ) ? IOMMU_IOAS_MAP_READABLE : 0) |
				 ((prot & UDD_DMA_F_WRITE) ? IOMMU_IOAS_MAP_WRITEABLE : 0),
			.ioas_id = d->ioas_id,
			.user_va = (uintptr_t)vaddr,
			.length = size,
			.iova = iova,
		};
		if (ioctl(d->iommufd, IOMMU_IOAS_MAP, &m) < 0)
			rc = -errno;
	} else
#endif
	{
		struct vfio_iommu_type1_dma_map m = {
			.argsz = sizeof(m),
			.flags = ((prot & UDD_DMA_F_READ) ? VFIO_DMA_MAP_FLAG_READ : 0) |
				 ((prot & UDD_DMA_F_WRITE) ? VFIO_DMA_MAP_FLAG_WRITE : 0),
			.vaddr = (uintptr_t)vaddr,
			.iova = iova,
			.size = size,
		};
		if (ioctl(d->container_fd, VFIO_IOMMU_MAP_DMA, &m) < 0)
			rc = -errno;
	}
	if (rc == -ENOMEM || rc == -EPERM) {
		log_memlock(d, iova, size);
		rc = -ENOMEM;
	} else if (rc) {
		udd_logf(d->log, UDD_LOG_DEBUG, "vfio: %s: DMA map 0x%" PRIx64 "+0x%" PRIx64 ": %s",
			 d->bdf, iova, size, strerror(-rc));
	} else {
		d->maps[d->nmaps++] = (struct vfio_map){ iova, size };
		d->mapped_bytes += size;
	}
out:
	pthread_mutex_unlock(&d->lock);
	return rc;
}

int vfio_dma_unmap(void *bdev, uint64_t iova, uint64_t size)
{
	struct vfio_dev *d = bdev;
	if (!d || !size)
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE)
		return -EPERM;
	pthread_mutex_lock(&d->lock);
	uint64_t done = 0;
	int rc = vfio_unmap_one(d, iova, size, &done);
	if (!rc && done != size) {
		udd_logf(d->log, UDD_LOG_WARN,
			 "vfio: %s: unmap of 0x%" PRIx64 "+0x%" PRIx64 " unmapped 0x%" PRIx64 " bytes",
			 d->bdf, iova, size, done);
		rc = -EIO;
	}
	if (!rc || rc == -EIO) {
		/* newest first: a map followed by its unmap (the common pattern)
		 * costs O(1) however many windows are mapped */
		for (size_t i = d->nmaps; i-- > 0;) {
			if (d->maps[i].iova == iova && d->maps[i].size == size) {
				d->mapped_bytes -= size;
				d->maps[i] = d->maps[--d->nmaps];
				break;
			}
		}
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}


int vfio_iova_ranges(void *bdev, struct udd_be_iova_range *r, size_t *n)
{
	struct vfio_dev *d = bdev;
	if (!d || !n || (*n && !r))
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE)
		return -EPERM;
	int rc = 0;
#if VFIO_HAVE_IOMMUFD
	if (d->iommufd >= 0) {
		uint32_t cap = 64;
		for (int tries = 0; tries < 2; tries++) {
			struct iommu_iova_range *v = calloc(cap, sizeof(*v));
			if (!v)
				return -ENOMEM;
			struct iommu_ioas_iova_ranges q = { .size = sizeof(q), .ioas_id = d->ioas_id,
							    .num_iovas = cap,
							    .allowed_iovas = (uintptr_t)v };
			if (ioctl(d->iommufd, IOMMU_IOAS_IOVA_RANGES, &q) < 0) {
				rc = -errno;
				free(v);
				if (rc == -EMSGSIZE && q.num_iovas > cap && q.num_iovas <= 4096) {
					cap = q.num_iovas;
					continue;
				}
				return rc;
			}
			size_t k = 0;
			for (uint32_t i = 0; i < q.num_iovas && i < cap && k < *n; i++) {
				r[k].start = v[i].start;
				r[k].end = v[i].last;
				k++;
			}
			free(v);
			*n = k;
			return 0;
		}
		return -EIO;
	}
#endif
	size_t sz = sizeof(struct vfio_iommu_type1_info);
	struct vfio_iommu_type1_info *info = calloc(1, sz);
	if (!info)
		return -ENOMEM;
	info->argsz = (uint32_t)sz;
	if (ioctl(d->container_fd, VFIO_IOMMU_GET_INFO, info) < 0) {
		rc = -errno;
		goto out;
	}
	if (!(info->flags & VFIO_IOMMU_INFO_CAPS) || info->argsz <= sz) {
		rc = -ENOTSUP;
		goto out;
	}
	if (info->argsz > VFIO_MAX_INFO) {
		rc = -EIO;
		goto out;
	}
	sz = info->argsz;
	free(info);
	info = calloc(1, sz);
	if (!info)
		return -ENOMEM;
	info->argsz = (uint32_t)sz;
	if (ioctl(d->container_fd, VFIO_IOMMU_GET_INFO, info) < 0) {
		rc = -errno;
		goto out;
	}
	size_t len = info->argsz < sz ? info->argsz : sz;
	struct vfio_iommu_type1_info_cap_iova_range c;
	struct vfio_iova_range one;
	long co = (info->flags & VFIO_IOMMU_INFO_CAPS)
			  ? vfio_cap_find(info, len, sizeof(*info), info->cap_offset,
				     VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE, sizeof(c))
			  : 0;
	if (co <= 0) {
		rc = co < 0 ? (int)co : -ENOTSUP;
		goto out;
	}
	memcpy(&c, (char *)info + co, sizeof(c));
	if (c.nr_iovas > (len - (size_t)co - sizeof(c)) / sizeof(one)) {
		rc = -EIO;
		goto out;
	}
	size_t k = 0;
	for (uint32_t i = 0; i < c.nr_iovas && k < *n; i++) {
		memcpy(&one, (char *)info + co + sizeof(c) + i * sizeof(one), sizeof(one));
		if (one.start > one.end)
			continue;
		r[k].start = one.start;
		r[k].end = one.end;
		k++;
	}
	*n = k;
	rc = 0;
out:
	free(info);
	return rc;
}

