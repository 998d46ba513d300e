/* SPDX-License-Identifier: MIT */
/*
 * bench_net (tables 7a-7c): vfio-user over TCP, through udd-gw, on loopback.
 *
 * A private udd-sim lends its edu through two udd-gw on 127.0.0.1: one
 * plaintext (--insecure), one TLS-PSK. Baselines, measured in the same run
 * over the same link: a raw ping-pong of messages of the same sizes with an
 * echo thread of our own (plain TCP, and TLS with the same transport code),
 * and a raw bulk transfer.
 *   7a  a trapped register read (udd_get32 on the remote edu: REGION_READ,
 *       32 bytes out, 36 back, relayed by the gateway to the UNIX socket)
 *   7b  1000 REGION_WRITEs posted (NO_REPLY, pipelined; one read at the end
 *       to know they arrived) vs 1000 round trips, raw protocol, TLS
 *   7c  DMA into a 1 MiB window over TLS: a bench-internal vfio-user server
 *       ("dmasrv", behind the same gateway) that on a register write reads or
 *       writes the whole window with one 1 MiB DMA_READ / DMA_WRITE, which the
 *       library serves; vs the raw transfer of 1 MiB over the same TLS link.
 *       And edu's engine (4 KiB per command) for comparison.
 * Environment: UDD_SIM, UDD_GW (set by the bench target).
 */
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "msg.h"
#include "net.h"
#include "proto.h"

#define PORT_PLAIN_GW 17787
#define PORT_TLS_GW 17788
#define PORT_PLAIN_ECHO 17789
#define PORT_TLS_ECHO 17790

static char tmp[64];
static struct vfu_net_key key;
static pid_t kids[3];
static uint8_t *buf;

/* ---- the echo server: replies to each message with hdr.error bytes of payload */

struct echo_arg {
	int port;
	bool tls;
};

static void *echo_conn(void *p)
{
	struct vfu_xport x = *(struct vfu_xport *)p;
	free(p);
	uint8_t *b = malloc(VFU_MAX_MSG_SIZE);
	while (b) {
		long n = vfu_xmsg_recv(&x, b, VFU_MAX_MSG_SIZE, -1, 10000);
		if (n <= 0)
			break;
		struct vfu_hdr h;
		memcpy(&h, b, sizeof(h));
		uint32_t rl = h.error < VFU_MAX_MSG_SIZE - 16 ? h.error : 0;
		h.flags = VFU_F_TYPE_REPLY;
		if (vfu_xmsg_send(&x, &h, b + 16, rl, NULL, 0, -1))
			break;
	}
	free(b);
	vfu_net_close(&x);
	return NULL;
}

static void *echo_main(void *p)
{
	struct echo_arg *a = p;
	int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)a->port),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	if (bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 8))
		return NULL;
	for (;;) {
		int fd = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		vfu_net_tune(fd);
		struct vfu_xport *x = malloc(sizeof(*x));
		char err[128];
		if (!x || vfu_net_open(x, fd, a->tls ? &key : NULL, true, vfu_now_ms() + 5000, err,
				       sizeof(err))) {
			free(x);
			continue;
		}
		pthread_t t;
		pthread_create(&t, NULL, echo_conn, x);
		pthread_detach(t);
	}
	return NULL;
}

static int dial(int port, bool tls, struct vfu_xport *x)
{
	char ps[8], err[128];
	snprintf(ps, sizeof(ps), "%d", port);
	int fd;
	int64_t dl = vfu_now_ms() + 5000;
	int rc = vfu_net_connect("127.0.0.1", ps, dl, &fd);
	if (rc)
		return rc;
	return vfu_net_open(x, fd, tls ? &key : NULL, false, dl, err, sizeof(err));
}

/* ---- cells ----------------------------------------------------------------- */

static unsigned n_rt;

struct pp {
	struct vfu_xport x;
	uint32_t out, back; /* payload bytes each way */
};

static double cell_pingpong(void *arg)
{
	struct pp *p = arg;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_rt; i++) {
		struct vfu_hdr h = { .msg_id = (uint16_t)i, .error = p->back };
		if (vfu_xmsg_send(&p->x, &h, buf, p->out, NULL, 0, -1) ||
		    vfu_xmsg_recv(&p->x, buf, VFU_MAX_MSG_SIZE, -1, 10000) <= 0)
			return -1;
	}
	return (bench_now_ns() - t0) / n_rt;
}

static udd_acc_t *bar_plain, *bar_tls;

static double cell_get32(void *arg)
{
	udd_acc_t *a = arg;
	uint32_t acc = 0;
	double t0 = bench_now_ns();
	for (unsigned i = 0; i < n_rt; i++)
		acc |= udd_get32(a, 0);
	double t = (bench_now_ns() - t0) / n_rt;
	return acc == 0x010000edu && udd_acc_check(a) == 0 ? t : -1;
}

/* raw vfio-user on the TLS gateway, for 7b */
static struct vfu_xport rawx;
static uint16_t raw_id;

static long raw_xact(uint16_t cmd, const void *p, size_t l, bool noreply)
{
	struct vfu_hdr h = { .msg_id = ++raw_id, .cmd = cmd,
			     .flags = VFU_F_TYPE_COMMAND | (noreply ? VFU_F_NO_REPLY : 0) };
	if (vfu_xmsg_send(&rawx, &h, p, l, NULL, 0, -1))
		return -1;
	if (noreply)
		return 0;
	long n = vfu_xmsg_recv(&rawx, buf, VFU_MAX_MSG_SIZE, -1, 10000);
	struct vfu_hdr r;
	if (n < 16)
		return -1;
	memcpy(&r, buf, sizeof(r));
	if (r.msg_id != h.msg_id || (r.flags & VFU_F_ERROR)) {
		fprintf(stderr, "bench_net: cmd %u: reply id %u (want %u) error %u\n", cmd, r.msg_id,
			h.msg_id, (r.flags & VFU_F_ERROR) ? r.error : 0);
		return -1;
	}
	return n;
}

static int raw_open(void)
{
	if (dial(PORT_TLS_GW, true, &rawx))
		return -1;
	char line[VFU_NET_LINE_MAX];
	int64_t dl = vfu_now_ms() + 5000;
	if (vfu_xport_write_all(&rawx, "open edu\n", 9, dl) ||
	    vfu_net_read_line(&rawx, line, sizeof(line), dl) <= 0 || strcmp(line, "ok"))
		return -1;
	const char *js = "{\"capabilities\":{\"max_msg_fds\":0,\"udd\":{\"borrow\":\"shared\"}}}";
	uint8_t v[128];
	struct vfu_version ver = { VFU_PROTO_MAJOR, VFU_PROTO_MINOR };
	memcpy(v, &ver, sizeof(ver));
	memcpy(v + sizeof(ver), js, strlen(js) + 1);
	return raw_xact(VFU_CMD_VERSION, v, sizeof(ver) + strlen(js) + 1, false) < 0 ? -1 : 0;
}

#define BURST 1000

static double cell_writes(void *arg)
{
	bool posted = arg != NULL;
	struct vfu_region_access a = { .offset = 0x04, .region = VFIO_PCI_BAR0_REGION_INDEX,
				       .count = 4 };
	uint8_t w[sizeof(a) + 4]; /* the access, then the 4 bytes (no padding) */
	memcpy(w, &a, sizeof(a));
	double t0 = bench_now_ns();
	for (uint32_t i = 0; i < BURST; i++) {
		memcpy(w + sizeof(a), &i, 4);
		if (raw_xact(VFU_CMD_REGION_WRITE, w, sizeof(w), posted) < 0)
			return -1;
	}
	/* a read after the writes: they are all done when it answers */
	struct vfu_region_access r = { .offset = 0x04, .region = VFIO_PCI_BAR0_REGION_INDEX,
				       .count = 4 };
	if (raw_xact(VFU_CMD_REGION_READ, &r, sizeof(r), false) < 0)
		return -1;
	return (bench_now_ns() - t0) / BURST;
}

/* The same burst through the library: udd_put32 on a trapped BAR over TCP
 * is posted (client.c: write_posted), then one udd_get32. */
static double cell_lib_writes(void *arg)
{
	udd_acc_t *acc = arg;
	double t0 = bench_now_ns();
	for (uint32_t i = 0; i < BURST; i++)
		udd_put32(acc, 0x04, i);
	uint32_t v = udd_get32(acc, 0x04); /* edu liveness: reads ~value */
	if (v != ~(uint32_t)(BURST - 1) || udd_acc_check(acc) != 0)
		return -1;
	return (bench_now_ns() - t0) / BURST;
}

static udd_dma_t *dma;
static uint64_t dma_iova;
static udd_acc_t *dmasrv_bar;

/* 1 MiB of the window read by the device, 4 KiB per engine command: ns per MiB */
static double cell_dma(void *arg)
{
	udd_acc_t *a = arg;
	double t0 = bench_now_ns();
	for (unsigned off = 0; off < (1u << 20); off += 4096) {
		udd_put64(a, 0x80, dma_iova + off);
		udd_put64(a, 0x88, 0x40000);
		udd_put64(a, 0x90, 4096);
		udd_put64(a, 0x98, 1); /* start, RAM -> device */
		for (int spin = 0; udd_get64(a, 0x98) & 1; spin++)
			if (spin > 100000)
				return -1;
	}
	return udd_acc_check(a) == 0 ? bench_now_ns() - t0 : -1;
}

static double cell_bulk(void *arg)
{
	struct pp *p = arg;
	double t0 = bench_now_ns();
	struct vfu_hdr h = { .msg_id = 1, .error = 0 };
	if (vfu_xmsg_send(&p->x, &h, buf, 1u << 20, NULL, 0, -1) ||
	    vfu_xmsg_recv(&p->x, buf, VFU_MAX_MSG_SIZE, -1, 10000) <= 0)
		return -1;
	return bench_now_ns() - t0;
}

/* ---- dmasrv: a minimal vfio-user server that DMAs a whole window at once ------ */

#define DMASRV_VENDOR 0x1234
#define DMASRV_DEVICE 0xdd01

static uint64_t srv_win_addr, srv_win_size;

static int srv_reply(int s, const struct vfu_hdr *rq, const void *p, size_t l, uint32_t err)
{
	if (rq->flags & VFU_F_NO_REPLY)
		return 0; /* a posted command (the client's BAR writes over TCP) */
	struct vfu_hdr h = { .msg_id = rq->msg_id, .cmd = rq->cmd,
			     .flags = VFU_F_TYPE_REPLY | (err ? VFU_F_ERROR : 0), .error = err };
	return vfu_msg_send(s, &h, err ? NULL : p, err ? 0 : l, NULL, 0);
}

/* One DMA_READ (write = false) or DMA_WRITE of the whole window; 0 or -1. */
static int srv_dma(int s, uint8_t *b, uint16_t id, bool write)
{
	struct vfu_dma_access a = { .addr = srv_win_addr, .count = srv_win_size };
	struct vfu_hdr h = { .msg_id = id, .cmd = write ? VFU_CMD_DMA_WRITE : VFU_CMD_DMA_READ };
	if (vfu_msg_send2(s, &h, &a, sizeof(a), write ? b + 64 : NULL, write ? srv_win_size : 0,
			  NULL, 0))
		return -1;
	size_t nf = 0;
	long n = vfu_msg_recv(s, b, VFU_MAX_MSG_SIZE, NULL, &nf, 10000);
	struct vfu_hdr r;
	if (n < 16)
		return -1;
	memcpy(&r, b, sizeof(r));
	size_t want = sizeof(r) + sizeof(a) + (write ? 0 : srv_win_size);
	return r.msg_id == id && !(r.flags & VFU_F_ERROR) && (size_t)n == want ? 0 : -1;
}

static void srv_conn(int s, uint8_t *b, uint8_t *d)
{
	uint16_t cmd_id = 0x8000;
	for (;;) {
		size_t nf = 0;
		long n = vfu_msg_recv(s, b, VFU_MAX_MSG_SIZE, NULL, &nf, -1);
		if (n < 16)
			return;
		struct vfu_hdr h;
		memcpy(&h, b, sizeof(h));
		const uint8_t *pl = b + 16;
		size_t pn = (size_t)n - 16;
		switch (h.cmd) {
		case VFU_CMD_VERSION: {
			const char *js = "{\"capabilities\":{\"max_msg_fds\":8,"
					 "\"max_data_xfer_size\":1048576}}";
			uint8_t v[128];
			struct vfu_version ver = { VFU_PROTO_MAJOR, VFU_PROTO_MINOR };
			memcpy(v, &ver, sizeof(ver));
			memcpy(v + sizeof(ver), js, strlen(js) + 1);
			srv_reply(s, &h, v, sizeof(ver) + strlen(js) + 1, 0);
			break;
		}
		case VFU_CMD_DEVICE_GET_INFO: {
			struct vfu_device_info di = { .argsz = sizeof(di), .flags = VFIO_DEVICE_FLAGS_PCI,
						      .num_regions = VFIO_PCI_NUM_REGIONS };
			srv_reply(s, &h, &di, sizeof(di), 0);
			break;
		}
		case VFU_CMD_DEVICE_GET_REGION_INFO: {
			struct vfu_region_info ri;
			if (pn < sizeof(ri)) {
				srv_reply(s, &h, NULL, 0, EINVAL);
				break;
			}
			memcpy(&ri, pl, sizeof(ri));
			uint32_t idx = ri.index;
			memset(&ri, 0, sizeof(ri));
			ri.argsz = sizeof(ri);
			ri.index = idx;
			if (idx == VFIO_PCI_CONFIG_REGION_INDEX || idx == VFIO_PCI_BAR0_REGION_INDEX) {
				ri.size = idx == VFIO_PCI_CONFIG_REGION_INDEX ? 256 : 4096;
				ri.flags = VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE;
			}
			srv_reply(s, &h, &ri, sizeof(ri), 0);
			break;
		}
		case VFU_CMD_REGION_READ: {
			struct vfu_region_access a;
			if (pn < sizeof(a)) {
				srv_reply(s, &h, NULL, 0, EINVAL);
				break;
			}
			memcpy(&a, pl, sizeof(a));
			uint8_t out[16 + 256] = { 0 };
			if (a.count > 256 || a.offset > 256 - a.count) {
				srv_reply(s, &h, NULL, 0, EINVAL);
				break;
			}
			uint8_t cfg[256] = { 0x34, 0x12, 0x01, 0xdd }; /* vendor, device */
			cfg[0x0b] = 0xff;                               /* class: unassigned */
			memcpy(out, &a, sizeof(a));
			if (a.region == VFIO_PCI_CONFIG_REGION_INDEX)
				memcpy(out + 16, cfg + a.offset, a.count);
			srv_reply(s, &h, out, 16 + a.count, 0);
			break;
		}
		case VFU_CMD_REGION_WRITE: {
			struct vfu_region_access a;
			uint32_t v = 0;
			if (pn < sizeof(a) + 4) {
				srv_reply(s, &h, NULL, 0, EINVAL);
				break;
			}
			memcpy(&a, pl, sizeof(a));
			memcpy(&v, pl + sizeof(a), 4);
			uint32_t err = 0;
			if (a.region == VFIO_PCI_BAR0_REGION_INDEX && a.offset == 0 && (v == 1 || v == 2))
				err = srv_dma(s, d, cmd_id++, v == 2) ? EIO : 0;
			srv_reply(s, &h, &a, sizeof(a), err);
			break;
		}
		case VFU_CMD_DMA_MAP: {
			struct vfu_dma_map m;
			if (pn < sizeof(m)) {
				srv_reply(s, &h, NULL, 0, EINVAL);
				break;
			}
			memcpy(&m, pl, sizeof(m));
			srv_win_addr = m.addr;
			srv_win_size = m.size > (1u << 20) ? 1u << 20 : m.size;
			srv_reply(s, &h, NULL, 0, 0);
			break;
		}
		case VFU_CMD_DMA_UNMAP:
			srv_reply(s, &h, pl, pn, 0);
			break;
		default:
			srv_reply(s, &h, NULL, 0, ENOSYS);
			break;
		}
	}
}

static void *dmasrv_main(void *p)
{
	const char *path = p;
	int ls = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	if (ls < 0 || bind(ls, (struct sockaddr *)&sa, sizeof(sa)) || listen(ls, 4))
		return NULL;
	uint8_t *b = malloc(VFU_MAX_MSG_SIZE), *d = calloc(1, VFU_MAX_MSG_SIZE);
	for (;;) {
		int s = accept4(ls, NULL, NULL, SOCK_CLOEXEC);
		if (s < 0)
			continue;
		srv_conn(s, b, d);
		close(s);
	}
	return NULL;
}

/* One register write that makes dmasrv move the whole 1 MiB window (arg: 1
 * the device reads it, 2 it writes it): ns per MiB. (dmasrv does not speak
 * udd's extension, so the write is not posted: client.c, write_posted.) */
static double cell_dmasrv(void *arg)
{
	udd_acc_t *a = dmasrv_bar;
	double t0 = bench_now_ns();
	udd_put32(a, 0, (uint32_t)(uintptr_t)arg);
	return udd_acc_check(a) == 0 ? bench_now_ns() - t0 : -1;
}

/* ---- set-up ------------------------------------------------------------------ */

static pid_t spawn(char *const argv[])
{
	pid_t p = fork();
	if (p == 0) {
		execv(argv[0], argv);
		_exit(127);
	}
	return p;
}

static void cleanup(void)
{
	for (int i = 0; i < 3; i++)
		if (kids[i] > 0) {
			kill(kids[i], SIGTERM);
			waitpid(kids[i], NULL, 0);
		}
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmp);
	if (system(cmd) != 0)
		fprintf(stderr, "bench_net: could not remove %s\n", tmp);
}

static udd_acc_t *remote_bar(int port, udd_ctx_t **ctx, udd_dev_t **dev, bool tls)
{
	char loc[128], kp[128];
	snprintf(loc, sizeof(loc), "tcp://127.0.0.1:%d/edu", port);
	snprintf(kp, sizeof(kp), "%s/key", tmp);
	setenv("UDD_CLUSTER_KEY", kp, 1);
	setenv("UDD_CLUSTER_INSECURE", tls ? "0" : "1", 1);
	udd_ctx_opts_t o = { .flags = UDD_CTX_F_NO_VFIO | UDD_CTX_F_NO_EMBEDDED |
				      UDD_CTX_F_NO_CLUSTER,
			     .sockets = loc };
	udd_acc_t *a = NULL;
	if (udd_ctx_open(ctx, &o) || bench_borrow(*ctx, 0x1234, 0x11e8, 0, dev) ||
	    udd_regs_map_bar(*dev, 0, 0, 0, NULL, &a))
		return NULL;
	return a;
}

int main(void)
{
	const char *sim = getenv("UDD_SIM"), *gw = getenv("UDD_GW");
	if (!sim || !gw) {
		fprintf(stderr, "bench_net: UDD_SIM and UDD_GW must name udd-sim and udd-gw\n");
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	snprintf(tmp, sizeof(tmp), "/tmp/udd-bench-net-XXXXXX");
	if (!mkdtemp(tmp))
		return 1;
	atexit(cleanup);
	char kf[128], dir[128], pool[128];
	snprintf(kf, sizeof(kf), "%s/key", tmp);
	snprintf(dir, sizeof(dir), "%s/rt", tmp);
	snprintf(pool, sizeof(pool), "%s/rt/sim", tmp);
	mkdir(dir, 0700);
	FILE *f = fopen(kf, "w");
	if (!f)
		return 1;
	fchmod(fileno(f), 0600);
	for (int i = 0; i < 32; i++)
		fprintf(f, "%02x", (unsigned)(rand() & 0xff) ^ (unsigned)(getpid() >> (i % 16)));
	fclose(f);
	char err[128];
	if (vfu_net_load_key(kf, &key, err, sizeof(err))) {
		fprintf(stderr, "bench_net: %s\n", err);
		return 1;
	}
	char *sa[] = { (char *)sim, "--dir", dir, "--idle-exit", "600000", NULL };
	kids[0] = spawn(sa);
	for (int i = 0; i < 100; i++) {
		char s[160];
		snprintf(s, sizeof(s), "%s/edu.sock", pool);
		if (access(s, F_OK) == 0)
			break;
		usleep(100000);
	}
	char p1[32], p2[32];
	snprintf(p1, sizeof(p1), "127.0.0.1:%d", PORT_PLAIN_GW);
	snprintf(p2, sizeof(p2), "127.0.0.1:%d", PORT_TLS_GW);
	char *g1[] = { (char *)gw, "--listen", p1, "--pool", pool, "--insecure", "--node", "9", NULL };
	char *g2[] = { (char *)gw, "--listen", p2, "--pool", pool, "--key", kf, "--node", "9", NULL };
	int devnull = open("/dev/null", O_WRONLY);
	int saved = dup(2);
	dup2(devnull, 2); /* the --insecure warning */
	kids[1] = spawn(g1);
	kids[2] = spawn(g2);
	dup2(saved, 2);
	close(saved);
	close(devnull);
	static struct echo_arg e1 = { PORT_PLAIN_ECHO, false }, e2 = { PORT_TLS_ECHO, true };
	pthread_t t1, t2;
	pthread_create(&t1, NULL, echo_main, &e1);
	pthread_create(&t2, NULL, echo_main, &e2);
	usleep(300000);
	buf = calloc(1, VFU_MAX_MSG_SIZE);

	udd_ctx_t *c1, *c2;
	udd_dev_t *d1, *d2;
	bar_plain = remote_bar(PORT_PLAIN_GW, &c1, &d1, false);
	bar_tls = remote_bar(PORT_TLS_GW, &c2, &d2, true);
	static struct pp pp_plain = { .out = 16, .back = 20 }, pp_tls = { .out = 16, .back = 20 };
	static struct pp bulk_tls = { .out = 1u << 20, .back = 0 };
	if (!bar_plain || !bar_tls || dial(PORT_PLAIN_ECHO, false, &pp_plain.x) ||
	    dial(PORT_TLS_ECHO, true, &pp_tls.x) || dial(PORT_TLS_ECHO, true, &bulk_tls.x) ||
	    raw_open()) {
		fprintf(stderr, "bench_net: set-up failed\n");
		return 1;
	}
	n_rt = bench_n(2000, 20);

	struct bench_cell a[] = {
		{ .name = "raw TCP ping-pong, 32 B out / 36 B back", .fn = cell_pingpong, .arg = &pp_plain },
		{ .name = "udd_get32 trapped, udd-gw, plain TCP", .fn = cell_get32, .arg = bar_plain },
		{ .name = "raw TLS ping-pong, 32 B out / 36 B back", .fn = cell_pingpong, .arg = &pp_tls },
		{ .name = "udd_get32 trapped, udd-gw, TLS", .fn = cell_get32, .arg = bar_tls },
	};
	bench_measure(a, 4);
	bench_title("7a. a trapped register read over TCP (loopback) vs raw ping-pong");
	bench_row(a[0].name, &a[0], &a[0]);
	bench_row(a[1].name, &a[1], &a[0]);
	bench_row(a[2].name, &a[2], &a[2]);
	bench_row(a[3].name, &a[3], &a[2]);
	if (!a[0].failed && !a[2].failed && !a[1].failed && !a[3].failed)
		printf("  TLS costs: ping-pong %.2fx plain, register read %.2fx plain\n",
		       a[2].s.med / a[0].s.med, a[3].s.med / a[1].s.med);

	struct bench_cell b[] = {
		{ .name = "1000 REGION_WRITE round trips (per write)", .fn = cell_writes, .arg = NULL },
		{ .name = "1000 REGION_WRITE posted, NO_REPLY (per write)", .fn = cell_writes, .arg = (void *)1 },
		{ .name = "1000 udd_put32 (library, posted) (per write)", .fn = cell_lib_writes, .arg = NULL },
	};
	b[2].arg = bar_tls;
	bench_measure(b, 3);
	bench_title("7b. register writes over TLS through udd-gw: posted vs round trips");
	bench_row(b[0].name, &b[0], &b[0]);
	bench_row(b[1].name, &b[1], &b[0]);
	bench_row(b[2].name, &b[2], &b[0]);

	udd_mem_t *mem;
	udd_dma_attr_t at = { .addr_hi = 0x0fffffff };
	if (udd_mem_alloc(c2, 1u << 20, &mem) ||
	    udd_dma_map(d2, mem, 0, 1u << 20, &at, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &dma_iova, &dma)) {
		fprintf(stderr, "bench_net: DMA window failed\n");
		return 1;
	}
	/* dmasrv, lent by the TLS gateway like the simulator's devices */
	static char dspath[160];
	snprintf(dspath, sizeof(dspath), "%s/dmasrv.sock", pool);
	pthread_t t3;
	pthread_create(&t3, NULL, dmasrv_main, dspath);
	usleep(100000);
	udd_ctx_t *c3;
	udd_dev_t *d3;
	udd_mem_t *mem3;
	udd_dma_t *dma3;
	uint64_t iova3;
	char loc3[96];
	snprintf(loc3, sizeof(loc3), "tcp://127.0.0.1:%d/dmasrv", PORT_TLS_GW);
	setenv("UDD_CLUSTER_INSECURE", "0", 1);
	udd_ctx_opts_t o3 = { .flags = UDD_CTX_F_NO_VFIO | UDD_CTX_F_NO_EMBEDDED |
				       UDD_CTX_F_NO_CLUSTER,
			      .sockets = loc3 };
	if (udd_ctx_open(&c3, &o3) || bench_borrow(c3, DMASRV_VENDOR, DMASRV_DEVICE, 0, &d3) ||
	    udd_regs_map_bar(d3, 0, 0, 0, NULL, &dmasrv_bar) || udd_mem_alloc(c3, 1u << 20, &mem3) ||
	    udd_dma_map(d3, mem3, 0, 1u << 20, NULL, UDD_DMA_F_READ | UDD_DMA_F_WRITE, &iova3,
			&dma3)) {
		fprintf(stderr, "bench_net: dmasrv set-up failed\n");
		return 1;
	}
	struct bench_cell c[] = {
		{ .name = "raw TLS transfer of 1 MiB (per MiB)", .fn = cell_bulk, .arg = &bulk_tls },
		{ .name = "DMA_READ of the 1 MiB window (dmasrv)", .fn = cell_dmasrv, .arg = (void *)1 },
		{ .name = "DMA_WRITE of the 1 MiB window (dmasrv)", .fn = cell_dmasrv, .arg = (void *)2 },
		{ .name = "edu DMA reads 1 MiB window, 4 KiB commands", .fn = cell_dma, .arg = bar_tls },
	};
	bench_measure(c, 4);
	bench_title("7c. DMA through udd-gw (TLS), 1 MiB window, vs raw TLS throughput");
	for (int i = 0; i < 4; i++)
		bench_row(c[i].name, &c[i], &c[0]);
	for (int i = 0; i < 4; i++)
		if (!c[i].failed)
			printf("  %-44s %8.1f MB/s\n", c[i].name, 1048.576 / (c[i].s.med / 1e6));
	printf("  (dmasrv rows: one register write round trip + one 1 MiB DMA message each way\n"
	       "   through the gateway; the edu row: 256 engine commands of 4 KiB, each 4 register\n"
	       "   writes and >= 1 read, bounded by 7a, not by the link)\n");
	udd_dma_unmap(dma3);
	udd_mem_free(mem3);
	udd_regs_unmap(dmasrv_bar);
	udd_dev_return(d3);
	udd_ctx_close(c3);
	udd_dma_unmap(dma);
	udd_mem_free(mem);
	udd_regs_unmap(bar_plain);
	udd_regs_unmap(bar_tls);
	udd_dev_return(d1);
	udd_dev_return(d2);
	udd_ctx_close(c1);
	udd_ctx_close(c2);
	return 0;
}
