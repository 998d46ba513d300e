/* SPDX-License-Identifier: MIT */
/*
 * vfio-user client backend: talks to a vfio-user server (QEMU
 * docs/interop/vfio-user.rst, protocol 0.1) over an AF_UNIX stream socket.
 *
 * Design:
 *  - Requests on the main socket are serialised by c->lock: one request and
 *    its reply at a time; message ids increment. A reply must carry our id,
 *    our command and the reply type, or the connection is broken.
 *  - Server-to-client commands (DMA_READ, DMA_WRITE, the udd DMA-fault
 *    notice) are served by a thread on the twin socket when the server
 *    negotiated twin-socket mode. Without it they are served on the main
 *    socket while a request waits for its reply. LIMITATION: in that mode
 *    they are not served while the client is idle (no request under way).
 *  - DMA_READ/DMA_WRITE are served from the vaddr given to dma_map(), only
 *    when the whole access lies inside one window with the permission it
 *    needs; anything else gets an error reply EFAULT.
 *  - Every call has an overall deadline (10 s, DEVICE_RESET 30 s) that
 *    bounds the connect, the send, the wait for the reply and the server
 *    commands served meanwhile, however the server cuts its messages up;
 *    after a timeout, EOF or any protocol violation the connection is
 *    marked broken and every later call fails with -ENODEV at once.
 *  - A mappable region's descriptor is checked (fstat) before the core may
 *    mmap it: one that is not a regular file, or is shorter than the areas
 *    it should back, leaves the region trapped (no SIGBUS later).
 *  - Errors: an error reply gives -(error) (1..4095, else -EIO); peer gone
 *    -ENODEV; malformed -EPROTO; no answer -ETIMEDOUT.
 */
#include "client_priv.h"

/* ------------------------------------------------------------------------ */
/* device and regions                                                        */
/* ------------------------------------------------------------------------ */

static int vu_device_info(void *bdev, struct udd_be_devinfo *out)
{
	struct vfu_client *c = bdev;
	if (!c || !out)
		return -EINVAL;
	if (atomic_load(&c->broken))
		return -ENODEV;
	*out = c->info;
	return 0;
}

/* Is @fd a VFIO device (what a lender of a real device passes for its BARs)? */
static bool is_vfio_device_fd(int fd)
{
	char path[64], link[64];
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	ssize_t n = readlink(path, link, sizeof(link) - 1);
	if (n < 0)
		return false;
	link[n] = '\0';
	return strcmp(link, "anon_inode:[vfio-device]") == 0;
}

/*
 * Can @fd back every mappable area of @r (mmap_offset, size, sparse areas
 * filled in)? Only a regular file (memfd, shm, file) whose size reaches the
 * end of each area: mapping past the end of a file gives SIGBUS on access,
 * which a malicious or broken server must not be able to cause. No: logged,
 * and the region is trapped instead.
 */
static bool mmap_fd_covers(struct vfu_client *c, uint32_t index, int fd,
			   const struct udd_be_region *r)
{
	struct stat st;
	if (fstat(fd, &st) == 0 && !S_ISREG(st.st_mode) && is_vfio_device_fd(fd))
		return true; /* a lender's device: the kernel bounds the mmap by the region */
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		udd_logf(c->log, UDD_LOG_WARN,
			 "vfio-user: region %u: the mmap descriptor is not a regular file; "
			 "trapping the region", index);
		return false;
	}
	uint64_t end = 0;
	if (r->nsparse == 0) {
		end = r->size;
	} else {
		for (uint32_t i = 0; i < r->nsparse; i++)
			if (r->sparse[i].offset + r->sparse[i].size > end)
				end = r->sparse[i].offset + r->sparse[i].size;
	}
	/* mmap_offset + region size <= INT64_MAX was checked by the caller */
	if (st.st_size < 0 || (uint64_t)st.st_size < r->mmap_offset + end) {
		udd_logf(c->log, UDD_LOG_WARN,
			 "vfio-user: region %u: the mmap descriptor has %lld bytes, the mappable "
			 "area ends at %llu; trapping the region", index, (long long)st.st_size,
			 (unsigned long long)(r->mmap_offset + end));
		return false;
	}
	return true;
}

/*
 * Parse a DEVICE_GET_REGION_INFO reply. Owns @fds. Returns 0 (out filled,
 * the fd in it now owned by the caller), 1 when the reply says a larger
 * argsz is needed (*need set), or a negative errno.
 */
static int parse_region(struct vfu_client *c, uint32_t index, const uint8_t *pl, size_t plen,
			uint32_t req_argsz, int *fds, size_t nf, struct udd_be_region *out,
			uint32_t *need)
{
	struct vfu_region_info ri;
	int rc;
	if (plen < sizeof(ri)) {
		rc = violation(c, "short region info reply");
		goto fail;
	}
	memcpy(&ri, pl, sizeof(ri));
	if (ri.index != index || ri.argsz < sizeof(ri)) {
		rc = violation(c, "region info reply: bad index or argsz");
		goto fail;
	}
	if (ri.argsz > req_argsz) {
		*need = ri.argsz;
		vfu_close_fds(fds, nf);
		return 1;
	}
	if (plen < ri.argsz) {
		rc = violation(c, "region info reply shorter than its argsz");
		goto fail;
	}
	size_t len = ri.argsz;
	bool mmap_ok = (ri.flags & VFIO_REGION_INFO_FLAG_MMAP) != 0;
	if (mmap_ok ? nf > 1 : nf > 0) {
		rc = violation(c, "too many descriptors in a region info reply");
		goto fail;
	}
	if (mmap_ok && nf == 0) {
		udd_logf(c->log, c->net ? UDD_LOG_DEBUG : UDD_LOG_WARN, "vfio-user: region %u: MMAP without a descriptor",
			 index);
		mmap_ok = false;
	}
	if (mmap_ok && (ri.size == 0)) {
		mmap_ok = false;
	}
	if (mmap_ok && (ri.offset > (uint64_t)INT64_MAX || ri.size > (uint64_t)INT64_MAX - ri.offset)) {
		rc = violation(c, "region mmap offset out of range");
		goto fail;
	}

	memset(out, 0, sizeof(*out));
	out->size = ri.size;
	out->flags = ri.flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	out->mmap_fd = -1;
	out->mmap_offset = mmap_ok ? ri.offset : 0;

	bool sparse_seen = false;
	uint32_t trapped = 0;
	if (ri.flags & VFIO_REGION_INFO_FLAG_CAPS) {
		size_t max_steps = (len - sizeof(ri)) / sizeof(struct vfu_cap_hdr);
		size_t steps = 0;
		uint32_t off = ri.cap_offset;
		while (off) {
			struct vfu_cap_hdr ch;
			if (off < sizeof(ri) || off > len || len - off < sizeof(ch)) {
				rc = violation(c, "region capability outside the reply");
				goto fail;
			}
			if (++steps > max_steps) {
				rc = violation(c, "region capability chain loops");
				goto fail;
			}
			memcpy(&ch, pl + off, sizeof(ch));
			if (ch.id == VFIO_REGION_INFO_CAP_SPARSE_MMAP) {
				struct vfu_cap_sparse_mmap sm;
				if (sparse_seen || len - off < sizeof(sm)) {
					rc = violation(c, "bad sparse mmap capability");
					goto fail;
				}
				memcpy(&sm, pl + off, sizeof(sm));
				size_t room = (len - off - sizeof(sm)) / sizeof(struct vfu_sparse_area);
				if (sm.nr_areas > room) {
					rc = violation(c, "sparse mmap areas outside the reply");
					goto fail;
				}
				for (uint32_t i = 0; i < sm.nr_areas; i++) {
					struct vfu_sparse_area a;
					memcpy(&a, pl + off + sizeof(sm) + (size_t)i * sizeof(a),
					       sizeof(a));
					if (a.offset > ri.size || a.size > ri.size - a.offset) {
						rc = violation(c, "sparse mmap area outside the region");
						goto fail;
					}
					if (a.size == 0)
						continue;
					if (out->nsparse < UDD_BE_MAX_SPARSE) {
						out->sparse[out->nsparse].offset = a.offset;
						out->sparse[out->nsparse].size = a.size;
						out->nsparse++;
					} else {
						trapped++;
					}
				}
				sparse_seen = true;
			}
			off = ch.next;
		}
	}
	if (trapped)
		udd_logf(c->log, UDD_LOG_INFO,
			 "vfio-user: region %u: %u sparse areas beyond %u are trapped", index,
			 trapped, UDD_BE_MAX_SPARSE);
	if (sparse_seen && out->nsparse == 0)
		mmap_ok = false; /* a sparse capability with no area: nothing mappable */
	if (mmap_ok && !mmap_fd_covers(c, index, fds[0], out))
		mmap_ok = false;
	if (mmap_ok) {
		out->flags |= VFIO_REGION_INFO_FLAG_MMAP;
		out->mmap_fd = fds[0];
		fds[0] = -1;
	} else {
		out->nsparse = 0;
		out->mmap_offset = 0;
	}
	vfu_close_fds(fds, nf);
	return 0;
fail:
	vfu_close_fds(fds, nf);
	return rc;
}

static int vu_region_info(void *bdev, uint32_t index, struct udd_be_region *out)
{
	struct vfu_client *c = bdev;
	if (!c || !out)
		return -EINVAL;
	if (index >= c->info.num_regions)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	int rc;
	if (c->regions[index].valid) {
		*out = c->regions[index].r;
		rc = atomic_load(&c->broken) ? -ENODEV : 0;
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	uint32_t argsz = 4096;
	struct udd_be_region r;
	for (int attempt = 0;; attempt++) {
		struct vfu_region_info req = { .argsz = argsz, .index = index };
		int fds[VFU_CLIENT_MAX_RECV_FDS];
		size_t nf = VFU_CLIENT_MAX_RECV_FDS;
		long n = xact(c, VFU_CMD_DEVICE_GET_REGION_INFO, &req, sizeof(req), NULL, 0, NULL, 0,
			      c->timeout_ms, fds, &nf);
		if (n < 0) {
			rc = (int)n;
			break;
		}
		uint32_t need = 0;
		rc = parse_region(c, index, c->reply + sizeof(struct vfu_hdr), (size_t)n, argsz, fds,
				  nf, &r, &need);
		if (rc == 1) {
			if (attempt == 0 && need <= VFU_CLIENT_MAX_REGION_INFO) {
				argsz = need;
				continue;
			}
			rc = violation(c, "region info too large");
		}
		break;
	}
	if (rc == 0) {
		c->regions[index].r = r;
		c->regions[index].valid = true;
		*out = r;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/*
 * Over TCP, writes to a memory BAR are posted, as PCIe memory writes are:
 * sent with NO_REPLY and not waited for, so a burst of register writes is
 * not a round trip each (the stream keeps them in order, and a later read
 * returns after all of them). Config space and I/O BARs stay non-posted,
 * and so does everything of a server that does not speak udd's extension:
 * such a server may do its device's DMA inline while handling a write,
 * reading the DMA reply off the one stream, where our next command would
 * arrive first (udd-sim serves DMA from device threads). Whether BAR
 * @index is memory is read once from its config register. Caller holds
 * c->lock.
 */
static bool write_posted(struct vfu_client *c, uint32_t index)
{
	if (!c->net || !c->enforces_borrow || index > 5 || !c->regions)
		return false;
	struct vfu_region_cache *rc = &c->regions[index];
	if (rc->posted == 0) {
		struct vfu_region_access a = { .offset = 0x10 + 4 * index,
					       .region = VFIO_PCI_CONFIG_REGION_INDEX, .count = 4 };
		long got = xact(c, VFU_CMD_REGION_READ, &a, sizeof(a), NULL, 0, NULL, 0,
				c->timeout_ms, NULL, NULL);
		uint32_t bar = 1; /* unknown: treat as I/O (non-posted) */
		if (got == (long)(sizeof(a) + 4))
			memcpy(&bar, c->reply + sizeof(struct vfu_hdr) + sizeof(a), 4);
		rc->posted = (bar & 1) ? -1 : 1;
	}
	return rc->posted > 0;
}

static int region_write_posted(struct vfu_client *c, const struct vfu_region_access *a,
			       const uint8_t *buf)
{
	struct vfu_hdr h = { .msg_id = c->next_id++,
			     .cmd = VFU_CMD_REGION_WRITE,
			     .flags = VFU_F_TYPE_COMMAND | VFU_F_NO_REPLY };
	int rc = vfu_xmsg_send(&c->xp, &h, a, sizeof(*a), buf, a->count,
			       vfu_now_ms() + c->timeout_ms);
	if (rc)
		return violation(c, "posted write could not be sent");
	return 0;
}

static int region_rw(struct vfu_client *c, uint32_t index, uint64_t off, uint8_t *buf,
		     size_t len, bool write)
{
	if (!c || (len && !buf) || index >= c->info.num_regions)
		return -EINVAL;
	if (len && off + len - 1 < off)
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (atomic_load(&c->broken))
		rc = -ENODEV;
	while (!rc && len) {
		uint32_t n = len > c->srv_max_xfer ? c->srv_max_xfer : (uint32_t)len;
		struct vfu_region_access a = { .offset = off, .region = index, .count = n };
		long got;
		size_t want;
		if (write && write_posted(c, index)) {
			pthread_mutex_lock(&c->send_lock);
			rc = region_write_posted(c, &a, buf);
			pthread_mutex_unlock(&c->send_lock);
			off += n;
			buf += n;
			len -= n;
			continue;
		}
		if (write) {
			got = xact(c, VFU_CMD_REGION_WRITE, &a, sizeof(a), buf, n, NULL, 0,
				   c->timeout_ms, NULL, NULL);
			want = sizeof(a);
		} else {
			got = xact(c, VFU_CMD_REGION_READ, &a, sizeof(a), NULL, 0, NULL, 0,
				   c->timeout_ms, NULL, NULL);
			want = sizeof(a) + n;
		}
		if (got < 0) {
			rc = (int)got;
			break;
		}
		const uint8_t *pl = c->reply + sizeof(struct vfu_hdr);
		struct vfu_region_access e;
		if ((size_t)got != want) {
			rc = violation(c, "region access reply of the wrong size");
			break;
		}
		memcpy(&e, pl, sizeof(e));
		if (e.offset != off || e.region != index || e.count != n) {
			rc = violation(c, "region access reply does not echo the request");
			break;
		}
		if (!write)
			memcpy(buf, pl + sizeof(e), n);
		off += n;
		buf += n;
		len -= n;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int vu_region_read(void *bdev, uint32_t index, uint64_t off, void *buf, size_t len)
{
	return region_rw(bdev, index, off, buf, len, false);
}

static int vu_region_write(void *bdev, uint32_t index, uint64_t off, const void *buf, size_t len)
{
	return region_rw(bdev, index, off, (uint8_t *)(uintptr_t)buf, len, true);
}

/* ------------------------------------------------------------------------ */
/* interrupts                                                                */
/* ------------------------------------------------------------------------ */

static int vu_irq_info(void *bdev, uint32_t index, uint32_t *count, uint32_t *flags)
{
	struct vfu_client *c = bdev;
	if (!c || !count || !flags || index >= c->info.num_irqs)
		return -EINVAL;
	struct vfu_irq_info ii = { .argsz = sizeof(ii), .index = index };
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii), NULL, 0, NULL, 0,
		      c->timeout_ms, NULL, NULL);
	int rc = 0;
	if (n < 0) {
		rc = (int)n;
	} else if ((size_t)n < sizeof(ii)) {
		rc = violation(c, "short IRQ info reply");
	} else {
		memcpy(&ii, c->reply + sizeof(struct vfu_hdr), sizeof(ii));
		if (ii.index != index || ii.count > VFU_CLIENT_MAX_IRQ_VECS) {
			rc = violation(c, "IRQ info reply: bad index or count");
		} else {
			*count = ii.count;
			*flags = ii.flags;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* One SET_IRQS request; caller holds c->lock. */
static int set_irqs(struct vfu_client *c, uint32_t flags, uint32_t index, uint32_t start,
		    uint32_t count, const int *fds, size_t nfds)
{
	struct vfu_irq_set s = {
		.argsz = sizeof(s), .flags = flags, .index = index, .start = start, .count = count
	};
	long n = xact(c, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), NULL, 0, fds, nfds, c->timeout_ms,
		      NULL, NULL);
	return n < 0 ? (int)n : 0;
}

/*
 * Record (dups of) the eventfds of vectors [start, start+count) of @index
 * for interrupt messages; @fds NULL clears them (count 0: the whole index).
 */
static int irq_store(struct vfu_client *c, uint32_t index, uint32_t start, uint32_t count,
		     const int *fds)
{
	if (index >= VFU_CLIENT_MAX_IRQ_TYPES || start > VFU_CLIENT_MAX_IRQ_VECS ||
	    count > VFU_CLIENT_MAX_IRQ_VECS - start)
		return -EINVAL;
	int rc = 0;
	pthread_mutex_lock(&c->irq_lock);
	if (!fds && count == 0) {
		if (c->irq_efd[index])
			vfu_close_fds(c->irq_efd[index], c->irq_n[index]);
		pthread_mutex_unlock(&c->irq_lock);
		return 0;
	}
	if (start + count > c->irq_n[index]) {
		int *nv = realloc(c->irq_efd[index], (start + count) * sizeof(int));
		if (!nv) {
			pthread_mutex_unlock(&c->irq_lock);
			return -ENOMEM;
		}
		for (uint32_t i = c->irq_n[index]; i < start + count; i++)
			nv[i] = -1;
		c->irq_efd[index] = nv;
		c->irq_n[index] = start + count;
	}
	for (uint32_t i = 0; i < count; i++) {
		int *slot = &c->irq_efd[index][start + i];
		if (*slot >= 0) {
			close(*slot);
			*slot = -1;
		}
		if (fds && fds[i] >= 0) {
			*slot = fcntl(fds[i], F_DUPFD_CLOEXEC, 0);
			if (*slot < 0)
				rc = -errno;
		}
	}
	pthread_mutex_unlock(&c->irq_lock);
	return rc;
}

/* vu_irq_set() over a network: vectors are delivered as VFU_UDD_CMD_IRQ
 * messages (proto.h), which the reader thread turns into eventfd writes. */
static int irq_set_net(struct vfu_client *c, uint32_t index, uint32_t start, uint32_t count,
		       const int *fds)
{
	if (!c->irq_msgs)
		return -ENOTSUP; /* the peer cannot deliver interrupts without eventfds */
	const uint32_t fl = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (!fds) {
		rc = set_irqs(c, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0,
			      NULL, 0);
		if (!rc)
			rc = irq_store(c, index, 0, 0, NULL);
		pthread_mutex_unlock(&c->lock);
		return rc;
	}
	/* a run is at most this long: a gateway passes one eventfd per vector */
	uint8_t ones[VFU_MAX_FDS];
	memset(ones, 1, sizeof(ones));
	uint32_t i = 0;
	while (!rc && i < count) {
		uint32_t j = i;
		bool assign = fds[i] >= 0;
		while (j < count && (fds[j] >= 0) == assign && (!assign || j - i < sizeof(ones)))
			j++;
		struct vfu_irq_set st = { .argsz = (uint32_t)sizeof(st) + (assign ? j - i : 0),
					  .flags = fl, .index = index, .start = start + i,
					  .count = j - i };
		/* the eventfds are recorded first: an interrupt may follow at once */
		rc = irq_store(c, index, start + i, j - i, assign ? fds + i : NULL);
		if (!rc) {
			long n = xact(c, VFU_CMD_DEVICE_SET_IRQS, &st, sizeof(st), ones,
				      assign ? j - i : 0, NULL, 0, c->timeout_ms, NULL, NULL);
			rc = n < 0 ? (int)n : 0;
			if (rc && assign)
				(void)irq_store(c, index, start + i, j - i, NULL);
		}
		i = j;
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int vu_irq_set(void *bdev, uint32_t index, uint32_t start, uint32_t count, const int *fds)
{
	struct vfu_client *c = bdev;
	if (!c || index >= c->info.num_irqs)
		return -EINVAL;
	if (fds && count == 0)
		return 0; /* nothing to set */
	if (fds && start + count < start)
		return -EINVAL;
	if (c->net)
		return irq_set_net(c, index, start, count, fds);
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	if (!fds) {
		rc = set_irqs(c, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER, index, 0, 0,
			      NULL, 0);
	} else {
		const uint32_t fl = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
		uint32_t i = 0;
		while (!rc && i < count) {
			uint32_t j = i;
			if (fds[i] < 0) {
				/* a run of "no eventfd": de-assign those vectors */
				while (j < count && fds[j] < 0)
					j++;
				rc = set_irqs(c, fl, index, start + i, j - i, NULL, 0);
			} else {
				if (c->srv_max_fds == 0) {
					rc = -ENOTSUP;
					break;
				}
				uint32_t lim = c->srv_max_fds < VFU_MAX_FDS ? c->srv_max_fds
									  : VFU_MAX_FDS;
				while (j < count && fds[j] >= 0 && j - i < lim)
					j++;
				rc = set_irqs(c, fl, index, start + i, j - i, fds + i, j - i);
			}
			i = j;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static int vu_irq_mask(void *bdev, uint32_t index, uint32_t vec, bool mask)
{
	struct vfu_client *c = bdev;
	if (!c || index >= c->info.num_irqs)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	int rc = set_irqs(c,
			  VFIO_IRQ_SET_DATA_NONE |
				  (mask ? VFIO_IRQ_SET_ACTION_MASK : VFIO_IRQ_SET_ACTION_UNMASK),
			  index, vec, 1, NULL, 0);
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* DMA                                                                       */
/* ------------------------------------------------------------------------ */

static int win_add(struct vfu_client *c, uint64_t iova, uint64_t size, void *vaddr, uint32_t prot,
		   bool nofd)
{
	int rc = 0;
	struct vfu_win *w = malloc(sizeof(*w));
	if (!w)
		return -ENOMEM;
	*w = (struct vfu_win){ iova, size, vaddr, prot, nofd };
	pthread_mutex_lock(&c->dma_lock);
	if (win_find(c, iova, size))
		rc = -EEXIST;
	else if (c->nwins >= c->srv_max_dma_maps)
		rc = -ENOSPC; /* the server's max_dma_maps */
	else if (!tsearch(w, &c->wins, win_cmp))
		rc = -ENOMEM;
	else
		c->nwins++;
	pthread_mutex_unlock(&c->dma_lock);
	if (rc)
		free(w);
	return rc;
}

/* Remove the window exactly [iova, iova+size): 0 or -ENOENT. */
static int win_del(struct vfu_client *c, uint64_t iova, uint64_t size, bool dry)
{
	int rc = -ENOENT;
	pthread_mutex_lock(&c->dma_lock);
	struct vfu_win *w = size ? win_find(c, iova, size) : NULL;
	if (w && w->iova == iova && w->size == size) {
		if (!dry) {
			tdelete(w, &c->wins, win_cmp);
			c->nwins--;
			free(w);
		}
		rc = 0;
	}
	pthread_mutex_unlock(&c->dma_lock);
	return rc;
}

static int vu_dma_map(void *bdev, uint64_t iova, uint64_t size, int fd, uint64_t fd_offset,
		      void *vaddr, uint32_t prot)
{
	struct vfu_client *c = bdev;
	if (!c || !size || !vaddr || iova + (size - 1) < iova || !prot ||
	    (prot & ~(uint32_t)(UDD_DMA_F_READ | UDD_DMA_F_WRITE)))
		return -EINVAL;
	if (atomic_load(&c->broken))
		return -ENODEV;
	/* the window exists before the server hears of it: it may use it at once */
	bool with_fd = fd >= 0 && c->srv_max_fds >= 1 && !c->net;
	int rc = win_add(c, iova, size, vaddr, prot, !with_fd);
	if (rc)
		return rc;
	struct vfu_dma_map m = {
		.argsz = sizeof(m),
		.flags = ((prot & UDD_DMA_F_READ) ? VFU_DMA_F_READ : 0) |
			 ((prot & UDD_DMA_F_WRITE) ? VFU_DMA_F_WRITE : 0),
		.offset = with_fd ? fd_offset : 0,
		.addr = iova,
		.size = size,
	};
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, with_fd ? &fd : NULL,
		      with_fd ? 1 : 0, c->timeout_ms, NULL, NULL);
	pthread_mutex_unlock(&c->lock);
	if (n < 0) {
		win_del(c, iova, size, false);
		return (int)n;
	}
	return 0;
}

/*
 * udd_dma_sync for a window registered without a descriptor when the server
 * announced udd.dma_sync: it may hold a copy the device DMAs into (a lent
 * real device across hosts). FOR_DEVICE sends the bytes, FOR_CPU copies
 * the reply's bytes in (none: the server holds no copy). Chunks of the
 * server's max_data_xfer_size, each a request with the device's deadline.
 * Every other window is reached directly or through DMA_READ/DMA_WRITE
 * served from this memory: nothing to do.
 */
static int vu_dma_sync(void *bdev, uint64_t iova, uint64_t len, bool for_device)
{
	struct vfu_client *c = bdev;
	if (!c || !len || iova + (len - 1) < iova)
		return -EINVAL;
	if (!c->srv_dma_sync)
		return 0;
	pthread_mutex_lock(&c->dma_lock);
	struct vfu_win *w = win_find(c, iova, 1);
	bool inside = w && iova - w->iova < w->size && len <= w->size - (iova - w->iova);
	bool nofd = inside && w->nofd;
	uint8_t *va = inside ? w->vaddr + (iova - w->iova) : NULL;
	pthread_mutex_unlock(&c->dma_lock);
	if (!inside)
		return -EINVAL;
	if (!nofd)
		return 0;
	if (atomic_load(&c->broken))
		return -ENODEV;
	uint64_t chunk = c->srv_max_xfer ? c->srv_max_xfer : VFU_DEFAULT_MAX_DATA_XFER;
	if (chunk > VFU_DEFAULT_MAX_DATA_XFER)
		chunk = VFU_DEFAULT_MAX_DATA_XFER;
	int rc = 0;
	for (uint64_t done = 0; done < len && !rc;) {
		uint64_t n = len - done < chunk ? len - done : chunk;
		struct vfu_udd_dma_sync s = {
			.iova = iova + done,
			.len = n,
			.dir = for_device ? VFU_UDD_SYNC_FOR_DEVICE : VFU_UDD_SYNC_FOR_CPU,
		};
		pthread_mutex_lock(&c->lock);
		long r = xact(c, VFU_UDD_CMD_DMA_SYNC, &s, sizeof(s), for_device ? va + done : NULL,
			      for_device ? (size_t)n : 0, NULL, 0, c->timeout_ms, NULL, NULL);
		if (r >= 0) {
			struct vfu_udd_dma_sync e;
			if ((size_t)r < sizeof(e)) {
				rc = violation(c, "short DMA_SYNC reply");
			} else {
				memcpy(&e, c->reply + sizeof(struct vfu_hdr), sizeof(e));
				if (e.iova != s.iova || e.dir != s.dir ||
				    (e.len != 0 && (for_device || e.len != n)) ||
				    (size_t)r != sizeof(e) + e.len)
					rc = violation(c, "DMA_SYNC reply does not match the request");
				else if (e.len)
					memcpy(va + done, c->reply + sizeof(struct vfu_hdr) + sizeof(e), n);
			}
		} else {
			rc = (int)r;
		}
		pthread_mutex_unlock(&c->lock);
		done += n;
	}
	return rc;
}

static int vu_dma_unmap(void *bdev, uint64_t iova, uint64_t size)
{
	struct vfu_client *c = bdev;
	if (!c)
		return -EINVAL;
	if (win_del(c, iova, size, true))
		return -ENOENT;
	struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = iova, .size = size };
	int rc = 0;
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL, 0, c->timeout_ms, NULL,
		      NULL);
	if (n < 0) {
		rc = (int)n;
	} else if (n > 0) {
		/* the reply echoes the request (some servers send nothing) */
		struct vfu_dma_unmap e;
		if ((size_t)n < sizeof(e)) {
			rc = violation(c, "short DMA_UNMAP reply");
		} else {
			memcpy(&e, c->reply + sizeof(struct vfu_hdr), sizeof(e));
			if (e.addr != iova || e.size != size)
				rc = violation(c, "DMA_UNMAP reply does not echo the request");
		}
	}
	pthread_mutex_unlock(&c->lock);
	/* whatever the server said, this process stops serving the window: its
	 * memory is about to go away */
	win_del(c, iova, size, false);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* reset, check, faults                                                      */
/* ------------------------------------------------------------------------ */

static int vu_reset(void *bdev)
{
	struct vfu_client *c = bdev;
	if (!c)
		return -EINVAL;
	if (!(c->info.flags & VFIO_DEVICE_FLAGS_RESET))
		return -ENOTSUP;
	int tmo = c->timeout_ms > VFU_CLIENT_RESET_TIMEOUT_MS ? c->timeout_ms
							       : VFU_CLIENT_RESET_TIMEOUT_MS;
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, tmo, NULL, NULL);
	pthread_mutex_unlock(&c->lock);
	return n < 0 ? (int)n : 0;
}

static int vu_check(void *bdev)
{
	struct vfu_client *c = bdev;
	if (!c)
		return -EINVAL;
	if (atomic_load(&c->broken))
		return -ENODEV;
	if (c->net)
		return 0; /* the reader thread sees the stream end and marks it broken */
	struct pollfd p = { .fd = c->sock, .events = POLLIN | POLLRDHUP };
	int r;
	do
		r = poll(&p, 1, 0);
	while (r < 0 && errno == EINTR);
	if (r < 0)
		return -errno;
	if (r == 0)
		return 0;
	if (p.revents & (POLLHUP | POLLERR | POLLNVAL | POLLRDHUP))
		return -ENODEV;
	if (p.revents & POLLIN) {
		char b;
		ssize_t n;
		do
			n = recv(c->sock, &b, 1, MSG_PEEK | MSG_DONTWAIT);
		while (n < 0 && errno == EINTR);
		if (n == 0)
			return -ENODEV;
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
			return -ENODEV;
	}
	return 0;
}

static int vu_peer_fd(void *bdev)
{
	const struct vfu_client *c = bdev;
	return c ? (c->net ? c->xp.fd : c->sock) : -1;
}

static void vu_set_fault_cb(void *bdev, udd_be_fault_cb_t cb, void *user)
{
	struct vfu_client *c = bdev;
	if (!c)
		return;
	pthread_mutex_lock(&c->fault_lock);
	c->fault_cb = cb;
	c->fault_user = user;
	pthread_mutex_unlock(&c->fault_lock);
}

static int vu_iova_ranges(void *bdev, struct udd_be_iova_range *r, size_t *n)
{
	struct vfu_client *c = bdev;
	if (!bdev || !n || (*n && !r))
		return -EINVAL;
	if (*n && c->srv_iova) /* the range a lender gave this borrower */
		r[0] = (struct udd_be_iova_range){ c->srv_iova_start, c->srv_iova_end };
	else if (*n)
		r[0] = (struct udd_be_iova_range){ 0, UINT64_MAX };
	*n = 1;
	return 0;
}

const struct udd_backend_ops udd_vfio_user_backend = {
	.name = "vfio-user",
	.open = vu_open,
	.close = vu_close,
	.device_info = vu_device_info,
	.region_info = vu_region_info,
	.region_read = vu_region_read,
	.region_write = vu_region_write,
	.irq_info = vu_irq_info,
	.irq_set = vu_irq_set,
	.irq_mask = vu_irq_mask,
	.dma_map = vu_dma_map,
	.dma_unmap = vu_dma_unmap,
	.dma_sync = vu_dma_sync,
	.reset = vu_reset,
	.check = vu_check,
	.iova_ranges = vu_iova_ranges,
	.set_fault_cb = vu_set_fault_cb,
	.peer_fd = vu_peer_fd,
};

