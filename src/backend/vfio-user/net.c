/* SPDX-License-Identifier: MIT */
/*
 * vfio-user over TCP: locations, key and cluster files, connecting. The TLS
 * transport itself (the only part that needs GnuTLS) is net_tls.c, so that a
 * static program that never dials TCP does not need GnuTLS to link (client.c
 * refers to it weakly). See net.h and docs/cluster.md.
 *
 * Why GnuTLS (not OpenSSL): its PSK API takes the raw key and an identity
 * directly (no session-callback dance for TLS 1.3), it negotiates TLS 1.3
 * PSK with (EC)DHE for forward secrecy from a priority string, and one
 * session may be read by one thread while another writes (the client's
 * reader thread and its requesters), which OpenSSL's SSL objects do not
 * allow without a lock around both.
 */
#include "net.h"

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>


static void seterr(char *err, size_t cap, const char *fmt, const char *a, const char *b)
{
	if (err && cap)
		snprintf(err, cap, fmt, a ? a : "", b ? b : "");
}

bool vfu_net_is_tcp(const char *loc)
{
	return loc && strncmp(loc, VFU_NET_SCHEME, strlen(VFU_NET_SCHEME)) == 0;
}

static int copy_part(char *dst, size_t cap, const char *s, size_t n)
{
	if (!dst)
		return n ? -EINVAL : 0;
	if (n >= cap)
		return -EINVAL;
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

bool vfu_net_name_ok(const char *n)
{
	size_t l = strlen(n);
	if (l == 0 || l > 100 || n[0] == '.')
		return false;
	for (size_t i = 0; i < l; i++) {
		char c = n[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.' || c == ':'))
			return false;
	}
	return true;
}

int vfu_net_parse(const char *loc, char *host, size_t hcap, char *port, size_t pcap, char *dev,
		  size_t dcap)
{
	if (!vfu_net_is_tcp(loc))
		return -EINVAL;
	const char *p = loc + strlen(VFU_NET_SCHEME);
	const char *slash = strchr(p, '/');
	const char *end = slash ? slash : p + strlen(p);
	const char *hs = p, *he, *ps = NULL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (!rb)
			return -EINVAL;
		hs = p + 1;
		he = rb;
		if (rb + 1 < end) {
			if (rb[1] != ':')
				return -EINVAL;
			ps = rb + 2;
		}
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		he = colon ? colon : end;
		if (colon)
			ps = colon + 1;
	}
	if (he == hs)
		return -EINVAL;
	if (copy_part(host, hcap, hs, (size_t)(he - hs)))
		return -EINVAL;
	if (ps) {
		if (ps == end || (size_t)(end - ps) > 5)
			return -EINVAL;
		for (const char *q = ps; q < end; q++)
			if (*q < '0' || *q > '9')
				return -EINVAL;
		if (copy_part(port, pcap, ps, (size_t)(end - ps)))
			return -EINVAL;
	} else if (copy_part(port, pcap, VFU_NET_DEFAULT_PORT, strlen(VFU_NET_DEFAULT_PORT))) {
		return -EINVAL;
	}
	if (slash) {
		const char *d = slash + 1;
		size_t n = strlen(d);
		if (!dev || n == 0)
			return -EINVAL;
		if (!vfu_net_name_ok(d))
			return -EINVAL;
		return copy_part(dev, dcap, d, n);
	}
	if (dev && dcap)
		dev[0] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vfu_net_load_key(const char *path, struct vfu_net_key *k, char *err, size_t errcap)
{
	if (!path || !*path || !k)
		return -EINVAL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0) {
		int e = errno;
		seterr(err, errcap, "key file %s: %s", path, strerror(e));
		return -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		seterr(err, errcap, "key file %s: %s", path, "not a regular file");
		return -EINVAL;
	}
	if ((st.st_uid != getuid() && st.st_uid != 0) || (st.st_mode & 0077)) {
		close(fd);
		seterr(err, errcap, "key file %s: %s", path,
		       "must belong to this user or root and be private (chmod 600)");
		return -EPERM;
	}
	char buf[512];
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	char *nl = strpbrk(buf, "\r\n");
	if (nl)
		*nl = '\0';
	memset(k, 0, sizeof(*k));
	const char *hex = buf;
	char *colon = strchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if (!*buf || strlen(buf) >= sizeof(k->identity))
			goto bad;
		snprintf(k->identity, sizeof(k->identity), "%s", buf);
		hex = colon + 1;
	} else {
		snprintf(k->identity, sizeof(k->identity), "%s", VFU_NET_DEFAULT_IDENTITY);
	}
	size_t hl = strlen(hex);
	if (hl % 2 || hl < 32 || hl > 2 * sizeof(k->key))
		goto bad;
	for (size_t i = 0; i < hl / 2; i++) {
		int hi = hexval(hex[2 * i]), lo = hexval(hex[2 * i + 1]);
		if (hi < 0 || lo < 0)
			goto bad;
		k->key[i] = (uint8_t)(hi << 4 | lo);
	}
	k->len = hl / 2;
	memset(buf, 0, sizeof(buf));
	return 0;
bad:
	memset(buf, 0, sizeof(buf));
	memset(k, 0, sizeof(*k));
	seterr(err, errcap, "key file %s: %s", path,
	       "expected one line [IDENTITY:]HEX with 32 to 128 hex digits");
	return -EINVAL;
}

void vfu_net_tune(int fd)
{
	int one = 1, idle = VFU_NET_KEEPIDLE_S, intvl = VFU_NET_KEEPINTVL_S, cnt = VFU_NET_KEEPCNT;
	unsigned ut = VFU_NET_USER_TIMEOUT_MS;
	/* best effort: each only shortens how long a dead peer goes unnoticed */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof(one));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof(idle));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof(intvl));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof(cnt));
	(void)setsockopt(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, &ut, sizeof(ut));
}

static int connect_one(const struct addrinfo *ai, int64_t deadline_ms, int *out)
{
	int s = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC | SOCK_NONBLOCK,
		       ai->ai_protocol);
	if (s < 0)
		return -errno;
	vfu_net_tune(s);
	int e = 0;
	if (connect(s, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			e = -errno;
		} else {
			for (;;) {
				int64_t left = deadline_ms - vfu_now_ms();
				if (left <= 0) {
					e = -ETIMEDOUT;
					break;
				}
				struct pollfd p = { .fd = s, .events = POLLOUT };
				int r = poll(&p, 1, left > INT32_MAX ? INT32_MAX : (int)left);
				if (r < 0 && errno == EINTR)
					continue;
				if (r < 0) {
					e = -errno;
					break;
				}
				if (r == 0)
					continue;
				int soe = 0;
				socklen_t sl = sizeof(soe);
				if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soe, &sl) < 0)
					soe = errno;
				e = -soe;
				break;
			}
		}
	}
	if (e) {
		close(s);
		return e;
	}
	*out = s;
	return 0;
}

int vfu_net_connect(const char *host, const char *port, int64_t deadline_ms, int *fd)
{
	if (!host || !port || !fd)
		return -EINVAL;
	struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *res = NULL;
	int g = getaddrinfo(host, port, &hints, &res);
	if (g)
		return g == EAI_SYSTEM ? -errno : -EHOSTUNREACH;
	int rc = -EHOSTUNREACH;
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		rc = connect_one(ai, deadline_ms, fd);
		if (rc == 0 || rc == -ETIMEDOUT)
			break;
	}
	freeaddrinfo(res);
	return rc;
}

long vfu_net_read_line(struct vfu_xport *x, char *buf, size_t cap, int64_t deadline_ms)
{
	if (!x || !buf || cap < 2)
		return -EINVAL;
	size_t n = 0;
	for (;;) {
		char c;
		long r = vfu_xport_read_full(x, &c, 1, deadline_ms);
		if (r <= 0)
			return r == 0 && n ? -EPROTO : r;
		if (c == '\n')
			break;
		if (n + 1 >= cap)
			return -EMSGSIZE;
		buf[n++] = c;
	}
	buf[n] = '\0';
	return (long)n;
}

/* ---- the cluster file ---------------------------------------------------- */

int vfu_net_config_path(char *buf, size_t cap)
{
	const char *e = getenv("UDD_CLUSTER_CONFIG");
	int n;
	if (e && *e) {
		n = snprintf(buf, cap, "%s", e);
	} else if ((e = getenv("XDG_CONFIG_HOME")) && *e) {
		n = snprintf(buf, cap, "%s/udd/cluster", e);
	} else {
		const char *home = getenv("HOME");
		n = -1;
		if (home && *home) {
			n = snprintf(buf, cap, "%s/.config/udd/cluster", home);
			if (n >= 0 && (size_t)n < cap && access(buf, F_OK) != 0)
				n = -1;
		}
		if (n < 0)
			n = snprintf(buf, cap, "/etc/udd/cluster");
	}
	return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

/* Call @fn(arg, keyword, value) for each line of the cluster file. */
static int config_each(int (*fn)(void *arg, const char *kw, const char *val), void *arg)
{
	char path[512];
	int rc = vfu_net_config_path(path, sizeof(path));
	if (rc)
		return rc;
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : -errno;
	char line[600];
	rc = 0;
	for (int lines = 0; !rc && lines < 4096 && fgets(line, sizeof(line), f); lines++) {
		char *p = line;
		while (*p == ' ' || *p == '\t')
			p++;
		p[strcspn(p, "\r\n")] = '\0';
		if (!*p || *p == '#')
			continue;
		char *v = p + strcspn(p, " \t");
		if (*v) {
			*v++ = '\0';
			while (*v == ' ' || *v == '\t')
				v++;
		}
		rc = fn(arg, p, v);
	}
	fclose(f);
	return rc;
}

static int settings_line(void *arg, const char *kw, const char *val)
{
	struct vfu_net_settings *s = arg;
	if (strcmp(kw, "key") == 0 && !s->key_path[0])
		snprintf(s->key_path, sizeof(s->key_path), "%s", val);
	else if (strcmp(kw, "insecure") == 0)
		s->insecure = true;
	else if (strcmp(kw, "node") == 0) {
		char *end;
		unsigned long n = strtoul(val, &end, 0);
		if (*val && !*end && n < 1024)
			s->node = (unsigned)n;
	}
	return 0;
}

int vfu_net_settings(struct vfu_net_settings *s)
{
	if (!s)
		return -EINVAL;
	memset(s, 0, sizeof(*s));
	const char *e = getenv("UDD_CLUSTER_KEY");
	if (e && *e)
		snprintf(s->key_path, sizeof(s->key_path), "%s", e);
	e = getenv("UDD_CLUSTER_INSECURE");
	if (e && strcmp(e, "1") == 0)
		s->insecure = true;
	return config_each(settings_line, s);
}

struct peers_arg {
	int (*fn)(void *arg, const char *hostport);
	void *arg;
};

static int peers_line(void *arg, const char *kw, const char *val)
{
	struct peers_arg *a = arg;
	if (strcmp(kw, "peer") == 0 && *val)
		return a->fn(a->arg, val);
	return 0;
}

int vfu_net_peers(int (*fn)(void *arg, const char *hostport), void *arg)
{
	struct peers_arg a = { fn, arg };
	return config_each(peers_line, &a);
}
