/* SPDX-License-Identifier: MIT */
/*
 * Guest test of the lender (udd-sim --lend-only, src/sim/lend_vfio.c) on QEMU's
 * edu bound to vfio-pci behind intel-iommu:
 *
 *  - `udd add BDF` lends it: the pool shows a vfio-user socket for it, and the
 *    device opened directly (VFIO backend) is -EBUSY meanwhile;
 *  - two shared borrowers at once (two contexts): both read the id register
 *    through a directly mapped BAR0, each gets its own IOVA range (disjoint),
 *    a DMA round trip works for each, a fixed IOVA outside a borrower's range
 *    fails; MSI: the first claim of vector 0 works and the kernel signals the
 *    borrower's eventfd, the second claim is -EBUSY; an exclusive borrow
 *    meanwhile is -EBUSY; a shared borrower may not clear bus mastering
 *    (-EPERM) but may write the command register unchanged;
 *  - kill -9 of an exclusive borrower in the middle of an edu DMA: the next
 *    borrower gets the device, reads the id, and an edu DMA to the dead
 *    borrower's IOVA makes the kernel log a DMAR fault (no longer mapped);
 *  - `stats` names lender and borrowers (pid/mode); `udd remove` is refused
 *    while borrowed;
 *  - kill -9 of the lender: a borrower's next calls fail with -ENODEV at once;
 *    a restarted lender lends again; `udd remove`; the device is then usable
 *    directly again.
 *
 * Needs /bin/udd-sim and /bin/udd (build-extras.sh). Linked with libudd.a.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/klog.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "testlib.h"

#if __has_include("udd/udd.h")
#include "udd/udd.h"

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
#define EDU_BUF 0x40000u
#define XFER 2048u
#define RT "/tmp/lend"

static const char *bdf;

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	if (level <= UDD_LOG_WARN)
		fprintf(stderr, "  [udd %d] %s\n", level, msg);
}

static int open_ctx(udd_ctx_t **ctx, bool lent_only)
{
	udd_ctx_opts_t o = { .flags = lent_only ? UDD_CTX_F_NO_VFIO : UDD_CTX_F_NO_EMBEDDED,
			     .log_cb = log_cb, .log_level = UDD_LOG_WARN };
	return udd_ctx_open(ctx, &o);
}

/* The edu in the pool through the lender (vfio-user), or through VFIO. */
static int find_edu(udd_ctx_t *ctx, const char *backend, udd_fdid_t *id)
{
	udd_filter_t f = { .vendor_id = 0x1234, .device_id = 0x11e8 };
	udd_fdid_t ids[8];
	int n = udd_pool_list(ctx, &f, ids, 8);
	for (int i = 0; i < n && i < 8; i++) {
		udd_dev_info_t info;
		if (udd_pool_info(ctx, ids[i], &info) == 0 && strcmp(info.backend, backend) == 0) {
			printf("pool: %#x %s %s\n", ids[i], info.backend, info.location);
			*id = ids[i];
			return 0;
		}
	}
	return n < 0 ? n : -ENOENT;
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void edu_dma_start(udd_acc_t *bar, uint64_t src, uint64_t dst, uint32_t cmd)
{
	udd_put64(bar, EDU_DMA_SRC, src);
	udd_put64(bar, EDU_DMA_DST, dst);
	udd_put64(bar, EDU_DMA_CNT, XFER);
	udd_put64(bar, EDU_DMA_CMD, EDU_CMD_START | cmd);
}

static int edu_dma_wait(udd_acc_t *bar)
{
	double end = now() + 20;
	while (udd_get64(bar, EDU_DMA_CMD) & EDU_CMD_START) {
		if (now() > end)
			return -ETIMEDOUT;
		struct timespec ts = { 0, 1000000 };
		nanosleep(&ts, NULL);
	}
	return 0;
}

static int edu_dma(udd_acc_t *bar, uint64_t src, uint64_t dst, uint32_t cmd)
{
	edu_dma_start(bar, src, dst, cmd);
	return edu_dma_wait(bar);
}

/* DMAR fault lines for the edu at page @addr in the kernel log. */
static int dmar_faults(uint64_t addr)
{
	int size = klogctl(10, NULL, 0);
	if (size <= 0)
		return -1;
	char *buf = malloc((size_t)size + 1);
	if (!buf)
		return -1;
	int n = klogctl(3, buf, size);
	if (n < 0) {
		free(buf);
		return -1;
	}
	buf[n] = '\0';
	char dev[32], want[48];
	snprintf(dev, sizeof(dev), "[%s]", bdf + 5);
	snprintf(want, sizeof(want), "fault addr 0x%" PRIx64, addr);
	int hits = 0;
	char *save = NULL;
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *a = strstr(l, want);
		if (strstr(l, "DMAR") && strstr(l, dev) && a &&
		    (a[strlen(want)] == ' ' || a[strlen(want)] == '\0')) {
			hits++;
			printf("  kernel: %s\n", l);
		}
	}
	free(buf);
	return hits;
}

/* One line to the lender's control socket; the reply in @out. */
static int control(const char *cmd, char *out, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sim/control.sock", RT);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	struct timeval tv = { .tv_sec = 5 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	ssize_t n = write(fd, cmd, strlen(cmd));
	size_t got = 0;
	while (n > 0 && got + 1 < len && !memchr(out, '\n', got) &&
	       (n = read(fd, out + got, len - 1 - got)) > 0)
		got += (size_t)n;
	out[got] = '\0';
	close(fd);
	return (int)got;
}

static int sh(const char *fmt, const char *arg)
{
	char cmd[512];
	snprintf(cmd, sizeof(cmd), fmt, arg);
	printf("$ %s\n", cmd);
	fflush(stdout);
	int st = system(cmd);
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

static int start_lender(void)
{
	return sh("/bin/udd-sim -v --dir " RT " --lend-only --daemon 2>>/tmp/lender.log%s", "");
}

/* Child: borrow exclusively, map a window, start an edu DMA into it, tell
 * the parent the IOVA and wait to be killed. */
static int child_victim(void)
{
	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev;
	udd_acc_t *bar;
	udd_mem_t *mem;
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	udd_dma_attr_t dattr = { .addr_hi = 0x0fffffff };
	if (open_ctx(&ctx, true) || find_edu(ctx, "vfio-user", &id) ||
	    udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev) ||
	    udd_regs_map_bar(dev, 0, 0, 0, &attr, &bar) || udd_mem_alloc(ctx, 8192, &mem) ||
	    udd_dma_map(dev, mem, 0, 8192, &dattr, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova, &dma))
		return 1;
	edu_dma_start(bar, EDU_BUF, iova, EDU_CMD_TO_RAM); /* runs on a 100 ms timer */
	printf("IOVA 0x%" PRIx64 "\n", iova);
	fflush(stdout);
	for (;;)
		pause();
}

static int run_victim(uint64_t *iova)
{
	int p[2];
	if (pipe(p) < 0)
		return -1;
	pid_t c = fork();
	if (c == 0) {
		dup2(p[1], 1);
		close(p[0]);
		execl("/proc/self/exe", "udd_lend", "victim", (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	char line[512] = "";
	size_t got = 0;
	ssize_t n;
	const char *at = NULL;
	while (got + 1 < sizeof(line) && (n = read(p[0], line + got, sizeof(line) - 1 - got)) > 0) {
		got += (size_t)n;
		line[got] = '\0';
		if ((at = strstr(line, "IOVA 0x")) && strchr(at, '\n'))
			break;
	}
	line[got] = '\0';
	close(p[0]);
	if (!at || sscanf(at, "IOVA 0x%" SCNx64, iova) != 1) {
		printf("victim said '%s'\n", line);
		kill(c, SIGKILL);
		waitpid(c, NULL, 0);
		return -1;
	}
	printf("kill -9 %d (exclusive borrower, edu DMA to iova 0x%" PRIx64 " in flight)\n", (int)c,
	       *iova);
	kill(c, SIGKILL);
	int st;
	waitpid(c, &st, 0);
	return WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL ? 0 : -1;
}

static void phase_shared(void)
{
	udd_ctx_t *ca, *cb, *cc;
	udd_fdid_t id;
	udd_dev_t *a, *b, *c = NULL;
	udd_acc_t *bara, *barb;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	REQUIRE_OK(open_ctx(&ca, true));
	REQUIRE_OK(open_ctx(&cb, true));
	REQUIRE_OK(open_ctx(&cc, true));
	REQUIRE_OK(find_edu(ca, "vfio-user", &id));
	REQUIRE_OK(udd_dev_borrow(ca, id, 0 /* shared */, &a));
	REQUIRE_OK(udd_dev_borrow(cb, id, 0 /* shared */, &b));
	CHECK_EQ(udd_dev_borrow(cc, id, UDD_BORROW_EXCLUSIVE, &c), -EBUSY);
	REQUIRE_OK(udd_regs_map_bar(a, 0, 0, 0, &attr, &bara));
	REQUIRE_OK(udd_regs_map_bar(b, 0, 0, 0, &attr, &barb));
	printf("shared: BAR0 %s / %s\n", udd_acc_is_direct(bara) ? "direct" : "trapped",
	       udd_acc_is_direct(barb) ? "direct" : "trapped");
	CHECK(udd_acc_is_direct(bara));
	CHECK_EQ(udd_get32(bara, EDU_ID), 0x010000ed);
	CHECK_EQ(udd_get32(barb, EDU_ID), 0x010000ed);
	udd_put32(bara, EDU_LIVE, 0x0f0f0f0f);
	CHECK_EQ(udd_get32(barb, EDU_LIVE), 0xf0f0f0f0u);

	/* DMA: disjoint IOVA ranges, each a working window */
	udd_mem_t *ma, *mb;
	udd_dma_t *da, *db, *dx = NULL;
	uint64_t ia = 0, ib = 0;
	udd_dma_attr_t dattr = { .addr_hi = 0x0fffffff };
	REQUIRE_OK(udd_mem_alloc(ca, 8192, &ma));
	REQUIRE_OK(udd_mem_alloc(cb, 8192, &mb));
	REQUIRE_OK(udd_dma_map(a, ma, 0, 8192, &dattr, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &ia, &da));
	REQUIRE_OK(udd_dma_map(b, mb, 0, 8192, &dattr, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &ib, &db));
	printf("shared: iova A 0x%" PRIx64 ", B 0x%" PRIx64 "\n", ia, ib);
	CHECK(ia / (16u << 20) != ib / (16u << 20)); /* different 16 MiB slots */
	uint64_t fixed = ia + 0x4000; /* in A's range, not B's */
	int rc = udd_dma_map(b, mb, 0, 4096, &dattr,
			     UDD_DMA_F_READ | UDD_DMA_F_WRITE | UDD_DMA_F_FIXED, &fixed, &dx);
	printf("shared: B maps a fixed IOVA in A's range: %d (%s)\n", rc, strerror(-rc));
	CHECK(rc < 0);
	for (int k = 0; k < 2; k++) {
		uint8_t *p = udd_mem_ptr(k ? mb : ma);
		uint64_t io = k ? ib : ia;
		for (unsigned i = 0; i < XFER; i++)
			p[i] = (uint8_t)(i * 5 + k);
		memset(p + 4096, 0, XFER);
		CHECK_EQ(edu_dma(bara, io, EDU_BUF, 0), 0);
		CHECK_EQ(edu_dma(bara, EDU_BUF, io + 4096, EDU_CMD_TO_RAM), 0);
		CHECK(memcmp(p, p + 4096, XFER) == 0);
	}

	/* MSI vector 0: A's, then B's claim is EBUSY */
	REQUIRE_OK(udd_irq_enable(a, UDD_IRQ_MSI, 1));
	rc = udd_irq_enable(b, UDD_IRQ_MSI, 1);
	printf("shared: second claim of MSI vector 0: %d (%s)\n", rc, strerror(-rc));
	CHECK_EQ(rc, -EBUSY);
	udd_put32(bara, EDU_IRQ_RAISE, 0x5a);
	uint64_t cnt = 0;
	CHECK_EQ(udd_irq_wait(a, 0, 10000, &cnt), 0);
	CHECK_EQ(udd_get32(bara, EDU_IRQ_STATUS), 0x5a);
	udd_put32(bara, EDU_IRQ_ACK, 0x5a);

	/* config space: a shared borrower cannot clear bus mastering */
	uint16_t cmd = 0;
	REQUIRE_OK(udd_cfg_read16(a, 4, &cmd));
	CHECK(cmd & 0x4);
	CHECK_EQ(udd_cfg_write16(a, 4, (uint16_t)(cmd & ~0x4)), -EPERM);
	CHECK_EQ(udd_cfg_write16(a, 4, cmd), 0);

	/* the control socket names both borrowers */
	char st[512];
	char q[64];
	snprintf(q, sizeof(q), "stats %s\n", bdf);
	control(q, st, sizeof(st));
	printf("stats: %s", st);
	CHECK(strstr(st, "shared") != NULL && strstr(st, "lender=") != NULL);
	CHECK(sh("/bin/udd remove %s", bdf) != 0); /* borrowed: refused */

	udd_irq_disable(a);
	udd_dma_unmap(da);
	udd_dma_unmap(db);
	udd_mem_free(ma);
	udd_mem_free(mb);
	udd_regs_unmap(bara);
	udd_regs_unmap(barb);
	udd_dev_return(a);
	udd_dev_return(b);
	udd_ctx_close(ca);
	udd_ctx_close(cb);
	udd_ctx_close(cc);
}

static void phase_kill_borrower(void)
{
	uint64_t dead = 0;
	REQUIRE_OK(run_victim(&dead));
	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev = NULL;
	REQUIRE_OK(open_ctx(&ctx, true));
	REQUIRE_OK(find_edu(ctx, "vfio-user", &id));
	int rc = -EBUSY;
	for (int i = 0; i < 50 && rc == -EBUSY; i++) {
		rc = udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev);
		if (rc == -EBUSY)
			usleep(100000);
	}
	REQUIRE_OK(rc);
	udd_acc_t *bar;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, &attr, &bar));
	CHECK_EQ(udd_get32(bar, EDU_ID), 0x010000ed);
	udd_put32(bar, EDU_LIVE, 0x11);
	CHECK_EQ(udd_get32(bar, EDU_LIVE), ~0x11u);
	CHECK_EQ(edu_dma_wait(bar), 0); /* the dead borrower's DMA is over */
	/* nothing mapped at the dead borrower's IOVA any more: a DMA there faults */
	int before = dmar_faults(dead);
	CHECK_EQ(edu_dma(bar, EDU_BUF, dead, EDU_CMD_TO_RAM), 0);
	usleep(200000);
	int after = dmar_faults(dead);
	printf("DMAR fault lines at 0x%" PRIx64 ": %d before, %d after the DMA\n", dead, before,
	       after);
	CHECK(after > before);
	/* and the new borrower's own window works */
	udd_mem_t *mem;
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_dma_attr_t dattr = { .addr_hi = 0x0fffffff };
	REQUIRE_OK(udd_mem_alloc(ctx, 8192, &mem));
	REQUIRE_OK(udd_dma_map(dev, mem, 0, 8192, &dattr, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova,
			       &dma));
	uint8_t *p = udd_mem_ptr(mem);
	for (unsigned i = 0; i < XFER; i++)
		p[i] = (uint8_t)(i ^ 0x55);
	CHECK_EQ(edu_dma(bar, iova, EDU_BUF, 0), 0);
	CHECK_EQ(edu_dma(bar, EDU_BUF, iova + 4096, EDU_CMD_TO_RAM), 0);
	CHECK(memcmp(p, p + 4096, XFER) == 0);
	udd_dma_unmap(dma);
	udd_mem_free(mem);
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
}

static void phase_kill_lender(void)
{
	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev;
	REQUIRE_OK(open_ctx(&ctx, true));
	REQUIRE_OK(find_edu(ctx, "vfio-user", &id));
	REQUIRE_OK(udd_dev_borrow(ctx, id, 0 /* shared */, &dev));
	char st[512], q[64];
	snprintf(q, sizeof(q), "stats %s\n", bdf);
	control(q, st, sizeof(st));
	const char *lp = strstr(st, "lender=");
	REQUIRE(lp != NULL);
	pid_t lender = (pid_t)atoi(lp + 7);
	printf("kill -9 %d (the lender)\n", (int)lender);
	REQUIRE(lender > 1 && kill(lender, SIGKILL) == 0);
	usleep(100000);
	double t0 = now();
	udd_mem_t *mem;
	udd_dma_t *dma;
	uint64_t iova = 0;
	udd_dma_attr_t dattr = { .addr_hi = 0x0fffffff };
	REQUIRE_OK(udd_mem_alloc(ctx, 4096, &mem));
	int rc = udd_dma_map(dev, mem, 0, 4096, &dattr, UDD_DMA_F_READ, &iova, &dma);
	int rc2 = udd_dev_check(dev);
	printf("after the lender died: dma_map %d (%s), dev_check %d, %.3f s\n", rc, strerror(-rc),
	       rc2, now() - t0);
	CHECK_EQ(rc, -ENODEV);
	CHECK_EQ(rc2, -ENODEV);
	CHECK(now() - t0 < 5);
	udd_mem_free(mem);
	udd_dev_return(dev);
	udd_ctx_close(ctx);

	/* a new lender lends it again */
	unlink(RT "/sim/control.sock");
	CHECK_EQ(start_lender(), 0);
	CHECK_EQ(sh("/bin/udd add %s", bdf), 0);
	REQUIRE_OK(open_ctx(&ctx, true));
	REQUIRE_OK(find_edu(ctx, "vfio-user", &id));
	REQUIRE_OK(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	udd_acc_t *bar;
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, &attr, &bar));
	CHECK_EQ(udd_get32(bar, EDU_ID), 0x010000ed);
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
}

int main(int argc, char **argv)
{
	if (argc == 2 && strcmp(argv[1], "victim") == 0)
		return child_victim();
	bdf = getenv("UDD_VM_EDU");
	REQUIRE(bdf != NULL);
	setenv("UDD_RUNTIME_DIR", RT, 1);
	mkdir(RT, 0700);
	signal(SIGPIPE, SIG_IGN);

	REQUIRE(start_lender() == 0);
	REQUIRE(sh("/bin/udd add %s", bdf) == 0);
	CHECK(sh("/bin/udd add %s", bdf) != 0); /* already lent */
	CHECK_EQ(sh("/bin/udd list | grep -q " RT "/sim/%s.sock", bdf), 0);

	/* lent: the device itself is held by the lender */
	udd_ctx_t *ctx;
	udd_fdid_t id;
	udd_dev_t *dev = NULL;
	REQUIRE_OK(open_ctx(&ctx, false));
	REQUIRE_OK(find_edu(ctx, "vfio", &id));
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev), -EBUSY);
	udd_ctx_close(ctx);

	phase_shared();
	phase_kill_borrower();
	phase_kill_lender();

	/* remove: not lent any more, usable directly again */
	char st[512], q[64];
	snprintf(q, sizeof(q), "stats %s\n", bdf);
	control(q, st, sizeof(st));
	const char *lp = strstr(st, "lender=");
	pid_t lender = lp ? (pid_t)atoi(lp + 7) : 0;
	CHECK_EQ(sh("/bin/udd remove %s", bdf), 0);
	REQUIRE_OK(open_ctx(&ctx, false));
	REQUIRE_OK(find_edu(ctx, "vfio", &id));
	CHECK_EQ(udd_dev_borrow(ctx, id, UDD_BORROW_EXCLUSIVE, &dev), 0);
	if (dev)
		udd_dev_return(dev);
	udd_ctx_close(ctx);
	/* stop the lender (SIGTERM: clean exit) */
	if (lender > 1)
		kill(lender, SIGTERM);
	usleep(300000);
	if (t_failures)
		sh("cat /tmp/lender.log%s", "");
	printf("udd_lend: %d checks, %d failed\n", t_checks, t_failures);
	return t_failures ? 1 : 0;
}
#else
int main(void)
{
	fprintf(stderr, "udd_lend: FAIL: built without libudd\n");
	return 1;
}
#endif
