/* SPDX-License-Identifier: MIT */
/*
 * net.c and the byte-stream framing of msg.c without a network: location
 * parsing, key files (format, permissions), framing over a socketpair
 * (plaintext transport) and over TLS-PSK (a thread as the server), a wrong
 * key refused, and the size checks on received headers.
 */
#include <fcntl.h>
#include <pthread.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "msg.h"
#include "net.h"
#include "testlib.h"

static char dir[64];

static void write_file(const char *name, const char *text, mode_t mode, char *path, size_t cap)
{
	snprintf(path, cap, "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	REQUIRE(fd >= 0);
	REQUIRE(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	fchmod(fd, mode);
	close(fd);
}

static void test_parse(void)
{
	char h[64], p[8], d[32];
	CHECK_EQ(vfu_net_parse("tcp://10.0.0.1:1234/edu", h, sizeof(h), p, sizeof(p), d, sizeof(d)), 0);
	CHECK(!strcmp(h, "10.0.0.1") && !strcmp(p, "1234") && !strcmp(d, "edu"));
	CHECK_EQ(vfu_net_parse("tcp://host/be", h, sizeof(h), p, sizeof(p), d, sizeof(d)), 0);
	CHECK(!strcmp(h, "host") && !strcmp(p, VFU_NET_DEFAULT_PORT) && !strcmp(d, "be"));
	CHECK_EQ(vfu_net_parse("tcp://[fe80::1]:99/x", h, sizeof(h), p, sizeof(p), d, sizeof(d)), 0);
	CHECK(!strcmp(h, "fe80::1") && !strcmp(p, "99"));
	CHECK_EQ(vfu_net_parse("tcp://host:77", h, sizeof(h), p, sizeof(p), NULL, 0), 0);
	/* a lent device is named by its PCI address */
	CHECK_EQ(vfu_net_parse("tcp://h:1/0000:00:01.0", h, sizeof(h), p, sizeof(p), d, sizeof(d)), 0);
	CHECK(!strcmp(h, "h") && !strcmp(p, "1") && !strcmp(d, "0000:00:01.0"));
	CHECK(vfu_net_name_ok("0000:00:01.0") && !vfu_net_name_ok(".x") && !vfu_net_name_ok("a/b"));
	/* refused: no host, bad port, a path out of the pool, no device where one is needed */
	CHECK_EQ(vfu_net_parse("tcp://:1/edu", h, sizeof(h), p, sizeof(p), d, sizeof(d)), -EINVAL);
	CHECK_EQ(vfu_net_parse("tcp://h:12x/edu", h, sizeof(h), p, sizeof(p), d, sizeof(d)), -EINVAL);
	CHECK_EQ(vfu_net_parse("tcp://h:123456/e", h, sizeof(h), p, sizeof(p), d, sizeof(d)), -EINVAL);
	CHECK_EQ(vfu_net_parse("tcp://h/../x", h, sizeof(h), p, sizeof(p), d, sizeof(d)), -EINVAL);
	CHECK_EQ(vfu_net_parse("tcp://h/a/b", h, sizeof(h), p, sizeof(p), d, sizeof(d)), -EINVAL);
	CHECK_EQ(vfu_net_parse("tcp://h/edu", h, sizeof(h), p, sizeof(p), NULL, 0), -EINVAL);
	CHECK_EQ(vfu_net_parse("/run/x.sock", h, sizeof(h), p, sizeof(p), d, sizeof(d)), -EINVAL);
	CHECK(vfu_net_is_tcp("tcp://x/y") && !vfu_net_is_tcp("/tmp/tcp://"));
}

static void test_keys(struct vfu_net_key *good, struct vfu_net_key *other)
{
	char path[128], err[256];
	struct vfu_net_key k;
	write_file("k1", "00112233445566778899aabbccddeeff\n", 0600, path, sizeof(path));
	CHECK_EQ(vfu_net_load_key(path, &k, err, sizeof(err)), 0);
	CHECK_EQ(k.len, 16);
	CHECK(!strcmp(k.identity, VFU_NET_DEFAULT_IDENTITY));
	CHECK_EQ(k.key[15], 0xff);
	*good = k;
	write_file("k2", "lab:ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100",
		   0400, path, sizeof(path));
	CHECK_EQ(vfu_net_load_key(path, &k, err, sizeof(err)), 0);
	CHECK(!strcmp(k.identity, "lab") && k.len == 32);
	/* another key, same identity as k1 */
	write_file("k3", "udd:0123456789abcdef0123456789abcdef", 0600, path, sizeof(path));
	CHECK_EQ(vfu_net_load_key(path, other, err, sizeof(err)), 0);
	/* refused: readable by others, too short, not hex, missing */
	write_file("k4", "00112233445566778899aabbccddeeff", 0644, path, sizeof(path));
	CHECK_EQ(vfu_net_load_key(path, &k, err, sizeof(err)), -EPERM);
	CHECK(strstr(err, "private") != NULL);
	write_file("k5", "0011223344", 0600, path, sizeof(path));
	CHECK_EQ(vfu_net_load_key(path, &k, err, sizeof(err)), -EINVAL);
	write_file("k6", "zz112233445566778899aabbccddeeff", 0600, path, sizeof(path));
	CHECK_EQ(vfu_net_load_key(path, &k, err, sizeof(err)), -EINVAL);
	snprintf(path, sizeof(path), "%s/none", dir);
	CHECK_EQ(vfu_net_load_key(path, &k, err, sizeof(err)), -ENOENT);
}

/* ---- framing over a plaintext transport (a socketpair) -------------------------- */

static void test_plain_framing(void)
{
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct vfu_xport a, b;
	REQUIRE_OK(vfu_net_open(&a, sv[0], NULL, false, vfu_now_ms() + 1000, NULL, 0));
	REQUIRE_OK(vfu_net_open(&b, sv[1], NULL, true, vfu_now_ms() + 1000, NULL, 0));
	static uint8_t big[70000], rx[80000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 13);
	struct vfu_hdr h = { .msg_id = 7, .cmd = VFU_CMD_REGION_WRITE };
	/* a large message (several socket writes) and a small one behind it */
	CHECK_EQ(vfu_xmsg_send(&a, &h, big, 100, big + 100, sizeof(big) - 100, vfu_now_ms() + 5000),
		 0);
	struct vfu_hdr h2 = { .msg_id = 8, .cmd = VFU_CMD_DEVICE_RESET };
	long n = vfu_xmsg_recv(&b, rx, sizeof(rx), vfu_now_ms() + 1000, 1000);
	CHECK_EQ(n, (long)(sizeof(h) + sizeof(big)));
	CHECK(memcmp(rx + sizeof(h), big, sizeof(big)) == 0);
	/* nothing more yet: an idle deadline already reached is -EAGAIN, stream intact */
	CHECK_EQ(vfu_xmsg_recv(&b, rx, sizeof(rx), vfu_now_ms(), 1000), -EAGAIN);
	CHECK_EQ(vfu_xmsg_send(&a, &h2, NULL, 0, NULL, 0, -1), 0);
	CHECK_EQ(vfu_xmsg_recv(&b, rx, sizeof(rx), -1, 1000), (long)sizeof(h2));
	/* a message larger than the buffer: -EMSGSIZE before its payload is read */
	CHECK_EQ(vfu_xmsg_send(&a, &h, big, 1000, NULL, 0, -1), 0);
	CHECK_EQ(vfu_xmsg_recv(&b, rx, 512, -1, 1000), -EMSGSIZE);
	/* a header claiming less than itself */
	vfu_net_close(&b);
	vfu_net_close(&a);
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	REQUIRE_OK(vfu_net_open(&b, sv[1], NULL, true, vfu_now_ms() + 1000, NULL, 0));
	struct vfu_hdr bad = { .msg_size = 8 };
	CHECK(write(sv[0], &bad, sizeof(bad)) == sizeof(bad));
	CHECK_EQ(vfu_xmsg_recv(&b, rx, sizeof(rx), -1, 1000), -EPROTO);
	/* a header and then silence: -ETIMEDOUT inside the message */
	struct vfu_hdr part = { .msg_size = 64 };
	CHECK(write(sv[0], &part, sizeof(part)) == sizeof(part));
	CHECK_EQ(vfu_xmsg_recv(&b, rx, sizeof(rx), -1, 200), -ETIMEDOUT);
	/* EOF inside a message */
	CHECK(write(sv[0], &part, 10) == 10);
	close(sv[0]);
	CHECK_EQ(vfu_xmsg_recv(&b, rx, sizeof(rx), -1, 1000), -EPROTO);
	vfu_net_close(&b);
}

/* ---- TLS-PSK over a socketpair ------------------------------------------------- */

struct srv {
	int fd;
	const struct vfu_net_key *key;
	int rc;
	char err[256];
};

static void *tls_server(void *p)
{
	struct srv *s = p;
	struct vfu_xport x;
	s->rc = vfu_net_open(&x, s->fd, s->key, true, vfu_now_ms() + 5000, s->err, sizeof(s->err));
	if (s->rc)
		return NULL;
	uint8_t b[256];
	long n = vfu_xmsg_recv(&x, b, sizeof(b), vfu_now_ms() + 5000, 5000);
	if (n > 0) {
		struct vfu_hdr h;
		memcpy(&h, b, sizeof(h));
		h.flags = VFU_F_TYPE_REPLY;
		vfu_xmsg_send(&x, &h, b + sizeof(h), (size_t)n - sizeof(h), NULL, 0, -1);
	}
	vfu_net_shutdown(&x);
	vfu_net_close(&x);
	return NULL;
}

static int tls_round(const struct vfu_net_key *ck, const struct vfu_net_key *sk, char *err,
		     size_t errcap)
{
	int sv[2];
	REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	struct srv s = { .fd = sv[1], .key = sk };
	pthread_t t;
	pthread_create(&t, NULL, tls_server, &s);
	struct vfu_xport x;
	int rc = vfu_net_open(&x, sv[0], ck, false, vfu_now_ms() + 5000, err, errcap);
	if (rc == 0) {
		struct vfu_hdr h = { .msg_id = 3, .cmd = VFU_CMD_DEVICE_GET_INFO };
		uint8_t b[256];
		CHECK_EQ(vfu_xmsg_send(&x, &h, "ping", 5, NULL, 0, vfu_now_ms() + 5000), 0);
		CHECK_EQ(vfu_xmsg_recv(&x, b, sizeof(b), vfu_now_ms() + 5000, 5000), 16 + 5);
		CHECK(memcmp(b + 16, "ping", 5) == 0);
		vfu_net_close(&x);
	}
	pthread_join(t, NULL);
	return rc;
}

static void test_tls(const struct vfu_net_key *good, const struct vfu_net_key *other)
{
	char err[256] = "";
	CHECK_EQ(tls_round(good, good, err, sizeof(err)), 0);
	/* another key: refused in the handshake, on both sides */
	CHECK_EQ(tls_round(other, good, err, sizeof(err)), -EACCES);
	CHECK(strstr(err, "TLS") != NULL);
	/* another identity */
	struct vfu_net_key k = *good;
	snprintf(k.identity, sizeof(k.identity), "intruder");
	CHECK_EQ(tls_round(&k, good, err, sizeof(err)), -EACCES);
}

int main(void)
{
	snprintf(dir, sizeof(dir), "/tmp/udd-test-net-XXXXXX");
	REQUIRE(mkdtemp(dir) != NULL);
	struct vfu_net_key good, other;
	test_parse();
	test_keys(&good, &other);
	test_plain_framing();
	test_tls(&good, &other);
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	CHECK_EQ(system(cmd), 0);
	return t_done("test_net");
}
