/* SPDX-License-Identifier: MIT */
/*
 * Raw vfio-user client helpers for tests that talk to udd-sim with the
 * protocol's own framing (no library in between): connect, one command and
 * its reply, handshake with capabilities, region access, SET_IRQS, eventfd
 * waits, the control socket, serving the server's DMA_READ/DMA_WRITE, and
 * starting a private udd-sim with edu, pio and be. Header-only: each test
 * program includes it once.
 */
#ifndef UDD_TESTS_RAWVFU_H
#define UDD_TESTS_RAWVFU_H

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "msg.h"
#include "sim_devices.h"
#include "testlib.h"

static char dir[64], p_edu[128], p_pio[128], p_be[128], p_ctl[128];
static uint8_t rbuf[VFU_MAX_MSG_SIZE];
static uint16_t next_id = 1;

static __attribute__((unused)) int connect_path(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* One command, its reply into rbuf. Returns the reply payload length or -error. */
static __attribute__((unused)) long call(int fd, uint16_t cmd, const void *p, size_t len, const void *p2, size_t l2,
		 const int *fds, size_t nfds, int *rfds, size_t *nrfds)
{
	struct vfu_hdr h = { .msg_id = next_id++, .cmd = cmd };
	int rc = vfu_msg_send2(fd, &h, p, len, p2, l2, fds, nfds);
	if (rc)
		return rc;
	size_t dummy = 0;
	long n = vfu_msg_recv(fd, rbuf, sizeof(rbuf), rfds, nrfds ? nrfds : &dummy, 5000);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : n;
	struct vfu_hdr *r = (void *)rbuf;
	if (r->msg_id != h.msg_id || r->cmd != cmd || (r->flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_REPLY)
		return -EPROTO;
	if (r->flags & VFU_F_ERROR)
		return -(long)r->error;
	return n - (long)sizeof(struct vfu_hdr);
}

#define PAYLOAD (rbuf + sizeof(struct vfu_hdr))

/* Handshake with @caps (a JSON object body, or NULL); *twin gets the twin fd. */
static __attribute__((unused)) int open_dev(const char *path, const char *caps, int *twin, long *err)
{
	int fd = connect_path(path);
	if (fd < 0)
		return -1;
	char js[256];
	snprintf(js, sizeof(js), "{\"capabilities\":{%s}}", caps ? caps : "");
	struct vfu_version v = { 0, 1 };
	int rfds[2] = { -1, -1 };
	size_t nr = 2;
	long n = call(fd, VFU_CMD_VERSION, &v, sizeof(v), js, strlen(js) + 1, NULL, 0, rfds, &nr);
	if (err)
		*err = n < 0 ? n : 0;
	if (n < 0) {
		close(fd);
		return -1;
	}
	if (twin)
		*twin = nr ? rfds[0] : -1;
	else
		vfu_close_fds(rfds, nr);
	return fd;
}

static __attribute__((unused)) long rd(int fd, uint32_t region, uint64_t off, void *buf, uint32_t cnt)
{
	struct vfu_region_access a = { .offset = off, .region = region, .count = cnt };
	long n = call(fd, VFU_CMD_REGION_READ, &a, sizeof(a), NULL, 0, NULL, 0, NULL, NULL);
	if (n < 0)
		return n;
	if (n != (long)(sizeof(a) + cnt))
		return -EPROTO;
	memcpy(buf, PAYLOAD + sizeof(a), cnt);
	return 0;
}

static __attribute__((unused)) long wr(int fd, uint32_t region, uint64_t off, const void *buf, uint32_t cnt)
{
	struct vfu_region_access a = { .offset = off, .region = region, .count = cnt };
	long n = call(fd, VFU_CMD_REGION_WRITE, &a, sizeof(a), buf, cnt, NULL, 0, NULL, NULL);
	return n < 0 ? n : 0;
}

static __attribute__((unused)) uint32_t rd32(int fd, uint32_t region, uint64_t off)
{
	uint32_t v = 0xdeadbeef;
	CHECK_EQ(rd(fd, region, off, &v, 4), 0);
	return v;
}

static __attribute__((unused)) void wr32(int fd, uint32_t region, uint64_t off, uint32_t v)
{
	CHECK_EQ(wr(fd, region, off, &v, 4), 0);
}

static __attribute__((unused)) long set_irq(int fd, uint32_t flags, uint32_t index, uint32_t start, uint32_t count,
		    const int *fds, size_t nfds)
{
	struct vfu_irq_set s = { .argsz = sizeof(s), .flags = flags, .index = index,
				 .start = start, .count = count };
	return call(fd, VFU_CMD_DEVICE_SET_IRQS, &s, sizeof(s), NULL, 0, fds, nfds, NULL, NULL);
}

/* Wait for an eventfd to fire (bounded); returns the count read or 0. */
static __attribute__((unused)) uint64_t wait_efd(int efd, int ms)
{
	struct pollfd p = { .fd = efd, .events = POLLIN };
	if (poll(&p, 1, ms) != 1)
		return 0;
	uint64_t v = 0;
	if (read(efd, &v, 8) != 8)
		return 0;
	return v;
}

static __attribute__((unused)) char *ctl(const char *cmd, char *out, size_t cap)
{
	int fd = connect_path(p_ctl);
	out[0] = 0;
	if (fd < 0)
		return out;
	CHECK(write(fd, cmd, strlen(cmd)) == (ssize_t)strlen(cmd));
	size_t got = 0;
	while (got < cap - 1 && (!got || out[got - 1] != '\n')) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (poll(&p, 1, 5000) != 1)
			break;
		ssize_t n = read(fd, out + got, cap - 1 - got);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	out[got] = 0;
	close(fd);
	return out;
}

static __attribute__((unused)) bool serve_dma(int s, uint64_t base, uint8_t *mem, size_t size, uint16_t *cmd_out)
{
	static uint8_t b[VFU_MAX_MSG_SIZE];
	long n = vfu_msg_recv(s, b, sizeof(b), NULL, NULL, 5000);
	if (n < (long)(sizeof(struct vfu_hdr) + sizeof(struct vfu_dma_access))) {
		fprintf(stderr, "serve_dma: receive: %ld\n", n);
		return false;
	}
	struct vfu_hdr *h = (void *)b;
	struct vfu_dma_access a;
	memcpy(&a, b + sizeof(*h), sizeof(a));
	*cmd_out = h->cmd;
	if (a.addr < base || a.count > size || a.addr - base > size - a.count)
		return false;
	struct vfu_hdr r = { .msg_id = h->msg_id, .cmd = h->cmd, .flags = VFU_F_TYPE_REPLY };
	if (h->cmd == VFU_CMD_DMA_READ)
		return vfu_msg_send2(s, &r, &a, sizeof(a), mem + (a.addr - base), a.count, NULL, 0) == 0;
	if (h->cmd == VFU_CMD_DMA_WRITE) {
		if ((size_t)n != sizeof(*h) + sizeof(a) + a.count)
			return false;
		memcpy(mem + (a.addr - base), b + sizeof(*h) + sizeof(a), a.count);
		return vfu_msg_send(s, &r, &a, sizeof(a), NULL, 0) == 0;
	}
	return false;
}

static __attribute__((unused)) void edu_dma(int fd, uint64_t src, uint64_t dst, uint64_t cnt, uint64_t cmd)
{
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_SRC, &src, 8), 0);
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_DST, &dst, 8), 0);
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_COUNT, &cnt, 8), 0);
	CHECK_EQ(wr(fd, 0, EDU_REG_DMA_CMD, &cmd, 8), 0);
}

/* A memfd of @size bytes sealed against shrinking (what udd-sim maps). */
static __attribute__((unused)) int raw_sealed_memfd(const char *name, size_t size)
{
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -1;
	if (ftruncate(fd, (off_t)size) < 0 || fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* Start a private udd-sim (edu, pio, be, control socket) in a new temp
 * dir, with @extra as one more argument (or NULL); waits until it listens. */
static __attribute__((unused)) pid_t raw_start_sim(const char *extra)
{
	const char *sim = getenv("UDD_SIM");
	REQUIRE(sim != NULL);
	snprintf(dir, sizeof(dir), "/tmp/udd-simtest-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	snprintf(p_edu, sizeof(p_edu), "%s/edu.sock", dir);
	snprintf(p_pio, sizeof(p_pio), "%s/pio.sock", dir);
	snprintf(p_be, sizeof(p_be), "%s/be.sock", dir);
	snprintf(p_ctl, sizeof(p_ctl), "%s/control.sock", dir);
	pid_t pid = fork();
	REQUIRE(pid >= 0);
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* no orphan after a failed REQUIRE */
		const char *v = getenv("UDD_SIM_VERBOSE") ? "-v" : NULL;
		execl(sim, sim, "--socket", p_edu, "--device", "edu", "--socket", p_pio, "--device",
		      "pio", "--socket", p_be, "--device", "be", "--control", p_ctl,
		      extra ? extra : v, extra ? v : NULL, (char *)NULL);
		_exit(127);
	}
	int c = -1;
	for (int i = 0; i < 1000 && c < 0; i++) { /* wait until it listens */
		c = connect_path(p_ctl);
		if (c < 0)
			usleep(5000);
	}
	REQUIRE(c >= 0);
	close(c);
	return pid;
}

#endif
