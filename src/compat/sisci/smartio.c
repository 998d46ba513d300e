/* SPDX-License-Identifier: MIT */
/*
 * udd's SISCI layer: SmartIO — device list, borrowing, device segments
 * (BARs, PRIVATE and SHARED memory), and windows of segments for devices.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sisci_int.h"

#define DEV_OK(d) ((d) && (d)->magic == M_DEV)

/* The node a device of the pool is on: a device reached through a gateway
 * (a tcp:// location) carries its host's node id in its fdid (node << 21 |
 * local id, docs/cluster.md); every other device is this host's. */
static unsigned node_of(const udd_dev_info_t *u)
{
	if (strncmp(u->location, "tcp://", 6) == 0)
		return u->fdid >> 21;
	return sci_g.node_id;
}

static void info_from_udd(const udd_dev_info_t *u, sci_smartio_device_info_t *s)
{
	memset(s, 0, sizeof(*s));
	s->fdid = u->fdid;
	s->adapter = 0;
	s->nodeid = node_of(u);
	s->pci_vendor_id = u->vendor_id;
	s->pci_device_id = u->device_id;
	s->pci_subsystem_vendor_id = u->subsys_vendor_id;
	s->pci_subsystem_id = u->subsys_id;
	s->pci_class = u->class_code;
	s->pci_revision = u->revision;
	for (unsigned i = 0; i < u->nregsets && i < UDD_MAX_REGSETS; i++) {
		const udd_regset_info_t *r = &u->regsets[i];
		if (r->kind != UDD_RS_CONFIG && r->bar >= 0 && r->bar < 6) {
			s->bar_size[r->bar] = r->size;
			s->num_bars++;
		}
	}
	snprintf(s->user_name, sizeof(s->user_name), "%s:%.40s", u->backend, u->location);
}

int SCIGetDeviceList(sci_desc_t sd, unsigned int *fdids, unsigned int length,
		     const sci_smartio_device_info_t *filter, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!sd || sd->magic != M_DESC || (!fdids && length)) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return 0;
	}
	udd_filter_t f = { 0 };
	if (filter) {
		if (filter->pci_vendor_id > 0xffff || filter->pci_device_id > 0xffff ||
		    filter->pci_subsystem_vendor_id > 0xffff || filter->pci_subsystem_id > 0xffff ||
		    filter->pci_class > 0xffffff) {
			SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
			return 0;
		}
		f.vendor_id = (uint16_t)filter->pci_vendor_id;
		f.device_id = (uint16_t)filter->pci_device_id;
		f.subsys_vendor_id = (uint16_t)filter->pci_subsystem_vendor_id;
		f.subsys_id = (uint16_t)filter->pci_subsystem_id;
		f.class_code = filter->pci_class;
	}
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = sci_need_ctx();
	udd_ctx_t *ctx = sci_g.ctx;
	pthread_mutex_unlock(&sci_g.lock);
	if (e != SCI_ERR_OK) {
		SET_ERR(error, e);
		return 0;
	}
	udd_fdid_t *ids = NULL;
	if (length) {
		ids = calloc(length, sizeof(*ids));
		if (!ids) {
			SET_ERR(error, SCI_ERR_API_NOSPC);
			return 0;
		}
	}
	int n = udd_pool_list(ctx, filter ? &f : NULL, ids, length);
	if (n < 0) {
		free(ids);
		SET_ERR(error, sci_from_errno(n));
		return 0;
	}
	unsigned stored = (unsigned)n < length ? (unsigned)n : length;
	for (unsigned i = 0; i < stored; i++)
		fdids[i] = ids[i];
	free(ids);
	SET_ERR(error, SCI_ERR_OK);
	return (int)stored;
}

void SCIBorrowDevice(sci_desc_t sd, sci_smartio_device_t *device, unsigned int fdid,
		     unsigned int flags, sci_error_t *error)
{
	if (!device || !sd || sd->magic != M_DESC) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (flags & ~(unsigned)SCI_FLAG_EXCLUSIVE) {
		SET_ERR(error, SCI_ERR_ILLEGAL_FLAG);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = sci_need_ctx();
	udd_ctx_t *ctx = sci_g.ctx;
	pthread_mutex_unlock(&sci_g.lock);
	if (e != SCI_ERR_OK) {
		SET_ERR(error, e);
		return;
	}
	struct sci_smartio_device *d = calloc(1, sizeof(*d));
	if (!d) {
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return;
	}
	int rc = udd_dev_borrow(ctx, fdid, (flags & SCI_FLAG_EXCLUSIVE) ? UDD_BORROW_EXCLUSIVE : 0,
				&d->udd);
	if (rc < 0) {
		free(d);
		SET_ERR(error, rc == -ENOENT ? SCI_ERR_NO_SUCH_FDID
			       : rc == -EBUSY ? SCI_ERR_NOT_AVAILABLE : sci_from_errno(rc));
		return;
	}
	/* SmartIO hands out a device ready for use: memory decoding and bus
	 * mastering on (PCI command register bits 1 and 2). */
	uint16_t cmd;
	if (udd_cfg_read16(d->udd, 0x04, &cmd) == 0)
		(void)udd_cfg_write16(d->udd, 0x04, (uint16_t)(cmd | 0x0006));
	udd_dev_info_t *info = malloc(sizeof(*info));
	d->node = sci_g.node_id;
	if (info && udd_dev_get_info(d->udd, info) == 0)
		d->node = node_of(info);
	free(info);
	d->magic = M_DEV;
	d->sd = sd;
	d->fdid = fdid;
	pthread_mutex_lock(&sci_g.lock);
	d->next = sci_g.devs;
	sci_g.devs = d;
	sd->nres++;
	pthread_mutex_unlock(&sci_g.lock);
	*device = d;
	SET_ERR(error, SCI_ERR_OK);
}

void SCIReturnDevice(sci_smartio_device_t device, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	if (!DEV_OK(device)) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (device->nsegs > 0 || device->nwins > 0) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_BUSY);
		return;
	}
	device->magic = 0;
	device->sd->nres--;
	for (struct sci_smartio_device **pp = &sci_g.devs; *pp; pp = &(*pp)->next) {
		if (*pp == device) {
			*pp = device->next;
			break;
		}
	}
	struct devseg *p = device->priv;
	pthread_mutex_unlock(&sci_g.lock);
	while (p) {
		struct devseg *n = p->next;
		close(p->fd);
		free(p);
		p = n;
	}
	udd_dev_return(device->udd);
	free(device);
	SET_ERR(error, SCI_ERR_OK);
}

unsigned int SCIGetFabricDeviceId(sci_smartio_device_t device)
{
	return DEV_OK(device) ? device->fdid : 0;
}

/* Path of a SHARED device segment. */
static int shared_path(unsigned fdid, unsigned id, char *buf, size_t cap)
{
	int rc = sci_regdir_ok();
	if (rc < 0)
		return rc;
	int n = snprintf(buf, cap, "%s/devseg-%u-%u", sci_g.regdir, fdid, id);
	return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

void SCICreateDeviceSegment(sci_smartio_device_t device, unsigned int segmentId, size_t size,
			    unsigned int memoryType, unsigned int accessHints, unsigned int flags,
			    sci_error_t *error)
{
	(void)accessHints; /* host memory serves every access pattern */
	(void)flags;
	if (size == 0 || size > ((size_t)1 << 40)) {
		SET_ERR(error, SCI_ERR_SIZE_ALIGNMENT);
		return;
	}
	if (memoryType != SCI_MEMTYPE_PRIVATE && memoryType != SCI_MEMTYPE_SHARED) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	size_t alloc = sci_round_page(size);
	pthread_mutex_lock(&sci_g.lock);
	if (!DEV_OK(device)) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	sci_error_t e = SCI_ERR_OK;
	if (memoryType == SCI_MEMTYPE_PRIVATE) {
		for (struct devseg *p = device->priv; p; p = p->next)
			if (p->id == segmentId)
				e = SCI_ERR_SEGMENTID_USED;
		struct devseg *ds = e == SCI_ERR_OK ? calloc(1, sizeof(*ds)) : NULL;
		if (e == SCI_ERR_OK && !ds)
			e = SCI_ERR_API_NOSPC;
		if (ds) {
			ds->fd = memfd_create("sisci-device-segment", MFD_CLOEXEC | MFD_ALLOW_SEALING);
			if (ds->fd < 0 || ftruncate(ds->fd, (off_t)alloc) < 0 ||
			    fcntl(ds->fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0) {
				e = sci_from_errno(errno);
				if (ds->fd >= 0)
					close(ds->fd);
				free(ds);
			} else {
				ds->id = segmentId;
				ds->size = size;
				ds->next = device->priv;
				device->priv = ds;
			}
		}
	} else {
		char path[PATH_MAX];
		int rc = shared_path(device->fdid, segmentId, path, sizeof(path));
		int fd = rc < 0 ? rc : open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0)
			e = (rc == 0 && errno == EEXIST) ? SCI_ERR_SEGMENTID_USED
							 : sci_from_errno(rc < 0 ? rc : errno);
		else {
			if (ftruncate(fd, (off_t)size) < 0) {
				e = sci_from_errno(errno);
				unlink(path);
			}
			close(fd);
		}
	}
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

void SCIConnectDeviceSegment(sci_smartio_device_t device, sci_remote_segment_t *segment,
			     unsigned int segmentId, unsigned int memoryType,
			     sci_cb_device_segment_t callback, void *callbackArg, unsigned int flags,
			     sci_error_t *error)
{
	(void)callback;
	(void)callbackArg;
	(void)flags;
	if (!segment) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	struct sci_remote_segment *r = calloc(1, sizeof(*r));
	if (!r) {
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return;
	}
	r->fd = -1;
	sci_error_t e = SCI_ERR_OK;
	pthread_mutex_lock(&sci_g.lock);
	if (!DEV_OK(device)) {
		e = SCI_ERR_ILLEGAL_PARAMETER;
	} else if (memoryType == SCI_MEMTYPE_BAR) {
		uint64_t sz = 0;
		int rn = segmentId < 6 ? udd_regs_rnumber(device->udd, segmentId) : -ENOENT;
		if (rn < 0 || udd_regs_size(device->udd, (unsigned)rn, &sz) < 0 || sz == 0)
			e = SCI_ERR_NO_SUCH_SEGMENT;
		r->kind = RS_BAR;
		r->bar = segmentId;
		r->size = (size_t)sz;
	} else if (memoryType == SCI_MEMTYPE_PRIVATE) {
		struct devseg *p = device->priv;
		while (p && p->id != segmentId)
			p = p->next;
		if (!p)
			e = SCI_ERR_NO_SUCH_SEGMENT;
		else if ((r->fd = fcntl(p->fd, F_DUPFD_CLOEXEC, 0)) < 0)
			e = sci_from_errno(errno);
		else {
			r->kind = RS_MEM;
			r->size = p->size;
		}
	} else if (memoryType == SCI_MEMTYPE_SHARED) {
		char path[PATH_MAX];
		int rc = shared_path(device->fdid, segmentId, path, sizeof(path));
		struct stat st;
		if (rc < 0)
			e = sci_from_errno(rc);
		else if ((r->fd = open(path, O_RDWR | O_CLOEXEC)) < 0)
			e = SCI_ERR_NO_SUCH_SEGMENT;
		else if (fstat(r->fd, &st) < 0 || st.st_size <= 0)
			e = SCI_ERR_NO_SUCH_SEGMENT;
		else {
			r->kind = RS_MEM;
			r->size = (size_t)st.st_size;
		}
	} else {
		e = SCI_ERR_ILLEGAL_PARAMETER;
	}
	if (e != SCI_ERR_OK) {
		pthread_mutex_unlock(&sci_g.lock);
		if (r->fd >= 0)
			close(r->fd);
		free(r);
		SET_ERR(error, e);
		return;
	}
	r->magic = M_RSEG;
	r->sd = device->sd;
	r->node = device->node;
	r->id = segmentId;
	r->dev = device;
	device->nsegs++;
	device->sd->nres++;
	pthread_mutex_unlock(&sci_g.lock);
	*segment = r;
	SET_ERR(error, SCI_ERR_OK);
}

/* ---- windows for devices --------------------------------------------------- */

static struct devwin *win_find(struct devwin *list, struct sci_smartio_device *dev)
{
	for (; list; list = list->next)
		if (list->dev == dev)
			return list;
	return NULL;
}

/* Check (offset, size) of a device mapping; size 0 = the rest. */
static sci_error_t dev_range(size_t total, size_t offset, size_t *size)
{
	if (offset % sci_page())
		return SCI_ERR_OFFSET_ALIGNMENT;
	if (offset >= total)
		return SCI_ERR_OUT_OF_RANGE;
	if (*size == 0)
		*size = total - offset;
	if (*size > total - offset)
		return SCI_ERR_OUT_OF_RANGE;
	if (*size % sci_page() && offset + *size != total)
		return SCI_ERR_SIZE_ALIGNMENT;
	return SCI_ERR_OK;
}

static const udd_dma_attr_t *dev_attr(void)
{
	return NULL;
}

/* A window of fd memory [0, alloc) for dev. Lock held. */
static sci_error_t win_fd(struct sci_smartio_device *dev, int fd, size_t alloc, struct devwin *w)
{
	int rc = udd_mem_import(sci_g.ctx, fd, 0, alloc, &w->mem);
	if (rc < 0)
		return sci_from_errno(rc);
	uint64_t iova = 0;
	rc = udd_dma_map(dev->udd, w->mem, 0, alloc, dev_attr(), UDD_DMA_F_READ | UDD_DMA_F_WRITE,
			 &iova, &w->dma);
	if (rc < 0) {
		udd_mem_free(w->mem);
		w->mem = NULL;
		return sci_from_errno(rc);
	}
	return SCI_ERR_OK;
}

/* A new, empty device window, or NULL with *e set. Lock held. */
static struct devwin *win_new(sci_error_t *e)
{
	*e = sci_need_ctx();
	if (*e != SCI_ERR_OK)
		return NULL;
	struct devwin *w = calloc(1, sizeof(*w));
	if (!w)
		*e = SCI_ERR_API_NOSPC;
	return w;
}

/* After mapping @w for @device (result @e): link it into @list, or free it.
 * Returns the linked window, or NULL. Lock held. */
static struct devwin *win_commit(struct devwin **list, sci_smartio_device_t device,
				 struct devwin *w, sci_error_t e)
{
	if (e != SCI_ERR_OK) {
		free(w);
		return NULL;
	}
	w->dev = device;
	w->next = *list;
	*list = w;
	device->nwins++;
	return w;
}

void SCIMapLocalSegmentForDevice(sci_local_segment_t segment, unsigned int localAdapterNo,
				 sci_smartio_device_t device, sci_ioaddr_t *remoteAddr,
				 size_t offset, size_t size, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!remoteAddr) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (localAdapterNo != 0) {
		SET_ERR(error, SCI_ERR_NO_SUCH_ADAPTERNO);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!segment || segment->magic != M_LSEG || !DEV_OK(device))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (!segment->prepared)
		e = SCI_ERR_SEGMENT_NOT_PREPARED;
	else
		e = dev_range(segment->size, offset, &size);
	struct devwin *w = NULL;
	if (e == SCI_ERR_OK && (w = win_find(segment->wins, device)) == NULL) {
		w = win_new(&e);
		if (w) {
			if (!segment->user_mem)
				e = win_fd(device, segment->fd, segment->alloc, w);
			else {
				uint64_t iova = 0;
				int rc = udd_dma_map_va(device->udd, segment->base, segment->alloc,
							dev_attr(), UDD_DMA_F_READ | UDD_DMA_F_WRITE,
							&iova, &w->dma);
				e = sci_from_errno(rc);
			}
			w = win_commit(&segment->wins, device, w, e);
		}
	}
	if (e == SCI_ERR_OK)
		*remoteAddr = udd_dma_iova(w->dma) + offset;
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

/* Unmap and free the window of dev in list. Lock held. */
void sci_win_release(struct devwin **list, struct sci_smartio_device *dev)
{
	for (struct devwin **pp = list; *pp; pp = &(*pp)->next) {
		if ((*pp)->dev == dev) {
			struct devwin *w = *pp;
			*pp = w->next;
			udd_dma_unmap(w->dma);
			udd_mem_free(w->mem);
			dev->nwins--;
			free(w);
			return;
		}
	}
}

void SCIUnmapLocalSegmentForDevice(sci_local_segment_t segment, unsigned int localAdapterNo,
				   sci_smartio_device_t device, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (localAdapterNo != 0) {
		SET_ERR(error, SCI_ERR_NO_SUCH_ADAPTERNO);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!segment || segment->magic != M_LSEG || !DEV_OK(device))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (!win_find(segment->wins, device))
		e = SCI_ERR_NOT_CONNECTED;
	else
		sci_win_release(&segment->wins, device);
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

void SCIMapRemoteSegmentForDevice(sci_remote_segment_t segment, sci_smartio_device_t device,
				  sci_ioaddr_t *remoteAddr, size_t offset, size_t size,
				  unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!remoteAddr) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!segment || segment->magic != M_RSEG || !DEV_OK(device))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else
		e = dev_range(segment->size, offset, &size);
	struct devwin *w = NULL;
	if (e == SCI_ERR_OK && (w = win_find(segment->wins, device)) == NULL) {
		w = win_new(&e);
		if (w) {
			size_t alloc = sci_round_page(segment->size);
			if (segment->kind == RS_MEM)
				e = win_fd(device, segment->fd, alloc, w);
			else {
				int rn = udd_regs_rnumber(segment->dev->udd, segment->bar);
				uint64_t iova = 0;
				int rc = rn < 0 ? rn
						: udd_dma_map_peer(device->udd, segment->dev->udd,
								   (unsigned)rn, 0, alloc, dev_attr(),
								   UDD_DMA_F_READ | UDD_DMA_F_WRITE,
								   &iova, &w->dma);
				e = sci_from_errno(rc);
			}
			w = win_commit(&segment->wins, device, w, e);
		}
	}
	if (e == SCI_ERR_OK)
		*remoteAddr = udd_dma_iova(w->dma) + offset;
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

void SCIUnmapRemoteSegmentForDevice(sci_remote_segment_t segment, sci_smartio_device_t device,
				    unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!segment || segment->magic != M_RSEG || !DEV_OK(device))
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (!win_find(segment->wins, device))
		e = SCI_ERR_NOT_CONNECTED;
	else
		sci_win_release(&segment->wins, device);
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, e);
}

SCI_HIDDEN sci_error_t sci_query_device(sci_smartio_query_device_t *q);
sci_error_t sci_query_device(sci_smartio_query_device_t *q)
{
	if (q->subcommand != SCI_Q_DEVICE_INFO)
		return SCI_ERR_ILLEGAL_QUERY;
	if (!q->data)
		return SCI_ERR_ILLEGAL_PARAMETER;
	udd_dev_info_t *info = malloc(sizeof(*info));
	if (!info)
		return SCI_ERR_API_NOSPC;
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = sci_need_ctx();
	udd_ctx_t *ctx = sci_g.ctx;
	udd_dev_t *mine = NULL;
	for (struct sci_smartio_device *d = sci_g.devs; d; d = d->next)
		if (d->fdid == q->fdid)
			mine = d->udd;
	/* A device borrowed here is described by its own handle: the pool
	 * would have to ask a peer that is busy serving us. */
	int rc = mine ? udd_dev_get_info(mine, info) : 0;
	pthread_mutex_unlock(&sci_g.lock);
	if (e != SCI_ERR_OK) {
		free(info);
		return e;
	}
	if (!mine)
		rc = udd_pool_info(ctx, q->fdid, info);
	if (rc == 0)
		info_from_udd(info, q->data);
	free(info);
	return rc == -ENOENT ? SCI_ERR_NO_SUCH_FDID : sci_from_errno(rc);
}

/* Dolphin's exported names. */
SCI_ALIASES(SCIBorrowDevice)
SCI_ALIASES(SCIConnectDeviceSegment)
SCI_ALIASES(SCICreateDeviceSegment)
SCI_ALIASES(SCIGetDeviceList)
SCI_ALIASES(SCIGetFabricDeviceId)
SCI_ALIASES(SCIMapLocalSegmentForDevice)
SCI_ALIASES(SCIMapRemoteSegmentForDevice)
SCI_ALIASES(SCIReturnDevice)
SCI_ALIASES(SCIUnmapLocalSegmentForDevice)
SCI_ALIASES(SCIUnmapRemoteSegmentForDevice)
