/* SPDX-License-Identifier: MIT */
/*
 * bench_irq (table 5): device raise -> eventfd wake-up.
 *
 *   raw eventfd write -> poll wake-up   the limit: thread A takes the time
 *                                       and writes an eventfd; thread B,
 *                                       blocked in poll(), wakes and takes
 *                                       the time. Latency = t_B - t_A.
 *   edu raise (0x60) -> udd_irq_wait    thread A takes the time and writes
 *                                       the edu's raise register (a trapped
 *                                       REGION_WRITE: the message to the
 *                                       sim is part of the cost); thread B,
 *                                       blocked in udd_irq_wait (MSI, vector
 *                                       0), wakes and takes the time.
 *   be raise (0x18) -> udd_irq_wait     the same with be's MSI-X vector 0.
 * Each sample is one interrupt; a batch's figure is its mean.
 */
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "bench.h"

static unsigned n_irq;

struct waiter {
	int kind; /* 0 raw eventfd, 1 udd device */
	int efd;
	udd_dev_t *dev;
	_Atomic int go;       /* batches requested */
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
			ok = poll(&p, 1, 200) == 1;
			uint64_t v;
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
	udd_acc_t *acc;
	uint64_t reg;
	uint32_t val;
	uint64_t ack; /* edu: write the raised bit to 0x64 (trapped, not timed) */
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
			udd_put32(c->acc, c->reg, c->val);
		}
		double until = t0 + 2e9;
		while (atomic_load(&c->w->woken) == before) {
			if (bench_now_ns() > until)
				return -1;
			sched_yield();
		}
		sum += atomic_load(&c->w->t_wake) - t0;
		if (c->acc && c->ack)
			udd_put32(c->acc, c->ack, c->val);
	}
	return sum / n_irq;
}

int main(void)
{
	int ret = 1;
	n_irq = bench_n(2000, 40);
	udd_ctx_t *ctx = bench_ctx();
	udd_dev_t *edu = NULL, *be = NULL;
	udd_acc_t *eb = NULL, *bb = NULL;
	int rc = bench_borrow(ctx, 0x1234, 0x11e8, UDD_BORROW_EXCLUSIVE, &edu);
	if (rc == 0)
		rc = udd_regs_map_bar(edu, 0, 0, 0, NULL, &eb);
	if (rc == 0)
		rc = udd_irq_enable(edu, UDD_IRQ_MSI, 1);
	if (rc == 0)
		rc = bench_borrow(ctx, 0x1234, 0x0d02, UDD_BORROW_EXCLUSIVE, &be);
	if (rc == 0)
		rc = udd_regs_map_bar(be, 0, 0, 0x1000, NULL, &bb);
	if (rc == 0)
		rc = udd_irq_enable(be, UDD_IRQ_MSIX, 1);
	if (rc < 0) {
		fprintf(stderr, "bench: edu/be interrupts: %s\n", strerror(-rc));
		goto out;
	}
	struct waiter w[3] = { { .kind = 0, .efd = eventfd(0, EFD_CLOEXEC) },
			       { .kind = 1, .dev = edu },
			       { .kind = 1, .dev = be } };
	pthread_t th[3];
	for (int i = 0; i < 3; i++)
		if (pthread_create(&th[i], NULL, waiter_main, &w[i]) != 0) {
			fprintf(stderr, "bench: pthread_create failed\n");
			goto out;
		}
	/* be's raise register is big-endian: vector 0 is 0 either way */
	struct irq_case cs[3] = { { .w = &w[0] },
				  { .w = &w[1], .acc = eb, .reg = 0x60, .val = 0x1, .ack = 0x64 },
				  { .w = &w[2], .acc = bb, .reg = 0x18, .val = 0 } };
	struct bench_cell c[] = {
		{ .name = "raw eventfd write -> poll wake-up", .fn = one_batch, .arg = &cs[0] },
		{ .name = "edu raise 0x60 -> udd_irq_wait (MSI)", .fn = one_batch, .arg = &cs[1] },
		{ .name = "be raise 0x18 -> udd_irq_wait (MSI-X)", .fn = one_batch, .arg = &cs[2] },
	};
	bench_measure(c, 3);
	for (int i = 0; i < 3; i++)
		atomic_store(&w[i].stop, 1);
	for (int i = 0; i < 3; i++)
		pthread_join(th[i], NULL);
	close(w[0].efd);
	bench_title("5. interrupts: raise -> eventfd wake-up, mean per interrupt (baseline: raw "
		    "eventfd between two threads)");
	for (int i = 0; i < 3; i++)
		bench_row(c[i].name, &c[i], &c[0]);
	ret = c[0].failed || c[1].failed || c[2].failed;
out:
	udd_regs_unmap(bb);
	udd_regs_unmap(eb);
	udd_dev_return(be);
	udd_dev_return(edu);
	udd_ctx_close(ctx);
	return ret;
}
