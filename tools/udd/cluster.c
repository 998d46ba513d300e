/* SPDX-License-Identifier: MIT */
/* udd: udd connect / disconnect (the cluster file) and udd add / remove (lending). */
#include "udd.h"

/* ---- cluster: connect / disconnect ------------------------------------------ */

/* HOST[:PORT] with the default port filled in, in @out. */
static int norm_peer(const char *arg, char *out, size_t cap, char *host, size_t hcap, char *port,
		     size_t pcap)
{
	char loc[400];
	if (snprintf(loc, sizeof(loc), VFU_NET_SCHEME "%s", arg) >= (int)sizeof(loc) ||
	    vfu_net_parse(loc, host, hcap, port, pcap, NULL, 0))
		return -EINVAL;
	bool v6 = strchr(host, ':') != NULL;
	if (snprintf(out, cap, "%s%s%s:%s", v6 ? "[" : "", host, v6 ? "]" : "", port) >= (int)cap)
		return -EINVAL;
	return 0;
}

/* Rewrite the cluster file: drop `peer` lines matching @drop (NULL: none),
 * set `key`/`node`/`insecure` when given, append `peer @add` (NULL: none). */
static int cluster_edit(const char *drop, const char *add, const char *key, long node,
			bool insecure, int *dropped)
{
	char path[512], tmp[600];
	if (vfu_net_config_path(path, sizeof(path)))
		return -ENAMETOOLONG;
	char dir[512];
	snprintf(dir, sizeof(dir), "%s", path);
	char *sl = strrchr(dir, '/');
	if (sl && sl != dir) {
		*sl = '\0';
		char sub[512];
		for (char *q = dir + 1;; q++) { /* mkdir -p */
			if (*q == '/' || *q == '\0') {
				snprintf(sub, sizeof(sub), "%.*s", (int)(q - dir), dir);
				if (mkdir(sub, 0700) < 0 && errno != EEXIST)
					return -errno;
				if (!*q)
					break;
			}
		}
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid());
	FILE *in = fopen(path, "re");
	FILE *out = fopen(tmp, "we");
	if (!out) {
		int e = -errno;
		if (in)
			fclose(in);
		return e;
	}
	fchmod(fileno(out), 0600);
	char line[600];
	bool have_add = false;
	*dropped = 0;
	if (!in)
		fprintf(out, "# udd cluster file (udd connect/disconnect; docs/cluster.md)\n");
	while (in && fgets(line, sizeof(line), in)) {
		char kw[16] = "", val[512] = "";
		sscanf(line, "%15s %511s", kw, val);
		if (!strcmp(kw, "peer")) {
			char n[400], h[256], pt[8];
			if (norm_peer(val, n, sizeof(n), h, sizeof(h), pt, sizeof(pt)) == 0) {
				if (drop && (!strcmp(n, drop) || !strcmp(h, drop) || !strcmp(val, drop))) {
					(*dropped)++;
					continue;
				}
				if (add && !strcmp(n, add))
					have_add = true;
			}
		}
		if ((key && !strcmp(kw, "key")) || (node >= 0 && !strcmp(kw, "node")) ||
		    (insecure && !strcmp(kw, "insecure")))
			continue;
		fputs(line, out);
	}
	if (in)
		fclose(in);
	if (key)
		fprintf(out, "key %s\n", key);
	if (node >= 0)
		fprintf(out, "node %ld\n", node);
	if (insecure)
		fprintf(out, "insecure\n");
	if (add && !have_add)
		fprintf(out, "peer %s\n", add);
	if (fclose(out) != 0 || rename(tmp, path) != 0) {
		int e = -errno;
		unlink(tmp);
		return e;
	}
	return 0;
}

/* Ask the gateway for its device list: how many, or -errno. */
static int peer_count(const char *host, const char *port, const char *keyfile, bool insecure)
{
	struct vfu_net_settings st;
	int rc = vfu_net_settings(&st);
	if (rc)
		return rc;
	struct vfu_net_key k, *kp = NULL;
	char err[256];
	if (!insecure && !st.insecure) {
		const char *kf = keyfile ? keyfile : st.key_path;
		if (!kf[0]) {
			die_msg("no cluster key: --key FILE, $UDD_CLUSTER_KEY or `key` in the cluster file");
			return -EACCES;
		}
		if ((rc = vfu_net_load_key(kf, &k, err, sizeof(err)))) {
			die_msg("%s", err);
			return rc;
		}
		kp = &k;
	}
	int64_t dl = vfu_now_ms() + 5000;
	int fd;
	struct vfu_xport xp;
	if ((rc = vfu_net_connect(host, port, dl, &fd)))
		return rc;
	if ((rc = vfu_net_open(&xp, fd, kp, false, dl, err, sizeof(err)))) {
		die_msg("%s:%s: %s", host, port, err);
		return rc;
	}
	int n = 0;
	rc = vfu_xport_write_all(&xp, "list\n", 5, dl);
	char line[VFU_NET_LINE_MAX];
	while (!rc) {
		long r = vfu_net_read_line(&xp, line, sizeof(line), dl);
		if (r <= 0) {
			rc = r ? (int)r : -EPROTO;
			break;
		}
		if (!strcmp(line, "end"))
			break;
		if (!strncmp(line, "dev ", 4))
			n++;
	}
	vfu_net_shutdown(&xp);
	vfu_net_close(&xp);
	return rc ? rc : n;
}

int cmd_connect(int argc, char **argv, int connect)
{
	const char *key = NULL, *target = NULL;
	long node = -1;
	bool insecure = false;
	for (int i = 1; i < argc; i++) {
		if (connect && !strcmp(argv[i], "--key") && i + 1 < argc)
			key = argv[++i];
		else if (connect && !strcmp(argv[i], "--node") && i + 1 < argc)
			node = strtol(argv[++i], NULL, 0);
		else if (connect && !strcmp(argv[i], "--insecure"))
			insecure = true;
		else if (argv[i][0] != '-' && !target)
			target = argv[i];
		else {
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!target || (connect && (node == 0 || node > 1023))) {
		usage(stderr);
		return EXIT_USAGE;
	}
	char peer[400], host[256], port[8];
	if (norm_peer(target, peer, sizeof(peer), host, sizeof(host), port, sizeof(port))) {
		die_msg("bad host '%s' (HOST[:PORT])", target);
		return 1;
	}
	char keyabs[PATH_MAX];
	if (key && !realpath(key, keyabs)) {
		die_msg("key file %s: %s", key, strerror(errno));
		return 1;
	}
	int dropped = 0, rc;
	if (connect) {
		int n = peer_count(host, port, key ? keyabs : NULL, insecure);
		if (n < 0) {
			die_msg("cannot reach the gateway at %s: %s", peer, strerror(-n));
			return 1;
		}
		rc = cluster_edit(NULL, peer, key ? keyabs : NULL, node, insecure, &dropped);
		if (!rc)
			printf("connected to %s: %d device%s\n", peer, n, n == 1 ? "" : "s");
	} else {
		/* a bare HOST removes it whatever its port */
		bool bare = !strchr(target, ':') || (target[0] == '[' && !strstr(target, "]:"));
		rc = cluster_edit(bare ? host : peer, NULL, NULL, -1, false, &dropped);
		if (!rc && !dropped) {
			die_msg("%s is not in the cluster file", target);
			return 1;
		}
	}
	if (rc) {
		die_msg("cannot write the cluster file: %s", strerror(-rc));
		return 1;
	}
	return 0;
}

/* The udd-sim control socket of the runtime directory (as the library finds it). */
static void control_path(char *out, size_t len)
{
	const char *rt = getenv("UDD_RUNTIME_DIR"), *x = getenv("XDG_RUNTIME_DIR");
	if (rt && *rt)
		snprintf(out, len, "%s/sim/control.sock", rt);
	else if (x && *x)
		snprintf(out, len, "%s/udd/sim/control.sock", x);
	else
		snprintf(out, len, "/tmp/udd-%u/sim/control.sock", (unsigned)getuid());
}

static int control_connect(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	struct timeval tv = { .tv_sec = 15 }; /* opening a device may take a while */
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	return fd;
}

/* udd add / udd remove: one line to the daemon, its reply printed. */
int cmd_lend(int argc, char **argv, int add)
{
	const char *group = NULL, *bdf = NULL;
	int force = 0;
	for (int i = 1; i < argc; i++) {
		if (add && strcmp(argv[i], "--group") == 0 && i + 1 < argc)
			group = argv[++i];
		else if (!add && strcmp(argv[i], "--force") == 0)
			force = 1;
		else if (!bdf && argv[i][0] != '-')
			bdf = argv[i];
		else
			bdf = NULL, i = argc;
	}
	if (!bdf || strlen(bdf) != 12 || strchr(bdf, ' ') || (group && strchr(group, ' '))) {
		usage(stderr);
		return EXIT_USAGE;
	}
	char path[600];
	control_path(path, sizeof(path));
	udd_ctx_t *ctx = NULL;
	int fd = control_connect(path);
	if (fd < 0 && add) {
		/* no daemon yet: a context starts the embedded one (and holds it
		 * up until the device is lent; a lending daemon does not idle out) */
		int rc = udd_ctx_open(&ctx, NULL);
		if (rc < 0) {
			die_msg("cannot start udd-sim: %s", strerror(-rc));
			return EXIT_BAD;
		}
		fd = control_connect(path);
	}
	if (fd < 0) {
		die_msg("%s: %s", path, strerror(-fd));
		if (ctx)
			udd_ctx_close(ctx);
		return EXIT_BAD;
	}
	char line[200], reply[512];
	if (add)
		snprintf(line, sizeof(line), "add %s%s%s\n", bdf, group ? " " : "", group ? group : "");
	else
		snprintf(line, sizeof(line), "remove %s%s\n", bdf, force ? " force" : "");
	size_t got = 0;
	if (write(fd, line, strlen(line)) == (ssize_t)strlen(line)) {
		ssize_t n;
		while (got < sizeof(reply) - 1 && (n = read(fd, reply + got, sizeof(reply) - 1 - got)) > 0) {
			got += (size_t)n;
			if (memchr(reply, '\n', got))
				break;
		}
	}
	reply[got] = '\0';
	close(fd);
	if (ctx)
		udd_ctx_close(ctx);
	char *nl = strchr(reply, '\n');
	if (nl)
		*nl = '\0';
	if (strcmp(reply, "ok") != 0) {
		die_msg("%s %s: %s", add ? "add" : "remove", bdf, got ? reply : "no reply from udd-sim");
		return EXIT_BAD;
	}
	printf("%s: %s\n", bdf, add ? "lent" : "no longer lent");
	return 0;
}

