/* SPDX-License-Identifier: MIT */
/*
 * udd-sim server core: bounce windows and VFU_UDD_CMD_DMA_SYNC.
 *
 * A borrower on another host (through udd-gw, TCP, no descriptors)
 * registers its DMA windows without an fd. A simulated device reaches such
 * a window through DMA_READ/DMA_WRITE messages, but a lent real device
 * DMAs through the IOMMU and cannot reach the borrower's memory at all. So
 * the lender backs such a window with memory of its own (anonymous, zeroed,
 * page aligned, the window's size rounded up to pages), which the provider
 * maps into the device at the borrower's IOVA; the borrower's memory and
 * this copy are made coherent only when the borrower says so, with
 * VFU_UDD_CMD_DMA_SYNC (FOR_DEVICE: its bytes into the copy; FOR_CPU: the
 * copy's bytes back), the ddi_dma_sync / dma_sync_single_for_* model.
 *
 * Only for clients that announced udd.dma_sync (nothing else would keep the
 * copy coherent). At most SIM_BOUNCE_MAX_PER_CLIENT bytes per client
 * (ENOSPC beyond), so one borrower cannot make the lender's memory run out;
 * freed when the window goes (DMA_UNMAP, or the borrower went), after the
 * device stopped reaching it (the provider unmaps the IOMMU first).
 *
 * udd-sim --bounce-windows does the same for the simulated devices, so the
 * host tests cover the message handling without a real device.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim_server_priv.h"

bool sim_bounce_windows;

int sim_bounce_alloc(struct sim_client *cl, struct sim_win *w)
{
	if (!cl->dma_sync)
		return EINVAL; /* the device cannot DMA through messages */
	uint64_t pg = (uint64_t)sysconf(_SC_PAGESIZE);
	if (w->size > SIM_BOUNCE_MAX_PER_CLIENT)
		return ENOSPC;
	uint64_t len = (w->size + pg - 1) / pg * pg;
	if (cl->bounce_bytes > SIM_BOUNCE_MAX_PER_CLIENT - len) {
		sim_log("%s: client %llu: bounce window 0x%llx+0x%llx over the %llu MiB limit",
			cl->d->name, (unsigned long long)cl->id, (unsigned long long)w->addr,
			(unsigned long long)w->size,
			(unsigned long long)(SIM_BOUNCE_MAX_PER_CLIENT >> 20));
		return ENOSPC;
	}
	void *p = mmap(NULL, (size_t)len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		       -1, 0);
	if (p == MAP_FAILED)
		return ENOMEM;
	w->bounce = p;
	w->bounce_len = (size_t)len;
	cl->bounce_bytes += len;
	return 0;
}

void sim_bounce_free(struct sim_client *cl, struct sim_win *w)
{
	if (!w->bounce)
		return;
	munmap(w->bounce, w->bounce_len);
	cl->bounce_bytes -= w->bounce_len;
	w->bounce = NULL;
	w->bounce_len = 0;
}

int sim_cmd_dma_sync(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct vfu_udd_dma_sync s;
	if (!cl->dma_sync || r->len < sizeof(s))
		return sim_send_error(cl, r->hdr, EINVAL);
	if (cl->borrow == BORROW_PROBE)
		return sim_send_error(cl, r->hdr, EPERM);
	memcpy(&s, r->p, sizeof(s));
	uint64_t max = cl->max_xfer ? cl->max_xfer : VFU_DEFAULT_MAX_DATA_XFER;
	if (max > VFU_DEFAULT_MAX_DATA_XFER)
		max = VFU_DEFAULT_MAX_DATA_XFER;
	bool to_dev = s.dir == VFU_UDD_SYNC_FOR_DEVICE;
	if ((!to_dev && s.dir != VFU_UDD_SYNC_FOR_CPU) || s.len == 0 || s.len > max ||
	    s.iova + (s.len - 1) < s.iova || r->len != sizeof(s) + (to_dev ? s.len : 0))
		return sim_send_error(cl, r->hdr, EINVAL);
	/* Only this client's thread maps and unmaps its windows (sim_dma.c), so
	 * the window found stays while the lock is not held. */
	pthread_mutex_lock(&cl->dma_lock);
	struct sim_win *w = sim_win_find(cl, s.iova, 1);
	if (w && (s.iova - w->addr >= w->size || s.len > w->size - (s.iova - w->addr)))
		w = NULL; /* not inside one window */
	pthread_mutex_unlock(&cl->dma_lock);
	if (!w)
		return sim_send_error(cl, r->hdr, ENOENT);
	uint64_t off = s.iova - w->addr;
	struct vfu_udd_dma_sync rep = { .iova = s.iova, .len = 0, .dir = s.dir };
	if (!w->bounce) /* the device reaches the client's memory (or messages) */
		return sim_send_reply(cl, r->hdr, &rep, sizeof(rep), NULL, 0, NULL, 0);
	if (to_dev) {
		memcpy(w->bounce + off, r->p + sizeof(s), (size_t)s.len);
		__atomic_thread_fence(__ATOMIC_SEQ_CST); /* before the device is told */
		return sim_send_reply(cl, r->hdr, &rep, sizeof(rep), NULL, 0, NULL, 0);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST); /* after the device said it wrote */
	rep.len = s.len;
	return sim_send_reply(cl, r->hdr, &rep, sizeof(rep), w->bounce + off, (size_t)s.len, NULL,
			      0);
}
