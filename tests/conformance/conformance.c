/* SPDX-License-Identifier: MIT */
/*
 * Conformance tests of the public API on the edu device (1234:11e8), one
 * source for every backend. The backend is a run-time parameter:
 *
 *   conformance [--backend sim|vfio|lent] (or $UDD_CONF_BACKEND; default
 *                                          vfio when $UDD_VM=1, else sim)
 *
 *  - sim:  the embedded udd-sim in a private runtime directory (host ctest);
 *  - vfio: QEMU's edu bound to vfio-pci in the test guest (tests/vm), with
 *          the embedded pool off. There udd's view of config space and
 *          capabilities is also compared with the guest's own `lspci -vv`
 *          and `lspci -xxx` (when lspci is in the initramfs) and with sysfs
 *          "config"; and, when nvme is bound to vfio-pci, its config space
 *          and capability list too.
 *  - lent: the same edu lent by udd-sim --lend-only (tests/vm/guest-sh/
 *          lend_conformance.sh) and borrowed through its socket, the only
 *          device in the pool ($UDD_POOL=DIR/sim, no VFIO, no embedded pool):
 *          a real edu (as vfio) reached over vfio-user that can be shared
 *          (as sim); config space compared with sysfs/lspci as for vfio
 *          ($UDD_VM_EDU names the device), IOVAs inside the lender's range.
 *
 * Covered: pool listing with filters (vendor/device/class+mask/subsystem,
 * zero = wildcard, no match), udd_pool_info fields, borrow/return (exclusive,
 * second exclusive -EBUSY in this process and another, shared), register sets
 * (count, sizes, rnumbers, map errors, attributes), config space (ids, class,
 * revision, alignment and range errors, capability walk finds MSI 0x05),
 * get/put 32/64 (id, liveness, DMA address registers), rep get/put, DMA round
 * trip with udd_dma_map, MSI interrupts (raise 0x60, udd_irq_wait, ack 0x64,
 * DMA-completion interrupt).
 *
 * Where the two edu models differ, the test says which behaviour it expects
 * on which backend (QEMU's edu does not decode its DMA buffer at 0x40000 in
 * BAR0, udd-sim's does; a VFIO device cannot be borrowed shared).
 *
 * Ends with "conformance[<backend>]: N checks, M failed".
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <ctype.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <udd/udd.h>

#include "testlib.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_CLASS 0x00ff00u
#define EDU_REV 0x10
#define EDU_BAR0 (1u << 20)
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
#define XFER 2048u /* QEMU's edu aborts on a transfer reaching its buffer's last byte */

enum backend { BE_SIM, BE_VFIO, BE_LENT };
static enum backend be;
static const char *be_name;
static char rtdir[64];
/* --backend remote: the simulator's edu through a gateway (tcp://, from
 * $UDD_SOCKETS; tests/net/test_net.sh): the sim's semantics, no embedded pool */
static int remote;
static char all_logs[16384];

#define STEP(name) \
	do { \
		if (getenv("UDD_CONF_VERBOSE")) \
			fprintf(stderr, "  [%.3f] %s\n", now() - t_start, name); \
	} while (0)
static double t_start;
static double now(void);

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	if (level <= UDD_LOG_WARN || getenv("UDD_CONF_VERBOSE"))
		fprintf(stderr, "  [udd %d] %s\n", level, msg);
	size_t used = strlen(all_logs);
	if (used < sizeof(all_logs) - 1)
		snprintf(all_logs + used, sizeof(all_logs) - used, "%s\n", msg);
}

static int open_ctx(udd_ctx_t **ctx)
{
	udd_ctx_opts_t o = { .log_cb = log_cb, .log_level = UDD_LOG_DEBUG };
	if (remote) {
		o.flags = UDD_CTX_F_NO_VFIO | UDD_CTX_F_NO_EMBEDDED;
	} else if (be == BE_SIM) {
		o.flags = UDD_CTX_F_NO_VFIO;
		o.runtime_dir = rtdir;
	} else if (be == BE_LENT) {
		o.flags = UDD_CTX_F_NO_VFIO | UDD_CTX_F_NO_EMBEDDED; /* $UDD_POOL only */
	} else {
		o.flags = UDD_CTX_F_NO_EMBEDDED;
	}
	return udd_ctx_open(ctx, &o);
}

/* The PCI address of a real edu (vfio, lent), NULL on the simulator. */
static const char *edu_bdf(const udd_dev_info_t *in)
{
	return be == BE_VFIO ? in->location : be == BE_LENT ? getenv("UDD_VM_EDU") : NULL;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void nap_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	nanosleep(&ts, NULL);
}

/* ---- child processes ----------------------------------------------------- */

/* Child mode: try to borrow @id exclusively; exit 16 on -EBUSY, 0 on success,
 * 99 otherwise. */
static int child_borrow(const char *id_s)
{
	udd_ctx_t *ctx;
	udd_dev_t *dev = NULL;
	if (open_ctx(&ctx))
		return 100;
	int rc = udd_dev_borrow(ctx, (udd_fdid_t)strtoul(id_s, NULL, 0), UDD_BORROW_EXCLUSIVE, &dev);
	if (rc == 0)
		udd_dev_return(dev);
	udd_ctx_close(ctx);
	return rc == 0 ? 0 : rc == -EBUSY ? 16 : 99;
}

static int run_child(udd_fdid_t id)
{
	char ids[32];
	snprintf(ids, sizeof(ids), "%u", (unsigned)id);
	pid_t c = fork();
	if (c < 0)
		return -1;
	if (c == 0) {
		execl("/proc/self/exe", "conformance", "--backend", be_name, "--runtime-dir", rtdir,
		      "--child-borrow", ids, (char *)NULL);
		_exit(127);
	}
	int st = 0;
	if (waitpid(c, &st, 0) != c)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ---- pool ------------------------------------------------------------------ */

static int in_list(const udd_fdid_t *ids, int n, udd_fdid_t id)
{
	for (int i = 0; i < n; i++)
		if (ids[i] == id)
			return 1;
	return 0;
}

/* List with @f; check ascending order and that udd_filter_match agrees with
 * udd_pool_info for every device of the whole pool. Returns the count. */
static int list_checked(udd_ctx_t *ctx, const udd_filter_t *f, udd_fdid_t *ids, int max)
{
	int n = udd_pool_list(ctx, f, ids, (size_t)max);
	CHECK(n >= 0);
	if (n < 0)
		return n;
	CHECK_EQ(udd_pool_list(ctx, f, NULL, 0), n);
	int m = n < max ? n : max;
	for (int i = 1; i < m; i++)
		CHECK(ids[i - 1] < ids[i]);
	udd_fdid_t all[64];
	int na = udd_pool_list(ctx, NULL, all, 64);
	for (int i = 0; i < na && i < 64; i++) {
		udd_dev_info_t in;
		if (udd_pool_info(ctx, all[i], &in))
			continue;
		int want = f ? udd_filter_match(f, &in) : 1;
		if (want != in_list(ids, m, all[i])) {
			fprintf(stderr, "filter %04x:%04x class %06x/%06x: device 0x%x %04x:%04x %06x "
					"listed %d, match %d\n",
				f ? f->vendor_id : 0, f ? f->device_id : 0, f ? f->class_code : 0,
				f ? f->class_mask : 0, all[i], in.vendor_id, in.device_id,
				in.class_code, in_list(ids, m, all[i]), want);
			CHECK(0);
		}
	}
	return n;
}

static udd_fdid_t test_pool(udd_ctx_t *ctx, udd_dev_info_t *edu)
{
	udd_fdid_t ids[64], all[64];
	udd_filter_t f;

	int nall = list_checked(ctx, NULL, all, 64);
	REQUIRE(nall >= 1);
	/* a zero filter is all wildcards */
	memset(&f, 0, sizeof(f));
	CHECK_EQ(list_checked(ctx, &f, ids, 64), nall);
	/* vendor + device: exactly one edu */
	f.vendor_id = EDU_VENDOR;
	f.device_id = EDU_DEVICE;
	int n = list_checked(ctx, &f, ids, 64);
	REQUIRE(n >= 1);
	CHECK_EQ(n, 1);
	udd_fdid_t id = ids[0];
	REQUIRE_OK(udd_pool_info(ctx, id, edu));
	/* vendor only, device only */
	memset(&f, 0, sizeof(f));
	f.vendor_id = EDU_VENDOR;
	n = list_checked(ctx, &f, ids, 64);
	CHECK(n >= 1 && in_list(ids, n, id));
	memset(&f, 0, sizeof(f));
	f.device_id = EDU_DEVICE;
	n = list_checked(ctx, &f, ids, 64);
	CHECK(n >= 1 && in_list(ids, n, id));
	/* class: exact (mask 0 = exact), base+sub under a mask, base only */
	memset(&f, 0, sizeof(f));
	f.class_code = EDU_CLASS;
	n = list_checked(ctx, &f, ids, 64);
	CHECK(in_list(ids, n, id));
	f.class_code = EDU_CLASS | 0x01; /* prog-if 01: exact compare misses edu */
	n = list_checked(ctx, &f, ids, 64);
	CHECK(!in_list(ids, n, id));
	f.class_mask = 0xffff00; /* ... and a mask that ignores prog-if finds it */
	n = list_checked(ctx, &f, ids, 64);
	CHECK(in_list(ids, n, id));
	f.class_code = 0x010802; /* NVMe: never the edu */
	f.class_mask = 0xffffff;
	n = list_checked(ctx, &f, ids, 64);
	CHECK(!in_list(ids, n, id));
	/* subsystem ids */
	memset(&f, 0, sizeof(f));
	f.subsys_vendor_id = edu->subsys_vendor_id;
	f.subsys_id = edu->subsys_id;
	n = list_checked(ctx, &f, ids, 64);
	if (edu->subsys_vendor_id)
		CHECK(in_list(ids, n, id));
	/* filters that match nothing */
	memset(&f, 0, sizeof(f));
	f.vendor_id = 0xfffe;
	f.device_id = 0x0bad;
	CHECK_EQ(list_checked(ctx, &f, ids, 64), 0);
	memset(&f, 0, sizeof(f));
	f.class_code = 0xfe0000;
	f.class_mask = 0xff0000;
	CHECK_EQ(list_checked(ctx, &f, ids, 64), 0);
	memset(&f, 0, sizeof(f));
	f.vendor_id = EDU_VENDOR;
	f.device_id = EDU_DEVICE;
	f.class_code = 0x020000; /* right ids, wrong class */
	f.class_mask = 0xff0000;
	CHECK_EQ(list_checked(ctx, &f, ids, 64), 0);
	/* a short array: the count is still the total, only max are stored */
	if (nall >= 2) {
		udd_fdid_t one[2] = { 0, 0xdeadbeef };
		CHECK_EQ(udd_pool_list(ctx, NULL, one, 1), nall);
		CHECK_EQ(one[0], all[0]);
		CHECK_EQ(one[1], 0xdeadbeef);
	}
	/* bad input */
	CHECK_EQ(udd_pool_list(NULL, NULL, ids, 64), -EINVAL);
	CHECK_EQ(udd_pool_list(ctx, NULL, NULL, 4), -EINVAL);
	CHECK_EQ(udd_pool_info(ctx, id, NULL), -EINVAL);
	udd_fdid_t unknown = 0xfffffff0;
	while (in_list(all, nall, unknown))
		unknown++;
	udd_dev_info_t junk;
	CHECK_EQ(udd_pool_info(ctx, unknown, &junk), -ENOENT);
	return id;
}

static void test_info_fields(const udd_dev_info_t *in, udd_fdid_t id)
{
	CHECK_EQ(in->fdid, id);
	CHECK(strcmp(in->backend, be == BE_VFIO ? "vfio" : "vfio-user") == 0);
	CHECK(in->location[0] != '\0');
	CHECK(memchr(in->location, '\0', sizeof(in->location)) != NULL);
	if (be == BE_VFIO) {
		const char *bdf = getenv("UDD_VM_EDU");
		if (bdf)
			CHECK(strcmp(in->location, bdf) == 0);
	}
	if (be == BE_LENT && edu_bdf(in)) { /* the lender's DIR/sim/<bdf>.sock */
		char want[40];
		snprintf(want, sizeof(want), "/%s.sock", edu_bdf(in));
		size_t l = strlen(in->location), w = strlen(want);
		CHECK(l > w && strcmp(in->location + l - w, want) == 0);
	}
	CHECK_EQ(in->vendor_id, EDU_VENDOR);
	CHECK_EQ(in->device_id, EDU_DEVICE);
	CHECK_EQ(in->class_code, EDU_CLASS);
	CHECK_EQ(in->revision, EDU_REV);
	CHECK(in->can_reset == 0 || in->can_reset == 1);
	CHECK_EQ(in->nregsets, 2); /* config space + BAR0 */
	CHECK_EQ(in->regsets[0].kind, UDD_RS_CONFIG);
	CHECK_EQ(in->regsets[0].bar, -1);
	CHECK(in->regsets[0].size == 256 || in->regsets[0].size == 4096);
	CHECK((in->regsets[0].flags & (UDD_RS_F_READ | UDD_RS_F_WRITE)) ==
	      (UDD_RS_F_READ | UDD_RS_F_WRITE));
	CHECK_EQ(in->regsets[1].kind, UDD_RS_MEM);
	CHECK_EQ(in->regsets[1].bar, 0);
	CHECK_EQ(in->regsets[1].size, EDU_BAR0);
	CHECK((in->regsets[1].flags & (UDD_RS_F_READ | UDD_RS_F_WRITE)) ==
	      (UDD_RS_F_READ | UDD_RS_F_WRITE));
	CHECK(!(in->regsets[1].flags & (UDD_RS_F_64BIT | UDD_RS_F_PREFETCH)));
	CHECK_EQ(in->irq_count[UDD_IRQ_INTX], 1);
	CHECK_EQ(in->irq_count[UDD_IRQ_MSI], 1);
	CHECK_EQ(in->irq_count[UDD_IRQ_MSIX], 0);
	if (be != BE_SIM) /* QEMU's edu has no reset; vfio-pci says so (and the lender) */
		CHECK_EQ(in->can_reset, 0);
}

/* ---- borrowing ------------------------------------------------------------------- */

static void test_borrow(udd_ctx_t *ctx, udd_fdid_t id, const udd_dev_info_t *pinfo)
{
	udd_dev_t *d1 = NULL, *d2 = NULL, *d3 = NULL;

	CHECK_EQ(udd_dev_borrow(ctx, id, 0x80, &d1), -EINVAL);
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, NULL), -EINVAL);
	CHECK_EQ(udd_dev_borrow(ctx, 0xfffffff0, UDD_BORROW_EXCLUSIVE, &d1), -ENOENT);
	CHECK(d1 == NULL);

	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &d1));
	CHECK_EQ(udd_dev_fdid(d1), id);
	udd_dev_info_t in;
	REQUIRE_OK(udd_dev_get_info(d1, &in));
	CHECK_EQ(in.fdid, id);
	CHECK_EQ(in.vendor_id, pinfo->vendor_id);
	CHECK_EQ(in.device_id, pinfo->device_id);
	CHECK_EQ(in.class_code, pinfo->class_code);
	CHECK_EQ(in.nregsets, pinfo->nregsets);
	for (unsigned i = 0; i < in.nregsets && i < UDD_MAX_REGSETS; i++) {
		CHECK_EQ(in.regsets[i].size, pinfo->regsets[i].size);
		CHECK_EQ(in.regsets[i].kind, pinfo->regsets[i].kind);
	}
	CHECK_EQ(udd_dev_check(d1), 0);
	/* a second exclusive borrower: here and in another process */
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &d2), -EBUSY);
	CHECK(d2 == NULL);
	udd_ctx_t *ctx2;
	REQUIRE_OK(open_ctx(&ctx2));
	CHECK_EQ(udd_dev_borrow(ctx2, id, UDD_BORROW_EXCLUSIVE, &d2), -EBUSY);
	CHECK_EQ(run_child(id), 16);
	/* shared while exclusive: busy (sim, lent) or not possible at all (vfio) */
	int rc = udd_dev_borrow(ctx2, id, 0, &d2);
	if (be != BE_VFIO)
		CHECK_EQ(rc, -EBUSY);
	else
		CHECK(rc == -EBUSY || rc == -EOPNOTSUPP);
	udd_dev_return(d1);
	d1 = NULL;

	/* returned: another context, and another process, can have it */
	CHECK_EQ(run_child(id), 0);
	REQUIRE_OK(udd_dev_borrow(ctx2, id, UDD_BORROW_EXCLUSIVE, &d2));
	udd_dev_return(d2);
	d2 = NULL;

	/* shared borrowing */
	rc = udd_dev_borrow(ctx, id, 0, &d1);
	if (be != BE_VFIO) {
		CHECK_EQ(rc, 0);
		CHECK_EQ(udd_dev_borrow(ctx2, id, 0, &d2), 0);
		CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &d3), -EBUSY);
		CHECK_EQ(run_child(id), 16);
		udd_dev_return(d2);
		udd_dev_return(d1);
		CHECK_EQ(run_child(id), 0);
	} else {
		/* a local VFIO device has one owner: shared is refused, clearly */
		CHECK_EQ(rc, -EOPNOTSUPP);
		CHECK(d1 == NULL);
		CHECK(strstr(all_logs, "borrow it exclusively") != NULL);
	}
	udd_dev_return(NULL); /* no-op */
	CHECK_EQ(udd_dev_fdid(NULL), 0);
	udd_ctx_close(ctx2);
}

/* ---- register sets ----------------------------------------------------------------- */

static void test_regsets(udd_dev_t *dev, const udd_dev_info_t *in)
{
	uint64_t sz = 0;
	udd_acc_t *acc = NULL;

	CHECK_EQ(udd_regs_count(dev), in->nregsets);
	CHECK_EQ(udd_regs_size(dev, 0, &sz), 0);
	CHECK_EQ(sz, in->regsets[0].size);
	CHECK_EQ(udd_regs_size(dev, 1, &sz), 0);
	CHECK_EQ(sz, EDU_BAR0);
	CHECK_EQ(udd_regs_size(dev, 2, &sz), -ERANGE);
	CHECK_EQ(udd_regs_size(dev, 1, NULL), -EINVAL);
	CHECK_EQ(udd_regs_rnumber(dev, 0), 1);
	for (unsigned b = 1; b < 6; b++)
		CHECK_EQ(udd_regs_rnumber(dev, b), -ENOENT);

	/* map errors */
	CHECK_EQ(udd_regs_map(dev, 2, 0, 0, NULL, &acc), -ERANGE);
	CHECK_EQ(udd_regs_map(dev, 1, EDU_BAR0, 4096, NULL, &acc), -ENXIO);
	CHECK_EQ(udd_regs_map(dev, 1, EDU_BAR0 - 4096, 8192, NULL, &acc), -ENXIO);
	CHECK_EQ(udd_regs_map(dev, 1, 0, 0, NULL, NULL), -EINVAL);
	udd_acc_attr_t bad = { .endian = 7 };
	CHECK_EQ(udd_regs_map(dev, 1, 0, 0, &bad, &acc), -EINVAL);
	udd_acc_attr_t bad2 = { .reserved = 1 };
	CHECK_EQ(udd_regs_map(dev, 1, 0, 0, &bad2, &acc), -EINVAL);
	udd_acc_attr_t bad3 = { .access = 9 };
	CHECK_EQ(udd_regs_map(dev, 1, 0, 0, &bad3, &acc), -EINVAL);
	CHECK_EQ(udd_regs_map_bar(dev, 3, 0, 0, NULL, &acc), -ENOENT);
	CHECK(acc == NULL);

	/* a window: offsets are relative to it */
	REQUIRE_OK(udd_regs_map(dev, 1, 0, 4096, NULL, &acc));
	CHECK_EQ(udd_acc_size(acc), 4096);
	CHECK_EQ(udd_get32(acc, EDU_ID), EDU_ID_VALUE);
	CHECK_EQ(udd_acc_check(acc), 0);
	udd_acc_attr_t got;
	CHECK_EQ(udd_acc_get_attr(acc, &got), 0);
	CHECK_EQ(got.endian, UDD_NEVERSWAP);
	CHECK_EQ(got.order, UDD_STRICTORDER);
	CHECK_EQ(got.access, UDD_DEFAULT_ACC);
	/* a direct handle exactly when the BAR can be mapped into this process
	 * (the borrowed device's info: the VFIO backend's pool view comes from
	 * sysfs and cannot know UDD_RS_F_MMAP before the device is opened) */
	udd_dev_info_t bin;
	REQUIRE_OK(udd_dev_get_info(dev, &bin));
	CHECK_EQ(udd_acc_is_direct(acc) != 0, (bin.regsets[1].flags & UDD_RS_F_MMAP) != 0);
	if (be != BE_SIM) /* vfio-pci lets a 1 MiB BAR be mmapped (lent: the VFIO device fd) */
		CHECK(udd_acc_is_direct(acc));
	udd_regs_unmap(acc);
	udd_regs_unmap(NULL);

	/* by BAR index, whole set; big-endian view swaps */
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, NULL, &acc));
	CHECK_EQ(udd_acc_size(acc), EDU_BAR0);
	udd_regs_unmap(acc);
	udd_acc_attr_t bea = { .endian = UDD_BIG_ENDIAN };
	REQUIRE_OK(udd_regs_map(dev, 1, 0, 4096, &bea, &acc));
	CHECK_EQ(udd_get32(acc, EDU_ID), __builtin_bswap32(EDU_ID_VALUE));
	CHECK(!udd_acc_is_direct(acc));
	udd_regs_unmap(acc);
	udd_acc_attr_t le = { .endian = UDD_LITTLE_ENDIAN, .access = UDD_CAUTIOUS_ACC };
	REQUIRE_OK(udd_regs_map(dev, 1, 0, 4096, &le, &acc));
	CHECK_EQ(udd_get32(acc, EDU_ID), EDU_ID_VALUE);
	CHECK(!udd_acc_is_direct(acc)); /* cautious access is never direct */
	CHECK_EQ(udd_acc_check(acc), 0);
	/* a misaligned or out-of-range access through the checked path: all ones
	 * and the handle marked */
	CHECK_EQ(udd_get32(acc, 4096), 0xffffffffu);
	CHECK_EQ(udd_acc_check(acc), -EIO);
	CHECK_EQ(udd_acc_clear_error(acc), 0);
	CHECK_EQ(udd_acc_check(acc), 0);
	CHECK_EQ(udd_get32(acc, 2), 0xffffffffu);
	CHECK_EQ(udd_acc_check(acc), -EIO);
	udd_regs_unmap(acc);
}

/* ---- config space ----------------------------------------------------------------- */

struct cap_list {
	int n;
	uint8_t id[48];
	uint32_t off[48];
};

static int cap_cb(void *user, uint8_t id, uint32_t off)
{
	struct cap_list *l = user;
	if (l->n < 48) {
		l->id[l->n] = id;
		l->off[l->n] = off;
	}
	l->n++;
	return 0;
}

static int stop_cb(void *user, uint8_t id, uint32_t off)
{
	(void)user;
	(void)off;
	return id == 0x05 ? 42 : 0;
}

/* The capability list parsed here, from raw bytes, independently of udd. */
static void parse_caps(const uint8_t *cfg, struct cap_list *l)
{
	l->n = 0;
	if (!(cfg[6] & 0x10)) /* status: capability list */
		return;
	uint32_t p = cfg[0x34] & 0xfc;
	for (int guard = 0; p >= 0x40 && p < 256 && guard < 48; guard++) {
		l->id[l->n] = cfg[p];
		l->off[l->n] = p;
		l->n++;
		p = cfg[p + 1] & 0xfc;
	}
}

static void read_cfg(udd_dev_t *dev, uint8_t *cfg, size_t len)
{
	for (uint32_t o = 0; o < len; o += 4) {
		uint32_t v = 0xffffffff;
		CHECK_EQ(udd_cfg_read32(dev, o, &v), 0);
		memcpy(cfg + o, &v, 4);
	}
}

static void test_config(udd_dev_t *dev, const udd_dev_info_t *in)
{
	uint8_t v8;
	uint16_t v16;
	uint32_t v32;
	uint64_t v64;
	uint64_t csize = in->regsets[0].size;

	CHECK_EQ(udd_cfg_read16(dev, 0, &v16), 0);
	CHECK_EQ(v16, EDU_VENDOR);
	CHECK_EQ(udd_cfg_read16(dev, 2, &v16), 0);
	CHECK_EQ(v16, EDU_DEVICE);
	CHECK_EQ(udd_cfg_read32(dev, 0, &v32), 0);
	CHECK_EQ(v32, (uint32_t)EDU_DEVICE << 16 | EDU_VENDOR);
	CHECK_EQ(udd_cfg_read8(dev, 8, &v8), 0);
	CHECK_EQ(v8, EDU_REV);
	CHECK_EQ(udd_cfg_read32(dev, 8, &v32), 0);
	CHECK_EQ(v32 >> 8, EDU_CLASS);
	CHECK_EQ(udd_cfg_read8(dev, 0x0e, &v8), 0);
	CHECK_EQ(v8 & 0x7f, 0); /* header type 0 */
	CHECK_EQ(udd_cfg_read16(dev, 0x2c, &v16), 0);
	CHECK_EQ(v16, in->subsys_vendor_id);
	CHECK_EQ(udd_cfg_read16(dev, 0x2e, &v16), 0);
	CHECK_EQ(v16, in->subsys_id);
	CHECK_EQ(udd_cfg_read8(dev, 0x3d, &v8), 0);
	CHECK_EQ(v8, 1); /* INTA */
	CHECK_EQ(udd_cfg_read64(dev, 0, &v64), 0);
	CHECK_EQ(v64 & 0xffffffffu, (uint32_t)EDU_DEVICE << 16 | EDU_VENDOR);
	/* bus mastering and memory space: the VFIO backend turns them on when
	 * borrowing; the vfio-user client leaves the command register to the
	 * driver (udd-sim does not model it) */
	CHECK_EQ(udd_cfg_read16(dev, 4, &v16), 0);
	if (be != BE_SIM) /* the VFIO backend's borrow, or the lender keeps them on */
		CHECK_EQ(v16 & 0x6, 0x6);

	/* alignment and range */
	CHECK_EQ(udd_cfg_read16(dev, 1, &v16), -EINVAL);
	CHECK_EQ(udd_cfg_read32(dev, 2, &v32), -EINVAL);
	CHECK_EQ(udd_cfg_read64(dev, 4, &v64), -EINVAL);
	CHECK_EQ(udd_cfg_write16(dev, 3, 0), -EINVAL);
	CHECK_EQ(udd_cfg_read8(dev, 0, NULL), -EINVAL);
	CHECK_EQ(udd_cfg_read32(dev, (uint32_t)csize, &v32), -ENXIO);
	CHECK_EQ(udd_cfg_read8(dev, (uint32_t)csize, &v8), -ENXIO);
	CHECK_EQ(udd_cfg_write32(dev, (uint32_t)csize, 0), -ENXIO);
	CHECK_EQ(udd_cfg_read8(dev, (uint32_t)csize - 1, &v8), 0);

	/* read-only ids stay */
	CHECK_EQ(udd_cfg_write16(dev, 0, 0xabcd), 0);
	CHECK_EQ(udd_cfg_read16(dev, 0, &v16), 0);
	CHECK_EQ(v16, EDU_VENDOR);

	/* capabilities: MSI, nothing else on edu */
	int msi = udd_cfg_find_cap(dev, 0x05, 0);
	CHECK(msi >= 0x40 && msi < 0x100);
	CHECK_EQ(msi & 3, 0);
	CHECK_EQ(udd_cfg_find_cap(dev, 0x05, (uint32_t)(msi > 0 ? msi : 0x40)), -ENOENT);
	CHECK_EQ(udd_cfg_find_cap(dev, 0x11, 0), -ENOENT);
	CHECK_EQ(udd_cfg_find_cap(dev, 0x10, 0), -ENOENT);
	CHECK_EQ(udd_cfg_find_ext_cap(dev, 0x0001, 0), -ENOENT);
	struct cap_list l = { 0 }, raw = { 0 };
	CHECK_EQ(udd_cfg_walk_caps(dev, cap_cb, &l), 0);
	CHECK_EQ(l.n, 1);
	CHECK_EQ(l.id[0], 0x05);
	CHECK_EQ((int)l.off[0], msi);
	CHECK_EQ(udd_cfg_walk_caps(dev, stop_cb, NULL), 42);
	if (msi > 0) {
		CHECK_EQ(udd_cfg_read16(dev, (uint32_t)msi + 2, &v16), 0);
		CHECK(v16 & 0x80);          /* 64-bit address (both models) */
		CHECK_EQ((v16 >> 1) & 7, 0); /* one vector: matches irq_count[MSI] */
		CHECK_EQ(v16 & 1, 0);         /* not enabled until udd_irq_enable */
	}
	/* udd's walk agrees with a parse of the raw bytes */
	uint8_t cfg[256];
	read_cfg(dev, cfg, sizeof(cfg));
	parse_caps(cfg, &raw);
	CHECK_EQ(raw.n, l.n);
	for (int i = 0; i < raw.n && i < l.n && i < 48; i++) {
		CHECK_EQ(raw.id[i], l.id[i]);
		CHECK_EQ(raw.off[i], l.off[i]);
	}
}

/* ---- vfio: against sysfs and the guest's lspci ------------------------------------ */

/* Bytes of config space where udd (through vfio-pci's virtualised config
 * region) may legitimately differ from the raw config that sysfs and lspci
 * read: command/status (bus master enabled by the borrow), the MSI
 * capability (vfio virtualises it), interrupt line. */
static int cfg_may_differ(uint32_t o, int msi)
{
	if (o >= 0x04 && o < 0x08)
		return 1;
	if (o == 0x3c)
		return 1;
	if (msi > 0 && o >= (uint32_t)msi && o < (uint32_t)msi + 24)
		return 1;
	return 0;
}

static int sysfs_config(const char *bdf, uint8_t *buf, size_t len)
{
	char p[160];
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	int fd = open(p, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ssize_t n = pread(fd, buf, len, 0);
	close(fd);
	return n == (ssize_t)len ? 0 : -EIO;
}

static int have_lspci(void)
{
	return system("lspci --version >/dev/null 2>&1") == 0;
}

/* `lspci -xxx -s BDF`: the first 256 bytes of config space. */
static int lspci_bytes(const char *bdf, uint8_t *cfg)
{
	char cmd[128], line[512];
	snprintf(cmd, sizeof(cmd), "lspci -xxx -s %s 2>/dev/null", bdf);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -errno;
	int got = 0;
	while (fgets(line, sizeof(line), f)) {
		unsigned off;
		int pos;
		/* "xx: b0 b1 ... b15" lines only (not the device's head line) */
		if (!isxdigit((unsigned char)line[0]) || !isxdigit((unsigned char)line[1]) ||
		    line[2] != ':' || line[3] != ' ')
			continue;
		if (sscanf(line, "%x: %n", &off, &pos) != 1 || off > 0xf0 || off % 16)
			continue;
		char *s = line + pos;
		for (int i = 0; i < 16; i++) {
			unsigned b;
			int used;
			if (sscanf(s, "%2x%n", &b, &used) != 1)
				break;
			cfg[off + (unsigned)i] = (uint8_t)b;
			s += used;
			got++;
		}
	}
	pclose(f);
	return got == 256 ? 0 : -EIO;
}

struct lspci_view {
	int ncaps;
	uint32_t cap_off[48];
	char cap_name[48][24];
	int nregions;
	unsigned region_bar[6];
	uint64_t region_size[6];
	int region_64[6], region_pref[6];
	char head[512];
};

static uint64_t size_of(const char *s)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 10);
	switch (*end) {
	case 'K': return v << 10;
	case 'M': return v << 20;
	case 'G': return v << 30;
	default: return v;
	}
}

/* `lspci -vv -nn -s BDF`: the head line, regions and capability lines. */
static int lspci_vv(const char *bdf, struct lspci_view *v)
{
	char cmd[128], line[1024];
	memset(v, 0, sizeof(*v));
	snprintf(cmd, sizeof(cmd), "lspci -vv -nn -s %s 2>/dev/null", bdf);
	FILE *f = popen(cmd, "r");
	if (!f)
		return -errno;
	int first = 1;
	while (fgets(line, sizeof(line), f)) {
		line[strcspn(line, "\n")] = '\0';
		if (first) {
			snprintf(v->head, sizeof(v->head), "%.500s", line);
			first = 0;
			continue;
		}
		char *p = line;
		while (*p == '\t' || *p == ' ')
			p++;
		unsigned off, bar;
		if (sscanf(p, "Capabilities: [%x]", &off) == 1 && off < 0x100 && v->ncaps < 48) {
			char *c = strchr(p, ']');
			c = c ? c + 2 : p;
			v->cap_off[v->ncaps] = off;
			snprintf(v->cap_name[v->ncaps], sizeof(v->cap_name[0]), "%.23s", c);
			v->ncaps++;
		} else if (sscanf(p, "Region %u:", &bar) == 1 && bar < 6 && v->nregions < 6) {
			char *sz = strstr(p, "[size=");
			if (!sz || strstr(p, "[virtual]") || strstr(p, "disabled"))
				continue;
			int i = v->nregions++;
			v->region_bar[i] = bar;
			v->region_size[i] = size_of(sz + 6);
			v->region_64[i] = strstr(p, "64-bit") != NULL;
			v->region_pref[i] = strstr(p, " prefetchable") != NULL;
		}
	}
	int st = pclose(f);
	return (first || st != 0) ? -EIO : 0;
}

static const char *lspci_cap_prefix(uint8_t id)
{
	switch (id) {
	case 0x01: return "Power Management";
	case 0x05: return "MSI:";
	case 0x09: return "Vendor Specific";
	case 0x10: return "Express";
	case 0x11: return "MSI-X:";
	default: return "";
	}
}

/* Compare udd's view of a borrowed device with sysfs and lspci. */
static void compare_with_guest(udd_dev_t *dev, const char *bdf, int lspci)
{
	udd_dev_info_t in;
	uint8_t mine[256], sys[256], ls[256];
	REQUIRE_OK(udd_dev_get_info(dev, &in));
	int msi = udd_cfg_find_cap(dev, 0x05, 0);
	read_cfg(dev, mine, sizeof(mine));

	CHECK_EQ(sysfs_config(bdf, sys, sizeof(sys)), 0);
	int diffs = 0;
	for (uint32_t o = 0; o < 256; o++)
		if (!cfg_may_differ(o, msi) && mine[o] != sys[o]) {
			fprintf(stderr, "%s config 0x%02x: udd 0x%02x, sysfs 0x%02x\n", bdf, o, mine[o], sys[o]);
			diffs++;
		}
	CHECK_EQ(diffs, 0);
	struct stat st;
	char p[160];
	snprintf(p, sizeof(p), "/sys/bus/pci/devices/%s/config", bdf);
	if (stat(p, &st) == 0)
		CHECK_EQ((uint64_t)st.st_size, in.regsets[0].size);

	if (!lspci)
		return;
	CHECK_EQ(lspci_bytes(bdf, ls), 0);
	diffs = 0;
	for (uint32_t o = 0; o < 256; o++)
		if (!cfg_may_differ(o, msi) && mine[o] != ls[o]) {
			fprintf(stderr, "%s config 0x%02x: udd 0x%02x, lspci 0x%02x\n", bdf, o, mine[o], ls[o]);
			diffs++;
		}
	CHECK_EQ(diffs, 0);

	struct lspci_view v;
	REQUIRE_OK(lspci_vv(bdf, &v));
	fprintf(stderr, "  lspci: %s\n", v.head);
	char ids[32];
	snprintf(ids, sizeof(ids), "[%04x:%04x]", in.vendor_id, in.device_id);
	CHECK(strstr(v.head, ids) != NULL);
	snprintf(ids, sizeof(ids), "[%04x]", in.class_code >> 8);
	CHECK(strstr(v.head, ids) != NULL);
	if (in.revision) {
		snprintf(ids, sizeof(ids), "(rev %02x)", in.revision);
		CHECK(strstr(v.head, ids) != NULL);
	}
	/* regions: same BARs, sizes and flags */
	int nbars = 0;
	for (unsigned i = 0; i < in.nregsets && i < UDD_MAX_REGSETS; i++)
		if (in.regsets[i].bar >= 0)
			nbars++;
	CHECK_EQ(v.nregions, nbars);
	for (int i = 0; i < v.nregions; i++) {
		int r = udd_regs_rnumber(dev, v.region_bar[i]);
		CHECK(r > 0);
		if (r <= 0 || r >= UDD_MAX_REGSETS)
			continue;
		CHECK_EQ(in.regsets[r].size, v.region_size[i]);
		CHECK_EQ((in.regsets[r].flags & UDD_RS_F_64BIT) != 0, v.region_64[i]);
		CHECK_EQ((in.regsets[r].flags & UDD_RS_F_PREFETCH) != 0, v.region_pref[i]);
	}
	/* capabilities: the same list, in order, with the same names */
	struct cap_list l = { 0 };
	CHECK_EQ(udd_cfg_walk_caps(dev, cap_cb, &l), 0);
	CHECK_EQ(l.n, v.ncaps);
	for (int i = 0; i < l.n && i < v.ncaps && i < 48; i++) {
		CHECK_EQ(l.off[i], v.cap_off[i]);
		const char *want = lspci_cap_prefix(l.id[i]);
		if (strncmp(v.cap_name[i], want, strlen(want)) != 0) {
			fprintf(stderr, "%s cap [%02x] id 0x%02x: lspci says \"%s\"\n", bdf, l.off[i],
				l.id[i], v.cap_name[i]);
			CHECK(0);
		}
	}
	fprintf(stderr, "  %s: %d capabilities and %d regions agree with lspci -vv; 256 config "
			"bytes with lspci -xxx and sysfs\n", bdf, l.n, v.nregions);
}

/* ---- get/put/rep --------------------------------------------------------------------- */

static void test_access(udd_dev_t *dev)
{
	udd_acc_t *bar;
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar));

	CHECK_EQ(udd_get32(bar, EDU_ID), EDU_ID_VALUE);
	static const uint32_t pats[] = { 0, 0xffffffffu, 0x12345678u, 0xa5a5a5a5u };
	for (size_t i = 0; i < sizeof(pats) / sizeof(pats[0]); i++) {
		udd_put32(bar, EDU_LIVE, pats[i]);
		CHECK_EQ(udd_get32(bar, EDU_LIVE), ~pats[i]);
	}
	/* 64-bit DMA address registers hold 64-bit values */
	udd_put64(bar, EDU_DMA_SRC, 0x0000abcd12345000ull);
	udd_put64(bar, EDU_DMA_DST, 0x0000000000040000ull);
	CHECK_EQ(udd_get64(bar, EDU_DMA_SRC), 0x0000abcd12345000ull);
	CHECK_EQ(udd_get64(bar, EDU_DMA_DST), 0x40000);
	udd_put64(bar, EDU_DMA_CNT, 0);
	CHECK_EQ(udd_get64(bar, EDU_DMA_CNT), 0);
	CHECK_EQ(udd_get64(bar, EDU_DMA_CMD) & EDU_CMD_START, 0);

	/* rep, autoincrement, over the DMA registers (both models decode them) */
	uint64_t w[3] = { 0x1000, 0x40000, 64 }, r[3] = { 0, 0, 0 };
	udd_rep_put64(bar, EDU_DMA_SRC, w, 3, UDD_DEV_AUTOINCR);
	CHECK_EQ(udd_get64(bar, EDU_DMA_SRC), 0x1000);
	CHECK_EQ(udd_get64(bar, EDU_DMA_DST), 0x40000);
	CHECK_EQ(udd_get64(bar, EDU_DMA_CNT), 64);
	udd_rep_get64(bar, EDU_DMA_SRC, r, 3, UDD_DEV_AUTOINCR);
	CHECK_EQ(r[0], 0x1000);
	CHECK_EQ(r[1], 0x40000);
	CHECK_EQ(r[2], 64);
	uint32_t rr[4] = { 0, 0, 0, 0 };
	udd_rep_get32(bar, EDU_ID, rr, 2, UDD_DEV_AUTOINCR);
	CHECK_EQ(rr[0], EDU_ID_VALUE);
	CHECK_EQ(rr[1], udd_get32(bar, EDU_LIVE));
	/* rep without autoincrement: a "FIFO" register read/written repeatedly */
	udd_rep_get32(bar, EDU_ID, rr, 4, UDD_DEV_NO_AUTOINCR);
	for (int i = 0; i < 4; i++)
		CHECK_EQ(rr[i], EDU_ID_VALUE);
	uint32_t seq[3] = { 1, 2, 0x77 };
	udd_rep_put32(bar, EDU_LIVE, seq, 3, UDD_DEV_NO_AUTOINCR);
	CHECK_EQ(udd_get32(bar, EDU_LIVE), ~0x77u);

	/* the edu buffer at 0x40000 in BAR0: udd-sim decodes it, QEMU's edu does
	 * not (its MMIO handler knows only registers below 0x100 and reads the
	 * rest as all ones, ignoring writes) */
	uint8_t out[256], in[256];
	for (int i = 0; i < 256; i++)
		out[i] = (uint8_t)(i * 7 + 3);
	uint32_t out32[64], in32[64];
	memcpy(out32, out, sizeof(out32));
	udd_rep_put32(bar, EDU_BUF + 0x100, out32, 64, UDD_DEV_AUTOINCR);
	memset(in32, 0, sizeof(in32));
	udd_rep_get32(bar, EDU_BUF + 0x100, in32, 64, UDD_DEV_AUTOINCR);
	if (be == BE_SIM) {
		CHECK(memcmp(in32, out32, sizeof(in32)) == 0);
		udd_rep_put8(bar, EDU_BUF + 0x200, out, 256, UDD_DEV_AUTOINCR);
		memset(in, 0, sizeof(in));
		udd_rep_get8(bar, EDU_BUF + 0x200, in, 256, UDD_DEV_AUTOINCR);
		CHECK(memcmp(in, out, sizeof(in)) == 0);
		CHECK_EQ(udd_get8(bar, EDU_BUF + 0x205), out[5]);
	} else {
		int ones = 1;
		for (int i = 0; i < 64; i++)
			ones &= in32[i] == 0xffffffffu;
		CHECK(ones);
	}
	CHECK_EQ(udd_acc_check(bar), 0);
	udd_regs_unmap(bar);
}

/* ---- DMA and interrupts ------------------------------------------------------------- */

static int edu_dma(udd_acc_t *bar, uint64_t src, uint64_t dst, uint32_t cmd)
{
	udd_put64(bar, EDU_DMA_SRC, src);
	udd_put64(bar, EDU_DMA_DST, dst);
	udd_put64(bar, EDU_DMA_CNT, XFER);
	udd_put64(bar, EDU_DMA_CMD, EDU_CMD_START | cmd);
	double end = now() + 20;
	while (udd_get64(bar, EDU_DMA_CMD) & EDU_CMD_START) {
		if (now() > end)
			return -ETIMEDOUT;
		nap_ms(1);
	}
	return 0;
}

static void test_dma(udd_ctx_t *ctx, udd_dev_t *dev)
{
	udd_acc_t *bar;
	udd_mem_t *mem;
	udd_dma_t *dma = NULL, *d2 = NULL;
	uint64_t iova = 0, iova2;
	udd_dma_attr_t attr = { .addr_hi = 0x0fffffff }; /* edu: 28-bit DMA addresses */

	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar));
	REQUIRE_OK(udd_mem_alloc(ctx, 3 * 4096, &mem));
	CHECK(udd_mem_size(mem) >= 3 * 4096);
	uint8_t *p = udd_mem_ptr(mem);
	REQUIRE(p != NULL);

	/* bad arguments */
	CHECK_EQ(udd_dma_map(dev, mem, 0, 0, &attr, UDD_DMA_F_READ, &iova, &dma), -EINVAL);
	CHECK_EQ(udd_dma_map(dev, mem, 0, 4096, &attr, 0, &iova, &dma), -EINVAL);
	CHECK_EQ(udd_dma_map(dev, mem, 100, 4096, &attr, UDD_DMA_F_READ, &iova, &dma), -EINVAL);
	CHECK_EQ(udd_dma_map(dev, mem, 0, 4096 * 4, &attr, UDD_DMA_F_READ, &iova, &dma), -EINVAL);
	udd_dma_attr_t small = { .addr_hi = 0x0fffffff, .max_seg = 4096 };
	CHECK_EQ(udd_dma_map(dev, mem, 0, 8192, &small, UDD_DMA_F_READ, &iova, &dma), -E2BIG);
	udd_dma_attr_t tiny = { .addr_lo = 0x1000, .addr_hi = 0x1fff };
	CHECK_EQ(udd_dma_map(dev, mem, 0, 8192, &tiny, UDD_DMA_F_READ, &iova, &dma), -ENOSPC);
	CHECK(dma == NULL);

	REQUIRE_OK(udd_dma_map(dev, mem, 0, 3 * 4096, &attr, UDD_DMA_F_READ | UDD_DMA_F_WRITE,
			       &iova, &dma));
	CHECK(iova + 3 * 4096 - 1 <= 0x0fffffff);
	CHECK_EQ(iova % 4096, 0);
	CHECK_EQ(udd_dma_iova(dma), iova);
	CHECK_EQ(udd_dma_len(dma), 3 * 4096);
	/* a fixed window over this one overlaps */
	iova2 = iova;
	CHECK_EQ(udd_dma_map(dev, mem, 0, 4096, &attr, UDD_DMA_F_READ | UDD_DMA_F_FIXED, &iova2,
			     &d2),
		 -EEXIST);

	/* RAM -> edu -> RAM */
	for (unsigned i = 0; i < XFER; i++)
		p[i] = (uint8_t)(i * 13 + 1);
	memset(p + 4096, 0xee, 4096);
	CHECK_EQ(udd_dma_sync(dma, 0, XFER, UDD_DMA_SYNC_FOR_DEVICE), 0);
	CHECK_EQ(edu_dma(bar, iova, EDU_BUF, 0), 0);
	CHECK_EQ(edu_dma(bar, EDU_BUF, iova + 4096, EDU_CMD_TO_RAM), 0);
	CHECK_EQ(udd_dma_sync(dma, 4096, XFER, UDD_DMA_SYNC_FOR_CPU), 0);
	CHECK(memcmp(p, p + 4096, XFER) == 0);
	/* udd_dma_sync: the range must lie in the window, the direction be known */
	CHECK_EQ(udd_dma_sync(dma, 3 * 4096, 0, UDD_DMA_SYNC_FOR_CPU), 0);
	CHECK_EQ(udd_dma_sync(dma, 3 * 4096 - 1, 2, UDD_DMA_SYNC_FOR_CPU), -EINVAL);
	CHECK_EQ(udd_dma_sync(dma, 0, SIZE_MAX, UDD_DMA_SYNC_FOR_DEVICE), -EINVAL);
	CHECK_EQ(udd_dma_sync(dma, 0, 1, 0), -EINVAL);
	CHECK_EQ(udd_dma_sync(NULL, 0, 1, UDD_DMA_SYNC_FOR_CPU), -EINVAL);
	CHECK_EQ(p[4096 + XFER], 0xee); /* nothing beyond the transfer */
	uint64_t last = 0;
	CHECK_EQ(udd_dma_faults(dev, &last), 0);

	/* a second window with a fixed IOVA (lent: the lender's IOVAs start at
	 * 16 MiB; below is refused) */
	if (be == BE_LENT) {
		iova2 = 0x0800000;
		CHECK_EQ(udd_dma_map(dev, mem, 2 * 4096, 4096, &attr, UDD_DMA_F_READ | UDD_DMA_F_FIXED,
				     &iova2, &d2),
			 -EINVAL);
	}
	iova2 = be == BE_LENT ? 0x2000000 : 0x0800000;
	if (iova2 >= iova && iova2 < iova + 3 * 4096)
		iova2 += 0x0100000;
	REQUIRE_OK(udd_dma_map(dev, mem, 2 * 4096, 4096, &attr,
			       UDD_DMA_F_WRITE | UDD_DMA_F_READ | UDD_DMA_F_FIXED, &iova2, &d2));
	CHECK_EQ(udd_dma_iova(d2), iova2);
	memset(p + 2 * 4096, 0, 4096);
	CHECK_EQ(edu_dma(bar, EDU_BUF, iova2, EDU_CMD_TO_RAM), 0);
	CHECK(memcmp(p, p + 2 * 4096, XFER) == 0);
	udd_dma_unmap(d2);
	udd_dma_unmap(dma);
	udd_dma_unmap(NULL);
	udd_mem_free(mem);
	udd_regs_unmap(bar);
}

/* Wait until @want events have arrived on vector 0 (they may come in one or
 * several wake-ups). Returns the number seen. */
static uint64_t wait_events(udd_dev_t *dev, uint64_t want)
{
	uint64_t seen = 0;
	double end = now() + 10;
	while (seen < want && now() < end) {
		uint64_t c = 0;
		int rc = udd_irq_wait(dev, 0, 1000, &c);
		if (rc == 0) {
			CHECK(c >= 1);
			seen += c;
		} else if (rc != -ETIMEDOUT) {
			CHECK_EQ(rc, 0);
			break;
		}
	}
	return seen;
}

static void test_irq(udd_ctx_t *ctx, udd_dev_t *dev)
{
	udd_acc_t *bar;
	uint64_t c = 0;
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar));

	CHECK_EQ(udd_irq_fd(dev, 0), -ENOENT);
	CHECK_EQ(udd_irq_wait(dev, 0, 0, &c), -ENOENT);
	CHECK_EQ(udd_irq_enable(dev, UDD_IRQ_MSIX, 1), -ENOTSUP);
	CHECK_EQ(udd_irq_enable(dev, UDD_IRQ_MSI, 2), -ENOTSUP);
	CHECK_EQ(udd_irq_enable(dev, 7, 1), -EINVAL);
	REQUIRE_OK(udd_irq_enable(dev, UDD_IRQ_MSI, 1));
	CHECK(udd_irq_fd(dev, 0) >= 0);
	CHECK_EQ(udd_irq_fd(dev, 1), -ENOENT);
	int msi = udd_cfg_find_cap(dev, 0x05, 0);
	udd_dev_info_t in;
	REQUIRE_OK(udd_dev_get_info(dev, &in));
	/* the device's real MSI control (sysfs, below vfio-pci's virtualised
	 * config space, which shows only what the user wrote) has MSI on */
	if (msi > 0 && edu_bdf(&in)) {
		uint8_t sys[256];
		if (sysfs_config(edu_bdf(&in), sys, sizeof(sys)) == 0)
			CHECK_EQ(sys[msi + 2] & 1, 1);
	}
	udd_put32(bar, EDU_IRQ_ACK, 0xffffffff);
	while (udd_irq_wait(dev, 0, 0, &c) == 0) /* nothing stale */
		;
	CHECK_EQ(udd_irq_wait(dev, 0, 0, &c), -ETIMEDOUT);

	/* raise -> MSI -> status -> ack */
	udd_put32(bar, EDU_IRQ_RAISE, 0x5a5a);
	CHECK_EQ(wait_events(dev, 1), 1);
	CHECK_EQ(udd_get32(bar, EDU_IRQ_STATUS), 0x5a5a);
	udd_put32(bar, EDU_IRQ_ACK, 0x5a5a);
	CHECK_EQ(udd_get32(bar, EDU_IRQ_STATUS), 0);
	/* two raises: two messages (counted, possibly in one wake-up) */
	udd_put32(bar, EDU_IRQ_RAISE, 0x1);
	udd_put32(bar, EDU_IRQ_RAISE, 0x2);
	CHECK_EQ(wait_events(dev, 2), 2);
	CHECK_EQ(udd_get32(bar, EDU_IRQ_STATUS), 0x3);
	udd_put32(bar, EDU_IRQ_ACK, 0x3);

	/* a DMA that raises its completion interrupt */
	udd_mem_t *mem;
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_dma_attr_t attr = { .addr_hi = 0x0fffffff };
	REQUIRE_OK(udd_mem_alloc(ctx, 4096, &mem));
	REQUIRE_OK(udd_dma_map(dev, mem, 0, 4096, &attr, UDD_DMA_F_READ, &iova, &dma));
	udd_put64(bar, EDU_DMA_SRC, iova);
	udd_put64(bar, EDU_DMA_DST, EDU_BUF + 0x800);
	udd_put64(bar, EDU_DMA_CNT, 64);
	udd_put64(bar, EDU_DMA_CMD, EDU_CMD_START | EDU_CMD_IRQ);
	CHECK_EQ(wait_events(dev, 1), 1);
	CHECK_EQ(udd_get64(bar, EDU_DMA_CMD) & EDU_CMD_START, 0);
	CHECK(udd_get32(bar, EDU_IRQ_STATUS) & EDU_IRQ_DMA);
	udd_put32(bar, EDU_IRQ_ACK, EDU_IRQ_DMA);
	udd_dma_unmap(dma);
	udd_mem_free(mem);

	REQUIRE_OK(udd_irq_disable(dev));
	CHECK_EQ(udd_irq_fd(dev, 0), -ENOENT);
	if (msi > 0 && edu_bdf(&in)) {
		uint8_t sys[256];
		if (sysfs_config(edu_bdf(&in), sys, sizeof(sys)) == 0)
			CHECK_EQ(sys[msi + 2] & 1, 0);
	}
	CHECK_EQ(udd_dma_faults(dev, NULL), 0);
	udd_regs_unmap(bar);
}

static void test_reset(udd_dev_t *dev, const udd_dev_info_t *in)
{
	int rc = udd_dev_reset(dev);
	if (in->can_reset)
		CHECK_EQ(rc, 0);
	else
		CHECK_EQ(rc, -ENOTSUP);
	CHECK_EQ(udd_dev_check(dev), 0);
	CHECK_EQ(udd_dev_reset(NULL), -EINVAL);
}

/* vfio only: nvme's config space and capabilities against the guest's view */
static void test_nvme_view(udd_ctx_t *ctx, int lspci)
{
	const char *bdf = getenv("UDD_VM_NVME");
	udd_filter_t f = { .vendor_id = 0x1b36, .device_id = 0x0010 };
	udd_fdid_t id;
	if (!bdf || udd_pool_list(ctx, &f, &id, 1) < 1) {
		fprintf(stderr, "  (nvme not bound to vfio-pci: its comparison skipped)\n");
		return;
	}
	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	CHECK(udd_cfg_find_cap(dev, 0x11, 0) > 0);
	CHECK(udd_cfg_find_cap(dev, 0x10, 0) > 0);
	compare_with_guest(dev, bdf, lspci);
	udd_dev_return(dev);
}

int main(int argc, char **argv)
{
	const char *b = getenv("UDD_CONF_BACKEND");
	const char *child_id = NULL, *rd = NULL;
	if (!b || !*b)
		b = (getenv("UDD_VM") && strcmp(getenv("UDD_VM"), "1") == 0) ? "vfio" : "sim";
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--backend") == 0 && i + 1 < argc)
			b = argv[++i];
		else if (strcmp(argv[i], "--runtime-dir") == 0 && i + 1 < argc)
			rd = argv[++i];
		else if (strcmp(argv[i], "--child-borrow") == 0 && i + 1 < argc)
			child_id = argv[++i];
		else {
			fprintf(stderr, "usage: conformance [--backend sim|vfio|lent|remote]\n");
			return 2;
		}
	}
	if (strcmp(b, "remote") == 0)
		remote = 1;
	if (strcmp(b, "sim") == 0 || remote)
		be = BE_SIM;
	else if (strcmp(b, "vfio") == 0)
		be = BE_VFIO;
	else if (strcmp(b, "lent") == 0)
		be = BE_LENT;
	else {
		fprintf(stderr, "conformance: unknown backend '%s' (sim, vfio, lent or remote)\n", b);
		return 2;
	}
	be_name = b;
	if (rd)
		snprintf(rtdir, sizeof(rtdir), "%s", rd);
	if (child_id)
		return child_borrow(child_id);
	if (be == BE_SIM && !rd && !remote) {
		snprintf(rtdir, sizeof(rtdir), "/tmp/udd-conf-XXXXXX");
		REQUIRE(mkdtemp(rtdir) != NULL);
	}
	fprintf(stderr, "conformance: backend %s%s%s\n", be_name, be == BE_SIM ? ", runtime " : "",
		be == BE_SIM ? rtdir : "");

	udd_ctx_t *ctx;
	REQUIRE_OK(open_ctx(&ctx));
	udd_dev_info_t pinfo;
	double t0 = now();
	t_start = t0;
	udd_fdid_t id = test_pool(ctx, &pinfo);
	STEP("test_pool");
	test_info_fields(&pinfo, id);
	test_borrow(ctx, id, &pinfo);
	STEP("test_borrow");

	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	test_regsets(dev, &pinfo);
	STEP("test_regsets");
	test_config(dev, &pinfo);
	STEP("test_config");
	int lspci = 0;
	if (edu_bdf(&pinfo)) {
		lspci = have_lspci();
		if (!lspci)
			fprintf(stderr, "  (no lspci: compared with sysfs config only)\n");
		compare_with_guest(dev, edu_bdf(&pinfo), lspci);
	}
	test_access(dev);
	STEP("test_access");
	test_dma(ctx, dev);
	STEP("test_dma");
	test_irq(ctx, dev);
	STEP("test_irq");
	test_reset(dev, &pinfo);
	STEP("test_reset");
	udd_dev_return(dev);
	if (be == BE_VFIO)
		test_nvme_view(ctx, lspci);
	udd_ctx_close(ctx);
	fprintf(stderr, "conformance: %.1f s\n", now() - t0);
	char name[40];
	snprintf(name, sizeof(name), "conformance");
	return t_done(name);
}
