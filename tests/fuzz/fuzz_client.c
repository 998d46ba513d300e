/* SPDX-License-Identifier: MIT */
/*
 * fuzz_client: the vfio-user client backend (src/backend/vfio-user) fed by a
 * malicious server. The harness listens on a UNIX socket in a private
 * temporary directory (the client connects to a path); for each input a
 * thread plays the server, answering the client's requests with the input's
 * records and sending server commands (DMA_READ/DMA_WRITE, DMA fault
 * notices) on the main or a twin socket, while this thread runs a fixed
 * sequence of client calls. When the records run out the fake server hangs
 * up, so no call waits for its timeout.
 *
 * Configuration byte: bits 0-1 borrow mode (0 exclusive, 1 shared, 2 probe,
 * 3 exclusive). Record kinds (bits 0-2 of kind):
 *   0  reply to the pending request: the harness writes the header (id,
 *      command, reply type, size); with kind bit 3 an error reply whose
 *      error is arg; the record's data is the payload
 *   1  raw reply: data includes the header; id, command and msg_size are set
 *      to the pending request's and the record's length
 *   2  raw bytes, sent as they are (consumes the pending request)
 *   3  a server command on the main socket (msg_size set); does not consume
 *      the pending request, so the client serves it while waiting
 *   4  the same on the twin socket (main socket without one)
 *   5  hang up now
 *   6, 7  as 0
 *   kind bit 4 on a reply: attach a new twin socket as the first descriptor
 *   (the harness keeps the other end).
 * The call sequence, and so the order of requests, is in run_client(); the
 * corpus generator (gen_corpus.py) follows it.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "client.h"
#include "fuzz.h"
#include "internal.h"
#include "msg.h"
#include "proto.h"

#define CLIENT_TIMEOUT_MS 100 /* backstop only: the fake server hangs up first */
#define SRV_WAIT_MS 20        /* fake server: wait for the client's next request */
#define ACCEPT_WAIT_MS 2000

static char sock_dir[64];
static char sock_path[100];
static int listen_fd = -1;

static void cleanup(void)
{
	if (listen_fd >= 0)
		close(listen_fd);
	if (sock_path[0])
		unlink(sock_path);
	if (sock_dir[0])
		rmdir(sock_dir);
}

static void setup(void)
{
	const char *t = getenv("TMPDIR");
	snprintf(sock_dir, sizeof(sock_dir), "%s/udd-fuzzc-XXXXXX", t && *t && strlen(t) < 30 ? t : "/tmp");
	if (!mkdtemp(sock_dir)) {
		perror("fuzz_client: mkdtemp");
		abort();
	}
	snprintf(sock_path, sizeof(sock_path), "%s/s", sock_dir);
	listen_fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	memcpy(sa.sun_path, sock_path, strlen(sock_path) + 1); /* < 100 bytes, see above */
	if (listen_fd < 0 || bind(listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    listen(listen_fd, 4) < 0) {
		perror("fuzz_client: listen");
		abort();
	}
	atexit(cleanup);
}

/* ---- the fake server -------------------------------------------------------- */

struct srv {
	const uint8_t *data;
	size_t size;
	int sock, twin;
	uint8_t *buf;
};

static void raw_send(int s, const uint8_t *p, size_t len, const int *fds, size_t nfds)
{
	size_t off = 0;
	uint64_t until = fuzz_now_ms() + SRV_WAIT_MS;
	while (off < len) {
		ssize_t n = fuzz_send_part(s, p, off, len, fds, nfds);
		if (n > 0) {
			off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if ((n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) || fuzz_now_ms() > until)
			return;
		struct pollfd pf = { .fd = s, .events = POLLOUT };
		(void)poll(&pf, 1, 1);
	}
}

/* Throw away what the client sent on the twin socket (its replies). */
static void drain(int s)
{
	uint8_t b[4096];
	while (s >= 0 && recv(s, b, sizeof(b), MSG_DONTWAIT) > 0)
		;
}

/* The next request of the client (replies to our commands are skipped), or
 * false when it hung up or said nothing for SRV_WAIT_MS. */
static bool next_request(struct srv *s, struct vfu_hdr *req)
{
	for (;;) {
		int fds[VFU_MAX_FDS];
		size_t nf = VFU_MAX_FDS;
		long n = vfu_msg_recv(s->sock, s->buf, VFU_MAX_MSG_SIZE, fds, &nf, SRV_WAIT_MS);
		if (n <= 0)
			return false;
		vfu_close_fds(fds, nf);
		drain(s->twin);
		memcpy(req, s->buf, sizeof(*req));
		if ((req->flags & VFU_F_TYPE_MASK) == VFU_F_TYPE_COMMAND)
			return true;
	}
}

static void *srv_main(void *arg)
{
	struct srv *s = arg;
	struct pollfd pf = { .fd = listen_fd, .events = POLLIN };
	if (poll(&pf, 1, ACCEPT_WAIT_MS) != 1)
		return NULL; /* the client did not even connect */
	s->sock = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);
	if (s->sock < 0)
		return NULL;
	/* a writable copy: sizes and ids are patched in place */
	uint8_t *copy = malloc(s->size ? s->size : 1);
	if (!copy)
		goto out;
	memcpy(copy, s->data, s->size);
	struct fuzz_in in = { copy, s->size };
	struct fuzz_rec r;
	struct vfu_hdr req;
	bool pending = next_request(s, &req);
	while (pending && fuzz_next(&in, &r)) {
		uint8_t *p = (uint8_t *)(uintptr_t)r.data;
		unsigned kind = r.kind & 7u;
		int fds[FUZZ_MAX_FDS + 1];
		size_t nfds = 0;
		if (kind == 5)
			break;
		if (kind != 3 && kind != 4 && (r.kind & 0x10)) {
			int sp[2];
			if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sp) == 0) {
				if (s->twin >= 0)
					close(s->twin);
				s->twin = sp[0];
				fds[nfds++] = sp[1];
			}
		}
		nfds += r.len ? fuzz_make_fds(&r, fds + nfds) : 0;
		if (kind == 3 || kind == 4) {
			if (r.len >= sizeof(struct vfu_hdr))
				fuzz_put32(p + 4, (uint32_t)r.len);
			int to = (kind == 4 && s->twin >= 0) ? s->twin : s->sock;
			raw_send(to, p, r.len, fds, nfds);
			fuzz_close_fds(fds, nfds);
			drain(s->twin);
			continue;
		}
		if (kind == 1 || kind == 2) {
			if (kind == 1 && r.len >= sizeof(struct vfu_hdr)) {
				memcpy(p, &req.msg_id, 2);
				memcpy(p + 2, &req.cmd, 2);
				fuzz_put32(p + 4, (uint32_t)r.len);
			}
			raw_send(s->sock, p, r.len, fds, nfds);
		} else {
			struct vfu_hdr h = { .msg_id = req.msg_id, .cmd = req.cmd,
					     .flags = VFU_F_TYPE_REPLY };
			if (r.kind & 8) {
				h.flags |= VFU_F_ERROR;
				h.error = r.arg;
			}
			h.msg_size = (uint32_t)(sizeof(h) + r.len);
			uint8_t *m = malloc(sizeof(h) + r.len);
			if (m) {
				memcpy(m, &h, sizeof(h));
				memcpy(m + sizeof(h), p, r.len);
				raw_send(s->sock, m, sizeof(h) + r.len, fds, nfds);
				free(m);
			}
		}
		fuzz_close_fds(fds, nfds);
		pending = next_request(s, &req);
	}
	free(copy);
out:
	if (s->twin >= 0)
		close(s->twin);
	close(s->sock);
	return NULL;
}

/* ---- the client ------------------------------------------------------------- */

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	if (getenv("UDD_FUZZ_VERBOSE"))
		fprintf(stderr, "  client log[%d]: %s\n", level, msg);
}
static struct udd_log flog = { PTHREAD_MUTEX_INITIALIZER, log_cb, NULL, UDD_LOG_DEBUG };

static void fault_cb(void *user, uint64_t iova, uint64_t len, int write)
{
	(void)iova;
	(void)len;
	(void)write;
	(*(unsigned *)user)++;
}

/* Map the mappable parts of a region as the core would (not touched: a
 * short file would fault, and touching is the driver's business). */
static void map_region(const struct udd_be_region *r)
{
	if (r->mmap_fd < 0)
		return;
	for (uint32_t i = 0; i < r->nsparse && i < UDD_BE_MAX_SPARSE; i++) {
		void *m = mmap(NULL, r->sparse[i].size, PROT_READ, MAP_SHARED, r->mmap_fd,
			       (off_t)(r->mmap_offset + r->sparse[i].offset));
		if (m != MAP_FAILED)
			munmap(m, r->sparse[i].size);
	}
}

#define IOVA_FD 0x100000ull   /* window backed by a memfd (also our vaddr) */
#define IOVA_MEM 0x200000ull  /* window served from memory only, read-only */
#define WIN_FD_SIZE 0x2000u
#define WIN_MEM_SIZE 0x1000u

static void run_client(int mode)
{
	static const enum udd_be_mode modes[4] = { UDD_BE_EXCLUSIVE, UDD_BE_SHARED, UDD_BE_PROBE,
						   UDD_BE_EXCLUSIVE };
	const struct udd_backend_ops *be = &udd_vfio_user_backend;
	void *d = NULL;
	/* requests: VERSION, DEVICE_GET_INFO */
	if (vfu_client_open_timeout(sock_path, modes[mode & 3], &flog, CLIENT_TIMEOUT_MS, &d) < 0)
		return;
	unsigned faults = 0;
	be->set_fault_cb(d, fault_cb, &faults);
	(void)vfu_client_enforces_borrow(d);
	(void)vfu_client_twin_socket(d);
	struct udd_be_devinfo di;
	(void)be->device_info(d, &di);
	/* REGION_INFO 0, 1, 2, 7 (each maybe twice: argsz retry); cached after */
	static const uint32_t regions[] = { 0, 1, 2, 7, 0 };
	for (size_t i = 0; i < sizeof(regions) / sizeof(regions[0]); i++) {
		struct udd_be_region r;
		if (be->region_info(d, regions[i], &r) == 0)
			map_region(&r);
	}
	/* REGION_READ 0+0 (4), REGION_WRITE 0+4 (4), bulk read and write of
	 * 3000 bytes of region 1 at 0x10 (split by max_data_xfer_size) */
	uint32_t v = 0x12345678;
	(void)be->region_read(d, 0, 0, &v, sizeof(v));
	(void)be->region_write(d, 0, 4, &v, sizeof(v));
	static uint8_t bulk[3000];
	(void)be->region_read(d, 1, 0x10, bulk, sizeof(bulk));
	(void)be->region_write(d, 1, 0x10, bulk, sizeof(bulk));
	/* DEVICE_GET_IRQ_INFO (MSI-X), SET_IRQS (two eventfds), SET_IRQS mask INTx */
	uint32_t cnt = 0, fl = 0;
	(void)be->irq_info(d, VFIO_PCI_MSIX_IRQ_INDEX, &cnt, &fl);
	int efd[2] = { eventfd(0, EFD_CLOEXEC), eventfd(0, EFD_CLOEXEC) };
	if (efd[0] >= 0 && efd[1] >= 0)
		(void)be->irq_set(d, VFIO_PCI_MSIX_IRQ_INDEX, 0, 2, efd);
	fuzz_close_fds(efd, 2);
	(void)be->irq_mask(d, VFIO_PCI_INTX_IRQ_INDEX, 0, true);
	/* DMA_MAP (memfd-backed, read-write), DMA_MAP (memory only, read-only):
	 * the server may DMA_READ/DMA_WRITE them while any later request waits */
	int mfd = memfd_create("udd-fuzz-dma", MFD_CLOEXEC);
	void *win = MAP_FAILED;
	if (mfd >= 0 && ftruncate(mfd, WIN_FD_SIZE) == 0)
		win = mmap(NULL, WIN_FD_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED, mfd, 0);
	static uint8_t mem[WIN_MEM_SIZE];
	bool mapped_fd = win != MAP_FAILED &&
			 be->dma_map(d, IOVA_FD, WIN_FD_SIZE, mfd, 0, win,
				     UDD_DMA_F_READ | UDD_DMA_F_WRITE) == 0;
	bool mapped_mem = be->dma_map(d, IOVA_MEM, WIN_MEM_SIZE, -1, 0, mem, UDD_DMA_F_READ) == 0;
	/* REGION_WRITE 0+8 (4): "start the device's DMA" */
	(void)be->region_write(d, 0, 8, &v, sizeof(v));
	/* DEVICE_RESET (if the device said it can), DMA_UNMAP x2 */
	(void)be->reset(d);
	if (mapped_fd)
		(void)be->dma_unmap(d, IOVA_FD, WIN_FD_SIZE);
	if (mapped_mem)
		(void)be->dma_unmap(d, IOVA_MEM, WIN_MEM_SIZE);
	(void)be->check(d);
	struct udd_be_iova_range ir;
	size_t nir = 1;
	(void)be->iova_ranges(d, &ir, &nir);
	be->close(d);
	if (win != MAP_FAILED)
		munmap(win, WIN_FD_SIZE);
	if (mfd >= 0)
		close(mfd);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t *buf;
	if (listen_fd < 0) {
		signal(SIGPIPE, SIG_IGN);
		setup();
		buf = malloc(VFU_MAX_MSG_SIZE);
		if (!buf)
			abort();
	}
	if (size < 1)
		return 0;
	struct srv s = { .data = data + 1, .size = size - 1, .sock = -1, .twin = -1, .buf = buf };
	pthread_t t;
	if (pthread_create(&t, NULL, srv_main, &s) != 0)
		abort();
	run_client(data[0]);
	pthread_join(t, NULL);
	return 0;
}
