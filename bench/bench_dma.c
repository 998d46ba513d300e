/* SPDX-License-Identifier: MIT */
/*
 * bench_dma (table 4): DMA windows through vfio-user.
 *
 *   raw DMA_MAP + DMA_UNMAP      the limit: the message pair sent with msg.h
 *                                straight to a udd-sim of our own (udd-sim
 *                                --socket ... --device be), with the memfd
 *                                passed along as udd does.
 *   udd_dma_map + udd_dma_unmap  the same through the library (IOVA allocator,
 *                                window bookkeeping in core and client).
 * Both for 4 KiB and 2 MiB windows, and for a 4 KiB window with 10, 1 000
 * and 10 000 windows already mapped (the table's growth with n).
 *
 * Guest (VFIO) rows are not here: see docs/performance.md.
 */
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "msg.h"
#include "proto.h"

static unsigned n_ops;
static int raw_sock = -1;
static int raw_memfd = -1;
static uint16_t raw_id;
static uint8_t rxbuf[4096];

/* One raw request and its reply; 0 or -1. */
static int raw_xact(uint16_t cmd, const void *p, size_t len, const int *fds, size_t nfds)
{
	struct vfu_hdr h = { .msg_id = ++raw_id, .cmd = cmd, .flags = VFU_F_TYPE_COMMAND };
	if (vfu_msg_send(raw_sock, &h, p, len, fds, nfds) < 0)
		return -1;
	int rfds[VFU_MAX_FDS];
	size_t nrf = VFU_MAX_FDS;
	long n = vfu_msg_recv(raw_sock, rxbuf, sizeof(rxbuf), rfds, &nrf, -1);
	vfu_close_fds(rfds, nrf);
	if (n < (long)sizeof(struct vfu_hdr))
		return -1;
	struct vfu_hdr r;
	memcpy(&r, rxbuf, sizeof(r));
	return (r.msg_id == h.msg_id && !(r.flags & VFU_F_ERROR)) ? 0 : -1;
}

static int raw_map(uint64_t iova, uint64_t off, uint64_t len)
{
	struct vfu_dma_map m = { .argsz = sizeof(m),
				 .flags = VFU_DMA_F_READ | VFU_DMA_F_WRITE,
				 .offset = off,
				 .addr = iova,
				 .size = len };
	return raw_xact(VFU_CMD_DMA_MAP, &m, sizeof(m), &raw_memfd, 1);
}

static int raw_unmap(uint64_t iova, uint64_t len)
{
	struct vfu_dma_unmap u = { .argsz = sizeof(u), .addr = iova, .size = len };
	return raw_xact(VFU_CMD_DMA_UNMAP, &u, sizeof(u), NULL, 0);
}

#define RAW_TEST_IOVA 0x4000000000ull /* above every pre-mapped window */

static double raw_pair(void *arg)
{
	uint64_t len = (uint64_t)(uintptr_t)arg;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_ops; i++)
		if (raw_map(RAW_TEST_IOVA, 0, len) < 0 || raw_unmap(RAW_TEST_IOVA, len) < 0)
			return -1;
	return (bench_now_ns() - t0) / n_ops;
}

static udd_dev_t *dev;

static double udd_pair(void *arg)
{
	udd_mem_t *mem = arg;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_ops; i++) {
		udd_dma_t *d;
		uint64_t iova;
		if (udd_dma_map(dev, mem, 0, udd_mem_size(mem), NULL,
				UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova, &d) < 0)
			return -1;
		udd_dma_unmap(d);
	}
	return (bench_now_ns() - t0) / n_ops;
}

/* Start our own udd-sim serving one be device; connect and borrow it. */
static pid_t raw_start(const char *dir)
{
	const char *sim = getenv("UDD_SIM");
	char path[200];
	snprintf(path, sizeof(path), "%s/raw-be.sock", dir);
	if (!sim)
		return -1;
	pid_t pid = fork();
	if (pid == 0) {
		execl(sim, "udd-sim", "--socket", path, "--device", "be", (char *)NULL);
		_exit(127);
	}
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -1;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	for (int i = 0; i < 500 && raw_sock < 0; i++) {
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
			raw_sock = s;
			break;
		}
		if (s >= 0)
			close(s);
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (raw_sock < 0)
		return pid;
	static const char js[] = "{\"capabilities\":{\"udd\":{\"borrow\":\"exclusive\"}}}";
	uint8_t v[sizeof(struct vfu_version) + sizeof(js)];
	struct vfu_version ver = { .major = VFU_PROTO_MAJOR, .minor = VFU_PROTO_MINOR };
	memcpy(v, &ver, sizeof(ver));
	memcpy(v + sizeof(ver), js, sizeof(js));
	if (raw_xact(VFU_CMD_VERSION, v, sizeof(v), NULL, 0) < 0) {
		close(raw_sock);
		raw_sock = -1;
	}
	return pid;
}

int main(void)
{
	int ret = 1;
	n_ops = bench_n(2000, 20);
	static const unsigned nwin[] = { 10, 1000, 10000 };
	const size_t big = 10000u * 4096u + (2u << 20);

	char dir[] = "/tmp/udd-bench-dma-XXXXXX";
	if (!mkdtemp(dir)) {
		perror("bench: mkdtemp");
		return 1;
	}
	raw_memfd = memfd_create("bench-dma", MFD_CLOEXEC);
	if (raw_memfd < 0 || ftruncate(raw_memfd, (off_t)big) < 0) {
		perror("bench: memfd");
		return 1;
	}
	pid_t sim = raw_start(dir);
	udd_ctx_t *ctx = bench_ctx();
	udd_mem_t *m4k = NULL, *m2m = NULL, *mbig = NULL;
	udd_dma_t **pre = calloc(10000, sizeof(*pre));
	size_t npre = 0;
	if (raw_sock < 0) {
		fprintf(stderr, "bench: no raw connection to udd-sim\n");
		goto out;
	}
	int rc = bench_borrow(ctx, 0x1234, 0x0d02, UDD_BORROW_EXCLUSIVE, &dev);
	if (rc == 0)
		rc = udd_mem_alloc(ctx, 4096, &m4k);
	if (rc == 0)
		rc = udd_mem_alloc(ctx, 2u << 20, &m2m);
	if (rc == 0)
		rc = udd_mem_alloc(ctx, 10000u * 4096u, &mbig);
	if (rc < 0 || !pre) {
		fprintf(stderr, "bench: be / DMA memory: %s\n", strerror(rc < 0 ? -rc : ENOMEM));
		goto out;
	}

	struct bench_cell c[] = {
		{ .name = "raw DMA_MAP+DMA_UNMAP 4 KiB", .fn = raw_pair, .arg = (void *)(uintptr_t)4096 },
		{ .name = "udd_dma_map+unmap 4 KiB", .fn = udd_pair, .arg = m4k },
		{ .name = "raw DMA_MAP+DMA_UNMAP 2 MiB", .fn = raw_pair,
		  .arg = (void *)(uintptr_t)(2u << 20) },
		{ .name = "udd_dma_map+unmap 2 MiB", .fn = udd_pair, .arg = m2m },
	};
	bench_measure(c, 4);
	bench_title("4a. DMA map + unmap through vfio-user (baseline: the raw message pair)");
	bench_row(c[0].name, &c[0], &c[0]);
	bench_row(c[1].name, &c[1], &c[0]);
	bench_row(c[2].name, &c[2], &c[2]);
	bench_row(c[3].name, &c[3], &c[2]);

	bench_title("4b. one 4 KiB map + unmap with n windows already mapped (baseline: raw, n = 0)");
	struct bench_cell z[] = {
		{ .name = "raw, n = 0", .fn = raw_pair, .arg = (void *)(uintptr_t)4096 },
		{ .name = "udd, n = 0", .fn = udd_pair, .arg = m4k },
	};
	bench_measure(z, 2);
	bench_row(z[0].name, &z[0], &z[0]);
	bench_row(z[1].name, &z[1], &z[0]);
	size_t nraw = 0;
	for (size_t k = 0; k < sizeof(nwin) / sizeof(nwin[0]); k++) {
		for (; npre < nwin[k]; npre++) {
			uint64_t iova;
			rc = udd_dma_map(dev, mbig, npre * 4096, 4096, NULL, UDD_DMA_F_READ, &iova,
					 &pre[npre]);
			if (rc < 0) {
				fprintf(stderr, "bench: window %zu: %s\n", npre, strerror(-rc));
				goto out;
			}
		}
		for (; nraw < nwin[k]; nraw++)
			if (raw_map(0x100000000ull + nraw * 8192, nraw * 4096, 4096) < 0) {
				fprintf(stderr, "bench: raw window %zu refused\n", nraw);
				goto out;
			}
		struct bench_cell w[] = {
			{ .name = "raw", .fn = raw_pair, .arg = (void *)(uintptr_t)4096 },
			{ .name = "udd", .fn = udd_pair, .arg = m4k },
		};
		bench_measure(w, 2);
		char name[64];
		snprintf(name, sizeof(name), "raw, n = %u", nwin[k]);
		bench_row(name, &w[0], &z[0]);
		snprintf(name, sizeof(name), "udd, n = %u", nwin[k]);
		bench_row(name, &w[1], &z[0]);
		if (w[0].failed || w[1].failed)
			goto out;
	}
	ret = (c[0].failed || c[1].failed || c[2].failed || c[3].failed) ? 1 : 0;
out:
	for (size_t i = 0; i < npre; i++)
		udd_dma_unmap(pre[i]);
	free(pre);
	udd_mem_free(mbig);
	udd_mem_free(m2m);
	udd_mem_free(m4k);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	if (raw_sock >= 0)
		close(raw_sock);
	if (sim > 0) {
		kill(sim, SIGTERM);
		waitpid(sim, NULL, 0);
	}
	char path[200];
	snprintf(path, sizeof(path), "%s/raw-be.sock", dir);
	unlink(path);
	rmdir(dir);
	close(raw_memfd);
	return ret;
}
