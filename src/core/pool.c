/* SPDX-License-Identifier: MIT */
/*
 * The pool: every device the context can see, named by a fabric device id.
 *
 * Locations come from the embedded pool's socket directory, the configured
 * pool directories ($UDD_POOL, opts.pool_dirs: every *.sock in them, if the
 * directory and the socket are trusted, see scan_dir) and the configured
 * sockets ($UDD_SOCKETS, opts.sockets: named one by one, so trusted as
 * named). A device's fdid is a
 * 31-bit FNV-1a hash of its location, so it is the same in every process
 * and stable for as long as the device stays where it is.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "client.h"
#include "internal.h"
#include "net.h"
#include "pool.h"

static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;
	for (; *s; s++) {
		h ^= (uint8_t)*s;
		h *= 16777619u;
	}
	return h;
}

udd_fdid_t udd_fdid_of(const char *location)
{
	uint32_t h = fnv1a(location) & 0x7fffffffu;
	return h ? h : 1;
}

static int add_loc_id(struct udd_loc_list *l, const struct udd_backend_ops *be, const char *path,
		      udd_fdid_t fdid);

static int add_loc(struct udd_loc_list *l, const struct udd_backend_ops *be, const char *path)
{
	return add_loc_id(l, be, path, udd_fdid_of(path));
}

static int add_loc_id(struct udd_loc_list *l, const struct udd_backend_ops *be, const char *path,
		      udd_fdid_t fdid)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i].path, path) == 0)
			return 0;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 16;
		struct udd_loc *nv = realloc(l->v, ncap * sizeof(*nv));
		if (!nv)
			return -ENOMEM;
		l->v = nv;
		l->cap = ncap;
	}
	struct udd_loc *e = &l->v[l->n];
	if (snprintf(e->path, sizeof(e->path), "%s", path) >= (int)sizeof(e->path))
		return 0; /* too long to be a socket path: not a device */
	e->be = be;
	e->fdid = fdid;
	l->n++;
	return 0;
}

/*
 * Trust (docs/security.md): a pool directory, and each socket found in one,
 * must belong to this user or to root; a directory must not be writable by
 * group or others either (anyone who can write it can plant or replace a
 * socket, and so a device, a server that is sent our DMA memory). What
 * fails is skipped with a log line. Symlinks are followed: what counts is
 * the object they lead to.
 */
static bool trusted_owner(uid_t uid)
{
	return uid == getuid() || uid == 0;
}

static bool pool_dir_trusted(struct udd_ctx *ctx, const char *dir, struct stat *st)
{
	if (!S_ISDIR(st->st_mode))
		return false; /* not a directory: nothing to scan, nothing to say */
	if (!trusted_owner(st->st_uid)) {
		udd_logf(&ctx->log, UDD_LOG_WARN,
			 "pool: directory %s skipped: it belongs to uid %u, not to this user or root",
			 dir, (unsigned)st->st_uid);
		return false;
	}
	if (st->st_mode & 0022) {
		udd_logf(&ctx->log, UDD_LOG_WARN,
			 "pool: directory %s skipped: it is writable by %s", dir,
			 (st->st_mode & 0002) ? "everyone" : "its group");
		return false;
	}
	return true;
}

static int scan_dir(struct udd_ctx *ctx, struct udd_loc_list *l, const char *dir)
{
	struct stat st;
	if (stat(dir, &st) < 0)
		return 0; /* a missing directory is an empty one */
	if (!pool_dir_trusted(ctx, dir, &st))
		return 0;
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		size_t n = strlen(de->d_name);
		if (n < 6 || strcmp(de->d_name + n - 5, ".sock") != 0)
			continue;
		if (strcmp(de->d_name, "control.sock") == 0)
			continue;
		char p[600];
		if (snprintf(p, sizeof(p), "%s/%s", dir, de->d_name) >= (int)sizeof(p)) {
			udd_logf(&ctx->log, UDD_LOG_WARN, "pool: %s/%s skipped: path too long", dir,
				 de->d_name);
			continue;
		}
		if (stat(p, &st) < 0 || !S_ISSOCK(st.st_mode))
			continue;
		if (!trusted_owner(st.st_uid)) {
			udd_logf(&ctx->log, UDD_LOG_WARN,
				 "pool: socket %s skipped: it belongs to uid %u, not to this user or "
				 "root", p, (unsigned)st.st_uid);
			continue;
		}
		rc = add_loc(l, &udd_vfio_user_backend, p);
	}
	closedir(d);
	return rc;
}

static int scan_list(struct udd_ctx *ctx, struct udd_loc_list *l, const char *colon_list, int dirs)
{
	if (!colon_list || !*colon_list)
		return 0;
	char *copy = strdup(colon_list);
	if (!copy)
		return -ENOMEM;
	int rc = 0;
	for (char *t = copy; t && !rc;) {
		/* a tcp://HOST:PORT/DEVICE location has colons of its own, and
		 * so may its device part (a lent device is named by its PCI
		 * address, 0000:00:01.0): it ends at the first colon after the
		 * device part that starts another location — a path ('/') or
		 * another tcp:// one */
		char *from = t, *sep;
		if (!dirs && vfu_net_is_tcp(t)) {
			char *slash = strchr(t + strlen(VFU_NET_SCHEME), '/');
			from = slash ? slash : t + strlen(t);
			sep = from;
			while ((sep = strchr(sep, ':')) != NULL && sep[1] != '/' &&
			       !vfu_net_is_tcp(sep + 1))
				sep++;
		} else {
			sep = strchr(from, ':');
		}
		if (sep)
			*sep = '\0';
		if (*t)
			rc = dirs ? scan_dir(ctx, l, t) : add_loc(l, &udd_vfio_user_backend, t);
		t = sep ? sep + 1 : NULL;
	}
	free(copy);
	return rc;
}

struct enum_arg {
	struct udd_loc_list *l;
	const struct udd_backend_ops *be;
};

static int enum_add(void *arg, const char *loc)
{
	struct enum_arg *a = arg;
	return add_loc(a->l, a->be, loc);
}

static int cmp_loc(const void *a, const void *b)
{
	const struct udd_loc *x = a, *y = b;
	return x->fdid < y->fdid ? -1 : x->fdid > y->fdid;
}

struct peer_arg {
	struct udd_ctx *ctx;
	struct udd_loc_list *l;
};

static int peer_dev(void *arg, const char *loc, uint32_t fdid)
{
	struct peer_arg *a = arg;
	return add_loc_id(a->l, &udd_vfio_user_backend, loc, fdid);
}

/* Each `peer` of the cluster file (udd connect): its gateway's devices.
 * A peer that does not answer within 1 s is left out, with a log line. */
static int peer_scan(void *arg, const char *hostport)
{
	struct peer_arg *a = arg;
	int rc = vfu_net_list(hostport, &a->ctx->log, 1000, peer_dev, a);
	if (rc == -ENOMEM)
		return rc;
	if (rc)
		udd_logf(&a->ctx->log, UDD_LOG_INFO, "pool: peer %s left out: %s", hostport,
			 strerror(-rc));
	return 0;
}

/* With a node id in the cluster file, local fdids carry it in their upper
 * bits (node << 21 | 21-bit hash), as the gateway reports them to other
 * hosts: one device, one fdid, across the cluster. */
static void local_node_ids(struct udd_loc_list *l, unsigned node)
{
	for (size_t i = 0; i < l->n; i++) {
		if (vfu_net_is_tcp(l->v[i].path) || l->v[i].be != &udd_vfio_user_backend)
			continue;
		l->v[i].fdid = (udd_fdid_t)node << 21 | (udd_fdid_of(l->v[i].path) & 0x1fffffu);
	}
}

int udd_pool_scan(struct udd_ctx *ctx, struct udd_loc_list *l)
{
	memset(l, 0, sizeof(*l));
	int rc = 0;
	if (!(ctx->flags & UDD_CTX_F_NO_EMBEDDED)) {
		char simdir[600];
		snprintf(simdir, sizeof(simdir), "%s/sim", ctx->runtime_dir);
		rc = scan_dir(ctx, l, simdir);
	}
	if (!rc)
		rc = scan_list(ctx, l, ctx->pool_dirs, 1);
	if (!rc)
		rc = scan_list(ctx, l, ctx->sockets, 0);
	if (!rc && !(ctx->flags & UDD_CTX_F_NO_VFIO) && udd_vfio_backend.enumerate) {
		struct enum_arg a = { l, &udd_vfio_backend };
		int erc = udd_vfio_backend.enumerate(&ctx->log, enum_add, &a);
		if (erc == -ENOMEM)
			rc = erc;
		else if (erc)
			udd_logf(&ctx->log, UDD_LOG_DEBUG, "pool: vfio: %s", strerror(-erc));
	}
	if (!rc && !(ctx->flags & UDD_CTX_F_NO_CLUSTER)) {
		struct vfu_net_settings st;
		if (vfu_net_settings(&st) == 0 && st.node)
			local_node_ids(l, st.node);
		struct peer_arg a = { ctx, l };
		int prc = vfu_net_peers(peer_scan, &a);
		if (prc == -ENOMEM)
			rc = prc;
	}
	if (rc) {
		free(l->v);
		memset(l, 0, sizeof(*l));
		return rc;
	}
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), cmp_loc);
	return 0;
}

int udd_pool_find(struct udd_ctx *ctx, udd_fdid_t fdid, struct udd_loc *out)
{
	struct udd_loc_list l;
	int rc = udd_pool_scan(ctx, &l);
	if (rc)
		return rc;
	rc = -ENOENT;
	for (size_t i = 0; i < l.n; i++) {
		if (l.v[i].fdid == fdid) {
			*out = l.v[i];
			rc = 0;
			break;
		}
	}
	free(l.v);
	return rc;
}

/* ---- describing a device from its config space and backend infos ---- */

static uint16_t rd16(const uint8_t *c, unsigned off)
{
	return (uint16_t)(c[off] | c[off + 1] << 8);
}
static uint32_t rd32(const uint8_t *c, unsigned off)
{
	return (uint32_t)rd16(c, off) | (uint32_t)rd16(c, off + 2) << 16;
}

int udd_dev_describe(const struct udd_backend_ops *be, void *bdev, udd_dev_info_t *info,
		     uint32_t region_index[UDD_MAX_REGSETS], struct udd_be_region region[UDD_MAX_REGSETS])
{
	struct udd_be_devinfo di;
	int rc = be->device_info(bdev, &di);
	if (rc)
		return rc;
	if (di.num_regions <= VFIO_PCI_CONFIG_REGION_INDEX)
		return -EPROTO; /* no config space region: not a PCI device we can drive */

	struct udd_be_region cfgr;
	rc = be->region_info(bdev, VFIO_PCI_CONFIG_REGION_INDEX, &cfgr);
	if (rc)
		return rc;
	if (cfgr.size < 64)
		return -EPROTO;
	uint8_t c[64];
	rc = be->region_read(bdev, VFIO_PCI_CONFIG_REGION_INDEX, 0, c, sizeof(c));
	if (rc)
		return rc;

	info->vendor_id = rd16(c, 0x00);
	info->device_id = rd16(c, 0x02);
	info->revision = c[0x08];
	info->class_code = (uint32_t)c[0x0b] << 16 | (uint32_t)c[0x0a] << 8 | c[0x09];
	if ((c[0x0e] & 0x7f) == 0) {
		info->subsys_vendor_id = rd16(c, 0x2c);
		info->subsys_id = rd16(c, 0x2e);
	}
	info->can_reset = (di.flags & VFIO_DEVICE_FLAGS_RESET) != 0;

	unsigned n = 0;
	info->regsets[n] = (udd_regset_info_t){ .kind = UDD_RS_CONFIG, .bar = -1, .size = cfgr.size,
						.flags = UDD_RS_F_READ | UDD_RS_F_WRITE };
	if (region) {
		region[n] = cfgr;
		region_index[n] = VFIO_PCI_CONFIG_REGION_INDEX;
	}
	n++;
	for (unsigned bar = 0; bar < 6 && bar < di.num_regions && n < UDD_MAX_REGSETS; bar++) {
		struct udd_be_region r;
		rc = be->region_info(bdev, VFIO_PCI_BAR0_REGION_INDEX + bar, &r);
		if (rc)
			return rc;
		uint32_t barv = rd32(c, 0x10 + 4 * bar);
		bool is64 = !(barv & 1) && ((barv >> 1) & 3) == 2;
		if (r.size) {
			udd_regset_info_t *s = &info->regsets[n];
			s->bar = (int32_t)bar;
			s->size = r.size;
			s->kind = (barv & 1) ? UDD_RS_IO : UDD_RS_MEM;
			s->flags = 0;
			if (r.flags & VFIO_REGION_INFO_FLAG_READ)
				s->flags |= UDD_RS_F_READ;
			if (r.flags & VFIO_REGION_INFO_FLAG_WRITE)
				s->flags |= UDD_RS_F_WRITE;
			if ((r.flags & VFIO_REGION_INFO_FLAG_MMAP) && r.mmap_fd >= 0)
				s->flags |= UDD_RS_F_MMAP | (r.nsparse ? UDD_RS_F_SPARSE : 0);
			if (!(barv & 1) && (barv & 8))
				s->flags |= UDD_RS_F_PREFETCH;
			if (is64)
				s->flags |= UDD_RS_F_64BIT;
			if (region) {
				region[n] = r;
				region_index[n] = VFIO_PCI_BAR0_REGION_INDEX + bar;
			}
			n++;
		}
		if (is64)
			bar++; /* the upper half of a 64-bit BAR is not a set of its own */
	}
	info->nregsets = (uint16_t)n;

	for (unsigned t = 0; t < UDD_IRQ_NTYPES; t++) {
		info->irq_count[t] = 0;
		if (t < di.num_irqs) {
			uint32_t cnt = 0, fl = 0;
			if (be->irq_info(bdev, t, &cnt, &fl) == 0)
				info->irq_count[t] = cnt;
		}
	}
	return 0;
}

static int probe(struct udd_ctx *ctx, const struct udd_loc *loc, udd_dev_info_t *info)
{
	void *bdev;
	/* A peer that does not answer within 1 s (say, a foreign server busy
	 * with another client) is left out of the listing. */
	int rc = loc->be == &udd_vfio_user_backend
			 ? vfu_client_open_timeout(loc->path, UDD_BE_PROBE, &ctx->log, 1000, &bdev)
			 : loc->be->open(loc->path, UDD_BE_PROBE, &ctx->log, &bdev);
	if (rc)
		return rc;
	memset(info, 0, sizeof(*info));
	rc = udd_dev_describe(loc->be, bdev, info, NULL, NULL);
	loc->be->close(bdev);
	if (rc)
		return rc;
	info->fdid = loc->fdid;
	snprintf(info->backend, sizeof(info->backend), "%s", loc->be->name);
	snprintf(info->location, sizeof(info->location), "%s", loc->path);
	return 0;
}

int udd_filter_match(const udd_filter_t *f, const udd_dev_info_t *i)
{
	if (!f || !i)
		return f ? 0 : 1;
	if (f->vendor_id && f->vendor_id != i->vendor_id)
		return 0;
	if (f->device_id && f->device_id != i->device_id)
		return 0;
	if (f->subsys_vendor_id && f->subsys_vendor_id != i->subsys_vendor_id)
		return 0;
	if (f->subsys_id && f->subsys_id != i->subsys_id)
		return 0;
	uint32_t mask = f->class_mask ? f->class_mask : (f->class_code ? 0xffffffu : 0);
	if ((i->class_code & mask) != (f->class_code & mask))
		return 0;
	return 1;
}

/*
 * One probe (one connection) per device per call: what it learns (ids,
 * class, register sets, interrupts) is all that filters and callers need,
 * so nothing is asked twice. A server that serves one client at a time (or
 * exits after its first) is disturbed as little as a listing can.
 */
static int list_common(udd_ctx_t *ctx, const udd_filter_t *filter, udd_fdid_t *ids,
		       udd_dev_info_t *infos, size_t max)
{
	struct udd_loc_list l;
	int rc = udd_pool_scan(ctx, &l);
	if (rc)
		return rc;
	size_t found = 0;
	for (size_t i = 0; i < l.n; i++) {
		udd_dev_info_t info;
		int prc = probe(ctx, &l.v[i], &info);
		if (prc) {
			udd_logf(&ctx->log, UDD_LOG_INFO, "pool: %s left out: %s", l.v[i].path,
				 strerror(-prc));
			continue;
		}
		if (!udd_filter_match(filter, &info))
			continue;
		if (found < max) {
			if (ids)
				ids[found] = l.v[i].fdid;
			if (infos)
				infos[found] = info;
		}
		found++;
	}
	free(l.v);
	return found > (size_t)INT32_MAX ? INT32_MAX : (int)found;
}

int udd_pool_list(udd_ctx_t *ctx, const udd_filter_t *filter, udd_fdid_t *ids, size_t max)
{
	if (!ctx || (max && !ids))
		return -EINVAL;
	return list_common(ctx, filter, ids, NULL, max);
}

int udd_pool_list_info(udd_ctx_t *ctx, const udd_filter_t *filter, udd_dev_info_t *infos,
		       size_t max)
{
	if (!ctx || (max && !infos))
		return -EINVAL;
	return list_common(ctx, filter, NULL, infos, max);
}

int udd_pool_info(udd_ctx_t *ctx, udd_fdid_t fdid, udd_dev_info_t *info)
{
	if (!ctx || !info)
		return -EINVAL;
	struct udd_loc loc;
	int rc = udd_pool_find(ctx, fdid, &loc);
	if (rc)
		return rc;
	udd_dev_info_t tmp;
	rc = probe(ctx, &loc, &tmp);
	if (rc)
		return rc;
	*info = tmp;
	return 0;
}
