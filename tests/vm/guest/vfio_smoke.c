/* SPDX-License-Identifier: MIT */
/*
 * Guest smoke test for the VM harness, on the raw VFIO uAPI (no udd library):
 * QEMU's edu device bound to vfio-pci behind an emulated Intel IOMMU.
 *
 *  - container + group + type1v2 IOMMU, device fd
 *  - config region: vendor/device; BAR0 mmap: id and liveness registers
 *  - bus mastering, VFIO_IOMMU_MAP_DMA, edu DMA round trip RAM -> edu -> RAM
 *  - MSI through an eventfd (edu raise-interrupt register)
 *  - IOMMU isolation: after VFIO_IOMMU_UNMAP_DMA a device write to the old IOVA (and to
 *    one never mapped) leaves memory untouched, a device read from it does not see the
 *    old contents, and the guest kernel logs a DMAR fault.
 *
 * Runs as /tests/vfio_smoke inside the guest; finds the edu by vendor:device in sysfs.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/vfio.h>
#include <poll.h>
#include <stdint.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"
#include "vfio_guest.h"

#define EDU_VENDOR 0x1234
#define EDU_DEVICE 0x11e8
#define EDU_ID 0x00
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
#define EDU_BUF 0x40000u /* the device's internal 4 KiB buffer */

#define IOVA_A 0x100000u /* mapped, then unmapped */
#define IOVA_B 0x300000u /* stays mapped: staging */
#define IOVA_NEVER 0x200000u /* never mapped */
#define XFER 1024u
#define CANARY 0xa5

static volatile uint8_t *bar0;

static uint32_t rd32(uint32_t off)
{
	return *(volatile uint32_t *)(bar0 + off);
}
static void wr32(uint32_t off, uint32_t v)
{
	*(volatile uint32_t *)(bar0 + off) = v;
}
static uint64_t rd64(uint32_t off)
{
	return *(volatile uint64_t *)(bar0 + off);
}
static void wr64(uint32_t off, uint64_t v)
{
	*(volatile uint64_t *)(bar0 + off) = v;
}

/* Start one edu DMA and poll the start bit until the device clears it.
 * Returns 0, or -ETIMEDOUT if it is still running after 10 s (it takes ~100 ms). */
static int edu_dma(uint64_t src, uint64_t dst, uint64_t cnt, uint32_t cmd)
{
	const struct timespec ms = { 0, 1000000 };
	double t0;

	if (rd64(EDU_DMA_CMD) & EDU_CMD_START)
		return -EBUSY;
	wr64(EDU_DMA_SRC, src);
	wr64(EDU_DMA_DST, dst);
	wr64(EDU_DMA_CNT, cnt);
	wr64(EDU_DMA_CMD, cmd | EDU_CMD_START);
	t0 = vg_now();
	while (rd64(EDU_DMA_CMD) & EDU_CMD_START) {
		if (vg_now() - t0 > 10.0)
			return -ETIMEDOUT;
		nanosleep(&ms, NULL); /* polling interval, not synchronisation */
	}
	return 0;
}

/* Count kernel log lines that report a DMAR fault of a kind ("DMA Read"/"DMA Write") for
 * the edu at a page address (VT-d fault records hold the page, not the byte). */
static int count_dmar_faults(const char *bdf, const char *kind, uint64_t addr, int print)
{
	int size = klogctl(10 /* SYSLOG_ACTION_SIZE_BUFFER */, NULL, 0);
	char want_dev[NAME_MAX + 3], want_addr[48];
	char *buf, *line, *save = NULL;
	int n, hits = 0;

	if (size <= 0)
		return -errno;
	buf = malloc((size_t)size + 1);
	if (!buf)
		return -ENOMEM;
	n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, size);
	if (n < 0) {
		free(buf);
		return -errno;
	}
	buf[n] = '\0';
	/* "DMAR: [DMA Write NO_PASID] Request device [00:01.0] fault addr 0x100000 ..." */
	snprintf(want_dev, sizeof(want_dev), "[%s]", bdf + 5); /* drop the domain */
	snprintf(want_addr, sizeof(want_addr), "fault addr 0x%" PRIx64, addr);
	for (line = strtok_r(buf, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strstr(line, "DMAR") && strstr(line, kind) && strstr(line, want_dev) &&
		    strstr(line, want_addr)) {
			const char *end = strstr(line, want_addr) + strlen(want_addr);
			/* exact address, not a prefix of a longer one */
			if (*end == ' ' || *end == '\0' || *end == ']') {
				hits++;
				if (print)
					printf("  kernel: %s\n", line);
			}
		}
	}
	free(buf);
	return hits;
}

/* Poll the kernel log (the fault is reported from the IOMMU's fault interrupt) until it
 * holds more matching lines than before the faulting DMA (earlier tests may have faulted
 * at the same address). Note: the kernel rate-limits these reports (10 per 5 s). */
static int wait_dmar_fault(const char *bdf, const char *kind, uint64_t addr, int before)
{
	const struct timespec step = { 0, 20000000 };
	double t0 = vg_now();
	int n;

	while ((n = count_dmar_faults(bdf, kind, addr, 0)) <= before && vg_now() - t0 < 5.0)
		nanosleep(&step, NULL);
	if (n > before)
		count_dmar_faults(bdf, kind, addr, 1);
	else
		printf("no new kernel DMAR %s fault line for %s at 0x%" PRIx64 "\n", kind, bdf, addr);
	return n > before;
}

static int all_bytes(const uint8_t *p, size_t n, uint8_t v)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != v)
			return 0;
	return 1;
}

int main(void)
{
	char bdf[NAME_MAX + 1] = "";
	char gpath[64];
	int container, group, device, gnum, efd;
	struct vfio_group_status gstatus = { .argsz = sizeof(gstatus) };
	struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	uint16_t ven = 0, dev = 0, cmdreg = 0;
	uint8_t *a, *b;
	void *map;

	setvbuf(stdout, NULL, _IONBF, 0);

	/* --- container, group, device */
	gnum = vg_find_device(EDU_VENDOR, EDU_DEVICE, bdf, sizeof(bdf));
	REQUIRE(gnum >= 0);
	printf("edu at %s, IOMMU group %d\n", bdf, gnum);

	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	REQUIRE(container >= 0);
	CHECK_EQ(ioctl(container, VFIO_GET_API_VERSION), VFIO_API_VERSION);
	REQUIRE(ioctl(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU) == 1);

	snprintf(gpath, sizeof(gpath), "/dev/vfio/%d", gnum);
	group = open(gpath, O_RDWR | O_CLOEXEC);
	REQUIRE(group >= 0);
	REQUIRE_OK(ioctl(group, VFIO_GROUP_GET_STATUS, &gstatus));
	REQUIRE(gstatus.flags & VFIO_GROUP_FLAGS_VIABLE);
	REQUIRE_OK(ioctl(group, VFIO_GROUP_SET_CONTAINER, &container));
	REQUIRE_OK(ioctl(container, VFIO_SET_IOMMU, VFIO_TYPE1v2_IOMMU));
	device = ioctl(group, VFIO_GROUP_GET_DEVICE_FD, bdf);
	REQUIRE(device >= 0);

	REQUIRE_OK(ioctl(device, VFIO_DEVICE_GET_INFO, &dinfo));
	CHECK(dinfo.flags & VFIO_DEVICE_FLAGS_PCI);
	CHECK(dinfo.num_regions > VFIO_PCI_CONFIG_REGION_INDEX);
	CHECK(dinfo.num_irqs > VFIO_PCI_MSI_IRQ_INDEX);
	printf("device: %u regions, %u irqs, reset %s\n", dinfo.num_regions, dinfo.num_irqs,
	       (dinfo.flags & VFIO_DEVICE_FLAGS_RESET) ? "yes" : "no");

	/* --- config space through the config region */
	REQUIRE_OK(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &cfg));
	CHECK(cfg.size >= 256);
	CHECK_EQ(pread(device, &ven, 2, (off_t)cfg.offset + 0), 2);
	CHECK_EQ(pread(device, &dev, 2, (off_t)cfg.offset + 2), 2);
	CHECK_EQ(ven, EDU_VENDOR);
	CHECK_EQ(dev, EDU_DEVICE);

	/* --- BAR0 */
	REQUIRE_OK(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &bar));
	CHECK_EQ(bar.size, 1u << 20);
	REQUIRE(bar.flags & VFIO_REGION_INFO_FLAG_MMAP);
	map = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t)bar.offset);
	REQUIRE(map != MAP_FAILED);
	bar0 = map;
	CHECK_EQ(rd32(EDU_ID), 0x010000ed);
	wr32(EDU_LIVE, 0x12345678);
	CHECK_EQ(rd32(EDU_LIVE), (uint32_t)~0x12345678u);

	/* --- bus mastering (command register bits 1 memory, 2 master) */
	CHECK_EQ(pread(device, &cmdreg, 2, (off_t)cfg.offset + 4), 2);
	cmdreg |= 0x6;
	CHECK_EQ(pwrite(device, &cmdreg, 2, (off_t)cfg.offset + 4), 2);
	cmdreg = 0;
	CHECK_EQ(pread(device, &cmdreg, 2, (off_t)cfg.offset + 4), 2);
	CHECK_EQ(cmdreg & 0x6, 0x6);

	/* --- DMA round trip through buffer A */
	a = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	b = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	REQUIRE(a != MAP_FAILED && b != MAP_FAILED);
	memset(a, 0, 4096);
	memset(b, 0, 4096);
	struct vfio_iommu_type1_dma_map dm = {
		.argsz = sizeof(dm),
		.flags = VFIO_DMA_MAP_FLAG_READ | VFIO_DMA_MAP_FLAG_WRITE,
		.vaddr = (uintptr_t)a,
		.iova = IOVA_A,
		.size = 4096,
	};
	REQUIRE_OK(ioctl(container, VFIO_IOMMU_MAP_DMA, &dm));
	dm.vaddr = (uintptr_t)b;
	dm.iova = IOVA_B;
	REQUIRE_OK(ioctl(container, VFIO_IOMMU_MAP_DMA, &dm));

	for (unsigned i = 0; i < XFER; i++)
		a[i] = (uint8_t)(i * 7 + 3);
	REQUIRE_OK(edu_dma(IOVA_A, EDU_BUF, XFER, 0)); /* RAM -> edu */
	REQUIRE_OK(edu_dma(EDU_BUF, IOVA_A + 2048, XFER, EDU_CMD_TO_RAM)); /* edu -> RAM */
	CHECK(memcmp(a, a + 2048, XFER) == 0);
	printf("DMA round trip of %u bytes: %s\n", XFER, memcmp(a, a + 2048, XFER) ? "MISMATCH" : "ok");

	/* --- MSI through an eventfd */
	efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	REQUIRE(efd >= 0);
	{
		char irqbuf[sizeof(struct vfio_irq_set) + sizeof(int32_t)];
		struct vfio_irq_set *set = (struct vfio_irq_set *)irqbuf;
		struct pollfd pfd = { .fd = efd, .events = POLLIN };
		uint64_t cnt = 0;
		int32_t fd32 = efd;

		set->argsz = sizeof(irqbuf);
		set->flags = VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER;
		set->index = VFIO_PCI_MSI_IRQ_INDEX;
		set->start = 0;
		set->count = 1;
		memcpy(set->data, &fd32, sizeof(fd32));
		REQUIRE_OK(ioctl(device, VFIO_DEVICE_SET_IRQS, set));
		wr32(EDU_IRQ_RAISE, 0x1000);
		CHECK_EQ(poll(&pfd, 1, 5000), 1);
		CHECK_EQ(read(efd, &cnt, sizeof(cnt)), (long long)sizeof(cnt));
		CHECK(cnt >= 1);
		CHECK_EQ(rd32(EDU_IRQ_STATUS) & 0x1000, 0x1000);
		wr32(EDU_IRQ_ACK, 0x1000);
		CHECK_EQ(rd32(EDU_IRQ_STATUS) & 0x1000, 0);
		printf("MSI via eventfd: count %llu\n", (unsigned long long)cnt);
		set->argsz = sizeof(*set);
		set->flags = VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER;
		set->count = 0;
		CHECK_EQ(ioctl(device, VFIO_DEVICE_SET_IRQS, set), 0);
	}

	/* --- IOMMU isolation */
	struct vfio_iommu_type1_dma_unmap du = { .argsz = sizeof(du), .iova = IOVA_A, .size = 4096 };
	REQUIRE_OK(ioctl(container, VFIO_IOMMU_UNMAP_DMA, &du));
	CHECK_EQ(du.size, 4096);
	memset(a, CANARY, 4096);
	/* put a known pattern in the edu buffer, through mapped B */
	memset(b, 0x5a, 4096);
	REQUIRE_OK(edu_dma(IOVA_B, EDU_BUF, XFER, 0));

	/* device writes to the unmapped IOVA and to a never-mapped one */
	int wr_a = count_dmar_faults(bdf, "DMA Write", IOVA_A, 0);
	int wr_never = count_dmar_faults(bdf, "DMA Write", IOVA_NEVER, 0);
	int rd_a = count_dmar_faults(bdf, "DMA Read", IOVA_A, 0);
	CHECK(wr_a >= 0 && wr_never >= 0 && rd_a >= 0);
	REQUIRE_OK(edu_dma(EDU_BUF, IOVA_A, XFER, EDU_CMD_TO_RAM));
	REQUIRE_OK(edu_dma(EDU_BUF, IOVA_NEVER, XFER, EDU_CMD_TO_RAM));
	CHECK(all_bytes(a, 4096, CANARY));
	printf("write to unmapped IOVA 0x%x: buffer %s\n", IOVA_A,
	       all_bytes(a, 4096, CANARY) ? "untouched" : "MODIFIED");
	CHECK(wait_dmar_fault(bdf, "DMA Write", IOVA_A, wr_a));
	CHECK(wait_dmar_fault(bdf, "DMA Write", IOVA_NEVER, wr_never));

	/* device read from the unmapped IOVA must not see the canary */
	REQUIRE_OK(edu_dma(IOVA_A + 2048, EDU_BUF, XFER, 0));
	memset(b, 0, 4096);
	REQUIRE_OK(edu_dma(EDU_BUF, IOVA_B, XFER, EDU_CMD_TO_RAM));
	CHECK(!all_bytes(b, XFER, CANARY));
	CHECK(all_bytes(a, 4096, CANARY));
	printf("read from unmapped IOVA: device saw %s\n",
	       all_bytes(b, XFER, CANARY) ? "the canary (LEAK)" : "no canary");
	CHECK(wait_dmar_fault(bdf, "DMA Read", IOVA_A, rd_a));

	/* still working afterwards: the device reaches mapped memory */
	memset(b, 0, 4096);
	for (unsigned i = 0; i < XFER; i++)
		b[i] = (uint8_t)(i ^ 0x3c);
	REQUIRE_OK(edu_dma(IOVA_B, EDU_BUF, XFER, 0));
	REQUIRE_OK(edu_dma(EDU_BUF, IOVA_B + 2048, XFER, EDU_CMD_TO_RAM));
	CHECK(memcmp(b, b + 2048, XFER) == 0);

	du.iova = IOVA_B;
	du.size = 4096;
	CHECK_EQ(ioctl(container, VFIO_IOMMU_UNMAP_DMA, &du), 0);
	CHECK_EQ(du.size, 4096);
	close(efd);
	munmap(map, bar.size);
	munmap(a, 4096);
	munmap(b, 4096);
	close(device);
	close(group);
	close(container);
	return t_done("vfio_smoke");
}
