/* SPDX-License-Identifier: MIT */
/*
 * udd's SISCI layer: DMA queues — a CPU copy engine. There is no DMA engine
 * between segments of this node, so a transfer is a memcpy (or register
 * accesses, for a BAR segment) done when it is started; the queue is DONE
 * when SCIStartDmaTransfer returns, and the callback, if any, has run on
 * the calling thread by then.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "sisci_int.h"

struct sci_dma_queue {
	uint32_t magic;
	struct sci_desc *sd;
	unsigned int max;
	sci_dma_queue_state_t state;
};

#define DQ_OK(q) ((q) && (q)->magic == M_DMAQ)

void SCICreateDMAQueue(sci_desc_t sd, sci_dma_queue_t *dq, unsigned int localAdapterNo,
		       unsigned int maxEntries, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!dq || !sd || sd->magic != M_DESC || maxEntries == 0) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (localAdapterNo != 0) {
		SET_ERR(error, SCI_ERR_NO_SUCH_ADAPTERNO);
		return;
	}
	struct sci_dma_queue *q = calloc(1, sizeof(*q));
	if (!q) {
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return;
	}
	q->magic = M_DMAQ;
	q->sd = sd;
	q->max = maxEntries;
	q->state = SCI_DMAQUEUE_IDLE;
	pthread_mutex_lock(&sci_g.lock);
	sd->nres++;
	pthread_mutex_unlock(&sci_g.lock);
	*dq = q;
	SET_ERR(error, SCI_ERR_OK);
}

void SCIRemoveDMAQueue(sci_dma_queue_t dq, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!DQ_OK(dq)) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	dq->magic = 0;
	pthread_mutex_lock(&sci_g.lock);
	dq->sd->nres--;
	pthread_mutex_unlock(&sci_g.lock);
	free(dq);
	SET_ERR(error, SCI_ERR_OK);
}

/* Copy one element. Lock held. */
static sci_error_t copy_one(struct sci_local_segment *l, struct sci_remote_segment *r, size_t loff,
			    size_t size, size_t roff, int read)
{
	if (loff > l->size || size > l->size - loff || roff > r->size || size > r->size - roff)
		return SCI_ERR_OUT_OF_RANGE;
	char *lp = (char *)l->base + loff;
	if (r->kind == RS_MEM) {
		if (!r->base) {
			void *p = mmap(NULL, sci_round_page(r->size), PROT_READ | PROT_WRITE,
				       MAP_SHARED, r->fd, 0);
			if (p == MAP_FAILED)
				return sci_from_errno(errno);
			r->base = p;
		}
		char *rp = (char *)r->base + roff;
		if (read)
			memcpy(lp, rp, size);
		else
			memcpy(rp, lp, size);
		return SCI_ERR_OK;
	}
	udd_acc_t *acc = NULL;
	int rc = udd_regs_map_bar(r->dev->udd, r->bar, 0, 0, NULL, &acc);
	if (rc < 0)
		return sci_from_errno(rc);
	for (size_t i = 0; i < size;) {
		uint64_t o = roff + i;
		if (o % 4 == 0 && size - i >= 4) {
			uint32_t v;
			if (read) {
				v = udd_get32(acc, o);
				memcpy(lp + i, &v, 4);
			} else {
				memcpy(&v, lp + i, 4);
				udd_put32(acc, o, v);
			}
			i += 4;
		} else {
			if (read)
				lp[i] = (char)udd_get8(acc, o);
			else
				udd_put8(acc, o, (uint8_t)lp[i]);
			i++;
		}
	}
	rc = udd_acc_check(acc);
	udd_regs_unmap(acc);
	return rc < 0 ? SCI_ERR_TRANSFER_FAILED : SCI_ERR_OK;
}

void SCIStartDmaTransferVec(sci_dma_queue_t dq, sci_local_segment_t localSegment,
			    sci_remote_segment_t remoteSegment, size_t vecLength,
			    dis_dma_vec_t *disDmaVec, sci_cb_dma_t callback, void *callbackArg,
			    unsigned int flags, sci_error_t *error)
{
	if (!DQ_OK(dq) || !disDmaVec || vecLength == 0) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if ((flags & SCI_FLAG_USE_CALLBACK) && !callback) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (vecLength > dq->max) {
		SET_ERR(error, SCI_ERR_MAX_ENTRIES);
		return;
	}
	if (dq->state == SCI_DMAQUEUE_POSTED) {
		SET_ERR(error, SCI_ERR_BUSY);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	sci_error_t e = SCI_ERR_OK;
	if (!localSegment || localSegment->magic != M_LSEG || !remoteSegment ||
	    remoteSegment->magic != M_RSEG)
		e = SCI_ERR_ILLEGAL_PARAMETER;
	else if (!localSegment->base)
		e = SCI_ERR_ILLEGAL_OPERATION;
	for (size_t i = 0; e == SCI_ERR_OK && i < vecLength; i++)
		e = copy_one(localSegment, remoteSegment, disDmaVec[i].local_offset,
			     disDmaVec[i].size, disDmaVec[i].remote_offset,
			     (flags & SCI_FLAG_DMA_READ) != 0);
	pthread_mutex_unlock(&sci_g.lock);
	if (e == SCI_ERR_ILLEGAL_PARAMETER || e == SCI_ERR_ILLEGAL_OPERATION ||
	    e == SCI_ERR_OUT_OF_RANGE) {
		SET_ERR(error, e);
		return;
	}
	__asm__ __volatile__("mfence" ::: "memory");
	dq->state = e == SCI_ERR_OK ? SCI_DMAQUEUE_DONE : SCI_DMAQUEUE_ERROR;
	if (flags & SCI_FLAG_USE_CALLBACK)
		callback(callbackArg, dq, e);
	SET_ERR(error, e);
}

void SCIStartDmaTransfer(sci_dma_queue_t dq, sci_local_segment_t localSegment,
			 sci_remote_segment_t remoteSegment, size_t localOffset, size_t size,
			 size_t remoteOffset, sci_cb_dma_t callback, void *callbackArg,
			 unsigned int flags, sci_error_t *error)
{
	dis_dma_vec_t v = { .size = size, .local_offset = localOffset, .remote_offset = remoteOffset };
	if (size == 0) {
		SET_ERR(error, SCI_ERR_SIZE_ALIGNMENT);
		return;
	}
	SCIStartDmaTransferVec(dq, localSegment, remoteSegment, 1, &v, callback, callbackArg, flags,
			       error);
}

sci_dma_queue_state_t SCIWaitForDMAQueue(sci_dma_queue_t dq, unsigned int timeout,
					 unsigned int flags, sci_error_t *error)
{
	(void)timeout;
	(void)flags;
	if (!DQ_OK(dq)) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return SCI_DMAQUEUE_ERROR;
	}
	SET_ERR(error, dq->state == SCI_DMAQUEUE_ERROR ? SCI_ERR_TRANSFER_FAILED : SCI_ERR_OK);
	return dq->state;
}

sci_dma_queue_state_t SCIDMAQueueState(sci_dma_queue_t dq)
{
	return DQ_OK(dq) ? dq->state : SCI_DMAQUEUE_ERROR;
}

void SCIAbortDMAQueue(sci_dma_queue_t dq, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!DQ_OK(dq)) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (dq->state == SCI_DMAQUEUE_POSTED)
		dq->state = SCI_DMAQUEUE_ABORTED;
	SET_ERR(error, SCI_ERR_OK);
}

/* Dolphin's exported names. */
SCI_ALIASES(SCIAbortDMAQueue)
SCI_ALIASES(SCICreateDMAQueue)
SCI_ALIASES(SCIDMAQueueState)
SCI_ALIASES(SCIRemoveDMAQueue)
SCI_ALIASES(SCIStartDmaTransfer)
SCI_ALIASES(SCIStartDmaTransferVec)
SCI_ALIASES(SCIWaitForDMAQueue)
