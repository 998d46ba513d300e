/* SPDX-License-Identifier: MIT */
/*
 * udd-sim server core: DMA windows and device DMA.
 *
 * A window with an fd is mmapped only when touching the mapping can never
 * raise SIGBUS in the server: the fd must be a regular file (memfd, tmpfs,
 * hugetlbfs), cover [offset, offset + size) now (else EINVAL), and be
 * sealed against shrinking (F_SEAL_SHRINK), so it cannot be truncated
 * under the mapping later. An fd that is not sealed is not mapped: the
 * window is reached through DMA_READ/DMA_WRITE messages instead, which a
 * vfio-user client must serve anyway.
 *
 * Limits: SIM_MAX_WINDOWS_PER_CLIENT windows per client (ENOSPC, advertised
 * as max_dma_maps), and mmapped windows of all clients together stay below
 * vm.max_map_count (ENOSPC), so one client cannot make every other mmap of
 * the daemon fail.
 */
#include <errno.h>
#include <fcntl.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sim_server_priv.h"

static atomic_int mapped_total;
static int mapped_budget = 32768;

void sim_dma_budget_init(void)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	long v = 0;
	if (f) {
		if (fscanf(f, "%ld", &v) != 1)
			v = 0;
		fclose(f);
	}
	/* keep a quarter (at least 4096) for everything else the daemon maps */
	if (v > 8192)
		mapped_budget = (int)(v - (v / 4 > 4096 ? v / 4 : 4096));
}

void sim_dma_fault(struct sim_dev *d, uint64_t client_id, uint64_t iova, uint64_t len, bool write)
{
	atomic_fetch_add(&d->faults, 1);
	sim_log("%s: DMA fault: client %llu %s iova 0x%llx len %llu", d->name,
		(unsigned long long)client_id, write ? "write" : "read", (unsigned long long)iova,
		(unsigned long long)len);
	struct sim_client *c = sim_client_get(d, client_id);
	if (!c)
		return;
	if (c->dma_faults) {
		struct vfu_udd_dma_fault f = { .iova = iova, .len = len, .write = write ? 1 : 0 };
		(void)sim_s2c_call(c, VFU_UDD_CMD_DMA_FAULT, &f, sizeof(f), NULL, 0, NULL, 0, true);
	}
	sim_client_put(c);
}

/* One chunk through DMA_READ/DMA_WRITE; 0 or -errno. */
static long dma_msg_chunk(struct sim_client *c, uint64_t iova, uint8_t *buf, size_t n,
			  bool write, uint8_t *rbuf, size_t rcap)
{
	struct vfu_dma_access a = { .addr = iova, .count = n };
	if (write) {
		long r = sim_s2c_call(c, VFU_CMD_DMA_WRITE, &a, sizeof(a), buf, n, rbuf, rcap, false);
		return r >= 0 && (size_t)r < sizeof(struct vfu_hdr) + 12 ? -EPROTO : (r < 0 ? r : 0);
	}
	long r = sim_s2c_call(c, VFU_CMD_DMA_READ, &a, sizeof(a), NULL, 0, rbuf, rcap, false);
	if (r < 0)
		return r;
	struct vfu_dma_access ra;
	if ((size_t)r != sizeof(struct vfu_hdr) + sizeof(ra) + n)
		return -EPROTO;
	memcpy(&ra, rbuf + sizeof(struct vfu_hdr), sizeof(ra));
	if (ra.count != n || ra.addr != a.addr)
		return -EPROTO;
	memcpy(buf, rbuf + sizeof(struct vfu_hdr) + sizeof(ra), n);
	return 0;
}

/* Transfer through DMA_READ/DMA_WRITE messages, in chunks of max_xfer. */
static int dma_msgs(struct sim_client *c, uint64_t iova, void *buf, size_t len, bool write)
{
	size_t chunk = c->max_xfer ? c->max_xfer : VFU_DEFAULT_MAX_DATA_XFER;
	if (chunk > VFU_DEFAULT_MAX_DATA_XFER)
		chunk = VFU_DEFAULT_MAX_DATA_XFER;
	size_t rcap = sizeof(struct vfu_hdr) + sizeof(struct vfu_dma_access) + (write ? 0 : chunk);
	uint8_t *rbuf = malloc(rcap);
	if (!rbuf)
		return -ENOMEM;
	long rc = 0;
	for (size_t done = 0; done < len && !rc;) {
		size_t n = len - done < chunk ? len - done : chunk;
		rc = dma_msg_chunk(c, iova + done, (uint8_t *)buf + done, n, write, rbuf, rcap);
		done += n;
	}
	free(rbuf);
	return (int)rc;
}

/*
 * The DMA window table of a client: a balanced tree (tsearch) of disjoint
 * windows ordered by address, so that map, unmap and every DMA lookup cost
 * O(log n). Two ranges compare equal when they overlap, which is a
 * consistent order over disjoint windows.
 */
static int win_cmp(const void *a, const void *b)
{
	const struct sim_win *x = a, *y = b;
	if (x->addr + (x->size - 1) < y->addr)
		return -1;
	if (y->addr + (y->size - 1) < x->addr)
		return 1;
	return 0;
}

struct sim_win *sim_win_find(struct sim_client *c, uint64_t addr, uint64_t size)
{
	struct sim_win key = { .addr = addr, .size = size ? size : 1 };
	struct sim_win **w = tfind(&key, &c->wins, win_cmp);
	return w ? *w : NULL;
}

static int dma_xfer(struct sim_dev *d, uint64_t client_id, uint64_t iova, void *buf, size_t len,
		    bool write)
{
	struct sim_client *c = sim_client_get(d, client_id);
	if (!c)
		return -EFAULT;
	int rc = -EFAULT;
	bool via_msg = false;
	uint32_t need = write ? VFU_DMA_F_WRITE : VFU_DMA_F_READ;
	pthread_mutex_lock(&c->dma_lock);
	struct sim_win *w = len ? sim_win_find(c, iova, 1) : NULL;
	if (w && iova - w->addr <= w->size && len <= w->size - (iova - w->addr) &&
	    (w->flags & need)) {
		uint8_t *m = w->map ? w->map : w->bounce;
		if (m) {
			if (write)
				memcpy(m + (iova - w->addr), buf, len);
			else
				memcpy(buf, m + (iova - w->addr), len);
			rc = 0;
		} else {
			via_msg = true;
		}
	}
	pthread_mutex_unlock(&c->dma_lock);
	if (via_msg) {
		rc = dma_msgs(c, iova, buf, len, write);
		if (rc)
			sim_log("%s: DMA message transfer failed: %s", d->name, strerror(-rc));
		if (rc)
			rc = -EFAULT;
	}
	sim_client_put(c);
	return rc;
}

int sim_dma_read(struct sim_dev *d, uint64_t client_id, uint64_t iova, void *buf, size_t len)
{
	return dma_xfer(d, client_id, iova, buf, len, false);
}

int sim_dma_write(struct sim_dev *d, uint64_t client_id, uint64_t iova, const void *buf,
		  size_t len)
{
	return dma_xfer(d, client_id, iova, (void *)(uintptr_t)buf, len, true);
}

static void win_release(struct sim_win *w)
{
	if (w->map_base) {
		munmap(w->map_base, w->map_len);
		atomic_fetch_sub(&mapped_total, 1);
	}
	memset(w, 0, sizeof(*w));
}

/*
 * May the server mmap @fd for [off, off + size)? 0: yes; 1: no, use
 * messages (not sealed against shrinking); or an errno (EINVAL: not a
 * regular file, or the range is past the file's end).
 */
static int fd_mappable(int fd, uint64_t off, uint64_t size)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
		return EINVAL;
	if (off > (uint64_t)st.st_size || size > (uint64_t)st.st_size - off)
		return EINVAL;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return 1;
	return 0;
}

/* mmap the window's fd into @w; 0 or errno. */
static int win_mmap(struct sim_win *w, int fd, uint64_t offset)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t delta = offset % (uint64_t)pg;
	if (w->size > SIZE_MAX - delta || offset > INT64_MAX)
		return EINVAL;
	if (atomic_fetch_add(&mapped_total, 1) >= mapped_budget) {
		atomic_fetch_sub(&mapped_total, 1);
		return ENOSPC;
	}
	int prot = ((w->flags & VFU_DMA_F_READ) ? PROT_READ : 0) |
		   ((w->flags & VFU_DMA_F_WRITE) ? PROT_WRITE : 0);
	void *p = mmap(NULL, w->size + delta, prot ? prot : PROT_READ, MAP_SHARED, fd,
		       (off_t)(offset - delta));
	if (p == MAP_FAILED) {
		atomic_fetch_sub(&mapped_total, 1);
		return errno;
	}
	w->map_base = p;
	w->map_len = w->size + delta;
	w->map = (uint8_t *)p + delta;
	return 0;
}

static int win_insert(struct sim_client *cl, const struct sim_win *w)
{
	int err = 0;
	struct sim_win *nw = malloc(sizeof(*nw));
	pthread_mutex_lock(&cl->dma_lock);
	if (!nw)
		err = ENOMEM;
	else if (sim_win_find(cl, w->addr, w->size))
		err = EEXIST;
	else if (cl->nwins >= SIM_MAX_WINDOWS_PER_CLIENT)
		err = ENOSPC;
	if (!err) {
		*nw = *w;
		if (tsearch(nw, &cl->wins, win_cmp))
			cl->nwins++;
		else
			err = ENOMEM;
	}
	pthread_mutex_unlock(&cl->dma_lock);
	if (err)
		free(nw);
	return err;
}

/* Hand the window just inserted at @addr to the provider; on failure it
 * leaves the table again. 0 or errno. Only the client's own thread maps
 * and unmaps its windows, so the window stays put while dma_lock is not
 * held (device DMA only reads the table). */
static int prov_map(struct sim_client *cl, uint64_t addr, uint64_t size)
{
	pthread_mutex_lock(&cl->dma_lock);
	struct sim_win *w = sim_win_find(cl, addr, size);
	pthread_mutex_unlock(&cl->dma_lock);
	if (!w)
		return EIO;
	int err = cl->d->prov->dma_map(cl, w);
	if (err) {
		pthread_mutex_lock(&cl->dma_lock);
		tdelete(w, &cl->wins, win_cmp);
		cl->nwins--;
		pthread_mutex_unlock(&cl->dma_lock);
		win_release(w);
		free(w);
	}
	return err;
}

int sim_cmd_dma_map(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct vfu_dma_map m;
	if (r->len < sizeof(m))
		return sim_send_error(cl, r->hdr, EINVAL);
	memcpy(&m, r->p, sizeof(m));
	if (cl->borrow == BORROW_PROBE)
		return sim_send_error(cl, r->hdr, EPERM);
	if (m.argsz < sizeof(m) || m.size == 0 || m.addr + m.size < m.addr ||
	    (m.flags & ~(VFU_DMA_F_READ | VFU_DMA_F_WRITE)) || r->nfds > 1)
		return sim_send_error(cl, r->hdr, EINVAL);
	struct sim_win w = { .addr = m.addr, .size = m.size, .flags = m.flags };
	if (r->nfds == 1) {
		int err = fd_mappable(r->fds[0], m.offset, m.size);
		if (err == 1)
			sim_log("%s: client %llu: DMA fd not sealed against shrinking: window "
				"0x%llx served by messages",
				cl->d->name, (unsigned long long)cl->id, (unsigned long long)m.addr);
		else if (err || (err = win_mmap(&w, r->fds[0], m.offset)) != 0)
			return sim_send_error(cl, r->hdr, err);
	}
	if (cl->has_iova && (m.addr < cl->iova_lo || m.addr > cl->iova_hi ||
			     m.size - 1 > cl->iova_hi - m.addr)) {
		win_release(&w); /* outside the range this borrower was given */
		return sim_send_error(cl, r->hdr, ERANGE);
	}
	int err = win_insert(cl, &w);
	if (err) {
		win_release(&w);
		return sim_send_error(cl, r->hdr, err);
	}
	if (cl->d->prov->dma_map && (err = prov_map(cl, m.addr, m.size)) != 0)
		return sim_send_error(cl, r->hdr, err);
	return sim_send_reply(cl, r->hdr, NULL, 0, NULL, 0, NULL, 0);
}

int sim_cmd_dma_unmap(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct vfu_dma_unmap u;
	if (r->len < sizeof(u))
		return sim_send_error(cl, r->hdr, EINVAL);
	memcpy(&u, r->p, sizeof(u));
	if (cl->borrow == BORROW_PROBE)
		return sim_send_error(cl, r->hdr, EPERM);
	if (u.argsz < sizeof(u) || u.flags)
		return sim_send_error(cl, r->hdr, EINVAL);
	int err = ENOENT;
	pthread_mutex_lock(&cl->dma_lock);
	struct sim_win *w = u.size ? sim_win_find(cl, u.addr, u.size) : NULL;
	if (w && w->addr == u.addr && w->size == u.size) {
		tdelete(w, &cl->wins, win_cmp);
		cl->nwins--;
		err = 0;
	} else {
		w = NULL;
	}
	pthread_mutex_unlock(&cl->dma_lock);
	if (w) { /* out of the table: the device no longer reaches it, then unmap */
		if (cl->d->prov->dma_unmap)
			cl->d->prov->dma_unmap(cl, w);
		win_release(w);
		free(w);
	}
	if (err)
		return sim_send_error(cl, r->hdr, err);
	return sim_send_reply(cl, r->hdr, &u, sizeof(u), NULL, 0, NULL, 0);
}

void sim_client_wins_free(struct sim_client *cl)
{
	/* one by one from the root (a tsearch node starts with its key), so the
	 * provider unmaps each window from the device before its memory goes */
	while (cl->wins) {
		struct sim_win *w = *(struct sim_win **)cl->wins;
		tdelete(w, &cl->wins, win_cmp);
		if (cl->d->prov->dma_unmap)
			cl->d->prov->dma_unmap(cl, w);
		win_release(w);
		free(w);
	}
	cl->nwins = 0;
}
