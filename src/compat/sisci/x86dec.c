/* SPDX-License-Identifier: MIT */
/*
 * x86-64 mov decoder for the SISCI trap handler (see x86dec.h).
 *
 * Supported: optional legacy prefixes 66 (operand size), 67 (address size),
 * segment overrides (2E 36 3E 26 64 65), then an optional REX (40-4F), then
 *   88 /r  mov r/m8, r8          89 /r  mov r/m16/32/64, r
 *   8A /r  mov r8, r/m8          8B /r  mov r16/32/64, r/m
 *   C6 /0 ib  mov r/m8, imm8     C7 /0 iw/id  mov r/m16/32/64, imm
 *   0F B6 /r  movzx r, r/m8      0F B7 /r  movzx r, r/m16
 *   84/85 /r  test r/m, r        F6/F7 /0  test r/m, imm (flags only)
 * with a memory operand (ModRM mod != 3), any SIB and displacement.
 * Everything else (LOCK/REP, SSE/AVX, string moves, moffs forms, RMW
 * arithmetic) is refused.
 */
#include "x86dec.h"

#include <string.h>

/* Length of ModRM + SIB + displacement starting at p; -1 if not memory or truncated. */
static int modrm_len(const uint8_t *p, size_t max)
{
	if (max < 1)
		return -1;
	unsigned mod = p[0] >> 6, rm = p[0] & 7;
	int n = 1;
	if (mod == 3)
		return -1;
	if (rm == 4) { /* SIB */
		if (max < 2)
			return -1;
		n++;
		if (mod == 0 && (p[1] & 7) == 5)
			n += 4;
	} else if (mod == 0 && rm == 5) {
		n += 4; /* RIP-relative */
	}
	if (mod == 1)
		n += 1;
	else if (mod == 2)
		n += 4;
	if ((size_t)n > max)
		return -1;
	return n;
}

int x86_decode_mov(const uint8_t *code, size_t max, struct x86_mov *out)
{
	size_t i = 0;
	int opsize16 = 0;
	unsigned rex = 0;
	struct x86_mov m;

	memset(&m, 0, sizeof(m));
	for (; i < max && i < 14; i++) {
		uint8_t b = code[i];
		if (b == 0x66)
			opsize16 = 1;
		else if (b == 0x67 || b == 0x2e || b == 0x36 || b == 0x3e || b == 0x26 ||
			 b == 0x64 || b == 0x65)
			continue;
		else
			break;
	}
	if (i < max && (code[i] & 0xf0) == 0x40) {
		rex = code[i];
		i++;
	}
	if (i >= max)
		return -1;
	uint8_t op = code[i++];
	int twobyte = 0;
	if (op == 0x0f) {
		if (i >= max)
			return -1;
		op = code[i++];
		twobyte = 1;
	}
	if (i >= max)
		return -1;
	uint8_t modrm = code[i];
	int ml = modrm_len(code + i, max - i);
	if (ml < 0)
		return -1;
	unsigned regfield = ((modrm >> 3) & 7) | ((rex & 4) ? 8 : 0);
	unsigned wide = (rex & 8) ? 8 : opsize16 ? 2 : 4;
	i += (size_t)ml;

	if (twobyte) {
		if (op != 0xb6 && op != 0xb7)
			return -1;
		m.width = op == 0xb6 ? 1 : 2;
		m.store = 0;
		m.zext = 1;
		m.reg = regfield;
		m.dst_width = wide;
	} else {
		switch (op) {
		case 0x88:
		case 0x8a:
			m.width = 1;
			m.store = op == 0x88;
			m.reg = regfield;
			m.dst_width = 1;
			m.high8 = !rex && regfield >= 4 && regfield <= 7;
			if (m.high8)
				m.reg = regfield - 4;
			break;
		case 0x89:
		case 0x8b:
			m.width = wide;
			m.store = op == 0x89;
			m.reg = regfield;
			m.dst_width = wide;
			break;
		case 0x84:
		case 0x85:
			m.test = 1;
			m.width = op == 0x84 ? 1 : wide;
			m.reg = regfield;
			m.dst_width = m.width;
			m.high8 = op == 0x84 && !rex && regfield >= 4 && regfield <= 7;
			if (m.high8)
				m.reg = regfield - 4;
			break;
		case 0xf6:
		case 0xf7:
		case 0xc6:
		case 0xc7: {
			if (((modrm >> 3) & 7) != 0)
				return -1;
			m.test = op == 0xf6 || op == 0xf7;
			m.store = !m.test;
			m.has_imm = 1;
			m.width = (op == 0xc6 || op == 0xf6) ? 1 : wide;
			m.dst_width = m.width;
			unsigned ilen = m.width == 1 ? 1 : m.width == 2 ? 2 : 4;
			if (i + ilen > max)
				return -1;
			uint64_t v = 0;
			for (unsigned k = 0; k < ilen; k++)
				v |= (uint64_t)code[i + k] << (8 * k);
			if (m.width == 8 && (v & 0x80000000u))
				v |= 0xffffffff00000000ull; /* imm32 sign-extended */
			m.imm = v;
			i += ilen;
			break;
		}
		default:
			return -1;
		}
	}
	m.len = (unsigned)i;
	*out = m;
	return 0;
}

static uint64_t mask_of(unsigned width)
{
	return width >= 8 ? ~0ull : ((1ull << (8 * width)) - 1);
}

uint64_t x86_merge_load(const struct x86_mov *m, uint64_t old, uint64_t val)
{
	val &= mask_of(m->width);
	if (m->dst_width == 8)
		return val;
	if (m->dst_width == 4)
		return val & 0xffffffffull;
	if (m->high8)
		return (old & ~0xff00ull) | (val << 8);
	return (old & ~mask_of(m->dst_width)) | val;
}

uint64_t x86_store_value(const struct x86_mov *m, uint64_t regval)
{
	if (m->has_imm)
		return m->imm & mask_of(m->width);
	if (m->high8)
		return (regval >> 8) & 0xff;
	return regval & mask_of(m->width);
}

uint64_t x86_test_flags(uint64_t eflags, uint64_t a, uint64_t b, unsigned width)
{
	const uint64_t CF = 1, PF = 4, ZF = 0x40, SF = 0x80, OF = 0x800;
	uint64_t r = a & b & mask_of(width);
	eflags &= ~(CF | PF | ZF | SF | OF);
	if (r == 0)
		eflags |= ZF;
	if (r >> (8 * width - 1))
		eflags |= SF;
	if (!__builtin_parity((unsigned)(r & 0xff)))
		eflags |= PF;
	return eflags;
}
