/* SPDX-License-Identifier: MIT */
/*
 * The VFIO backend's sysfs side on a fake sysfs tree ($UDD_SYSFS_ROOT):
 * enumeration of devices bound to vfio-pci, probe-mode descriptions (ids,
 * class, BARs, interrupt counts from "config" and "resource"), the refusals
 * of probe mode, bad and missing files, and the same devices seen through
 * the public pool API. Nothing here touches /dev/vfio or this host's PCI
 * devices: every device opened is in the fake tree and opened in probe
 * mode, or refused before anything is opened.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "backend/vfio/vfio_priv.h"
#include "internal.h"
#include "pool.h"
#include "testlib.h"

static char root[256];

/* ---- building the fake tree ---- */

static void mkdirs(const char *fmt, ...)
{
	char p[PATH_MAX];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p, sizeof(p), fmt, ap);
	va_end(ap);
	for (char *s = p + 1; *s; s++) {
		if (*s == '/') {
			*s = '\0';
			mkdir(p, 0755);
			*s = '/';
		}
	}
	mkdir(p, 0755);
}

static void put_file(const char *path, const void *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, data, len) == (ssize_t)len);
	close(fd);
}

static void put_text(const char *path, const char *text)
{
	put_file(path, text, strlen(text));
}

static void set16(uint8_t *c, unsigned off, uint16_t v)
{
	c[off] = (uint8_t)v;
	c[off + 1] = (uint8_t)(v >> 8);
}

static void set32(uint8_t *c, unsigned off, uint32_t v)
{
	set16(c, off, (uint16_t)v);
	set16(c, off + 2, (uint16_t)(v >> 16));
}

static const char *res_line(uint64_t start, uint64_t size, uint64_t flags, char *buf, size_t len)
{
	snprintf(buf, len, "0x%016llx 0x%016llx 0x%016llx\n", (unsigned long long)start,
		 (unsigned long long)(size ? start + size - 1 : 0), (unsigned long long)flags);
	return buf;
}

static char resbuf[2048];
/* A resource file: BAR0 at @start of @size (flags), the rest unassigned;
 * 13 lines like the kernel's. */
static const char *resources(uint64_t start, uint64_t size, uint64_t flags)
{
	char l[128];
	resbuf[0] = '\0';
	strcat(resbuf, res_line(start, size, flags, l, sizeof(l)));
	for (int i = 1; i < 13; i++)
		strcat(resbuf, res_line(0, 0, 0, l, sizeof(l)));
	return resbuf;
}

/* A device: real directory under devices/, link in bus/pci/devices, driver
 * and iommu_group links as the kernel makes them. */
static void add_device(const char *bdf, const char *driver, int group, const uint8_t *cfg,
		       size_t cfglen, const char *res)
{
	char dir[PATH_MAX], p[PATH_MAX + 64], t[PATH_MAX];
	snprintf(dir, sizeof(dir), "%s/devices/pci0000:00/%s", root, bdf);
	mkdirs("%s", dir);
	mkdirs("%s/bus/pci/devices", root);
	snprintf(p, sizeof(p), "%s/bus/pci/devices/%s", root, bdf);
	snprintf(t, sizeof(t), "../../../devices/pci0000:00/%s", bdf);
	REQUIRE(symlink(t, p) == 0);
	if (cfg) {
		snprintf(p, sizeof(p), "%s/config", dir);
		put_file(p, cfg, cfglen);
	}
	if (res) {
		snprintf(p, sizeof(p), "%s/resource", dir);
		put_text(p, res);
	}
	if (driver) {
		mkdirs("%s/bus/pci/drivers/%s", root, driver);
		snprintf(p, sizeof(p), "%s/driver", dir);
		snprintf(t, sizeof(t), "../../../bus/pci/drivers/%s", driver);
		REQUIRE(symlink(t, p) == 0);
		snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s/%s", root, driver, bdf);
		snprintf(t, sizeof(t), "../../../../devices/pci0000:00/%s", bdf);
		REQUIRE(symlink(t, p) == 0);
	}
	if (group >= 0) {
		mkdirs("%s/kernel/iommu_groups/%d", root, group);
		snprintf(p, sizeof(p), "%s/iommu_group", dir);
		snprintf(t, sizeof(t), "../../../kernel/iommu_groups/%d", group);
		REQUIRE(symlink(t, p) == 0);
	}
}

static void dev_file(const char *bdf, const char *leaf, char *out, size_t len)
{
	snprintf(out, len, "%s/devices/pci0000:00/%s/%s", root, bdf, leaf);
}

/* edu-like: 1234:11e8, class 00ff00, BAR0 1 MiB 32-bit, MSI (2 vectors), INTx pin A */
static void edu_config(uint8_t *c)
{
	memset(c, 0, 256);
	set16(c, 0x00, 0x1234);
	set16(c, 0x02, 0x11e8);
	set16(c, 0x06, 0x0010); /* capability list */
	c[0x08] = 0x10;         /* revision */
	c[0x0b] = 0x00;
	c[0x0a] = 0xff;
	set32(c, 0x10, 0xfea00000);
	set16(c, 0x2c, 0x1af4);
	set16(c, 0x2e, 0x1100);
	c[0x34] = 0x40;
	c[0x3d] = 1;
	c[0x40] = 0x05;         /* MSI */
	c[0x41] = 0x00;
	set16(c, 0x42, 0x0082); /* 64-bit, multiple message capable = 2 vectors */
}

/* nvme-like: 1b36:0010, class 010802, BAR0 16 KiB 64-bit, MSI-X 65 vectors */
static void nvme_config(uint8_t *c)
{
	memset(c, 0, 4096);
	set16(c, 0x00, 0x1b36);
	set16(c, 0x02, 0x0010);
	set16(c, 0x06, 0x0010);
	c[0x08] = 0x02;
	c[0x0b] = 0x01;
	c[0x0a] = 0x08;
	c[0x09] = 0x02;
	set32(c, 0x10, 0xfebf0004); /* 64-bit memory */
	set32(c, 0x14, 0);
	set16(c, 0x2c, 0x1af4);
	set16(c, 0x2e, 0x1100);
	c[0x34] = 0x40;
	c[0x3d] = 1;
	c[0x40] = 0x11;         /* MSI-X, next: PCIe */
	c[0x41] = 0x60;
	set16(c, 0x42, 64);     /* table size - 1 */
	c[0x60] = 0x10;         /* PCI Express */
	c[0x61] = 0x00;
}

static const char *A = "0000:00:03.0", *B = "0000:00:04.0", *C = "0000:00:05.0",
		  *D = "0000:00:06.0", *E = "0000:00:07.0", *F = "0000:00:08.0",
		  *G = "0000:00:09.0", *H = "0000:00:0a.0";

static void build_tree(void)
{
	uint8_t cfg[4096];
	char p[PATH_MAX + 64];

	edu_config(cfg);
	add_device(A, "vfio-pci", 3, cfg, 256, resources(0xfea00000, 1 << 20, 0x40200));
	nvme_config(cfg);
	add_device(B, "vfio-pci", 4, cfg, 4096, resources(0xfebf0000, 16384, 0x140204));
	dev_file(B, "reset", p, sizeof(p));
	put_text(p, "");
	edu_config(cfg);
	add_device(C, "e1000e", 5, cfg, 256, resources(0xfe000000, 1 << 17, 0x40200));
	add_device(D, "vfio-pci", 6, cfg, 32, resources(0xfd000000, 4096, 0x40200)); /* short config */
	add_device(E, "vfio-pci", 7, cfg, 256, "garbage here\n");                     /* bad resource */
	add_device(F, NULL, 8, cfg, 256, resources(0xfc000000, 4096, 0x40200));       /* no driver */
	add_device(G, "vfio-pci", 9, cfg, 256, NULL);                                  /* no resource */
	add_device(H, "vfio-pci", -1, cfg, 256, resources(0xfb000000, 4096, 0x40200)); /* no group */
	/* things in bus/pci/devices that are not devices */
	mkdirs("%s/bus/pci/devices/garbage", root);
	mkdirs("%s/bus/pci/devices/0000:00:3z.0", root);
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci/new_id", root);
	put_text(p, "");
}

/* ---- helpers ---- */

struct names {
	char v[16][VFIO_BDF_LEN];
	int n;
	int fail_at; /* return -ENOMEM at this call (1-based), 0: never */
};

static int collect(void *arg, const char *loc)
{
	struct names *ns = arg;
	if (ns->fail_at && ns->n + 1 == ns->fail_at)
		return -ENOMEM;
	if (ns->n < 16 && strlen(loc) < VFIO_BDF_LEN)
		strcpy(ns->v[ns->n], loc);
	ns->n++;
	return 0;
}

static int has(const struct names *ns, const char *bdf)
{
	for (int i = 0; i < ns->n && i < 16; i++)
		if (strcmp(ns->v[i], bdf) == 0)
			return 1;
	return 0;
}

static char last_log[512];
static int nlogs;
static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	(void)level;
	snprintf(last_log, sizeof(last_log), "%s", msg);
	nlogs++;
}

static struct udd_log tlog;

static const struct udd_backend_ops *be = &udd_vfio_backend;

/* ---- tests ---- */

static void test_bdf_valid(void)
{
	CHECK(vfio_bdf_valid("0000:00:03.0"));
	CHECK(vfio_bdf_valid("abcd:EF:1f.7"));
	CHECK(!vfio_bdf_valid("0000:00:20.0")); /* device is 5 bits */
	CHECK(!vfio_bdf_valid("0000:00:03.8"));
	CHECK(!vfio_bdf_valid("0000:00:03.0 "));
	CHECK(!vfio_bdf_valid("00:03.0"));
	CHECK(!vfio_bdf_valid("0000:00:03"));
	CHECK(!vfio_bdf_valid("../../../etc"));
	CHECK(!vfio_bdf_valid(""));
	CHECK(!vfio_bdf_valid(NULL));
}

static void test_enumerate(void)
{
	struct names ns = { .n = 0 };
	REQUIRE_OK(be->enumerate(&tlog, collect, &ns));
	CHECK_EQ(ns.n, 6);
	CHECK(has(&ns, A));
	CHECK(has(&ns, B));
	CHECK(has(&ns, D));
	CHECK(has(&ns, E));
	CHECK(has(&ns, G));
	CHECK(has(&ns, H));
	CHECK(!has(&ns, C)); /* bound to another driver */
	CHECK(!has(&ns, F)); /* bound to nothing */

	/* the callback's error stops the walk and comes back */
	struct names fail = { .fail_at = 2 };
	CHECK_EQ(be->enumerate(&tlog, collect, &fail), -ENOMEM);
	CHECK_EQ(fail.n, 1);

	/* a missing tree is an empty one */
	char other[PATH_MAX + 16];
	snprintf(other, sizeof(other), "%s/nothing", root);
	setenv("UDD_SYSFS_ROOT", other, 1);
	struct names none = { .n = 0 };
	CHECK_EQ(be->enumerate(&tlog, collect, &none), 0);
	CHECK_EQ(none.n, 0);

	/* no devices directory: the driver's own links are used */
	snprintf(other, sizeof(other), "%s/drvonly", root);
	mkdirs("%s/bus/pci/drivers/vfio-pci", other);
	char p[PATH_MAX + 64];
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci/0000:01:00.0", other);
	REQUIRE(symlink("../../../../devices/pci0000:00/0000:01:00.0", p) == 0);
	snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci/bind", other);
	put_text(p, "");
	setenv("UDD_SYSFS_ROOT", other, 1);
	struct names drv = { .n = 0 };
	CHECK_EQ(be->enumerate(&tlog, collect, &drv), 0);
	CHECK_EQ(drv.n, 1);
	CHECK(has(&drv, "0000:01:00.0"));

	setenv("UDD_SYSFS_ROOT", root, 1);
	CHECK_EQ(be->enumerate(&tlog, NULL, NULL), -EINVAL);
}

static void test_probe_edu(void)
{
	void *bd = NULL;
	REQUIRE_OK(be->open(A, UDD_BE_PROBE, &tlog, &bd));

	struct udd_be_devinfo di;
	REQUIRE_OK(be->device_info(bd, &di));
	CHECK(di.flags & VFIO_DEVICE_FLAGS_PCI);
	CHECK(!(di.flags & VFIO_DEVICE_FLAGS_RESET));
	CHECK_EQ(di.num_regions, VFIO_PCI_NUM_REGIONS);
	CHECK_EQ(di.num_irqs, VFIO_PCI_NUM_IRQS);

	struct udd_be_region r;
	REQUIRE_OK(be->region_info(bd, VFIO_PCI_CONFIG_REGION_INDEX, &r));
	CHECK_EQ(r.size, 256);
	CHECK_EQ(r.mmap_fd, -1);
	CHECK(r.flags & VFIO_REGION_INFO_FLAG_READ);
	REQUIRE_OK(be->region_info(bd, VFIO_PCI_BAR0_REGION_INDEX, &r));
	CHECK_EQ(r.size, 1 << 20);
	CHECK_EQ(r.mmap_fd, -1);
	CHECK(!(r.flags & VFIO_REGION_INFO_FLAG_MMAP));
	REQUIRE_OK(be->region_info(bd, VFIO_PCI_BAR1_REGION_INDEX, &r));
	CHECK_EQ(r.size, 0);
	REQUIRE_OK(be->region_info(bd, VFIO_PCI_ROM_REGION_INDEX, &r));
	CHECK_EQ(r.size, 0);
	CHECK_EQ(be->region_info(bd, VFIO_PCI_NUM_REGIONS, &r), -EINVAL);

	uint32_t id = 0;
	REQUIRE_OK(be->region_read(bd, VFIO_PCI_CONFIG_REGION_INDEX, 0, &id, 4));
	CHECK_EQ(id, 0x11e81234);
	uint8_t b;
	REQUIRE_OK(be->region_read(bd, VFIO_PCI_CONFIG_REGION_INDEX, 255, &b, 1));
	CHECK_EQ(be->region_read(bd, VFIO_PCI_CONFIG_REGION_INDEX, 254, &id, 4), -EINVAL);
	CHECK_EQ(be->region_read(bd, VFIO_PCI_CONFIG_REGION_INDEX, UINT64_MAX, &id, 4), -EINVAL);

	uint32_t count = 99, flags = 0;
	REQUIRE_OK(be->irq_info(bd, VFIO_PCI_INTX_IRQ_INDEX, &count, &flags));
	CHECK_EQ(count, 1);
	CHECK(flags & VFIO_IRQ_INFO_MASKABLE);
	REQUIRE_OK(be->irq_info(bd, VFIO_PCI_MSI_IRQ_INDEX, &count, &flags));
	CHECK_EQ(count, 2);
	REQUIRE_OK(be->irq_info(bd, VFIO_PCI_MSIX_IRQ_INDEX, &count, &flags));
	CHECK_EQ(count, 0);
	CHECK_EQ(be->irq_info(bd, VFIO_PCI_NUM_IRQS, &count, &flags), -EINVAL);

	/* probe mode only looks */
	uint32_t v = 0;
	int fds[1] = { 0 };
	char mem[64];
	struct udd_be_iova_range ir[4];
	size_t nir = 4;
	CHECK_EQ(be->region_read(bd, VFIO_PCI_BAR0_REGION_INDEX, 0, &v, 4), -EPERM);
	CHECK_EQ(be->region_write(bd, VFIO_PCI_CONFIG_REGION_INDEX, 4, &v, 4), -EPERM);
	CHECK_EQ(be->irq_set(bd, VFIO_PCI_MSI_IRQ_INDEX, 0, 1, fds), -EPERM);
	CHECK_EQ(be->irq_mask(bd, VFIO_PCI_INTX_IRQ_INDEX, 0, true), -EPERM);
	CHECK_EQ(be->dma_map(bd, 0x1000, 4096, -1, 0, mem, UDD_DMA_F_READ), -EPERM);
	CHECK_EQ(be->dma_unmap(bd, 0x1000, 4096), -EPERM);
	CHECK_EQ(be->reset(bd), -EPERM);
	CHECK_EQ(be->iova_ranges(bd, ir, &nir), -EPERM);

	/* check: alive, then all-ones config (surprise removal), then gone */
	CHECK_EQ(be->check(bd), 0);
	char p[PATH_MAX + 64];
	uint8_t ones[256];
	memset(ones, 0xff, sizeof(ones));
	dev_file(A, "config", p, sizeof(p));
	put_file(p, ones, sizeof(ones));
	CHECK_EQ(be->check(bd), -ENODEV);
	uint8_t cfg[256];
	edu_config(cfg);
	put_file(p, cfg, sizeof(cfg));
	CHECK_EQ(be->check(bd), 0);
	char link[PATH_MAX + 64], tmp[PATH_MAX + 80];
	snprintf(link, sizeof(link), "%s/bus/pci/devices/%s", root, A);
	snprintf(tmp, sizeof(tmp), "%s.away", link);
	REQUIRE(rename(link, tmp) == 0);
	CHECK_EQ(be->check(bd), -ENODEV);
	REQUIRE(rename(tmp, link) == 0);
	CHECK_EQ(be->check(bd), 0);

	be->close(bd);
	be->close(NULL);
}

static void test_probe_nvme_describe(void)
{
	void *bd = NULL;
	REQUIRE_OK(be->open(B, UDD_BE_PROBE, &tlog, &bd));
	struct udd_be_devinfo di;
	REQUIRE_OK(be->device_info(bd, &di));
	CHECK(di.flags & VFIO_DEVICE_FLAGS_RESET);

	udd_dev_info_t info;
	memset(&info, 0, sizeof(info));
	REQUIRE_OK(udd_dev_describe(be, bd, &info, NULL, NULL));
	CHECK_EQ(info.vendor_id, 0x1b36);
	CHECK_EQ(info.device_id, 0x0010);
	CHECK_EQ(info.class_code, 0x010802);
	CHECK_EQ(info.revision, 2);
	CHECK_EQ(info.subsys_vendor_id, 0x1af4);
	CHECK_EQ(info.subsys_id, 0x1100);
	CHECK_EQ(info.can_reset, 1);
	CHECK_EQ(info.nregsets, 2);
	CHECK_EQ(info.regsets[0].kind, UDD_RS_CONFIG);
	CHECK_EQ(info.regsets[0].size, 4096);
	CHECK_EQ(info.regsets[1].kind, UDD_RS_MEM);
	CHECK_EQ(info.regsets[1].bar, 0);
	CHECK_EQ(info.regsets[1].size, 16384);
	CHECK(info.regsets[1].flags & UDD_RS_F_64BIT);
	CHECK_EQ(info.irq_count[UDD_IRQ_INTX], 1);
	CHECK_EQ(info.irq_count[UDD_IRQ_MSI], 0);
	CHECK_EQ(info.irq_count[UDD_IRQ_MSIX], 65);
	be->close(bd);
}

static void test_open_errors(void)
{
	void *bd = (void *)0x1;
	/* not bound to vfio-pci: nothing to open, and the log says why */
	nlogs = 0;
	CHECK_EQ(be->open(C, UDD_BE_PROBE, &tlog, &bd), -ENOENT);
	CHECK(strstr(last_log, "not bound to vfio-pci") != NULL);
	CHECK(strstr(last_log, "e1000e") != NULL);
	CHECK_EQ(be->open(C, UDD_BE_EXCLUSIVE, &tlog, &bd), -ENOENT);
	CHECK_EQ(be->open(F, UDD_BE_EXCLUSIVE, &tlog, &bd), -ENOENT);
	CHECK(strstr(last_log, "no driver") != NULL);
	CHECK_EQ(be->open("0000:00:1f.0", UDD_BE_PROBE, &tlog, &bd), -ENOENT);
	CHECK_EQ(be->open("../../../etc", UDD_BE_PROBE, &tlog, &bd), -ENOENT);
	CHECK_EQ(be->open(NULL, UDD_BE_PROBE, &tlog, &bd), -EINVAL);
	CHECK_EQ(be->open(A, UDD_BE_PROBE, &tlog, NULL), -EINVAL);
	CHECK_EQ(be->open(A, (enum udd_be_mode)7, &tlog, &bd), -EINVAL);
	/* bad or missing files: clean errors */
	CHECK_EQ(be->open(D, UDD_BE_PROBE, &tlog, &bd), -EIO);   /* 32-byte config */
	CHECK_EQ(be->open(E, UDD_BE_PROBE, &tlog, &bd), -EIO);   /* garbage resource */
	CHECK_EQ(be->open(G, UDD_BE_PROBE, &tlog, &bd), -ENOENT); /* no resource */
	/* shared borrowing cannot be done and says so */
	nlogs = 0;
	CHECK_EQ(be->open(A, UDD_BE_SHARED, &tlog, &bd), -EOPNOTSUPP);
	CHECK(nlogs == 1 && strstr(last_log, "shared borrowing of a local VFIO device is not possible"));
	/* no IOMMU group: refused before anything (lock file included) is made */
	CHECK_EQ(be->open(H, UDD_BE_EXCLUSIVE, &tlog, &bd), -ENOENT);
	CHECK(strstr(last_log, "no IOMMU group") != NULL);
	CHECK(bd == (void *)0x1); /* untouched on failure */
	/* NULL log is fine */
	CHECK_EQ(be->open(C, UDD_BE_PROBE, NULL, &bd), -ENOENT);
}

static void test_resource_parsing(void)
{
	struct vfio_sys_res res[VFIO_SYS_NRES];
	char p[PATH_MAX + 64];
	dev_file(E, "resource", p, sizeof(p));
	/* fewer than six lines */
	put_text(p, "0x0000000000001000 0x0000000000001fff 0x0000000000040200\n");
	CHECK_EQ(vfio_sys_read_resources(E, res), -EIO);
	/* end before start */
	put_text(p, "0x2000 0x1000 0x200\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n");
	CHECK_EQ(vfio_sys_read_resources(E, res), -EIO);
	/* trailing junk on a line */
	put_text(p, "0x1000 0x1fff 0x200 x\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n");
	CHECK_EQ(vfio_sys_read_resources(E, res), -EIO);
	/* six lines are enough; the ROM line is then empty */
	put_text(p, "0x1000 0x1fff 0x200\n0 0 0\n0x3000 0x30ff 0x100\n0 0 0\n0 0 0\n0 0 0\n");
	REQUIRE_OK(vfio_sys_read_resources(E, res));
	CHECK_EQ(res[0].start, 0x1000);
	CHECK_EQ(res[0].end, 0x1fff);
	CHECK_EQ(res[2].flags, 0x100);
	CHECK_EQ(res[6].start, 0);
	/* whole-address-space BAR is nonsense: -EIO from region_info */
	put_text(p, "0x0 0xffffffffffffffff 0x200\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n0 0 0\n");
	void *bd;
	REQUIRE_OK(be->open(E, UDD_BE_PROBE, &tlog, &bd));
	struct udd_be_region r;
	CHECK_EQ(be->region_info(bd, VFIO_PCI_BAR0_REGION_INDEX, &r), -EIO);
	be->close(bd);
	put_text(p, "garbage here\n");
}

static void test_cfg_irq_count(void)
{
	uint8_t c[256];
	edu_config(c);
	CHECK_EQ(vfio_cfg_irq_count(c, 256, VFIO_PCI_MSI_IRQ_INDEX), 2);
	/* a looping capability list ends */
	c[0x41] = 0x40;
	c[0x40] = 0x09;
	CHECK_EQ(vfio_cfg_irq_count(c, 256, VFIO_PCI_MSI_IRQ_INDEX), 0);
	/* pointer into the header is the end */
	c[0x34] = 0x10;
	CHECK_EQ(vfio_cfg_irq_count(c, 256, VFIO_PCI_MSIX_IRQ_INDEX), 0);
	/* no capability list bit */
	edu_config(c);
	c[0x06] = 0;
	CHECK_EQ(vfio_cfg_irq_count(c, 256, VFIO_PCI_MSI_IRQ_INDEX), 0);
	CHECK_EQ(vfio_cfg_irq_count(c, 64, VFIO_PCI_MSI_IRQ_INDEX), 0);
	CHECK_EQ(vfio_cfg_irq_count(c, 256, VFIO_PCI_ERR_IRQ_INDEX), 0);
}

/* The same fake devices through the public API. */
static void test_public_pool(void)
{
	unsetenv("UDD_NO_VFIO");
	udd_ctx_t *ctx;
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_EMBEDDED, .log_cb = log_cb, .log_level = UDD_LOG_DEBUG };
	REQUIRE_OK(udd_ctx_open(&ctx, &o));
	udd_fdid_t ids[16];
	/* A and B; D, E, G (bad files) and H are left out (H: fine in probe) */
	int n = udd_pool_list(ctx, NULL, ids, 16);
	CHECK_EQ(n, 3);
	udd_filter_t f = { .vendor_id = 0x1234, .device_id = 0x11e8 };
	n = udd_pool_list(ctx, &f, ids, 16);
	REQUIRE(n >= 1);
	int edu_found = 0;
	for (int i = 0; i < n; i++) {
		udd_dev_info_t info;
		REQUIRE_OK(udd_pool_info(ctx, ids[i], &info));
		CHECK_EQ(info.vendor_id, 0x1234);
		CHECK_EQ(strcmp(info.backend, "vfio"), 0);
		if (strcmp(info.location, A) == 0) {
			edu_found = 1;
			CHECK_EQ(ids[i], udd_fdid_of(A));
			CHECK_EQ(info.class_code, 0x00ff00);
			CHECK_EQ(info.nregsets, 2);
			CHECK_EQ(info.regsets[1].size, 1 << 20);
			CHECK_EQ(info.irq_count[UDD_IRQ_MSI], 2);
			CHECK_EQ(info.can_reset, 0);
		}
	}
	CHECK(edu_found);
	/* H (no IOMMU group) is listed, but cannot be borrowed; shared borrows are refused */
	udd_dev_t *dev = NULL;
	CHECK_EQ(udd_dev_borrow(ctx, udd_fdid_of(H), 0, &dev), -EOPNOTSUPP);
	CHECK_EQ(udd_dev_borrow(ctx, udd_fdid_of(H), UDD_BORROW_EXCLUSIVE, &dev), -ENOENT);
	CHECK(dev == NULL);
	/* UDD_CTX_F_NO_VFIO hides them all */
	udd_ctx_close(ctx);
	o.flags |= UDD_CTX_F_NO_VFIO;
	/* (one dead socket keeps the scanned list non-empty: pool.c qsorts a
	 * NULL array when the pool is empty, which UBSan reports) */
	char dead[300];
	snprintf(dead, sizeof(dead), "%s/dead.sock", root);
	o.sockets = dead;
	REQUIRE_OK(udd_ctx_open(&ctx, &o));
	CHECK_EQ(udd_pool_list(ctx, NULL, ids, 16), 0);
	udd_ctx_close(ctx);
}

static void rm_tree(const char *p)
{
	char cmd[PATH_MAX + 32];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", p);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", p);
}

int main(void)
{
	snprintf(root, sizeof(root), "%s/udd-vfio-sysfs-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	REQUIRE(mkdtemp(root) != NULL);
	setenv("UDD_SYSFS_ROOT", root, 1);
	pthread_mutex_init(&tlog.lock, NULL);
	tlog.cb = log_cb;
	tlog.level = UDD_LOG_DEBUG;

	build_tree();
	test_bdf_valid();
	test_enumerate();
	test_probe_edu();
	test_probe_nvme_describe();
	test_open_errors();
	test_resource_parsing();
	test_cfg_irq_count();
	test_public_pool();

	pthread_mutex_destroy(&tlog.lock);
	rm_tree(root);
	return t_done("test_vfio_sysfs");
}
