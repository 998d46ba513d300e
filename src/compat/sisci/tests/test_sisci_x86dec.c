/* SPDX-License-Identifier: MIT */
/* Unit test of the x86-64 mov decoder behind SCIMapRemoteSegment's trap handler. */
#include "testlib.h"
#include "x86dec.h"

struct tc {
	const char *name;
	uint8_t code[16];
	unsigned n;
	int ok;
	unsigned len, width, store, reg, high8, dst_width, zext, has_imm;
	uint64_t imm;
};

static const struct tc cases[] = {
	/* loads */
	{ "mov eax,[rdi]", { 0x8b, 0x07 }, 2, 1, 2, 4, 0, 0, 0, 4, 0, 0, 0 },
	{ "mov eax,[rdx+0x4]", { 0x8b, 0x42, 0x04 }, 3, 1, 3, 4, 0, 0, 0, 4, 0, 0, 0 },
	{ "mov r8d,[rax+0x98]", { 0x44, 0x8b, 0x80, 0x98, 0, 0, 0 }, 7, 1, 7, 4, 0, 8, 0, 4, 0, 0, 0 },
	{ "mov rax,[rdi+0x80]", { 0x48, 0x8b, 0x87, 0x80, 0, 0, 0 }, 7, 1, 7, 8, 0, 0, 0, 8, 0, 0, 0 },
	{ "mov ax,[rdi]", { 0x66, 0x8b, 0x07 }, 3, 1, 3, 2, 0, 0, 0, 2, 0, 0, 0 },
	{ "mov al,[rdi]", { 0x8a, 0x07 }, 2, 1, 2, 1, 0, 0, 0, 1, 0, 0, 0 },
	{ "mov ah,[rdi]", { 0x8a, 0x27 }, 2, 1, 2, 1, 0, 0, 1, 1, 0, 0, 0 },
	{ "mov sil,[rdi] (REX)", { 0x40, 0x8a, 0x37 }, 3, 1, 3, 1, 0, 6, 0, 1, 0, 0, 0 },
	{ "movzx eax,byte [rdi+1]", { 0x0f, 0xb6, 0x47, 0x01 }, 4, 1, 4, 1, 0, 0, 0, 4, 1, 0, 0 },
	{ "movzx eax,word [rdi]", { 0x0f, 0xb7, 0x07 }, 3, 1, 3, 2, 0, 0, 0, 4, 1, 0, 0 },
	{ "movzx r9,word [rdi] (REX.WR)", { 0x4c, 0x0f, 0xb7, 0x0f }, 4, 1, 4, 2, 0, 9, 0, 8, 1, 0, 0 },
	{ "mov eax,[rsp+0x10] (SIB)", { 0x8b, 0x44, 0x24, 0x10 }, 4, 1, 4, 4, 0, 0, 0, 4, 0, 0, 0 },
	{ "mov eax,[rip+disp32]", { 0x8b, 0x05, 1, 2, 3, 4 }, 6, 1, 6, 4, 0, 0, 0, 4, 0, 0, 0 },
	{ "mov eax,[rax*4+disp32] (SIB base=5)", { 0x8b, 0x04, 0x85, 1, 2, 3, 4 }, 7, 1, 7, 4, 0, 0, 0, 4, 0, 0, 0 },
	{ "mov eax,fs:[rdi]", { 0x64, 0x8b, 0x07 }, 3, 1, 3, 4, 0, 0, 0, 4, 0, 0, 0 },
	/* stores */
	{ "mov [rdi],esi", { 0x89, 0x37 }, 2, 1, 2, 4, 1, 6, 0, 4, 0, 0, 0 },
	{ "mov [rdi+0x88],rsi", { 0x48, 0x89, 0xb7, 0x88, 0, 0, 0 }, 7, 1, 7, 8, 1, 6, 0, 8, 0, 0, 0 },
	{ "mov [rdi],r12w", { 0x66, 0x44, 0x89, 0x27 }, 4, 1, 4, 2, 1, 12, 0, 2, 0, 0, 0 },
	{ "mov [rdi],bh", { 0x88, 0x3f }, 2, 1, 2, 1, 1, 3, 1, 1, 0, 0, 0 },
	{ "mov dword [rdi+4],0x12345678", { 0xc7, 0x47, 0x04, 0x78, 0x56, 0x34, 0x12 }, 7, 1, 7, 4, 1, 0, 0, 4, 0, 1, 0x12345678 },
	{ "mov qword [rdi],-1", { 0x48, 0xc7, 0x07, 0xff, 0xff, 0xff, 0xff }, 7, 1, 7, 8, 1, 0, 0, 8, 0, 1, 0xffffffffffffffffull },
	{ "mov word [rdi],0x1234", { 0x66, 0xc7, 0x07, 0x34, 0x12 }, 5, 1, 5, 2, 1, 0, 0, 2, 0, 1, 0x1234 },
	{ "mov byte [rdi],0x5a", { 0xc6, 0x07, 0x5a }, 3, 1, 3, 1, 1, 0, 0, 1, 0, 1, 0x5a },
	/* test (flags only): decoded as loads */
	{ "test dword [rdx],1", { 0xf7, 0x02, 1, 0, 0, 0 }, 6, 1, 6, 4, 0, 0, 0, 4, 0, 1, 1 },
	{ "test byte [rdi+8],0x80", { 0xf6, 0x47, 0x08, 0x80 }, 4, 1, 4, 1, 0, 0, 0, 1, 0, 1, 0x80 },
	{ "test [rdi],ecx", { 0x85, 0x0f }, 2, 1, 2, 4, 0, 1, 0, 4, 0, 0, 0 },
	/* refused */
	{ "mov eax,ebx (register)", { 0x8b, 0xc3 }, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "add [rdi],eax", { 0x01, 0x07 }, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "lock xadd", { 0xf0, 0x0f, 0xc1, 0x07 }, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "movdqu xmm0,[rdi]", { 0xf3, 0x0f, 0x6f, 0x07 }, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "rep movsb", { 0xf3, 0xa4 }, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "mov eax,moffs", { 0xa1, 0, 0, 0, 0, 0, 0, 0, 0 }, 9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "c7 /1 invalid", { 0xc7, 0x0f, 0, 0, 0, 0 }, 6, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "truncated disp32", { 0x8b, 0x87, 0x80 }, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
	{ "truncated imm", { 0xc7, 0x07, 0x01 }, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0 },
};

int main(void)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct tc *c = &cases[i];
		struct x86_mov m;
		int rc = x86_decode_mov(c->code, c->n, &m);
		if (!c->ok) {
			if (rc != -1)
				fprintf(stderr, "case '%s' should be refused\n", c->name);
			CHECK_EQ(rc, -1);
			continue;
		}
		if (rc != 0) {
			fprintf(stderr, "case '%s' not decoded\n", c->name);
			CHECK_EQ(rc, 0);
			continue;
		}
		CHECK_EQ(m.len, c->len);
		CHECK_EQ(m.width, c->width);
		CHECK_EQ(m.store, c->store);
		CHECK_EQ(m.high8, c->high8);
		CHECK_EQ(m.has_imm, c->has_imm);
		if (!c->has_imm)
			CHECK_EQ(m.reg, c->reg);
		else
			CHECK_EQ(m.imm, c->imm);
		if (!c->store) {
			CHECK_EQ(m.dst_width, c->dst_width);
			CHECK_EQ(m.zext, c->zext);
		}
	}

	/* Register merging rules. */
	struct x86_mov m;
	uint64_t old = 0x1122334455667788ull;
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x8b, 0x07 }, 2, &m)); /* mov eax,[rdi] */
	CHECK_EQ(x86_merge_load(&m, old, 0xdeadbeefcafef00dull), 0xcafef00dull);
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x66, 0x8b, 0x07 }, 3, &m)); /* mov ax */
	CHECK_EQ(x86_merge_load(&m, old, 0xbeef), 0x112233445566beefull);
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x8a, 0x07 }, 2, &m)); /* mov al */
	CHECK_EQ(x86_merge_load(&m, old, 0x1ab), 0x11223344556677abull);
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x8a, 0x27 }, 2, &m)); /* mov ah */
	CHECK_EQ(x86_merge_load(&m, old, 0xab), 0x112233445566ab88ull);
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x48, 0x8b, 0x07 }, 3, &m)); /* mov rax */
	CHECK_EQ(x86_merge_load(&m, old, 0xdeadbeefcafef00dull), 0xdeadbeefcafef00dull);
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x0f, 0xb6, 0x07 }, 3, &m)); /* movzx eax,byte */
	CHECK_EQ(x86_merge_load(&m, old, 0x1ff), 0xffull);
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x66, 0x0f, 0xb6, 0x07 }, 4, &m)); /* movzx ax,byte */
	CHECK_EQ(x86_merge_load(&m, old, 0xff), 0x11223344556600ffull);
	/* Store values. */
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x88, 0x3f }, 2, &m)); /* mov [rdi],bh */
	CHECK_EQ(x86_store_value(&m, 0x1234), 0x12);
	REQUIRE_OK(x86_decode_mov((const uint8_t[]){ 0x66, 0x89, 0x37 }, 3, &m)); /* mov [rdi],si */
	CHECK_EQ(x86_store_value(&m, 0xaabbccdd), 0xccdd);
	/* TEST flags: ZF, SF, PF; CF and OF cleared */
	CHECK_EQ(x86_test_flags(0x801, 0x2, 0x1, 4), 0x44);      /* zero: ZF|PF */
	CHECK_EQ(x86_test_flags(0, 0x80000000u, ~0ull, 4), 0x84); /* SF, parity of 0x00 even */
	CHECK_EQ(x86_test_flags(0, 0x1, 0x1, 4), 0);              /* odd parity, nonzero */
	CHECK_EQ(x86_test_flags(0, 0x80, 0xff, 1), 0x80);         /* SF at width 1 */
	return t_done("test_sisci_x86dec");
}
