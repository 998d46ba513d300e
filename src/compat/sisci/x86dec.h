/* SPDX-License-Identifier: MIT */
/*
 * A decoder for the x86-64 mov forms compilers emit for volatile 8/16/32/64-bit
 * loads and stores, used by the trap handler of SCIMapRemoteSegment. Only
 * the instruction's shape matters: the faulting address comes from siginfo.
 */
#ifndef UDD_SISCI_X86DEC_H
#define UDD_SISCI_X86DEC_H

#include <stddef.h>
#include <stdint.h>

struct x86_mov {
	unsigned len;     /**< instruction length in bytes */
	unsigned width;   /**< memory access width in bytes: 1, 2, 4, 8 */
	int store;        /**< 1: register/immediate -> memory; 0: memory -> register */
	int has_imm;      /**< store of an immediate */
	uint64_t imm;     /**< the immediate (sign-extended to the access width) */
	unsigned reg;     /**< register number 0..15 (rax..r15) */
	int high8;        /**< 8-bit register is AH/CH/DH/BH (reg 4..7 without REX) */
	unsigned dst_width; /**< load: width of the destination register (1,2,4,8) */
	int zext;         /**< load: movzx (zero-extend memory value into dst_width) */
	int test;         /**< TEST r/m, imm|reg: a load that only sets flags */
};

/** EFLAGS after TEST of @p a with @p b at @p width bytes (CF=OF=0; SF, ZF, PF). */
uint64_t x86_test_flags(uint64_t eflags, uint64_t a, uint64_t b, unsigned width);

/**
 * Decode one instruction at @p code (at most @p max bytes readable).
 * @return 0 and *out filled; -1 not a supported memory mov form.
 */
int x86_decode_mov(const uint8_t *code, size_t max, struct x86_mov *out);

/**
 * The new value of a 64-bit register after a load of @p val into it by the
 * decoded instruction (merging rules of x86-64: 32-bit destinations clear
 * bits 63:32; 8/16-bit destinations keep the other bits).
 */
uint64_t x86_merge_load(const struct x86_mov *m, uint64_t old, uint64_t val);

/** The value a decoded store writes, given the source register's value. */
uint64_t x86_store_value(const struct x86_mov *m, uint64_t regval);

#endif
