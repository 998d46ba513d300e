/* SPDX-License-Identifier: MIT */
/*
 * pio: the illumos guide's programmed-I/O example driver, in user space.
 *
 * Writes a string to the pio device one character per "idle" interrupt,
 * the way the guide's pio_write() does: set INTR_ENABLE, wait for the
 * interrupt, write the character, ..., clear INTR_ENABLE. A small interrupt
 * thread plays pio_intr(): it clears the device's interrupt and wakes the
 * writer through a mutex and a condition variable. Then the device's record
 * BAR is read back to show what it received.
 *
 * Usage: pio [STRING]
 */
#define _POSIX_C_SOURCE 200809L /* clock_gettime, nanosleep when built with -std=c17 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <udd/udd.h>

#include "pio.h"

struct pio {
	udd_dev_t *dev;
	udd_acc_t *csr, *data, *rec;
	pthread_mutex_t mutex;
	pthread_cond_t cv;      /* signalled by the interrupt thread */
	int ready;              /* the device asked for a character */
	int error;              /* the interrupt thread failed */
	int stop_fd;            /* eventfd: tells the interrupt thread to quit */
	pthread_t thread;
};

/* The interrupt handler (pio_intr): claim, clear, wake the writer. */
static void pio_intr(struct pio *p)
{
	pthread_mutex_lock(&p->mutex);
	uint8_t csr = udd_get8(p->csr, PIO_CSR);
	if (csr & PIO_INTR_PENDING) {
		udd_put8(p->csr, PIO_CSR, (uint8_t)((csr & PIO_INTR_ENABLE) | PIO_INTR_CLEAR));
		p->ready = 1;
		pthread_cond_signal(&p->cv);
	}
	pthread_mutex_unlock(&p->mutex);
}

static void *intr_thread(void *arg)
{
	struct pio *p = arg;
	struct pollfd fds[2] = {
		{ .fd = udd_irq_fd(p->dev, 0), .events = POLLIN },
		{ .fd = p->stop_fd, .events = POLLIN },
	};

	for (;;) {
		if (poll(fds, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (fds[1].revents)
			return NULL;
		if (fds[0].revents & POLLIN) {
			uint64_t n;
			if (read(fds[0].fd, &n, sizeof(n)) != sizeof(n))
				break;
			pio_intr(p);
		} else if (fds[0].revents) {
			break;
		}
	}
	pthread_mutex_lock(&p->mutex);
	p->error = 1;
	pthread_cond_signal(&p->cv);
	pthread_mutex_unlock(&p->mutex);
	return NULL;
}

/* pio_write: one character per idle interrupt. 0 or -1. */
static int pio_write(struct pio *p, const char *s, size_t len)
{
	int rc = 0;

	pthread_mutex_lock(&p->mutex);
	p->ready = 0;
	udd_put8(p->csr, PIO_CSR, PIO_INTR_ENABLE); /* the device interrupts once idle */
	for (size_t i = 0; i < len && rc == 0; i++) {
		struct timespec deadline;
		clock_gettime(CLOCK_REALTIME, &deadline);
		deadline.tv_sec += 5;
		while (!p->ready && !p->error && rc == 0)
			if (pthread_cond_timedwait(&p->cv, &p->mutex, &deadline) == ETIMEDOUT)
				rc = -1;
		if (p->error || rc < 0) {
			fprintf(stderr, "pio: no interrupt from the device (character %zu)\n", i);
			rc = -1;
			break;
		}
		p->ready = 0;
		udd_put8(p->data, PIO_DATA, (uint8_t)s[i]);
	}
	udd_put8(p->csr, PIO_CSR, 0); /* INTR_ENABLE off; the other bits are read-only or W1C */
	pthread_mutex_unlock(&p->mutex);
	if (udd_acc_check(p->csr) < 0 || udd_acc_check(p->data) < 0) {
		fprintf(stderr, "pio: register access failed\n");
		rc = -1;
	}
	return rc;
}

static int map_all(struct pio *p)
{
	/* the guide's attributes: little-endian structure, strict order */
	udd_acc_attr_t attr = { .endian = UDD_LITTLE_ENDIAN, .order = UDD_STRICTORDER };
	int rc;

	if ((rc = udd_regs_map_bar(p->dev, PIO_CSR_BAR, 0, 1, &attr, &p->csr)) < 0 ||
	    (rc = udd_regs_map_bar(p->dev, PIO_DATA_BAR, 0, 1, &attr, &p->data)) < 0 ||
	    (rc = udd_regs_map_bar(p->dev, PIO_REC_BAR, 0, PIO_REC_SIZE, &attr, &p->rec)) < 0)
		fprintf(stderr, "pio: mapping the registers: %s\n", strerror(-rc));
	return rc;
}

int main(int argc, char **argv)
{
	const char *msg = argc > 1 ? argv[1] : "Hello from user space!";
	udd_filter_t filter = { .vendor_id = PIO_VENDOR_ID, .device_id = PIO_DEVICE_ID };
	struct pio p = { .stop_fd = -1 };
	udd_ctx_t *ctx = NULL;
	udd_fdid_t fdid;
	size_t len = strlen(msg);
	uint32_t before, after;
	int rc, ret = 1, thread_started = 0;
	char *got = NULL;

	pthread_mutex_init(&p.mutex, NULL);
	pthread_cond_init(&p.cv, NULL);
	if (len > PIO_REC_SIZE - PIO_REC_DATA) {
		fprintf(stderr, "pio: string too long (at most %d bytes)\n",
			PIO_REC_SIZE - PIO_REC_DATA);
		goto out;
	}
	rc = udd_ctx_open(&ctx, NULL);
	if (rc < 0) {
		fprintf(stderr, "pio: opening the pool: %s\n", strerror(-rc));
		goto out;
	}
	rc = udd_pool_list(ctx, &filter, &fdid, 1);
	if (rc <= 0) {
		fprintf(stderr, "pio: no pio device in the pool%s%s\n", rc < 0 ? ": " : "",
			rc < 0 ? strerror(-rc) : "");
		goto out;
	}
	rc = udd_dev_borrow(ctx, fdid, UDD_BORROW_EXCLUSIVE, &p.dev);
	if (rc < 0) {
		fprintf(stderr, "pio: borrowing the device: %s\n", strerror(-rc));
		goto out;
	}
	if (map_all(&p) < 0)
		goto out;
	rc = udd_irq_enable(p.dev, UDD_IRQ_MSI, 1);
	if (rc < 0) {
		fprintf(stderr, "pio: enabling MSI: %s\n", strerror(-rc));
		goto out;
	}
	p.stop_fd = eventfd(0, EFD_CLOEXEC);
	if (p.stop_fd < 0 || pthread_create(&p.thread, NULL, intr_thread, &p) != 0) {
		fprintf(stderr, "pio: starting the interrupt thread failed\n");
		goto out;
	}
	thread_started = 1;

	before = udd_get32(p.rec, PIO_REC_COUNT);
	if (pio_write(&p, msg, len) < 0)
		goto out;
	after = udd_get32(p.rec, PIO_REC_COUNT);
	if (udd_acc_check(p.rec) < 0 || after < before || after > PIO_REC_SIZE - PIO_REC_DATA) {
		fprintf(stderr, "pio: bad record (count %u, was %u)\n", after, before);
		goto out;
	}
	got = calloc(1, after - before + 1);
	if (!got)
		goto out;
	for (uint32_t i = before; i < after; i++)
		got[i - before] = (char)udd_get8(p.rec, PIO_REC_DATA + i);
	printf("pio: device received \"%s\"\n", got);
	if (after - before != len || memcmp(got, msg, len) != 0) {
		fprintf(stderr, "pio: the device received %u bytes, not the %zu written\n",
			after - before, len);
		goto out;
	}
	ret = 0;
out:
	if (thread_started) {
		uint64_t one = 1;
		if (write(p.stop_fd, &one, sizeof(one)) == sizeof(one))
			pthread_join(p.thread, NULL);
		else
			pthread_cancel(p.thread), pthread_join(p.thread, NULL);
	}
	if (p.stop_fd >= 0)
		close(p.stop_fd);
	free(got);
	if (p.dev)
		udd_irq_disable(p.dev);
	udd_regs_unmap(p.rec);
	udd_regs_unmap(p.data);
	udd_regs_unmap(p.csr);
	udd_dev_return(p.dev);
	udd_ctx_close(ctx);
	pthread_cond_destroy(&p.cv);
	pthread_mutex_destroy(&p.mutex);
	return ret;
}
