/* SPDX-License-Identifier: MIT */
/*
 * nvme_regs.h: the few pieces of the NVM Express Base Specification that an
 * identify-controller program needs. Section numbers are those of NVM Express
 * Base Specification revision 1.4 (QEMU's nvme reports VS 1.4); the layouts
 * are unchanged since 1.0. Every offset and size is pinned below with
 * _Static_assert so a typo cannot silently move a field.
 */
#ifndef NVME_REGS_H
#define NVME_REGS_H

#include <stddef.h>
#include <stdint.h>

/* ---- 3.1 Register Definition: controller registers in BAR0 (MLBAR/MUBAR) -- */
#define NVME_REG_CAP 0x00   /* 3.1.1  Controller Capabilities, 64 bit */
#define NVME_REG_VS 0x08    /* 3.1.2  Version */
#define NVME_REG_INTMS 0x0c /* 3.1.3  Interrupt Mask Set */
#define NVME_REG_INTMC 0x10 /* 3.1.4  Interrupt Mask Clear */
#define NVME_REG_CC 0x14    /* 3.1.5  Controller Configuration */
#define NVME_REG_CSTS 0x1c  /* 3.1.6  Controller Status */
#define NVME_REG_AQA 0x24   /* 3.1.8  Admin Queue Attributes */
#define NVME_REG_ASQ 0x28   /* 3.1.9  Admin Submission Queue Base Address, 64 bit */
#define NVME_REG_ACQ 0x30   /* 3.1.10 Admin Completion Queue Base Address, 64 bit */
#define NVME_REG_DBS 0x1000 /* 3.1.24/3.1.25 first doorbell (SQ0TDBL) */

/* 3.1.1 CAP fields. */
#define NVME_CAP_MQES(cap) ((uint32_t)((cap) & 0xffff) + 1) /* 15:00, 0's based */
#define NVME_CAP_TO_MS(cap) ((uint32_t)(((cap) >> 24) & 0xff) * 500) /* 31:24, 500 ms units */
#define NVME_CAP_DSTRD(cap) ((unsigned)(((cap) >> 32) & 0xf)) /* 35:32 */
#define NVME_CAP_CSS_NVM(cap) ((((cap) >> 37) & 1) != 0) /* 44:37 bit 0: NVM command set */
#define NVME_CAP_MPSMIN(cap) ((unsigned)(((cap) >> 48) & 0xf)) /* 51:48, 2^(12+n) */

/* 3.1.24 SQyTDBL at 1000h + (2y * (4 << CAP.DSTRD));
 * 3.1.25 CQyHDBL at 1000h + ((2y + 1) * (4 << CAP.DSTRD)). */
#define NVME_SQ_TDBL(y, dstrd) ((size_t)NVME_REG_DBS + (size_t)(2 * (y)) * ((size_t)4 << (dstrd)))
#define NVME_CQ_HDBL(y, dstrd) \
	((size_t)NVME_REG_DBS + (size_t)(2 * (y) + 1) * ((size_t)4 << (dstrd)))

/* 3.1.5 CC fields. */
#define NVME_CC_EN (1u << 0)                          /* 00 Enable */
#define NVME_CC_CSS_NVM (0u << 4)                     /* 06:04 I/O command set: NVM */
#define NVME_CC_MPS(n) ((uint32_t)(n) << 7)           /* 10:07 page size 2^(12+n) */
#define NVME_CC_AMS_RR (0u << 11)                     /* 13:11 round robin */
#define NVME_CC_SHN_MASK (3u << 14)                   /* 15:14 shutdown notification */
#define NVME_CC_IOSQES(n) ((uint32_t)(n) << 16)       /* 19:16 I/O SQ entry 2^n bytes */
#define NVME_CC_IOCQES(n) ((uint32_t)(n) << 20)       /* 23:20 I/O CQ entry 2^n bytes */

/* 3.1.6 CSTS fields. */
#define NVME_CSTS_RDY (1u << 0) /* 00 Ready */
#define NVME_CSTS_CFS (1u << 1) /* 01 Controller Fatal Status */

/* 3.1.8 AQA: ASQS 11:00 and ACQS 27:16, both 0's based. */
#define NVME_AQA(sq, cq) ((uint32_t)((sq) - 1) | ((uint32_t)((cq) - 1) << 16))

/* ---- 4.2 Submission Queue Entry - Command Format (64 bytes) ------------- */
struct nvme_sqe {
	uint8_t opc;   /* CDW0 07:00 opcode */
	uint8_t fuse;  /* CDW0 15:08 FUSE (09:08), PSDT (15:14): 0 = PRPs */
	uint16_t cid;  /* CDW0 31:16 command identifier */
	uint32_t nsid; /* 07:04 namespace identifier */
	uint32_t cdw2;
	uint32_t cdw3;
	uint64_t mptr; /* 23:16 metadata pointer */
	uint64_t prp1; /* 31:24 data pointer: PRP entry 1 */
	uint64_t prp2; /* 39:32 data pointer: PRP entry 2 */
	uint32_t cdw10;
	uint32_t cdw11;
	uint32_t cdw12;
	uint32_t cdw13;
	uint32_t cdw14;
	uint32_t cdw15;
};
_Static_assert(sizeof(struct nvme_sqe) == 64, "NVMe 1.4 4.2: a command is 64 bytes");
_Static_assert(offsetof(struct nvme_sqe, cid) == 2, "NVMe 1.4 4.2: CID in CDW0 31:16");
_Static_assert(offsetof(struct nvme_sqe, nsid) == 4, "NVMe 1.4 4.2: NSID at bytes 07:04");
_Static_assert(offsetof(struct nvme_sqe, mptr) == 16, "NVMe 1.4 4.2: MPTR at bytes 23:16");
_Static_assert(offsetof(struct nvme_sqe, prp1) == 24, "NVMe 1.4 4.2: PRP1 at bytes 31:24");
_Static_assert(offsetof(struct nvme_sqe, prp2) == 32, "NVMe 1.4 4.2: PRP2 at bytes 39:32");
_Static_assert(offsetof(struct nvme_sqe, cdw10) == 40, "NVMe 1.4 4.2: CDW10 at bytes 43:40");
_Static_assert(offsetof(struct nvme_sqe, cdw15) == 60, "NVMe 1.4 4.2: CDW15 at bytes 63:60");
#define NVME_SQES_LOG2 6 /* CC.IOSQES / admin queue entry size */

/* ---- 4.6 Completion Queue Entry (16 bytes) ------------------------------ */
struct nvme_cqe {
	uint32_t dw0;    /* command specific */
	uint32_t dw1;    /* reserved */
	uint16_t sqhd;   /* DW2 15:00 SQ head pointer */
	uint16_t sqid;   /* DW2 31:16 SQ identifier */
	uint16_t cid;    /* DW3 15:00 command identifier */
	uint16_t status; /* DW3 31:17 status field, DW3 16 phase tag */
};
_Static_assert(sizeof(struct nvme_cqe) == 16, "NVMe 1.4 4.6: a completion is 16 bytes");
_Static_assert(offsetof(struct nvme_cqe, sqhd) == 8, "NVMe 1.4 4.6: SQHD in DW2 15:00");
_Static_assert(offsetof(struct nvme_cqe, cid) == 12, "NVMe 1.4 4.6: CID in DW3 15:00");
_Static_assert(offsetof(struct nvme_cqe, status) == 14, "NVMe 1.4 4.6: P and SF in DW3 31:16");
#define NVME_CQES_LOG2 4
#define NVME_CQE_PHASE(st) ((st) & 1u)           /* 4.6 DW3 bit 16: Phase Tag */
#define NVME_CQE_SC(st) (((st) >> 1) & 0xffu)     /* 4.6.1 Status Code, DW3 24:17 */
#define NVME_CQE_SCT(st) (((st) >> 9) & 0x7u)     /* 4.6.1 Status Code Type, DW3 27:25 */

/* ---- 5 Admin Command Set ------------------------------------------------ */
#define NVME_ADMIN_IDENTIFY 0x06 /* 5.15 Identify command, opcode 06h */
#define NVME_CNS_CONTROLLER 0x01 /* 5.15 CDW10.CNS 01h: Identify Controller */

/* 5.15 Identify Controller data structure (CNS 01h), 4096 bytes. */
struct nvme_id_ctrl {
	uint16_t vid;   /* 01:00 PCI Vendor ID */
	uint16_t ssvid; /* 03:02 PCI Subsystem Vendor ID */
	char sn[20];    /* 23:04 Serial Number, ASCII, space padded */
	char mn[40];    /* 63:24 Model Number */
	char fr[8];     /* 71:64 Firmware Revision */
	uint8_t rab;    /* 72 Recommended Arbitration Burst */
	uint8_t ieee[3]; /* 75:73 IEEE OUI */
	uint8_t cmic;   /* 76 */
	uint8_t mdts;   /* 77 Maximum Data Transfer Size */
	uint16_t cntlid; /* 79:78 Controller ID */
	uint32_t ver;   /* 83:80 Version */
	uint8_t rest[4096 - 84];
};
_Static_assert(sizeof(struct nvme_id_ctrl) == 4096, "NVMe 1.4 5.15: identify data is 4096 bytes");
_Static_assert(offsetof(struct nvme_id_ctrl, sn) == 4, "NVMe 1.4 5.15 Identify Controller: SN at 23:04");
_Static_assert(offsetof(struct nvme_id_ctrl, mn) == 24, "NVMe 1.4 5.15 Identify Controller: MN at 63:24");
_Static_assert(offsetof(struct nvme_id_ctrl, fr) == 64, "NVMe 1.4 5.15 Identify Controller: FR at 71:64");
_Static_assert(offsetof(struct nvme_id_ctrl, mdts) == 77, "NVMe 1.4 5.15 Identify Controller: MDTS at 77");
_Static_assert(offsetof(struct nvme_id_ctrl, cntlid) == 78, "NVMe 1.4 5.15 Identify Controller: CNTLID at 79:78");
_Static_assert(offsetof(struct nvme_id_ctrl, ver) == 80, "NVMe 1.4 5.15 Identify Controller: VER at 83:80");

/* PCI class code of an NVMe controller: mass storage (01h), non-volatile
 * memory (08h), NVM Express (02h) (NVMe 1.4 2.1 PCI header, CC - Class Code). */
#define NVME_PCI_CLASS 0x010802

#endif /* NVME_REGS_H */
