/* SPDX-License-Identifier: MIT */
/*
 * Contexts, and the embedded default pool: a udd-sim daemon serving the
 * built-in simulated devices in a per-user runtime directory. The first
 * context on the host starts it; every context holds a connection to its
 * control socket as a lease; it exits by itself when no lease is left.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "internal.h"
#include "sockpath.h"

extern char **environ;

static char *join_paths(const char *a, const char *b)
{
	size_t la = a ? strlen(a) : 0, lb = b ? strlen(b) : 0;
	char *s = malloc(la + lb + 2);
	if (!s)
		return NULL;
	s[0] = '\0';
	if (la)
		strcpy(s, a);
	if (la && lb)
		strcat(s, ":");
	if (lb)
		strcat(s, b);
	return s;
}

static char *default_runtime_dir(void)
{
	const char *e = getenv("UDD_RUNTIME_DIR");
	char buf[512];
	if (e && *e)
		return strdup(e);
	e = getenv("XDG_RUNTIME_DIR");
	if (e && *e) {
		snprintf(buf, sizeof(buf), "%s/udd", e);
		return strdup(buf);
	}
	snprintf(buf, sizeof(buf), "/tmp/udd-%u", (unsigned)getuid());
	return strdup(buf);
}

/* The udd-sim installed with this library, wherever PREFIX is: beside the
 * file that holds this code (libudd.so in LIBDIR, or a program linked
 * statically, in BINDIR), at the relative path the build computed. NULL if
 * there is none. */
static char *sim_beside_me(void)
{
	Dl_info di;
	if (!dladdr((void *)default_runtime_dir, &di) || !di.dli_fname || !strchr(di.dli_fname, '/'))
		return NULL;
	const char *slash = strrchr(di.dli_fname, '/');
	static const char *const rel[] = { UDD_SIM_REL_LIB, UDD_SIM_REL_BIN };
	for (size_t i = 0; i < 2; i++) {
		char buf[4096];
		int n = snprintf(buf, sizeof(buf), "%.*s/%s", (int)(slash - di.dli_fname),
				 di.dli_fname, rel[i]);
		if (n > 0 && (size_t)n < sizeof(buf) && access(buf, X_OK) == 0)
			return strdup(buf);
	}
	return NULL;
}

static char *default_sim_path(void)
{
	const char *e = getenv("UDD_SIM");
	if (e && *e)
		return strdup(e);
	char *beside = sim_beside_me();
	if (beside)
		return beside;
	if (access(UDD_SIM_BUILD_PATH, X_OK) == 0)
		return strdup(UDD_SIM_BUILD_PATH);
	return strdup(UDD_SIM_INSTALL_PATH);
}

/* mkdir with mode 0700; an existing directory is fine if it is ours and
 * private: a directory in /tmp made by someone else (or a symlink planted
 * there) must not receive our sockets and locks. */
int udd_private_dir(const char *path)
{
	if (mkdir(path, 0700) < 0 && errno != EEXIST)
		return -errno;
	struct stat st;
	if (lstat(path, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode) || st.st_uid != getuid() || (st.st_mode & 0022))
		return -EPERM;
	return 0;
}

/* Connect to a UNIX socket; returns fd or -errno. */
static int unix_connect(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	int e = vfu_unix_connect(fd, path); /* any length (sockpath.h) */
	if (e) {
		close(fd);
		return e;
	}
	return fd;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

/* Take an exclusive flock, waiting up to timeout_ms. */
static int lock_wait(int fd, long timeout_ms)
{
	for (long waited = 0;; waited += 10) {
		if (flock(fd, LOCK_EX | LOCK_NB) == 0)
			return 0;
		if (errno != EWOULDBLOCK && errno != EINTR)
			return -errno;
		if (waited >= timeout_ms)
			return -ETIMEDOUT;
		sleep_ms(10);
	}
}

/*
 * udd-sim's daemon parent reports a start-up failure as one line on stderr,
 * "udd-sim: <what>: <strerror text>", and exits 1. The line goes to the log
 * and the errno whose text ends it is returned, so that the caller learns
 * the cause (-EADDRINUSE, -EACCES...), not a bare -EIO. -EIO only when the
 * line names no errno.
 */
static int sim_failure(struct udd_ctx *ctx, int errfd, int status)
{
	char msg[600];
	ssize_t n = errfd >= 0 ? read(errfd, msg, sizeof(msg) - 1) : -1;
	msg[n > 0 ? n : 0] = '\0';
	char *nl = strchr(msg, '\n');
	if (nl)
		*nl = '\0';
	if (!msg[0]) {
		udd_logf(&ctx->log, UDD_LOG_ERR, "udd-sim failed to start (status 0x%x)", status);
		return -EIO;
	}
	udd_logf(&ctx->log, UDD_LOG_ERR, "udd-sim failed to start: %s", msg);
	size_t ml = strlen(msg);
	for (int e = 1; e < 134; e++) {
		const char *t = strerror(e);
		size_t tl = strlen(t);
		if (tl && tl + 2 <= ml && strcmp(msg + ml - tl, t) == 0 && msg[ml - tl - 2] == ':')
			return -e;
	}
	return -EIO;
}

static int start_sim(struct udd_ctx *ctx, const char *simdir)
{
	if (access(ctx->sim_path, X_OK) != 0) {
		udd_logf(&ctx->log, UDD_LOG_ERR, "udd-sim not found at %s (set UDD_SIM)", ctx->sim_path);
		return -ENOENT;
	}
	bool verbose = getenv("UDD_SIM_VERBOSE") != NULL;
	/* stderr: a pipe whose start-up message (if any) says why it failed */
	int ep[2] = { -1, -1 };
	if (!verbose && pipe2(ep, O_CLOEXEC | O_NONBLOCK) < 0)
		ep[0] = ep[1] = -1;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (!verbose) {
		posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
		if (ep[1] >= 0)
			posix_spawn_file_actions_adddup2(&fa, ep[1], 2);
		else
			posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	}
	/* $UDD_SIM_VERBOSE: udd-sim keeps this process's stderr and logs to it */
	char *argv[] = { ctx->sim_path, "--dir", ctx->runtime_dir, "--daemon",
			 verbose ? "-v" : NULL, NULL };
	pid_t pid;
	int rc = posix_spawn(&pid, ctx->sim_path, &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (ep[1] >= 0)
		close(ep[1]);
	if (rc) {
		udd_logf(&ctx->log, UDD_LOG_ERR, "cannot start %s: %s", ctx->sim_path, strerror(rc));
		if (ep[0] >= 0)
			close(ep[0]);
		return -rc;
	}
	/* The daemon's parent exits once every socket listens (or reported
	 * why not, on stderr, before exiting). */
	int status = 0;
	pid_t w;
	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	rc = 0;
	if (w == pid && !(WIFEXITED(status) && WEXITSTATUS(status) == 0))
		rc = sim_failure(ctx, ep[0], status);
	if (ep[0] >= 0)
		close(ep[0]); /* the daemon's later stderr writes fail: it logs nowhere */
	(void)simdir;
	return rc;
}

/* Join (or start) the embedded pool: leave a lease connection in ctx->lease_fd. */
static int join_embedded(struct udd_ctx *ctx)
{
	char simdir[600], ctl[700], lockp[700];
	/* Socket paths of any depth work (sockpath.h: through the directory
	 * when sun_path is too short); only one past PATH_MAX cannot. */
	if (strlen(ctx->runtime_dir) + strlen("/sim/control.sock") >= 4096) {
		udd_logf(&ctx->log, UDD_LOG_ERR, "runtime directory %s is too deep (PATH_MAX)",
			 ctx->runtime_dir);
		return -ENAMETOOLONG;
	}
	int rc = udd_private_dir(ctx->runtime_dir);
	if (rc) {
		udd_logf(&ctx->log, UDD_LOG_ERR,
			 "runtime directory %s: %s (it must be a directory of this user, "
			 "not writable by others)", ctx->runtime_dir, strerror(-rc));
		return rc;
	}
	snprintf(simdir, sizeof(simdir), "%s/sim", ctx->runtime_dir);
	if ((rc = udd_private_dir(simdir))) {
		udd_logf(&ctx->log, UDD_LOG_ERR,
			 "embedded pool directory %s: %s (it must be a directory of this user, "
			 "not writable by others)", simdir, strerror(-rc));
		return rc;
	}
	snprintf(ctl, sizeof(ctl), "%s/control.sock", simdir);
	snprintf(lockp, sizeof(lockp), "%s/start.lock", simdir);

	int fd = unix_connect(ctl);
	if (fd >= 0) {
		ctx->lease_fd = fd;
		return 0;
	}
	int lk = open(lockp, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lk < 0) {
		rc = -errno;
		udd_logf(&ctx->log, UDD_LOG_ERR, "embedded pool: %s: %s", lockp, strerror(-rc));
		return rc;
	}
	rc = lock_wait(lk, 10000);
	if (rc)
		goto out;
	fd = unix_connect(ctl); /* someone may have started it meanwhile */
	if (fd < 0) {
		rc = start_sim(ctx, simdir);
		if (rc)
			goto out;
		for (int i = 0; i < 500 && fd < 0; i++) {
			fd = unix_connect(ctl);
			if (fd < 0)
				sleep_ms(10);
		}
	}
	if (fd < 0) {
		udd_logf(&ctx->log, UDD_LOG_ERR, "embedded pool: cannot reach %s: %s", ctl, strerror(-fd));
		rc = fd == -ENOENT || fd == -ECONNREFUSED ? -ETIMEDOUT : fd;
		goto out;
	}
	ctx->lease_fd = fd;
	rc = 0;
out:
	close(lk); /* releases the lock */
	return rc;
}

void udd_ctx_close(udd_ctx_t *ctx)
{
	if (!ctx)
		return;
	while (ctx->devs)
		udd_dev_return(ctx->devs);
	if (ctx->lease_fd >= 0)
		close(ctx->lease_fd);
	free(ctx->pool_dirs);
	free(ctx->sockets);
	free(ctx->runtime_dir);
	free(ctx->sim_path);
	pthread_mutex_destroy(&ctx->lock);
	pthread_mutex_destroy(&ctx->log.lock);
	free(ctx);
}

int udd_ctx_open(udd_ctx_t **out, const udd_ctx_opts_t *opts)
{
	static const udd_ctx_opts_t defaults;
	if (!out)
		return -EINVAL;
	if (!opts)
		opts = &defaults;
	if (opts->flags & ~(UDD_CTX_F_NO_EMBEDDED | UDD_CTX_F_NO_VFIO | UDD_CTX_F_NO_CLUSTER))
		return -EINVAL;
	struct udd_ctx *ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	ctx->lease_fd = -1;
	pthread_mutex_init(&ctx->lock, NULL);
	pthread_mutex_init(&ctx->log.lock, NULL);
	ctx->log.cb = opts->log_cb;
	ctx->log.user = opts->log_user;
	ctx->log.level = opts->log_level;
	ctx->flags = opts->flags;
	const char *e = getenv("UDD_NO_EMBEDDED");
	if (e && strcmp(e, "1") == 0)
		ctx->flags |= UDD_CTX_F_NO_EMBEDDED;
	e = getenv("UDD_NO_VFIO");
	if (e && strcmp(e, "1") == 0)
		ctx->flags |= UDD_CTX_F_NO_VFIO;
	e = getenv("UDD_NO_CLUSTER");
	if (e && strcmp(e, "1") == 0)
		ctx->flags |= UDD_CTX_F_NO_CLUSTER;

	ctx->pool_dirs = join_paths(opts->pool_dirs, getenv("UDD_POOL"));
	ctx->sockets = join_paths(opts->sockets, getenv("UDD_SOCKETS"));
	ctx->runtime_dir = opts->runtime_dir ? strdup(opts->runtime_dir) : default_runtime_dir();
	ctx->sim_path = opts->sim_path ? strdup(opts->sim_path) : default_sim_path();
	int rc = -ENOMEM;
	if (!ctx->pool_dirs || !ctx->sockets || !ctx->runtime_dir || !ctx->sim_path)
		goto fail;
	if (!(ctx->flags & UDD_CTX_F_NO_EMBEDDED)) {
		rc = join_embedded(ctx);
		if (rc)
			goto fail;
	}
	*out = ctx;
	return 0;
fail:
	udd_ctx_close(ctx);
	return rc;
}
