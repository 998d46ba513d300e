/* SPDX-License-Identifier: MIT */
/*
 * Register map of QEMU's "edu" educational PCI device, as documented in
 * QEMU's docs/specs/edu.rst (Jiri Slaby). Written from that document.
 *
 * BAR0 (1 MiB MMIO): only 32-bit accesses below 0x80, 32- or 64-bit from 0x80.
 */
#ifndef EDU_H
#define EDU_H

#define EDU_VENDOR_ID 0x1234
#define EDU_DEVICE_ID 0x11e8

#define EDU_REG_ID 0x00        /* RO: 0xRRrr00ed, RR major, rr minor version */
#define EDU_ID_MASK 0x0000ffff
#define EDU_ID_MAGIC 0x000000ed
#define EDU_REG_LIVENESS 0x04  /* RW: reads back the inverse (~) of what was written */
#define EDU_REG_FACTORIAL 0x08 /* RW: write n, read n! once STATUS_BUSY clears */
#define EDU_REG_STATUS 0x20    /* RW */
#define EDU_STATUS_BUSY 0x01   /*   RO: computing the factorial */
#define EDU_STATUS_IRQFACT 0x80 /*  raise interrupt 0x001 when the factorial is done */
#define EDU_REG_IRQ_STATUS 0x24 /* RO: the values that raised the interrupt */
#define EDU_REG_IRQ_RAISE 0x60 /* WO: ORed into IRQ_STATUS, raises the interrupt */
#define EDU_REG_IRQ_ACK 0x64   /* WO: cleared from IRQ_STATUS; lowers it at 0 */

#define EDU_REG_DMA_SRC 0x80   /* RW: DMA source address */
#define EDU_REG_DMA_DST 0x88   /* RW: DMA destination address */
#define EDU_REG_DMA_COUNT 0x90 /* RW: bytes to transfer */
#define EDU_REG_DMA_CMD 0x98   /* RW: */
#define EDU_DMA_START 0x01     /*   start; reads 1 while the transfer runs */
#define EDU_DMA_TO_RAM 0x02    /*   direction: 0 RAM -> EDU, 1 EDU -> RAM */
#define EDU_DMA_IRQ 0x04       /*   raise interrupt 0x100 when done */
#define EDU_IRQ_DMA 0x100

/* The device's own 4 KiB buffer, as seen by its DMA engine. */
#define EDU_BUF_ADDR 0x40000
#define EDU_BUF_SIZE 4096

/* The engine only drives 28 address bits by default (dma_mask). */
#define EDU_DMA_MASK 0x0fffffffull

/* PCI configuration space: command register and its bits. */
#define PCI_CFG_COMMAND 0x04
#define PCI_CMD_MEMORY 0x0002
#define PCI_CMD_MASTER 0x0004

#endif /* EDU_H */
