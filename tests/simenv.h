/* SPDX-License-Identifier: MIT */
/* Helpers for integration tests: a private embedded pool per test, and
 * udd-sim processes the test starts (and kills) itself. */
#ifndef UDD_TEST_SIMENV_H
#define UDD_TEST_SIMENV_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <udd/udd.h>

static char simenv_dir[256];

/* A fresh runtime directory for this test (removed by nobody: it is in /tmp). */
static inline const char *simenv_tmpdir(void)
{
	if (!simenv_dir[0]) {
		snprintf(simenv_dir, sizeof(simenv_dir), "/tmp/udd-test-XXXXXX");
		if (!mkdtemp(simenv_dir)) {
			perror("mkdtemp");
			exit(1);
		}
	}
	return simenv_dir;
}

/* Open a context on this test's private embedded pool. */
static inline udd_ctx_t *simenv_ctx(void)
{
	udd_ctx_opts_t o = { 0 };
	o.runtime_dir = simenv_tmpdir();
	udd_ctx_t *ctx = NULL;
	int rc = udd_ctx_open(&ctx, &o);
	if (rc) {
		fprintf(stderr, "udd_ctx_open: %s\n", strerror(-rc));
		exit(1);
	}
	return ctx;
}

/* The fdid of the first device with these ids, or exit. */
static inline udd_fdid_t simenv_find(udd_ctx_t *ctx, uint16_t vendor, uint16_t device)
{
	udd_filter_t f = { .vendor_id = vendor, .device_id = device };
	udd_fdid_t id;
	int n = udd_pool_list(ctx, &f, &id, 1);
	if (n < 1) {
		fprintf(stderr, "device %04x:%04x not in the pool (%d)\n", vendor, device, n);
		exit(1);
	}
	return id;
}

/* Send one line to the embedded udd-sim's control socket; reply into buf. */
static inline int simenv_control(const char *cmd, char *buf, size_t cap)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/sim/control.sock", simenv_tmpdir());
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	char line[256];
	int n = snprintf(line, sizeof(line), "%s\n", cmd);
	if (write(fd, line, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	size_t got = 0;
	while (got + 1 < cap) {
		ssize_t r = read(fd, buf + got, 1);
		if (r <= 0 || buf[got] == '\n')
			break;
		got++;
	}
	buf[got] = '\0';
	close(fd);
	return 0;
}

/* Start "udd-sim --socket PATH --device MODEL" as a child; returns its pid
 * once the socket exists. */
static inline pid_t simenv_spawn(const char *sock, const char *model)
{
	const char *sim = getenv("UDD_SIM");
	if (!sim) {
		fprintf(stderr, "UDD_SIM not set\n");
		exit(1);
	}
	unlink(sock);
	pid_t pid = fork();
	if (pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGTERM); /* no orphan holding ctest's pipe */
		execl(sim, "udd-sim", "--socket", sock, "--device", model, (char *)NULL);
		_exit(127);
	}
	/* ready when it accepts (the socket file appears at bind(), before listen()) */
	for (int i = 0; i < 500; i++) {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		size_t l = strlen(sock);
		if (l >= sizeof(sa.sun_path))
			break; /* test sockets live in short /tmp directories */
		memcpy(sa.sun_path, sock, l + 1);
		int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		int up = s >= 0 && connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0;
		if (s >= 0)
			close(s);
		if (up)
			return pid;
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	fprintf(stderr, "udd-sim did not create %s\n", sock);
	kill(pid, SIGKILL);
	exit(1);
}

#endif
