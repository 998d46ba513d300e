/* SPDX-License-Identifier: MIT */
/*
 * udd_irq_wait() ends with -ENODEV when the device's server dies during the
 * wait, whatever the timeout (it used to block on the eventfd until its
 * timeout, and forever with -1); an interrupt that fired before the server
 * went is still delivered first.
 */
#include <poll.h>
#include <pthread.h>

#include "simenv.h"
#include "testlib.h"
#include "sim_devices.h"

static pid_t srv;

static void *killer(void *arg)
{
	(void)arg;
	usleep(300 * 1000);
	kill(srv, SIGKILL);
	return NULL;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 + (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

static udd_dev_t *borrow(udd_ctx_t **ctx, const char *sock)
{
	udd_ctx_opts_t o = { 0 };
	o.flags = UDD_CTX_F_NO_EMBEDDED;
	o.sockets = sock;
	REQUIRE_OK(udd_ctx_open(ctx, &o));
	udd_fdid_t id;
	REQUIRE(udd_pool_list(*ctx, NULL, &id, 1) == 1);
	udd_dev_t *dev;
	REQUIRE_OK(udd_dev_borrow(*ctx, id, UDD_BORROW_EXCLUSIVE, &dev));
	return dev;
}

int main(void)
{
	char sock[400];
	snprintf(sock, sizeof(sock), "%s/edu-irq.sock", simenv_tmpdir());

	/* 1. the server dies while a wait with a 10 s timeout is under way */
	srv = simenv_spawn(sock, "edu");
	udd_ctx_t *ctx;
	udd_dev_t *dev = borrow(&ctx, sock);
	REQUIRE_OK(udd_irq_enable(dev, UDD_IRQ_MSI, 1));
	pthread_t t;
	REQUIRE(pthread_create(&t, NULL, killer, NULL) == 0);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(udd_irq_wait(dev, 0, 10000, NULL), -ENODEV);
	long ms = ms_since(&t0);
	CHECK(ms >= 250 && ms < 3000);
	pthread_join(t, NULL);
	int st;
	waitpid(srv, &st, 0);
	/* and an infinite wait afterwards returns at once */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	CHECK_EQ(udd_irq_wait(dev, 0, -1, NULL), -ENODEV);
	CHECK(ms_since(&t0) < 1000);
	udd_dev_return(dev);
	udd_ctx_close(ctx);

	/* 2. an infinite wait: the server dies, the wait ends */
	srv = simenv_spawn(sock, "edu");
	dev = borrow(&ctx, sock);
	REQUIRE_OK(udd_irq_enable(dev, UDD_IRQ_MSI, 1));
	REQUIRE(pthread_create(&t, NULL, killer, NULL) == 0);
	alarm(20); /* a regression must fail the test, not hang it */
	CHECK_EQ(udd_irq_wait(dev, 0, -1, NULL), -ENODEV);
	alarm(0);
	pthread_join(t, NULL);
	waitpid(srv, &st, 0);
	udd_dev_return(dev);
	udd_ctx_close(ctx);

	/* 3. an interrupt that fired before the server went is delivered */
	srv = simenv_spawn(sock, "edu");
	dev = borrow(&ctx, sock);
	REQUIRE_OK(udd_irq_enable(dev, UDD_IRQ_MSI, 1));
	udd_acc_t *r;
	REQUIRE_OK(udd_regs_map_bar(dev, 0, 0, 0, NULL, &r));
	udd_put32(r, EDU_REG_IRQ_RAISE, 1);
	uint64_t cnt = 0;
	/* wait until the event is there, without consuming it */
	struct pollfd p = { .fd = udd_irq_fd(dev, 0), .events = POLLIN };
	CHECK_EQ(poll(&p, 1, 5000), 1);
	kill(srv, SIGKILL);
	waitpid(srv, &st, 0);
	CHECK_EQ(udd_irq_wait(dev, 0, 1000, &cnt), 0);
	CHECK(cnt >= 1);
	CHECK_EQ(udd_irq_wait(dev, 0, 1000, &cnt), -ENODEV);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	unlink(sock);
	return t_done("test_irq_server_gone");
}
