/* SPDX-License-Identifier: MIT */
/*
 * The DDI layer on the edu device (1234:11e8), one source for two backends:
 *
 *   ddi_edu [--backend sim|vfio]     (default: vfio when $UDD_VM=1, else sim)
 *
 *  - sim:  the embedded udd-sim's edu model in a private runtime directory
 *          (host; needs $UDD_SIM);
 *  - vfio: QEMU's edu bound to vfio-pci in the test guest (tests/vm), the
 *          embedded pool off. Built statically by build-guest.sh.
 *
 * Everything goes through the DDI API, as a ported driver would use it:
 * ddi_udd_attach (exclusive; a second attach is DDI_EAGAIN), register sets
 * (rnumber 0 config, 1 BAR0 of 1 MiB, 2 none), every documented error return
 * of ddi_regs_map_setup, a little-endian strict-order BAR0 handle (id
 * register, liveness), rep with and without autoincrement over registers and
 * over the edu buffer at 0x40000, a sub-range mapping with an offset, bad
 * addresses marking the handle (ddi_check_acc_handle, ddi_fm_acc_err_get),
 * ddi_peek/ddi_poke, configuration space (ids, class, capability list with
 * MSI, bus mastering through the command register), DMA (attribute
 * validation, ddi_dma_mem_alloc, one cookie below 256 MiB, DDI_DMA_INUSE,
 * DDI_DMA_TOOBIG, an edu DMA round trip through the cookie), MSI (handler on
 * the library thread for edu's raise register and for a DMA-completion
 * interrupt, acknowledged in the handler; disable/enable).
 *
 * Where QEMU's edu and udd-sim's differ the test says which behaviour it
 * expects where: QEMU's edu answers only 32-bit accesses below 0x80 and
 * 32/64-bit ones at 0x80..0x98, and does not decode its DMA buffer in BAR0
 * (reads all ones, ignores writes); udd-sim decodes the buffer.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <udd/ddi.h>

#include "testlib.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_REV 0x10
#define EDU_BAR0_SIZE (1 << 20)
#define EDU_ID 0x00
#define EDU_ID_VALUE 0x010000edu
#define EDU_LIVE 0x04
#define EDU_IRQ_STATUS 0x24
#define EDU_IRQ_RAISE 0x60
#define EDU_IRQ_ACK 0x64
#define EDU_DMA_SRC 0x80
#define EDU_DMA_DST 0x88
#define EDU_DMA_CNT 0x90
#define EDU_DMA_CMD 0x98
#define EDU_CMD_START 0x1u
#define EDU_CMD_TO_RAM 0x2u
#define EDU_CMD_IRQ 0x4u
#define EDU_IRQ_DMA 0x100u
#define EDU_BUF 0x40000u
#define EDU_DMA_MASK 0x0fffffffull /* edu masks DMA addresses to 28 bits */
#define XFER 2048u /* QEMU's edu aborts on a transfer reaching its buffer's last byte */

#define PCI_COMMAND 0x04
#define PCI_STATUS 0x06
#define PCI_CMD_MEM 0x2u
#define PCI_CMD_MASTER 0x4u
#define PCI_STATUS_CAP 0x10u
#define PCI_CAP_PTR 0x34
#define PCI_CAP_MSI 0x05

enum backend { BE_SIM, BE_VFIO };
static enum backend be;
static char rtdir[64];

/* register pointers from a DDI base address */
#define R32(base, off) ((uint32_t *)(void *)((base) + (off)))
#define R64(base, off) ((uint64_t *)(void *)((base) + (off)))

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	if (level <= UDD_LOG_WARN || getenv("UDD_DDI_VERBOSE"))
		fprintf(stderr, "  [udd %d] %s\n", level, msg);
}

static int open_ctx(udd_ctx_t **ctx)
{
	udd_ctx_opts_t o = { .log_cb = log_cb, .log_level = UDD_LOG_INFO };
	if (be == BE_SIM) {
		o.flags = UDD_CTX_F_NO_VFIO;
		o.runtime_dir = rtdir;
	} else {
		o.flags = UDD_CTX_F_NO_EMBEDDED;
	}
	return udd_ctx_open(ctx, &o);
}

static udd_fdid_t find_edu(udd_ctx_t *ctx)
{
	udd_filter_t f = { .vendor_id = EDU_VENDOR, .device_id = EDU_DEVICE };
	udd_fdid_t id = 0;
	int n = udd_pool_list(ctx, &f, &id, 1);
	if (n < 1) {
		fprintf(stderr, "ddi_edu: no edu (1234:11e8) in the pool (%d)\n", n);
		exit(1);
	}
	return id;
}

/* The command register as the guest kernel sees it (vfio only), or -1. */
static int sysfs_command(void)
{
	const char *bdf = getenv("UDD_VM_EDU");
	if (be != BE_VFIO || !bdf)
		return -1;
	char p[128];
	uint16_t cmd = 0;
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	int fd = open(p, O_RDONLY);
	if (fd < 0)
		return -1;
	ssize_t n = pread(fd, &cmd, 2, PCI_COMMAND);
	close(fd);
	return n == 2 ? cmd : -1;
}

static const ddi_device_acc_attr_t le_strict = { DDI_DEVICE_ATTR_V0, DDI_STRUCTURE_LE_ACC,
						 DDI_STRICTORDER_ACC, 0 };

/* ---- attach ------------------------------------------------------------------------- */

static void test_attach(udd_ctx_t *ctx, udd_fdid_t id, dev_info_t *dip)
{
	dev_info_t *d2 = NULL;
	CHECK_EQ(ddi_udd_attach(NULL, id, UDD_BORROW_EXCLUSIVE, &d2), DDI_EINVAL);
	CHECK_EQ(ddi_udd_attach(ctx, id, UDD_BORROW_EXCLUSIVE, NULL), DDI_EINVAL);
	/* a second exclusive borrower (another context of this process) */
	udd_ctx_t *c2;
	REQUIRE_OK(open_ctx(&c2));
	CHECK_EQ(ddi_udd_attach(c2, id, UDD_BORROW_EXCLUSIVE, &d2), DDI_EAGAIN);
	CHECK(d2 == NULL);
	udd_ctx_close(c2);
	/* an fdid that is not in the pool */
	CHECK_EQ(ddi_udd_attach(ctx, id ^ 0x7fff0000u, UDD_BORROW_EXCLUSIVE, &d2), DDI_FAILURE);
	CHECK(d2 == NULL);
	CHECK(ddi_get_instance(dip) >= 0);
	CHECK(ddi_udd_dev(dip) != NULL);
	CHECK_EQ(udd_dev_fdid(ddi_udd_dev(dip)), id);
}

/* ---- register sets and ddi_regs_map_setup's error returns ------------------------------ */

static off_t test_regsets(dev_info_t *dip)
{
	int n = 0;
	off_t cfg = 0, sz = 0;
	CHECK_EQ(ddi_dev_nregs(dip, &n), DDI_SUCCESS);
	CHECK_EQ(n, 2); /* configuration space, BAR0 */
	CHECK_EQ(ddi_dev_regsize(dip, 0, &cfg), DDI_SUCCESS);
	CHECK(cfg >= 256 && cfg <= 4096);
	CHECK_EQ(ddi_dev_regsize(dip, 1, &sz), DDI_SUCCESS);
	CHECK_EQ(sz, EDU_BAR0_SIZE);
	sz = 12345;
	CHECK_EQ(ddi_dev_regsize(dip, 2, &sz), DDI_FAILURE);
	CHECK_EQ(ddi_dev_regsize(dip, 99, &sz), DDI_FAILURE);
	printf("register sets: %d (config %lld bytes, BAR0 %d bytes)\n", n, (long long)cfg,
	       EDU_BAR0_SIZE);
	return cfg;
}

static void test_map_errors(dev_info_t *dip)
{
	ddi_acc_handle_t h = NULL;
	caddr_t base = NULL;
	const ddi_device_acc_attr_t *a = &le_strict;

	CHECK_EQ(ddi_regs_map_setup(dip, 2, &base, 0, 0, a, &h), DDI_ME_RNUMBER_RANGE);
	CHECK_EQ(ddi_regs_map_setup(dip, 99, &base, 0, 4, a, &h), DDI_ME_RNUMBER_RANGE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, EDU_BAR0_SIZE, 0, a, &h), DDI_FAILURE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, -4096, 4096, a, &h), DDI_FAILURE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, EDU_BAR0_SIZE + 1, a, &h), DDI_FAILURE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, EDU_BAR0_SIZE - 4096, 8192, a, &h), DDI_FAILURE);
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, -1, a, &h), DDI_FAILURE);
	ddi_device_acc_attr_t bad = le_strict;
	bad.devacc_attr_version = 7;
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, 0, &bad, &h), DDI_FAILURE);
	bad = le_strict;
	bad.devacc_attr_endian_flags = 3;
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, 0, &bad, &h), DDI_FAILURE);
	bad = le_strict;
	bad.devacc_attr_dataorder = 5;
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, 0, &bad, &h), DDI_FAILURE);
	bad = le_strict;
	bad.devacc_attr_version = DDI_DEVICE_ATTR_V1;
	bad.devacc_attr_access = 9;
	CHECK_EQ(ddi_regs_map_setup(dip, 1, &base, 0, 0, &bad, &h), DDI_FAILURE);
	CHECK(h == NULL); /* untouched on failure */
}

/* ---- BAR0 access ---------------------------------------------------------------------- */

static void test_access(dev_info_t *dip, ddi_acc_handle_t h, caddr_t b)
{
	udd_acc_t *ua = ddi_udd_acc(h);
	REQUIRE(ua != NULL);
	printf("BAR0 handle: %s, DDI address %s\n", udd_acc_is_direct(ua) ? "direct" : "trapped",
	       udd_acc_is_direct(ua) ? "is the mapping" : "is a PROT_NONE reservation");

	CHECK_EQ(ddi_get32(h, R32(b, EDU_ID)), EDU_ID_VALUE);
	CHECK_EQ(ddi_mem_get32(h, R32(b, EDU_ID)), EDU_ID_VALUE);
	static const uint32_t pats[] = { 0, 0xffffffffu, 0x12345678u, 0xa5a5a5a5u };
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		ddi_put32(h, R32(b, EDU_LIVE), pats[i]);
		CHECK_EQ(ddi_get32(h, R32(b, EDU_LIVE)), ~pats[i]);
	}
	ddi_mem_put32(h, R32(b, EDU_LIVE), 0x0f0f0f0fu);
	CHECK_EQ(ddi_get32(h, R32(b, EDU_LIVE)), 0xf0f0f0f0u);
	/* 64-bit DMA address registers */
	ddi_put64(h, R64(b, EDU_DMA_SRC), 0x0000abcd12345000ull);
	CHECK_EQ(ddi_get64(h, R64(b, EDU_DMA_SRC)), 0x0000abcd12345000ull);
	ddi_put64(h, R64(b, EDU_DMA_CNT), 0);
	CHECK_EQ(ddi_get64(h, R64(b, EDU_DMA_CMD)) & EDU_CMD_START, 0);

	/* rep, autoincrement, over registers both models decode */
	uint64_t w[3] = { 0x1000, EDU_BUF, 64 }, r[3] = { 0, 0, 0 };
	ddi_rep_put64(h, w, R64(b, EDU_DMA_SRC), 3, DDI_DEV_AUTOINCR);
	CHECK_EQ(ddi_get64(h, R64(b, EDU_DMA_SRC)), 0x1000);
	CHECK_EQ(ddi_get64(h, R64(b, EDU_DMA_DST)), EDU_BUF);
	CHECK_EQ(ddi_get64(h, R64(b, EDU_DMA_CNT)), 64);
	ddi_rep_get64(h, r, R64(b, EDU_DMA_SRC), 3, DDI_DEV_AUTOINCR);
	CHECK(memcmp(r, w, sizeof(r)) == 0);
	uint32_t rr[4] = { 0, 0, 0, 0 };
	ddi_rep_get32(h, rr, R32(b, EDU_ID), 2, DDI_DEV_AUTOINCR);
	CHECK_EQ(rr[0], EDU_ID_VALUE);
	CHECK_EQ(rr[1], 0xf0f0f0f0u); /* liveness: ~0x0f0f0f0f */
	/* without autoincrement: the same register every time */
	ddi_rep_get32(h, rr, R32(b, EDU_ID), 4, DDI_DEV_NO_AUTOINCR);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(rr[i], EDU_ID_VALUE);
	uint32_t seq[3] = { 1, 2, 0x77 };
	ddi_rep_put32(h, seq, R32(b, EDU_LIVE), 3, DDI_DEV_NO_AUTOINCR);
	CHECK_EQ(ddi_get32(h, R32(b, EDU_LIVE)), ~0x77u);
	/* ... and with autoincrement the three items land in SRC lo/hi, DST lo */
	uint32_t s3[3] = { 0x11110000u, 0x2u, 0x40100u };
	ddi_rep_put32(h, s3, R32(b, EDU_DMA_SRC), 3, DDI_DEV_AUTOINCR);
	/* both models store a 32-bit write at 0x80 as the whole register and
	 * ignore one at 0x84 (not a register) */
	CHECK_EQ(ddi_get64(h, R64(b, EDU_DMA_SRC)), 0x11110000u);
	CHECK_EQ(ddi_get32(h, R32(b, EDU_DMA_DST)), 0x40100u);

	/* the edu buffer at 0x40000 through a sub-range mapping with an offset */
	ddi_acc_handle_t bh = NULL;
	caddr_t bb = NULL;
	REQUIRE(ddi_regs_map_setup(dip, 1, &bb, EDU_BUF, 4096, &le_strict, &bh) == DDI_SUCCESS);
	uint32_t out[64], in[64];
	for (int i = 0; i < 64; i++)
		out[i] = 0xbeef0000u + (uint32_t)i * 0x01010101u;
	ddi_rep_put32(bh, out, R32(bb, 0x100), 64, DDI_DEV_AUTOINCR);
	memset(in, 0, sizeof(in));
	ddi_rep_get32(bh, in, R32(bb, 0x100), 64, DDI_DEV_AUTOINCR);
	if (be == BE_SIM) {
		CHECK(memcmp(in, out, sizeof(in)) == 0);
		ddi_rep_get32(bh, rr, R32(bb, 0x104), 4, DDI_DEV_NO_AUTOINCR);
		for (int i = 0; i < 4; i++)
			CHECK_EQ(rr[i], out[1]);
	} else {
		/* QEMU's edu does not decode its buffer in BAR0 */
		int ones = 1;
		for (int i = 0; i < 64; i++)
			ones &= in[i] == 0xffffffffu;
		CHECK(ones);
	}
	CHECK_EQ(ddi_check_acc_handle(bh), DDI_SUCCESS);

	/* bad addresses: outside the sub-range, misaligned. The access reads all
	 * ones, marks the handle (NONFATAL), and clearing makes it clean again */
	CHECK_EQ(ddi_get32(bh, R32(bb, 4096)), 0xffffffffu);
	CHECK_EQ(ddi_check_acc_handle(bh), DDI_FAILURE);
	ddi_fm_error_t de;
	memset(&de, 0, sizeof(de));
	ddi_fm_acc_err_get(bh, &de, DDI_FME_VERSION);
	CHECK_EQ(de.fme_status, DDI_FM_NONFATAL);
	CHECK(de.fme_acc_handle == bh);
	CHECK(de.fme_ena != 0);
	ddi_fm_acc_err_clear(bh, DDI_FME_VERSION);
	CHECK_EQ(ddi_check_acc_handle(bh), DDI_SUCCESS);
	ddi_put32(bh, R32(bb, 2), 0); /* misaligned */
	CHECK_EQ(ddi_check_acc_handle(bh), DDI_FAILURE);
	ddi_fm_acc_err_clear(bh, DDI_FME_VERSION);
	ddi_rep_get32(bh, in, R32(bb, 4096 - 8), 4, DDI_DEV_AUTOINCR); /* runs off the end */
	CHECK_EQ(ddi_check_acc_handle(bh), DDI_FAILURE);
	ddi_fm_acc_err_clear(bh, DDI_FME_VERSION);
	ddi_regs_map_free(&bh);
	CHECK(bh == NULL);

	/* peek/poke at DDI addresses of this dip's mappings */
	int32_t pv = 0;
	CHECK_EQ(ddi_peek32(dip, (int32_t *)(void *)(b + EDU_ID), &pv), DDI_SUCCESS);
	CHECK_EQ((uint32_t)pv, EDU_ID_VALUE);
	CHECK_EQ(ddi_poke32(dip, (int32_t *)(void *)(b + EDU_LIVE), 0x55aa55aa), DDI_SUCCESS);
	CHECK_EQ(ddi_get32(h, R32(b, EDU_LIVE)), ~0x55aa55aau);
	int32_t stray = 0;
	CHECK_EQ(ddi_peek32(dip, &stray, &pv), DDI_FAILURE); /* not a mapping of dip */

	CHECK_EQ(ddi_check_acc_handle(h), DDI_SUCCESS);
}

/* ---- configuration space -------------------------------------------------------------- */

static void test_config(dev_info_t *dip, off_t cfgsize)
{
	ddi_acc_handle_t c = NULL;
	REQUIRE(pci_config_setup(dip, &c) == DDI_SUCCESS);
	CHECK_EQ(pci_config_get16(c, 0), EDU_VENDOR);
	CHECK_EQ(pci_config_get16(c, 2), EDU_DEVICE);
	CHECK_EQ(pci_config_get32(c, 0), (uint32_t)EDU_DEVICE << 16 | EDU_VENDOR);
	CHECK_EQ(pci_config_get8(c, 8), EDU_REV);
	CHECK_EQ(pci_config_get8(c, 0x0b), 0x00); /* class: unclassified ... */
	CHECK_EQ(pci_config_get8(c, 0x0a), 0xff); /* ... "other" (PCI_CLASS_OTHERS) */

	/* the capability list has MSI */
	CHECK(pci_config_get16(c, PCI_STATUS) & PCI_STATUS_CAP);
	int msi = 0, hops = 0;
	for (uint8_t p = pci_config_get8(c, PCI_CAP_PTR) & 0xfc; p && hops < 48; hops++) {
		if (pci_config_get8(c, p) == PCI_CAP_MSI)
			msi = p;
		p = pci_config_get8(c, (off_t)p + 1) & 0xfc;
	}
	CHECK(msi != 0);
	printf("config: %04x:%04x rev %#x, MSI capability at %#x\n", pci_config_get16(c, 0),
	       pci_config_get16(c, 2), pci_config_get8(c, 8), msi);

	/* bus mastering as a driver does it: command bits 1-2. Clear it first
	 * (vfio: the guest kernel's view follows), then set it */
	uint16_t cmd = pci_config_get16(c, PCI_COMMAND);
	pci_config_put16(c, PCI_COMMAND, (uint16_t)(cmd & ~PCI_CMD_MASTER));
	CHECK_EQ(pci_config_get16(c, PCI_COMMAND) & PCI_CMD_MASTER, 0);
	int k = sysfs_command();
	if (k >= 0)
		CHECK_EQ(k & PCI_CMD_MASTER, 0);
	pci_config_put16(c, PCI_COMMAND, (uint16_t)(cmd | PCI_CMD_MEM | PCI_CMD_MASTER));
	CHECK_EQ(pci_config_get16(c, PCI_COMMAND) & 0x6, 0x6);
	k = sysfs_command();
	if (k >= 0)
		CHECK_EQ(k & 0x6, 0x6);
	CHECK_EQ(ddi_check_acc_handle(c), DDI_SUCCESS);

	/* past the end of configuration space: all ones, the handle is marked */
	CHECK_EQ(pci_config_get16(c, cfgsize), 0xffff);
	CHECK_EQ(pci_config_get32(c, -4), 0xffffffffu);
	CHECK_EQ(ddi_check_acc_handle(c), DDI_FAILURE);
	ddi_fm_acc_err_clear(c, DDI_FME_VERSION);
	CHECK_EQ(ddi_check_acc_handle(c), DDI_SUCCESS);
	pci_config_teardown(&c);
	CHECK(c == NULL);
}

/* ---- DMA ------------------------------------------------------------------------------ */

static int edu_dma_wait(ddi_acc_handle_t h, caddr_t b)
{
	double end = now() + 20;
	while (ddi_get64(h, R64(b, EDU_DMA_CMD)) & EDU_CMD_START) {
		if (now() > end)
			return -1;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static void edu_dma_start(ddi_acc_handle_t h, caddr_t b, uint64_t src, uint64_t dst, uint32_t cmd)
{
	ddi_put64(h, R64(b, EDU_DMA_SRC), src);
	ddi_put64(h, R64(b, EDU_DMA_DST), dst);
	ddi_put64(h, R64(b, EDU_DMA_CNT), XFER);
	ddi_put64(h, R64(b, EDU_DMA_CMD), EDU_CMD_START | cmd);
}

static ddi_dma_attr_t edu_dma_attr(void)
{
	ddi_dma_attr_t a = {
		.dma_attr_version = DMA_ATTR_V0,
		.dma_attr_addr_lo = 0,
		.dma_attr_addr_hi = EDU_DMA_MASK,
		.dma_attr_count_max = 0xffffffffull,
		.dma_attr_align = 4096,
		.dma_attr_burstsizes = 0x7c,
		.dma_attr_minxfer = 1,
		.dma_attr_maxxfer = 0xffffffffull,
		.dma_attr_seg = 0xffffffffull,
		.dma_attr_sgllen = 1,
		.dma_attr_granular = 1,
		.dma_attr_flags = 0,
	};
	return a;
}

struct dma_state {
	ddi_dma_handle_t h;
	ddi_acc_handle_t mh;
	caddr_t kaddr;
	uint64_t iova;
};

static void test_dma(dev_info_t *dip, ddi_acc_handle_t regs, caddr_t r, struct dma_state *ds)
{
	ddi_dma_attr_t a = edu_dma_attr();
	ddi_dma_handle_t h = NULL;

	/* attribute validation */
	ddi_dma_attr_t bad = a;
	bad.dma_attr_version = 3;
	CHECK_EQ(ddi_dma_alloc_handle(dip, &bad, DDI_DMA_SLEEP, NULL, &h), DDI_DMA_BADATTR);
	bad = a;
	bad.dma_attr_sgllen = 0;
	CHECK_EQ(ddi_dma_alloc_handle(dip, &bad, DDI_DMA_SLEEP, NULL, &h), DDI_DMA_BADATTR);
	bad = a;
	bad.dma_attr_addr_lo = 0x2000, bad.dma_attr_addr_hi = 0x1000;
	CHECK_EQ(ddi_dma_alloc_handle(dip, &bad, DDI_DMA_SLEEP, NULL, &h), DDI_DMA_BADATTR);
	CHECK(h == NULL);

	REQUIRE(ddi_dma_alloc_handle(dip, &a, DDI_DMA_SLEEP, NULL, &h) == DDI_SUCCESS);
	ddi_acc_handle_t mh = NULL;
	caddr_t kaddr = NULL;
	size_t real = 0;
	REQUIRE(ddi_dma_mem_alloc(h, 8192, &le_strict, DDI_DMA_CONSISTENT, DDI_DMA_SLEEP, NULL, &kaddr,
				  &real, &mh) == DDI_SUCCESS);
	CHECK(real >= 8192);
	ddi_dma_cookie_t ck;
	uint_t cc = 0;
	CHECK_EQ(ddi_dma_addr_bind_handle(h, NULL, kaddr, 8192, DDI_DMA_RDWR | DDI_DMA_CONSISTENT,
					  DDI_DMA_SLEEP, NULL, &ck, &cc),
		 DDI_DMA_MAPPED);
	CHECK_EQ(cc, 1);
	CHECK_EQ(ddi_dma_ncookies(h), 1);
	REQUIRE(ddi_dma_cookie_one(h) != NULL);
	CHECK_EQ(ddi_dma_cookie_one(h)->dmac_laddress, ck.dmac_laddress);
	CHECK_EQ(ck.dmac_size, 8192);
	CHECK(ck.dmac_laddress + 8192 - 1 <= EDU_DMA_MASK);
	CHECK_EQ(ck.dmac_laddress & 4095, 0);
	printf("DMA: one cookie at 0x%llx, %zu bytes\n", (unsigned long long)ck.dmac_laddress,
	       (size_t)ck.dmac_size);
	CHECK_EQ(ddi_dma_addr_bind_handle(h, NULL, kaddr, 4096, DDI_DMA_READ, DDI_DMA_SLEEP, NULL, &ck,
					  &cc),
		 DDI_DMA_INUSE);
	ck = *ddi_dma_cookie_one(h);

	/* one cookie cannot cover 8 KiB with a 4 KiB segment boundary */
	ddi_dma_attr_t seg = a;
	seg.dma_attr_seg = 0xfff;
	ddi_dma_handle_t h2 = NULL;
	REQUIRE(ddi_dma_alloc_handle(dip, &seg, DDI_DMA_SLEEP, NULL, &h2) == DDI_SUCCESS);
	ddi_dma_cookie_t ck2;
	uint_t cc2 = 0;
	CHECK_EQ(ddi_dma_addr_bind_handle(h2, NULL, kaddr, 8192, DDI_DMA_WRITE, DDI_DMA_SLEEP, NULL,
					  &ck2, &cc2),
		 DDI_DMA_TOOBIG);
	CHECK_EQ(ddi_dma_ncookies(h2), 0);
	CHECK_EQ(ddi_dma_addr_bind_handle(h2, NULL, kaddr + 4096, 4096, DDI_DMA_WRITE, DDI_DMA_SLEEP,
					  NULL, &ck2, &cc2),
		 DDI_DMA_MAPPED);
	CHECK_EQ(cc2, 1);
	CHECK(ck2.dmac_laddress + 4095 <= EDU_DMA_MASK);
	CHECK_EQ(ddi_dma_unbind_handle(h2), DDI_SUCCESS);
	CHECK_EQ(ddi_dma_unbind_handle(h2), DDI_FAILURE);
	ddi_dma_free_handle(&h2);
	CHECK(h2 == NULL);

	/* the round trip: RAM -> edu buffer -> RAM 4 KiB further, through the cookie */
	for (unsigned i = 0; i < XFER; i++)
		ddi_put8(mh, (uint8_t *)(kaddr + i), (uint8_t)(i * 7 + 3));
	for (unsigned i = 0; i < XFER; i++)
		ddi_put8(mh, (uint8_t *)(kaddr + 4096 + i), 0);
	CHECK_EQ(ddi_dma_sync(h, 0, XFER, DDI_DMA_SYNC_FORDEV), DDI_SUCCESS);
	double t0 = now();
	edu_dma_start(regs, r, ck.dmac_laddress, EDU_BUF, 0);
	CHECK_EQ(edu_dma_wait(regs, r), 0);
	if (be == BE_SIM) {
		/* udd-sim decodes the buffer: the data arrived there */
		uint32_t w0 = 0;
		ddi_rep_get32(regs, &w0, R32(r, EDU_BUF), 1, DDI_DEV_AUTOINCR);
		CHECK_EQ(w0, ddi_get32(mh, R32(kaddr, 0)));
	}
	edu_dma_start(regs, r, EDU_BUF, ck.dmac_laddress + 4096, EDU_CMD_TO_RAM);
	CHECK_EQ(edu_dma_wait(regs, r), 0);
	CHECK_EQ(ddi_dma_sync(h, 4096, XFER, DDI_DMA_SYNC_FORCPU), DDI_SUCCESS);
	printf("DMA round trip of %u bytes: %.3f s\n", XFER, now() - t0);
	CHECK(memcmp(kaddr, kaddr + 4096, XFER) == 0);
	CHECK_EQ(ddi_get8(mh, (uint8_t *)(kaddr + 4096 + 9)), (uint8_t)(9 * 7 + 3));
	/* little-endian access handle on the memory: bytes 0..3 as one word */
	CHECK_EQ(ddi_get32(mh, R32(kaddr, 4096)),
		 (uint32_t)3 | (uint32_t)10 << 8 | (uint32_t)17 << 16 | (uint32_t)24 << 24);
	CHECK_EQ(ddi_check_acc_handle(mh), DDI_SUCCESS);
	CHECK_EQ(ddi_check_acc_handle(regs), DDI_SUCCESS);

	ds->h = h;
	ds->mh = mh;
	ds->kaddr = kaddr;
	ds->iova = ck.dmac_laddress;
}

/* ---- interrupts ----------------------------------------------------------------------- */

struct intr_state {
	kmutex_t mutex;
	kcondvar_t cv;
	ddi_acc_handle_t regs;
	caddr_t base;
	int count;
	uint32_t status;
	int unclaimed;
};

static uint_t edu_intr(caddr_t arg1, caddr_t arg2)
{
	struct intr_state *s = (struct intr_state *)(void *)arg1;
	(void)arg2;
	mutex_enter(&s->mutex);
	uint32_t st = ddi_get32(s->regs, R32(s->base, EDU_IRQ_STATUS));
	if (!st) {
		s->unclaimed++;
		mutex_exit(&s->mutex);
		return DDI_INTR_UNCLAIMED;
	}
	ddi_put32(s->regs, R32(s->base, EDU_IRQ_ACK), st);
	s->status |= st;
	s->count++;
	cv_broadcast(&s->cv);
	mutex_exit(&s->mutex);
	return DDI_INTR_CLAIMED;
}

/* Wait (at most 10 s) until the handler has seen every bit of @bits. */
static int wait_status(struct intr_state *s, uint32_t bits)
{
	int ok;
	clock_t deadline = ddi_get_lbolt() + drv_usectohz(10000000);
	mutex_enter(&s->mutex);
	while ((s->status & bits) != bits)
		if (cv_timedwait(&s->cv, &s->mutex, deadline) == -1)
			break;
	ok = (s->status & bits) == bits;
	mutex_exit(&s->mutex);
	return ok;
}

static void test_intr(dev_info_t *dip, ddi_acc_handle_t regs, caddr_t r, const struct dma_state *ds)
{
	int types = 0, n = 0, actual = 0;
	CHECK_EQ(ddi_intr_get_supported_types(dip, &types), DDI_SUCCESS);
	CHECK(types & DDI_INTR_TYPE_MSI);
	CHECK_EQ(ddi_intr_get_nintrs(dip, DDI_INTR_TYPE_MSI, &n), DDI_SUCCESS);
	CHECK(n >= 1);
	printf("interrupts: types %#x, %d MSI vector(s)\n", types, n);

	ddi_intr_handle_t hv[2] = { NULL, NULL };
	CHECK_EQ(ddi_intr_alloc(dip, hv, DDI_INTR_TYPE_MSI, 0, n + 1, &actual, DDI_INTR_ALLOC_STRICT),
		 DDI_EAGAIN);
	CHECK_EQ(ddi_intr_alloc(dip, hv, DDI_INTR_TYPE_MSI, n, 1, &actual, DDI_INTR_ALLOC_NORMAL),
		 DDI_EINVAL);
	REQUIRE(ddi_intr_alloc(dip, hv, DDI_INTR_TYPE_MSI, 0, 1, &actual, DDI_INTR_ALLOC_STRICT) ==
		DDI_SUCCESS);
	CHECK_EQ(actual, 1);
	uint_t pri = 0;
	CHECK_EQ(ddi_intr_get_pri(hv[0], &pri), DDI_SUCCESS);

	struct intr_state s;
	memset(&s, 0, sizeof(s));
	s.regs = regs;
	s.base = r;
	mutex_init(&s.mutex, NULL, MUTEX_DRIVER, DDI_INTR_PRI(pri));
	cv_init(&s.cv, NULL, CV_DRIVER, NULL);

	CHECK_EQ(ddi_intr_enable(hv[0]), DDI_EINVAL); /* no handler yet */
	CHECK_EQ(ddi_intr_add_handler(hv[0], edu_intr, &s, NULL), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_enable(hv[0]), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_remove_handler(hv[0]), DDI_EINVAL); /* while enabled */

	/* edu's raise register: the handler claims and acknowledges (every
	 * raise below uses bits no other raise uses) */
	ddi_put32(regs, R32(r, EDU_IRQ_RAISE), 0x5a5a);
	CHECK(wait_status(&s, 0x5a5a));
	CHECK_EQ(ddi_get32(regs, R32(r, EDU_IRQ_STATUS)), 0);
	ddi_put32(regs, R32(r, EDU_IRQ_RAISE), 0x20000);
	CHECK(wait_status(&s, 0x20000));
	mutex_enter(&s.mutex);
	CHECK(s.count >= 2);
	mutex_exit(&s.mutex);

	/* a DMA-completion interrupt (edu raises 0x100 when the transfer is done) */
	if (ds->h) {
		edu_dma_start(regs, r, EDU_BUF, ds->iova + 4096, EDU_CMD_TO_RAM | EDU_CMD_IRQ);
		CHECK(wait_status(&s, EDU_IRQ_DMA));
		CHECK_EQ(ddi_get64(regs, R64(r, EDU_DMA_CMD)) & EDU_CMD_START, 0);
		ddi_dma_sync(ds->h, 4096, XFER, DDI_DMA_SYNC_FORCPU);
		CHECK(memcmp(ds->kaddr, ds->kaddr + 4096, XFER) == 0);
	}

	/* disabled: the handler does not run; the raise stays in the status */
	CHECK_EQ(ddi_intr_disable(hv[0]), DDI_SUCCESS);
	mutex_enter(&s.mutex);
	int before = s.count;
	mutex_exit(&s.mutex);
	ddi_put32(regs, R32(r, EDU_IRQ_RAISE), 0x80000);
	CHECK_EQ(ddi_get32(regs, R32(r, EDU_IRQ_STATUS)), 0x80000);
	mutex_enter(&s.mutex);
	CHECK_EQ(s.count, before);
	mutex_exit(&s.mutex);
	ddi_put32(regs, R32(r, EDU_IRQ_ACK), 0x80000);
	CHECK_EQ(ddi_get32(regs, R32(r, EDU_IRQ_STATUS)), 0);

	/* enabled again: delivered again */
	CHECK_EQ(ddi_intr_enable(hv[0]), DDI_SUCCESS);
	ddi_put32(regs, R32(r, EDU_IRQ_RAISE), 0x400000);
	CHECK(wait_status(&s, 0x400000));
	mutex_enter(&s.mutex);
	CHECK_EQ(s.count, before + 1);
	CHECK_EQ(s.status & 0x80000, 0); /* the raise while disabled was never seen */
	mutex_exit(&s.mutex);
	CHECK_EQ(ddi_intr_disable(hv[0]), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_remove_handler(hv[0]), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_free(hv[0]), DDI_SUCCESS);
	mutex_enter(&s.mutex);
	printf("interrupts: handler ran %d time(s), status seen %#x, unclaimed %d\n", s.count,
	       s.status, s.unclaimed);
	mutex_exit(&s.mutex);
	cv_destroy(&s.cv);
	mutex_destroy(&s.mutex);
}

int main(int argc, char **argv)
{
	setvbuf(stdout, NULL, _IOLBF, 0); /* keep the guest log in order */
	const char *b = getenv("UDD_VM") && strcmp(getenv("UDD_VM"), "1") == 0 ? "vfio" : "sim";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc) {
			b = argv[++i];
		} else {
			fprintf(stderr, "usage: ddi_edu [--backend sim|vfio]\n");
			return 2;
		}
	}
	if (strcmp(b, "sim") == 0) {
		be = BE_SIM;
		snprintf(rtdir, sizeof(rtdir), "/tmp/udd-ddi-edu-XXXXXX");
		REQUIRE(mkdtemp(rtdir) != NULL);
	} else if (strcmp(b, "vfio") == 0) {
		be = BE_VFIO;
	} else {
		fprintf(stderr, "ddi_edu: unknown backend '%s' (sim or vfio)\n", b);
		return 2;
	}
	fprintf(stderr, "ddi_edu: backend %s\n", b);
	double t0 = now();

	udd_ctx_t *ctx;
	REQUIRE_OK(open_ctx(&ctx));
	udd_fdid_t id = find_edu(ctx);
	dev_info_t *dip = NULL;
	REQUIRE(ddi_udd_attach(ctx, id, UDD_BORROW_EXCLUSIVE, &dip) == DDI_SUCCESS);
	test_attach(ctx, id, dip);
	off_t cfgsize = test_regsets(dip);
	test_map_errors(dip);

	ddi_acc_handle_t regs = NULL;
	caddr_t r = NULL;
	REQUIRE(ddi_regs_map_setup(dip, 1, &r, 0, 0, &le_strict, &regs) == DDI_SUCCESS);
	test_access(dip, regs, r);
	test_config(dip, cfgsize);
	struct dma_state ds;
	memset(&ds, 0, sizeof(ds));
	test_dma(dip, regs, r, &ds);
	test_intr(dip, regs, r, &ds);
	CHECK_EQ(ddi_check_acc_handle(regs), DDI_SUCCESS);

	/* tidy up in the driver's order; then detach releases the device */
	CHECK_EQ(ddi_dma_unbind_handle(ds.h), DDI_SUCCESS);
	ddi_dma_mem_free(&ds.mh);
	ddi_dma_free_handle(&ds.h);
	ddi_regs_map_free(&regs);
	CHECK(regs == NULL);
	ddi_udd_detach(dip);
	if (be == BE_VFIO) {
		int k = sysfs_command();
		CHECK(k >= 0 && (k & PCI_CMD_MASTER) == 0); /* returned: bus mastering off */
	}

	/* attach again, leave everything to detach: a DMA binding, an enabled
	 * interrupt, mappings */
	dev_info_t *d2 = NULL;
	REQUIRE(ddi_udd_attach(ctx, id, UDD_BORROW_EXCLUSIVE, &d2) == DDI_SUCCESS);
	REQUIRE(ddi_regs_map_setup(d2, 1, &r, 0, 0x1000, &le_strict, &regs) == DDI_SUCCESS);
	CHECK_EQ(ddi_get32(regs, R32(r, EDU_ID)), EDU_ID_VALUE);
	ddi_dma_attr_t a = edu_dma_attr();
	ddi_dma_handle_t h = NULL;
	ddi_acc_handle_t mh = NULL;
	caddr_t k = NULL;
	size_t real = 0;
	ddi_dma_cookie_t ck;
	uint_t cc = 0;
	REQUIRE(ddi_dma_alloc_handle(d2, &a, DDI_DMA_SLEEP, NULL, &h) == DDI_SUCCESS);
	REQUIRE(ddi_dma_mem_alloc(h, 4096, &le_strict, DDI_DMA_CONSISTENT, DDI_DMA_SLEEP, NULL, &k,
				  &real, &mh) == DDI_SUCCESS);
	CHECK_EQ(ddi_dma_addr_bind_handle(h, NULL, k, 4096, DDI_DMA_RDWR, DDI_DMA_SLEEP, NULL, &ck, &cc),
		 DDI_DMA_MAPPED);
	ddi_intr_handle_t ih = NULL;
	int actual = 0;
	struct intr_state s;
	memset(&s, 0, sizeof(s));
	s.regs = regs;
	s.base = r;
	mutex_init(&s.mutex, NULL, MUTEX_DRIVER, NULL);
	cv_init(&s.cv, NULL, CV_DRIVER, NULL);
	REQUIRE(ddi_intr_alloc(d2, &ih, DDI_INTR_TYPE_MSI, 0, 1, &actual, DDI_INTR_ALLOC_STRICT) ==
		DDI_SUCCESS);
	CHECK_EQ(ddi_intr_add_handler(ih, edu_intr, &s, NULL), DDI_SUCCESS);
	CHECK_EQ(ddi_intr_enable(ih), DDI_SUCCESS);
	ddi_put32(regs, R32(r, EDU_IRQ_RAISE), 0x1);
	CHECK(wait_status(&s, 0x1));
	ddi_udd_detach(d2);
	cv_destroy(&s.cv);
	mutex_destroy(&s.mutex);
	udd_ctx_close(ctx);

	/* the device is free again: a fresh context can attach it */
	REQUIRE_OK(open_ctx(&ctx));
	id = find_edu(ctx);
	REQUIRE(ddi_udd_attach(ctx, id, UDD_BORROW_EXCLUSIVE, &d2) == DDI_SUCCESS);
	ddi_udd_detach(d2);
	udd_ctx_close(ctx);

	fprintf(stderr, "ddi_edu[%s]: %.1f s\n", b, now() - t0);
	return t_done("ddi_edu");
}
