/* SPDX-License-Identifier: MIT */
/*
 * bench_guest_access (table 1, guest): a register access on QEMU's edu BAR0,
 * mapped through VFIO (vfio-pci in the guest), register 0x04 (liveness):
 *
 *   raw volatile pointer   the baseline: a volatile load/store through the
 *                          BAR mapping's address (udd_acc_ptr of the handle,
 *                          i.e. the very same mmap of the VFIO region)
 *   udd_direct_get32/put32 the unchecked inline path
 *   udd_get32/put32        the checked inline path
 *
 * Under TCG every access to the BAR leaves the translated code for QEMU's
 * device model (edu_mmio_read/write), so each row measures the emulated
 * access; it is the same for every row, which is why the ratio still says
 * what udd adds.
 */
#define _GNU_SOURCE
#include "guest_bench.h"

static unsigned n_acc;
static udd_acc_t *bar;
static volatile uint8_t *raw;
static volatile uint32_t sink;

enum kind { RAW_GET, DIRECT_GET, UDD_GET, RAW_PUT, DIRECT_PUT, UDD_PUT };

static double run(void *arg)
{
	enum kind k = (enum kind)(uintptr_t)arg;
	volatile uint32_t *r = (volatile uint32_t *)(void *)(raw + GB_EDU_LIVE);
	uint32_t acc = 0;
	double t0 = bench_now_ns();
	switch (k) {
	case RAW_GET:
		for (unsigned i = 0; i < n_acc; i++)
			acc += *r;
		break;
	case DIRECT_GET:
		for (unsigned i = 0; i < n_acc; i++)
			acc += udd_direct_get32(bar, GB_EDU_LIVE);
		break;
	case UDD_GET:
		for (unsigned i = 0; i < n_acc; i++)
			acc += udd_get32(bar, GB_EDU_LIVE);
		break;
	case RAW_PUT:
		for (unsigned i = 0; i < n_acc; i++)
			*r = i;
		break;
	case DIRECT_PUT:
		for (unsigned i = 0; i < n_acc; i++)
			udd_direct_put32(bar, GB_EDU_LIVE, i);
		break;
	case UDD_PUT:
		for (unsigned i = 0; i < n_acc; i++)
			udd_put32(bar, GB_EDU_LIVE, i);
		break;
	}
	double t1 = bench_now_ns();
	sink = acc;
	return (t1 - t0) / n_acc;
}

int main(void)
{
	int ret = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	n_acc = bench_n(20000, 10);
	udd_ctx_t *ctx = gb_ctx();
	udd_dev_t *edu = NULL;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	int rc = gb_borrow_edu(ctx, &edu);
	if (rc == 0)
		rc = udd_regs_map_bar(edu, 0, 0, 0, &attr, &bar);
	if (rc < 0) {
		fprintf(stderr, "bench: edu BAR0: %s\n", strerror(-rc));
		goto out;
	}
	raw = udd_acc_ptr(bar);
	if (!udd_acc_is_direct(bar) || !raw) {
		fprintf(stderr, "bench: edu BAR0 is not mapped directly (trapped handle)\n");
		goto out;
	}
	/* it is the device: the liveness register answers ~value */
	udd_put32(bar, GB_EDU_LIVE, 0x12345678);
	if (udd_get32(bar, GB_EDU_LIVE) != ~0x12345678u ||
	    *(volatile uint32_t *)(void *)(raw + GB_EDU_LIVE) != ~0x12345678u) {
		fprintf(stderr, "bench: edu liveness register does not answer ~x\n");
		goto out;
	}

	struct bench_cell c[] = {
		{ .name = "raw volatile pointer, get32", .fn = run, .arg = (void *)RAW_GET },
		{ .name = "udd_direct_get32", .fn = run, .arg = (void *)DIRECT_GET },
		{ .name = "udd_get32 (checked inline)", .fn = run, .arg = (void *)UDD_GET },
		{ .name = "raw volatile pointer, put32", .fn = run, .arg = (void *)RAW_PUT },
		{ .name = "udd_direct_put32", .fn = run, .arg = (void *)DIRECT_PUT },
		{ .name = "udd_put32 (checked inline)", .fn = run, .arg = (void *)UDD_PUT },
	};
	bench_measure(c, 6);
	bench_title("1 (guest). register access: edu BAR0 0x04 mmapped through VFIO, per access "
		    "(TCG: every access is QEMU's emulated MMIO; baseline: the raw pointer)");
	for (int i = 0; i < 6; i++)
		bench_row(c[i].name, &c[i], &c[i < 3 ? 0 : 3]);
	ret = 0;
	for (int i = 0; i < 6; i++)
		ret |= c[i].failed;
out:
	udd_regs_unmap(bar);
	udd_dev_return(edu);
	udd_ctx_close(ctx);
	return ret;
}
