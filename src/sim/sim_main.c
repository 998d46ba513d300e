/* SPDX-License-Identifier: MIT */
/*
 * udd-sim: a vfio-user server with simulated PCI devices.
 * Process model, command line, control socket and idle exit; see README.md.
 */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "sim_server_priv.h"
#include "sockpath.h"

#define MAX_DEVS 16
#define MAX_CTL 32
#define CTL_LINE 256

struct ctl_conn {
	int fd;
	size_t len;
	char buf[CTL_LINE];
};

static struct sim_dev *devs[MAX_DEVS];
static int ndevs;
static int ctl_fd = -1;
static char *ctl_path;
static struct ctl_conn ctls[MAX_CTL];
static int sigpipe_fds[2] = { -1, -1 };
static char *sim_dir; /* --dir DIR/sim: where lent devices' sockets go */

static const struct sim_model *model_find(const char *name)
{
	return sim_model_find(name);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: udd-sim [-v] [--daemon] [--idle-exit MS] [--pio-record FILE] [--no-udd-ext]\n"
		   "               [--bounce-windows] (testing: simulated devices DMA into server copies of\n"
		   "                descriptor-less windows, synced by udd.dma_sync, as lent devices do)\n"
		   "               (--dir DIR [--lend-only] | --socket PATH --device edu|pio|be|nvme [...]\n"
		   "                [--control PATH]) [--nvme-ns FILE[:SIZE]]... (after --device nvme, or with --dir)\n"
		   "       udd-sim --dump-config edu|pio|be|nvme\n");
}

static void on_signal(int sig)
{
	(void)sig;
	char c = 1;
	ssize_t n = write(sigpipe_fds[1], &c, 1);
	(void)n;
}

/* Report a start-up failure: to the daemon parent through @pipe_fd, else stderr. */
static int fail(int pipe_fd, const char *fmt, const char *arg, int err)
{
	char msg[512];
	snprintf(msg, sizeof(msg), fmt, arg, err ? strerror(err) : "");
	if (pipe_fd >= 0) {
		ssize_t n = write(pipe_fd, msg, strlen(msg));
		(void)n;
	} else {
		fprintf(stderr, "udd-sim: %s\n", msg);
	}
	return 1;
}

static int listen_unix(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	int e = vfu_unix_bind(fd, path);
	if (e == 0 && listen(fd, 16) < 0)
		e = -errno;
	if (e) {
		close(fd);
		return e;
	}
	return fd;
}

/* Does something answer on @path? */
static bool socket_alive(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	bool ok = vfu_unix_connect(fd, path) == 0;
	close(fd);
	return ok;
}

static struct sim_dev *find_dev(const char *name)
{
	for (int i = 0; i < ndevs; i++)
		if (!devs[i]->unplugged && !strcmp(devs[i]->name, name))
			return devs[i];
	return NULL;
}

static void ctl_reply(int fd, const char *s)
{
	(void)send(fd, s, strlen(s), MSG_NOSIGNAL);
}

/* `add BDF [GROUP]`: lend a device bound to vfio-pci (socket DIR/sim/BDF.sock,
 * mode 0600, or 0660 with group GROUP). */
static void ctl_add(int fd, char *arg, char *out, size_t outlen)
{
	char *grp = strchr(arg, ' ');
	if (grp)
		*grp++ = '\0';
	struct group *g = NULL;
	if (grp && !(g = getgrnam(grp))) {
		ctl_reply(fd, "error no such group\n");
		return;
	}
	if (!sim_dir || ndevs >= MAX_DEVS) {
		ctl_reply(fd, sim_dir ? "error too many devices\n" : "error no --dir\n");
		return;
	}
	if (find_dev(arg)) {
		ctl_reply(fd, "error already lent\n");
		return;
	}
	struct sim_dev *d;
	int rc = lend_vfio_create(arg, arg, &d);
	if (rc) {
		snprintf(out, outlen, "error %s: %s\n", arg, strerror(-rc));
		ctl_reply(fd, out);
		return;
	}
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s/%s.sock", sim_dir, arg);
	rc = sim_dev_listen(d, path);
	if (!rc && chmod(path, g ? 0660 : 0600) < 0)
		rc = -errno;
	if (!rc && g && chown(path, (uid_t)-1, g->gr_gid) < 0)
		rc = -errno;
	if (rc) {
		snprintf(out, outlen, "error %.300s: %s\n", path, strerror(-rc));
		sim_dev_destroy(d);
		ctl_reply(fd, out);
		return;
	}
	devs[ndevs++] = d;
	sim_log("%s: lent (socket %s)", arg, path);
	ctl_reply(fd, "ok\n");
}

/* `remove BDF [force]`: stop lending; refused while borrowed unless forced. */
static void ctl_remove(int fd, char *arg)
{
	char *opt = strchr(arg, ' ');
	if (opt)
		*opt++ = '\0';
	bool force = opt && !strcmp(opt, "force");
	int i = 0;
	while (i < ndevs && (devs[i]->unplugged || strcmp(devs[i]->name, arg) != 0))
		i++;
	if (i == ndevs || !lend_vfio_bdf(devs[i])) {
		ctl_reply(fd, "error no such lent device\n");
		return;
	}
	struct sim_dev *d = devs[i];
	char who[256] = "";
	sim_dev_borrowers(d, who, sizeof(who));
	if (who[0] && !force) {
		char out[400];
		snprintf(out, sizeof(out), "error borrowed by %s (remove it with force)\n", who);
		ctl_reply(fd, out);
		return;
	}
	sim_dev_destroy(d); /* borrowers are disconnected: their calls fail with ENODEV */
	devs[i] = devs[--ndevs];
	sim_log("%s: no longer lent", arg);
	ctl_reply(fd, "ok\n");
}

static void ctl_command(int fd, char *line)
{
	char out[CTL_LINE * 2];
	char *arg = strchr(line, ' ');
	if (arg)
		*arg++ = '\0';
	if (!strcmp(line, "ping")) {
		ctl_reply(fd, "ok\n");
	} else if (!strcmp(line, "devices")) {
		size_t o = 0;
		out[0] = '\0';
		for (int i = 0; i < ndevs; i++)
			if (!devs[i]->unplugged)
				o += (size_t)snprintf(out + o, sizeof(out) - o, "%s%s", o ? " " : "",
						      devs[i]->name);
		snprintf(out + o, sizeof(out) - o, "\n");
		ctl_reply(fd, out);
	} else if (!strcmp(line, "unplug") && arg) {
		struct sim_dev *d = find_dev(arg);
		if (!d) {
			ctl_reply(fd, "error no such device\n");
			return;
		}
		sim_dev_unplug(d);
		sim_log("%s: unplugged", d->name);
		ctl_reply(fd, "ok\n");
	} else if (!strcmp(line, "stats") && arg) {
		struct sim_dev *d = find_dev(arg);
		if (!d) {
			ctl_reply(fd, "error no such device\n");
			return;
		}
		int o = snprintf(out, sizeof(out), "clients=%d faults=%llu", sim_dev_nclients(d),
				 (unsigned long long)atomic_load(&d->faults));
		if (d->prov->stats)
			d->prov->stats(d, out + o, sizeof(out) - (size_t)o);
		o = (int)strlen(out);
		o += snprintf(out + o, sizeof(out) - (size_t)o, " lender=%d borrowers=", (int)getpid());
		sim_dev_borrowers(d, out + o, sizeof(out) - (size_t)o - 1);
		strcat(out, "\n");
		ctl_reply(fd, out);
	} else if (!strcmp(line, "add") && arg) {
		ctl_add(fd, arg, out, sizeof(out));
	} else if (!strcmp(line, "remove") && arg) {
		ctl_remove(fd, arg);
	} else {
		ctl_reply(fd, "error unknown command\n");
	}
}

/* Read from a control connection; false when it is to be closed. */
static bool ctl_input(struct ctl_conn *c)
{
	ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
	if (n <= 0)
		return n < 0 && (errno == EINTR || errno == EAGAIN);
	c->len += (size_t)n;
	for (;;) {
		char *nl = memchr(c->buf, '\n', c->len);
		if (!nl)
			break;
		*nl = '\0';
		if (nl > c->buf && nl[-1] == '\r')
			nl[-1] = '\0';
		ctl_command(c->fd, c->buf);
		size_t used = (size_t)(nl + 1 - c->buf);
		memmove(c->buf, nl + 1, c->len - used);
		c->len -= used;
	}
	return c->len < sizeof(c->buf); /* a line too long: drop the connection */
}

static int nctl(void)
{
	int n = 0;
	for (int i = 0; i < MAX_CTL; i++)
		n += ctls[i].fd >= 0;
	return n;
}

/* Any connection waiting on a listening socket? */
static bool pending_connections(void)
{
	struct pollfd p[MAX_DEVS + 1];
	int n = 0;
	if (ctl_fd >= 0)
		p[n++] = (struct pollfd){ .fd = ctl_fd, .events = POLLIN };
	for (int i = 0; i < ndevs; i++)
		if (devs[i]->listen_fd >= 0)
			p[n++] = (struct pollfd){ .fd = devs[i]->listen_fd, .events = POLLIN };
	return n && poll(p, (nfds_t)n, 0) > 0;
}

static int dump_config(const char *name)
{
	const struct sim_model *m = model_find(name);
	if (!m) {
		fprintf(stderr, "udd-sim: unknown device '%s'\n", name);
		return 2;
	}
	struct sim_dev *d;
	int rc = sim_dev_create(m, name, &d);
	if (rc) {
		fprintf(stderr, "udd-sim: %s: %s\n", name, strerror(-rc));
		return 1;
	}
	/* Program the BARs and enable decoding as firmware would, through the
	 * config write path (so the write masks are exercised). */
	uint64_t mem = 0xfe000000u, pref = 0xe0000000ull, io = 0xc000u;
	for (int i = 0; i < SIM_NUM_BARS; i++) {
		const struct sim_bar *b = &d->bars[i];
		if (!b->size)
			continue;
		uint64_t *cur = (b->flags & SIM_BAR_IO) ? &io : (b->flags & SIM_BAR_PREFETCH) ? &pref : &mem;
		*cur = (*cur + b->size - 1) & ~(b->size - 1);
		uint32_t lo = (uint32_t)*cur, hi = (uint32_t)(*cur >> 32);
		sim_cfg_write(d, 0x10 + 4u * (unsigned)i, &lo, 4);
		if (b->flags & SIM_BAR_64)
			sim_cfg_write(d, 0x14 + 4u * (unsigned)i, &hi, 4);
		*cur += b->size;
	}
	uint16_t cmd = 0x0003;
	sim_cfg_write(d, 0x04, &cmd, 2);
	if (d->cfg[0x3d]) {
		uint8_t line = 11;
		sim_cfg_write(d, 0x3c, &line, 1);
	}
	/* The format of `lspci -x`, which `lspci -F` reads back. */
	printf("00:00.0 udd-sim %s\n", name);
	for (unsigned off = 0; off < d->cfg_size; off += 16) {
		printf(off < 0x100 ? "%02x:" : "%03x:", off);
		for (unsigned i = 0; i < 16; i++)
			printf(" %02x", d->cfg[off + i]);
		printf("\n");
	}
	printf("\n");
	sim_dev_destroy(d);
	return 0;
}

int main(int argc, char **argv)
{
	const char *dir = NULL, *pio_record = NULL, *control = NULL;
	const char *sock_paths[MAX_DEVS], *dev_names[MAX_DEVS];
	int nsock = 0, nname = 0;
	bool daemonize = false, lend_only = false;
	long idle_ms = -1;
	const char *ns_spec[MAX_DEVS];
	int ns_dev[MAX_DEVS], nns = 0; /* --nvme-ns: the --device it follows (-1: --dir's) */

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (!strcmp(a, "-v") || !strcmp(a, "--verbose")) {
			sim_verbose = 1;
		} else if (!strcmp(a, "--daemon")) {
			daemonize = true;
		} else if (!strcmp(a, "--no-udd-ext")) {
			sim_no_udd_ext = true;
		} else if (!strcmp(a, "--bounce-windows")) {
			sim_bounce_windows = true;
		} else if (!strcmp(a, "--lend-only")) {
			lend_only = true;
		} else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			usage(stdout);
			return 0;
		} else if (!v) {
			usage(stderr);
			return 2;
		} else if (!strcmp(a, "--dump-config")) {
			return dump_config(v);
		} else if (!strcmp(a, "--dir")) {
			dir = v, i++;
		} else if (!strcmp(a, "--control")) {
			control = v, i++;
		} else if (!strcmp(a, "--pio-record")) {
			pio_record = v, i++;
		} else if (!strcmp(a, "--idle-exit")) {
			char *end;
			idle_ms = strtol(v, &end, 10);
			if (*end || idle_ms < 0) {
				usage(stderr);
				return 2;
			}
			i++;
		} else if (!strcmp(a, "--nvme-ns") && nns < MAX_DEVS) {
			ns_dev[nns] = nname - 1;
			ns_spec[nns++] = v, i++;
		} else if (!strcmp(a, "--socket") && nsock < MAX_DEVS) {
			sock_paths[nsock++] = v, i++;
		} else if (!strcmp(a, "--device") && nname < MAX_DEVS) {
			if (!model_find(v)) {
				fprintf(stderr, "udd-sim: unknown device '%s'\n", v);
				return 2;
			}
			dev_names[nname++] = v, i++;
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (nsock != nname || (!dir && !nsock) || (dir && nsock) || (lend_only && !dir)) {
		usage(stderr);
		return 2;
	}

	char path[PATH_MAX];
	if (dir) {
		static const char *const set[] = { "pio", "edu", "be", "nvme" };
		/* a lender's pool is for other users too (readable, not writable:
		 * docs/security.md); the embedded pool is the user's own */
		mkdir(dir, lend_only ? 0755 : 0700);
		snprintf(path, sizeof(path), "%s/sim", dir);
		if (mkdir(path, lend_only ? 0755 : 0700) < 0 && errno != EEXIST)
			return fail(-1, "cannot create %s: %s", path, errno);
		sim_dir = strdup(path);
		static char paths[4][PATH_MAX];
		for (int i = 0; i < 4 && !lend_only; i++) {
			snprintf(paths[i], sizeof(paths[i]), "%s/sim/%s.sock", dir, set[i]);
			sock_paths[i] = paths[i];
			dev_names[i] = set[i];
		}
		nsock = lend_only ? 0 : 4;
		static char ns_default[PATH_MAX]; /* the embedded nvme's namespace: persistent */
		snprintf(ns_default, sizeof(ns_default), "%s/sim/nvme-ns1.img", dir);
		if (!nns && !lend_only)
			ns_spec[nns++] = ns_default;
		for (int i = 0; i < nns; i++)
			ns_dev[i] = 3;
		static char cpath[PATH_MAX];
		snprintf(cpath, sizeof(cpath), "%s/sim/control.sock", dir);
		control = cpath;
		if (idle_ms < 0)
			idle_ms = lend_only ? 0 : 1000;
		if (socket_alive(control)) {
			fprintf(stderr, "udd-sim: another udd-sim serves %s\n", dir);
			return 1;
		}
	}

	int ready_fd = -1;
	if (daemonize) {
		int p[2];
		if (pipe2(p, O_CLOEXEC) < 0)
			return fail(-1, "pipe: %s%s", "", errno);
		pid_t pid = fork();
		if (pid < 0)
			return fail(-1, "fork: %s%s", "", errno);
		if (pid > 0) {
			close(p[1]);
			char msg[512];
			size_t got = 0;
			ssize_t n;
			while ((n = read(p[0], msg + got, sizeof(msg) - 1 - got)) > 0 ||
			       (n < 0 && errno == EINTR))
				if (n > 0)
					got += (size_t)n;
			close(p[0]);
			if (got == 1 && msg[0] == '\0')
				return 0;
			msg[got] = '\0';
			fprintf(stderr, "udd-sim: %s\n", got ? msg : "failed to start");
			return 1;
		}
		close(p[0]);
		ready_fd = p[1];
		setsid();
	}

	signal(SIGPIPE, SIG_IGN);
	if (pipe2(sigpipe_fds, O_CLOEXEC | O_NONBLOCK) < 0)
		return fail(ready_fd, "pipe: %s%s", "", errno);
	struct sigaction sa = { .sa_handler = on_signal };
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (int i = 0; i < MAX_CTL; i++)
		ctls[i].fd = -1;

	int status = 0;
	sim_pio_record = pio_record;
	for (int i = 0; i < nsock; i++) {
		const struct sim_model *m = model_find(dev_names[i]);
		char name[32];
		const char *base = strrchr(sock_paths[i], '/');
		base = base ? base + 1 : sock_paths[i];
		snprintf(name, sizeof(name), "%s", base);
		char *dot = strstr(name, ".sock");
		if (dot && dot != name)
			*dot = '\0';
		for (int k = 0; k < nns; k++)
			if (ns_dev[k] == i && sim_nvme_add_ns(name, ns_spec[k])) {
				status = fail(ready_fd, "bad --nvme-ns %s%s", ns_spec[k], 0);
				goto out;
			}
		struct sim_dev *d;
		int rc = sim_dev_create(m, name, &d);
		if (rc) {
			status = fail(ready_fd, "device %s: %s", dev_names[i], -rc);
			goto out;
		}
		devs[ndevs++] = d;
		rc = sim_dev_listen(d, sock_paths[i]);
		if (rc) {
			status = fail(ready_fd, "cannot listen on %s: %s", sock_paths[i], -rc);
			goto out;
		}
	}
	if (control) {
		ctl_fd = listen_unix(control);
		if (ctl_fd < 0) {
			status = fail(ready_fd, "cannot listen on %s: %s", control, -ctl_fd);
			goto out;
		}
		ctl_path = strdup(control);
		(void)chmod(control, 0600); /* only the lender's user adds and removes */
	}
	sim_log("serving %d device(s)%s%s", ndevs, dir ? " in " : "", dir ? dir : "");

	if (ready_fd >= 0) {
		int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (nul >= 0) {
			dup2(nul, 0);
			dup2(nul, 1);
			if (!sim_verbose)
				dup2(nul, 2);
			close(nul);
		}
		char ok = '\0';
		ssize_t n = write(ready_fd, &ok, 1);
		(void)n;
		close(ready_fd);
		ready_fd = -1;
	}

	uint64_t start = sim_now_ms();
	bool had_lease = false;
	atomic_store(&sim_last_activity_ms, start);
	for (;;) {
		struct pollfd p[2 + MAX_DEVS + MAX_CTL];
		int idx[2 + MAX_DEVS + MAX_CTL];
		int n = 0;
		p[n] = (struct pollfd){ .fd = sigpipe_fds[0], .events = POLLIN };
		idx[n++] = -1;
		if (ctl_fd >= 0) {
			p[n] = (struct pollfd){ .fd = ctl_fd, .events = POLLIN };
			idx[n++] = -2;
		}
		for (int i = 0; i < ndevs; i++) {
			if (devs[i]->listen_fd < 0)
				continue;
			p[n] = (struct pollfd){ .fd = devs[i]->listen_fd, .events = POLLIN };
			idx[n++] = i;
		}
		for (int i = 0; i < MAX_CTL; i++) {
			if (ctls[i].fd < 0)
				continue;
			p[n] = (struct pollfd){ .fd = ctls[i].fd, .events = POLLIN };
			idx[n++] = 1000 + i;
		}
		int timeout = -1;
		if (idle_ms > 0)
			timeout = 100;
		int r = poll(p, (nfds_t)n, timeout);
		if (r < 0 && errno != EINTR)
			break;
		bool quit = false;
		for (int k = 0; r > 0 && k < n; k++) {
			if (!p[k].revents)
				continue;
			if (idx[k] == -1) {
				quit = true;
			} else if (idx[k] == -2) {
				int c = accept4(ctl_fd, NULL, NULL, SOCK_CLOEXEC);
				if (c < 0)
					continue;
				int slot = -1;
				for (int i = 0; i < MAX_CTL && slot < 0; i++)
					if (ctls[i].fd < 0)
						slot = i;
				if (slot < 0) {
					close(c);
					continue;
				}
				ctls[slot].fd = c;
				ctls[slot].len = 0;
				had_lease = true;
			} else if (idx[k] >= 1000) {
				struct ctl_conn *c = &ctls[idx[k] - 1000];
				if (!ctl_input(c)) {
					close(c->fd);
					c->fd = -1;
					atomic_store(&sim_last_activity_ms, sim_now_ms());
				}
			} else {
				struct sim_dev *d = devs[idx[k]];
				if (d->listen_fd >= 0 && sim_dev_accept(d) == 0)
					had_lease = true;
			}
		}
		if (quit)
			break;

		/* Idle exit. */
		if (idle_ms <= 0)
			continue;
		uint64_t now = sim_now_ms();
		bool lending = false;
		for (int i = 0; i < ndevs; i++)
			lending |= lend_vfio_bdf(devs[i]) != NULL;
		if (nctl() || atomic_load(&sim_live_clients) || lending) {
			atomic_store(&sim_last_activity_ms, now);
			continue;
		}
		uint64_t limit = (uint64_t)idle_ms;
		if (dir && !had_lease && limit < 10000)
			limit = 10000; /* the first lease may take a while to arrive */
		if (now - atomic_load(&sim_last_activity_ms) < limit)
			continue;
		int lock = -1;
		if (dir) {
			char lp[PATH_MAX];
			snprintf(lp, sizeof(lp), "%s/sim/start.lock", dir);
			lock = open(lp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
			if (lock >= 0)
				while (flock(lock, LOCK_EX) < 0 && errno == EINTR)
					;
		}
		if (pending_connections()) {
			if (lock >= 0)
				close(lock);
			atomic_store(&sim_last_activity_ms, sim_now_ms());
			continue;
		}
		sim_log("idle for %llu ms: exiting", (unsigned long long)limit);
		/* Unlink while holding the lock; it is released at exit. */
		for (int i = 0; i < ndevs; i++)
			sim_dev_unplug(devs[i]);
		if (ctl_path)
			unlink(ctl_path);
		break;
	}

out:
	for (int i = 0; i < MAX_CTL; i++)
		if (ctls[i].fd >= 0)
			close(ctls[i].fd);
	if (ctl_fd >= 0) {
		close(ctl_fd);
		unlink(ctl_path);
	}
	free(ctl_path);
	for (int i = 0; i < ndevs; i++)
		sim_dev_destroy(devs[i]);
	if (ready_fd >= 0)
		close(ready_fd);
	close(sigpipe_fds[0]);
	close(sigpipe_fds[1]);
	free(sim_dir);
	return status;
}
