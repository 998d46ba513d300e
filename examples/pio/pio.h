/* SPDX-License-Identifier: MIT */
/*
 * Register map of the "pio" device: the fictional little-endian device of
 * the illumos "Writing Device Drivers" guide, chapter "Device Access:
 * Programmed I/O" (mapping setup and pio_write examples), given a PCI face.
 * It accepts one character at a time and interrupts when it is ready for
 * the next one.
 */
#ifndef PIO_H
#define PIO_H

#define PIO_VENDOR_ID 0x1234
#define PIO_DEVICE_ID 0x0d01

/* BAR0: 8-bit control/status register at 0 */
#define PIO_CSR_BAR 0
#define PIO_CSR 0x00
#define PIO_INTR_ENABLE 0x01  /* interrupt when idle */
#define PIO_INTR_CLEAR 0x02   /* write 1: clear the pending interrupt */
#define PIO_IDLE 0x04         /* RO: ready for a character */
#define PIO_INTR_PENDING 0x08 /* RO: the interrupt is asserted */

/* BAR1: 8-bit data register at 0 */
#define PIO_DATA_BAR 1
#define PIO_DATA 0x00

/* BAR2: 4 KiB read-only record of what the device received */
#define PIO_REC_BAR 2
#define PIO_REC_COUNT 0x00    /* u32: bytes received */
#define PIO_REC_DATA 0x04     /* the bytes */
#define PIO_REC_SIZE 4096

#endif /* PIO_H */
