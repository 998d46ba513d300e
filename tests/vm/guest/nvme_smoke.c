/* SPDX-License-Identifier: MIT */
/*
 * Guest smoke test on the raw VFIO uAPI for QEMU's nvme device (1b36:0010) bound to
 * vfio-pci: identity and class in config space, controller registers through the BAR0
 * mmap (CAP, VS 1.4), the MSI-X vector count, and VFIO_DEVICE_RESET (the function reset
 * clears CC and the interrupt mask written before it; QEMU 7.2 keeps AQA/ASQ/ACQ).
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/vfio.h>
#include <stdint.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "testlib.h"
#include "vfio_guest.h"

#define NVME_VENDOR 0x1b36
#define NVME_DEVICE 0x0010
#define NVME_CAP 0x00
#define NVME_VS 0x08
#define NVME_INTMS 0x0c
#define NVME_CC 0x14

int main(void)
{
	char bdf[NAME_MAX + 1] = "";
	char gpath[64];
	int container, group, device, gnum;
	struct vfio_group_status gstatus = { .argsz = sizeof(gstatus) };
	struct vfio_device_info dinfo = { .argsz = sizeof(dinfo) };
	struct vfio_region_info cfg = { .argsz = sizeof(cfg), .index = VFIO_PCI_CONFIG_REGION_INDEX };
	struct vfio_region_info bar = { .argsz = sizeof(bar), .index = VFIO_PCI_BAR0_REGION_INDEX };
	struct vfio_irq_info msix = { .argsz = sizeof(msix), .index = VFIO_PCI_MSIX_IRQ_INDEX };
	uint16_t ven = 0, dev = 0;
	uint8_t class[3] = { 0 };
	volatile uint8_t *regs;
	uint64_t cap;
	void *map;

	setvbuf(stdout, NULL, _IONBF, 0);

	gnum = vg_find_device(NVME_VENDOR, NVME_DEVICE, bdf, sizeof(bdf));
	REQUIRE(gnum >= 0);
	printf("nvme at %s, IOMMU group %d\n", bdf, gnum);

	container = open("/dev/vfio/vfio", O_RDWR | O_CLOEXEC);
	REQUIRE(container >= 0);
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
	CHECK(dinfo.flags & VFIO_DEVICE_FLAGS_RESET);

	REQUIRE_OK(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &cfg));
	CHECK_EQ(pread(device, &ven, 2, (off_t)cfg.offset + 0), 2);
	CHECK_EQ(pread(device, &dev, 2, (off_t)cfg.offset + 2), 2);
	CHECK_EQ(pread(device, class, 3, (off_t)cfg.offset + 9), 3);
	CHECK_EQ(ven, NVME_VENDOR);
	CHECK_EQ(dev, NVME_DEVICE);
	/* mass storage / non-volatile memory / NVMe */
	CHECK_EQ(class[2], 0x01);
	CHECK_EQ(class[1], 0x08);
	CHECK_EQ(class[0], 0x02);

	REQUIRE_OK(ioctl(device, VFIO_DEVICE_GET_IRQ_INFO, &msix));
	CHECK(msix.count >= 2);
	printf("MSI-X vectors: %u\n", msix.count);

	REQUIRE_OK(ioctl(device, VFIO_DEVICE_GET_REGION_INFO, &bar));
	CHECK(bar.size >= 0x1000);
	REQUIRE(bar.flags & VFIO_REGION_INFO_FLAG_MMAP);
	map = mmap(NULL, bar.size, PROT_READ | PROT_WRITE, MAP_SHARED, device, (off_t)bar.offset);
	REQUIRE(map != MAP_FAILED);
	regs = map;
	cap = *(volatile uint64_t *)(regs + NVME_CAP);
	printf("CAP 0x%016" PRIx64 " VS 0x%08x\n", cap, *(volatile uint32_t *)(regs + NVME_VS));
	CHECK_EQ(*(volatile uint32_t *)(regs + NVME_VS), 0x00010400);
	CHECK(cap & (1ull << 37)); /* CSS: NVM command set */
	CHECK((cap & 0xffff) >= 1); /* MQES */
	CHECK_EQ(*(volatile uint32_t *)(regs + NVME_CC) & 1, 0); /* not enabled */

	/* function reset: CC (queue entry sizes, EN still 0) and INTMS go back to 0 */
	*(volatile uint32_t *)(regs + NVME_CC) = 0x00460000;
	*(volatile uint32_t *)(regs + NVME_INTMS) = 0x3;
	CHECK_EQ(*(volatile uint32_t *)(regs + NVME_CC), 0x00460000);
	CHECK_EQ(*(volatile uint32_t *)(regs + NVME_INTMS), 0x3);
	CHECK_EQ(ioctl(device, VFIO_DEVICE_RESET), 0);
	printf("after VFIO_DEVICE_RESET: CC 0x%08x INTMS 0x%08x\n",
	       *(volatile uint32_t *)(regs + NVME_CC), *(volatile uint32_t *)(regs + NVME_INTMS));
	CHECK_EQ(*(volatile uint32_t *)(regs + NVME_CC), 0);
	CHECK_EQ(*(volatile uint32_t *)(regs + NVME_INTMS), 0);
	CHECK_EQ(*(volatile uint32_t *)(regs + NVME_VS), 0x00010400);
	ven = 0;
	CHECK_EQ(pread(device, &ven, 2, (off_t)cfg.offset + 0), 2);
	CHECK_EQ(ven, NVME_VENDOR);

	munmap(map, bar.size);
	close(device);
	close(group);
	close(container);
	return t_done("nvme_smoke");
}
