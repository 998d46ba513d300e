/* SPDX-License-Identifier: MIT */
/*
 * udd-sim server core: command handlers (QEMU's docs/interop/vfio-user.rst)
 * other than DMA and interrupts, and the dispatcher. Every field a client
 * sends is validated before use.
 *
 * Isolation: a `probe` connection (udd's extension: a look at the device
 * without borrowing it) reads config space and the info commands only: no
 * mappable fds, no BAR reads (they may have side effects: FIFO pops,
 * interrupt acknowledges), no writes, DMA, interrupts or reset.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <json-c/json.h>

#include "sim_server_priv.h"

const char *const sim_borrow_names[3] = { "probe", "shared", "exclusive" };

/* What a client proposed in VERSION. */
struct hello {
	int want;
	bool twin, faults, udd, sync;
	json_object *caps; /* the client's capabilities object (borrowed), or NULL */
};

static int parse_udd_cap(json_object *o, struct hello *h)
{
	json_object *s;
	h->udd = true;
	if (json_object_object_get_ex(o, VFU_UDD_CAP_BORROW, &s)) {
		const char *m = json_object_get_string(s);
		if (m && !strcmp(m, "probe"))
			h->want = BORROW_PROBE;
		else if (m && !strcmp(m, "shared"))
			h->want = BORROW_SHARED;
		else if (m && !strcmp(m, "exclusive"))
			h->want = BORROW_EXCL;
		else
			return EINVAL;
	}
	if (json_object_object_get_ex(o, VFU_UDD_CAP_DMA_FAULTS, &s))
		h->faults = json_object_get_boolean(s);
	if (json_object_object_get_ex(o, VFU_UDD_CAP_DMA_SYNC, &s))
		h->sync = json_object_get_boolean(s);
	return 0;
}

static int parse_caps(struct sim_client *cl, json_object *caps, struct hello *h)
{
	json_object *o, *s;
	h->caps = caps;
	if (json_object_object_get_ex(caps, "max_data_xfer_size", &o) &&
	    json_object_is_type(o, json_type_int)) {
		int64_t x = json_object_get_int64(o);
		cl->max_xfer = x < 1 ? 1
				     : x > (int64_t)VFU_DEFAULT_MAX_DATA_XFER ? VFU_DEFAULT_MAX_DATA_XFER
									      : (uint32_t)x;
	}
	if (json_object_object_get_ex(caps, "max_msg_fds", &o)) {
		if (!json_object_is_type(o, json_type_int))
			return EINVAL;
		int64_t x = json_object_get_int64(o);
		cl->max_fds = x < 0 ? 0 : x > VFU_MAX_FDS ? VFU_MAX_FDS : (uint32_t)x;
	}
	if (json_object_object_get_ex(caps, "twin_socket", &o) &&
	    json_object_object_get_ex(o, "supported", &s))
		h->twin = json_object_get_boolean(s);
	if (!sim_no_udd_ext && json_object_object_get_ex(caps, VFU_UDD_CAP, &o) &&
	    json_object_is_type(o, json_type_object))
		return parse_udd_cap(o, h);
	return 0;
}

/* Parse the VERSION payload; 0 or errno. *in gets the parsed JSON (owned). */
static int parse_version(struct req *r, struct vfu_version *v, struct hello *h, json_object **in)
{
	if (r->cl->borrow != BORROW_NONE || r->len < sizeof(*v))
		return EINVAL;
	memcpy(v, r->p, sizeof(*v));
	if (v->major != VFU_PROTO_MAJOR)
		return ENOTSUP;
	if (r->len == sizeof(*v))
		return 0;
	const char *js = (const char *)r->p + sizeof(*v);
	if (!memchr(js, '\0', r->len - sizeof(*v)))
		return EINVAL;
	*in = json_tokener_parse(js);
	if (!*in || !json_object_is_type(*in, json_type_object))
		return EINVAL;
	json_object *caps;
	if (json_object_object_get_ex(*in, "capabilities", &caps) &&
	    json_object_is_type(caps, json_type_object))
		return parse_caps(r->cl, caps, h);
	return 0;
}

/* Add capability @name to @oc only if the client proposed it (the reply's
 * capabilities must be a subset of the proposal); takes @val. */
static void cap_add(json_object *oc, const struct hello *h, const char *name, json_object *val)
{
	if (h->caps && json_object_object_get_ex(h->caps, name, NULL))
		json_object_object_add(oc, name, val);
	else
		json_object_put(val);
}

static json_object *version_reply(const struct sim_client *cl, const struct hello *h, bool twin)
{
	json_object *out = json_object_new_object();
	json_object *oc = json_object_new_object();
	json_object_object_add(out, "capabilities", oc);
	cap_add(oc, h, "max_msg_fds", json_object_new_int(VFU_MAX_FDS));
	cap_add(oc, h, "max_data_xfer_size", json_object_new_int64(VFU_DEFAULT_MAX_DATA_XFER));
	cap_add(oc, h, "max_dma_maps", json_object_new_int(SIM_MAX_WINDOWS_PER_CLIENT));
	cap_add(oc, h, "pgsizes", json_object_new_int64(4096));
	if (twin) {
		json_object *t = json_object_new_object();
		json_object_object_add(t, "supported", json_object_new_boolean(1));
		json_object_object_add(t, "fd_index", json_object_new_int(0));
		json_object_object_add(oc, "twin_socket", t);
	}
	if (h->udd) {
		json_object *u = json_object_new_object();
		json_object_object_add(u, VFU_UDD_CAP_BORROW,
				       json_object_new_string(sim_borrow_names[h->want]));
		if (h->faults)
			json_object_object_add(u, VFU_UDD_CAP_DMA_FAULTS,
					       json_object_new_boolean(1));
		if (h->sync)
			json_object_object_add(u, VFU_UDD_CAP_DMA_SYNC, json_object_new_boolean(1));
		if (cl->has_iova) { /* the borrower's windows must lie in here */
			json_object *io = json_object_new_object();
			json_object_object_add(io, "start", json_object_new_uint64(cl->iova_lo));
			json_object_object_add(io, "end", json_object_new_uint64(cl->iova_hi));
			json_object_object_add(u, VFU_UDD_CAP_IOVA_RANGE, io);
		}
		json_object_object_add(oc, VFU_UDD_CAP, u);
	}
	return out;
}

int sim_cmd_version(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct vfu_version v;
	struct hello h = { .want = BORROW_SHARED };
	json_object *in = NULL;
	int pair[2] = { -1, -1 };

	r->close_conn = true; /* unless it all works out */
	int err = parse_version(r, &v, &h, &in);
	if (!err)
		err = sim_borrow_grant(cl, h.want);
	/* the provider's share of a borrow (a lent device: the IOVA range);
	 * on failure the borrow is released when the connection closes */
	if (!err && h.want != BORROW_PROBE && cl->d->prov->attach)
		err = cl->d->prov->attach(cl);
	/* twin socket only where the client can receive the fd */
	bool twin = h.twin && cl->max_fds >= 1;
	if (!err && twin && socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, pair) < 0)
		err = errno; /* the borrow is released when the connection closes */
	if (err) {
		json_object_put(in);
		return sim_send_error(cl, r->hdr, err);
	}
	cl->dma_faults = h.faults;
	cl->dma_sync = h.sync;
	json_object *out = version_reply(cl, &h, twin);
	const char *js = json_object_to_json_string_ext(out, JSON_C_TO_STRING_PLAIN);
	struct vfu_version rv = { .major = VFU_PROTO_MAJOR,
				  .minor = v.minor < VFU_PROTO_MINOR ? v.minor : VFU_PROTO_MINOR };
	int rc = sim_send_reply(cl, r->hdr, &rv, sizeof(rv), js, strlen(js) + 1, &pair[1],
				twin ? 1 : 0);
	if (pair[1] >= 0)
		close(pair[1]);
	if (rc == 0) {
		if (pair[0] >= 0)
			sim_sock_deadline(pair[0]);
		cl->twin = pair[0];
		r->close_conn = false;
		sim_log("%s: client %llu: borrow %s%s%s", cl->d->name, (unsigned long long)cl->id,
			sim_borrow_names[h.want], twin ? ", twin socket" : "",
			h.faults ? ", dma faults" : "");
	} else if (pair[0] >= 0) {
		close(pair[0]);
	}
	json_object_put(in);
	json_object_put(out);
	return rc;
}

static int cmd_device_info(struct req *r)
{
	struct vfu_device_info in, out;
	if (r->len < sizeof(in))
		return sim_send_error(r->cl, r->hdr, EINVAL);
	memcpy(&in, r->p, sizeof(in));
	if (in.argsz < sizeof(in))
		return sim_send_error(r->cl, r->hdr, EINVAL);
	out = (struct vfu_device_info){ .argsz = sizeof(out),
					.flags = VFIO_DEVICE_FLAGS_PCI,
					.num_regions = VFIO_PCI_NUM_REGIONS,
					.num_irqs = VFIO_PCI_NUM_IRQS };
	out.flags |= r->cl->d->prov->dev_flags(r->cl->d) & VFIO_DEVICE_FLAGS_RESET;
	return sim_send_reply(r->cl, r->hdr, &out, sizeof(out), NULL, 0, NULL, 0);
}

static int cmd_region_info(struct req *r)
{
	struct sim_client *cl = r->cl;
	struct sim_dev *d = cl->d;
	struct vfu_region_info in, out;
	if (r->len < sizeof(in))
		return sim_send_error(cl, r->hdr, EINVAL);
	memcpy(&in, r->p, sizeof(in));
	if (in.argsz < sizeof(in) || in.index >= VFIO_PCI_NUM_REGIONS)
		return sim_send_error(cl, r->hdr, EINVAL);
	uint8_t caps[sizeof(struct vfu_cap_sparse_mmap) + SIM_MAX_AREAS * sizeof(struct vfu_sparse_area)];
	memset(&out, 0, sizeof(out));
	out.argsz = sizeof(out);
	out.index = in.index;
	/* mappable only for borrowers that can receive the fd */
	bool may_map = cl->borrow != BORROW_PROBE && cl->max_fds >= 1;
	struct sim_region reg;
	int err = d->prov->region_info(d, in.index, may_map, &reg);
	if (err)
		return sim_send_error(cl, r->hdr, err);
	if (reg.nareas > SIM_MAX_AREAS)
		reg.nareas = SIM_MAX_AREAS;
	out.size = reg.size;
	out.flags = reg.flags & (VFIO_REGION_INFO_FLAG_READ | VFIO_REGION_INFO_FLAG_WRITE);
	size_t clen = 0;
	if (may_map && (reg.flags & VFIO_REGION_INFO_FLAG_MMAP) && reg.nareas && reg.fd >= 0) {
		struct vfu_cap_sparse_mmap sp = {
			.hdr = { .id = VFIO_REGION_INFO_CAP_SPARSE_MMAP, .version = 1, .next = 0 },
			.nr_areas = reg.nareas,
		};
		clen = sizeof(sp) + reg.nareas * sizeof(struct vfu_sparse_area);
		memcpy(caps, &sp, sizeof(sp));
		memcpy(caps + sizeof(sp), reg.areas, reg.nareas * sizeof(struct vfu_sparse_area));
		out.flags |= VFIO_REGION_INFO_FLAG_MMAP | VFIO_REGION_INFO_FLAG_CAPS;
		out.argsz = (uint32_t)(sizeof(out) + clen);
		if (in.argsz >= out.argsz) {
			out.cap_offset = sizeof(out);
			out.offset = reg.mmap_offset; /* mmap offset into the fd */
		}
	}
	int fd = clen && in.argsz >= out.argsz ? reg.fd : -1;
	if (fd != reg.fd && reg.fd >= 0)
		close(reg.fd);
	if (clen && in.argsz < out.argsz) /* too small: fixed part only, with the size needed */
		return sim_send_reply(cl, r->hdr, &out, sizeof(out), NULL, 0, NULL, 0);
	int rc = sim_send_reply(cl, r->hdr, &out, sizeof(out), caps, clen, &fd, fd >= 0 ? 1 : 0);
	if (fd >= 0)
		close(fd);
	return rc;
}

static int cmd_region_read(struct req *r)
{
	struct sim_dev *d = r->cl->d;
	struct vfu_region_access a;
	if (r->len != sizeof(a))
		return sim_send_error(r->cl, r->hdr, EINVAL);
	memcpy(&a, r->p, sizeof(a));
	if (a.region >= VFIO_PCI_NUM_REGIONS || a.count == 0 ||
	    a.count > VFU_DEFAULT_MAX_DATA_XFER)
		return sim_send_error(r->cl, r->hdr, EINVAL);
	if (r->cl->borrow == BORROW_PROBE && a.region != VFIO_PCI_CONFIG_REGION_INDEX)
		return sim_send_error(r->cl, r->hdr, EPERM);
	uint8_t *buf = calloc(1, a.count);
	if (!buf)
		return sim_send_error(r->cl, r->hdr, ENOMEM);
	int err = d->prov->region_read(r->cl, a.region, a.offset, buf, a.count);
	int rc;
	if (err)
		rc = sim_send_error(r->cl, r->hdr, err);
	else
		rc = sim_send_reply(r->cl, r->hdr, &a, sizeof(a), buf, a.count, NULL, 0);
	free(buf);
	return rc;
}

static int cmd_region_write(struct req *r)
{
	struct sim_dev *d = r->cl->d;
	struct vfu_region_access a;
	if (r->len < sizeof(a))
		return sim_send_error(r->cl, r->hdr, EINVAL);
	memcpy(&a, r->p, sizeof(a));
	if (a.count != r->len - sizeof(a))
		return sim_send_error(r->cl, r->hdr, EINVAL);
	if (r->cl->borrow == BORROW_PROBE)
		return sim_send_error(r->cl, r->hdr, EPERM);
	if (a.region >= VFIO_PCI_NUM_REGIONS || a.count == 0 ||
	    a.count > VFU_DEFAULT_MAX_DATA_XFER)
		return sim_send_error(r->cl, r->hdr, EINVAL);
	int err = d->prov->region_write(r->cl, a.region, a.offset, r->p + sizeof(a), a.count);
	if (err)
		return sim_send_error(r->cl, r->hdr, err);
	return sim_send_reply(r->cl, r->hdr, &a, sizeof(a), NULL, 0, NULL, 0);
}

static int cmd_reset(struct req *r)
{
	struct sim_dev *d = r->cl->d;
	if (r->cl->borrow == BORROW_PROBE)
		return sim_send_error(r->cl, r->hdr, EPERM);
	if (!(d->prov->dev_flags(d) & VFIO_DEVICE_FLAGS_RESET))
		return sim_send_error(r->cl, r->hdr, ENOTSUP);
	int err = sim_dev_function_reset(d, r->cl);
	if (err)
		return sim_send_error(r->cl, r->hdr, err);
	return sim_send_reply(r->cl, r->hdr, NULL, 0, NULL, 0, NULL, 0);
}

int sim_dispatch(struct req *r)
{
	if (r->cl->borrow == BORROW_NONE && r->hdr->cmd != VFU_CMD_VERSION) {
		r->close_conn = true;
		return sim_send_error(r->cl, r->hdr, EINVAL);
	}
	switch (r->hdr->cmd) {
	case VFU_CMD_VERSION:
		return sim_cmd_version(r);
	case VFU_CMD_DMA_MAP:
		return sim_cmd_dma_map(r);
	case VFU_CMD_DMA_UNMAP:
		return sim_cmd_dma_unmap(r);
	case VFU_CMD_DEVICE_GET_INFO:
		return cmd_device_info(r);
	case VFU_CMD_DEVICE_GET_REGION_INFO:
		return cmd_region_info(r);
	case VFU_CMD_DEVICE_GET_IRQ_INFO:
		return sim_cmd_irq_info(r);
	case VFU_CMD_DEVICE_SET_IRQS:
		return sim_cmd_set_irqs(r);
	case VFU_CMD_REGION_READ:
		return cmd_region_read(r);
	case VFU_CMD_REGION_WRITE:
		return cmd_region_write(r);
	case VFU_CMD_DEVICE_RESET:
		return cmd_reset(r);
	case VFU_UDD_CMD_DMA_SYNC:
		return sim_cmd_dma_sync(r);
	default:
		return sim_send_error(r->cl, r->hdr, ENOSYS);
	}
}
