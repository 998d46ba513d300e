/* SPDX-License-Identifier: MIT */
/*
 * Borrowing and returning devices.
 *
 * Exclusion across processes: a server that knows the udd extension
 * capability (udd-sim does) enforces borrow modes itself, and a borrow ends
 * when its connection closes, so a borrower that dies releases it. For
 * peers that do not, a lock file per device in the runtime directory
 * (flock: shared or exclusive, released by the kernel when the holder dies)
 * gives the same semantics between processes of this host; it records the
 * holder's pid so that -EBUSY can name it in the log. The lock is taken
 * before connecting (see udd_dev_borrow) and dropped once the server turns
 * out to enforce modes itself.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "client.h"
#include "internal.h"
#include "pool.h"

static int take_lock_file(struct udd_ctx *ctx, udd_fdid_t fdid, bool excl, int *out)
{
	char dir[600], path[700];
	snprintf(dir, sizeof(dir), "%s/locks", ctx->runtime_dir);
	int rc = udd_private_dir(ctx->runtime_dir);
	if (rc == 0)
		rc = udd_private_dir(dir);
	if (rc) {
		udd_logf(&ctx->log, UDD_LOG_ERR, "lock directory %s: %s", dir, strerror(-rc));
		return rc;
	}
	snprintf(path, sizeof(path), "%s/%08x.lock", dir, fdid);
	int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (flock(fd, (excl ? LOCK_EX : LOCK_SH) | LOCK_NB) < 0) {
		int e = errno == EWOULDBLOCK ? -EBUSY : -errno;
		char holder[32] = "";
		ssize_t n = pread(fd, holder, sizeof(holder) - 1, 0);
		holder[n > 0 ? n : 0] = '\0';
		udd_logf(&ctx->log, UDD_LOG_WARN, "device %#x is borrowed by pid %s", fdid,
			 holder[0] ? holder : "?");
		close(fd);
		return e;
	}
	if (excl) {
		char pid[32];
		int n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
		if (ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) != n)
			udd_logf(&ctx->log, UDD_LOG_DEBUG, "lock file %s: cannot record pid", path);
	}
	*out = fd;
	return 0;
}

int udd_dev_borrow(udd_ctx_t *ctx, udd_fdid_t fdid, uint32_t flags, udd_dev_t **out)
{
	if (!ctx || !out || (flags & ~UDD_BORROW_EXCLUSIVE))
		return -EINVAL;
	bool excl = flags & UDD_BORROW_EXCLUSIVE;
	struct udd_loc loc;
	int rc = udd_pool_find(ctx, fdid, &loc);
	if (rc)
		return rc;

	struct udd_dev *dev = calloc(1, sizeof(*dev));
	if (!dev)
		return -ENOMEM;
	dev->ctx = ctx;
	dev->be = loc.be;
	dev->lock_fd = -1;
	dev->irq_type = -1;
	pthread_mutex_init(&dev->lock, NULL);

	/*
	 * The lock file is taken BEFORE connecting. A server without the udd
	 * capability may serve one client at a time: a second borrower that
	 * connected first would sit in its accept backlog until a timeout (or
	 * get the device late, once the holder let go), when the lock file
	 * could have said -EBUSY at once. Whether the server enforces borrow
	 * modes itself is known only after the handshake; if it does, the lock
	 * is dropped again (the server's word is the one that counts, also for
	 * borrowers on other hosts). A lock directory that cannot be used only
	 * matters for a server that does not enforce.
	 */
	int lock_rc = 0;
	if (loc.be == &udd_vfio_user_backend) {
		lock_rc = take_lock_file(ctx, fdid, excl, &dev->lock_fd);
		if (lock_rc == -EBUSY) {
			rc = lock_rc;
			goto fail_open;
		}
	}
	rc = loc.be->open(loc.path, excl ? UDD_BE_EXCLUSIVE : UDD_BE_SHARED, &ctx->log, &dev->bdev);
	if (rc) {
		if (rc == -EBUSY)
			udd_logf(&ctx->log, UDD_LOG_WARN, "device %#x (%s) is busy: borrowed %s",
				 fdid, loc.path, excl ? "by someone else" : "exclusively by someone else");
		if (dev->lock_fd >= 0)
			close(dev->lock_fd);
		goto fail_open;
	}
	if (loc.be == &udd_vfio_user_backend) {
		if (vfu_client_enforces_borrow(dev->bdev)) {
			if (dev->lock_fd >= 0)
				close(dev->lock_fd);
			dev->lock_fd = -1;
		} else if (lock_rc) {
			rc = lock_rc;
			goto fail_lock;
		}
	}
	for (unsigned i = 0; i < UDD_MAX_REGSETS; i++)
		dev->region[i].mmap_fd = -1;
	rc = udd_dev_describe(loc.be, dev->bdev, &dev->info, dev->region_index, dev->region);
	if (rc)
		goto fail_describe;
	dev->info.fdid = fdid;
	snprintf(dev->info.backend, sizeof(dev->info.backend), "%s", loc.be->name);
	snprintf(dev->info.location, sizeof(dev->info.location), "%s", loc.path);

	pthread_mutex_lock(&ctx->lock);
	dev->next = ctx->devs;
	ctx->devs = dev;
	pthread_mutex_unlock(&ctx->lock);
	*out = dev;
	return 0;

fail_describe:
	if (dev->lock_fd >= 0)
		close(dev->lock_fd);
fail_lock:
	loc.be->close(dev->bdev);
fail_open:
	pthread_mutex_destroy(&dev->lock);
	free(dev);
	return rc;
}

void udd_dev_return(udd_dev_t *dev)
{
	if (!dev)
		return;
	struct udd_ctx *ctx = dev->ctx;
	pthread_mutex_lock(&ctx->lock);
	for (struct udd_dev **pp = &ctx->devs; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			break;
		}
	}
	pthread_mutex_unlock(&ctx->lock);

	udd_irq_release_all(dev);
	udd_dma_release_all(dev);
	udd_regs_release_all(dev);
	dev->be->close(dev->bdev);
	if (dev->lock_fd >= 0)
		close(dev->lock_fd);
	pthread_mutex_destroy(&dev->lock);
	free(dev);
}

int udd_dev_get_info(udd_dev_t *dev, udd_dev_info_t *info)
{
	if (!dev || !info)
		return -EINVAL;
	*info = dev->info;
	return 0;
}

udd_fdid_t udd_dev_fdid(const udd_dev_t *dev)
{
	return dev ? dev->info.fdid : 0;
}

void udd_dev_mark_gone(struct udd_dev *dev)
{
	__atomic_store_n(&dev->gone, true, __ATOMIC_RELEASE);
}

int udd_dev_reset(udd_dev_t *dev)
{
	if (!dev)
		return -EINVAL;
	if (!dev->info.can_reset)
		return -ENOTSUP;
	int rc = dev->be->reset(dev->bdev);
	if (rc == -ENODEV)
		udd_dev_mark_gone(dev);
	return rc;
}

int udd_dev_check(udd_dev_t *dev)
{
	if (!dev)
		return -EINVAL;
	if (__atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE))
		return -ENODEV;
	int rc = dev->be->check(dev->bdev);
	if (rc == 0) {
		uint32_t id;
		rc = dev->be->region_read(dev->bdev, VFIO_PCI_CONFIG_REGION_INDEX, 0, &id, 4);
		if (rc == 0 && id == 0xffffffffu)
			rc = -EIO;
	}
	if (rc == -ENODEV || rc == -ECONNRESET || rc == -EPIPE) {
		udd_dev_mark_gone(dev);
		rc = -ENODEV;
	}
	return rc;
}
