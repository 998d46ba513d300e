/* SPDX-License-Identifier: MIT */
/*
 * vfio-user client: connecting (UNIX, TCP), the VERSION handshake, open and close (client_priv.h).
 */
#include "client_priv.h"

static const char *const mode_names[] = { "probe", "shared", "exclusive" };

/* ------------------------------------------------------------------------ */
/* handshake                                                                 */
/* ------------------------------------------------------------------------ */

/* Integer capability @key of @o: 0 absent, 1 present (in *out), -EPROTO
 * wrong type or outside [min, max]. */
static int cap_int(struct json_object *o, const char *key, int64_t min, int64_t max, int64_t *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_int))
		return -EPROTO;
	errno = 0;
	int64_t x = json_object_get_int64(v);
	if (errno || x < min || x > max)
		return -EPROTO;
	*out = x;
	return 1;
}

/* Boolean @key: 0 absent, 1 present, -EPROTO not a boolean. */
static int cap_bool(struct json_object *o, const char *key, bool *out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_boolean))
		return -EPROTO;
	*out = json_object_get_boolean(v);
	return 1;
}

/* Object @key: 0 absent, 1 present, -EPROTO not an object. */
static int cap_obj(struct json_object *o, const char *key, struct json_object **out)
{
	struct json_object *v;
	if (!json_object_object_get_ex(o, key, &v))
		return 0;
	if (!json_object_is_type(v, json_type_object))
		return -EPROTO;
	*out = v;
	return 1;
}

static struct json_object *build_caps(const struct vfu_client *c)
{
	struct json_object *root = json_object_new_object();
	struct json_object *caps = json_object_new_object();
	struct json_object *twin = json_object_new_object();
	struct json_object *udd = json_object_new_object();
	if (!root || !caps || !twin || !udd)
		goto fail;
	if (json_object_object_add(twin, "supported", json_object_new_boolean(1)) ||
	    json_object_object_add(udd, VFU_UDD_CAP_BORROW,
				   json_object_new_string(mode_names[c->mode])) ||
	    json_object_object_add(udd, VFU_UDD_CAP_DMA_FAULTS, json_object_new_boolean(1)) ||
	    json_object_object_add(udd, VFU_UDD_CAP_DMA_SYNC, json_object_new_boolean(1)) ||
	    (c->net && json_object_object_add(udd, VFU_UDD_CAP_IRQ_MSGS,
					      json_object_new_boolean(1))) ||
	    json_object_object_add(caps, "max_msg_fds",
				   json_object_new_int(c->net ? 0 : VFU_CLIENT_MAX_RECV_FDS)) ||
	    json_object_object_add(caps, "max_data_xfer_size",
				   json_object_new_int64(VFU_DEFAULT_MAX_DATA_XFER)) ||
	    /* proposed so that a server may state its own limits: the reply's
	     * capabilities are a subset of the proposal (vfio-user.rst) */
	    json_object_object_add(caps, "max_dma_maps",
				   json_object_new_int64(VFU_DEFAULT_MAX_DMA_MAPS)) ||
	    json_object_object_add(caps, "pgsizes", json_object_new_int64(4096)))
		goto fail;
	if (c->net) {
		json_object_put(twin); /* a twin socket is a descriptor: not over TCP */
	} else if (json_object_object_add(caps, "twin_socket", twin)) {
		twin = NULL; /* json-c frees the value when add fails */
		goto fail;
	}
	twin = NULL;
	if (json_object_object_add(caps, VFU_UDD_CAP, udd)) {
		udd = NULL;
		goto fail;
	}
	udd = NULL;
	if (json_object_object_add(root, "capabilities", caps)) {
		caps = NULL;
		goto fail;
	}
	return root;
fail:
	json_object_put(udd);
	json_object_put(twin);
	json_object_put(caps);
	json_object_put(root);
	return NULL;
}

/* Parse the capabilities of the server's VERSION reply. Takes ownership of
 * @fds (the twin socket, if any, goes to *twin_fd; the rest are closed). */
static int parse_caps(struct vfu_client *c, struct json_object *caps, int *fds, size_t nf,
		      int *twin_fd)
{
	int64_t v;
	int r;
	bool b;
	struct json_object *o;

	if ((r = cap_int(caps, "max_msg_fds", 0, INT32_MAX, &v)) < 0)
		return violation(c, "bad max_msg_fds");
	if (r)
		c->srv_max_fds = v > VFU_MAX_FDS ? VFU_MAX_FDS : (uint32_t)v;
	/* at least 8 so that a register access is never split */
	if ((r = cap_int(caps, "max_data_xfer_size", 8, INT64_MAX, &v)) < 0)
		return violation(c, "bad max_data_xfer_size");
	if (r)
		c->srv_max_xfer = v > (int64_t)VFU_DEFAULT_MAX_DATA_XFER ? VFU_DEFAULT_MAX_DATA_XFER
									 : (uint32_t)v;
	if ((r = cap_int(caps, "max_dma_maps", 1, INT64_MAX, &v)) < 0)
		return violation(c, "bad max_dma_maps");
	if (r)
		c->srv_max_dma_maps = (uint64_t)v;
	if (cap_int(caps, "pgsizes", 0, INT64_MAX, &v) < 0)
		return violation(c, "bad pgsizes");
	if (cap_bool(caps, "write_multiple", &b) < 0)
		return violation(c, "bad write_multiple");

	/* twin_socket */
	if ((r = cap_obj(caps, "twin_socket", &o)) < 0)
		return violation(c, "twin_socket is not an object");
	bool twin = false;
	if (r) {
		if (cap_bool(o, "supported", &twin) < 0)
			return violation(c, "bad twin_socket.supported");
		if (twin) {
			r = cap_int(o, "fd_index", 0, (int64_t)nf - 1, &v);
			if (r <= 0)
				return violation(c, "twin_socket without a valid fd_index");
			struct stat st;
			if (fstat(fds[v], &st) || !S_ISSOCK(st.st_mode))
				return violation(c, "twin socket descriptor is not a socket");
			*twin_fd = fds[v];
			fds[v] = -1;
		}
	}
	if (!twin && nf)
		return violation(c, "descriptors in the VERSION reply without a twin socket");
	if (twin && nf > 1)
		return violation(c, "extra descriptors in the VERSION reply");

	/* udd extension */
	if ((r = cap_obj(caps, VFU_UDD_CAP, &o)) < 0)
		return violation(c, "udd capability is not an object");
	if (r) {
		struct json_object *m;
		if (json_object_object_get_ex(o, VFU_UDD_CAP_BORROW, &m)) {
			if (!json_object_is_type(m, json_type_string) ||
			    strcmp(json_object_get_string(m), mode_names[c->mode]) != 0)
				return violation(c, "udd.borrow is not the mode asked for");
			c->enforces_borrow = true;
		}
		if (cap_bool(o, VFU_UDD_CAP_DMA_FAULTS, &c->srv_dma_faults) < 0)
			return violation(c, "bad udd.dma_faults");
		if (cap_bool(o, VFU_UDD_CAP_DMA_SYNC, &c->srv_dma_sync) < 0)
			return violation(c, "bad udd.dma_sync");
		bool im = false;
		if (cap_bool(o, VFU_UDD_CAP_IRQ_MSGS, &im) < 0)
			return violation(c, "bad udd.irq_msgs");
		c->irq_msgs = im && c->net; /* only asked for over a network */
		struct json_object *io, *ja, *jb;
		if (json_object_object_get_ex(o, VFU_UDD_CAP_IOVA_RANGE, &io)) {
			if (!json_object_is_type(io, json_type_object) ||
			    !json_object_object_get_ex(io, "start", &ja) ||
			    !json_object_object_get_ex(io, "end", &jb) ||
			    !json_object_is_type(ja, json_type_int) ||
			    !json_object_is_type(jb, json_type_int))
				return violation(c, "bad udd.iova_range");
			c->srv_iova_start = json_object_get_uint64(ja);
			c->srv_iova_end = json_object_get_uint64(jb);
			if (c->srv_iova_start > c->srv_iova_end)
				return violation(c, "empty udd.iova_range");
			c->srv_iova = true;
		}
	}
	return 0;
}

/* Parse a VERSION reply payload; owns @fds whatever happens. */
static int parse_version(struct vfu_client *c, const uint8_t *pl, size_t plen, int *fds, size_t nf)
{
	int rc;
	int twin_fd = -1;
	struct json_object *root = NULL;
	struct json_tokener *tok = NULL;
	struct vfu_version v;

	if (plen < sizeof(v)) {
		rc = violation(c, "short VERSION reply");
		goto out;
	}
	memcpy(&v, pl, sizeof(v));
	if (v.major != VFU_PROTO_MAJOR || v.minor > VFU_PROTO_MINOR) {
		udd_logf(c->log, UDD_LOG_ERR, "vfio-user: server speaks version %u.%u, we %u.%u",
			 v.major, v.minor, VFU_PROTO_MAJOR, VFU_PROTO_MINOR);
		rc = violation(c, "incompatible version");
		goto out;
	}
	const char *js = (const char *)pl + sizeof(v);
	size_t jl = plen - sizeof(v);
	size_t sl = jl ? strnlen(js, jl) : 0;
	if (jl && sl == jl) {
		rc = violation(c, "version data is not NUL-terminated");
		goto out;
	}
	if (sl > INT_MAX) {
		rc = violation(c, "version data too long");
		goto out;
	}
	if (sl) {
		tok = json_tokener_new();
		if (!tok) {
			rc = -ENOMEM;
			goto out;
		}
		root = json_tokener_parse_ex(tok, js, (int)sl);
		if (!root || json_tokener_get_error(tok) != json_tokener_success) {
			rc = violation(c, "version data is not valid JSON");
			goto out;
		}
		for (size_t i = json_tokener_get_parse_end(tok); i < sl; i++) {
			if (js[i] != ' ' && js[i] != '\t' && js[i] != '\n' && js[i] != '\r') {
				rc = violation(c, "trailing bytes after the version JSON");
				goto out;
			}
		}
		if (!json_object_is_type(root, json_type_object)) {
			rc = violation(c, "version data is not a JSON object");
			goto out;
		}
		struct json_object *caps;
		int r = cap_obj(root, "capabilities", &caps);
		if (r < 0) {
			rc = violation(c, "capabilities is not an object");
			goto out;
		}
		if (r) {
			rc = parse_caps(c, caps, fds, nf, &twin_fd);
			if (rc)
				goto out;
		}
	}
	if (twin_fd < 0 && nf) {
		rc = violation(c, "descriptors in the VERSION reply without a twin socket");
		goto out;
	}
	if (twin_fd >= 0) {
		c->sock2 = twin_fd;
		twin_fd = -1;
		c->twin = true;
	}
	rc = 0;
out:
	if (twin_fd >= 0)
		close(twin_fd);
	vfu_close_fds(fds, nf);
	json_object_put(root);
	if (tok)
		json_tokener_free(tok);
	return rc;
}

static int handshake(struct vfu_client *c)
{
	struct json_object *root = build_caps(c);
	if (!root)
		return -ENOMEM;
	const char *js = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PLAIN);
	if (!js) {
		json_object_put(root);
		return -ENOMEM;
	}
	struct vfu_version v = { .major = VFU_PROTO_MAJOR, .minor = VFU_PROTO_MINOR };
	int fds[VFU_CLIENT_MAX_RECV_FDS];
	size_t nf = VFU_CLIENT_MAX_RECV_FDS;
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_VERSION, &v, sizeof(v), js, strlen(js) + 1, NULL, 0,
		      c->timeout_ms, fds, &nf);
	int rc = n < 0 ? (int)n : parse_version(c, c->reply + sizeof(struct vfu_hdr), (size_t)n, fds, nf);
	pthread_mutex_unlock(&c->lock);
	json_object_put(root);
	if (rc == -EBUSY)
		udd_logf(c->log, UDD_LOG_INFO, "vfio-user: server refused borrow mode %s: busy",
			 mode_names[c->mode]);
	return rc;
}

static int get_devinfo(struct vfu_client *c)
{
	struct vfu_device_info di = { .argsz = sizeof(di) };
	pthread_mutex_lock(&c->lock);
	long n = xact(c, VFU_CMD_DEVICE_GET_INFO, &di, sizeof(di), NULL, 0, NULL, 0, c->timeout_ms,
		      NULL, NULL);
	int rc = 0;
	if (n < 0) {
		rc = (int)n;
	} else if ((size_t)n < sizeof(di)) {
		rc = violation(c, "short DEVICE_GET_INFO reply");
	} else {
		memcpy(&di, c->reply + sizeof(struct vfu_hdr), sizeof(di));
		if (di.num_irqs > VFU_CLIENT_MAX_IRQ_TYPES) {
			rc = violation(c, "absurd num_irqs");
		} else {
			if (di.num_regions > VFU_CLIENT_MAX_REGIONS) {
				udd_logf(c->log, UDD_LOG_WARN,
					 "vfio-user: %u regions, using the first %u", di.num_regions,
					 VFU_CLIENT_MAX_REGIONS);
				di.num_regions = VFU_CLIENT_MAX_REGIONS;
			}
			c->info.flags = di.flags & (VFIO_DEVICE_FLAGS_RESET | VFIO_DEVICE_FLAGS_PCI);
			c->info.num_regions = di.num_regions;
			c->info.num_irqs = di.num_irqs;
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

/* ------------------------------------------------------------------------ */
/* open / close                                                              */
/* ------------------------------------------------------------------------ */

/*
 * Connect by @deadline_ms. The socket is non-blocking while connecting: a
 * server whose accept backlog is full makes connect() fail with EAGAIN
 * (a blocking one would wait for it without bound), which is retried until
 * the deadline. Blocking again afterwards (replies are read by blocking
 * recvmsg under SO_RCVTIMEO).
 */
static int do_connect(struct udd_log *log, const char *path, int64_t deadline_ms, int *out)
{
	struct sockaddr_un sa;
	int dirfd = -1; /* a path longer than sun_path goes through its directory */
	int e = vfu_unix_addr(path, &sa, &dirfd);
	if (e) {
		if (e == -ENAMETOOLONG)
			udd_logf(log, UDD_LOG_ERR,
				 "vfio-user: socket path %s cannot be reached (its file name is too "
				 "long for a UNIX socket, or /proc is not mounted)", path);
		return e;
	}
	int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (s < 0) {
		e = -errno;
		if (dirfd >= 0)
			close(dirfd);
		return e;
	}
	for (;;) {
		if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EINPROGRESS) {
			e = -errno;
			break;
		}
		if (errno == EINPROGRESS) {
			/* not seen for AF_UNIX today; wait for the outcome */
			int64_t left = deadline_ms - vfu_now_ms();
			struct pollfd p = { .fd = s, .events = POLLOUT };
			int r = left > 0 ? poll(&p, 1, (int)left) : 0;
			int soe = 0;
			socklen_t sl = sizeof(soe);
			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0) {
				e = r == 0 ? -ETIMEDOUT : -errno;
				break;
			}
			if (getsockopt(s, SOL_SOCKET, SO_ERROR, &soe, &sl) < 0)
				soe = errno;
			e = -soe;
			break;
		}
		if (vfu_now_ms() >= deadline_ms) {
			udd_logf(log, UDD_LOG_INFO,
				 "vfio-user: %s: the server accepts no connection (backlog full)",
				 path);
			e = -ETIMEDOUT;
			break;
		}
		struct timespec ts = { 0, 5 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
	if (dirfd >= 0)
		close(dirfd);
	int fl = e ? 0 : fcntl(s, F_GETFL);
	if (!e && (fl < 0 || fcntl(s, F_SETFL, fl & ~O_NONBLOCK) < 0))
		e = -errno;
	if (e) {
		close(s);
		return e;
	}
	*out = s;
	return 0;
}

/*
 * Dial a gateway: TCP, then TLS with the cluster key (or plaintext when the
 * settings say insecure, logged as a warning). A missing or unreadable key
 * is -EACCES; a peer with another key fails the handshake (-EACCES).
 */
static int net_dial(struct udd_log *log, const char *host, const char *port, int64_t deadline_ms,
		    struct vfu_xport *xp)
{
	if (!vfu_net_open) {
		udd_logf(log, UDD_LOG_ERR,
			 "cluster: %s:%s: this program was linked without the TCP/TLS transport "
			 "(static: -Wl,-u,vfu_net_open -lgnutls)", host, port);
		return -ENOTSUP;
	}
	struct vfu_net_settings st;
	int rc = vfu_net_settings(&st);
	if (rc) {
		udd_logf(log, UDD_LOG_ERR, "cluster: cannot read the cluster file: %s",
			 strerror(-rc));
		return rc;
	}
	struct vfu_net_key key;
	char err[256] = "";
	bool have_key = false;
	if (st.insecure) {
		udd_logf(log, UDD_LOG_WARN,
			 "cluster: %s:%s: plaintext TCP (insecure): no authentication, no "
			 "encryption", host, port);
	} else {
		if (!st.key_path[0]) {
			udd_logf(log, UDD_LOG_ERR,
				 "cluster: %s:%s: no cluster key ($UDD_CLUSTER_KEY or `key` in the "
				 "cluster file)", host, port);
			return -EACCES;
		}
		rc = vfu_net_load_key(st.key_path, &key, err, sizeof(err));
		if (rc) {
			udd_logf(log, UDD_LOG_ERR, "cluster: %s", err);
			return -EACCES;
		}
		have_key = true;
	}
	int fd;
	rc = vfu_net_connect(host, port, deadline_ms, &fd);
	if (rc) {
		udd_logf(log, UDD_LOG_INFO, "cluster: %s:%s: %s", host, port, strerror(-rc));
	} else {
		rc = vfu_net_open(xp, fd, have_key ? &key : NULL, false, deadline_ms, err,
				  sizeof(err));
		if (rc)
			udd_logf(log, UDD_LOG_ERR, "cluster: %s:%s: %s", host, port, err);
	}
	memset(&key, 0, sizeof(key));
	return rc;
}

/* Parse "ok" / "error ERRNO text" from a gateway: 0 or -ERRNO. */
static int gw_status(const char *line)
{
	if (strcmp(line, "ok") == 0)
		return 0;
	if (strncmp(line, "error ", 6) == 0) {
		long e = strtol(line + 6, NULL, 10);
		return (e > 0 && e < 4096) ? -(int)e : -EIO;
	}
	return -EPROTO;
}

/* Open the device of a tcp:// location on its gateway: dial, then the
 * preamble `open NAME` / `ok`; vfio-user follows on the same stream. */
static int net_open_dev(struct vfu_client *c, const char *loc, int64_t deadline_ms)
{
	char host[256], port[8], dev[128];
	if (vfu_net_parse(loc, host, sizeof(host), port, sizeof(port), dev, sizeof(dev)) ||
	    !dev[0]) {
		udd_logf(c->log, UDD_LOG_ERR, "cluster: %s: not tcp://HOST[:PORT]/DEVICE", loc);
		return -EINVAL;
	}
	int rc = net_dial(c->log, host, port, deadline_ms, &c->xp);
	if (rc)
		return rc;
	char line[VFU_NET_LINE_MAX];
	int n = snprintf(line, sizeof(line), "open %s\n", dev);
	rc = vfu_xport_write_all(&c->xp, line, (size_t)n, deadline_ms);
	long r = rc ? rc : vfu_net_read_line(&c->xp, line, sizeof(line), deadline_ms);
	if (r == 0)
		r = -ECONNRESET;
	if (r < 0)
		return (int)r;
	rc = gw_status(line);
	if (rc)
		udd_logf(c->log, rc == -EBUSY ? UDD_LOG_INFO : UDD_LOG_ERR,
			 "cluster: %s: the gateway says: %s", loc, line);
	return rc;
}

int vfu_net_list(const char *hostport, struct udd_log *log, int timeout_ms,
		 int (*add)(void *arg, const char *loc, uint32_t fdid), void *arg)
{
	char host[256], port[8], loc[300];
	if (!hostport || !add || timeout_ms <= 0)
		return -EINVAL;
	if (snprintf(loc, sizeof(loc), VFU_NET_SCHEME "%s", hostport) >= (int)sizeof(loc) ||
	    vfu_net_parse(loc, host, sizeof(host), port, sizeof(port), NULL, 0))
		return -EINVAL;
	int64_t deadline = vfu_now_ms() + timeout_ms;
	struct vfu_xport xp;
	int rc = net_dial(log, host, port, deadline, &xp);
	if (rc)
		return rc;
	rc = vfu_xport_write_all(&xp, "list\n", 5, deadline);
	char line[VFU_NET_LINE_MAX];
	/* bounded: a gateway listing more than this is cut off */
	for (int i = 0; !rc && i < 1024; i++) {
		long r = vfu_net_read_line(&xp, line, sizeof(line), deadline);
		if (r <= 0) {
			rc = r ? (int)r : -EPROTO;
			break;
		}
		if (strcmp(line, "end") == 0)
			break;
		char name[128];
		unsigned long fd;
		if (sscanf(line, "dev %127s %lx", name, &fd) != 2 || fd == 0 || fd > 0x7fffffffUL) {
			if (strncmp(line, "node ", 5) == 0)
				continue;
			rc = line[0] == 'e' ? gw_status(line) : -EPROTO;
			break;
		}
		char dl[600];
		if (snprintf(dl, sizeof(dl), VFU_NET_SCHEME "%s%s%s:%s/%s", strchr(host, ':') ? "[" : "",
			     host, strchr(host, ':') ? "]" : "", port, name) < (int)sizeof(dl))
			rc = add(arg, dl, (uint32_t)fd);
	}
	vfu_net_shutdown(&xp);
	vfu_net_close(&xp);
	return rc;
}

static void set_send_timeout(int s, int ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };
	/* best effort: without it a send to a stuck peer could block */
	(void)setsockopt(s, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
}

static void client_free(struct vfu_client *c)
{
	if (c->thr_started) {
		atomic_store(&c->closing, true);
		if (c->net) {
			pthread_mutex_lock(&c->rep_lock);
			pthread_cond_signal(&c->idle_cond);
			pthread_mutex_unlock(&c->rep_lock);
		}
		if (c->net)
			vfu_net_shutdown(&c->xp); /* close_notify, then both ways */
		else
			shutdown(c->sock2, SHUT_RDWR);
		pthread_join(c->thr, NULL);
	}
	if (c->net && vfu_net_close)
		vfu_net_close(&c->xp);
	for (uint32_t i = 0; i < VFU_CLIENT_MAX_IRQ_TYPES; i++) {
		if (c->irq_efd[i])
			vfu_close_fds(c->irq_efd[i], c->irq_n[i]);
		free(c->irq_efd[i]);
	}
	pthread_mutex_destroy(&c->send_lock);
	pthread_mutex_destroy(&c->rx_lock);
	pthread_cond_destroy(&c->idle_cond);
	pthread_mutex_destroy(&c->rep_lock);
	pthread_mutex_destroy(&c->irq_lock);
	if (c->sock2 >= 0)
		close(c->sock2);
	if (c->sock >= 0)
		close(c->sock);
	if (c->regions) {
		for (uint32_t i = 0; i < c->info.num_regions; i++)
			if (c->regions[i].valid && c->regions[i].r.mmap_fd >= 0)
				close(c->regions[i].r.mmap_fd);
		free(c->regions);
	}
	tdestroy(c->wins, free);
	free(c->rx);
	vfu_reader_fini(&c->rd); /* safe on a zeroed reader */
	free(c->rx2);
	pthread_mutex_destroy(&c->fault_lock);
	pthread_mutex_destroy(&c->dma_lock);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

static int start_thread(struct vfu_client *c)
{
	c->rx2 = malloc(VFU_MAX_MSG_SIZE);
	if (!c->rx2)
		return -ENOMEM;
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	int e = pthread_create(&c->thr, NULL, c->net ? net_reader : svc_thread, c);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (e)
		return -e;
	c->thr_started = true;
	return 0;
}

int vfu_client_open_timeout(const char *loc, enum udd_be_mode mode, struct udd_log *log,
			    int timeout_ms, void **bdev)
{
	if (!loc || !bdev || timeout_ms <= 0 ||
	    (mode != UDD_BE_PROBE && mode != UDD_BE_SHARED && mode != UDD_BE_EXCLUSIVE))
		return -EINVAL;
	struct vfu_client *c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->sock = -1;
	c->sock2 = -1;
	c->log = log;
	c->timeout_ms = timeout_ms;
	c->mode = mode;
	c->srv_max_fds = VFU_DEFAULT_MAX_MSG_FDS;
	c->srv_max_xfer = VFU_DEFAULT_MAX_DATA_XFER;
	c->srv_max_dma_maps = VFU_DEFAULT_MAX_DMA_MAPS;
	atomic_init(&c->broken, false);
	atomic_init(&c->closing, false);
	pthread_mutex_init(&c->lock, NULL);
	pthread_mutex_init(&c->dma_lock, NULL);
	pthread_mutex_init(&c->fault_lock, NULL);
	pthread_mutex_init(&c->send_lock, NULL);
	pthread_mutex_init(&c->rx_lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&c->idle_cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&c->rep_lock, NULL);
	pthread_mutex_init(&c->irq_lock, NULL);
	c->xp.fd = -1;

	int rc = -ENOMEM;
	c->rx = malloc(VFU_MAX_MSG_SIZE);
	if (!c->rx || vfu_reader_init(&c->rd, VFU_MAX_MSG_SIZE) < 0)
		goto fail;
	if (vfu_net_is_tcp(loc)) {
		c->net = true;
		c->srv_max_fds = 0;
		rc = net_open_dev(c, loc, vfu_now_ms() + timeout_ms);
		if (!rc)
			rc = start_thread(c);
	} else {
		rc = do_connect(log, loc, vfu_now_ms() + timeout_ms, &c->sock);
		if (!rc)
			set_send_timeout(c->sock, timeout_ms);
	}
	if (rc)
		goto fail;
	rc = handshake(c);
	if (rc)
		goto fail;
	if (c->twin) {
		set_send_timeout(c->sock2, timeout_ms);
		rc = start_thread(c);
		if (rc)
			goto fail;
	}
	rc = get_devinfo(c);
	if (rc)
		goto fail;
	if (c->info.num_regions) {
		c->regions = calloc(c->info.num_regions, sizeof(*c->regions));
		if (!c->regions) {
			rc = -ENOMEM;
			goto fail;
		}
	}
	udd_logf(log, UDD_LOG_DEBUG,
		 "vfio-user: %s open (%s): %u regions, %u irq types, twin socket %s, borrow %s",
		 loc, mode_names[mode], c->info.num_regions, c->info.num_irqs,
		 c->twin ? "yes" : "no", c->enforces_borrow ? "enforced" : "not enforced");
	atomic_store(&c->opened, true);
	*bdev = c;
	return 0;
fail:
	/* the peer closing on us during the handshake: nothing usable there */
	if (rc == -ENODEV)
		rc = -ECONNREFUSED;
	client_free(c);
	return rc;
}

VFU_CLIENT_INTERNAL int vu_open(const char *loc, enum udd_be_mode mode, struct udd_log *log, void **bdev)
{
	return vfu_client_open_timeout(loc, mode, log, VFU_CLIENT_TIMEOUT_MS, bdev);
}

VFU_CLIENT_INTERNAL void vu_close(void *bdev)
{
	if (bdev)
		client_free(bdev);
}

bool vfu_client_enforces_borrow(void *bdev)
{
	const struct vfu_client *c = bdev;
	return c && c->enforces_borrow;
}

bool vfu_client_twin_socket(void *bdev)
{
	const struct vfu_client *c = bdev;
	return c && c->twin;
}

