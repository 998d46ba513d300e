/* SPDX-License-Identifier: MIT */
/*
 * The VFIO backend: PCI devices of this host bound to vfio-pci.
 *
 * A location is a PCI address "DDDD:BB:DD.F".
 *
 * Modes:
 *  - UDD_BE_PROBE never opens the IOMMU group or the device: ids, class,
 *    BARs and interrupt counts come from sysfs ("config", read only, and
 *    "resource"), so listing never disturbs a borrower. Only device_info,
 *    region_info, region_read of config space, irq_info and check work;
 *    everything else is -EPERM.
 *  - UDD_BE_EXCLUSIVE takes /run/udd/vfio/<bdf>.lock (flock, holder's pid in
 *    it: a second borrower gets -EBUSY and a log line naming the holder),
 *    then opens the device:
 *      * iommufd + the VFIO device cdev (kernel >= 6.6) when this library
 *        was built with headers that define them and the running kernel has
 *        /dev/iommu and <dev>/vfio-dev/vfio*: IOMMU_IOAS_ALLOC,
 *        VFIO_DEVICE_BIND_IOMMUFD, VFIO_DEVICE_ATTACH_IOMMUFD_PT and
 *        IOMMU_IOAS_MAP/UNMAP. NOT TESTED on a real kernel yet (the test
 *        guest runs 6.1 and the build host's headers are 6.1, which leaves
 *        this path compiled out); $UDD_VFIO_NO_IOMMUFD=1 disables it.
 *      * otherwise the legacy container: /dev/vfio/<group>,
 *        /dev/vfio/vfio, type1v2 IOMMU. This is the path the QEMU guest
 *        tests exercise (intel-iommu, edu and nvme).
 *    Bus mastering and memory space are enabled on open; close disables
 *    bus mastering, disables interrupts, unmaps DMA and closes the fds in
 *    reverse order of opening.
 *  - UDD_BE_SHARED is -EOPNOTSUPP: a VFIO device is owned by one process.
 *
 * Every length, count and offset the kernel hands back is checked before it
 * is used.
 *
 * Tested: sysfs enumeration and probe mode on a fake sysfs tree
 * (tests/unit/test_vfio_sysfs.c); the container path on kernel 6.1 in the
 * QEMU guest (tests/vm/guest/udd_edu.c, udd_nvme.c: borrow, -EBUSY across
 * processes, BARs, DMA, MSI, MSI-X, reset, RLIMIT_MEMLOCK). The iommufd path
 * has only been compiled (against 6.6 uAPI definitions), never run.
 * Sparse mmap areas are parsed but neither test device reports any.
 *
 * This file: lock, open/close, regions, interrupts, reset, the ops table;
 * vfio_iommu.c: the IOMMU side (container or iommufd attach, DMA maps,
 * valid IOVA ranges).
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <dirent.h>

#include "vfio_priv.h"

#define VFIO_LOCK_DIR "/run/udd/vfio"
#define VFIO_MAX_REGIONS 64     /* more than vfio-pci's 9 + device-specific ones */
#define PCI_COMMAND 0x04
#define PCI_COMMAND_MEMORY 0x2
#define PCI_COMMAND_MASTER 0x4

/* ---- small helpers ---------------------------------------------------------- */

/* Read/write @len bytes at @off of the device fd, exactly. */
static int fd_rw(int fd, uint64_t off, void *buf, size_t len, bool write)
{
	if (off > (uint64_t)INT64_MAX || len > (size_t)0x7ffff000)
		return -EINVAL;
	ssize_t n = write ? pwrite(fd, buf, len, (off_t)off) : pread(fd, buf, len, (off_t)off);
	if (n < 0)
		return -errno;
	return (size_t)n == len ? 0 : -EIO;
}

/* ---- lock file ------------------------------------------------------------------ */

static int mkdir_p(const char *path)
{
	char p[256];
	if (snprintf(p, sizeof(p), "%s", path) >= (int)sizeof(p))
		return -ENAMETOOLONG;
	for (char *s = p + 1; *s; s++) {
		if (*s != '/')
			continue;
		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	if (mkdir(p, 0755) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static int take_lock(struct vfio_dev *d)
{
	char path[300];
	int rc = mkdir_p(VFIO_LOCK_DIR);
	if (rc) {
		udd_logf(d->log, UDD_LOG_ERR, "vfio: cannot create %s: %s", VFIO_LOCK_DIR, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%s.lock", VFIO_LOCK_DIR, d->bdf);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
	if (fd < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: cannot open %s: %s", path, strerror(-rc));
		return rc;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		char holder[32] = "";
		ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		holder[strcspn(holder, "\n")] = '\0';
		udd_logf(d->log, UDD_LOG_WARN, "vfio: %s is borrowed by pid %s (lock %s)", d->bdf,
			 holder[0] ? holder : "?", path);
		close(fd);
		return rc;
	}
	char pid[32];
	int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n)
		udd_logf(d->log, UDD_LOG_DEBUG, "vfio: %s: cannot record the pid", path);
	d->lock_fd = fd;
	return 0;
}

/* ---- device regions ------------------------------------------------------------------ */

/* GET_REGION_INFO with its capability chain into @out and @off. */

/*
 * Find capability @id in a VFIO info buffer of @len valid bytes whose fixed
 * part is @hdr bytes, the chain starting at offset @first. Every header must
 * lie inside the buffer, after the fixed part; a chain longer than 32 is
 * corrupt. Returns the capability's offset (> 0) with at least @min bytes
 * from it in the buffer, 0 if the chain has no such capability, or -EIO.
 */
long vfio_cap_find(const void *buf, size_t len, size_t hdr, uint32_t first, uint16_t id,
		     size_t min)
{
	uint32_t co = first;
	for (int guard = 0; co; guard++) {
		struct vfio_info_cap_header h;
		if (guard >= 32 || co < hdr || co > len || len - co < sizeof(h))
			return -EIO;
		memcpy(&h, (const char *)buf + co, sizeof(h));
		if (h.id == id)
			return len - co < min ? -EIO : (long)co;
		co = h.next;
	}
	return 0;
}

static int query_region(struct vfio_dev *d, uint32_t index, struct udd_be_region *out, uint64_t *off)
{
	size_t sz = sizeof(struct vfio_region_info);
	struct vfio_region_info *ri = calloc(1, sz);
	if (!ri)
		return -ENOMEM;
	ri->argsz = (uint32_t)sz;
	ri->index = index;
	int rc = 0;
	if (ioctl(d->device_fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0) {
		rc = -errno;
		goto out;
	}
	if ((ri->flags & VFIO_REGION_INFO_FLAG_CAPS) && ri->argsz > sz) {
		if (ri->argsz > VFIO_MAX_INFO) {
			rc = -EIO;
			goto out;
		}
		size_t nsz = ri->argsz;
		struct vfio_region_info *n = calloc(1, nsz);
		if (!n) {
			rc = -ENOMEM;
			goto out;
		}
		free(ri);
		ri = n;
		sz = nsz;
		ri->argsz = (uint32_t)sz;
		ri->index = index;
		if (ioctl(d->device_fd, VFIO_DEVICE_GET_REGION_INFO, ri) < 0) {
			rc = -errno;
			goto out;
		}
		if (ri->argsz > sz) { /* grew again: give up on the capabilities */
			ri->flags &= ~(uint32_t)VFIO_REGION_INFO_FLAG_CAPS;
		}
	}
	if (ri->size && (ri->offset > (uint64_t)INT64_MAX || ri->size > (uint64_t)INT64_MAX - ri->offset)) {
		rc = -EIO;
		goto out;
	}
	memset(out, 0, sizeof(*out));
	out->size = ri->size;
	out->flags = ri->flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE |
				  VFIO_REGION_INFO_FLAG_MMAP);
	out->mmap_fd = -1;
	*off = ri->offset;

	bool sparse = false;
	if ((ri->flags & VFIO_REGION_INFO_FLAG_CAPS) && ri->argsz <= sz && ri->cap_offset) {
		struct vfio_region_info_cap_sparse_mmap sm;
		struct vfio_region_sparse_mmap_area a;
		size_t len = ri->argsz;
		long co = vfio_cap_find(ri, len, sizeof(*ri), ri->cap_offset,
				   VFIO_REGION_INFO_CAP_SPARSE_MMAP, sizeof(sm));
		if (co < 0) {
			rc = (int)co;
			goto out;
		}
		if (co > 0) {
			memcpy(&sm, (char *)ri + co, sizeof(sm));
			if (sm.nr_areas > (len - (size_t)co - sizeof(sm)) / sizeof(a)) {
				rc = -EIO;
				goto out;
			}
			sparse = true;
			for (uint32_t i = 0; i < sm.nr_areas; i++) {
				memcpy(&a, (char *)ri + co + sizeof(sm) + i * sizeof(a), sizeof(a));
				if (!a.size || a.offset > out->size || a.size > out->size - a.offset)
					continue; /* nonsense area: leave it trapped */
				if (out->nsparse == UDD_BE_MAX_SPARSE) {
					udd_logf(d->log, UDD_LOG_DEBUG,
						 "vfio: region %u: more than %d mmap areas; "
						 "the rest is trapped", index, UDD_BE_MAX_SPARSE);
					break;
				}
				out->sparse[out->nsparse].offset = a.offset;
				out->sparse[out->nsparse].size = a.size;
				out->nsparse++;
			}
		}
	}
	if (sparse && out->nsparse == 0)
		out->flags &= ~(uint32_t)VFIO_REGION_INFO_FLAG_MMAP; /* nothing may be mapped */
	if ((out->flags & VFIO_REGION_INFO_FLAG_MMAP) && out->size) {
		out->mmap_fd = d->device_fd;
		out->mmap_offset = ri->offset;
	}
out:
	free(ri);
	return rc;
}

static int cache_device(struct vfio_dev *d)
{
	struct vfio_device_info di = { .argsz = sizeof(di) };
	if (ioctl(d->device_fd, VFIO_DEVICE_GET_INFO, &di) < 0) {
		int rc = -errno;
		udd_logf(d->log, UDD_LOG_ERR, "vfio: VFIO_DEVICE_GET_INFO: %s", strerror(-rc));
		return rc;
	}
	if (!(di.flags & VFIO_DEVICE_FLAGS_PCI) || di.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX) {
		udd_logf(d->log, UDD_LOG_ERR, "vfio: %s is not a PCI device (flags %#x, %u regions)",
			 d->bdf, di.flags, di.num_regions);
		return -EIO;
	}
	uint32_t nreg = di.num_regions > VFIO_MAX_REGIONS ? VFIO_MAX_REGIONS : di.num_regions;
	struct udd_be_region *regions = calloc(nreg, sizeof(*regions));
	uint64_t *offs = calloc(nreg, sizeof(*offs));
	int *errs = calloc(nreg, sizeof(*errs));
	if (!regions || !offs || !errs) {
		free(regions);
		free(offs);
		free(errs);
		return -ENOMEM;
	}
	d->regions = regions;
	d->region_off = offs;
	d->region_err = errs;
	d->dev_flags = di.flags;
	d->num_regions = nreg;
	d->num_irqs = di.num_irqs > 32 ? 32 : di.num_irqs;
	for (uint32_t i = 0; i < d->num_regions; i++) {
		int rc = query_region(d, i, &d->regions[i], &d->region_off[i]);
		if (rc == -ENOMEM)
			return rc;
		if (rc) {
			/* e.g. the VGA region of a non-VGA device */
			memset(&d->regions[i], 0, sizeof(d->regions[i]));
			d->regions[i].mmap_fd = -1;
			d->region_err[i] = rc;
		}
	}
	if (d->region_err[VFIO_PCI_CONFIG_REGION_INDEX] ||
	    d->regions[VFIO_PCI_CONFIG_REGION_INDEX].size < 64) {
		udd_logf(d->log, UDD_LOG_ERR, "vfio: %s: no usable config space region", d->bdf);
		return -EIO;
	}
	return 0;
}

static int region_rw(struct vfio_dev *d, uint32_t index, uint64_t off, void *buf, size_t len,
		     bool write)
{
	if (!d || (!buf && len))
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE) {
		if (write || index != VFIO_PCI_CONFIG_REGION_INDEX)
			return -EPERM;
		if (off > d->cfg_size || len > d->cfg_size - off)
			return -EINVAL;
		return len ? fd_rw(d->cfg_fd, off, buf, len, false) : 0;
	}
	if (index >= d->num_regions)
		return -EINVAL;
	if (d->region_err[index])
		return d->region_err[index];
	const struct udd_be_region *r = &d->regions[index];
	if (!(r->flags & (write ? VFIO_REGION_INFO_FLAG_WRITE : VFIO_REGION_INFO_FLAG_READ)))
		return -EINVAL;
	if (off > r->size || len > r->size - off)
		return -EINVAL;
	if (!len)
		return 0;
	return fd_rw(d->device_fd, d->region_off[index] + off, buf, len, write);
}

/* Set or clear bits of the command register (exclusive mode). */
static int command_update(struct vfio_dev *d, uint16_t set, uint16_t clear)
{
	uint16_t cmd;
	int rc = region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &cmd, 2, false);
	if (rc)
		return rc;
	uint16_t ncmd = (uint16_t)((cmd | set) & ~clear);
	if (ncmd == cmd)
		return 0;
	return region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, PCI_COMMAND, &ncmd, 2, true);
}

/* ---- probe mode ---------------------------------------------------------------------------- */

static int probe_open(struct vfio_dev *d)
{
	char p[600];
	int rc = vfio_dev_path(p, sizeof(p), d->bdf, "config");
	if (rc)
		return rc;
	d->cfg_fd = open(p, O_RDONLY | O_CLOEXEC);
	if (d->cfg_fd < 0) {
		rc = -errno;
		udd_logf(d->log, UDD_LOG_WARN, "vfio: %s: %s", p, strerror(-rc));
		return rc == -ENOENT ? -ENOENT : rc;
	}
	struct stat st;
	if (fstat(d->cfg_fd, &st) < 0)
		return -errno;
	if (st.st_size < 64 || st.st_size > 4096) {
		udd_logf(d->log, UDD_LOG_WARN, "vfio: %s: config space of %lld bytes", d->bdf,
			 (long long)st.st_size);
		return -EIO;
	}
	d->cfg_size = (uint64_t)st.st_size;
	rc = vfio_sys_read_resources(d->bdf, d->res);
	if (rc) {
		udd_logf(d->log, UDD_LOG_WARN, "vfio: %s: unreadable resource file: %s", d->bdf,
			 strerror(-rc));
		return rc;
	}
	rc = vfio_dev_path(p, sizeof(p), d->bdf, "reset");
	if (rc)
		return rc;
	d->can_reset = access(p, F_OK) == 0;
	return 0;
}

static int probe_region_info(struct vfio_dev *d, uint32_t index, struct udd_be_region *out)
{
	memset(out, 0, sizeof(*out));
	out->mmap_fd = -1;
	if (index == VFIO_PCI_CONFIG_REGION_INDEX) {
		out->size = d->cfg_size;
		out->flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
		return 0;
	}
	if (index == VFIO_PCI_VGA_REGION_INDEX)
		return 0;
	if (index > VFIO_PCI_ROM_REGION_INDEX)
		return -EINVAL;
	const struct vfio_sys_res *r = &d->res[index];
	if (!r->start && !r->end)
		return 0; /* not implemented (or not assigned) */
	out->size = r->end - r->start + 1;
	if (out->size == 0) /* 0 .. 2^64-1 */
		return -EIO;
	out->flags = VFIO_REGION_INFO_FLAG_READ;
	if (index != VFIO_PCI_ROM_REGION_INDEX)
		out->flags |= VFIO_REGION_INFO_FLAG_WRITE;
	return 0;
}

static int probe_irq_info(struct vfio_dev *d, uint32_t index, uint32_t *count, uint32_t *flags)
{
	if (index >= VFIO_PCI_NUM_IRQS)
		return -EINVAL;
	uint8_t cfg[256];
	size_t len = d->cfg_size < sizeof(cfg) ? (size_t)d->cfg_size : sizeof(cfg);
	int rc = fd_rw(d->cfg_fd, 0, cfg, len, false);
	if (rc)
		return rc;
	*count = vfio_cfg_irq_count(cfg, len, index);
	*flags = VFIO_IRQ_INFO_EVENTFD;
	if (index == VFIO_PCI_INTX_IRQ_INDEX)
		*flags |= VFIO_IRQ_INFO_MASKABLE | VFIO_IRQ_INFO_AUTOMASKED;
	else if (index == VFIO_PCI_MSI_IRQ_INDEX || index == VFIO_PCI_MSIX_IRQ_INDEX)
		*flags |= VFIO_IRQ_INFO_NORESIZE;
	return 0;
}

/* ---- open / close ------------------------------------------------------------------------- */

static void dev_free(struct vfio_dev *d)
{
	free(d->maps);
	free(d->regions);
	free(d->region_off);
	free(d->region_err);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

static int irq_disable_index(struct vfio_dev *d, uint32_t index)
{
	struct vfio_irq_set s = {
		.argsz = sizeof(s),
		.flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
		.index = index,
		.start = 0,
		.count = 0,
	};
	return ioctl(d->device_fd, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}

static void borrow_teardown(struct vfio_dev *d)
{
	if (d->device_fd >= 0 && d->regions) {
		int rc = command_update(d, 0, PCI_COMMAND_MASTER);
		if (rc)
			udd_logf(d->log, UDD_LOG_DEBUG, "vfio: %s: bus master off: %s", d->bdf,
				 strerror(-rc));
	}
	if (d->device_fd >= 0) {
		for (uint32_t i = 0; i < 32; i++)
			if (d->irq_enabled & (1u << i))
				(void)irq_disable_index(d, i);
		d->irq_enabled = 0;
	}
	for (size_t i = d->nmaps; i-- > 0;) {
		uint64_t done = 0;
		int rc = vfio_unmap_one(d, d->maps[i].iova, d->maps[i].size, &done);
		if (rc)
			udd_logf(d->log, UDD_LOG_DEBUG, "vfio: unmap 0x%" PRIx64 ": %s", d->maps[i].iova,
				 strerror(-rc));
	}
	d->nmaps = 0;
#if VFIO_HAVE_IOMMUFD
	if (d->iommufd >= 0)
		vfio_iommufd_detach(d);
#endif
	vfio_close_fd(&d->device_fd);
	if (d->group_fd >= 0 && d->container_fd >= 0)
		(void)ioctl(d->group_fd, VFIO_GROUP_UNSET_CONTAINER);
	vfio_close_fd(&d->container_fd);
	vfio_close_fd(&d->group_fd);
	vfio_close_fd(&d->lock_fd);
}

static int borrow_open(struct vfio_dev *d)
{
	/* Without an IOMMU group there is nothing VFIO can open: say so
	 * before leaving a lock file behind. */
	char grp[32];
	int rc = vfio_link_name(d->bdf, "iommu_group", grp, sizeof(grp));
	if (rc) {
		udd_logf(d->log, UDD_LOG_ERR, "vfio: %s has no IOMMU group (%s); is the IOMMU on?",
			 d->bdf, strerror(-rc));
		return rc == -ENAMETOOLONG ? -EIO : -ENOENT;
	}
	rc = take_lock(d);
	if (rc)
		return rc;
#if VFIO_HAVE_IOMMUFD
	rc = vfio_iommufd_attach(d);
	if (rc == -ENOENT) {
		/* no iommufd here: undo what was opened and use the container */
		vfio_iommufd_detach(d);
		rc = vfio_container_attach(d);
	}
#else
	rc = vfio_container_attach(d);
#endif
	if (!rc)
		rc = cache_device(d);
	if (!rc) {
		rc = command_update(d, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);
		if (rc)
			udd_logf(d->log, UDD_LOG_ERR, "vfio: %s: cannot enable bus mastering: %s",
				 d->bdf, strerror(-rc));
	}
	if (rc)
		borrow_teardown(d);
	return rc;
}

static int vfio_open(const char *loc, enum udd_be_mode mode, struct udd_log *log, void **bdev)
{
	if (!loc || !bdev)
		return -EINVAL;
	if (!vfio_bdf_valid(loc)) {
		udd_logf(log, UDD_LOG_WARN, "vfio: \"%.64s\" is not a PCI address DDDD:BB:DD.F", loc);
		return -ENOENT;
	}
	if (mode == UDD_BE_SHARED) {
		udd_logf(log, UDD_LOG_ERR,
			 "vfio: %s: shared borrowing of a local VFIO device is not possible until the "
			 "pool can serve it to other processes; borrow it exclusively", loc);
		return -EOPNOTSUPP;
	}
	if (mode != UDD_BE_PROBE && mode != UDD_BE_EXCLUSIVE)
		return -EINVAL;
	int rc = vfio_check_bound(loc, log);
	if (rc)
		return rc;

	struct vfio_dev *d = calloc(1, sizeof(*d));
	if (!d)
		return -ENOMEM;
	memcpy(d->bdf, loc, VFIO_BDF_LEN);
	d->mode = mode;
	d->log = log;
	d->cfg_fd = d->lock_fd = d->group_fd = d->container_fd = d->iommufd = d->device_fd = -1;
	pthread_mutex_init(&d->lock, NULL);

	if (mode == UDD_BE_PROBE) {
		rc = probe_open(d);
		if (rc)
			vfio_close_fd(&d->cfg_fd);
	} else {
		rc = borrow_open(d);
	}
	if (rc) {
		dev_free(d);
		return rc;
	}
	*bdev = d;
	return 0;
}

static void vfio_close(void *bdev)
{
	struct vfio_dev *d = bdev;
	if (!d)
		return;
	if (d->mode == UDD_BE_PROBE)
		vfio_close_fd(&d->cfg_fd);
	else
		borrow_teardown(d);
	dev_free(d);
}

/* ---- the other ops -------------------------------------------------------------------------- */

static int vfio_device_info(void *bdev, struct udd_be_devinfo *out)
{
	struct vfio_dev *d = bdev;
	if (!d || !out)
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE) {
		out->flags = VFIO_DEVICE_FLAGS_PCI | (d->can_reset ? VFIO_DEVICE_FLAGS_RESET : 0);
		out->num_regions = VFIO_PCI_NUM_REGIONS;
		out->num_irqs = VFIO_PCI_NUM_IRQS;
		return 0;
	}
	out->flags = d->dev_flags & (VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI);
	out->num_regions = d->num_regions;
	out->num_irqs = d->num_irqs;
	return 0;
}

static int vfio_region_info(void *bdev, uint32_t index, struct udd_be_region *out)
{
	struct vfio_dev *d = bdev;
	if (!d || !out)
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE)
		return probe_region_info(d, index, out);
	if (index >= d->num_regions)
		return -EINVAL;
	if (d->region_err[index])
		return d->region_err[index];
	*out = d->regions[index];
	return 0;
}

static int vfio_region_read(void *bdev, uint32_t index, uint64_t off, void *buf, size_t len)
{
	return region_rw(bdev, index, off, buf, len, false);
}

static int vfio_region_write(void *bdev, uint32_t index, uint64_t off, const void *buf, size_t len)
{
	return region_rw(bdev, index, off, (void *)(uintptr_t)buf, len, true);
}

static int vfio_irq_info(void *bdev, uint32_t index, uint32_t *count, uint32_t *flags)
{
	struct vfio_dev *d = bdev;
	if (!d || !count || !flags)
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE)
		return probe_irq_info(d, index, count, flags);
	if (index >= d->num_irqs)
		return -EINVAL;
	struct vfio_irq_info ii = { .argsz = sizeof(ii), .index = index };
	if (ioctl(d->device_fd, VFIO_DEVICE_GET_IRQ_INFO, &ii) < 0)
		return -errno;
	*count = ii.count;
	*flags = ii.flags;
	return 0;
}

static int vfio_irq_set(void *bdev, uint32_t index, uint32_t start, uint32_t count, const int *fds)
{
	struct vfio_dev *d = bdev;
	if (!d)
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE)
		return -EPERM;
	if (index >= d->num_irqs)
		return -EINVAL;
	int rc;
	if (!fds) {
		if (count)
			return -EINVAL;
		pthread_mutex_lock(&d->lock);
		rc = irq_disable_index(d, index);
		if (!rc)
			d->irq_enabled &= ~(1u << index);
		pthread_mutex_unlock(&d->lock);
		return rc;
	}
	uint32_t n = 0, fl = 0;
	rc = vfio_irq_info(d, index, &n, &fl);
	if (rc)
		return rc;
	if (!count || start > n || count > n - start)
		return -EINVAL;
	size_t sz = sizeof(struct vfio_irq_set) + (size_t)count * sizeof(int32_t);
	struct vfio_irq_set *s = calloc(1, sz);
	if (!s)
		return -ENOMEM;
	s->argsz = (uint32_t)sz;
	s->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	s->index = index;
	s->start = start;
	s->count = count;
	for (uint32_t i = 0; i < count; i++) {
		int32_t fd = fds[i];
		memcpy(s->data + i * sizeof(int32_t), &fd, sizeof(fd));
	}
	pthread_mutex_lock(&d->lock);
	rc = ioctl(d->device_fd, VFIO_DEVICE_SET_IRQS, s) < 0 ? -errno : 0;
	if (!rc)
		d->irq_enabled |= 1u << index;
	pthread_mutex_unlock(&d->lock);
	free(s);
	return rc;
}

static int vfio_irq_mask(void *bdev, uint32_t index, uint32_t vec, bool mask)
{
	struct vfio_dev *d = bdev;
	if (!d)
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE)
		return -EPERM;
	if (index >= d->num_irqs)
		return -EINVAL;
	struct vfio_irq_set s = {
		.argsz = sizeof(s),
		.flags = VFIO_IRQ_SET_DATA_NONE |
			 (mask ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK),
		.index = index,
		.start = vec,
		.count = 1,
	};
	return ioctl(d->device_fd, VFIO_DEVICE_SET_IRQS, &s) < 0 ? -errno : 0;
}

static int vfio_reset(void *bdev)
{
	struct vfio_dev *d = bdev;
	if (!d)
		return -EINVAL;
	if (d->mode == UDD_BE_PROBE)
		return -EPERM;
	if (!(d->dev_flags & VFIO_DEVICE_FLAGS_RESET))
		return -ENOTSUP;
	if (ioctl(d->device_fd, VFIO_DEVICE_RESET) < 0) {
		int rc = -errno;
		udd_logf(d->log, UDD_LOG_WARN, "vfio: %s: VFIO_DEVICE_RESET: %s", d->bdf, strerror(-rc));
		return rc;
	}
	/* The kernel restores config space after the reset; make sure the
	 * device can still master the bus. */
	int rc = command_update(d, PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER, 0);
	return rc == -ENODEV ? rc : 0;
}

static int vfio_check(void *bdev)
{
	struct vfio_dev *d = bdev;
	if (!d)
		return -EINVAL;
	char p[600];
	struct stat st;
	int rc = vfio_dev_path(p, sizeof(p), d->bdf, NULL);
	if (rc)
		return rc;
	if (stat(p, &st) < 0)
		return -ENODEV;
	uint32_t id;
	rc = region_rw(d, VFIO_PCI_CONFIG_REGION_INDEX, 0, &id, 4, false);
	if (rc == -ENODEV || (!rc && id == 0xffffffffu))
		return -ENODEV;
	return rc;
}

const struct udd_backend_ops udd_vfio_backend = {
	.name = "vfio",
	.open = vfio_open,
	.close = vfio_close,
	.device_info = vfio_device_info,
	.region_info = vfio_region_info,
	.region_read = vfio_region_read,
	.region_write = vfio_region_write,
	.irq_info = vfio_irq_info,
	.irq_set = vfio_irq_set,
	.irq_mask = vfio_irq_mask,
	.dma_map = vfio_dma_map,
	.dma_unmap = vfio_dma_unmap,
	.reset = vfio_reset,
	.check = vfio_check,
	.iova_ranges = vfio_iova_ranges,
	.set_fault_cb = NULL,
	.enumerate = vfio_enumerate,
};
