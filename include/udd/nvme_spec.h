/* SPDX-License-Identifier: MIT */
/*
 * udd/nvme_spec.h: layouts of the NVM Express Base Specification, revision
 * 1.4, that a controller model (udd-sim's nvme) and a driver
 * (examples/nvme) share. Section and figure numbers are those of 1.4.
 * Every structure's size and every field offset used is pinned with
 * _Static_assert, so a typo cannot silently move a field.
 *
 * Only definitions: no functions, no state. Little-endian host assumed
 * (x86-64, as the rest of udd): structures are the wire layout.
 */
#ifndef UDD_NVME_SPEC_H
#define UDD_NVME_SPEC_H

#include <stddef.h>
#include <stdint.h>

/* ---- 2.1 PCI header: class code 01h/08h/02h (NVM Express) ---------------- */
#define NVME_PCI_CLASS 0x010802u

/* ---- 3.1 Controller registers (BAR0) -------------------------------------- */
#define NVME_REG_CAP 0x00   /* 3.1.1  Controller Capabilities (64 bit) */
#define NVME_REG_VS 0x08    /* 3.1.2  Version */
#define NVME_REG_INTMS 0x0c /* 3.1.3  Interrupt Mask Set */
#define NVME_REG_INTMC 0x10 /* 3.1.4  Interrupt Mask Clear */
#define NVME_REG_CC 0x14    /* 3.1.5  Controller Configuration */
#define NVME_REG_CSTS 0x1c  /* 3.1.6  Controller Status */
#define NVME_REG_NSSR 0x20  /* 3.1.7  NVM Subsystem Reset (optional) */
#define NVME_REG_AQA 0x24   /* 3.1.8  Admin Queue Attributes */
#define NVME_REG_ASQ 0x28   /* 3.1.9  Admin Submission Queue Base Address (64 bit) */
#define NVME_REG_ACQ 0x30   /* 3.1.10 Admin Completion Queue Base Address (64 bit) */
#define NVME_REG_DBS 0x1000 /* 3.1.24 SQ0TDBL: the first doorbell */

/* 3.1.1 CAP fields */
#define NVME_CAP_MQES(cap) ((uint32_t)((cap)&0xffffu))          /* 15:00, 0's based */
#define NVME_CAP_CQR (1ull << 16)                                /* contiguous queues required */
#define NVME_CAP_TO(cap) ((uint32_t)(((cap) >> 24) & 0xffu))    /* 31:24, 500 ms units */
#define NVME_CAP_DSTRD(cap) ((unsigned)(((cap) >> 32) & 0xfu))  /* 35:32 doorbell stride */
#define NVME_CAP_CSS_NVM (1ull << 37)                            /* 44:37 bit 0: NVM command set */
#define NVME_CAP_MPSMIN(cap) ((unsigned)(((cap) >> 48) & 0xfu)) /* 51:48, 2^(12+n) */
#define NVME_CAP_MPSMAX(cap) ((unsigned)(((cap) >> 52) & 0xfu)) /* 55:52 */

/* 3.1.2 VS: MJR 31:16, MNR 15:08, TER 07:00 */
#define NVME_VS_1_4 0x00010400u

/* 3.1.5 CC fields */
#define NVME_CC_EN (1u << 0)
#define NVME_CC_CSS(cc) (((cc) >> 4) & 7u)   /* 06:04, 000b NVM */
#define NVME_CC_MPS(cc) (((cc) >> 7) & 15u)  /* 10:07 */
#define NVME_CC_AMS(cc) (((cc) >> 11) & 7u)  /* 13:11, 000b round robin */
#define NVME_CC_SHN(cc) (((cc) >> 14) & 3u)  /* 15:14 */
#define NVME_CC_IOSQES(cc) (((cc) >> 16) & 15u)
#define NVME_CC_IOCQES(cc) (((cc) >> 20) & 15u)
#define NVME_CC_SHN_NORMAL (1u << 14)
#define NVME_CC_SHN_ABRUPT (2u << 14)
#define NVME_CC_SHN_MASK (3u << 14)
#define NVME_CC_MAKE_IOSQES(n) ((uint32_t)(n) << 16)
#define NVME_CC_MAKE_IOCQES(n) ((uint32_t)(n) << 20)

/* 3.1.6 CSTS fields */
#define NVME_CSTS_RDY (1u << 0)
#define NVME_CSTS_CFS (1u << 1)
#define NVME_CSTS_SHST_MASK (3u << 2)     /* 03:02 */
#define NVME_CSTS_SHST_OCCURRING (1u << 2)
#define NVME_CSTS_SHST_COMPLETE (2u << 2)

/* 3.1.8 AQA: ASQS 11:00, ACQS 27:16, both 0's based */
#define NVME_AQA_ASQS(aqa) ((aqa)&0xfffu)
#define NVME_AQA_ACQS(aqa) (((aqa) >> 16) & 0xfffu)
#define NVME_AQA_MAKE(sq_entries, cq_entries) \
	((uint32_t)((sq_entries)-1) | ((uint32_t)((cq_entries)-1) << 16))

/* 3.1.24/3.1.25: SQyTDBL at 1000h + (2y * (4 << DSTRD)), CQyHDBL at
 * 1000h + ((2y + 1) * (4 << DSTRD)) */
#define NVME_SQ_TDBL(y, dstrd) ((size_t)NVME_REG_DBS + (size_t)(2 * (y)) * ((size_t)4 << (dstrd)))
#define NVME_CQ_HDBL(y, dstrd) \
	((size_t)NVME_REG_DBS + (size_t)(2 * (y) + 1) * ((size_t)4 << (dstrd)))

/* ---- 4.2 Submission Queue Entry (64 bytes), Figure 105/106 ---------------- */
struct nvme_sqe {
	uint8_t opc;   /* CDW0 07:00 opcode */
	uint8_t flags; /* CDW0 15:08: FUSE 09:08, PSDT 15:14 (00b = PRPs) */
	uint16_t cid;  /* CDW0 31:16 command identifier */
	uint32_t nsid; /* 07:04 namespace identifier */
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr; /* 23:16 metadata pointer */
	uint64_t prp1; /* 31:24 PRP entry 1 */
	uint64_t prp2; /* 39:32 PRP entry 2 (or PRP list pointer) */
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "NVMe 1.4 4.2: a command is 64 bytes");
_Static_assert(offsetof(struct nvme_sqe, cid) == 2, "NVMe 1.4 4.2: CID in CDW0 31:16");
_Static_assert(offsetof(struct nvme_sqe, nsid) == 4, "NVMe 1.4 4.2: NSID at 07:04");
_Static_assert(offsetof(struct nvme_sqe, mptr) == 16, "NVMe 1.4 4.2: MPTR at 23:16");
_Static_assert(offsetof(struct nvme_sqe, prp1) == 24, "NVMe 1.4 4.2: PRP1 at 31:24");
_Static_assert(offsetof(struct nvme_sqe, prp2) == 32, "NVMe 1.4 4.2: PRP2 at 39:32");
_Static_assert(offsetof(struct nvme_sqe, cdw10) == 40, "NVMe 1.4 4.2: CDW10 at 43:40");
_Static_assert(offsetof(struct nvme_sqe, cdw15) == 60, "NVMe 1.4 4.2: CDW15 at 63:60");
#define NVME_SQES_LOG2 6
#define NVME_SQE_PSDT(flags) (((flags) >> 6) & 3u)
#define NVME_SQE_FUSE(flags) ((flags)&3u)

/* ---- 4.6 Completion Queue Entry (16 bytes), Figure 121 -------------------- */
struct nvme_cqe {
	uint32_t dw0;    /* command specific */
	uint32_t dw1;    /* reserved */
	uint16_t sqhd;   /* DW2 15:00 SQ head pointer */
	uint16_t sqid;   /* DW2 31:16 SQ identifier */
	uint16_t cid;    /* DW3 15:00 command identifier */
	uint16_t status; /* DW3 31:16: P (16), SC 24:17, SCT 27:25, CRD, M, DNR (31) */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "NVMe 1.4 4.6: a completion is 16 bytes");
_Static_assert(offsetof(struct nvme_cqe, sqhd) == 8, "NVMe 1.4 4.6: SQHD in DW2 15:00");
_Static_assert(offsetof(struct nvme_cqe, sqid) == 10, "NVMe 1.4 4.6: SQID in DW2 31:16");
_Static_assert(offsetof(struct nvme_cqe, cid) == 12, "NVMe 1.4 4.6: CID in DW3 15:00");
_Static_assert(offsetof(struct nvme_cqe, status) == 14, "NVMe 1.4 4.6: P and SF in DW3 31:16");
#define NVME_CQES_LOG2 4

/* The status word (DW3 31:16) */
#define NVME_ST_PHASE(st) ((st)&1u)
#define NVME_ST_SC(st) (((st) >> 1) & 0xffu)
#define NVME_ST_SCT(st) (((st) >> 9) & 7u)
#define NVME_ST_DNR (1u << 15)
/* A status code as (SCT << 8) | SC, the form the driver reports. */
#define NVME_STATUS(sct, sc) ((uint16_t)(((sct) << 8) | (sc)))
#define NVME_ST_CODE(st) ((uint16_t)((NVME_ST_SCT(st) << 8) | NVME_ST_SC(st)))

/* 4.6.1.2.1 Generic Command Status (SCT 0), Figure 126/127 */
#define NVME_SC_SUCCESS 0x00
#define NVME_SC_INVALID_OPCODE 0x01
#define NVME_SC_INVALID_FIELD 0x02
#define NVME_SC_CID_CONFLICT 0x03
#define NVME_SC_DATA_XFER_ERROR 0x04
#define NVME_SC_INTERNAL 0x06
#define NVME_SC_ABORT_REQ 0x07
#define NVME_SC_ABORT_SQ_DELETED 0x08
#define NVME_SC_INVALID_NS 0x0b
#define NVME_SC_CMD_SEQ_ERROR 0x0c
#define NVME_SC_INVALID_PRP_OFFSET 0x13
#define NVME_SC_LBA_RANGE 0x80 /* NVM command set: LBA Out of Range */
#define NVME_SC_CAP_EXCEEDED 0x81
/* 4.6.1.2.2 Command Specific Status (SCT 1), Figure 128 */
#define NVME_SCT_CMD_SPECIFIC 1
#define NVME_SC_CQ_INVALID 0x00
#define NVME_SC_INVALID_QID 0x01
#define NVME_SC_INVALID_QSIZE 0x02
#define NVME_SC_ABORT_LIMIT 0x03
#define NVME_SC_AER_LIMIT 0x05
#define NVME_SC_INVALID_VECTOR 0x08
#define NVME_SC_INVALID_LOG_PAGE 0x09
#define NVME_SC_INVALID_QUEUE_DELETION 0x0c
#define NVME_SC_FEATURE_NOT_SAVEABLE 0x0d

/* ---- 5 Admin Command Set opcodes, Figure 139 ------------------------------- */
#define NVME_ADM_DELETE_SQ 0x00   /* 5.6 */
#define NVME_ADM_CREATE_SQ 0x01   /* 5.4 */
#define NVME_ADM_GET_LOG_PAGE 0x02 /* 5.14 */
#define NVME_ADM_DELETE_CQ 0x04   /* 5.5 */
#define NVME_ADM_CREATE_CQ 0x05   /* 5.3 */
#define NVME_ADM_IDENTIFY 0x06    /* 5.15 */
#define NVME_ADM_ABORT 0x08       /* 5.1 */
#define NVME_ADM_SET_FEATURES 0x09 /* 5.21 */
#define NVME_ADM_GET_FEATURES 0x0a /* 5.12 */
#define NVME_ADM_AER 0x0c         /* 5.2 Asynchronous Event Request */

/* 5.3 Create I/O CQ: CDW10 QSIZE 31:16 (0's based), QID 15:00; CDW11 IV
 * 31:16, IEN bit 1, PC bit 0. 5.4 Create I/O SQ: CDW11 CQID 31:16, QPRIO
 * 02:01, PC bit 0. */
#define NVME_QUEUE_PC (1u << 0)
#define NVME_CQ_IEN (1u << 1)

/* 5.14 Get Log Page: CDW10 LID 07:00, NUMDL 31:16; CDW11 NUMDU 15:00 */
#define NVME_LOG_ERROR 0x01
#define NVME_LOG_SMART 0x02
#define NVME_LOG_FW_SLOT 0x03

/* 5.15 Identify: CDW10 CNS 07:00 */
#define NVME_CNS_NS 0x00
#define NVME_CNS_CTRL 0x01
#define NVME_CNS_NS_LIST 0x02
#define NVME_IDENTIFY_SIZE 4096

/* 5.21.1 Feature identifiers, Figure 271 */
#define NVME_FEAT_ARBITRATION 0x01
#define NVME_FEAT_POWER_MGMT 0x02
#define NVME_FEAT_TEMP_THRESH 0x04
#define NVME_FEAT_ERROR_RECOVERY 0x05
#define NVME_FEAT_VOLATILE_WC 0x06
#define NVME_FEAT_NUM_QUEUES 0x07 /* CDW11/DW0: NSQR 15:00, NCQR 31:16, 0's based */
#define NVME_FEAT_IRQ_COALESCE 0x08
#define NVME_FEAT_IRQ_CONFIG 0x09
#define NVME_FEAT_WRITE_ATOMIC 0x0a
#define NVME_FEAT_ASYNC_EVENT 0x0b

/* ---- 6 NVM Command Set opcodes (NVMe 1.4 6, Figure 346) ------------------- */
#define NVME_CMD_FLUSH 0x00        /* 6.8 */
#define NVME_CMD_WRITE 0x01        /* 6.15: CDW10/11 SLBA, CDW12 NLB 15:00 0's based */
#define NVME_CMD_READ 0x02         /* 6.9 */
#define NVME_CMD_WRITE_ZEROES 0x08 /* 6.16 */
#define NVME_CMD_DSM 0x09          /* 6.7: CDW10 NR 07:00 0's based, CDW11 AD bit 2 */
#define NVME_DSM_AD (1u << 2)

/* 6.7 Dataset Management range, Figure 364 */
struct nvme_dsm_range {
	uint32_t cattr;
	uint32_t nlb; /* length in logical blocks (not 0's based) */
	uint64_t slba;
};
_Static_assert(sizeof(struct nvme_dsm_range) == 16, "NVMe 1.4 6.7: a range is 16 bytes");
_Static_assert(offsetof(struct nvme_dsm_range, slba) == 8, "NVMe 1.4 6.7: SLBA at 15:08");

/* ---- 5.15.2.1 Identify Controller data structure, Figure 247 -------------- */
struct nvme_id_power {
	uint16_t mp; /* max power, centiwatts */
	uint8_t rsvd2;
	uint8_t flags;
	uint32_t enlat, exlat;
	uint8_t rrt, rrl, rwt, rwl;
	uint8_t rest[16];
};
_Static_assert(sizeof(struct nvme_id_power) == 32, "NVMe 1.4 Figure 248: 32 bytes");

struct nvme_id_ctrl {
	uint16_t vid;     /* 01:00 */
	uint16_t ssvid;   /* 03:02 */
	char sn[20];      /* 23:04 serial number, ASCII, space padded */
	char mn[40];      /* 63:24 model number */
	char fr[8];       /* 71:64 firmware revision */
	uint8_t rab;      /* 72 */
	uint8_t ieee[3];  /* 75:73 */
	uint8_t cmic;     /* 76 */
	uint8_t mdts;     /* 77 max data transfer, 2^n * CAP.MPSMIN pages, 0 = none */
	uint16_t cntlid;  /* 79:78 */
	uint32_t ver;     /* 83:80 */
	uint32_t rtd3r;   /* 87:84 */
	uint32_t rtd3e;   /* 91:88 */
	uint32_t oaes;    /* 95:92 */
	uint32_t ctratt;  /* 99:96 */
	uint16_t rrls;    /* 101:100 */
	uint8_t rsvd102[9];
	uint8_t cntrltype; /* 111: 1 = I/O controller */
	uint8_t fguid[16]; /* 127:112 */
	uint16_t crdt[3]; /* 133:128 */
	uint8_t rsvd134[122];
	uint16_t oacs;    /* 257:256 */
	uint8_t acl;      /* 258 abort command limit, 0's based */
	uint8_t aerl;     /* 259 async event request limit, 0's based */
	uint8_t frmw;     /* 260 */
	uint8_t lpa;      /* 261 */
	uint8_t elpe;     /* 262 error log page entries, 0's based */
	uint8_t npss;     /* 263 */
	uint8_t avscc, apsta;
	uint16_t wctemp, cctemp; /* 267:266, 269:268 Kelvin */
	uint8_t rsvd270[242];
	uint8_t sqes;     /* 512: 3:0 required, 7:4 maximum (log2) */
	uint8_t cqes;     /* 513 */
	uint16_t maxcmd;  /* 515:514 */
	uint32_t nn;      /* 519:516 number of namespaces */
	uint16_t oncs;    /* 521:520 optional NVM commands */
	uint16_t fuses;   /* 523:522 */
	uint8_t fna;      /* 524 */
	uint8_t vwc;      /* 525 volatile write cache present (bit 0) */
	uint16_t awun, awupf; /* 527:526, 529:528 */
	uint8_t nvscc, nwpc;
	uint16_t acwu;
	uint16_t rsvd534;
	uint32_t sgls;    /* 539:536 */
	uint32_t mnan;    /* 543:540 */
	uint8_t rsvd544[224];
	char subnqn[256]; /* 1023:768 */
	uint8_t rsvd1024[1024];
	struct nvme_id_power psd[32]; /* 3071:2048 */
	uint8_t vs[1024];
};
_Static_assert(sizeof(struct nvme_id_ctrl) == 4096, "NVMe 1.4 5.15.2.1: 4096 bytes");
_Static_assert(offsetof(struct nvme_id_ctrl, sn) == 4, "Figure 247: SN at 23:04");
_Static_assert(offsetof(struct nvme_id_ctrl, mn) == 24, "Figure 247: MN at 63:24");
_Static_assert(offsetof(struct nvme_id_ctrl, fr) == 64, "Figure 247: FR at 71:64");
_Static_assert(offsetof(struct nvme_id_ctrl, mdts) == 77, "Figure 247: MDTS at 77");
_Static_assert(offsetof(struct nvme_id_ctrl, cntlid) == 78, "Figure 247: CNTLID at 79:78");
_Static_assert(offsetof(struct nvme_id_ctrl, ver) == 80, "Figure 247: VER at 83:80");
_Static_assert(offsetof(struct nvme_id_ctrl, cntrltype) == 111, "Figure 247: CNTRLTYPE at 111");
_Static_assert(offsetof(struct nvme_id_ctrl, oacs) == 256, "Figure 247: OACS at 257:256");
_Static_assert(offsetof(struct nvme_id_ctrl, aerl) == 259, "Figure 247: AERL at 259");
_Static_assert(offsetof(struct nvme_id_ctrl, wctemp) == 266, "Figure 247: WCTEMP at 267:266");
_Static_assert(offsetof(struct nvme_id_ctrl, sqes) == 512, "Figure 247: SQES at 512");
_Static_assert(offsetof(struct nvme_id_ctrl, nn) == 516, "Figure 247: NN at 519:516");
_Static_assert(offsetof(struct nvme_id_ctrl, oncs) == 520, "Figure 247: ONCS at 521:520");
_Static_assert(offsetof(struct nvme_id_ctrl, vwc) == 525, "Figure 247: VWC at 525");
_Static_assert(offsetof(struct nvme_id_ctrl, sgls) == 536, "Figure 247: SGLS at 539:536");
_Static_assert(offsetof(struct nvme_id_ctrl, subnqn) == 768, "Figure 247: SUBNQN at 1023:768");
_Static_assert(offsetof(struct nvme_id_ctrl, psd) == 2048, "Figure 247: PSD0 at 2079:2048");
#define NVME_ONCS_DSM (1u << 2)
#define NVME_ONCS_WRITE_ZEROES (1u << 3)

/* ---- 5.15.2.2 Identify Namespace data structure, Figure 245 --------------- */
struct nvme_lbaf {
	uint16_t ms;  /* metadata size */
	uint8_t lbads; /* LBA data size, 2^n */
	uint8_t rp;   /* relative performance */
};
struct nvme_id_ns {
	uint64_t nsze;   /* 07:00 size in logical blocks */
	uint64_t ncap;   /* 15:08 capacity */
	uint64_t nuse;   /* 23:16 utilization */
	uint8_t nsfeat;  /* 24 */
	uint8_t nlbaf;   /* 25 number of LBA formats, 0's based */
	uint8_t flbas;   /* 26 formatted LBA size: 3:0 index into lbaf */
	uint8_t mc, dpc, dps, nmic, rescap, fpi;
	uint8_t dlfeat;  /* 33 deallocate features: 2:0 = 001b reads zeroes */
	uint16_t nawun, nawupf, nacwu, nabsn, nabo, nabspf, noiob;
	uint8_t nvmcap[16]; /* 63:48 */
	uint16_t npwg, npwa, npdg, npda, nows;
	uint8_t rsvd74[18];
	uint32_t anagrpid; /* 95:92 */
	uint8_t rsvd96[3];
	uint8_t nsattr;
	uint16_t nvmsetid, endgid;
	uint8_t nguid[16]; /* 119:104 */
	uint8_t eui64[8];  /* 127:120 */
	struct nvme_lbaf lbaf[16]; /* 191:128 */
	uint8_t rsvd192[192];
	uint8_t vs[3712];
};
_Static_assert(sizeof(struct nvme_id_ns) == 4096, "NVMe 1.4 5.15.2.2: 4096 bytes");
_Static_assert(offsetof(struct nvme_id_ns, nsfeat) == 24, "Figure 245: NSFEAT at 24");
_Static_assert(offsetof(struct nvme_id_ns, flbas) == 26, "Figure 245: FLBAS at 26");
_Static_assert(offsetof(struct nvme_id_ns, dlfeat) == 33, "Figure 245: DLFEAT at 33");
_Static_assert(offsetof(struct nvme_id_ns, nvmcap) == 48, "Figure 245: NVMCAP at 63:48");
_Static_assert(offsetof(struct nvme_id_ns, anagrpid) == 92, "Figure 245: ANAGRPID at 95:92");
_Static_assert(offsetof(struct nvme_id_ns, nguid) == 104, "Figure 245: NGUID at 119:104");
_Static_assert(offsetof(struct nvme_id_ns, eui64) == 120, "Figure 245: EUI64 at 127:120");
_Static_assert(offsetof(struct nvme_id_ns, lbaf) == 128, "Figure 245: LBAF0 at 131:128");

/* ---- 5.14.1.2 SMART / Health Information log (LID 02h), Figure 194 ------- */
struct nvme_smart_log {
	uint8_t critical_warning;
	uint16_t temperature; /* 02:01 Kelvin (unaligned in the spec) */
	uint8_t avail_spare, spare_thresh, percent_used, endgrp_warning;
	uint8_t rsvd7[25];
	uint8_t data_units_read[16]; /* 47:32, 1000 units of 512 bytes */
	uint8_t data_units_written[16];
	uint8_t host_reads[16];
	uint8_t host_writes[16];
	uint8_t ctrl_busy_time[16];
	uint8_t power_cycles[16];
	uint8_t power_on_hours[16];
	uint8_t unsafe_shutdowns[16];
	uint8_t media_errors[16];
	uint8_t num_err_log_entries[16];
	uint8_t rest[320];
} __attribute__((packed));
_Static_assert(sizeof(struct nvme_smart_log) == 512, "NVMe 1.4 5.14.1.2: 512 bytes");
_Static_assert(offsetof(struct nvme_smart_log, temperature) == 1, "Figure 194: temp at 02:01");
_Static_assert(offsetof(struct nvme_smart_log, data_units_read) == 32, "Figure 194: DUR at 47:32");
_Static_assert(offsetof(struct nvme_smart_log, host_reads) == 64, "Figure 194: HRC at 79:64");
_Static_assert(offsetof(struct nvme_smart_log, power_cycles) == 112, "Figure 194: at 127:112");
_Static_assert(offsetof(struct nvme_smart_log, num_err_log_entries) == 176, "Figure 194: 191:176");

/* 5.14.1.1 Error Information log entry, Figure 193: 64 bytes each */
#define NVME_ERROR_LOG_ENTRY_SIZE 64

#endif /* UDD_NVME_SPEC_H */
