/* SPDX-License-Identifier: MIT */
/*
 * bench_transport (table 3): what a trapped register access costs through
 * vfio-user, against the raw AF_UNIX round trip it is made of; and a
 * doorbell written through an mmapped page to a polling device thread.
 *
 *   raw AF_UNIX ping-pong, 2 processes   the limit: a child process echoes
 *                                        messages of the sizes a REGION_READ
 *                                        and its reply have (32 and 36
 *                                        bytes), one send and one blocking
 *                                        recv per message on each side. The
 *                                        sim is a separate process too (it
 *                                        serves each client on a thread of
 *                                        its own), so two processes is the
 *                                        matching structure.
 *   raw AF_UNIX ping-pong, 2 threads     the same between two threads of
 *                                        this process (for comparison only).
 *   udd_get32 / udd_put32 trapped        edu BAR0 0x04 (all of edu BAR0 is
 *                                        trapped): REGION_READ/REGION_WRITE.
 *   doorbell                             be BAR0 page 1 mapped directly: write
 *                                        a new value at 0x1000, spin until the
 *                                        device thread has copied it to 0x1004.
 *   raw shared-memory ping-pong          the limit of the doorbell: the same
 *                                        exchange with a spinning thread here.
 *
 * Table 3a runs with every process pinned to one CPU (this one, its echo
 * child and a udd-sim of its own, started in a pool directory of its own so
 * that it inherits the pinning): on this VM an unpinned round trip is
 * dominated by cross-CPU wake-ups, which hide what the protocol costs.
 * Table 3b (spinning threads) runs unpinned.
 */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdatomic.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define REQ_LEN 32 /* vfio-user header + struct vfu_region_access */
#define REP_LEN 36 /* ... + 4 data bytes */

static unsigned n_rt;   /* round trips per batch */
static unsigned n_bell; /* doorbells per batch */

static int read_full(int fd, void *buf, size_t len)
{
	size_t got = 0;
	while (got < len) {
		ssize_t n = recv(fd, (char *)buf + got, len - got, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		got += (size_t)n;
	}
	return 0;
}

static int write_full(int fd, const void *buf, size_t len)
{
	size_t put = 0;
	while (put < len) {
		ssize_t n = send(fd, (const char *)buf + put, len - put, MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		put += (size_t)n;
	}
	return 0;
}

/* The echo side: a request in, a reply out, until the peer hangs up. */
static void echo_loop(int fd)
{
	char buf[64] = { 0 };
	while (read_full(fd, buf, REQ_LEN) == 0)
		if (write_full(fd, buf, REP_LEN) < 0)
			break;
}

static void *echo_thread(void *arg)
{
	echo_loop(*(int *)arg);
	return NULL;
}

static double pingpong(void *arg)
{
	int fd = *(int *)arg;
	char req[REQ_LEN] = { 1 }, rep[REP_LEN];
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_rt; i++) {
		if (write_full(fd, req, sizeof(req)) < 0 || read_full(fd, rep, sizeof(rep)) < 0)
			return -1;
	}
	return (bench_now_ns() - t0) / n_rt;
}

static udd_acc_t *edu0;
static volatile uint32_t sink;

static double trapped_get(void *arg)
{
	(void)arg;
	uint32_t acc = 0;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_rt; i++)
		acc += udd_get32(edu0, 0x04);
	double t = (bench_now_ns() - t0) / n_rt;
	sink = acc;
	return udd_acc_check(edu0) < 0 ? -1 : t;
}

static double trapped_put(void *arg)
{
	(void)arg;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_rt; i++)
		udd_put32(edu0, 0x04, i);
	double t = (bench_now_ns() - t0) / n_rt;
	return udd_acc_check(edu0) < 0 ? -1 : t;
}

/* ---- doorbell ---------------------------------------------------------- */

static udd_acc_t *bell;
static uint32_t bell_seq = 1;

static double doorbell(void *arg)
{
	(void)arg;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_bell; i++) {
		uint32_t v = ++bell_seq;
		udd_direct_put32(bell, 0, v);
		unsigned spins = 0;
		while (udd_direct_get32(bell, 4) != v) {
			__builtin_ia32_pause();
			if (++spins > 200000000u)
				return -1; /* the device thread is not there */
		}
	}
	return (bench_now_ns() - t0) / n_bell;
}

/* The limit of the doorbell: the same exchange with a thread of ours. */
struct shm_pp {
	_Alignas(64) _Atomic uint32_t bell;
	_Alignas(64) _Atomic uint32_t echo;
	_Atomic int stop;
};
static struct shm_pp spp;

static void *shm_echo(void *arg)
{
	(void)arg;
	uint32_t last = 0;
	while (!atomic_load_explicit(&spp.stop, memory_order_relaxed)) {
		uint32_t v = atomic_load_explicit(&spp.bell, memory_order_acquire);
		if (v != last) {
			atomic_store_explicit(&spp.echo, v, memory_order_release);
			last = v;
		} else {
			__builtin_ia32_pause();
		}
	}
	return NULL;
}

static double shm_pingpong(void *arg)
{
	(void)arg;
	static uint32_t seq;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_bell; i++) {
		uint32_t v = ++seq;
		atomic_store_explicit(&spp.bell, v, memory_order_release);
		while (atomic_load_explicit(&spp.echo, memory_order_acquire) != v)
			__builtin_ia32_pause();
	}
	return (bench_now_ns() - t0) / n_bell;
}

/* Pin this process (and what it forks from now on) to its first CPU; the
 * CPU, or -1. *all gets the affinity to restore. */
static int pin_first_cpu(cpu_set_t *all)
{
	if (sched_getaffinity(0, sizeof(*all), all) < 0)
		return -1;
	for (int c = 0; c < CPU_SETSIZE; c++) {
		if (!CPU_ISSET(c, all))
			continue;
		cpu_set_t one;
		CPU_ZERO(&one);
		CPU_SET(c, &one);
		return sched_setaffinity(0, sizeof(one), &one) == 0 ? c : -1;
	}
	return -1;
}

/* A pool directory of our own (under the bench's private one), so that the
 * udd-sim serving it is started by us, pinned. */
static void private_pool(void)
{
	const char *rt = getenv("UDD_RUNTIME_DIR");
	char d[200];
	if (!rt)
		return;
	snprintf(d, sizeof(d), "%s/pinned", rt);
	if (mkdir(d, 0700) == 0 || errno == EEXIST)
		setenv("UDD_RUNTIME_DIR", d, 1);
}

int main(void)
{
	int ret = 1;
	n_rt = bench_n(20000, 20);
	n_bell = bench_n(200000, 100);
	cpu_set_t all;
	private_pool();
	int cpu = pin_first_cpu(&all);

	/* the limits first: a child process and a thread echoing */
	int sp[2], st[2];
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sp) < 0 || socketpair(AF_UNIX, SOCK_STREAM, 0, st) < 0) {
		perror("bench: socketpair");
		return 1;
	}
	pid_t child = fork();
	if (child < 0) {
		perror("bench: fork");
		return 1;
	}
	if (child == 0) {
		close(sp[0]);
		echo_loop(sp[1]);
		_exit(0);
	}
	close(sp[1]);
	pthread_t et, shm_t;
	if (pthread_create(&et, NULL, echo_thread, &st[1]) != 0) {
		fprintf(stderr, "bench: pthread_create failed\n");
		return 1;
	}

	udd_ctx_t *ctx = bench_ctx();
	udd_dev_t *edu = NULL, *be = NULL;
	int rc = bench_borrow(ctx, 0x1234, 0x11e8, UDD_BORROW_EXCLUSIVE, &edu);
	if (rc == 0)
		rc = udd_regs_map_bar(edu, 0, 0, 0, NULL, &edu0);
	if (rc < 0) {
		fprintf(stderr, "bench: edu BAR0: %s\n", strerror(-rc));
		goto out;
	}
	if (udd_acc_is_direct(edu0)) {
		fprintf(stderr, "bench: edu BAR0 is mapped directly; expected trapped\n");
		goto out;
	}
	if (udd_get32(edu0, 0x04) != ~0u) { /* liveness of 0 reads back ~0 */
		udd_put32(edu0, 0x04, 0x12345678);
		if (udd_get32(edu0, 0x04) != ~0x12345678u) {
			fprintf(stderr, "bench: edu liveness register does not answer\n");
			goto out;
		}
	}

	struct bench_cell rt[] = {
		{ .name = "raw AF_UNIX ping-pong, 2 processes", .fn = pingpong, .arg = &sp[0] },
		{ .name = "raw AF_UNIX ping-pong, 2 threads", .fn = pingpong, .arg = &st[0] },
		{ .name = "udd_get32 trapped (REGION_READ, edu 0x04)", .fn = trapped_get },
		{ .name = "udd_put32 trapped (REGION_WRITE, edu 0x04)", .fn = trapped_put },
	};
	bench_measure(rt, sizeof(rt) / sizeof(rt[0]));
	char title[200];
	if (cpu >= 0)
		snprintf(title, sizeof(title),
			 "3a. vfio-user transport: one round trip (baseline: raw AF_UNIX, 2 processes;"
			 " all pinned to CPU %d: unpinned, cross-CPU wake-ups dominate here)", cpu);
	else
		snprintf(title, sizeof(title),
			 "3a. vfio-user transport: one round trip (baseline: raw AF_UNIX, 2 processes;"
			 " NOT pinned: sched_setaffinity failed)");
	bench_title(title);
	for (size_t i = 0; i < sizeof(rt) / sizeof(rt[0]); i++)
		bench_row(rt[i].name, &rt[i], &rt[0]);
	if (cpu >= 0) /* 3b spins: this process runs free again (the sim stays pinned) */
		sched_setaffinity(0, sizeof(all), &all);

	/* be only now: its doorbell thread polls while it is borrowed */
	rc = bench_borrow(ctx, 0x1234, 0x0d02, UDD_BORROW_EXCLUSIVE, &be);
	if (rc == 0)
		rc = udd_regs_map_bar(be, 0, 0x1000, 0x1000, NULL, &bell);
	if (rc < 0 || !udd_acc_is_direct(bell)) {
		fprintf(stderr, "bench: be doorbell page: %s\n", rc < 0 ? strerror(-rc) : "not direct");
		goto out;
	}
	if (pthread_create(&shm_t, NULL, shm_echo, NULL) != 0) {
		fprintf(stderr, "bench: pthread_create failed\n");
		goto out;
	}
	struct bench_cell db[] = {
		{ .name = "raw shared-memory ping-pong, 2 threads", .fn = shm_pingpong },
		{ .name = "doorbell via mmapped be BAR0 page", .fn = doorbell },
	};
	/* not round robin with the shm thread spinning: run each alone */
	bench_measure(&db[0], 1);
	atomic_store(&spp.stop, 1);
	pthread_join(shm_t, NULL);
	bench_measure(&db[1], 1);
	bench_title("3b. doorbell through an mmapped page to a polling device thread "
		    "(baseline: raw shared memory)");
	for (size_t i = 0; i < 2; i++)
		bench_row(db[i].name, &db[i], &db[0]);
	ret = (rt[2].failed || rt[3].failed || db[1].failed) ? 1 : 0;
out:
	udd_regs_unmap(bell);
	udd_regs_unmap(edu0);
	udd_dev_return(be);
	udd_dev_return(edu);
	udd_ctx_close(ctx);
	close(sp[0]);
	shutdown(st[0], SHUT_RDWR);
	pthread_join(et, NULL);
	close(st[0]);
	close(st[1]);
	waitpid(child, NULL, 0);
	return ret;
}
