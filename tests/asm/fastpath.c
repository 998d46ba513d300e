/* SPDX-License-Identifier: MIT */
/* Compiled by tests/integration/test_fastpath_asm.sh: the direct access functions must compile to
 * exactly the instructions of a raw volatile pointer kept in a driver structure. */
#include <udd/udd.h>
struct drv { volatile uint8_t *regs; };
uint32_t raw_get32(struct drv *d) { return *(volatile uint32_t *)(d->regs + 0x10); }
void raw_put32(struct drv *d, uint32_t v) { *(volatile uint32_t *)(d->regs + 0x10) = v; }
uint32_t direct_get32(udd_acc_t *a) { return udd_direct_get32(a, 0x10); }
void direct_put32(udd_acc_t *a, uint32_t v) { udd_direct_put32(a, 0x10, v); }

/* big-endian registers: the raw pointer plus bswap, against the swapped path
 * (the handle keeps this base third in its head: so does this driver) */
struct drvbe { void *other[2]; volatile uint8_t *regs; };
uint32_t rawbe_get32(struct drvbe *d) { return __builtin_bswap32(*(volatile uint32_t *)(d->regs + 0x10)); }
void rawbe_put32(struct drvbe *d, uint32_t v) { *(volatile uint32_t *)(d->regs + 0x10) = __builtin_bswap32(v); }
uint32_t swapped_get32(udd_acc_t *a) { return udd_swapped_get32(a, 0x10); }
void swapped_put32(udd_acc_t *a, uint32_t v) { udd_swapped_put32(a, 0x10, v); }
