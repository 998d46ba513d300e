/* SPDX-License-Identifier: MIT */
/*
 * udd's SISCI layer: a pointer for every BAR.
 *
 * When a BAR can only be trapped (a vfio-user region without mmap, a
 * register with read side effects), SCIMapRemoteSegment returns a range
 * mapped PROT_NONE. A SIGSEGV handler, installed only while such a range
 * exists, decodes the faulting instruction (x86dec.c), performs the access
 * through the map's udd access handle (REGION_READ/REGION_WRITE), writes a
 * load's result into the destination register, advances RIP and resumes.
 *
 * Faults outside our ranges go to the handler that was installed before
 * ours. Faults inside that cannot be emulated (unsupported instruction,
 * misaligned or out-of-range access, a store through a READONLY map) get a
 * diagnostic on stderr and then go to the previous handler too — with the
 * default disposition the process dies of SIGSEGV, as it would have
 * without the layer. Limits: see docs/sisci.md.
 */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <ucontext.h>
#include <unistd.h>

#include "sisci_int.h"
#include "x86dec.h"

#define NSLOTS 64

struct trap_slot {
	_Atomic uintptr_t base; /* 0: free */
	size_t len;             /* mapped bytes (pages) */
	size_t size;            /* bytes backed by the register set */
	udd_acc_t *acc;
	int readonly;
};

static struct trap_slot slots[NSLOTS];
static int nused;
static struct sigaction old_sa;
static int installed;

static void put_str(const char *s)
{
	ssize_t r = write(STDERR_FILENO, s, strlen(s));
	(void)r;
}

static void put_hex(uint64_t v)
{
	char b[19];
	b[0] = '0';
	b[1] = 'x';
	for (int i = 0; i < 16; i++)
		b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 0xf];
	b[18] = '\0';
	put_str(b);
}

static void chain(int sig, siginfo_t *si, void *uc)
{
	if (old_sa.sa_flags & SA_SIGINFO) {
		if (old_sa.sa_sigaction) {
			old_sa.sa_sigaction(sig, si, uc);
			return;
		}
	} else if (old_sa.sa_handler != SIG_DFL && old_sa.sa_handler != SIG_IGN &&
		   old_sa.sa_handler != NULL) {
		old_sa.sa_handler(sig);
		return;
	}
	/* Default: return with SIGSEGV at its default action, so that the
	 * faulting instruction runs again and the process dies of it. */
	struct sigaction dfl;
	memset(&dfl, 0, sizeof(dfl));
	dfl.sa_handler = SIG_DFL;
	sigemptyset(&dfl.sa_mask);
	sigaction(SIGSEGV, &dfl, NULL);
}

static const int greg_of[16] = { REG_RAX, REG_RCX, REG_RDX, REG_RBX, REG_RSP, REG_RBP,
				  REG_RSI, REG_RDI, REG_R8,  REG_R9,  REG_R10, REG_R11,
				  REG_R12, REG_R13, REG_R14, REG_R15 };

static void diag(const char *why, uintptr_t rip, uint64_t off, const uint8_t *code)
{
	put_str("libsisci (udd): cannot emulate an access to a trapped BAR mapping: ");
	put_str(why);
	put_str("; offset ");
	put_hex(off);
	put_str(", RIP ");
	put_hex(rip);
	put_str(", code");
	for (int i = 0; i < 8; i++) {
		char b[4] = { ' ', "0123456789abcdef"[code[i] >> 4], "0123456789abcdef"[code[i] & 15],
			      '\0' };
		put_str(b);
	}
	put_str("\n");
}

static void on_segv(int sig, siginfo_t *si, void *ucv)
{
	int saved = errno;
	ucontext_t *uc = ucv;
	uintptr_t a = (uintptr_t)si->si_addr;
	struct trap_slot *s = NULL;
	uintptr_t base = 0;

	for (int i = 0; i < NSLOTS; i++) {
		base = atomic_load_explicit(&slots[i].base, memory_order_acquire);
		if (base && a >= base && a - base < slots[i].len) {
			s = &slots[i];
			break;
		}
	}
	if (!s || si->si_code != SEGV_ACCERR) {
		chain(sig, si, ucv);
		errno = saved;
		return;
	}
	uint64_t off = a - base;
	uintptr_t rip = (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
	const uint8_t *code = (const uint8_t *)rip;
	struct x86_mov m;
	if (x86_decode_mov(code, 15, &m) < 0) {
		diag("unsupported instruction", rip, off, code);
		chain(sig, si, ucv);
		errno = saved;
		return;
	}
	if (off >= s->size || m.width > s->size - off) {
		diag("outside the register set", rip, off, code);
		chain(sig, si, ucv);
		errno = saved;
		return;
	}
	if (off % m.width) {
		diag("misaligned access", rip, off, code);
		chain(sig, si, ucv);
		errno = saved;
		return;
	}
	if (m.store && s->readonly) {
		diag("store through a read-only mapping", rip, off, code);
		chain(sig, si, ucv);
		errno = saved;
		return;
	}
	greg_t *gr = uc->uc_mcontext.gregs;
	if (m.store) {
		uint64_t v = x86_store_value(&m, m.has_imm ? 0 : (uint64_t)gr[greg_of[m.reg]]);
		switch (m.width) {
		case 1: udd_put8(s->acc, off, (uint8_t)v); break;
		case 2: udd_put16(s->acc, off, (uint16_t)v); break;
		case 4: udd_put32(s->acc, off, (uint32_t)v); break;
		default: udd_put64(s->acc, off, v); break;
		}
	} else {
		uint64_t v;
		switch (m.width) {
		case 1: v = udd_get8(s->acc, off); break;
		case 2: v = udd_get16(s->acc, off); break;
		case 4: v = udd_get32(s->acc, off); break;
		default: v = udd_get64(s->acc, off); break;
		}
		if (m.test) {
			uint64_t b = m.has_imm ? m.imm : x86_store_value(&m, (uint64_t)gr[greg_of[m.reg]]);
			gr[REG_EFL] = (greg_t)x86_test_flags((uint64_t)gr[REG_EFL], v, b, m.width);
		} else {
			int g = greg_of[m.reg];
			gr[g] = (greg_t)x86_merge_load(&m, (uint64_t)gr[g], v);
		}
	}
	gr[REG_RIP] = (greg_t)(rip + m.len);
	errno = saved;
}

/* Lock held. */
int sci_trap_add(void *base, size_t len, size_t size, udd_acc_t *acc, bool readonly)
{
	int slot = -1;
	for (int i = 0; i < NSLOTS; i++) {
		if (atomic_load(&slots[i].base) == 0) {
			slot = i;
			break;
		}
	}
	if (slot < 0)
		return -ENOSPC;
	if (nused == 0 && !installed) {
		struct sigaction sa;
		memset(&sa, 0, sizeof(sa));
		sa.sa_sigaction = on_segv;
		sa.sa_flags = SA_SIGINFO;
		sigemptyset(&sa.sa_mask);
		if (sigaction(SIGSEGV, &sa, &old_sa) < 0)
			return -errno;
		installed = 1;
	}
	slots[slot].len = len;
	slots[slot].size = size;
	slots[slot].acc = acc;
	slots[slot].readonly = readonly;
	atomic_store_explicit(&slots[slot].base, (uintptr_t)base, memory_order_release);
	nused++;
	return slot;
}

/* Lock held. */
void sci_trap_del(int slot)
{
	if (slot < 0 || slot >= NSLOTS || atomic_load(&slots[slot].base) == 0)
		return;
	atomic_store_explicit(&slots[slot].base, 0, memory_order_release);
	if (--nused == 0 && installed) {
		struct sigaction cur;
		/* Put the previous handler back only if ours is still in place. */
		if (sigaction(SIGSEGV, NULL, &cur) == 0 && (cur.sa_flags & SA_SIGINFO) &&
		    cur.sa_sigaction == on_segv)
			sigaction(SIGSEGV, &old_sa, NULL);
		installed = 0;
	}
}
