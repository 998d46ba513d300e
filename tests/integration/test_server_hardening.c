/* SPDX-License-Identifier: MIT */
/*
 * udd-sim against hostile and careless clients, over real sockets with the
 * raw vfio-user framing (the hardening issue, items 1-6):
 *   1. no SIGBUS: BAR memfds are sealed; a DMA fd shorter than its window is
 *      refused; an unsealed DMA fd truncated later cannot fault the server
 *   2. no hang: a full eventfd, a pipe posing as an eventfd, a client that
 *      never reads its replies, one that never says VERSION, factorial of
 *      0xffffffff — the server keeps serving everybody else
 *   3. isolation: probes get no fds and no BAR reads; an earlier borrower's
 *      BAR mapping does not reach the next borrower
 *   4. reset between borrowers and on DEVICE_RESET
 *   5. limits: connections per device, windows per client
 *   6. spec: SET_IRQS eventfd de-assign, reply capabilities a subset of the
 *      proposal, the client's max_msg_fds honoured
 */
#include "rawvfu.h"

#define SHARED "\"udd\":{\"borrow\":\"shared\"}"
#define EXCL "\"udd\":{\"borrow\":\"exclusive\"}"
#define PROBE "\"udd\":{\"borrow\":\"probe\"}"

/* REGION_INFO with room for caps; *fd gets a passed fd or -1. */
static long region_info(int fd, uint32_t idx, struct vfu_region_info *out, int *rfd)
{
	struct vfu_region_info in = { .argsz = 512, .index = idx };
	int fds[2] = { -1, -1 };
	size_t nfds = 2;
	long n = call(fd, VFU_CMD_DEVICE_GET_REGION_INFO, &in, sizeof(in), NULL, 0, NULL, 0, fds,
		      &nfds);
	*rfd = nfds ? fds[0] : -1;
	if (nfds > 1)
		close(fds[1]);
	if (n >= (long)sizeof(*out))
		memcpy(out, PAYLOAD, sizeof(*out));
	return n;
}

/* Is the server still serving? A fresh probe reads edu's vendor id. */
static bool server_alive(void)
{
	int p = open_dev(p_edu, PROBE, NULL, NULL);
	if (p < 0)
		return false;
	uint32_t v = 0;
	bool ok = rd(p, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v, 4) == 0 && v == 0x11e81234;
	close(p);
	return ok;
}

/* Open @path with @caps, retrying while a just-closed holder is released. */
static int open_retry(const char *path, const char *caps)
{
	int fd = -1;
	for (int i = 0; i < 500 && fd < 0; i++) {
		fd = open_dev(path, caps, NULL, NULL);
		if (fd < 0)
			usleep(2000);
	}
	return fd;
}

static long dma_map(int fd, uint64_t addr, uint64_t size, int mfd)
{
	struct vfu_dma_map m = { .argsz = sizeof(m), .flags = VFU_DMA_F_READ | VFU_DMA_F_WRITE,
				 .offset = 0, .addr = addr, .size = size };
	return call(fd, VFU_CMD_DMA_MAP, &m, sizeof(m), NULL, 0, &mfd, mfd >= 0 ? 1 : 0, NULL,
		    NULL);
}

static void test_no_sigbus(void)
{
	/* BAR memfds cannot be shrunk by a client that got them */
	int fd = open_dev(p_be, SHARED, NULL, NULL);
	REQUIRE(fd >= 0);
	struct vfu_region_info ri;
	int bfd = -1;
	CHECK(region_info(fd, 2, &ri, &bfd) > 0);
	CHECK(bfd >= 0);
	if (bfd >= 0) {
		CHECK(ftruncate(bfd, 0) < 0 && errno == EPERM);
		close(bfd);
	}
	close(fd);

	/* a DMA fd shorter than the window is refused */
	fd = open_retry(p_edu, EXCL);
	REQUIRE(fd >= 0);
	int mfd = raw_sealed_memfd("short", 4096);
	REQUIRE(mfd >= 0);
	CHECK_EQ(dma_map(fd, 0x100000, 8192, mfd), -EINVAL);
	close(mfd);
	/* not a regular file: refused */
	int pfd[2];
	REQUIRE(pipe(pfd) == 0);
	CHECK_EQ(dma_map(fd, 0x100000, 4096, pfd[0]), -EINVAL);
	close(pfd[0]);
	close(pfd[1]);

	/* an unsealed fd, truncated after DMA_MAP: the window is served by
	 * messages, so the device's DMA reaches us as DMA_READ, not SIGBUS */
	mfd = memfd_create("unsealed", MFD_CLOEXEC);
	REQUIRE(mfd >= 0 && ftruncate(mfd, 8192) == 0);
	CHECK_EQ(dma_map(fd, 0x100000, 8192, mfd), 0);
	CHECK(ftruncate(mfd, 0) == 0);
	uint8_t mem[8192];
	for (size_t i = 0; i < sizeof(mem); i++)
		mem[i] = (uint8_t)(i * 7);
	edu_dma(fd, 0x100000, EDU_DMA_BUF, 64, EDU_DMA_START);
	uint16_t cmd = 0;
	CHECK(serve_dma(fd, 0x100000, mem, sizeof(mem), &cmd));
	CHECK_EQ(cmd, VFU_CMD_DMA_READ);
	uint8_t back[64] = { 0 };
	for (int i = 0; i < 200; i++) { /* the engine finishes after our reply */
		if (rd(fd, 0, EDU_DMA_BUF, back, 64) == 0 && !memcmp(back, mem, 64))
			break;
		usleep(2000);
	}
	CHECK(memcmp(back, mem, 64) == 0);
	close(mfd);
	close(fd);
	CHECK(server_alive());
}

static void test_no_hang(void)
{
	/* an eventfd whose counter is full: raising the interrupt must not block */
	int fd = open_retry(p_edu, EXCL);
	REQUIRE(fd >= 0);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	uint64_t big = 0xfffffffffffffffeull;
	REQUIRE(write(efd, &big, 8) == 8);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd, 1),
		 0);
	wr32(fd, 0, EDU_REG_IRQ_RAISE, 1); /* the server writes the full eventfd */
	CHECK_EQ(rd32(fd, 0, EDU_REG_ID), EDU_ID_VALUE);
	CHECK(server_alive());
	/* a pipe is not an eventfd */
	int pfd[2];
	REQUIRE(pipe(pfd) == 0);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &pfd[1], 1),
		 -EINVAL);
	close(pfd[0]);
	close(pfd[1]);
	close(efd);

	/* factorial of 0xffffffff: bounded work, the device answers at once */
	wr32(fd, 0, EDU_REG_FACT, 0xffffffffu);
	int p = open_dev(p_edu, PROBE, NULL, NULL);
	CHECK(p >= 0);
	CHECK_EQ(rd32(p, VFIO_PCI_CONFIG_REGION_INDEX, 0), 0x11e81234);
	close(p);
	uint32_t st = EDU_STATUS_COMPUTING;
	for (int i = 0; i < 500 && (st & EDU_STATUS_COMPUTING); i++) {
		st = rd32(fd, 0, EDU_REG_STATUS);
		usleep(1000);
	}
	CHECK_EQ(st & EDU_STATUS_COMPUTING, 0);
	CHECK_EQ(rd32(fd, 0, EDU_REG_FACT), 0); /* 34! and beyond are 0 mod 2^32 */
	close(fd);

	/* a client that floods 1 MiB reads and never reads the replies is
	 * dropped after the send deadline; a co-borrower is served meanwhile */
	int flood = open_dev(p_be, SHARED, NULL, NULL);
	int other = open_dev(p_be, SHARED, NULL, NULL);
	REQUIRE(flood >= 0 && other >= 0);
	int small = 4096;
	setsockopt(flood, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	struct vfu_region_access a = { .offset = 0, .region = 2, .count = 1u << 20 };
	fcntl(flood, F_SETFL, O_NONBLOCK);
	for (int i = 0; i < 64; i++) {
		struct vfu_hdr h = { .msg_id = (uint16_t)i, .cmd = VFU_CMD_REGION_READ };
		h.msg_size = sizeof(h) + sizeof(a);
		uint8_t m[sizeof(h) + sizeof(a)];
		memcpy(m, &h, sizeof(h));
		memcpy(m + sizeof(h), &a, sizeof(a));
		if (send(flood, m, sizeof(m), MSG_NOSIGNAL) != (ssize_t)sizeof(m))
			break;
	}
	CHECK_EQ(rd32(other, 0, BE_REG_ID), __builtin_bswap32(BE_ID_VALUE));
	/* not reading for longer than the send deadline (2 s without progress;
	 * the first call returns the part it sent) gets the flooder
	 * cut off: what was sent is readable, then its stream ends */
	sleep(5);
	fcntl(flood, F_SETFL, 0);
	bool ended = false;
	static uint8_t sink[1 << 16];
	for (int i = 0; i < 20000 && !ended; i++) {
		struct pollfd pf = { .fd = flood, .events = POLLIN };
		if (poll(&pf, 1, 10000) != 1)
			break;
		ssize_t n = read(flood, sink, sizeof(sink));
		ended = n <= 0;
	}
	CHECK(ended);
	close(flood);
	CHECK_EQ(rd32(other, 0, BE_REG_ID), __builtin_bswap32(BE_ID_VALUE));
	close(other);

	/* a connection that never says VERSION is dropped */
	int mute = connect_path(p_pio);
	REQUIRE(mute >= 0);
	struct pollfd pf = { .fd = mute, .events = POLLIN };
	CHECK_EQ(poll(&pf, 1, 15000), 1);
	char c;
	CHECK_EQ(read(mute, &c, 1), 0);
	close(mute);
}

static void test_isolation(void)
{
	/* a probe: no fds, no MMAP flag, no BAR reads */
	int p = open_dev(p_be, PROBE, NULL, NULL);
	REQUIRE(p >= 0);
	struct vfu_region_info ri;
	int bfd = -1;
	CHECK(region_info(p, 2, &ri, &bfd) > 0);
	CHECK_EQ(bfd, -1);
	CHECK_EQ(ri.flags & VFIO_REGION_INFO_FLAG_MMAP, 0);
	uint32_t v;
	CHECK_EQ(rd(p, 0, BE_REG_FIFO, &v, 4), -EPERM); /* would pop the FIFO */
	CHECK_EQ(rd(p, 2, 0, &v, 4), -EPERM);
	CHECK_EQ(rd(p, VFIO_PCI_CONFIG_REGION_INDEX, 0, &v, 4), 0);
	close(p);

	/* an earlier borrower's mapping does not reach the next borrower */
	int a = open_retry(p_be, EXCL);
	REQUIRE(a >= 0);
	CHECK(region_info(a, 2, &ri, &bfd) > 0);
	REQUIRE(bfd >= 0);
	uint8_t *old = mmap(NULL, BE_BAR2_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, bfd, 0);
	REQUIRE(old != MAP_FAILED);
	close(bfd);
	memset(old, 0xaa, 4096);
	close(a); /* returns the device; the mapping stays in this process */
	int b = open_retry(p_be, EXCL);
	REQUIRE(b >= 0);
	memset(old, 0xbb, 4096); /* the old holder writes on */
	uint8_t got[16];
	CHECK_EQ(rd(b, 2, 0, got, sizeof(got)), 0);
	uint8_t zero[16] = { 0 };
	CHECK(memcmp(got, zero, sizeof(got)) == 0);
	munmap(old, BE_BAR2_SIZE);
	close(b);
}

static void test_reset(void)
{
	/* what a borrower leaves behind is gone for the next one */
	int a = open_retry(p_edu, EXCL);
	REQUIRE(a >= 0);
	wr32(a, 0, EDU_REG_LIVENESS, 0x12345678);
	wr32(a, 0, EDU_DMA_BUF, 0xfeedface);
	wr32(a, 0, EDU_REG_IRQ_RAISE, 0x8); /* an interrupt left pending */
	CHECK_EQ(rd32(a, 0, EDU_REG_IRQ_STATUS), 0x8);
	wr32(a, VFIO_PCI_CONFIG_REGION_INDEX, 4, 0x6); /* command: memory + master */
	close(a);
	int b = open_retry(p_edu, EXCL);
	REQUIRE(b >= 0);
	CHECK_EQ(rd32(b, 0, EDU_REG_LIVENESS), 0xffffffffu); /* ~0: power-on */
	CHECK_EQ(rd32(b, 0, EDU_DMA_BUF), 0);
	CHECK_EQ(rd32(b, 0, EDU_REG_IRQ_STATUS), 0);
	CHECK_EQ(rd32(b, VFIO_PCI_CONFIG_REGION_INDEX, 4) & 0x7, 0);
	close(b);

	/* DEVICE_RESET: registers and BAR memory; refused while shared */
	int s1 = open_retry(p_be, SHARED);
	int s2 = open_dev(p_be, SHARED, NULL, NULL);
	REQUIRE(s1 >= 0 && s2 >= 0);
	uint32_t one = 0x01020304;
	CHECK_EQ(wr(s1, 2, 0, &one, 4), 0);
	CHECK_EQ(call(s1, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL, NULL), -EBUSY);
	close(s2);
	long rc = -EBUSY;
	for (int i = 0; i < 500 && rc == -EBUSY; i++) { /* s2's thread lets go */
		rc = call(s1, VFU_CMD_DEVICE_RESET, NULL, 0, NULL, 0, NULL, 0, NULL, NULL);
		if (rc == -EBUSY)
			usleep(2000);
	}
	CHECK_EQ(rc, 0);
	uint32_t v = 1;
	CHECK_EQ(rd(s1, 2, 0, &v, 4), 0);
	CHECK_EQ(v, 0);
	close(s1);
}

static void test_limits(void)
{
	/* connections per device */
	int c[70];
	int n = 0, refused = 0;
	for (int i = 0; i < 70; i++) {
		c[i] = open_dev(p_pio, PROBE, NULL, NULL);
		if (c[i] >= 0)
			n++;
		else
			refused++;
	}
	CHECK_EQ(n, 64);
	CHECK_EQ(refused, 6);
	for (int i = 0; i < 70; i++)
		if (c[i] >= 0)
			close(c[i]);
	CHECK(server_alive());

	/* windows per client: the limit, then ENOSPC */
	int fd = open_retry(p_pio, EXCL);
	REQUIRE(fd >= 0);
	long rc = 0;
	int i;
	for (i = 0; i < 16384 && rc == 0; i++)
		rc = dma_map(fd, 0x100000000ull + (uint64_t)i * 4096, 4096, -1);
	CHECK_EQ(rc, 0);
	CHECK_EQ(i, 16384);
	CHECK_EQ(dma_map(fd, 0x100000, 4096, -1), -ENOSPC);
	close(fd);
}

static void test_spec(void)
{
	/* SET_IRQS DATA_EVENTFD with no fds de-assigns */
	int fd = open_retry(p_edu, EXCL);
	REQUIRE(fd >= 0);
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, &efd, 1),
		 0);
	wr32(fd, 0, EDU_REG_IRQ_RAISE, 1);
	CHECK(wait_efd(efd, 5000) >= 1);
	wr32(fd, 0, EDU_REG_IRQ_ACK, 1);
	CHECK_EQ(set_irq(fd, VFIO_IRQ_SET_DATA_EVENTFD | VFIO_IRQ_SET_ACTION_TRIGGER,
			 VFIO_PCI_MSI_IRQ_INDEX, 0, 1, NULL, 0),
		 0);
	wr32(fd, 0, EDU_REG_IRQ_RAISE, 1);
	CHECK_EQ(rd32(fd, 0, EDU_REG_IRQ_STATUS), 1); /* raised, to nobody */
	CHECK_EQ(wait_efd(efd, 100), 0);
	close(efd);
	close(fd);

	/* the reply names only what the client proposed */
	int twin = -1;
	fd = -1;
	for (int i = 0; i < 500 && fd < 0; i++) {
		fd = open_dev(p_be, "\"max_msg_fds\":0,\"twin_socket\":{\"supported\":true}", &twin,
			      NULL);
		if (fd < 0)
			usleep(2000);
	}
	REQUIRE(fd >= 0);
	const char *js = (const char *)PAYLOAD + 4;
	CHECK(strstr(js, "max_msg_fds") != NULL);
	CHECK(strstr(js, "max_dma_maps") == NULL);
	CHECK(strstr(js, "pgsizes") == NULL);
	CHECK(strstr(js, "max_data_xfer_size") == NULL);
	CHECK(strstr(js, "twin_socket") == NULL); /* no fd can reach this client */
	CHECK_EQ(twin, -1);
	/* max_msg_fds 0: no BAR fd either, the region is trapped */
	struct vfu_region_info ri;
	int bfd = -1;
	CHECK(region_info(fd, 2, &ri, &bfd) > 0);
	CHECK_EQ(bfd, -1);
	CHECK_EQ(ri.flags & VFIO_REGION_INFO_FLAG_MMAP, 0);
	close(fd);
}

int main(void)
{
	pid_t pid = raw_start_sim(NULL);
	test_no_sigbus();
	test_no_hang();
	test_isolation();
	test_reset();
	test_limits();
	test_spec();
	CHECK(server_alive());
	kill(pid, SIGTERM);
	int st = 0;
	CHECK_EQ(waitpid(pid, &st, 0), pid);
	CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	rmdir(dir);
	return t_done("test_server_hardening");
}
