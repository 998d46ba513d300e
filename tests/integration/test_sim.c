/* SPDX-License-Identifier: MIT */
/*
 * udd-sim over real sockets with the raw vfio-user framing: handshake and
 * borrow modes, infos, config space, edu/pio/be registers, interrupts through
 * eventfds, mmapped BARs, DMA through fd windows and DMA_READ/WRITE
 * messages, DMA faults, malformed messages, the control socket.
 */
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "rawvfu.h"

static void test_infos_and_config(void)
{
	int fd = open_dev(p_edu, "\"udd\":{\"borrow\":\"shared\"}", NULL, NULL);
	REQUIRE(fd >= 0);
	struct vfu_device_info di = { .argsz = sizeof(di) };
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, NULL, 0, NULL, NULL),
		 sizeof(di));
	memcpy(&di, PAYLOAD, sizeof(di));
	CHECK_EQ(di.flags, VFIO_DEVICE_FLAGS_PCI);
	CHECK_EQ(di.num_regions, 9);
	CHECK_EQ(di.num_irqs, 5);

	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0), 0x11e81234);
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 8), 0x00ff0010);
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x2c), 0x11001af4);
	/* BAR sizing */
	wr32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x10, 0xffffffff);
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x10), 0xfff00000);
	wr32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x10, 0xfe000000);
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x10), 0xfe000000);
	/* read-only ids stay */
	wr32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0, 0);
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0), 0x11e81234);
	/* capability list: MSI at 0x40 */
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x34) & 0xff, 0x40);
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x40) & 0xff, 0x05);

	struct vfu_region_info ri = { .argsz = sizeof(ri), .index = 0 };
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0, NULL, 0, NULL,
		      NULL), sizeof(ri));
	memcpy(&ri, PAYLOAD, sizeof(ri));
	CHECK_EQ(ri.size, EDU_BAR0_SIZE);
	CHECK(!(ri.flags & VFIO_REGION_INFO_FLAG_MMAP));
	ri = (struct vfu_region_info){ .argsz = sizeof(ri), .index = VFIO_PCI_ROM_REGION_INDEX };
	CHECK(call(fd, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0, NULL, 0, NULL, NULL) > 0);
	memcpy(&ri, PAYLOAD, sizeof(ri));
	CHECK_EQ(ri.size, 0);

	struct vfu_irq_info ii = { .argsz = sizeof(ii), .index = VFIO_PCI_INTX_IRQ_INDEX };
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_GET_IRQ_INFO, &ii, sizeof(ii), NULL, 0, NULL, 0, NULL, NULL),
		 sizeof(ii));
	memcpy(&ii, PAYLOAD, sizeof(ii));
	CHECK_EQ(ii.count, 1);
	CHECK(ii.flags & VFIO_IRQ_INFO_AUTOMASKED);
	CHECK(ii.flags & VFIO_IRQ_INFO_MASKABLE);
	/* validation */
	CHECK_EQ(rd(fd, 9, 0, &di, 4), -EINVAL);
	CHECK_EQ(rd(fd, 0, EDU_BAR0_SIZE - 2, &di, 4), -EINVAL);
	CHECK_EQ(rd(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0xfe, &di, 4), -EINVAL);
	CHECK_EQ(call(fd, 99, NULL, 0, NULL, 0, NULL, 0, NULL, NULL), -ENOSYS);
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL, NULL), -ENOTSUP);
	close(fd);
}

static void test_edu(void)
{
	int fd = open_dev(p_edu, NULL, NULL, NULL);
	REQUIRE(fd >= 0);
	CHECK_EQ(rd32(fd, 0, EDU_REG_ID), EDU_ID_VALUE);
	wr32(fd, 0, EDU_REG_LIVENESS, 0x12345678);
	CHECK_EQ(rd32(fd, 0, EDU_REG_LIVENESS), (uint32_t)~0x12345678u);
	uint16_t w = 0;
	CHECK_EQ(rd(fd, 0, EDU_REG_ID, &w, 2), 0); /* 16-bit below 0x80: all ones */
	CHECK_EQ(w, 0xffff);

	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd, 1), 0);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSI_IRQ_INDEX, 0, 2, &efd, 1), -EINVAL);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSIX_IRQ_INDEX, 0, 1, &efd, 1), -EINVAL);
	wr32(fd, 0, EDU_REG_STATUS, EDU_STATUS_IRQFACT);
	wr32(fd, 0, EDU_REG_FACT, 10);
	CHECK(wait_efd(efd, 5000) >= 1);
	CHECK_EQ(rd32(fd, 0, EDU_REG_FACT), 3628800);
	CHECK_EQ(rd32(fd, 0, EDU_REG_STATUS) & EDU_STATUS_COMPUTING, 0);
	CHECK_EQ(rd32(fd, 0, EDU_REG_IRQ_STATUS), EDU_IRQ_FACT);
	wr32(fd, 0, EDU_REG_IRQ_ACK, EDU_IRQ_FACT);
	CHECK_EQ(rd32(fd, 0, EDU_REG_IRQ_STATUS), 0);
	wr32(fd, 0, EDU_REG_IRQ_RAISE, 0x40);
	CHECK(wait_efd(efd, 5000) >= 1);
	wr32(fd, 0, EDU_REG_IRQ_ACK, 0x40);
	/* the DMA buffer through BAR0 */
	wr32(fd, 0, EDU_DMA_BUF + 8, 0xcafef00d);
	CHECK_EQ(rd32(fd, 0, EDU_DMA_BUF + 8), 0xcafef00d);

	/* DMA through an fd window: RAM -> buffer, then buffer -> RAM */
	int mfd = raw_sealed_memfd("ram", 8192);
	REQUIRE(mfd >= 0);
	uint8_t *ram = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	REQUIRE(ram != MAP_FAILED);
	for (int i = 0; i < 256; i++)
		ram[i] = (uint8_t)(i ^ 0x5a);
	struct vfu_dma_map m = { .argsz = sizeof(m), .flags = VFU_DMA_F_READ | VFU_DMA_F_WRITE,
				 .offset = 0, .addr = 0x100000, .size = 8192 };
	CHECK_EQ(call(fd, VFU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, &mfd, 1, NULL, NULL), 0);
	struct vfu_dma_map m2 = m;
	m2.addr = 0x101000;
	CHECK_EQ(call(fd, VFU_CMD_DMA_MAP, &m2, sizeof(m2), NULL, 0, NULL, 0, NULL, NULL), -EEXIST);
	uint64_t v64 = 0x100000;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_SRC, &v64, 8), 0);
	v64 = EDU_DMA_BUF;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_DST, &v64, 8), 0);
	v64 = 256;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_COUNT, &v64, 8), 0);
	v64 = EDU_DMA_START | EDU_DMA_IRQ;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_CMD, &v64, 8), 0);
	CHECK(wait_efd(efd, 5000) >= 1);
	CHECK_EQ(rd32(fd, 0, EDU_REG_IRQ_STATUS), EDU_IRQ_DMA);
	wr32(fd, 0, EDU_REG_IRQ_ACK, EDU_IRQ_DMA);
	uint8_t back[256];
	CHECK_EQ(rd(fd, 0, EDU_DMA_BUF, back, 256), 0);
	CHECK(memcmp(back, ram, 256) == 0);
	v64 = EDU_DMA_BUF;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_SRC, &v64, 8), 0);
	v64 = 0x101000;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_DST, &v64, 8), 0);
	v64 = EDU_DMA_START | EDU_DMA_FROM_DEV | EDU_DMA_IRQ;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_CMD, &v64, 8), 0);
	CHECK(wait_efd(efd, 5000) >= 1);
	CHECK(memcmp(ram + 4096, ram, 256) == 0);
	wr32(fd, 0, EDU_REG_IRQ_ACK, EDU_IRQ_DMA);

	struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = 0x100000, .size = 4096 };
	CHECK_EQ(call(fd, VFU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL, 0, NULL, NULL), -ENOENT);
	u.size = 8192;
	CHECK_EQ(call(fd, VFU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL, 0, NULL, NULL), sizeof(u));

	/* the same memory mapped again, elsewhere (the server reuses its
	 * mapping of it, sim_dma.c's cache): the device sees what RAM holds
	 * now, and what it writes lands in RAM */
	for (int i = 0; i < 256; i++)
		ram[i] = (uint8_t)(i ^ 0xa5);
	m.addr = 0x200000;
	CHECK_EQ(call(fd, VFU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, &mfd, 1, NULL, NULL), 0);
	v64 = 0x200000;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_SRC, &v64, 8), 0);
	v64 = EDU_DMA_BUF;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_DST, &v64, 8), 0);
	v64 = EDU_DMA_START | EDU_DMA_IRQ;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_CMD, &v64, 8), 0);
	CHECK(wait_efd(efd, 5000) >= 1);
	wr32(fd, 0, EDU_REG_IRQ_ACK, EDU_IRQ_DMA);
	CHECK_EQ(rd(fd, 0, EDU_DMA_BUF, back, 256), 0);
	CHECK(memcmp(back, ram, 256) == 0);
	memset(ram + 4096, 0, 256);
	v64 = EDU_DMA_BUF;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_SRC, &v64, 8), 0);
	v64 = 0x201000;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_DST, &v64, 8), 0);
	v64 = EDU_DMA_START | EDU_DMA_FROM_DEV | EDU_DMA_IRQ;
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_CMD, &v64, 8), 0);
	CHECK(wait_efd(efd, 5000) >= 1);
	wr32(fd, 0, EDU_REG_IRQ_ACK, EDU_IRQ_DMA);
	CHECK(memcmp(ram + 4096, ram, 256) == 0);
	u.addr = 0x200000;
	CHECK_EQ(call(fd, VFU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0, NULL, 0, NULL, NULL), sizeof(u));
	munmap(ram, 8192);
	close(mfd);
	close(efd);
	close(fd);
}

/* Serve one DMA_READ/DMA_WRITE on @s against @mem (at iova @base). */
static void test_dma_messages(bool use_twin)
{
	int twin = -1;
	int fd = open_dev(p_edu,
			  use_twin ? "\"twin_socket\":{\"supported\":true},"
				     "\"udd\":{\"borrow\":\"shared\",\"dma_faults\":true}"
				   : "\"udd\":{\"borrow\":\"shared\",\"dma_faults\":true}",
			  &twin, NULL);
	REQUIRE(fd >= 0);
	CHECK(use_twin ? twin >= 0 : twin < 0);
	int s2c = use_twin ? twin : fd;
	uint8_t mem[4096];
	for (int i = 0; i < 4096; i++)
		mem[i] = (uint8_t)(i * 7);
	struct vfu_dma_map m = { .argsz = sizeof(m), .flags = VFU_DMA_F_READ | VFU_DMA_F_WRITE,
				 .addr = 0x200000, .size = 4096 };
	CHECK_EQ(call(fd, VFU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, NULL, 0, NULL, NULL), 0);
	uint16_t cmd = 0;
	edu_dma(fd, 0x200100, EDU_DMA_BUF, 128, EDU_DMA_START);
	CHECK(serve_dma(s2c, 0x200000, mem, sizeof(mem), &cmd));
	CHECK_EQ(cmd, VFU_CMD_DMA_READ);
	/* the engine is done once START clears */
	uint64_t c = EDU_DMA_START;
	for (int i = 0; i < 500 && (c & EDU_DMA_START); i++) {
		CHECK_EQ(rd(fd, 0, EDU_REG_DMA_CMD, &c, 8), 0);
		if (c & EDU_DMA_START)
			usleep(2000);
	}
	uint8_t back[128];
	CHECK_EQ(rd(fd, 0, EDU_DMA_BUF, back, 128), 0);
	CHECK(memcmp(back, mem + 0x100, 128) == 0);
	edu_dma(fd, EDU_DMA_BUF, 0x200800, 128, EDU_DMA_START | EDU_DMA_FROM_DEV);
	CHECK(serve_dma(s2c, 0x200000, mem, sizeof(mem), &cmd));
	CHECK_EQ(cmd, VFU_CMD_DMA_WRITE);
	CHECK(memcmp(mem + 0x800, mem + 0x100, 128) == 0);

	/* outside every window: a fault notice, no reply expected */
	c = EDU_DMA_START;
	for (int i = 0; i < 500 && (c & EDU_DMA_START); i++) {
		CHECK_EQ(rd(fd, 0, EDU_REG_DMA_CMD, &c, 8), 0);
		if (c & EDU_DMA_START)
			usleep(2000);
	}
	edu_dma(fd, 0x900000, EDU_DMA_BUF, 64, EDU_DMA_START);
	long n = vfu_msg_recv(s2c, rbuf, sizeof(rbuf), NULL, NULL, 5000);
	CHECK_EQ(n, sizeof(struct vfu_hdr) + sizeof(struct vfu_udd_dma_fault));
	struct vfu_hdr *h = (void *)rbuf;
	CHECK_EQ(h->cmd, VFU_UDD_CMD_DMA_FAULT);
	CHECK(h->flags & VFU_F_NO_REPLY);
	struct vfu_udd_dma_fault f;
	memcpy(&f, PAYLOAD, sizeof(f));
	CHECK_EQ(f.iova, 0x900000);
	CHECK_EQ(f.len, 64);
	CHECK_EQ(f.write, 0);
	/* out of the device buffer: also a fault, never a crash */
	edu_dma(fd, 0x200000, EDU_DMA_BUF + 4000, 200, EDU_DMA_START);
	n = vfu_msg_recv(s2c, rbuf, sizeof(rbuf), NULL, NULL, 5000);
	CHECK_EQ(n, sizeof(struct vfu_hdr) + sizeof(struct vfu_udd_dma_fault));
	CHECK_EQ(rd32(fd, 0, EDU_REG_ID), EDU_ID_VALUE);
	if (twin >= 0)
		close(twin);
	close(fd);
}

static void test_borrow(void)
{
	long err = 0;
	int a = open_dev(p_pio, "\"udd\":{\"borrow\":\"exclusive\"}", NULL, NULL);
	REQUIRE(a >= 0);
	CHECK(PAYLOAD[0] || true);
	CHECK(strstr((char *)PAYLOAD + 4, "\"borrow\":\"exclusive\"") != NULL);
	int b = open_dev(p_pio, "\"udd\":{\"borrow\":\"shared\"}", NULL, &err);
	CHECK(b < 0);
	CHECK_EQ(err, -EBUSY);
	int nocap = open_dev(p_pio, NULL, NULL, &err); /* no udd cap: shared */
	CHECK(nocap < 0);
	CHECK_EQ(err, -EBUSY);
	int p = open_dev(p_pio, "\"udd\":{\"borrow\":\"probe\"}", NULL, NULL);
	CHECK(p >= 0);
	CHECK_EQ(rd32(p, VFIO_PCI_CONFIG_REGION_INDEX, 0), 0x0d011234);
	uint8_t v = 1;
	CHECK_EQ(wr(p, PIO_CSR_BAR, 0, &v, 1), -EPERM);
	CHECK_EQ(wr(p, VFIO_PCI_CONFIG_REGION_INDEX, 4, &v, 1), -EPERM);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ(set_irq(p, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER, 0, 0, 1, &efd, 1),
		 -EPERM);
	close(efd);
	close(a); /* releases the exclusive borrow */
	int s1 = -1;
	for (int i = 0; i < 500 && s1 < 0; i++) { /* the server notices the close */
		s1 = open_dev(p_pio, "\"udd\":{\"borrow\":\"shared\"}", NULL, &err);
		if (s1 < 0)
			usleep(2000);
	}
	CHECK(s1 >= 0);
	int s2 = open_dev(p_pio, NULL, NULL, NULL);
	CHECK(s2 >= 0);
	int x = open_dev(p_pio, "\"udd\":{\"borrow\":\"exclusive\"}", NULL, &err);
	CHECK(x < 0);
	CHECK_EQ(err, -EBUSY);
	int bad = open_dev(p_pio, "\"udd\":{\"borrow\":\"bogus\"}", NULL, &err);
	CHECK(bad < 0);
	CHECK_EQ(err, -EINVAL);
	close(s1);
	close(s2);
	close(p);
}

static void test_pio(void)
{
	int fd = -1;
	for (int i = 0; i < 500 && fd < 0; i++) {
		fd = open_dev(p_pio, "\"udd\":{\"borrow\":\"exclusive\"}", NULL, NULL);
		if (fd < 0)
			usleep(2000);
	}
	REQUIRE(fd >= 0);
	struct vfu_device_info di = { .argsz = sizeof(di) };
	CHECK(call(fd, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, NULL, 0, NULL, NULL) > 0);
	memcpy(&di, PAYLOAD, sizeof(di));
	CHECK(di.flags & VFIO_DEVICE_FLAGS_RESET);
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL, NULL), 0);
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_INTX_IRQ_INDEX, 0, 1, &efd, 1), 0);
	uint8_t csr = 0;
	CHECK_EQ(rd(fd, PIO_CSR_BAR, 0, &csr, 1), 0);
	CHECK_EQ(csr, PIO_IDLE);
	uint32_t count0 = rd32(fd, PIO_RECORD_BAR, PIO_REC_COUNT);
	/* IE on while idle: interrupt asserted at once */
	uint8_t v = PIO_INTR_ENABLE;
	CHECK_EQ(wr(fd, PIO_CSR_BAR, 0, &v, 1), 0);
	CHECK(wait_efd(efd, 5000) >= 1);
	CHECK_EQ(rd(fd, PIO_CSR_BAR, 0, &csr, 1), 0);
	CHECK_EQ(csr, PIO_INTR_ENABLE | PIO_IDLE | PIO_INTR_PENDING);
	const char *msg = "hi!";
	for (const char *c = msg; *c; c++) {
		v = PIO_INTR_ENABLE | PIO_INTR_CLEAR;
		CHECK_EQ(wr(fd, PIO_CSR_BAR, 0, &v, 1), 0);
		v = (uint8_t)*c;
		CHECK_EQ(wr(fd, PIO_DATA_BAR, 0, &v, 1), 0);
		/* INTx is automasked after each delivery: unmask, and the still
		 * asserted line (or the next completion) fires again */
		CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
				 VFIO_PCI_INTX_IRQ_INDEX, 0, 1, NULL, 0), 0);
		CHECK(wait_efd(efd, 5000) >= 1);
		CHECK_EQ(rd(fd, PIO_CSR_BAR, 0, &csr, 1), 0);
		CHECK(csr & PIO_IDLE);
		CHECK(csr & PIO_INTR_PENDING);
	}
	CHECK_EQ(rd32(fd, PIO_RECORD_BAR, PIO_REC_COUNT), count0 + 3);
	char rec[3];
	CHECK_EQ(rd(fd, PIO_RECORD_BAR, PIO_REC_DATA + count0, rec, 3), 0);
	CHECK(memcmp(rec, msg, 3) == 0);
	/* disable with count 0 */
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_INTX_IRQ_INDEX, 0, 0, NULL, 0), 0);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_NONE | VFIO_IRQ_SET_ACTION_UNMASK,
			 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0), -EINVAL);
	close(efd);
	close(fd);
}

static void test_be(void)
{
	int fd = open_dev(p_be, NULL, NULL, NULL);
	REQUIRE(fd >= 0);
	CHECK_EQ(rd32(fd, 0, BE_REG_ID), __builtin_bswap32(BE_ID_VALUE));
	wr32(fd, 0, BE_REG_FIFO, __builtin_bswap32(11));
	wr32(fd, 0, BE_REG_FIFO, __builtin_bswap32(22));
	CHECK_EQ(__builtin_bswap32(rd32(fd, 0, BE_REG_FIFO_LEVEL)), 2);
	CHECK_EQ(__builtin_bswap32(rd32(fd, 0, BE_REG_FIFO)), 11);
	CHECK_EQ(__builtin_bswap32(rd32(fd, 4, BE_IO_FIFO)), 22);
	CHECK_EQ(rd32(fd, 4, BE_IO_FIFO), 0);
	uint64_t s64 = 0x0102030405060708ull, r64 = 0;
	CHECK_EQ(wr(fd, 0, BE_REG_SCRATCH64, &s64, 8), 0);
	CHECK_EQ(rd(fd, 0, BE_REG_SCRATCH64, &r64, 8), 0);
	CHECK_EQ(r64, s64);
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL, NULL), 0);
	CHECK_EQ(rd(fd, 0, BE_REG_SCRATCH64, &r64, 8), 0);
	CHECK_EQ(r64, 0);
	/* extended config space: DSN at 0x100 */
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x100), 0x00010003);
	CHECK_EQ(rd32(fd, VFIO_PCI_CONFIG_REGION_INDEX, 0x104), (uint32_t)BE_DSN);

	/* MSI-X vector 2 */
	int efd = eventfd(0, EFD_CLOEXEC);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSIX_IRQ_INDEX, 2, 1, &efd, 1), 0);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSIX_IRQ_INDEX, 3, 2, &efd, 1), -EINVAL);
	wr32(fd, 0, BE_REG_RAISE, __builtin_bswap32(2));
	CHECK(wait_efd(efd, 5000) >= 1);
	close(efd);

	/* region info: too small argsz, then full with sparse areas and fd */
	struct vfu_region_info ri = { .argsz = sizeof(ri), .index = 0 };
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0, NULL, 0, NULL,
		      NULL), sizeof(ri));
	memcpy(&ri, PAYLOAD, sizeof(ri));
	CHECK_EQ(ri.argsz, sizeof(ri) + sizeof(struct vfu_cap_sparse_mmap) + 16);
	uint32_t need = ri.argsz;
	for (int bar = 0; bar <= 2; bar += 2) {
		ri = (struct vfu_region_info){ .argsz = need, .index = (uint32_t)bar };
		int rfd = -1;
		size_t nr = 1;
		CHECK_EQ(call(fd, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0, NULL, 0,
			      &rfd, &nr), need);
		memcpy(&ri, PAYLOAD, sizeof(ri));
		CHECK(ri.flags & VFIO_REGION_INFO_FLAG_MMAP);
		CHECK(ri.flags & VFIO_REGION_INFO_FLAG_CAPS);
		CHECK_EQ(nr, 1);
		struct vfu_cap_sparse_mmap sp;
		struct vfu_sparse_area ar;
		memcpy(&sp, PAYLOAD + ri.cap_offset, sizeof(sp));
		memcpy(&ar, PAYLOAD + ri.cap_offset + sizeof(sp), sizeof(ar));
		CHECK_EQ(sp.hdr.id, VFIO_REGION_INFO_CAP_SPARSE_MMAP);
		CHECK_EQ(sp.nr_areas, 1);
		CHECK_EQ(ar.offset, bar == 0 ? BE_DOORBELL_PAGE : 0);
		CHECK_EQ(ar.size, bar == 0 ? 0x1000 : BE_BAR2_SIZE);
		if (nr != 1)
			continue;
		uint8_t *p = mmap(NULL, ar.size, PROT_READ | PROT_WRITE, MAP_SHARED, rfd,
				  (off_t)(ri.offset + ar.offset));
		CHECK(p != MAP_FAILED);
		if (p != MAP_FAILED && bar == 0) {
			volatile uint32_t *bell = (uint32_t *)(void *)p;
			for (uint32_t k = 1; k <= 3; k++) {
				bell[0] = 0xabc000 + k;
				int spins = 0;
				while (bell[1] != 0xabc000 + k && spins++ < 5000)
					usleep(1000);
				CHECK_EQ(bell[1], 0xabc000 + k);
			}
			CHECK_EQ(rd32(fd, 0, BE_DOORBELL_ECHO), 0xabc003);
		} else if (p != MAP_FAILED) {
			memcpy(p + 0x8000, "prefetch", 8);
			char got[8];
			CHECK_EQ(rd(fd, 2, 0x8000, got, 8), 0);
			CHECK(memcmp(got, "prefetch", 8) == 0);
			CHECK_EQ(wr(fd, 2, 0x9000, "written!", 8), 0);
			CHECK(memcmp(p + 0x9000, "written!", 8) == 0);
		}
		if (p != MAP_FAILED)
			munmap(p, ar.size);
		close(rfd);
	}
	close(fd);
}

static void test_malformed(void)
{
	int good = open_dev(p_edu, NULL, NULL, NULL);
	REQUIRE(good >= 0);
	/* a command before VERSION: error, then closed */
	int fd = connect_path(p_edu);
	REQUIRE(fd >= 0);
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_GET_INFO, NULL, 0, NULL, 0, NULL, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(vfu_msg_recv(fd, rbuf, sizeof(rbuf), NULL, NULL, 5000), 0);
	close(fd);
	/* msg_size smaller than a header: disconnect */
	fd = open_dev(p_edu, NULL, NULL, NULL);
	REQUIRE(fd >= 0);
	struct vfu_hdr h = { .msg_id = 1, .cmd = VFU_CMD_REGION_READ, .msg_size = 8 };
	CHECK(write(fd, &h, sizeof(h)) == sizeof(h));
	long n = vfu_msg_recv(fd, rbuf, sizeof(rbuf), NULL, NULL, 5000);
	CHECK(n == 0 || n == -ECONNRESET);
	close(fd);
	/* huge msg_size: disconnect */
	fd = open_dev(p_edu, NULL, NULL, NULL);
	REQUIRE(fd >= 0);
	h.msg_size = 0xfffffff0;
	CHECK(write(fd, &h, sizeof(h)) == sizeof(h));
	n = vfu_msg_recv(fd, rbuf, sizeof(rbuf), NULL, NULL, 5000);
	CHECK(n == 0 || n == -ECONNRESET);
	close(fd);
	/* short payloads and bad fields: error replies, connection kept */
	fd = open_dev(p_edu, NULL, NULL, NULL);
	REQUIRE(fd >= 0);
	uint32_t small = 4;
	CHECK_EQ(call(fd, VFU_CMD_REGION_READ, &small, 4, NULL, 0, NULL, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(call(fd, VFU_CMD_DMA_MAP, &small, 4, NULL, 0, NULL, 0, NULL, NULL), -EINVAL);
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_SET_IRQS, &small, 4, NULL, 0, NULL, 0, NULL, NULL), -EINVAL);
	struct vfu_region_access a = { .offset = 0, .region = 0, .count = 8 };
	CHECK_EQ(call(fd, VFU_CMD_REGION_WRITE, &a, sizeof(a), "abc", 3, NULL, 0, NULL, NULL), -EINVAL);
	a.count = 0x7fffffff;
	CHECK_EQ(call(fd, VFU_CMD_REGION_READ, &a, sizeof(a), NULL, 0, NULL, 0, NULL, NULL), -EINVAL);
	struct vfu_region_info ri = { .argsz = sizeof(ri), .index = 1000 };
	CHECK_EQ(call(fd, VFU_CMD_DEVICE_GET_REGION_INFO, &ri, sizeof(ri), NULL, 0, NULL, 0, NULL, NULL), -EINVAL);
	struct vfu_dma_map m = { .argsz = sizeof(m), .addr = ~0ull - 10, .size = 100 };
	CHECK_EQ(call(fd, VFU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, NULL, 0, NULL, NULL), -EINVAL);
	int efds[2] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, efds, 2), -EINVAL);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSI_IRQ_INDEX, 0xffffffff, 2, efds, 2), -EINVAL);
	close(efds[0]);
	close(efds[1]);
	CHECK_EQ(rd32(fd, 0, EDU_REG_ID), EDU_ID_VALUE);
	close(fd);
	/* bad JSON in VERSION: error */
	long err = 0;
	fd = connect_path(p_edu);
	struct vfu_version v = { 0, 1 };
	CHECK_EQ(call(fd, VFU_CMD_VERSION, &v, sizeof(v), "{nope", 6, NULL, 0, NULL, NULL), -EINVAL);
	close(fd);
	fd = open_dev(p_edu, "\"udd\":7", NULL, &err);
	CHECK(fd >= 0);
	close(fd);
	/* the other client was never disturbed */
	CHECK_EQ(rd32(good, 0, EDU_REG_ID), EDU_ID_VALUE);
	close(good);
}

static void test_control(void)
{
	char out[256];
	CHECK(strcmp(ctl("ping\n", out, sizeof(out)), "ok\n") == 0);
	CHECK(strcmp(ctl("devices\n", out, sizeof(out)), "edu pio be\n") == 0);
	ctl("stats edu\n", out, sizeof(out));
	CHECK(strncmp(out, "clients=", 8) == 0);
	CHECK(strstr(out, "faults=4") != NULL); /* two per DMA message test */
	CHECK(strncmp(ctl("stats nope\n", out, sizeof(out)), "error", 5) == 0);
	int fd = open_dev(p_pio, NULL, NULL, NULL);
	REQUIRE(fd >= 0);
	CHECK(strcmp(ctl("unplug pio\n", out, sizeof(out)), "ok\n") == 0);
	CHECK_EQ(vfu_msg_recv(fd, rbuf, sizeof(rbuf), NULL, NULL, 5000), 0);
	close(fd);
	CHECK(access(p_pio, F_OK) != 0);
	CHECK(connect_path(p_pio) < 0);
	CHECK(strcmp(ctl("devices\n", out, sizeof(out)), "edu be\n") == 0);
}

int main(void)
{
	pid_t pid = raw_start_sim(NULL);

	test_infos_and_config();
	test_edu();
	test_dma_messages(true);
	test_dma_messages(false);
	test_borrow();
	test_pio();
	test_be();
	test_malformed();
	test_control();

	kill(pid, SIGTERM);
	int st = 0;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	CHECK(access(p_edu, F_OK) != 0);
	CHECK(access(p_ctl, F_OK) != 0);
	rmdir(dir);
	return t_done("test_sim");
}
