/* SPDX-License-Identifier: MIT */
/* udd: udd list and udd info. */
#include "udd.h"

/* ---- list -------------------------------------------------------------- */

static json_object *info_json(const udd_dev_info_t *in)
{
	char b1[256];
	json_object *o = json_object_new_object();
	json_object *rs = json_object_new_array();
	json_object *irq = json_object_new_object();

	json_object_object_add(o, "fdid", json_object_new_int64(in->fdid));
	json_object_object_add(o, "backend", json_object_new_string(in->backend));
	json_object_object_add(o, "location", json_object_new_string(in->location));
	if (strncmp(in->location, VFU_NET_SCHEME, strlen(VFU_NET_SCHEME)) == 0)
		json_object_object_add(o, "node", json_object_new_int((int)(in->fdid >> 21)));
	snprintf(b1, sizeof(b1), "%04x", in->vendor_id);
	json_object_object_add(o, "vendor_id", json_object_new_string(b1));
	snprintf(b1, sizeof(b1), "%04x", in->device_id);
	json_object_object_add(o, "device_id", json_object_new_string(b1));
	json_object_object_add(o, "vendor",
			       json_object_new_string(vendor_name(b1, sizeof(b1), in->vendor_id)));
	json_object_object_add(o, "device", json_object_new_string(device_name(
						    b1, sizeof(b1), in->vendor_id, in->device_id)));
	snprintf(b1, sizeof(b1), "%04x", in->subsys_vendor_id);
	json_object_object_add(o, "subsys_vendor_id", json_object_new_string(b1));
	snprintf(b1, sizeof(b1), "%04x", in->subsys_id);
	json_object_object_add(o, "subsys_id", json_object_new_string(b1));
	snprintf(b1, sizeof(b1), "%06x", in->class_code);
	json_object_object_add(o, "class_code", json_object_new_string(b1));
	json_object_object_add(o, "class",
			       json_object_new_string(class_name(b1, sizeof(b1), in->class_code)));
	json_object_object_add(o, "revision", json_object_new_int(in->revision));
	json_object_object_add(o, "can_reset", json_object_new_boolean(in->can_reset));
	for (unsigned i = 0; i < in->nregsets && i < UDD_MAX_REGSETS; i++) {
		const udd_regset_info_t *r = &in->regsets[i];
		json_object *ro = json_object_new_object();
		json_object *fl = json_object_new_array();
		char nm[16];
		rs_name(nm, sizeof(nm), r);
		json_object_object_add(ro, "rnumber", json_object_new_int((int)i));
		json_object_object_add(ro, "name", json_object_new_string(nm));
		json_object_object_add(ro, "kind", json_object_new_string(rs_kind(r->kind)));
		json_object_object_add(ro, "bar", json_object_new_int(r->bar));
		json_object_object_add(ro, "size", json_object_new_int64((int64_t)r->size));
		if (r->flags & UDD_RS_F_READ) json_object_array_add(fl, json_object_new_string("read"));
		if (r->flags & UDD_RS_F_WRITE) json_object_array_add(fl, json_object_new_string("write"));
		if (r->flags & UDD_RS_F_MMAP) json_object_array_add(fl, json_object_new_string("mmap"));
		if (r->flags & UDD_RS_F_PREFETCH)
			json_object_array_add(fl, json_object_new_string("prefetchable"));
		if (r->flags & UDD_RS_F_64BIT) json_object_array_add(fl, json_object_new_string("64-bit"));
		if (r->flags & UDD_RS_F_SPARSE) json_object_array_add(fl, json_object_new_string("sparse"));
		json_object_object_add(ro, "flags", fl);
		json_object_array_add(rs, ro);
	}
	json_object_object_add(o, "regsets", rs);
	json_object_object_add(irq, "intx", json_object_new_int64(in->irq_count[UDD_IRQ_INTX]));
	json_object_object_add(irq, "msi", json_object_new_int64(in->irq_count[UDD_IRQ_MSI]));
	json_object_object_add(irq, "msix", json_object_new_int64(in->irq_count[UDD_IRQ_MSIX]));
	json_object_object_add(o, "irqs", irq);
	return o;
}

static void print_list_line(const udd_dev_info_t *in, int verbose)
{
	char cn[256], vn[256], dn[256], sn[256], vsn[256];

	printf("0x%08" PRIx32 " %s %s [%04x]: %s %s [%04x:%04x]", in->fdid, in->location,
	       class_name(cn, sizeof(cn), in->class_code), in->class_code >> 8,
	       vendor_name(vn, sizeof(vn), in->vendor_id),
	       device_name(dn, sizeof(dn), in->vendor_id, in->device_id), in->vendor_id,
	       in->device_id);
	if (in->revision)
		printf(" (rev %02x)", in->revision);
	if ((in->class_code & 0xff) != 0)
		printf(" (prog-if %02x)", in->class_code & 0xff);
	if (strncmp(in->location, VFU_NET_SCHEME, strlen(VFU_NET_SCHEME)) == 0)
		printf(" [node %u]", (unsigned)(in->fdid >> 21)); /* a remote device */
	printf("\n");
	if (!verbose)
		return;
	printf("\tBackend: %s\n", in->backend);
	printf("\tSubsystem: %s %s [%04x:%04x]\n",
	       vendor_name(vsn, sizeof(vsn), in->subsys_vendor_id),
	       subsys_name(sn, sizeof(sn), in), in->subsys_vendor_id, in->subsys_id);
	print_regsets(in, "\t");
	print_irqs(in, "\t");
}

int cmd_list(int argc, char **argv)
{
	static const struct option lopts[] = {
		{ "verbose", no_argument, NULL, 'v' },  { "json", no_argument, NULL, 'j' },
		{ "vendor", required_argument, NULL, 'V' }, { "device", required_argument, NULL, 'D' },
		{ "class", required_argument, NULL, 'C' },  { "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	udd_filter_t f;
	int verbose = 0, json = 0, c, n, rc = 0;
	udd_ctx_t *ctx;
	udd_dev_info_t *infos = NULL;

	memset(&f, 0, sizeof(f));
	optind = 1;
	while ((c = getopt_long(argc, argv, "vjh", lopts, NULL)) != -1) {
		switch (c) {
		case 'v': verbose = 1; break;
		case 'j': json = 1; break;
		case 'V': if (parse_u16_opt("vendor", optarg, &f.vendor_id) < 0) return EXIT_BAD; break;
		case 'D': if (parse_u16_opt("device", optarg, &f.device_id) < 0) return EXIT_BAD; break;
		case 'C': if (parse_class(optarg, &f) < 0) return EXIT_BAD; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (optind != argc) {
		die_msg("list: unexpected argument '%s'", argv[optind]);
		usage(stderr);
		return EXIT_USAGE;
	}
	ctx = open_ctx();
	if (!ctx)
		return EXIT_BAD;
	/* One call, one connection per device: a server that serves one client
	 * at a time is asked once, not three times (count, ids, info). */
	size_t cap = 64;
	for (;;) {
		free(infos);
		infos = calloc(cap, sizeof(*infos));
		if (!infos) {
			die_msg("out of memory");
			rc = EXIT_BAD;
			goto out;
		}
		n = udd_pool_list_info(ctx, &f, infos, cap);
		if (n < 0) {
			die_msg("cannot list the pool: %s", strerror(-n));
			rc = EXIT_BAD;
			goto out;
		}
		if ((size_t)n <= cap)
			break;
		cap = (size_t)n; /* a rare pool of more than 64 devices: again, big enough */
	}
	names_init();
	json_object *arr = json ? json_object_new_array() : NULL;
	for (int i = 0; i < n; i++) {
		udd_dev_info_t in = infos[i];
		if (json)
			json_object_array_add(arr, info_json(&in));
		else
			print_list_line(&in, verbose);
	}
	if (json) {
		printf("%s\n", json_object_to_json_string_ext(arr, JSON_C_TO_STRING_PRETTY |
								       JSON_C_TO_STRING_NOSLASHESCAPE));
		json_object_put(arr);
	}
	names_fini();
out:
	free(infos);
	udd_ctx_close(ctx);
	return rc;
}

/* ---- info: capabilities ----------------------------------------------------- */

static const char *cap_name(uint8_t id)
{
	switch (id) {
	case 0x01: return "Power Management";
	case 0x02: return "AGP";
	case 0x03: return "Vital Product Data";
	case 0x04: return "Slot Identification";
	case 0x05: return "MSI";
	case 0x06: return "CompactPCI Hot Swap";
	case 0x07: return "PCI-X";
	case 0x08: return "HyperTransport";
	case 0x09: return "Vendor Specific";
	case 0x0a: return "Debug port";
	case 0x0b: return "CompactPCI central resource control";
	case 0x0c: return "PCI Hot-plug";
	case 0x0d: return "Subsystem vendor/device ID";
	case 0x0e: return "AGP 8x";
	case 0x0f: return "Secure device";
	case 0x10: return "Express";
	case 0x11: return "MSI-X";
	case 0x12: return "SATA HBA";
	case 0x13: return "PCI Advanced Features";
	case 0x14: return "Enhanced Allocation";
	case 0x15: return "Flattening Portal Bridge";
	default: return "Unknown";
	}
}

static const char *ext_cap_name(uint16_t id)
{
	switch (id) {
	case 0x0001: return "Advanced Error Reporting";
	case 0x0002: return "Virtual Channel";
	case 0x0003: return "Device Serial Number";
	case 0x0004: return "Power Budgeting";
	case 0x000b: return "Vendor Specific";
	case 0x000d: return "Access Control Services";
	case 0x000e: return "Alternative Routing-ID Interpretation";
	case 0x000f: return "Address Translation Service";
	case 0x0010: return "Single Root I/O Virtualization";
	case 0x0013: return "Page Request Interface";
	case 0x0015: return "Resizable BAR";
	case 0x0017: return "Transaction Processing Hints";
	case 0x0018: return "Latency Tolerance Reporting";
	case 0x0019: return "Secondary PCI Express";
	case 0x001b: return "Process Address Space ID";
	case 0x001e: return "L1 PM Substates";
	case 0x0023: return "Designated Vendor-Specific";
	case 0x0025: return "Data Link Feature";
	case 0x0026: return "Physical Layer 16.0 GT/s";
	default: return "Unknown";
	}
}

static const char *pcie_type(unsigned t)
{
	switch (t) {
	case 0x0: return "Endpoint";
	case 0x1: return "Legacy Endpoint";
	case 0x4: return "Root Port";
	case 0x5: return "Upstream Port";
	case 0x6: return "Downstream Port";
	case 0x7: return "PCI-Express to PCI/PCI-X Bridge";
	case 0x8: return "PCI/PCI-X to PCI-Express Bridge";
	case 0x9: return "Root Complex Integrated Endpoint";
	case 0xa: return "Root Complex Event Collector";
	default: return "Unknown type";
	}
}

static const char *yn(unsigned b)
{
	return b ? "+" : "-";
}

struct walk_state {
	udd_dev_t *dev;
	int errors;
};

/* Read helpers that count failures instead of aborting the whole walk. */
static uint16_t rd16(struct walk_state *w, uint32_t off)
{
	uint16_t v = 0xffff;
	if (udd_cfg_read16(w->dev, off, &v) < 0)
		w->errors++;
	return v;
}

static uint32_t rd32(struct walk_state *w, uint32_t off)
{
	uint32_t v = 0xffffffff;
	if (udd_cfg_read32(w->dev, off, &v) < 0)
		w->errors++;
	return v;
}

static int cap_cb(void *user, uint8_t id, uint32_t off)
{
	struct walk_state *w = user;

	printf("\tCapabilities: [%02x] %s", off, cap_name(id));
	switch (id) {
	case 0x01: { /* Power Management */
		uint16_t pmc = rd16(w, off + 2), csr = rd16(w, off + 4);
		printf(" version %u\n", (unsigned)(pmc & 7));
		printf("\t\tFlags: D1%s D2%s PME(D0%s,D1%s,D2%s,D3hot%s,D3cold%s)\n", yn(pmc & (1u << 9)),
		       yn(pmc & (1u << 10)), yn(pmc & (1u << 11)), yn(pmc & (1u << 12)),
		       yn(pmc & (1u << 13)), yn(pmc & (1u << 14)), yn(pmc & (1u << 15)));
		printf("\t\tStatus: D%u NoSoftRst%s PME-Enable%s\n", (unsigned)(csr & 3), yn(csr & (1u << 3)),
		       yn(csr & (1u << 8)));
		break;
	}
	case 0x05: { /* MSI */
		uint16_t ctl = rd16(w, off + 2);
		unsigned cap = 1u << ((ctl >> 1) & 7), en = 1u << ((ctl >> 4) & 7);
		printf(": Enable%s Count=%u/%u Maskable%s 64bit%s\n", yn(ctl & 1), en, cap,
		       yn(ctl & (1u << 8)), yn(ctl & (1u << 7)));
		break;
	}
	case 0x11: { /* MSI-X */
		uint16_t ctl = rd16(w, off + 2);
		uint32_t tbl = rd32(w, off + 4), pba = rd32(w, off + 8);
		printf(": Enable%s Count=%u Masked%s\n", yn(ctl & (1u << 15)), (ctl & 0x7ffu) + 1,
		       yn(ctl & (1u << 14)));
		printf("\t\tVector table: BAR=%u offset=%08x\n", tbl & 7, tbl & ~7u);
		printf("\t\tPBA: BAR=%u offset=%08x\n", pba & 7, pba & ~7u);
		break;
	}
	case 0x10: { /* PCI Express */
		uint16_t caps = rd16(w, off + 2);
		printf(" (v%u) %s\n", (unsigned)(caps & 0xf), pcie_type((caps >> 4) & 0xf));
		break;
	}
	default:
		printf("\n");
		break;
	}
	return 0;
}

static int ext_cap_cb(void *user, uint16_t id, uint8_t ver, uint32_t off)
{
	struct walk_state *w = user;

	printf("\tCapabilities: [%03x v%u] %s", off, ver, ext_cap_name(id));
	if (id == 0x0003) { /* Device Serial Number */
		uint32_t lo = rd32(w, off + 4), hi = rd32(w, off + 8);
		printf(" %02x-%02x-%02x-%02x-%02x-%02x-%02x-%02x", hi >> 24, (hi >> 16) & 0xff,
		       (hi >> 8) & 0xff, hi & 0xff, lo >> 24, (lo >> 16) & 0xff, (lo >> 8) & 0xff,
		       lo & 0xff);
	}
	printf("\n");
	return 0;
}

int borrow(udd_ctx_t *ctx, udd_fdid_t fdid, uint32_t flags, udd_dev_t **dev)
{
	int rc = udd_dev_borrow(ctx, fdid, flags, dev);

	if (rc == -ENOENT)
		die_msg("no device with fdid 0x%08" PRIx32 " in the pool", fdid);
	else if (rc == -EBUSY)
		die_msg("device 0x%08" PRIx32 " is busy (borrowed %s by someone else)", fdid,
			(flags & UDD_BORROW_EXCLUSIVE) ? "" : "exclusively");
	else if (rc < 0)
		die_msg("cannot borrow device 0x%08" PRIx32 ": %s", fdid, strerror(-rc));
	return rc;
}

/* Borrow for looking only (info, read): shared where the backend allows it,
 * else exclusively (a local VFIO device has a single owner: shared borrowing
 * is -EOPNOTSUPP there). The first try is not logged. */
int borrow_to_look(udd_ctx_t *ctx, udd_fdid_t fdid, udd_dev_t **dev)
{
	const char *dbg = getenv("UDD_DEBUG");
	int level = (dbg && *dbg && strcmp(dbg, "0") != 0) ? UDD_LOG_DEBUG : UDD_LOG_WARN;
	udd_ctx_set_log(ctx, NULL, NULL, 0);
	int rc = udd_dev_borrow(ctx, fdid, 0, dev);
	udd_ctx_set_log(ctx, log_cb, NULL, level);
	if (rc == -EOPNOTSUPP)
		return borrow(ctx, fdid, UDD_BORROW_EXCLUSIVE, dev);
	if (rc < 0)
		return borrow(ctx, fdid, 0, dev); /* again, for its message */
	return rc;
}

int cmd_info(int argc, char **argv)
{
	udd_ctx_t *ctx;
	udd_dev_t *dev = NULL;
	udd_dev_info_t in;
	udd_fdid_t fdid;
	struct walk_state w;
	char cn[256], vn[256], dn[256], sn[256], vsn[256];
	int rc = 0, r;

	if (argc == 2 && (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0)) {
		usage(stdout);
		return 0;
	}
	if (argc != 2) {
		die_msg("info: expected one FDID");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_fdid(argv[1], &fdid) < 0)
		return EXIT_BAD;
	ctx = open_ctx();
	if (!ctx)
		return EXIT_BAD;
	if (borrow_to_look(ctx, fdid, &dev) < 0) {
		udd_ctx_close(ctx);
		return EXIT_BAD;
	}
	r = udd_dev_get_info(dev, &in);
	if (r < 0) {
		die_msg("cannot get device info: %s", strerror(-r));
		rc = EXIT_BAD;
		goto out;
	}
	names_init();
	printf("0x%08" PRIx32 " %s\n", in.fdid, in.location);
	printf("\tBackend: %s\n", in.backend);
	printf("\tClass: %s [%06x]\n", class_name(cn, sizeof(cn), in.class_code), in.class_code);
	printf("\tVendor: %s [%04x]\n", vendor_name(vn, sizeof(vn), in.vendor_id), in.vendor_id);
	printf("\tDevice: %s [%04x]\n", device_name(dn, sizeof(dn), in.vendor_id, in.device_id),
	       in.device_id);
	printf("\tSubsystem: %s %s [%04x:%04x]\n",
	       vendor_name(vsn, sizeof(vsn), in.subsys_vendor_id), subsys_name(sn, sizeof(sn), &in),
	       in.subsys_vendor_id, in.subsys_id);
	printf("\tRevision: %02x\n", in.revision);
	printf("\tReset: %s\n", in.can_reset ? "supported" : "not supported");
	names_fini();
	print_regsets(&in, "\t");
	print_irqs(&in, "\t");

	w.dev = dev;
	w.errors = 0;
	r = udd_cfg_walk_caps(dev, cap_cb, &w);
	if (r < 0 && r != -ENOENT) {
		die_msg("walking the capability list: %s", strerror(-r));
		rc = EXIT_BAD;
	}
	r = udd_cfg_walk_ext_caps(dev, ext_cap_cb, &w);
	if (r < 0 && r != -ENOENT) {
		die_msg("walking the extended capability list: %s", strerror(-r));
		rc = EXIT_BAD;
	}
	if (w.errors) {
		die_msg("%d configuration space reads failed", w.errors);
		rc = EXIT_BAD;
	}
out:
	udd_dev_return(dev);
	udd_ctx_close(ctx);
	return rc;
}

