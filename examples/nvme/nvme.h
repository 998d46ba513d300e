/* SPDX-License-Identifier: MIT */
/*
 * libudd_nvme: a small user-space NVMe driver on udd's public API
 * (udd/udd.h), written to read like the NVM Express Base Specification 1.4
 * (section numbers in nvme.c). Layouts: udd/nvme_spec.h.
 *
 * Return convention: 0 success; a positive value is an NVMe status as
 * (SCT << 8) | SC (nvme_status_str() names it); a negative value is -errno.
 *
 * Threads: the controller object may be shared; the admin queue is
 * serialized by a mutex. An I/O queue pair belongs to one thread.
 */
#ifndef UDD_EXAMPLES_NVME_H
#define UDD_EXAMPLES_NVME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <udd/nvme_spec.h>
#include <udd/udd.h>

struct nvme_ctrl;
struct nvme_ioq;

struct nvme_opts {
	bool irq;           /* MSI-X completion interrupts (else polling) */
	unsigned nr_ioqs;   /* I/O queue pairs to ask for (Number of Queues), default 1 */
};

/* DMA memory for data: one contiguous IOVA range. */
struct nvme_buf {
	void *va;
	uint64_t iova;
	size_t size;
	udd_mem_t *mem;
	udd_dma_t *dma;
};

/* One completed command, as nvme_poll() reports it. */
struct nvme_done {
	void *tag;       /* as given to the submit call */
	uint16_t status; /* (SCT << 8) | SC; 0 success */
	uint32_t dw0;
};

/* Borrow @fdid exclusively, reset and enable the controller, identify it
 * and its first namespace. -errno, or an NVMe status of an admin command. */
int nvme_open(udd_ctx_t *ctx, udd_fdid_t fdid, const struct nvme_opts *o, struct nvme_ctrl **out);
/* Shut down (CC.SHN normal, wait for CSTS.SHST complete), return the device. */
void nvme_close(struct nvme_ctrl *c);
/* Controller reset and re-initialization (after a function reset or a fatal
 * status): every I/O queue is lost (nvme_ioq_delete() still frees them). */
int nvme_reinit(struct nvme_ctrl *c);
/* Normal shutdown (7.6.2) without returning the device: CSTS.SHST complete,
 * or -errno. nvme_reinit() enables the controller again. */
int nvme_shutdown(struct nvme_ctrl *c);

udd_dev_t *nvme_dev(struct nvme_ctrl *c);
const struct nvme_id_ctrl *nvme_id(const struct nvme_ctrl *c);
const struct nvme_id_ns *nvme_ns(const struct nvme_ctrl *c); /* namespace 1 */
uint64_t nvme_ns_blocks(const struct nvme_ctrl *c);          /* namespace 1 */
uint32_t nvme_lba_size(const struct nvme_ctrl *c);
uint32_t nvme_max_xfer(const struct nvme_ctrl *c);           /* bytes per command (MDTS) */
uint64_t nvme_cap(const struct nvme_ctrl *c);
uint32_t nvme_csts(struct nvme_ctrl *c);
unsigned nvme_nr_ioqs(const struct nvme_ctrl *c);            /* granted by Number of Queues */

int nvme_buf_alloc(struct nvme_ctrl *c, size_t size, struct nvme_buf *b);
void nvme_buf_free(struct nvme_buf *b);

/* An admin command, synchronously; @buf (or NULL) for its data, @len bytes
 * from its start; @dw0 (or NULL) receives DW0 of the completion. The
 * command's CID and PRPs are filled in. */
int nvme_admin(struct nvme_ctrl *c, struct nvme_sqe *cmd, const struct nvme_buf *buf, size_t len,
	       uint32_t *dw0);

/* Create an I/O queue pair of @depth entries (2..CAP.MQES+1) with the next
 * free queue id; in irq mode its CQ interrupts on MSI-X vector qid. */
int nvme_ioq_create(struct nvme_ctrl *c, uint32_t depth, struct nvme_ioq **out);
int nvme_ioq_delete(struct nvme_ioq *q);
uint16_t nvme_ioq_id(const struct nvme_ioq *q);
uint32_t nvme_ioq_inflight(const struct nvme_ioq *q);

/* Submit a command on @q (its CID is chosen; data PRPs from @buf at @off,
 * @len bytes, when buf is not NULL). -EBUSY: the queue is full. */
int nvme_submit(struct nvme_ioq *q, struct nvme_sqe *cmd, const struct nvme_buf *buf, size_t off,
		size_t len, void *tag);
/* Read/Write @nlb blocks at @slba of namespace @nsid from/to @buf at @off. */
int nvme_submit_rw(struct nvme_ioq *q, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
		   const struct nvme_buf *buf, size_t off, void *tag);
/* Reap up to @max completions (never blocks); returns how many, or -ESTALE
 * if the controller was reset since the queue was created. */
int nvme_poll(struct nvme_ioq *q, struct nvme_done *out, int max);
/* Wait for at least one completion (irq: the queue's vector; else spin
 * with yields), up to @timeout_ms (-1: forever); returns how many, or
 * -ETIMEDOUT, -ESTALE (reset since), -EIO (CSTS.CFS). */
int nvme_wait(struct nvme_ioq *q, struct nvme_done *out, int max, int timeout_ms);
/* Submit and wait for one command: its status (0, > 0) or -errno. */
int nvme_sync(struct nvme_ioq *q, struct nvme_sqe *cmd, const struct nvme_buf *buf, size_t off,
	      size_t len, uint32_t *dw0);
int nvme_rw_sync(struct nvme_ioq *q, uint8_t opc, uint32_t nsid, uint64_t slba, uint32_t nlb,
		 const struct nvme_buf *buf, size_t off);

const char *nvme_status_str(int status);

#endif
