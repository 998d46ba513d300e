/* SPDX-License-Identifier: MIT */
/*
 * bench_guest_lend (table 6, guest): QEMU's edu opened directly (the VFIO
 * backend, exclusive) against the same edu lent by udd-sim --lend-only and
 * borrowed (shared) through its socket, in one guest boot:
 *
 *   register access   udd_get32 / udd_put32 on BAR0 0x04: both handles are
 *                     direct mappings of the same VFIO region (the lender
 *                     passes the VFIO device fd), so the goal is 1.00x;
 *   interrupt         edu raise (0x60) -> MSI -> udd_irq_wait wake-up: the
 *                     lender gives the borrower's eventfd to VFIO_DEVICE_SET_IRQS,
 *                     so the kernel signals it as it does a direct one
 *                     (goal <= 1.05x);
 *   DMA map + unmap   udd_dma_map + udd_dma_unmap of a 4 KiB window: direct,
 *                     the VFIO ioctls; lent, a vfio-user DMA_MAP and DMA_UNMAP
 *                     round trip each, and the lender's fd checks around the
 *                     same ioctls (its mapping of the borrower's memfd is
 *                     cached across windows: sim_dma.c) (goal <= 1.5x);
 *   raw round trips   the transport floor of the lent DMA row, measured in the
 *                     lent phase: two request/reply pairs between two
 *                     processes over a UNIX socketpair, of DMA_MAP's and
 *                     DMA_UNMAP's sizes (48 bytes + an fd by SCM_RIGHTS, 16
 *                     back; 40 and 40), the peer doing nothing but close the
 *                     fd. Under TCG a switch between processes is costly
 *                     (address space change), so this row says how much of
 *                     the lent row no lender could save.
 *
 * The device cannot be lent and opened directly at once, so the two sides
 * alternate: 3 rounds of direct cells, then lent ones (control socket `add`,
 * borrow, measure, return, `remove`); each row's median is over all its runs;
 * ratio = lent median / direct median. Needs /bin/udd-sim
 * in the guest (bench/run.sh puts it into the initramfs overlay).
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <sys/mman.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "guest_bench.h"

#define LEND_DIR "/tmp/bench-lend"
#define ROUNDS 3
#define ALL_MAX (ROUNDS * BENCH_MAX_RUNS)

static unsigned n_acc, n_irq, n_dma;
static volatile uint32_t sink;

struct phase {
	udd_dev_t *dev;
	udd_acc_t *bar;
	udd_mem_t *mem;
	pthread_t th;
	bool th_started;
	_Atomic double t_wake;
	_Atomic unsigned woken;
	_Atomic int stop;
};

static double acc_get(void *arg)
{
	struct phase *p = arg;
	uint32_t acc = 0;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_acc; i++)
		acc += udd_get32(p->bar, GB_EDU_LIVE);
	double t1 = bench_now_ns();
	sink = acc;
	return (t1 - t0) / n_acc;
}

static double acc_put(void *arg)
{
	struct phase *p = arg;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_acc; i++)
		udd_put32(p->bar, GB_EDU_LIVE, i);
	return (bench_now_ns() - t0) / n_acc;
}

static void *waiter_main(void *arg)
{
	struct phase *p = arg;
	while (!atomic_load(&p->stop)) {
		if (udd_irq_wait(p->dev, 0, 200, NULL) == 0) {
			atomic_store(&p->t_wake, bench_now_ns());
			atomic_fetch_add(&p->woken, 1);
		}
	}
	return NULL;
}

static double irq_batch(void *arg)
{
	struct phase *p = arg;
	double sum = 0;
	for (unsigned i = 0; i < n_irq; i++) {
		unsigned before = atomic_load(&p->woken);
		double t0 = bench_now_ns();
		udd_put32(p->bar, GB_EDU_IRQ_RAISE, 0x1);
		double until = t0 + 5e9;
		while (atomic_load(&p->woken) == before) {
			if (bench_now_ns() > until) {
				fprintf(stderr, "bench: no wake-up within 5 s\n");
				return -1;
			}
			sched_yield();
		}
		sum += atomic_load(&p->t_wake) - t0;
		udd_put32(p->bar, GB_EDU_IRQ_ACK, 0x1);
	}
	return sum / n_irq;
}

static double dma_pair(void *arg)
{
	struct phase *p = arg;
	udd_dma_attr_t attr = { .addr_hi = 0x0fffffff }; /* edu: 28-bit DMA */
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_dma; i++) {
		udd_dma_t *d;
		uint64_t iova;
		int rc = udd_dma_map(p->dev, p->mem, 0, 4096, &attr,
				     UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova, &d);
		if (rc < 0) {
			fprintf(stderr, "bench: udd_dma_map: %s\n", strerror(-rc));
			return -1;
		}
		udd_dma_unmap(d);
	}
	return (bench_now_ns() - t0) / n_dma;
}

/* The raw floor: a peer process on a socketpair (see the header). */
static int raw_sock = -1, raw_memfd = -1;
static pid_t raw_pid;

static void raw_peer(int s)
{
	char buf[64], cbuf[CMSG_SPACE(sizeof(int))];
	for (;;) {
		struct iovec iov = { buf, sizeof(buf) };
		struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
				     .msg_controllen = sizeof(cbuf) };
		ssize_t n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
		if (n <= 0)
			_exit(0);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		if (cm && cm->cmsg_type == SCM_RIGHTS) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm), sizeof(fd));
			close(fd);
			n = 16; /* DMA_MAP's reply: a header */
		}
		if (send(s, buf, (size_t)n, MSG_NOSIGNAL) != n)
			_exit(1);
	}
}

static int raw_start(void)
{
	int sv[2];
	raw_memfd = memfd_create("bench-raw", MFD_CLOEXEC);
	if (raw_memfd < 0 || ftruncate(raw_memfd, 4096) < 0 ||
	    socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		return -1;
	raw_pid = fork();
	if (raw_pid < 0)
		return -1;
	if (raw_pid == 0) {
		close(sv[0]);
		raw_peer(sv[1]);
	}
	close(sv[1]);
	raw_sock = sv[0];
	return 0;
}

static int raw_xact(size_t len, bool with_fd, size_t rlen)
{
	char buf[64] = { 0 }, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (with_fd) {
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &raw_memfd, sizeof(int));
	}
	if (sendmsg(raw_sock, &mh, MSG_NOSIGNAL) != (ssize_t)len)
		return -1;
	size_t got = 0;
	while (got < rlen) {
		ssize_t n = recv(raw_sock, buf + got, rlen - got, 0);
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static double raw_pair(void *arg)
{
	(void)arg;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_dma; i++)
		if (raw_xact(48, true, 16) < 0 || raw_xact(40, false, 40) < 0) {
			fprintf(stderr, "bench: raw round trip failed\n");
			return -1;
		}
	return (bench_now_ns() - t0) / n_dma;
}

/* Borrow the edu of @ctx's pool, map BAR0, a page of memory, MSI vector 0
 * and its waiter thread. */
static int phase_open(udd_ctx_t *ctx, uint32_t flags, struct phase *p)
{
	int rc = bench_borrow(ctx, GB_EDU_VENDOR, GB_EDU_DEVICE, flags, &p->dev);
	if (rc == 0)
		rc = udd_regs_map_bar(p->dev, 0, 0, 0, NULL, &p->bar);
	if (rc == 0 && !udd_acc_is_direct(p->bar))
		rc = -ENOTSUP;
	if (rc == 0)
		rc = udd_mem_alloc(ctx, 4096, &p->mem);
	if (rc == 0)
		rc = udd_irq_enable(p->dev, UDD_IRQ_MSI, 1);
	if (rc == 0 && pthread_create(&p->th, NULL, waiter_main, p) != 0)
		rc = -EAGAIN;
	p->th_started = rc == 0;
	return rc;
}

static void phase_close(struct phase *p)
{
	if (p->th_started) {
		atomic_store(&p->stop, 1);
		pthread_join(p->th, NULL);
	}
	if (p->dev)
		udd_irq_disable(p->dev);
	udd_mem_free(p->mem);
	udd_regs_unmap(p->bar);
	udd_dev_return(p->dev);
}

/* One line to the lender's control socket (5 s deadline); reply in @out. */
static int control(const char *cmd, char *out, size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sim/control.sock", LEND_DIR);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct timeval tv = { .tv_sec = 5 };
	size_t got = 0;
	out[0] = '\0';
	if (fd < 0)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) == (ssize_t)strlen(cmd)) {
		ssize_t n;
		while (got + 1 < len && !memchr(out, '\n', got) &&
		       (n = read(fd, out + got, len - 1 - got)) > 0) {
			got += (size_t)n;
			out[got] = '\0';
		}
	}
	close(fd);
	return strncmp(out, "ok", 2) == 0 ? 0 : -1;
}

/* The lender's control socket: lend or take back @bdf; 0 or -1. */
static int lend(const char *verb, const char *bdf)
{
	char cmd[128], rep[512];
	snprintf(cmd, sizeof(cmd), "%s %s\n", verb, bdf);
	/* a borrower that just returned it may not have been seen to go yet:
	 * `remove` says "borrowed" meanwhile (retried for at most 5 s) */
	for (int i = 0; i < 100; i++) {
		if (control(cmd, rep, sizeof(rep)) == 0)
			return 0;
		if (!strstr(rep, "borrowed"))
			break;
		struct timespec ts = { 0, 50 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "bench: %s %s: '%s'\n", verb, bdf, rep);
	return -1;
}

/* One phase: borrow (directly or through the lender), measure @c[0..ncells),
 * append the runs to @all. */
static int phase_run(bool lent, struct phase *p, struct bench_cell *c, int ncells,
		     double (*all)[ALL_MAX], int *nall)
{
	udd_ctx_t *ctx;
	udd_ctx_opts_t o = { .flags = lent ? UDD_CTX_F_NO_VFIO | UDD_CTX_F_NO_EMBEDDED
					   : UDD_CTX_F_NO_EMBEDDED,
			     .log_cb = gb_log, .log_level = UDD_LOG_WARN };
	int rc = udd_ctx_open(&ctx, &o);
	if (rc < 0)
		return rc;
	memset(p, 0, sizeof(*p));
	rc = phase_open(ctx, lent ? 0 /* shared */ : UDD_BORROW_EXCLUSIVE, p);
	if (rc == 0) {
		bench_measure(c, (size_t)ncells);
		for (int i = 0; i < ncells; i++)
			for (int r = 0; r < bench_runs() && nall[i] < ALL_MAX; r++)
				all[i][nall[i]++] = c[i].t[r];
	}
	phase_close(p);
	udd_ctx_close(ctx);
	return rc;
}

int main(void)
{
	setvbuf(stdout, NULL, _IOLBF, 0);
	signal(SIGPIPE, SIG_IGN);
	gb_memlock();
	n_acc = bench_n(20000, 10);
	n_irq = bench_n(200, 10);
	n_dma = bench_n(200, 10);
	const char *bdf = getenv("UDD_VM_EDU");
	if (!bdf || access("/bin/udd-sim", X_OK) != 0) {
		fprintf(stderr, "bench: needs $UDD_VM_EDU and /bin/udd-sim (the lender)\n");
		return 1;
	}
	struct phase d, l;
	struct bench_cell c[] = {
		{ .name = "direct: udd_get32", .fn = acc_get, .arg = &d },
		{ .name = "direct: udd_put32", .fn = acc_put, .arg = &d },
		{ .name = "direct: raise -> MSI -> udd_irq_wait", .fn = irq_batch, .arg = &d },
		{ .name = "direct: udd_dma_map + unmap 4 KiB", .fn = dma_pair, .arg = &d },
		{ .name = "lent: udd_get32", .fn = acc_get, .arg = &l },
		{ .name = "lent: udd_put32", .fn = acc_put, .arg = &l },
		{ .name = "lent: raise -> MSI -> udd_irq_wait", .fn = irq_batch, .arg = &l },
		{ .name = "lent: udd_dma_map + unmap 4 KiB", .fn = dma_pair, .arg = &l },
		{ .name = "raw: 2 process round trips (48+fd/16, 40/40 B)", .fn = raw_pair },
	};
	static double all[9][ALL_MAX];
	int nall[9] = { 0 };
	if (raw_start() < 0) {
		fprintf(stderr, "bench: the raw round-trip peer: %s\n", strerror(errno));
		return 1;
	}

	/* the lender runs throughout; the device alternates between opened
	 * directly and lent (the host's load drifts: each side gets its share) */
	mkdir(LEND_DIR, 0700);
	if (system("/bin/udd-sim --dir " LEND_DIR " --lend-only --daemon") != 0) {
		fprintf(stderr, "bench: udd-sim --lend-only did not start\n");
		return 1;
	}
	setenv("UDD_POOL", LEND_DIR "/sim", 1);
	int rc = 0, rounds = bench_quick() ? 1 : ROUNDS;
	for (int k = 0; k < rounds && rc == 0; k++) {
		rc = phase_run(false, &d, c, 4, all, nall);
		if (rc < 0) {
			fprintf(stderr, "bench: edu directly: %s\n", strerror(-rc));
			break;
		}
		if (lend("add", bdf) < 0) {
			rc = -EIO;
			break;
		}
		rc = phase_run(true, &l, c + 4, 5, all + 4, nall + 4);
		if (rc < 0)
			fprintf(stderr, "bench: edu through the lender: %s\n", strerror(-rc));
		if (lend("remove", bdf) < 0 && rc == 0)
			rc = -EIO;
	}
	pid_t lender = 0;
	for (int i = 2; i < 32768 && !lender; i++) { /* the udd-sim serving LEND_DIR */
		char p[64], cl[256] = "";
		snprintf(p, sizeof(p), "/proc/%d/cmdline", i);
		FILE *f = fopen(p, "r");
		if (!f)
			continue;
		size_t n = fread(cl, 1, sizeof(cl) - 1, f);
		fclose(f);
		for (size_t j = 0; j < n; j++)
			if (!cl[j])
				cl[j] = ' ';
		if (strstr(cl, "udd-sim --dir " LEND_DIR " "))
			lender = i;
	}
	if (lender > 1)
		kill(lender, SIGTERM);
	close(raw_sock); /* the peer exits on EOF */
	waitpid(raw_pid, NULL, 0);
	if (rc < 0)
		return 1;

	for (int i = 0; i < 9; i++) { /* median, min, max over every round's runs */
		qsort(all[i], (size_t)nall[i], sizeof(double), bench_cmp_double);
		c[i].s.med = all[i][nall[i] / 2];
		c[i].s.min = all[i][0];
		c[i].s.max = all[i][nall[i] - 1];
	}
	bench_title("6 (guest). lent vs direct: edu opened through VFIO vs lent by udd-sim "
		    "--lend-only and borrowed over vfio-user (TCG; baseline: the direct row)");
	printf("(%d rounds, direct then lent, in one boot: the median is over all %d runs of a "
	       "row)\n", rounds, nall[0]);
	int ret = 0;
	for (int i = 0; i < 4; i++) {
		bench_row(c[i].name, &c[i], &c[i]);
		bench_row(c[i + 4].name, &c[i + 4], &c[i]);
	}
	/* what the lender adds beyond the two round trips no lender can avoid */
	bench_row(c[8].name, &c[8], &c[3]);
	if (!c[3].failed && !c[7].failed && !c[8].failed)
		printf("(lent DMA row - raw row: %.1f us; lent / (direct + raw): %.2fx)\n",
		       (c[7].s.med - c[8].s.med) / 1e3, c[7].s.med / (c[3].s.med + c[8].s.med));
	for (int i = 0; i < 9; i++)
		ret |= c[i].failed;
	return ret;
}
