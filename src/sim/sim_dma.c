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
 *
 * Mapping cache: a driver that maps and unmaps the same buffer per I/O
 * would make the server mmap and munmap it every time (and, for a lent
 * device, the IOMMU pin would fault the fresh mapping's pages in again):
 * measured in the QEMU guest, about half of a lent DMA map + unmap beyond
 * the two round trips. So an unmapped window's mapping (at most
 * MAP_CACHE_MAX_LEN bytes) is kept, up to MAP_CACHE_N of them in all, and
 * reused for a later window of the same client on the same file (st_dev,
 * st_ino: the mapping holds the file, so the inode cannot be reused meanwhile),
 * offset, length and protection. A cached mapping is not in any window
 * table: no device access reaches it, and a lent device's IOMMU mapping is
 * gone before the window's mapping is cached. What it costs: the pages of a
 * buffer the client frees after unmapping it live on until the entry is
 * evicted (least recently cached first) or the client goes (every entry of
 * a client is unmapped then): at most MAP_CACHE_N * MAP_CACHE_MAX_LEN bytes.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <search.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sim_server_priv.h"

static atomic_int mapped_total;

#define MAP_CACHE_N 16
#define MAP_CACHE_MAX_LEN (1u << 20)

struct map_ent {
	uint64_t client, dev, ino, off, used; /* client 0: free */
	size_t len;
	int prot;
	void *base;
};
static struct map_ent map_cache[MAP_CACHE_N];
static pthread_mutex_t map_cache_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t map_cache_clock;

/*
 * UDD_SIM_DMA_TIMING=FILE: one line per DMA_MAP/DMA_UNMAP with the time of
 * each step in ns (CLOCK_MONOTONIC, so a borrower in the same machine can
 * line them up with its own), to see where a map's time goes.
 */
static FILE *timing_f;
static pthread_once_t timing_once = PTHREAD_ONCE_INIT;

static void timing_init(void)
{
	const char *p = getenv("UDD_SIM_DMA_TIMING");
	if (p && *p)
		timing_f = fopen(p, "ae");
	if (timing_f)
		setvbuf(timing_f, NULL, _IOLBF, 0);
}

static uint64_t tstamp(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}
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

static void map_drop(void *base, size_t len)
{
	munmap(base, len);
	atomic_fetch_sub(&mapped_total, 1);
}

/* A cached mapping for this identity, taken out of the cache, or NULL. */
static void *map_cache_take(uint64_t client, uint64_t dev, uint64_t ino, uint64_t off,
			    size_t len, int prot)
{
	void *base = NULL;
	pthread_mutex_lock(&map_cache_lock);
	for (int i = 0; i < MAP_CACHE_N && !base; i++) {
		struct map_ent *e = &map_cache[i];
		if (e->client == client && e->dev == dev && e->ino == ino && e->off == off &&
		    e->len == len && e->prot == prot) {
			base = e->base;
			memset(e, 0, sizeof(*e));
		}
	}
	pthread_mutex_unlock(&map_cache_lock);
	return base;
}

/* Unmap @w's mapping, or keep it in the cache (evicting the oldest). */
static void win_release(struct sim_win *w)
{
	if (w->map_base && w->map_client && w->map_len <= MAP_CACHE_MAX_LEN) {
		struct map_ent *v = &map_cache[0], old = { 0 };
		pthread_mutex_lock(&map_cache_lock);
		for (int i = 0; i < MAP_CACHE_N; i++) {
			struct map_ent *e = &map_cache[i];
			if (!e->client) {
				v = e;
				break;
			}
			if (e->used < v->used)
				v = e;
		}
		old = *v;
		*v = (struct map_ent){ .client = w->map_client, .dev = w->map_dev,
				       .ino = w->map_ino, .off = w->map_off,
				       .used = ++map_cache_clock, .len = w->map_len,
				       .prot = w->map_prot, .base = w->map_base };
		pthread_mutex_unlock(&map_cache_lock);
		if (old.client)
			map_drop(old.base, old.len);
	} else if (w->map_base) {
		map_drop(w->map_base, w->map_len);
	}
	memset(w, 0, sizeof(*w));
}

/* Unmap every cached mapping of @client (it is going). */
static void map_cache_flush(uint64_t client)
{
	for (;;) {
		struct map_ent old = { 0 };
		pthread_mutex_lock(&map_cache_lock);
		for (int i = 0; i < MAP_CACHE_N && !old.client; i++) {
			if (map_cache[i].client == client) {
				old = map_cache[i];
				memset(&map_cache[i], 0, sizeof(map_cache[i]));
			}
		}
		pthread_mutex_unlock(&map_cache_lock);
		if (!old.client)
			return;
		map_drop(old.base, old.len);
	}
}

/*
 * May the server mmap @fd for [off, off + size)? 0: yes; 1: no, use
 * messages (not sealed against shrinking); or an errno (EINVAL: not a
 * regular file, or the range is past the file's end).
 */
static int fd_mappable(int fd, uint64_t off, uint64_t size, struct stat *stp)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size < 0)
		return EINVAL;
	if (off > (uint64_t)st.st_size || size > (uint64_t)st.st_size - off)
		return EINVAL;
	*stp = st;
	int seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || !(seals & F_SEAL_SHRINK))
		return 1;
	return 0;
}

/* mmap the window's fd (@st: its fstat) into @w for @client, or reuse a
 * cached mapping of it; 0 or errno. */
static int win_mmap(struct sim_win *w, int fd, uint64_t offset, const struct stat *st,
		    uint64_t client)
{
	long pg = sysconf(_SC_PAGESIZE);
	uint64_t delta = offset % (uint64_t)pg;
	if (w->size > SIZE_MAX - delta || offset > INT64_MAX)
		return EINVAL;
	int prot = ((w->flags & VFU_DMA_F_READ) ? PROT_READ : 0) |
		   ((w->flags & VFU_DMA_F_WRITE) ? PROT_WRITE : 0);
	if (!prot)
		prot = PROT_READ;
	w->map_client = client;
	w->map_dev = (uint64_t)st->st_dev;
	w->map_ino = (uint64_t)st->st_ino;
	w->map_off = offset - delta;
	w->map_prot = prot;
	void *p = map_cache_take(client, w->map_dev, w->map_ino, w->map_off, w->size + delta, prot);
	if (!p) {
		if (atomic_fetch_add(&mapped_total, 1) >= mapped_budget) {
			atomic_fetch_sub(&mapped_total, 1);
			return ENOSPC;
		}
		p = mmap(NULL, w->size + delta, prot, MAP_SHARED, fd, (off_t)(offset - delta));
		if (p == MAP_FAILED) {
			atomic_fetch_sub(&mapped_total, 1);
			return errno;
		}
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
	pthread_once(&timing_once, timing_init);
	uint64_t t[6] = { timing_f ? tstamp() : 0 };
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
		struct stat st;
		int err = fd_mappable(r->fds[0], m.offset, m.size, &st);
		t[1] = timing_f ? tstamp() : 0;
		if (err == 1)
			sim_log("%s: client %llu: DMA fd not sealed against shrinking: window "
				"0x%llx served by messages",
				cl->d->name, (unsigned long long)cl->id, (unsigned long long)m.addr);
		else if (err || (err = win_mmap(&w, r->fds[0], m.offset, &st, cl->id)) != 0)
			return sim_send_error(cl, r->hdr, err);
	}
	t[2] = timing_f ? tstamp() : 0;
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
	t[3] = timing_f ? tstamp() : 0;
	if (cl->d->prov->dma_map && (err = prov_map(cl, m.addr, m.size)) != 0)
		return sim_send_error(cl, r->hdr, err);
	t[4] = timing_f ? tstamp() : 0;
	int rc = sim_send_reply(cl, r->hdr, NULL, 0, NULL, 0, NULL, 0);
	if (timing_f) {
		t[5] = tstamp();
		fprintf(timing_f,
			"map 0x%llx at %llu: checks %llu mmap %llu insert %llu provider %llu reply %llu "
			"(ns)\n",
			(unsigned long long)m.addr, (unsigned long long)t[0],
			(unsigned long long)(t[1] ? t[1] - t[0] : 0),
			(unsigned long long)(t[2] - (t[1] ? t[1] : t[0])),
			(unsigned long long)(t[3] - t[2]), (unsigned long long)(t[4] - t[3]),
			(unsigned long long)(t[5] - t[4]));
	}
	return rc;
}

int sim_cmd_dma_unmap(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct vfu_dma_unmap u;
	pthread_once(&timing_once, timing_init);
	uint64_t t[5] = { timing_f ? tstamp() : 0 };
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
	t[1] = t[2] = timing_f ? tstamp() : 0;
	if (w) { /* out of the table: the device no longer reaches it, then unmap */
		if (cl->d->prov->dma_unmap)
			cl->d->prov->dma_unmap(cl, w);
		t[2] = timing_f ? tstamp() : 0;
		win_release(w);
		free(w);
	}
	t[3] = timing_f ? tstamp() : 0;
	if (err)
		return sim_send_error(cl, r->hdr, err);
	int rc = sim_send_reply(cl, r->hdr, &u, sizeof(u), NULL, 0, NULL, 0);
	if (timing_f) {
		t[4] = tstamp();
		fprintf(timing_f,
			"unmap 0x%llx at %llu: lookup %llu provider %llu munmap %llu reply %llu (ns)\n",
			(unsigned long long)u.addr, (unsigned long long)t[0],
			(unsigned long long)(t[1] - t[0]), (unsigned long long)(t[2] - t[1]),
			(unsigned long long)(t[3] - t[2]), (unsigned long long)(t[4] - t[3]));
	}
	return rc;
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
	map_cache_flush(cl->id);
}
