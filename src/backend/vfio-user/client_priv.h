/* SPDX-License-Identifier: MIT */
/*
 * vfio-user client internals shared by its parts:
 *   client_xact.c  one request and its reply (UNIX and TCP), serving the
 *                  server's commands (DMA_READ/WRITE, notices), the service threads
 *   client_open.c  connecting, the VERSION handshake, open and close
 *   client.c       the backend operations (regions, interrupts, DMA, reset) and
 *                  the ops table
 * See client.c for the design.
 */
#ifndef UDD_VFIO_USER_CLIENT_PRIV_H
#define UDD_VFIO_USER_CLIENT_PRIV_H

#include "client.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <search.h>
#include <signal.h>
#include <stdio.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "msg.h"
#include "reader.h"
#include "net.h"
#include "sockpath.h"
#include "proto.h"
#include "udd/udd.h"


#define VFU_CLIENT_INTERNAL __attribute__((visibility("hidden")))

/* The TLS transport (net_tls.c) is referred to weakly: a static program that
 * does not ask for it (-Wl,-u,vfu_net_open) links without GnuTLS, and then
 * tcp:// locations are -ENOTSUP. The shared library always has it. */
extern int vfu_net_open(struct vfu_xport *x, int fd, const struct vfu_net_key *key, bool server,
			int64_t deadline_ms, char *err, size_t errcap) __attribute__((weak));
extern void vfu_net_shutdown(struct vfu_xport *x) __attribute__((weak));
extern void vfu_net_close(struct vfu_xport *x) __attribute__((weak));

struct vfu_win {
	uint64_t iova, size;
	uint8_t *vaddr;
	uint32_t prot; /* UDD_DMA_F_READ | UDD_DMA_F_WRITE */
	bool nofd;     /* registered without a descriptor: the server may copy it */
};

struct vfu_region_cache {
	bool valid;
	int8_t posted; /* over TCP: writes posted (1), not (-1), not known yet (0) */
	struct udd_be_region r; /* r.mmap_fd owned here */
};

struct vfu_client {
	int sock;               /* main socket: our requests, their replies */
	int sock2;              /* twin socket (server commands), or -1 */
	struct udd_log *log;
	int timeout_ms;
	int rcv_timeo_ms;       /* SO_RCVTIMEO set on sock (0: none yet); under lock */
	enum udd_be_mode mode;

	pthread_mutex_t lock;   /* one request at a time; region cache; rx */
	uint16_t next_id;
	uint8_t *rx;            /* VFU_MAX_MSG_SIZE bytes */
	struct vfu_reader rd;   /* reads c->sock ahead (UNIX path); under lock */
	const uint8_t *reply;   /* the last reply (c->rx, or in rd's buffer); under lock */
	atomic_bool broken;
	atomic_bool closing;

	/* what the server accepts */
	uint32_t srv_max_fds;
	uint32_t srv_max_xfer;
	uint64_t srv_max_dma_maps;
	bool enforces_borrow;
	bool srv_dma_faults;
	bool srv_dma_sync;      /* udd.dma_sync echoed: sync descriptor-less windows */
	bool twin;
	/* udd.iova_range from the server (a lender): windows must lie inside */
	bool srv_iova;
	uint64_t srv_iova_start, srv_iova_end;

	struct udd_be_devinfo info;
	struct vfu_region_cache *regions; /* info.num_regions entries */

	pthread_mutex_t dma_lock; /* wins */
	void *wins;               /* tsearch tree of struct vfu_win *, disjoint */
	size_t nwins;

	pthread_mutex_t fault_lock;
	udd_be_fault_cb_t fault_cb;
	void *fault_user;

	pthread_t thr;
	bool thr_started;
	uint8_t *rx2;           /* the service thread's buffer */

	/* tcp:// (net.c): a byte stream without descriptors. Whoever holds
	 * rx_lock reads it: a request waiting for its reply reads it itself (no
	 * thread hand-off on the fast path); while no request is under way a
	 * reader thread serves server commands and interrupt messages, and
	 * hands over a reply that it happened to read first. */
	bool net;
	atomic_bool opened;        /* open() succeeded: a later end of stream is news */
	struct vfu_xport xp;
	pthread_mutex_t rx_lock;
	pthread_mutex_t send_lock; /* one message at a time onto the stream */
	pthread_mutex_t rep_lock;
	bool rep_waiting, rep_ready;
	int64_t last_req_ms;       /* when the last request ended (vfu_now_ms) */
	pthread_cond_t idle_cond;  /* CLOCK_MONOTONIC; signalled on close */
	uint16_t rep_id;
	long rep_len;
	bool irq_msgs;             /* the peer sends VFU_UDD_CMD_IRQ */
	pthread_mutex_t irq_lock;
	int *irq_efd[VFU_CLIENT_MAX_IRQ_TYPES]; /* dup'd eventfds per index, or NULL */
	uint32_t irq_n[VFU_CLIENT_MAX_IRQ_TYPES];
};


VFU_CLIENT_INTERNAL int violation(struct vfu_client *c, const char *what);
VFU_CLIENT_INTERNAL int win_cmp(const void *a, const void *b);
VFU_CLIENT_INTERNAL struct vfu_win *win_find(struct vfu_client *c, uint64_t iova, uint64_t size);
VFU_CLIENT_INTERNAL void *net_reader(void *arg);
VFU_CLIENT_INTERNAL void *svc_thread(void *arg);
VFU_CLIENT_INTERNAL long xact(struct vfu_client *c, uint16_t cmd, const void *p1, size_t l1, const void *p2,
		 size_t l2, const int *fds, size_t nfds, int timeout_ms, int *rfds, size_t *nrfds);
VFU_CLIENT_INTERNAL int vu_open(const char *loc, enum udd_be_mode mode, struct udd_log *log, void **bdev);
VFU_CLIENT_INTERNAL void vu_close(void *bdev);

#endif
