/* SPDX-License-Identifier: MIT */
/*
 * A borrower (or a bad peer) for tests/net/test_net.sh, run inside a network
 * namespace standing for a host. Modes:
 *   borrow LOC            borrow exclusively and return: exit 0, 16 EBUSY,
 *                         13 EACCES (key refused or missing), 1 otherwise
 *   hold LOC SECONDS      borrow exclusively, print "held", read the edu id
 *                         register every 100 ms; exit 0 after SECONDS, 3 as
 *                         soon as the device is seen gone (reads fail)
 *   irq LOC               edu through the gateway: raise an interrupt, wait
 *                         for it (an interrupt message), exit 0
 *   msix LOC              be through the gateway: its 4 MSI-X vectors, each
 *                         raised in turn (and then all in reverse), each
 *                         seen on its own vector only: exit 0
 *   posted LOC            be through the gateway: bursts of 1000 BAR writes
 *                         (posted: NO_REPLY), each followed by a read that
 *                         must see the burst's last value: exit 0
 *   bad LOC huge|tiny     speak the preamble, then one malformed header
 *                         (msg_size 0xffffffff / 8): exit 0 if the gateway
 *                         drops the connection within 5 s
 * LOC is tcp://HOST:PORT/NAME; the key comes from $UDD_CLUSTER_KEY.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <udd/udd.h>

#include "net.h"

/* The fdid of a location named in the pool (src/core/pool.c). */
udd_fdid_t udd_fdid_of(const char *location);

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	fprintf(stderr, "  [udd %d] %s\n", level, msg);
}

static int open_dev(const char *loc, udd_ctx_t **ctx, udd_dev_t **dev)
{
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_EMBEDDED | UDD_CTX_F_NO_VFIO |
				      UDD_CTX_F_NO_CLUSTER,
			     .sockets = loc, .log_cb = log_cb,
			     .log_level = getenv("UDD_NET_VERBOSE") ? UDD_LOG_DEBUG : UDD_LOG_WARN };
	int rc = udd_ctx_open(ctx, &o);
	if (rc)
		return rc;
	/* by the location's fdid, not a listing: a listing leaves out what it
	 * cannot reach, which would hide why (a refused key, say) */
	rc = udd_dev_borrow(*ctx, udd_fdid_of(loc), UDD_BORROW_EXCLUSIVE, dev);
	if (rc)
		udd_ctx_close(*ctx);
	return rc;
}

static int do_borrow(const char *loc)
{
	udd_ctx_t *ctx;
	udd_dev_t *dev;
	int rc = open_dev(loc, &ctx, &dev);
	if (rc == 0) {
		udd_dev_return(dev);
		udd_ctx_close(ctx);
		return 0;
	}
	fprintf(stderr, "net_peer: borrow %s: %s\n", loc, strerror(-rc));
	return rc == -EBUSY ? 16 : rc == -EACCES ? 13 : 1;
}

static int do_hold(const char *loc, int secs)
{
	udd_ctx_t *ctx;
	udd_dev_t *dev;
	udd_acc_t *bar;
	int rc = open_dev(loc, &ctx, &dev);
	if (rc) {
		fprintf(stderr, "net_peer: hold %s: %s\n", loc, strerror(-rc));
		return rc == -EBUSY ? 16 : 1;
	}
	if (udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar))
		return 1;
	printf("held\n");
	fflush(stdout);
	for (int i = 0; i < secs * 10; i++) {
		uint32_t v = udd_get32(bar, 0);
		if (udd_acc_check(bar) != 0 || v == 0xffffffffu) {
			printf("gone\n");
			fflush(stdout);
			return 3;
		}
		struct timespec ts = { 0, 100000000 };
		nanosleep(&ts, NULL);
	}
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	return 0;
}

static int do_irq(const char *loc)
{
	udd_ctx_t *ctx;
	udd_dev_t *dev;
	udd_acc_t *bar;
	if (open_dev(loc, &ctx, &dev) || udd_regs_map_bar(dev, 0, 0, 0, NULL, &bar))
		return 1;
	int n = udd_irq_enable(dev, UDD_IRQ_MSI, 1);
	if (n < 0) {
		fprintf(stderr, "net_peer: irq enable: %s\n", strerror(-n));
		return 1;
	}
	udd_put32(bar, 0x60, 0x1); /* edu: raise interrupt status bit 0 */
	uint64_t cnt = 0;
	int rc = udd_irq_wait(dev, 0, 5000, &cnt);
	udd_put32(bar, 0x64, 0x1); /* acknowledge */
	udd_irq_disable(dev);
	udd_regs_unmap(bar);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	if (rc < 0)
		fprintf(stderr, "net_peer: irq wait: %s\n", strerror(-rc));
	return rc < 0 ? 1 : 0;
}

/* Posted writes: a burst of BAR writes through the gateway (sent with
 * NO_REPLY, not waited for), then reads: each read returns after every
 * earlier write, so it sees the last value; and nothing went wrong on the
 * way (the handle is clean, the connection alive). */
static int do_posted(const char *loc)
{
	static const udd_acc_attr_t be_attr = { UDD_BIG_ENDIAN, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };
	udd_ctx_t *ctx;
	udd_dev_t *dev;
	udd_acc_t *regs;
	if (open_dev(loc, &ctx, &dev) || udd_regs_map_bar(dev, 0, 0, 0x1000, &be_attr, &regs))
		return 1;
	int bad = 0;
	for (uint32_t round = 0; round < 3; round++) {
		for (uint32_t i = 0; i < 1000; i++)
			udd_put32(regs, 0x04, round * 1000 + i); /* be: scratch32 */
		uint32_t v = udd_get32(regs, 0x04);
		if (v != round * 1000 + 999) {
			fprintf(stderr, "net_peer: posted: read 0x%x after the burst\n", v);
			bad++;
		}
	}
	uint64_t v64 = 0x0123456789abcdefull; /* a 64-bit write, posted too */
	udd_put64(regs, 0x08, v64);
	if (udd_get64(regs, 0x08) != v64)
		bad++;
	if (udd_acc_check(regs) != 0)
		bad++;
	udd_regs_unmap(regs);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	return bad ? 1 : 0;
}

static int do_msix(const char *loc)
{
	static const udd_acc_attr_t be_attr = { UDD_BIG_ENDIAN, UDD_STRICTORDER, UDD_DEFAULT_ACC, 0 };
	udd_ctx_t *ctx;
	udd_dev_t *dev;
	udd_acc_t *regs;
	if (open_dev(loc, &ctx, &dev) || udd_regs_map_bar(dev, 0, 0, 0x1000, &be_attr, &regs))
		return 1;
	int n = udd_irq_enable(dev, UDD_IRQ_MSIX, 4);
	if (n < 0) {
		fprintf(stderr, "net_peer: msix enable: %s\n", strerror(-n));
		return 1;
	}
	int bad = 0;
	uint64_t cnt;
	for (unsigned v = 0; v < 4; v++) {
		udd_put32(regs, 0x18, v); /* be: raise MSI-X vector v */
		if (udd_irq_wait(dev, v, 5000, &cnt) != 0 || cnt != 1)
			bad++;
		for (unsigned u = 0; u < 4; u++)
			if (udd_irq_wait(dev, u, 0, &cnt) != -ETIMEDOUT)
				bad++; /* nothing else pending, on any vector */
	}
	for (unsigned v = 4; v-- > 0;)
		udd_put32(regs, 0x18, v);
	for (unsigned v = 0; v < 4; v++)
		if (udd_irq_wait(dev, v, 5000, &cnt) != 0 || cnt != 1)
			bad++;
	udd_irq_disable(dev);
	udd_regs_unmap(regs);
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	if (bad)
		fprintf(stderr, "net_peer: msix: %d wrong waits\n", bad);
	return bad ? 1 : 0;
}

static int do_bad(const char *loc, const char *how)
{
	char host[256], port[8], dev[64], err[256];
	struct vfu_net_key k;
	const char *kf = getenv("UDD_CLUSTER_KEY");
	if (vfu_net_parse(loc, host, sizeof(host), port, sizeof(port), dev, sizeof(dev)) || !kf ||
	    vfu_net_load_key(kf, &k, err, sizeof(err)))
		return 2;
	int64_t dl = vfu_now_ms() + 5000;
	int fd;
	struct vfu_xport x;
	if (vfu_net_connect(host, port, dl, &fd) || vfu_net_open(&x, fd, &k, false, dl, err, sizeof(err)))
		return 2;
	char line[VFU_NET_LINE_MAX];
	snprintf(line, sizeof(line), "open %s\n", dev);
	if (vfu_xport_write_all(&x, line, strlen(line), dl) ||
	    vfu_net_read_line(&x, line, sizeof(line), dl) <= 0 || strcmp(line, "ok") != 0)
		return 2;
	struct vfu_hdr h = { .msg_id = 1, .cmd = VFU_CMD_VERSION,
			     .msg_size = strcmp(how, "huge") == 0 ? 0xffffffffu : 8 };
	if (vfu_xport_write_all(&x, &h, sizeof(h), dl))
		return 2;
	/* the gateway must hang up: EOF (or a reset) before the deadline */
	char b[64];
	long r = vfu_xport_read_full(&x, b, sizeof(b), dl);
	vfu_net_close(&x);
	if (r == -ETIMEDOUT) {
		fprintf(stderr, "net_peer: the gateway kept the connection\n");
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	if (argc >= 3 && !strcmp(argv[1], "borrow"))
		return do_borrow(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "hold"))
		return do_hold(argv[2], atoi(argv[3]));
	if (argc >= 3 && !strcmp(argv[1], "irq"))
		return do_irq(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "msix"))
		return do_msix(argv[2]);
	if (argc >= 3 && !strcmp(argv[1], "posted"))
		return do_posted(argv[2]);
	if (argc >= 4 && !strcmp(argv[1], "bad"))
		return do_bad(argv[2], argv[3]);
	fprintf(stderr, "usage: net_peer borrow|hold|irq|msix|bad LOC [ARG]\n");
	return 2;
}
