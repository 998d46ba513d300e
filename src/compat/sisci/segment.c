/* SPDX-License-Identifier: MIT */
/*
 * udd's SISCI layer: local and remote segments, mappings, sequences, copies.
 *
 * A segment of this node that is not PRIVATE lives in a file of the
 * registry directory (see sci_regdir_ok): "seg-<id>" holds the memory
 * (created O_EXCL, so a segment id is unique on the node; the creating
 * process holds a shared flock on it for its lifetime, which tells a live
 * owner from a dead one), and "seg-<id>.avail" exists while the segment is
 * available and records its size. Another process connects by opening both.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "sisci_int.h"

#define LSEG_OK(s) ((s) && (s)->magic == M_LSEG)
#define RSEG_OK(s) ((s) && (s)->magic == M_RSEG)
#define MAP_OK(m) ((m) && (m)->magic == M_MAP)

static void avail_path(const struct sci_local_segment *s, char *buf, size_t cap)
{
	snprintf(buf, cap, "%s.avail", s->path);
}

/* Is the owner of an open registry file alive? (it holds a shared flock) */
static int owner_alive(int fd)
{
	if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
		flock(fd, LOCK_UN);
		return 0;
	}
	return 1;
}

/* Create the registry file of segment @id. Lock held.
 * @return fd; -EEXIST id in use by a live owner; other -errno. */
static int reg_create_(unsigned int id, char *path, size_t cap);
static int reg_create(unsigned int id, char *path, size_t cap)
{
	int rc = reg_create_(id, path, cap);
	if (rc < 0)
		path[0] = '\0'; /* not ours: never unlink it */
	return rc;
}

static int reg_create_(unsigned int id, char *path, size_t cap)
{
	int rc = sci_regdir_ok();
	if (rc < 0)
		return rc;
	for (int tries = 0; tries < 2; tries++) {
		int n = snprintf(path, cap, "%s/seg-%u", sci_g.regdir, id);
		if (n < 0 || (size_t)n >= cap)
			return -ENAMETOOLONG;
		int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd >= 0) {
			if (flock(fd, LOCK_SH) < 0) {
				rc = -errno;
				close(fd);
				unlink(path);
				return rc;
			}
			return fd;
		}
		if (errno != EEXIST)
			return -errno;
		/* Left behind by a dead owner? */
		fd = open(path, O_RDWR | O_CLOEXEC);
		if (fd < 0)
			continue;
		int alive = owner_alive(fd);
		close(fd);
		if (alive)
			return -EEXIST;
		char ap[PATH_MAX + 8];
		snprintf(ap, sizeof(ap), "%s.avail", path);
		unlink(ap);
		unlink(path);
	}
	return -EEXIST;
}

void SCICreateSegment(sci_desc_t sd, sci_local_segment_t *segment, unsigned int segmentId,
		      size_t size, sci_cb_local_segment_t callback, void *callbackArg,
		      unsigned int flags, sci_error_t *error)
{
	(void)callbackArg;
	const unsigned known = SCI_FLAG_USE_CALLBACK | SCI_FLAG_EMPTY | SCI_FLAG_PRIVATE |
			       SCI_FLAG_AUTO_ID | SCI_FLAG_DMA_SOURCE_ONLY;
	if (!segment || !sd || sd->magic != M_DESC) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (flags & ~known) {
		SET_ERR(error, SCI_ERR_ILLEGAL_FLAG);
		return;
	}
	if ((flags & SCI_FLAG_USE_CALLBACK) && !callback) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (size == 0 || size > ((size_t)1 << 40)) {
		SET_ERR(error, SCI_ERR_SIZE_ALIGNMENT);
		return;
	}
	struct sci_local_segment *s = calloc(1, sizeof(*s));
	if (!s) {
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return;
	}
	s->magic = M_LSEG;
	s->sd = sd;
	s->flags = flags;
	s->size = size;
	s->alloc = sci_round_page(size);
	s->fd = -1;
	int rc = 0;

	pthread_mutex_lock(&sci_g.lock);
	if (flags & SCI_FLAG_PRIVATE) {
		s->id = (flags & SCI_FLAG_AUTO_ID) ? 0x80000000u | sci_g.next_auto++ : segmentId;
		if (!(flags & SCI_FLAG_EMPTY)) {
			s->fd = memfd_create("sisci-private-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
			if (s->fd < 0)
				rc = -errno;
		}
	} else if (flags & SCI_FLAG_AUTO_ID) {
		unsigned base = 0x40000000u | (((unsigned)getpid() & 0xffff) << 12);
		rc = -EEXIST;
		for (unsigned k = 0; k < 4096 && rc == -EEXIST; k++) {
			unsigned id = base | ((sci_g.next_auto++) & 0xfff);
			rc = reg_create(id, s->path, sizeof(s->path));
			if (rc >= 0) {
				s->fd = rc;
				s->id = id;
				rc = 0;
			}
		}
	} else {
		s->id = segmentId;
		rc = reg_create(segmentId, s->path, sizeof(s->path));
		if (rc >= 0) {
			s->fd = rc;
			rc = 0;
		}
	}
	if (rc == 0 && s->fd >= 0 && !(flags & SCI_FLAG_EMPTY)) {
		if (ftruncate(s->fd, (off_t)s->alloc) < 0)
			rc = -errno;
		else if ((flags & SCI_FLAG_PRIVATE) &&
			 fcntl(s->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
			rc = -errno; /* a fixed size: servers that map DMA fds insist
				      * (a lent real device's windows need it) */
		else {
			s->base = mmap(NULL, s->alloc, PROT_READ | PROT_WRITE, MAP_SHARED, s->fd, 0);
			if (s->base == MAP_FAILED) {
				s->base = NULL;
				rc = -errno;
			}
		}
	}
	if (rc < 0) {
		if (s->fd >= 0)
			close(s->fd);
		if (s->path[0])
			unlink(s->path);
		pthread_mutex_unlock(&sci_g.lock);
		free(s);
		SET_ERR(error, rc == -EEXIST ? SCI_ERR_SEGMENTID_USED : sci_from_errno(rc));
		return;
	}
	sd->nres++;
	pthread_mutex_unlock(&sci_g.lock);
	*segment = s;
	SET_ERR(error, SCI_ERR_OK);
}

void SCIRegisterSegmentMemory(void *address, size_t size, sci_local_segment_t segment,
			      unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!LSEG_OK(segment) || !address)
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (!(segment->flags & SCI_FLAG_EMPTY) || segment->base)
		e = SCI_ERR_ILLEGAL_OPERATION;
	else if ((uintptr_t)address % sci_page())
		e = SCI_ERR_OFFSET_ALIGNMENT;
	else if (size != segment->size && size != segment->alloc)
		e = SCI_ERR_SIZE_ALIGNMENT;
	else {
		segment->base = address;
		segment->user_mem = true;
	}
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

void SCIPrepareSegment(sci_local_segment_t segment, unsigned int localAdapterNo,
		       unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!LSEG_OK(segment))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (localAdapterNo != 0)
		e = SCI_ERR_NO_SUCH_ADAPTERNO;
	else if (!segment->base)
		e = SCI_ERR_ILLEGAL_OPERATION; /* empty and no memory registered */
	else
		segment->prepared = true;
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

void SCISetSegmentAvailable(sci_local_segment_t segment, unsigned int localAdapterNo,
			    unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!LSEG_OK(segment))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (localAdapterNo != 0)
		e = SCI_ERR_NO_SUCH_ADAPTERNO;
	else if (!segment->prepared)
		e = SCI_ERR_SEGMENT_NOT_PREPARED;
	else if (!segment->available) {
		segment->available = true;
		if (segment->path[0] && !segment->user_mem) {
			char ap[PATH_MAX + 8], tmp[PATH_MAX + 16];
			avail_path(segment, ap, sizeof(ap));
			snprintf(tmp, sizeof(tmp), "%s.tmp%d", segment->path, (int)getpid());
			FILE *f = fopen(tmp, "we");
			int ok = f && fprintf(f, "%zu\n", segment->size) > 0;
			if (f && fclose(f) != 0)
				ok = 0;
			if (ok && rename(tmp, ap) == 0)
				segment->published = true;
			else {
				unlink(tmp);
				segment->available = false;
				e = SCI_ERR_SYSTEM;
			}
		}
	}
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

void SCISetSegmentUnavailable(sci_local_segment_t segment, unsigned int localAdapterNo,
			      unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!LSEG_OK(segment))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (localAdapterNo != 0)
		e = SCI_ERR_NO_SUCH_ADAPTERNO;
	else {
		if (segment->published) {
			char ap[PATH_MAX + 8];
			avail_path(segment, ap, sizeof(ap));
			unlink(ap);
			segment->published = false;
		}
		segment->available = false;
	}
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

void SCIRemoveSegment(sci_local_segment_t segment, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	if (!LSEG_OK(segment)) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (segment->nmaps > 0 || segment->wins) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_BUSY);
		return;
	}
	if (segment->published) {
		char ap[PATH_MAX + 8];
		avail_path(segment, ap, sizeof(ap));
		unlink(ap);
	}
	if (segment->path[0])
		unlink(segment->path);
	if (segment->base && !segment->user_mem)
		munmap(segment->base, segment->alloc);
	if (segment->fd >= 0)
		close(segment->fd);
	segment->sd->nres--;
	segment->magic = 0;
	pthread_mutex_unlock(&sci_g.lock);
	free(segment);
	SET_ERR(error, SCI_ERR_OK);
}

size_t SCIGetLocalSegmentSize(sci_local_segment_t segment)
{
	return LSEG_OK(segment) ? segment->size : 0;
}

unsigned int SCIGetLocalSegmentId(sci_local_segment_t segment)
{
	return LSEG_OK(segment) ? segment->id : 0;
}

/* Check (offset, size) against a segment of @p total bytes; size 0 = the rest. */
static sci_error_t check_range(size_t total, size_t offset, size_t *size)
{
	if (offset % sci_page())
		return SCI_ERR_OFFSET_ALIGNMENT;
	if (offset >= total)
		return SCI_ERR_OUT_OF_RANGE;
	if (*size == 0)
		*size = total - offset;
	if (*size > total - offset)
		return SCI_ERR_OUT_OF_RANGE;
	return SCI_ERR_OK;
}

/* An mmap of [offset, offset+size) of fd. */
static sci_error_t map_fd(int fd, size_t offset, size_t size, bool ro, struct sci_map *m)
{
	size_t len = sci_round_page(size);
	void *p = mmap(NULL, len, PROT_READ | (ro ? 0 : PROT_WRITE), MAP_SHARED, fd, (off_t)offset);
	if (p == MAP_FAILED)
		return sci_from_errno(errno);
	m->mbase = p;
	m->mlen = len;
	m->ptr = p;
	m->size = size;
	m->kind = MK_MEM;
	return SCI_ERR_OK;
}

void *SCIMapLocalSegment(sci_local_segment_t segment, sci_map_t *map, size_t offset, size_t size,
			 void *addr, unsigned int flags, sci_error_t *error)
{
	const unsigned known = SCI_FLAG_READONLY_MAP | SCI_FLAG_FIXED_MAP_ADDR |
			       SCI_FLAG_SHARED_MAP | SCI_FLAG_IO_MAP_IOSPACE |
			       SCI_FLAG_WRITE_BACK_CACHE_MAP | SCI_FLAG_LOCK_OPERATION;
	(void)addr;
	if (!map) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return NULL;
	}
	if (flags & ~known) {
		SET_ERR(error, SCI_ERR_ILLEGAL_FLAG);
		return NULL;
	}
	if (flags & SCI_FLAG_FIXED_MAP_ADDR) {
		SET_ERR(error, SCI_ERR_FLAG_NOT_IMPLEMENTED);
		return NULL;
	}
	struct sci_map *m = calloc(1, sizeof(*m));
	if (!m) {
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return NULL;
	}
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e;
	if (!LSEG_OK(segment))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (!segment->base)
		e = SCI_ERR_ILLEGAL_OPERATION;
	else
		e = check_range(segment->size, offset, &size);
	if (e == SCI_ERR_OK) {
		if (!segment->user_mem)
			e = map_fd(segment->fd, offset, size, flags & SCI_FLAG_READONLY_MAP, m);
		else { /* user memory: the caller's own pages */
			m->kind = MK_MEM;
			m->ptr = (char *)segment->base + offset;
			m->size = size;
		}
	}
	if (e != SCI_ERR_OK) {
		pthread_mutex_unlock(&sci_g.lock);
		free(m);
		SET_ERR(error, e);
		return NULL;
	}
	m->magic = M_MAP;
	m->lseg = segment;
	m->off = offset;
	m->trap_slot = -1;
	segment->nmaps++;
	pthread_mutex_unlock(&sci_g.lock);
	*map = m;
	SET_ERR(error, SCI_ERR_OK);
	return m->ptr;
}

/* ---- remote segments ---------------------------------------------------- */

static int open_published(unsigned int id, size_t *size)
{
	char p[PATH_MAX + 32], ap[PATH_MAX + 40];
	snprintf(p, sizeof(p), "%s/seg-%u", sci_g.regdir, id);
	snprintf(ap, sizeof(ap), "%s.avail", p);
	FILE *f = fopen(ap, "re");
	if (!f)
		return -ENOENT;
	unsigned long long sz = 0;
	int n = fscanf(f, "%llu", &sz);
	fclose(f);
	if (n != 1 || sz == 0)
		return -ENOENT;
	int fd = open(p, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -ENOENT;
	struct stat st;
	if (fstat(fd, &st) < 0 || (unsigned long long)st.st_size < sz || !owner_alive(fd)) {
		close(fd);
		return -ENOENT;
	}
	*size = (size_t)sz;
	return fd;
}

void SCIConnectSegment(sci_desc_t sd, sci_remote_segment_t *segment, unsigned int nodeId,
		       unsigned int segmentId, unsigned int localAdapterNo,
		       sci_cb_remote_segment_t callback, void *callbackArg, unsigned int timeout,
		       unsigned int flags, sci_error_t *error)
{
	(void)callbackArg;
	if (!segment || !sd || sd->magic != M_DESC) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if ((flags & SCI_FLAG_USE_CALLBACK) && !callback) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (localAdapterNo != 0) {
		SET_ERR(error, SCI_ERR_NO_SUCH_ADAPTERNO);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	unsigned int me = sci_g.node_id;
	int rc = sci_regdir_ok();
	pthread_mutex_unlock(&sci_g.lock);
	if (nodeId != me) {
		SET_ERR(error, SCI_ERR_NO_SUCH_NODEID);
		return;
	}
	if (rc < 0) {
		SET_ERR(error, sci_from_errno(rc));
		return;
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	size_t size = 0;
	int fd;
	for (;;) {
		fd = open_published(segmentId, &size);
		if (fd >= 0 || timeout == 0)
			break;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long ms = (now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (timeout != SCI_INFINITE_TIMEOUT && ms >= (long long)timeout)
			break;
		struct timespec d = { 0, 5 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
	if (fd < 0) {
		SET_ERR(error, timeout ? SCI_ERR_TIMEOUT : SCI_ERR_NO_SUCH_SEGMENT);
		return;
	}
	struct sci_remote_segment *r = calloc(1, sizeof(*r));
	if (!r) {
		close(fd);
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return;
	}
	r->magic = M_RSEG;
	r->sd = sd;
	r->kind = RS_MEM;
	r->node = nodeId;
	r->id = segmentId;
	r->size = size;
	r->fd = fd;
	pthread_mutex_lock(&sci_g.lock);
	sd->nres++;
	pthread_mutex_unlock(&sci_g.lock);
	*segment = r;
	SET_ERR(error, SCI_ERR_OK);
}

void SCIDisconnectSegment(sci_remote_segment_t segment, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	if (!RSEG_OK(segment)) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (segment->nmaps > 0 || segment->wins) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_BUSY);
		return;
	}
	if (segment->base)
		munmap(segment->base, sci_round_page(segment->size));
	if (segment->fd >= 0)
		close(segment->fd);
	if (segment->dev)
		segment->dev->nsegs--;
	segment->sd->nres--;
	segment->magic = 0;
	pthread_mutex_unlock(&sci_g.lock);
	free(segment);
	SET_ERR(error, SCI_ERR_OK);
}

size_t SCIGetRemoteSegmentSize(sci_remote_segment_t segment)
{
	return RSEG_OK(segment) ? segment->size : 0;
}

unsigned int SCIGetRemoteSegmentId(sci_remote_segment_t segment)
{
	return RSEG_OK(segment) ? segment->id : 0;
}

unsigned int SCIGetRemoteSegmentNodeId(sci_remote_segment_t segment)
{
	return RSEG_OK(segment) ? segment->node : 0;
}

/* Map a BAR segment: the mapping itself when udd can map it, else a
 * PROT_NONE range served by the trap handler. Lock held. */
static sci_error_t map_bar(struct sci_remote_segment *r, size_t offset, size_t size,
			   unsigned int flags, struct sci_map *m)
{
	udd_acc_attr_t attr = { .endian = UDD_NEVERSWAP,
				.order = (flags & SCI_FLAG_IO_MAP_IOSPACE) ? UDD_STRICTORDER
									   : UDD_MERGING_OK,
				.access = UDD_DEFAULT_ACC };
	udd_acc_t *acc = NULL;
	int rc = udd_regs_map_bar(r->dev->udd, r->bar, offset, size, &attr, &acc);
	if (rc < 0)
		return sci_from_errno(rc);
	m->acc = acc;
	m->size = size;
	volatile void *p = udd_acc_ptr(acc);
	if (p) {
		/* The handle's mapping is this map's alone: READONLY takes the
		 * write permission away from its pages, so a store faults. */
		if (flags & SCI_FLAG_READONLY_MAP) {
			uintptr_t pg = (uintptr_t)sci_round_page(1);
			uintptr_t s0 = (uintptr_t)p & ~(pg - 1);
			uintptr_t e0 = ((uintptr_t)p + size + pg - 1) & ~(pg - 1);
			if (mprotect((void *)s0, e0 - s0, PROT_READ) < 0) {
				int e = errno;
				udd_regs_unmap(acc);
				m->acc = NULL;
				return sci_from_errno(e);
			}
		}
		m->kind = MK_BAR_DIRECT;
		m->ptr = (void *)(uintptr_t)p;
		return SCI_ERR_OK;
	}
	size_t len = sci_round_page(size);
	void *base = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED) {
		udd_regs_unmap(acc);
		m->acc = NULL;
		return sci_from_errno(errno);
	}
	int slot = sci_trap_add(base, len, size, acc, flags & SCI_FLAG_READONLY_MAP);
	if (slot < 0) {
		munmap(base, len);
		udd_regs_unmap(acc);
		m->acc = NULL;
		return SCI_ERR_NOSPC;
	}
	m->kind = MK_BAR_TRAP;
	m->mbase = base;
	m->mlen = len;
	m->ptr = base;
	m->trap_slot = slot;
	return SCI_ERR_OK;
}

volatile void *SCIMapRemoteSegment(sci_remote_segment_t segment, sci_map_t *map, size_t offset,
				   size_t size, void *addr, unsigned int flags, sci_error_t *error)
{
	(void)addr;
	if (!map) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return NULL;
	}
	if (flags & SCI_FLAG_FIXED_MAP_ADDR) {
		SET_ERR(error, SCI_ERR_FLAG_NOT_IMPLEMENTED);
		return NULL;
	}
	struct sci_map *m = calloc(1, sizeof(*m));
	if (!m) {
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return NULL;
	}
	m->trap_slot = -1;
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e;
	if (!RSEG_OK(segment))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else
		e = check_range(segment->size, offset, &size);
	if (e == SCI_ERR_OK) {
		if (segment->kind == RS_BAR)
			e = map_bar(segment, offset, size, flags, m);
		else
			e = map_fd(segment->fd, offset, size, flags & SCI_FLAG_READONLY_MAP, m);
	}
	if (e != SCI_ERR_OK) {
		pthread_mutex_unlock(&sci_g.lock);
		free(m);
		SET_ERR(error, e);
		return NULL;
	}
	m->magic = M_MAP;
	m->rseg = segment;
	m->off = offset;
	segment->nmaps++;
	pthread_mutex_unlock(&sci_g.lock);
	*map = m;
	SET_ERR(error, SCI_ERR_OK);
	return m->ptr;
}

void SCIUnmapSegment(sci_map_t map, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	if (!MAP_OK(map)) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (map->nseq > 0) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_BUSY);
		return;
	}
	if (map->trap_slot >= 0)
		sci_trap_del(map->trap_slot);
	if (map->mbase)
		munmap(map->mbase, map->mlen);
	if (map->acc)
		udd_regs_unmap(map->acc);
	if (map->lseg)
		map->lseg->nmaps--;
	if (map->rseg)
		map->rseg->nmaps--;
	map->magic = 0;
	pthread_mutex_unlock(&sci_g.lock);
	free(map);
	SET_ERR(error, SCI_ERR_OK);
}

void *SCIGetMapPointer(sci_map_t map)
{
	return MAP_OK(map) ? map->ptr : NULL;
}

size_t SCIGetMapSize(sci_map_t map)
{
	return MAP_OK(map) ? map->size : 0;
}

/* ---- ordering and copies ------------------------------------------------- */

void SCIFlush(sci_sequence_t sequence, unsigned int flags)
{
	(void)sequence;
	(void)flags;
	/* sfence drains write-combining buffers; mfence orders everything. */
	__asm__ __volatile__("mfence" ::: "memory");
}

void SCIStoreBarrier(sci_sequence_t sequence, unsigned int flags)
{
	SCIFlush(sequence, flags);
}

void SCICacheSync(sci_map_t map, void *addr, size_t length, unsigned int flags, sci_error_t *error)
{
	(void)length;
	if (map && !MAP_OK(map)) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (!addr || (flags & ~(SCI_FLAG_CACHE_FLUSH | SCI_FLAG_CACHE_INVALIDATE))) {
		SET_ERR(error, !addr ? SCI_ERR_ILLEGAL_PARAMETER : SCI_ERR_ILLEGAL_FLAG);
		return;
	}
	/* x86-64 DMA is cache-coherent: a full fence is all the CPU needs; the
	 * windows devices have on the map's memory get udd_dma_sync, for
	 * transports that copy windows (FLUSH: the CPU wrote, the device will
	 * read; INVALIDATE: the device wrote; neither: both). */
	__asm__ __volatile__("mfence" ::: "memory");
	sci_error_t e = SCI_ERR_OK;
	if (map && map->kind == MK_MEM) {
		char *p = addr, *b = map->ptr;
		if (p < b || (size_t)(p - b) > map->size || length > map->size - (size_t)(p - b))
			e = SCI_ERR_OUT_OF_RANGE;
		else {
			unsigned dir = 0;
			if (flags & SCI_FLAG_CACHE_FLUSH || !flags)
				dir |= UDD_DMA_SYNC_FOR_DEVICE;
			if (flags & SCI_FLAG_CACHE_INVALIDATE || !flags)
				dir |= UDD_DMA_SYNC_FOR_CPU;
			e = sci_map_sync(map, map->off + (size_t)(p - b), length, dir);
		}
	}
	SET_ERR(error, e);
}

/* udd_dma_sync of [off, off+len) of the map's segment on every window a
 * device has on it, in the directions of @dir (UDD_DMA_SYNC_* bits). */
sci_error_t sci_map_sync(struct sci_map *m, size_t off, size_t len, unsigned dir)
{
	int rc = 0;
	pthread_mutex_lock(&sci_g.lock);
	struct devwin *w = m->lseg ? m->lseg->wins : m->rseg ? m->rseg->wins : NULL;
	for (; w && rc == 0; w = w->next) {
		if (dir & UDD_DMA_SYNC_FOR_DEVICE)
			rc = udd_dma_sync(w->dma, off, len, UDD_DMA_SYNC_FOR_DEVICE);
		if (rc == 0 && dir & UDD_DMA_SYNC_FOR_CPU)
			rc = udd_dma_sync(w->dma, off, len, UDD_DMA_SYNC_FOR_CPU);
	}
	pthread_mutex_unlock(&sci_g.lock);
	return sci_from_errno(rc);
}

/* Copy between user memory and a map at offset; dir 0: to the map. */
static sci_error_t map_copy(struct sci_map *m, size_t off, void *buf, size_t size, int dir)
{
	if (off > m->size || size > m->size - off)
		return SCI_ERR_OUT_OF_RANGE;
	if (m->kind == MK_MEM) {
		if (dir == 0)
			memcpy((char *)m->ptr + off, buf, size);
		else
			memcpy(buf, (char *)m->ptr + off, size);
		return SCI_ERR_OK;
	}
	uint8_t *b = buf;
	for (size_t i = 0; i < size;) {
		if ((off + i) % 4 == 0 && size - i >= 4) {
			uint32_t v;
			if (dir == 0) {
				memcpy(&v, b + i, 4);
				udd_put32(m->acc, off + i, v);
			} else {
				v = udd_get32(m->acc, off + i);
				memcpy(b + i, &v, 4);
			}
			i += 4;
		} else {
			if (dir == 0)
				udd_put8(m->acc, off + i, b[i]);
			else
				b[i] = udd_get8(m->acc, off + i);
			i++;
		}
	}
	return udd_acc_check(m->acc) < 0 ? SCI_ERR_TRANSFER_FAILED : SCI_ERR_OK;
}

void SCIMemCpy(sci_sequence_t sequence, void *memAddr, sci_map_t remoteMap, size_t remoteOffset,
	       size_t size, unsigned int flags, sci_error_t *error)
{
	(void)sequence;
	if (!MAP_OK(remoteMap) || !memAddr) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	/* Into memory a device has windows on: the device will read it
	 * (FOR_DEVICE after the copy); out of it: the device wrote it
	 * (FOR_CPU before). BAR maps need neither. */
	int rd = (flags & SCI_FLAG_BLOCK_READ) ? 1 : 0;
	bool mem = remoteMap->kind == MK_MEM && remoteOffset <= remoteMap->size &&
		   size <= remoteMap->size - remoteOffset;
	sci_error_t e = SCI_ERR_OK;
	if (mem && rd)
		e = sci_map_sync(remoteMap, remoteMap->off + remoteOffset, size, UDD_DMA_SYNC_FOR_CPU);
	if (e == SCI_ERR_OK)
		e = map_copy(remoteMap, remoteOffset, memAddr, size, rd);
	__asm__ __volatile__("mfence" ::: "memory");
	if (e == SCI_ERR_OK && mem && !rd)
		e = sci_map_sync(remoteMap, remoteMap->off + remoteOffset, size,
				 UDD_DMA_SYNC_FOR_DEVICE);
	SET_ERR(error, e);
}

void SCIMemWrite(void *memAddr, volatile void *remoteAddr, size_t size, unsigned int flags,
		 sci_error_t *error)
{
	(void)flags;
	if (!memAddr || !remoteAddr) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	volatile uint8_t *d = remoteAddr;
	const uint8_t *s = memAddr;
	for (size_t i = 0; i < size; i++)
		d[i] = s[i];
	__asm__ __volatile__("mfence" ::: "memory");
	SET_ERR(error, SCI_ERR_OK);
}

/* ---- sequences ----------------------------------------------------------- */

void SCICreateMapSequence(sci_map_t map, sci_sequence_t *sequence, unsigned int flags,
			  sci_error_t *error)
{
	(void)flags;
	if (!sequence) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	struct sci_sequence *s = calloc(1, sizeof(*s));
	if (!s) {
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	if (!MAP_OK(map)) {
		pthread_mutex_unlock(&sci_g.lock);
		free(s);
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	s->magic = M_SEQ;
	s->map = map;
	map->nseq++;
	pthread_mutex_unlock(&sci_g.lock);
	*sequence = s;
	SET_ERR(error, SCI_ERR_OK);
}

void SCIRemoveSequence(sci_sequence_t sequence, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	if (!sequence || sequence->magic != M_SEQ) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	sequence->map->nseq--;
	sequence->magic = 0;
	pthread_mutex_unlock(&sci_g.lock);
	free(sequence);
	SET_ERR(error, SCI_ERR_OK);
}

static sci_sequence_status_t seq_status(sci_sequence_t sequence, sci_error_t *error)
{
	if (!sequence || sequence->magic != M_SEQ) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return SCI_SEQ_NOT_RETRIABLE;
	}
	struct sci_map *m = sequence->map;
	if (m->acc) {
		int rc = udd_acc_check(m->acc);
		if (rc == -ENODEV) {
			SET_ERR(error, SCI_ERR_CONNECTION_REFUSED);
			return SCI_SEQ_NOT_RETRIABLE;
		}
		if (rc < 0) {
			udd_acc_clear_error(m->acc);
			SET_ERR(error, SCI_ERR_TRANSFER_FAILED);
			return SCI_SEQ_RETRIABLE;
		}
	}
	SET_ERR(error, SCI_ERR_OK);
	return SCI_SEQ_OK;
}

sci_sequence_status_t SCIStartSequence(sci_sequence_t sequence, unsigned int flags,
				       sci_error_t *error)
{
	(void)flags;
	return seq_status(sequence, error);
}

sci_sequence_status_t SCICheckSequence(sci_sequence_t sequence, unsigned int flags,
				       sci_error_t *error)
{
	(void)flags;
	__asm__ __volatile__("mfence" ::: "memory");
	return seq_status(sequence, error);
}

/* ---- queries -------------------------------------------------------------- */

SCI_HIDDEN sci_error_t sci_query_lseg(sci_query_local_segment_t *q);
sci_error_t sci_query_lseg(sci_query_local_segment_t *q)
{
	sci_error_t e = SCI_ERR_OK;
	pthread_mutex_lock(&sci_g.lock);
	if (!LSEG_OK(q->segment))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (q->subcommand == SCI_Q_LOCAL_SEGMENT_IOADDR) {
		if (!q->segment->wins)
			e = SCI_ERR_NOT_AVAILABLE;
		else
			q->data.ioaddr = udd_dma_iova(q->segment->wins->dma);
	} else if (q->subcommand == SCI_Q_LOCAL_SEGMENT_PHYS_ADDR ||
		   q->subcommand == SCI_Q_LOCAL_SEGMENT_VIRTUAL_KERNEL_ADDR)
		e = SCI_ERR_NOT_SUPPORTED;
	else
		e = SCI_ERR_ILLEGAL_QUERY;
	pthread_mutex_unlock(&sci_g.lock);
	return e;
}

SCI_HIDDEN sci_error_t sci_query_rseg(sci_query_remote_segment_t *q);
sci_error_t sci_query_rseg(sci_query_remote_segment_t *q)
{
	sci_error_t e = SCI_ERR_OK;
	pthread_mutex_lock(&sci_g.lock);
	if (!RSEG_OK(q->segment))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (q->subcommand == SCI_Q_REMOTE_SEGMENT_IOADDR) {
		if (!q->segment->wins)
			e = SCI_ERR_NOT_AVAILABLE;
		else
			q->data.ioaddr = udd_dma_iova(q->segment->wins->dma);
	} else
		e = SCI_ERR_ILLEGAL_QUERY;
	pthread_mutex_unlock(&sci_g.lock);
	return e;
}

SCI_HIDDEN sci_error_t sci_query_map(sci_query_map_t *q);
sci_error_t sci_query_map(sci_query_map_t *q)
{
	if (!MAP_OK(q->map))
		return SCI_ERR_ILLEGAL_PARAMETER;
	if (q->subcommand != SCI_Q_MAP_MAPPED_TO_LOCAL_TARGET)
		return SCI_ERR_ILLEGAL_QUERY;
	/* Every target is on this node. */
	q->data = 1;
	return SCI_ERR_OK;
}

/* Dolphin's exported names. */
SCI_ALIASES(SCICacheSync)
SCI_ALIASES(SCICheckSequence)
SCI_ALIASES(SCIConnectSegment)
SCI_ALIASES(SCICreateMapSequence)
SCI_ALIASES(SCICreateSegment)
SCI_ALIASES(SCIDisconnectSegment)
SCI_ALIASES(SCIFlush)
SCI_ALIASES(SCIGetLocalSegmentId)
SCI_ALIASES(SCIGetLocalSegmentSize)
SCI_ALIASES(SCIGetMapPointer)
SCI_ALIASES(SCIGetMapSize)
SCI_ALIASES(SCIGetRemoteSegmentId)
SCI_ALIASES(SCIGetRemoteSegmentNodeId)
SCI_ALIASES(SCIGetRemoteSegmentSize)
SCI_ALIASES(SCIMapLocalSegment)
SCI_ALIASES(SCIMapRemoteSegment)
SCI_ALIASES(SCIMemCpy)
SCI_ALIASES(SCIMemWrite)
SCI_ALIASES(SCIPrepareSegment)
SCI_ALIASES(SCIRegisterSegmentMemory)
SCI_ALIASES(SCIRemoveSegment)
SCI_ALIASES(SCIRemoveSequence)
SCI_ALIASES(SCISetSegmentAvailable)
SCI_ALIASES(SCISetSegmentUnavailable)
SCI_ALIASES(SCIStartSequence)
SCI_ALIASES(SCIStoreBarrier)
SCI_ALIASES(SCIUnmapSegment)
