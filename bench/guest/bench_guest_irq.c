/* SPDX-License-Identifier: MIT */
/*
 * bench_guest_irq (table 5, guest): device raise -> MSI -> eventfd wake-up on
 * QEMU's edu through VFIO.
 *
 *   raw eventfd write -> poll wake-up   the baseline: thread A takes the
 *                                       time and writes an eventfd; thread
 *                                       B, blocked in poll(), wakes and
 *                                       takes the time (t_B - t_A).
 *   edu raise (0x60) -> udd_irq_wait    thread A takes the time and writes
 *                                       edu's raise register through the
 *                                       direct BAR0 mapping; edu sends its
 *                                       MSI (remapped by the emulated
 *                                       IOMMU), vfio-pci's handler signals
 *                                       the vector's eventfd, and thread B,
 *                                       blocked in udd_irq_wait, wakes and
 *                                       takes the time. The ack (0x64) is
 *                                       not timed.
 * Each sample is one interrupt; a batch's figure is its mean. The guest has
 * one vCPU: A yields while it waits, so B runs as soon as it is woken.
 */
#define _GNU_SOURCE
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "guest_bench.h"

static unsigned n_irq;

struct waiter {
	int kind; /* 0 raw eventfd, 1 udd device */
	int efd;
	udd_dev_t *dev;
	_Atomic double t_wake; /* time of the last wake-up */
	_Atomic unsigned woken;
	_Atomic int stop;
};

static void *waiter_main(void *arg)
{
	struct waiter *w = arg;
	while (!atomic_load(&w->stop)) {
		int ok;
		if (w->kind == 0) {
			struct pollfd p = { .fd = w->efd, .events = POLLIN };
			uint64_t v;
			ok = poll(&p, 1, 200) == 1;
			if (ok)
				ok = read(w->efd, &v, sizeof(v)) == sizeof(v);
		} else {
			ok = udd_irq_wait(w->dev, 0, 200, NULL) == 0;
		}
		if (ok) {
			atomic_store(&w->t_wake, bench_now_ns());
			atomic_fetch_add(&w->woken, 1);
		}
	}
	return NULL;
}

struct irq_case {
	struct waiter *w;
	udd_acc_t *acc; /* NULL: the raw eventfd */
};

static double one_batch(void *arg)
{
	struct irq_case *c = arg;
	double sum = 0;
	for (unsigned i = 0; i < n_irq; i++) {
		unsigned before = atomic_load(&c->w->woken);
		double t0 = bench_now_ns();
		if (!c->acc) {
			uint64_t one = 1;
			if (write(c->w->efd, &one, sizeof(one)) != sizeof(one))
				return -1;
		} else {
			udd_put32(c->acc, GB_EDU_IRQ_RAISE, 0x1);
		}
		double until = t0 + 5e9;
		while (atomic_load(&c->w->woken) == before) {
			if (bench_now_ns() > until) {
				fprintf(stderr, "bench: no wake-up within 5 s\n");
				return -1;
			}
			sched_yield();
		}
		sum += atomic_load(&c->w->t_wake) - t0;
		if (c->acc)
			udd_put32(c->acc, GB_EDU_IRQ_ACK, 0x1);
	}
	return sum / n_irq;
}

int main(void)
{
	int ret = 1, nth = 0;
	pthread_t th[2];
	struct waiter w[2] = { { .kind = 0, .efd = -1 }, { .kind = 1 } };

	setvbuf(stdout, NULL, _IOLBF, 0);
	n_irq = bench_n(500, 25);
	udd_ctx_t *ctx = gb_ctx();
	udd_dev_t *edu = NULL;
	udd_acc_t *bar = NULL;
	int rc = gb_borrow_edu(ctx, &edu);
	if (rc == 0)
		rc = udd_regs_map_bar(edu, 0, 0, 0, NULL, &bar);
	if (rc == 0)
		rc = udd_irq_enable(edu, UDD_IRQ_MSI, 1);
	if (rc < 0) {
		fprintf(stderr, "bench: edu MSI: %s\n", strerror(-rc));
		goto out;
	}
	w[0].efd = eventfd(0, EFD_CLOEXEC);
	w[1].dev = edu;
	if (w[0].efd < 0) {
		perror("bench: eventfd");
		goto out;
	}
	for (; nth < 2; nth++)
		if (pthread_create(&th[nth], NULL, waiter_main, &w[nth]) != 0) {
			fprintf(stderr, "bench: pthread_create failed\n");
			goto out;
		}
	struct irq_case cs[2] = { { .w = &w[0] }, { .w = &w[1], .acc = bar } };
	struct bench_cell c[] = {
		{ .name = "raw eventfd write -> poll wake-up", .fn = one_batch, .arg = &cs[0] },
		{ .name = "edu raise 0x60 -> MSI -> udd_irq_wait", .fn = one_batch, .arg = &cs[1] },
	};
	bench_measure(c, 2);
	bench_title("5 (guest). interrupts: raise -> eventfd wake-up through VFIO, mean per "
		    "interrupt (TCG; baseline: raw eventfd between two threads)");
	for (int i = 0; i < 2; i++)
		bench_row(c[i].name, &c[i], &c[0]);
	ret = c[0].failed || c[1].failed;
out:
	for (int i = 0; i < nth; i++)
		atomic_store(&w[i].stop, 1);
	for (int i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	if (w[0].efd >= 0)
		close(w[0].efd);
	udd_irq_disable(edu);
	udd_regs_unmap(bar);
	udd_dev_return(edu);
	udd_ctx_close(ctx);
	return ret;
}
