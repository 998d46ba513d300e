/* SPDX-License-Identifier: MIT */
/*
 * Register layouts of the udd-sim device models. Tests and examples may
 * include this header; it has no dependencies besides <stdint.h>.
 */
#ifndef UDD_SIM_DEVICES_H
#define UDD_SIM_DEVICES_H

#include <stdint.h>

/* ------------------------------------------------------------------------ */
/* edu: register-compatible with QEMU's hw/misc/edu.c                         */
/* ------------------------------------------------------------------------ */
#define EDU_VENDOR_ID 0x1234
#define EDU_DEVICE_ID 0x11e8
#define EDU_REVISION 0x10
#define EDU_CLASS 0x00ff00
#define EDU_BAR0_SIZE (1u << 20) /* 32-bit memory, all registers trapped */

#define EDU_REG_ID 0x00        /* ro: 0x010000ed (major 1, minor 0) */
#define EDU_REG_LIVENESS 0x04  /* rw: reads back ~written value */
#define EDU_REG_FACT 0x08      /* write n: n! computed by the device */
#define EDU_REG_STATUS 0x20    /* bit0 computing (ro), bit7 irq on fact */
#define EDU_REG_IRQ_STATUS 0x24 /* ro */
#define EDU_REG_IRQ_RAISE 0x60  /* wo: OR into irq status, raise */
#define EDU_REG_IRQ_ACK 0x64    /* wo: clear bits in irq status */
#define EDU_REG_DMA_SRC 0x80    /* 32/64-bit */
#define EDU_REG_DMA_DST 0x88
#define EDU_REG_DMA_COUNT 0x90
#define EDU_REG_DMA_CMD 0x98

#define EDU_ID_VALUE 0x010000edu
#define EDU_STATUS_COMPUTING 0x01u
#define EDU_STATUS_IRQFACT 0x80u
#define EDU_IRQ_FACT 0x00000001u /* irq status bit after a factorial */
#define EDU_IRQ_DMA 0x00000100u  /* irq status bit after a DMA */
#define EDU_DMA_START 0x1u
#define EDU_DMA_FROM_DEV 0x2u /* direction: EDU buffer -> RAM */
#define EDU_DMA_IRQ 0x4u
#define EDU_DMA_BUF 0x40000u      /* device buffer address (DMA and BAR0) */
#define EDU_DMA_BUF_SIZE 4096u
#define EDU_DMA_MASK ((1ull << 28) - 1) /* DMA addresses are masked to 28 bits */
_Static_assert(EDU_DMA_BUF + EDU_DMA_BUF_SIZE <= EDU_BAR0_SIZE, "edu buffer inside BAR0");

/* ------------------------------------------------------------------------ */
/* pio: the fictional device of the illumos DDI "Programmed I/O" chapter.     */
/* Little-endian, 8-bit registers.                                            */
/* ------------------------------------------------------------------------ */
#define PIO_VENDOR_ID 0x1234
#define PIO_DEVICE_ID 0x0d01
#define PIO_CLASS 0x078000
#define PIO_CSR_BAR 0       /* 16-byte memory BAR: CSR at 0 */
#define PIO_DATA_BAR 1      /* 16-byte memory BAR: data register at 0 */
#define PIO_RECORD_BAR 2    /* 4 KiB memory BAR, read-only record */
#define PIO_REG_BAR_SIZE 16u
#define PIO_RECORD_SIZE 4096u
#define PIO_REG_CSR 0x0
#define PIO_REG_DATA 0x0
#define PIO_INTR_ENABLE 0x01u  /* rw */
#define PIO_INTR_CLEAR 0x02u   /* write 1: clear the pending interrupt; reads 0 */
#define PIO_IDLE 0x04u         /* ro: ready for a character */
#define PIO_INTR_PENDING 0x08u /* ro */
#define PIO_REC_COUNT 0x0      /* u32: bytes recorded */
#define PIO_REC_DATA 0x4       /* the bytes, in order */
#define PIO_REC_MAX (PIO_RECORD_SIZE - PIO_REC_DATA)
#define PIO_BUSY_US 200 /* time to "print" one character */

/* ------------------------------------------------------------------------ */
/* be: big-endian registers, MSI-X, a doorbell page, a prefetchable BAR.      */
/* ------------------------------------------------------------------------ */
#define BE_VENDOR_ID 0x1234
#define BE_DEVICE_ID 0x0d02
#define BE_CLASS 0x118000
#define BE_BAR0_SIZE 0x2000u   /* 32-bit memory */
#define BE_BAR2_SIZE (1u << 20) /* 64-bit prefetchable memory, plain RAM (memfd) */
#define BE_BAR4_SIZE 32u        /* I/O */
/* BAR0 page 0: trapped, registers stored big-endian. */
#define BE_REG_ID 0x00        /* ro u32 */
#define BE_REG_SCRATCH32 0x04 /* rw u32 */
#define BE_REG_SCRATCH64 0x08 /* rw u64 */
#define BE_REG_FIFO 0x10      /* u32: write pushes, read pops (empty: 0) */
#define BE_REG_FIFO_LEVEL 0x14 /* ro u32: entries in the FIFO */
#define BE_REG_RAISE 0x18      /* wo u32: raise MSI-X vector v */
#define BE_ID_VALUE 0x0d02be00u
#define BE_FIFO_DEPTH 64u
#define BE_MSIX_TABLE 0x800u /* MSI-X table (little-endian, PCI rules) */
#define BE_MSIX_PBA 0xc00u
#define BE_MSIX_VECTORS 4u
/* BAR0 page 1: memfd-backed, mmappable (sparse area {0x1000, 0x1000}). */
#define BE_DOORBELL_PAGE 0x1000u
#define BE_DOORBELL 0x1000u      /* u32 (host order) written by the driver */
#define BE_DOORBELL_ECHO 0x1004u /* the device copies the doorbell here */
/* BAR4 (I/O): the FIFO again, big-endian. */
#define BE_IO_FIFO 0x0
#define BE_IO_FIFO_LEVEL 0x4
#define BE_DSN 0x0123456789abcdefull /* Device Serial Number (ext cap at 0x100) */
_Static_assert(BE_MSIX_TABLE + 16 * BE_MSIX_VECTORS <= BE_MSIX_PBA, "MSI-X table fits");
_Static_assert(BE_MSIX_PBA + 8 <= BE_DOORBELL_PAGE, "PBA in page 0");
_Static_assert(BE_DOORBELL_PAGE + 0x1000 == BE_BAR0_SIZE, "doorbell is the last page");

#endif
