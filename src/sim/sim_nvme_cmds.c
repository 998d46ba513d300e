/* SPDX-License-Identifier: MIT */
/*
 * The simulated NVMe controller's commands: data transfer by PRPs (4.3),
 * admin commands (5) and NVM commands (6). See sim_nvme.c.
 */
#include "sim_nvme_priv.h"

/* ---- data transfer: PRPs (4.3) --------------------------------------------- */

/* Record the DMA that failed, for sim_dma_fault() once the lock is free. */
static void xfer_fault(struct xfer *x, uint64_t iova, uint32_t len, bool write)
{
	x->fault = true;
	x->fault_iova = iova;
	x->fault_len = len;
	x->fault_write = write;
}

static void seg_add(struct xfer *x, uint64_t iova, uint32_t len)
{
	if (x->n && x->s[x->n - 1].iova + x->s[x->n - 1].len == iova)
		x->s[x->n - 1].len += len;
	else
		x->s[x->n++] = (struct seg){ iova, len };
}

/* Build the segments of a @len-byte transfer from PRP1/PRP2. Every loop is
 * bounded by the pages of the transfer (at most NV_MAX_SEGS entries). */
static uint16_t prp_build(struct sim_dev *d, uint64_t client, uint64_t prp1, uint64_t prp2,
			  uint32_t len, struct xfer *x)
{
	x->n = 0;
	x->fault = false;
	if (!len)
		return NVME_SC_SUCCESS;
	if (prp1 & 3) /* 4.3: the offset of PRP1 is dword aligned */
		return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
	uint32_t first = NV_PAGE - (uint32_t)(prp1 & (NV_PAGE - 1));
	if (first > len)
		first = len;
	seg_add(x, prp1, first);
	uint32_t rem = len - first;
	if (!rem)
		return NVME_SC_SUCCESS;
	if (rem <= NV_PAGE) { /* PRP2 is the second page */
		if (prp2 & (NV_PAGE - 1))
			return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
		seg_add(x, prp2, rem);
		return NVME_SC_SUCCESS;
	}
	/* PRP2 points to a PRP list (qword aligned; it may start inside a page;
	 * the last entry of a full list page points to the next list page) */
	uint64_t list = prp2;
	uint64_t ent[NV_PAGE / 8];
	for (unsigned pages = 0; rem && pages <= NV_MAX_SEGS; pages++) {
		if (list & 7)
			return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
		uint32_t room = (NV_PAGE - (uint32_t)(list & (NV_PAGE - 1))) / 8;
		uint32_t need = (rem + NV_PAGE - 1) / NV_PAGE;
		uint32_t take = need <= room ? need : room; /* entries read from this page */
		if (sim_dma_read(d, client, list, ent, (size_t)take * 8)) {
			xfer_fault(x, list, take * 8, false);
			return SC_GEN(NVME_SC_DATA_XFER_ERROR);
		}
		uint32_t data = need <= room ? take : take - 1;
		for (uint32_t i = 0; i < data; i++) {
			if (ent[i] & (NV_PAGE - 1))
				return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
			uint32_t l = rem < NV_PAGE ? rem : NV_PAGE;
			seg_add(x, ent[i], l);
			rem -= l;
		}
		if (rem)
			list = ent[take - 1];
	}
	return rem ? SC_GEN(NVME_SC_INVALID_FIELD) : NVME_SC_SUCCESS;
}

/* Move @len bytes between n->buf and the segments. */
static uint16_t xfer_dma(struct sim_dev *d, uint64_t client, struct xfer *x, void *buf,
			 bool to_host)
{
	uint8_t *p = buf;
	for (unsigned i = 0; i < x->n; i++) {
		int rc = to_host ? sim_dma_write(d, client, x->s[i].iova, p, x->s[i].len)
				 : sim_dma_read(d, client, x->s[i].iova, p, x->s[i].len);
		if (rc) {
			xfer_fault(x, x->s[i].iova, x->s[i].len, to_host);
			return SC_GEN(NVME_SC_DATA_XFER_ERROR);
		}
		p += x->s[i].len;
	}
	return NVME_SC_SUCCESS;
}

/* Transfer @len bytes of @buf to/from the command's PRPs. */
static uint16_t data_xfer(struct sim_dev *d, uint64_t client, const struct nvme_sqe *c,
			  void *buf, uint32_t len, bool to_host, struct xfer *x)
{
	if (NVME_SQE_PSDT(c->flags)) /* SGLs are not supported (SGLS = 0) */
		return SC_GEN(NVME_SC_INVALID_FIELD);
	uint16_t st = prp_build(d, client, c->prp1, c->prp2, len, x);
	if (st)
		return st;
	return xfer_dma(d, client, x, buf, to_host);
}

/* ---- admin commands (5) ---------------------------------------------------- */
static void pad(char *dst, size_t cap, const char *s)
{
	memset(dst, ' ', cap);
	size_t l = strlen(s);
	memcpy(dst, s, l < cap ? l : cap);
}

static void id_ctrl(struct sim_dev *d, struct nvme *n, struct nvme_id_ctrl *id)
{
	memset(id, 0, sizeof(*id));
	id->vid = 0x1b36;
	id->ssvid = 0x1af4;
	pad(id->sn, sizeof(id->sn), n->sn);
	pad(id->mn, sizeof(id->mn), "udd-sim NVMe Ctrl");
	pad(id->fr, sizeof(id->fr), "1.0");
	id->rab = 6;
	id->ieee[0] = 0x00, id->ieee[1] = 0x54, id->ieee[2] = 0x52; /* as QEMU */
	id->mdts = NV_MDTS;
	id->ver = NVME_VS_1_4;
	id->cntrltype = 1; /* I/O controller */
	id->acl = 3;
	id->aerl = NV_AERL;
	id->frmw = 0x03; /* one slot, slot 1 read-only */
	id->lpa = 0;
	id->elpe = 0;    /* one error log entry */
	id->npss = 0;
	id->wctemp = 0x0157;
	id->cctemp = 0x0175;
	id->sqes = (NVME_SQES_LOG2 << 4) | NVME_SQES_LOG2;
	id->cqes = (NVME_CQES_LOG2 << 4) | NVME_CQES_LOG2;
	id->nn = n->nns;
	id->oncs = NVME_ONCS_DSM | NVME_ONCS_WRITE_ZEROES;
	id->vwc = 1;
	snprintf(id->subnqn, sizeof(id->subnqn), "nqn.2019-08.org.qemu:%s", n->sn);
	id->psd[0].mp = 2500; /* 25 W */
	(void)d;
}

static void id_ns(struct nvme *n, unsigned nsid, struct nvme_id_ns *id)
{
	memset(id, 0, sizeof(*id));
	const struct nv_ns *ns = &n->ns[nsid - 1];
	id->nsze = id->ncap = id->nuse = ns->nlb;
	id->nsfeat = 0;
	id->nlbaf = 0;
	id->flbas = 0;
	id->dlfeat = 0x09; /* deallocated blocks read zeroes; Write Zeroes may deallocate */
	id->lbaf[0].lbads = NV_LBA_SHIFT;
	uint64_t h = 0xcbf29ce484222325ull; /* EUI-64 from the serial and nsid */
	for (const char *p = n->sn; *p; p++)
		h = (h ^ (uint8_t)*p) * 0x100000001b3ull;
	h = (h ^ nsid) * 0x100000001b3ull;
	memcpy(id->eui64, &h, 8);
	id->eui64[0] = 0x52; /* QEMU's OUI 525400 */
	id->eui64[1] = 0x54;
	id->eui64[2] = 0x00;
}

static void put128(uint8_t *p, uint64_t v)
{
	memset(p, 0, 16);
	memcpy(p, &v, 8);
}

static uint16_t adm_identify(struct sim_dev *d, struct nvme *n, uint64_t client,
			     const struct nvme_sqe *c, struct xfer *x)
{
	uint8_t *b = n->buf;
	unsigned cns = c->cdw10 & 0xff;
	memset(b, 0, NVME_IDENTIFY_SIZE);
	switch (cns) {
	case NVME_CNS_NS:
		if (c->nsid == 0 || c->nsid > n->nns)
			return SC_GEN(NVME_SC_INVALID_NS);
		id_ns(n, c->nsid, (struct nvme_id_ns *)(void *)b);
		break;
	case NVME_CNS_CTRL:
		id_ctrl(d, n, (struct nvme_id_ctrl *)(void *)b);
		break;
	case NVME_CNS_NS_LIST: {
		if (c->nsid >= 0xfffffffeu)
			return SC_GEN(NVME_SC_INVALID_NS);
		unsigned k = 0;
		for (unsigned i = 1; i <= n->nns; i++)
			if (i > c->nsid)
				put32(b + 4 * k++, i);
		break;
	}
	default:
		return SC_GEN(NVME_SC_INVALID_FIELD);
	}
	return data_xfer(d, client, c, b, NVME_IDENTIFY_SIZE, true, x);
}

static uint16_t adm_get_log(struct sim_dev *d, struct nvme *n, uint64_t client,
			    const struct nvme_sqe *c, struct xfer *x)
{
	unsigned lid = c->cdw10 & 0xff;
	uint64_t numd = ((uint64_t)(c->cdw11 & 0xffff) << 16 | (c->cdw10 >> 16)) + 1;
	uint64_t off = (uint64_t)c->cdw13 << 32 | c->cdw12;
	uint64_t len = numd * 4;
	uint32_t size;
	if (len > NV_PAGE)
		return SC_GEN(NVME_SC_INVALID_FIELD);
	uint8_t *b = n->buf;
	memset(b, 0, 2 * NV_PAGE);
	switch (lid) {
	case NVME_LOG_ERROR:
		size = NVME_ERROR_LOG_ENTRY_SIZE * 1; /* ELPE + 1 entries, all empty */
		break;
	case NVME_LOG_SMART: {
		struct nvme_smart_log *s = (struct nvme_smart_log *)(void *)b;
		size = sizeof(*s);
		uint16_t t = 0x0143; /* 323 K */
		memcpy(&s->temperature, &t, 2);
		s->avail_spare = 100;
		s->spare_thresh = 10;
		put128(s->data_units_read, (n->units_read + 999) / 1000);
		put128(s->data_units_written, (n->units_written + 999) / 1000);
		put128(s->host_reads, n->host_reads);
		put128(s->host_writes, n->host_writes);
		put128(s->power_cycles, 1);
		break;
	}
	case NVME_LOG_FW_SLOT:
		size = 512;
		b[0] = 1; /* active slot 1 */
		memcpy(b + 8, "1.0     ", 8);
		break;
	default:
		return SC_CMD(NVME_SC_INVALID_LOG_PAGE);
	}
	if (off & 3 || off > size)
		return SC_GEN(NVME_SC_INVALID_FIELD);
	return data_xfer(d, client, c, b + off, (uint32_t)len, true, x);
}

/* 5.3/5.4/5.5/5.6: queue management (device lock held). */
static uint16_t adm_queue(struct sim_dev *d, struct nvme *n, const struct nvme_sqe *c)
{
	unsigned qid = c->cdw10 & 0xffff;
	uint32_t qsize = (c->cdw10 >> 16) + 1;
	switch (c->opc) {
	case NVME_ADM_CREATE_CQ: {
		unsigned iv = c->cdw11 >> 16;
		if (qid == 0 || qid > n->ncqa || n->cq[qid].live)
			return SC_CMD(NVME_SC_INVALID_QID);
		if (qsize < 2 || qsize > NV_MQES + 1)
			return SC_CMD(NVME_SC_INVALID_QSIZE);
		if (!(c->cdw11 & NVME_QUEUE_PC) || NVME_CC_IOCQES(n->cc) != NVME_CQES_LOG2)
			return SC_GEN(NVME_SC_INVALID_FIELD);
		if (!c->prp1 || (c->prp1 & (NV_PAGE - 1)))
			return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
		if ((c->cdw11 & NVME_CQ_IEN) && iv >= NV_NVEC)
			return SC_CMD(NVME_SC_INVALID_VECTOR);
		n->cq[qid] = (struct nv_cq){ .live = true, .phase = true,
					     .ien = (c->cdw11 & NVME_CQ_IEN) != 0, .base = c->prp1,
					     .size = qsize, .iv = (uint16_t)iv };
		db_clear(d, NVME_CQ_HDBL(qid, 0));
		n->io_queues_made = true;
		return NVME_SC_SUCCESS;
	}
	case NVME_ADM_CREATE_SQ: {
		unsigned cqid = c->cdw11 >> 16;
		if (qid == 0 || qid > n->nsqa || n->sq[qid].live)
			return SC_CMD(NVME_SC_INVALID_QID);
		if (cqid == 0 || cqid > NV_MAX_QID || !n->cq[cqid].live)
			return SC_CMD(NVME_SC_CQ_INVALID);
		if (qsize < 2 || qsize > NV_MQES + 1)
			return SC_CMD(NVME_SC_INVALID_QSIZE);
		if (!(c->cdw11 & NVME_QUEUE_PC) || NVME_CC_IOSQES(n->cc) != NVME_SQES_LOG2)
			return SC_GEN(NVME_SC_INVALID_FIELD);
		if (!c->prp1 || (c->prp1 & (NV_PAGE - 1)))
			return SC_GEN(NVME_SC_INVALID_PRP_OFFSET);
		n->sq[qid] = (struct nv_sq){ .live = true, .base = c->prp1, .size = qsize,
					     .cqid = (uint16_t)cqid };
		n->cq[cqid].nsq++;
		db_clear(d, NVME_SQ_TDBL(qid, 0));
		n->io_queues_made = true;
		return NVME_SC_SUCCESS;
	}
	case NVME_ADM_DELETE_SQ:
		if (qid == 0 || qid > NV_MAX_QID || !n->sq[qid].live)
			return SC_CMD(NVME_SC_INVALID_QID);
		n->cq[n->sq[qid].cqid].nsq--;
		n->sq[qid].live = false;
		return NVME_SC_SUCCESS;
	case NVME_ADM_DELETE_CQ:
		if (qid == 0 || qid > NV_MAX_QID || !n->cq[qid].live)
			return SC_CMD(NVME_SC_INVALID_QID);
		if (n->cq[qid].nsq)
			return SC_CMD(NVME_SC_INVALID_QUEUE_DELETION);
		n->cq[qid].live = false;
		return NVME_SC_SUCCESS;
	}
	return SC_GEN(NVME_SC_INVALID_OPCODE);
}

/* 5.12 Get Features / 5.21 Set Features (device lock held). */
static uint16_t adm_features(struct nvme *n, const struct nvme_sqe *c, struct nv_res *r)
{
	unsigned fid = c->cdw10 & 0xff;
	bool set = c->opc == NVME_ADM_SET_FEATURES;
	if (set && (c->cdw10 >> 31))
		return SC_CMD(NVME_SC_FEATURE_NOT_SAVEABLE); /* SV: nothing is saveable */
	unsigned sel = (c->cdw10 >> 8) & 7;
	if (!set && sel > 3)
		return SC_GEN(NVME_SC_INVALID_FIELD);
	switch (fid) {
	case NVME_FEAT_NUM_QUEUES:
		if (set) {
			unsigned nsqr = c->cdw11 & 0xffff, ncqr = c->cdw11 >> 16;
			if (nsqr == 0xffff || ncqr == 0xffff)
				return SC_GEN(NVME_SC_INVALID_FIELD);
			if (n->io_queues_made)
				return SC_GEN(NVME_SC_CMD_SEQ_ERROR);
			n->nsqa = nsqr + 1 < NV_MAX_QID ? nsqr + 1 : NV_MAX_QID;
			n->ncqa = ncqr + 1 < NV_MAX_QID ? ncqr + 1 : NV_MAX_QID;
		}
		r->dw0 = (n->ncqa - 1) << 16 | (n->nsqa - 1);
		if (!set && sel == 1)
			r->dw0 = (NV_MAX_QID - 1) << 16 | (NV_MAX_QID - 1);
		return NVME_SC_SUCCESS;
	case NVME_FEAT_IRQ_CONFIG: {
		unsigned iv = c->cdw11 & 0xffff;
		if (iv >= NV_NVEC)
			return SC_GEN(NVME_SC_INVALID_FIELD);
		if (set)
			n->ivc[iv] = c->cdw11 & 0x1ffff;
		r->dw0 = n->ivc[iv];
		return NVME_SC_SUCCESS;
	}
	case NVME_FEAT_ARBITRATION:
	case NVME_FEAT_POWER_MGMT:
	case NVME_FEAT_TEMP_THRESH:
	case NVME_FEAT_ERROR_RECOVERY:
	case NVME_FEAT_VOLATILE_WC:
	case NVME_FEAT_IRQ_COALESCE: /* stored; completions are never coalesced */
	case NVME_FEAT_WRITE_ATOMIC:
	case NVME_FEAT_ASYNC_EVENT:
		if (set)
			n->feat[fid] = c->cdw11;
		r->dw0 = n->feat[fid];
		if (!set && sel == 3)
			r->dw0 = 1u << 2; /* changeable, not saveable */
		return NVME_SC_SUCCESS;
	}
	return SC_GEN(NVME_SC_INVALID_FIELD);
}

uint16_t exec_admin(struct sim_dev *d, struct nvme *n, uint64_t client, uint32_t gen,
			   const struct nvme_sqe *c, struct nv_res *r, struct xfer *x)
{
	uint16_t st;
	switch (c->opc) {
	case NVME_ADM_IDENTIFY:
		return adm_identify(d, n, client, c, x);
	case NVME_ADM_GET_LOG_PAGE:
		return adm_get_log(d, n, client, c, x);
	case NVME_ADM_ABORT:
		r->dw0 = 1; /* 5.1: the command was not aborted (it completes anyway) */
		return NVME_SC_SUCCESS;
	case NVME_ADM_CREATE_CQ:
	case NVME_ADM_CREATE_SQ:
	case NVME_ADM_DELETE_CQ:
	case NVME_ADM_DELETE_SQ:
	case NVME_ADM_GET_FEATURES:
	case NVME_ADM_SET_FEATURES:
	case NVME_ADM_AER:
		pthread_mutex_lock(&d->lock);
		if (gen != n->gen) {
			st = SC_GEN(NVME_SC_ABORT_SQ_DELETED); /* dropped anyway */
		} else if (c->opc == NVME_ADM_AER) {
			/* 5.2: held until an event; none is ever generated */
			if (n->aer_held > NV_AERL) {
				st = SC_CMD(NVME_SC_AER_LIMIT);
			} else {
				n->aer_held++;
				r->hold = true;
				st = NVME_SC_SUCCESS;
			}
		} else if (c->opc == NVME_ADM_GET_FEATURES || c->opc == NVME_ADM_SET_FEATURES) {
			st = adm_features(n, c, r);
		} else {
			st = adm_queue(d, n, c);
		}
		pthread_mutex_unlock(&d->lock);
		return st;
	}
	return SC_GEN(NVME_SC_INVALID_OPCODE);
}

/* ---- NVM commands (6) ---------------------------------------------------------- */
static uint16_t io_flush(struct nvme *n, uint32_t nsid)
{
	if (nsid == 0xffffffffu) {
		for (unsigned i = 0; i < n->nns; i++)
			fdatasync(n->ns[i].fd);
		return NVME_SC_SUCCESS;
	}
	if (fdatasync(n->ns[nsid - 1].fd) < 0 && errno != EINVAL)
		return SC_GEN(NVME_SC_INTERNAL);
	return NVME_SC_SUCCESS;
}

/* Zero [slba, slba+nlb): punch a hole, else write zeroes. */
static uint16_t io_zero(struct nvme *n, const struct nv_ns *ns, uint64_t slba, uint64_t nlb)
{
	off_t off = (off_t)(slba << NV_LBA_SHIFT), len = (off_t)(nlb << NV_LBA_SHIFT);
	if (fallocate(ns->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len) == 0)
		return NVME_SC_SUCCESS;
	memset(n->buf, 0, NV_MAX_XFER);
	while (len > 0) {
		size_t l = len < (off_t)NV_MAX_XFER ? (size_t)len : NV_MAX_XFER;
		if (pwrite(ns->fd, n->buf, l, off) != (ssize_t)l)
			return SC_GEN(NVME_SC_INTERNAL);
		off += (off_t)l, len -= (off_t)l;
	}
	return NVME_SC_SUCCESS;
}

uint16_t exec_io(struct sim_dev *d, struct nvme *n, uint64_t client,
			const struct nvme_sqe *c, struct xfer *x)
{
	if (c->opc == NVME_CMD_FLUSH && c->nsid == 0xffffffffu)
		return io_flush(n, c->nsid);
	if (c->opc != NVME_CMD_FLUSH && c->opc != NVME_CMD_WRITE && c->opc != NVME_CMD_READ &&
	    c->opc != NVME_CMD_WRITE_ZEROES && c->opc != NVME_CMD_DSM)
		return SC_GEN(NVME_SC_INVALID_OPCODE);
	if (c->nsid == 0 || c->nsid > n->nns)
		return SC_GEN(NVME_SC_INVALID_NS);
	if (NVME_SQE_FUSE(c->flags))
		return SC_GEN(NVME_SC_INVALID_FIELD); /* fused operations: not supported */
	const struct nv_ns *ns = &n->ns[c->nsid - 1];
	uint64_t slba = (uint64_t)c->cdw11 << 32 | c->cdw10;
	uint64_t nlb = (c->cdw12 & 0xffff) + 1u;
	switch (c->opc) {
	case NVME_CMD_FLUSH:
		return io_flush(n, c->nsid);
	case NVME_CMD_READ:
	case NVME_CMD_WRITE: {
		if (slba >= ns->nlb || nlb > ns->nlb - slba)
			return SC_GEN(NVME_SC_LBA_RANGE);
		if (nlb << NV_LBA_SHIFT > NV_MAX_XFER)
			return SC_GEN(NVME_SC_INVALID_FIELD); /* over MDTS */
		uint32_t len = (uint32_t)(nlb << NV_LBA_SHIFT);
		off_t off = (off_t)(slba << NV_LBA_SHIFT);
		if (c->opc == NVME_CMD_WRITE) {
			uint16_t st = data_xfer(d, client, c, n->buf, len, false, x);
			if (st)
				return st;
			if (pwrite(ns->fd, n->buf, len, off) != (ssize_t)len)
				return SC_GEN(NVME_SC_INTERNAL);
			n->host_writes++;
			n->units_written += nlb;
			return NVME_SC_SUCCESS;
		}
		ssize_t got = pread(ns->fd, n->buf, len, off);
		if (got < 0)
			return SC_GEN(NVME_SC_INTERNAL);
		if ((uint32_t)got < len) /* the file shrank under us: zeroes */
			memset(n->buf + got, 0, len - (uint32_t)got);
		n->host_reads++;
		n->units_read += nlb;
		return data_xfer(d, client, c, n->buf, len, true, x);
	}
	case NVME_CMD_WRITE_ZEROES:
		if (slba >= ns->nlb || nlb > ns->nlb - slba)
			return SC_GEN(NVME_SC_LBA_RANGE);
		return io_zero(n, ns, slba, nlb);
	case NVME_CMD_DSM: {
		uint32_t nr = (c->cdw10 & 0xff) + 1;
		struct nvme_dsm_range *rg = (struct nvme_dsm_range *)(void *)n->buf;
		uint16_t st = data_xfer(d, client, c, rg, nr * 16, false, x);
		if (st)
			return st;
		struct nvme_dsm_range copy[256];
		memcpy(copy, rg, nr * sizeof(copy[0]));
		for (uint32_t i = 0; i < nr; i++)
			if (copy[i].slba >= ns->nlb || copy[i].nlb > ns->nlb - copy[i].slba)
				return SC_GEN(NVME_SC_LBA_RANGE);
		if (!(c->cdw11 & NVME_DSM_AD))
			return NVME_SC_SUCCESS; /* hints only */
		for (uint32_t i = 0; i < nr; i++)
			if (copy[i].nlb && (st = io_zero(n, ns, copy[i].slba, copy[i].nlb)))
				return st;
		return NVME_SC_SUCCESS;
	}
	}
	return SC_GEN(NVME_SC_INVALID_OPCODE);
}

