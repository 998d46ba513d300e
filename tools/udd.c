/* SPDX-License-Identifier: MIT */
/*
 * udd — look at and poke the devices of the udd pool.
 *
 *   udd list [-v] [--json] [--vendor V] [--device D] [--class C[/MASK]]
 *   udd info FDID
 *   udd read FDID SET OFFSET [-w 8|16|32|64]
 *   udd write FDID SET OFFSET VALUE [-w 8|16|32|64]
 *   udd bind [--force] BDF
 *   udd unbind [--force] [--no-probe] BDF
 *   udd add [--group GROUP] BDF     lend BDF through the udd-sim daemon
 *   udd remove [--force] BDF        stop lending it
 *
 * Uses only the public API (udd/udd.h). Device names come from pciutils'
 * pci.ids through libpci; libpci is initialised on an empty dump so that it
 * never looks at this host's bus.
 *
 * bind/unbind change which kernel driver owns a PCI device of this host (only
 * when asked: nothing else in udd ever does). They work on sysfs, under
 * $UDD_SYSFS_ROOT (default /sys) so that tests can use a fake tree.
 *
 * Exit status: 0 success, 1 bad input or a failed operation, 2 usage error.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* readlink, lstat, pread, O_CLOEXEC also outside the CMake build */
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <limits.h>
#include <pci/pci.h>

#include <udd/udd.h>

#include "net.h" /* the cluster file and the gateway preamble (src/backend/vfio-user) */

#define EXIT_BAD 1
#define EXIT_USAGE 2

static const char *prog = "udd";

static void die_msg(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void die_msg(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *f)
{
	fprintf(f,
		"Usage: udd COMMAND [ARGS]\n"
		"\n"
		"Commands:\n"
		"  list [-v] [--json] [--vendor V] [--device D] [--class C[/MASK]]\n"
		"        list the devices of the pool (lspci-like); -v adds subsystem,\n"
		"        register sets and interrupt counts; --json prints JSON\n"
		"  info FDID\n"
		"        ids, register sets, interrupts and decoded capabilities\n"
		"  read FDID SET OFFSET [-w 8|16|32|64]\n"
		"        read a register and print it in hex (default width 32)\n"
		"  write FDID SET OFFSET VALUE [-w 8|16|32|64] [-r]\n"
		"        write a register (borrows the device exclusively); -r: read it\n"
		"        back in the same borrow and print it. A simulated device is\n"
		"        powered on afresh when its last borrower returns it, so a value\n"
		"        written does not outlive the command\n"
		"  bind [--force] BDF\n"
		"        give PCI device BDF (DDDD:BB:DD.F) to vfio-pci so udd can borrow it;\n"
		"        refused while its driver is in use (a mounted block device, a\n"
		"        network interface that is up) unless --force\n"
		"  connect [--key FILE] [--node N] [--insecure] HOST[:PORT]\n"
		"        add the gateway (udd-gw) of another host to the cluster file, after\n"
		"        asking it for its devices; they join `udd list` (docs/cluster.md)\n"
		"  disconnect HOST[:PORT]\n"
		"        remove a gateway from the cluster file\n"
		"  add [--group GROUP] BDF\n"
		"        lend BDF (bound to vfio-pci) to many borrowers through the udd-sim\n"
		"        daemon of the runtime directory (started if none runs); its socket\n"
		"        joins the pool, mode 0600 or 0660 for GROUP\n"
		"  remove [--force] BDF\n"
		"        stop lending BDF; refused while it is borrowed unless --force\n"
		"  unbind [--force] [--no-probe] BDF\n"
		"        take BDF from vfio-pci and give it back to its default driver\n"
		"        (--no-probe: leave it without a driver); refused while a udd\n"
		"        program has it borrowed unless --force\n"
		"\n"
		"FDID, OFFSET, VALUE: decimal or 0x-prefixed hex.\n"
		"SET: an rnumber (0 = config space, then each BAR), bar0..bar5, or cfg.\n"
		"Exit status: 0 ok, 1 bad input or failure, 2 usage error.\n");
}

/* ---- number parsing --------------------------------------------------------- */

/* Parse an unsigned number (decimal, or hex with 0x). Returns 0 or -EINVAL. */
static int parse_u64(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (s == NULL || *s == '\0' || *s == '-' || *s == '+' || *s == ' ')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno != 0 || *end != '\0')
		return -EINVAL;
	*out = v;
	return 0;
}

static int parse_fdid(const char *s, udd_fdid_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > UINT32_MAX) {
		die_msg("bad fdid '%s' (decimal or 0x-prefixed hex)", s);
		return -EINVAL;
	}
	*out = (udd_fdid_t)v;
	return 0;
}

static int parse_u16_opt(const char *what, const char *s, uint16_t *out)
{
	uint64_t v;

	/* vendor and device ids are hex by convention, as in lspci -d */
	char *end;
	errno = 0;
	if (s[0] == '\0' || s[0] == '-' || s[0] == '+')
		goto bad;
	v = strtoull(s, &end, 16);
	if (errno != 0 || *end != '\0' || v > 0xffff)
		goto bad;
	*out = (uint16_t)v;
	return 0;
bad:
	die_msg("bad %s '%s' (a hex number up to ffff)", what, s);
	return -EINVAL;
}

/* --class C[/MASK]: C is a hex class code; 2 digits = base class, 4 digits =
 * base+sub, 6 digits = base+sub+prog-if (the mask follows unless given). */
static int parse_class(const char *s, udd_filter_t *f)
{
	char buf[64];
	char *slash, *end;
	size_t len;
	unsigned long long c, m;

	if (strlen(s) >= sizeof(buf))
		goto bad;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash)
		*slash = '\0';
	if (buf[0] == '0' && (buf[1] == 'x' || buf[1] == 'X'))
		memmove(buf, buf + 2, strlen(buf + 2) + 1);
	len = strlen(buf);
	if (len == 0 || len > 6 || buf[0] == '-' || buf[0] == '+')
		goto bad;
	errno = 0;
	c = strtoull(buf, &end, 16);
	if (errno != 0 || *end != '\0')
		goto bad;
	if (len <= 2) {
		c <<= 16;
		m = 0xff0000;
	} else if (len <= 4) {
		c <<= 8;
		m = 0xffff00;
	} else {
		m = 0xffffff;
	}
	if (slash) {
		const char *ms = slash + 1;
		if (ms[0] == '0' && (ms[1] == 'x' || ms[1] == 'X'))
			ms += 2;
		if (*ms == '\0' || *ms == '-' || *ms == '+')
			goto bad;
		errno = 0;
		m = strtoull(ms, &end, 16);
		if (errno != 0 || *end != '\0' || m > 0xffffff || m == 0)
			goto bad;
	}
	f->class_code = (uint32_t)c;
	f->class_mask = (uint32_t)m;
	return 0;
bad:
	die_msg("bad class '%s' (hex class code, e.g. 02, 0200 or 020000, optionally /MASK)", s);
	return -EINVAL;
}

/* ---- names (libpci) ------------------------------------------------------- */

static struct pci_access *pacc;

static void names_init(void)
{
	pacc = pci_alloc();
	if (pacc == NULL)
		return;
	/* Only the name database is wanted: an empty dump as the access
	 * method keeps libpci away from this host's bus entirely. */
	pacc->method = PCI_ACCESS_DUMP;
	pci_set_param(pacc, "dump.name", "/dev/null");
	/* Names from pci.ids only: no udev hwdb (host-specific, and libudev
	 * leaks its context at exit), no network. */
	pacc->id_lookup_mode |= PCI_LOOKUP_NO_HWDB;
	pci_init(pacc);
}

static void names_fini(void)
{
	if (pacc)
		pci_cleanup(pacc);
	pacc = NULL;
}

static const char *vendor_name(char *buf, size_t len, uint16_t v)
{
	if (pacc && pci_lookup_name(pacc, buf, (int)len, PCI_LOOKUP_VENDOR, v))
		return buf;
	snprintf(buf, len, "Vendor %04x", v);
	return buf;
}

static const char *device_name(char *buf, size_t len, uint16_t v, uint16_t d)
{
	if (pacc && pci_lookup_name(pacc, buf, (int)len, PCI_LOOKUP_DEVICE, v, d))
		return buf;
	snprintf(buf, len, "Device %04x", d);
	return buf;
}

static const char *class_name(char *buf, size_t len, uint32_t class_code)
{
	char tail[16];
	size_t n, t;

	if (!pacc || !pci_lookup_name(pacc, buf, (int)len, PCI_LOOKUP_CLASS, class_code >> 8)) {
		snprintf(buf, len, "Class %04x", class_code >> 8);
		return buf;
	}
	/* An unknown subclass comes back as "<base class name> [cccc]"; the
	 * caller prints the number itself, so drop it. */
	snprintf(tail, sizeof(tail), " [%04x]", class_code >> 8);
	n = strlen(buf);
	t = strlen(tail);
	if (n > t && strcmp(buf + n - t, tail) == 0)
		buf[n - t] = '\0';
	return buf;
}

static const char *subsys_name(char *buf, size_t len, const udd_dev_info_t *in)
{
	if (pacc && pci_lookup_name(pacc, buf, (int)len, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE,
				    in->vendor_id, in->device_id, in->subsys_vendor_id,
				    in->subsys_id))
		return buf;
	snprintf(buf, len, "Device %04x", in->subsys_id);
	return buf;
}

/* ---- context ------------------------------------------------------------- */

static void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	fprintf(stderr, "%s: [%s] %s\n", prog,
		level == UDD_LOG_ERR ? "error" : level == UDD_LOG_WARN ? "warning" : "debug", msg);
}

static udd_ctx_t *open_ctx(void)
{
	udd_ctx_t *ctx = NULL;
	udd_ctx_opts_t o;
	const char *dbg = getenv("UDD_DEBUG");
	int rc;

	memset(&o, 0, sizeof(o));
	o.log_cb = log_cb;
	o.log_level = (dbg && *dbg && strcmp(dbg, "0") != 0) ? UDD_LOG_DEBUG : UDD_LOG_WARN;
	rc = udd_ctx_open(&ctx, &o);
	if (rc < 0) {
		die_msg("cannot open the udd pool: %s", strerror(-rc));
		return NULL;
	}
	return ctx;
}

static const char *rs_kind(uint32_t kind)
{
	switch (kind) {
	case UDD_RS_CONFIG: return "config";
	case UDD_RS_MEM: return "memory";
	case UDD_RS_IO: return "I/O";
	default: return "?";
	}
}

static void rs_flags(char *buf, size_t len, uint32_t fl)
{
	static const struct { uint32_t bit; const char *name; } tab[] = {
		{ UDD_RS_F_READ, "read" },   { UDD_RS_F_WRITE, "write" },
		{ UDD_RS_F_MMAP, "mmap" },   { UDD_RS_F_PREFETCH, "prefetchable" },
		{ UDD_RS_F_64BIT, "64-bit" }, { UDD_RS_F_SPARSE, "sparse" },
	};
	size_t used = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		if (!(fl & tab[i].bit))
			continue;
		int n = snprintf(buf + used, len - used, "%s%s", used ? "," : "", tab[i].name);
		if (n < 0 || (size_t)n >= len - used)
			break;
		used += (size_t)n;
	}
}

static void rs_name(char *buf, size_t len, const udd_regset_info_t *r)
{
	if (r->bar < 0)
		snprintf(buf, len, "cfg");
	else
		snprintf(buf, len, "bar%d", (int)r->bar);
}

static void size_str(char *buf, size_t len, uint64_t sz)
{
	if (sz >= (1ull << 30) && sz % (1ull << 30) == 0)
		snprintf(buf, len, "%" PRIu64 "G", sz >> 30);
	else if (sz >= (1ull << 20) && sz % (1ull << 20) == 0)
		snprintf(buf, len, "%" PRIu64 "M", sz >> 20);
	else if (sz >= (1ull << 10) && sz % (1ull << 10) == 0)
		snprintf(buf, len, "%" PRIu64 "K", sz >> 10);
	else
		snprintf(buf, len, "%" PRIu64, sz);
}

static void print_regsets(const udd_dev_info_t *in, const char *indent)
{
	for (unsigned i = 0; i < in->nregsets && i < UDD_MAX_REGSETS; i++) {
		const udd_regset_info_t *r = &in->regsets[i];
		char nm[16], fl[96], sz[32];
		rs_name(nm, sizeof(nm), r);
		rs_flags(fl, sizeof(fl), r->flags);
		size_str(sz, sizeof(sz), r->size);
		printf("%sRegion %u (%s): %s, size %s [%s]\n", indent, i, nm, rs_kind(r->kind), sz,
		       fl);
	}
}

static void print_irqs(const udd_dev_info_t *in, const char *indent)
{
	printf("%sInterrupts: INTx %" PRIu32 ", MSI %" PRIu32 ", MSI-X %" PRIu32 "\n", indent,
	       in->irq_count[UDD_IRQ_INTX], in->irq_count[UDD_IRQ_MSI],
	       in->irq_count[UDD_IRQ_MSIX]);
}

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

static int cmd_list(int argc, char **argv)
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

static int borrow(udd_ctx_t *ctx, udd_fdid_t fdid, uint32_t flags, udd_dev_t **dev)
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
static int borrow_to_look(udd_ctx_t *ctx, udd_fdid_t fdid, udd_dev_t **dev)
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

static int cmd_info(int argc, char **argv)
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

/* ---- read / write --------------------------------------------------------------- */

/* SET: rnumber, barN or cfg. Resolved after borrowing: returns the rnumber. */
static int resolve_set(udd_dev_t *dev, const char *s, unsigned *rnumber)
{
	uint64_t v;
	int n = udd_regs_count(dev);

	if (strcmp(s, "cfg") == 0 || strcmp(s, "config") == 0) {
		*rnumber = 0;
		return 0;
	}
	if (strncmp(s, "bar", 3) == 0 && s[3] >= '0' && s[3] <= '5' && s[4] == '\0') {
		int r = udd_regs_rnumber(dev, (unsigned)(s[3] - '0'));
		if (r < 0) {
			die_msg("the device has no %s", s);
			return -ENOENT;
		}
		*rnumber = (unsigned)r;
		return 0;
	}
	if (parse_u64(s, &v) < 0) {
		die_msg("bad register set '%s' (an rnumber, bar0..bar5 or cfg)", s);
		return -EINVAL;
	}
	if (n < 0 || v >= (uint64_t)n) {
		die_msg("register set %s out of range (the device has %d)", s, n < 0 ? 0 : n);
		return -ERANGE;
	}
	*rnumber = (unsigned)v;
	return 0;
}

static int parse_width(const char *s, unsigned *w)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || (v != 8 && v != 16 && v != 32 && v != 64)) {
		die_msg("bad width '%s' (8, 16, 32 or 64)", s);
		return -EINVAL;
	}
	*w = (unsigned)v;
	return 0;
}

static int cfg_access(udd_dev_t *dev, uint32_t off, unsigned width, int wr, uint64_t *val)
{
	switch (width) {
	case 8: {
		uint8_t v = (uint8_t)*val;
		int r = wr ? udd_cfg_write8(dev, off, v) : udd_cfg_read8(dev, off, &v);
		*val = v;
		return r;
	}
	case 16: {
		uint16_t v = (uint16_t)*val;
		int r = wr ? udd_cfg_write16(dev, off, v) : udd_cfg_read16(dev, off, &v);
		*val = v;
		return r;
	}
	case 32: {
		uint32_t v = (uint32_t)*val;
		int r = wr ? udd_cfg_write32(dev, off, v) : udd_cfg_read32(dev, off, &v);
		*val = v;
		return r;
	}
	default: {
		uint64_t v = *val;
		int r = wr ? udd_cfg_write64(dev, off, v) : udd_cfg_read64(dev, off, &v);
		*val = v;
		return r;
	}
	}
}

static void acc_access(udd_acc_t *acc, uint64_t off, unsigned width, int wr, uint64_t *val)
{
	switch (width) {
	case 8:
		if (wr) udd_put8(acc, off, (uint8_t)*val); else *val = udd_get8(acc, off);
		break;
	case 16:
		if (wr) udd_put16(acc, off, (uint16_t)*val); else *val = udd_get16(acc, off);
		break;
	case 32:
		if (wr) udd_put32(acc, off, (uint32_t)*val); else *val = udd_get32(acc, off);
		break;
	default:
		if (wr) udd_put64(acc, off, *val); else *val = udd_get64(acc, off);
		break;
	}
}

static int cmd_rw(int argc, char **argv, int wr)
{
	static const struct option lopts[] = {
		{ "width", required_argument, NULL, 'w' },
		{ "read-back", no_argument, NULL, 'r' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = wr ? "write" : "read";
	int readback = 0;
	unsigned width = 32, rnumber = 0;
	int c, rc = EXIT_BAD, r;
	udd_fdid_t fdid;
	uint64_t off, val = 0, size;
	udd_ctx_t *ctx;
	udd_dev_t *dev = NULL;
	udd_acc_t *acc = NULL;
	const char *wstr = NULL;

	optind = 1;
	/* GNU getopt permutes: options may come before or after the operands */
	while ((c = getopt_long(argc, argv, "w:rh", lopts, NULL)) != -1) {
		switch (c) {
		case 'w': wstr = optarg; break;
		case 'r': readback = wr; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	char **pos = argv + optind;
	int npos = argc - optind;
	if (npos != (wr ? 4 : 3)) {
		die_msg("%s: expected FDID SET OFFSET%s", name, wr ? " VALUE" : "");
		usage(stderr);
		return EXIT_USAGE;
	}
	if (wstr && parse_width(wstr, &width) < 0)
		return EXIT_BAD;
	if (parse_fdid(pos[0], &fdid) < 0)
		return EXIT_BAD;
	if (parse_u64(pos[2], &off) < 0) {
		die_msg("bad offset '%s'", pos[2]);
		return EXIT_BAD;
	}
	if (off % (width / 8) != 0) {
		die_msg("offset 0x%" PRIx64 " is not aligned to the width (%u bits)", off, width);
		return EXIT_BAD;
	}
	if (wr) {
		if (parse_u64(pos[3], &val) < 0) {
			die_msg("bad value '%s'", pos[3]);
			return EXIT_BAD;
		}
		if (width < 64 && val >> width) {
			die_msg("value 0x%" PRIx64 " does not fit in %u bits", val, width);
			return EXIT_BAD;
		}
	}

	ctx = open_ctx();
	if (!ctx)
		return EXIT_BAD;
	if ((wr ? borrow(ctx, fdid, UDD_BORROW_EXCLUSIVE, &dev) : borrow_to_look(ctx, fdid, &dev)) < 0)
		goto out_ctx;
	if (resolve_set(dev, pos[1], &rnumber) < 0)
		goto out;
	r = udd_regs_size(dev, rnumber, &size);
	if (r < 0) {
		die_msg("cannot get the size of register set %u: %s", rnumber, strerror(-r));
		goto out;
	}
	if (off >= size || size - off < width / 8) {
		die_msg("offset 0x%" PRIx64 " is outside register set %s (size 0x%" PRIx64 ")", off,
			pos[1], size);
		goto out;
	}
	if (rnumber == 0) {
		r = cfg_access(dev, (uint32_t)off, width, wr, &val);
		if (r >= 0 && readback)
			r = cfg_access(dev, (uint32_t)off, width, 0, &val);
		if (r < 0) {
			die_msg("config space %s at 0x%" PRIx64 " failed: %s", name, off, strerror(-r));
			goto out;
		}
	} else {
		/* map just the page(s) holding the register, raw (like devmem) */
		uint64_t start = off & ~(uint64_t)4095, len = 4096;
		if (start + len > size)
			len = size - start;
		r = udd_regs_map(dev, rnumber, start, len, NULL, &acc);
		if (r < 0) {
			die_msg("cannot map register set %s: %s", pos[1], strerror(-r));
			goto out;
		}
		acc_access(acc, off - start, width, wr, &val);
		if (readback)
			acc_access(acc, off - start, width, 0, &val);
		r = udd_acc_check(acc);
		if (r < 0) {
			die_msg("%s at 0x%" PRIx64 " of %s failed: %s", name, off, pos[1], strerror(-r));
			goto out;
		}
	}
	if (!wr || readback)
		printf("0x%0*" PRIx64 "\n", (int)(width / 4), val);
	rc = 0;
out:
	udd_regs_unmap(acc);
	udd_dev_return(dev);
out_ctx:
	udd_ctx_close(ctx);
	return rc;
}

/* ---- bind / unbind ------------------------------------------------------------ */

#define VFIO_DRIVER "vfio-pci"
#define VFIO_LOCK_DIR "/run/udd/vfio" /* where the VFIO backend keeps its borrow locks */

/* Copy a string, truncating to fit (always terminated). */
static void copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);
	if (len == 0)
		return;
	if (n >= len)
		n = len - 1;
	memcpy(dst, src, n);
	dst[n] = '\0';
}

static const char *sysfs_root(void)
{
	const char *r = getenv("UDD_SYSFS_ROOT");
	return r && *r ? r : "/sys";
}

/* Normalise a PCI address: "BB:DD.F" gets domain 0000; hex digits lower case.
 * Returns 0 or -EINVAL. */
static int parse_bdf(const char *s, char out[13])
{
	char buf[16];
	size_t n = strlen(s);

	if (n == 7)
		snprintf(buf, sizeof(buf), "0000:%s", s);
	else if (n == 12)
		snprintf(buf, sizeof(buf), "%s", s);
	else
		return -EINVAL;
	for (int i = 0; i < 12; i++) {
		char c = buf[i];
		if (i == 4 || i == 7) {
			if (c != ':')
				return -EINVAL;
		} else if (i == 10) {
			if (c != '.')
				return -EINVAL;
		} else if (i == 11) {
			if (c < '0' || c > '7')
				return -EINVAL;
		} else {
			if (c >= 'A' && c <= 'F')
				c = (char)(c - 'A' + 'a');
			if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
				return -EINVAL;
			buf[i] = c;
		}
	}
	/* device number: 5 bits */
	if (strtoul((char[]){ buf[8], buf[9], 0 }, NULL, 16) > 31)
		return -EINVAL;
	memcpy(out, buf, 13);
	return 0;
}

/* The name of the driver bound to the device at @dev ("" if none). */
static int current_driver(const char *dev, char *name, size_t len)
{
	char p[600], t[600];
	ssize_t n;

	snprintf(p, sizeof(p), "%s/driver", dev);
	n = readlink(p, t, sizeof(t) - 1);
	if (n < 0) {
		name[0] = '\0';
		return errno == ENOENT ? 0 : -errno;
	}
	t[n] = '\0';
	const char *b = strrchr(t, '/');
	copy_str(name, len, b ? b + 1 : t);
	return 0;
}

/* Write @val to the sysfs attribute @path in one write(2). */
static int sysfs_write(const char *path, const char *val)
{
	/* O_TRUNC as the shell's ">" (sysfs ignores it; a fake tree needs it) */
	int fd = open(path, O_WRONLY | O_TRUNC | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t len = strlen(val);
	ssize_t n = write(fd, val, len);
	int rc = n < 0 ? -errno : (size_t)n == len ? 0 : -EIO;
	if (close(fd) < 0 && rc == 0)
		rc = -errno;
	return rc;
}

static int write_attr(const char *dir, const char *attr, const char *val, const char *why)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, attr);
	int rc = sysfs_write(p, val);
	if (rc < 0)
		die_msg("%s: cannot write %s: %s%s", why, p, strerror(-rc),
			rc == -EACCES || rc == -EPERM ? " (run as root)" : "");
	return rc;
}

/* Read a small sysfs attribute into buf (trailing newline removed). */
static int read_attr(const char *dir, const char *attr, char *buf, size_t len)
{
	char p[600];
	snprintf(p, sizeof(p), "%s/%s", dir, attr);
	FILE *f = fopen(p, "re");
	if (!f)
		return -errno;
	if (!fgets(buf, (int)len, f))
		buf[0] = '\0';
	fclose(f);
	buf[strcspn(buf, "\n")] = '\0';
	return 0;
}

/* The basename of the "subsystem" link of a sysfs device directory. */
static void subsystem_of(const char *dir, char *name, size_t len)
{
	char p[600], t[600];
	snprintf(p, sizeof(p), "%s/subsystem", dir);
	ssize_t n = readlink(p, t, sizeof(t) - 1);
	name[0] = '\0';
	if (n < 0)
		return;
	t[n] = '\0';
	const char *b = strrchr(t, '/');
	copy_str(name, len, b ? b + 1 : t);
}

/* Is "MAJ:MIN" mounted? Looks at /proc/self/mountinfo (field 3). Fills
 * @where with the mount point of the first match. */
static int is_mounted(const char *majmin, char *where, size_t len)
{
	FILE *f = fopen("/proc/self/mountinfo", "re");
	char line[4096];
	int found = 0;

	if (!f)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char id[32], mm[64], root[1024], mnt[1024];
		if (sscanf(line, "%31s %*s %63s %1023s %1023s", id, mm, root, mnt) == 4 &&
		    strcmp(mm, majmin) == 0) {
			snprintf(where, len, "%s", mnt);
			found = 1;
		}
	}
	fclose(f);
	return found;
}

static int dir_nonempty(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *e;
	int n = 0;

	if (!d)
		return 0;
	while ((e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			n++;
	closedir(d);
	return n > 0;
}

/* Walk the sysfs node of a PCI device (real directories only, not links)
 * looking for what its kernel driver serves: block devices that are mounted
 * or held by another device (dm, md), network interfaces that are up.
 * Prints each finding; returns how many. */
static int in_use_walk(const char *dir, int depth, const char *bdf)
{
	DIR *d;
	struct dirent *e;
	char sub[32], val[128], where[1024];
	int found = 0;

	if (depth > 8)
		return 0;
	subsystem_of(dir, sub, sizeof(sub));
	const char *name = strrchr(dir, '/');
	name = name ? name + 1 : dir;
	if (strcmp(sub, "block") == 0 && read_attr(dir, "dev", val, sizeof(val)) == 0) {
		char holders[700];
		if (is_mounted(val, where, sizeof(where))) {
			die_msg("%s: block device %s (%s) is mounted on %s", bdf, name, val, where);
			found++;
		}
		snprintf(holders, sizeof(holders), "%s/holders", dir);
		if (dir_nonempty(holders)) {
			die_msg("%s: block device %s (%s) is held by another device (see %s)", bdf,
				name, val, holders);
			found++;
		}
	} else if (strcmp(sub, "net") == 0) {
		int up = 0;
		if (read_attr(dir, "flags", val, sizeof(val)) == 0)
			up = (strtoul(val, NULL, 0) & 0x1) != 0; /* IFF_UP */
		if (!up && read_attr(dir, "operstate", val, sizeof(val)) == 0)
			up = strcmp(val, "up") == 0;
		if (up) {
			die_msg("%s: network interface %s is up", bdf, name);
			found++;
		}
	}
	d = opendir(dir);
	if (!d)
		return found;
	while ((e = readdir(d)) != NULL) {
		char p[600];
		struct stat st;
		if (e->d_name[0] == '.')
			continue;
		if (snprintf(p, sizeof(p), "%s/%s", dir, e->d_name) >= (int)sizeof(p))
			continue;
		if (lstat(p, &st) < 0 || !S_ISDIR(st.st_mode))
			continue; /* links (driver, subsystem, ...) and attributes */
		found += in_use_walk(p, depth + 1, bdf);
	}
	closedir(d);
	return found;
}

/* Who holds the VFIO backend's borrow lock of @bdf: its pid, 0 if nobody. */
static long borrow_holder(const char *bdf)
{
	char p[128], buf[32];
	long pid = 0;
	snprintf(p, sizeof(p), "%s/%s.lock", VFIO_LOCK_DIR, bdf);
	int fd = open(p, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK) {
		ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
		buf[n > 0 ? n : 0] = '\0';
		pid = strtol(buf, NULL, 10);
		if (pid <= 0)
			pid = -1;
	}
	close(fd);
	return pid;
}

/* Wait (up to ~2 s) for the device's driver to become @want, or (@want
 * NULL) any driver but @avoid. @drv receives the last driver seen. */
static void wait_driver(const char *dev, const char *want, const char *avoid, char *drv,
			size_t len)
{
	for (int i = 0; i < 200; i++) {
		if (current_driver(dev, drv, len) == 0 && drv[0]) {
			if (want && strcmp(drv, want) == 0)
				return;
			if (!want && strcmp(drv, avoid) != 0)
				return;
		}
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		nanosleep(&ts, NULL);
	}
}

static int cmd_bind(int argc, char **argv, int bind)
{
	static const struct option lopts[] = {
		{ "force", no_argument, NULL, 'f' },
		{ "no-probe", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *name = bind ? "bind" : "unbind";
	int force = 0, probe = 1, c;
	char bdf[13], dev[512], drv[128], p[600];
	const char *root = sysfs_root();
	struct stat st;

	optind = 1;
	while ((c = getopt_long(argc, argv, "fh", lopts, NULL)) != -1) {
		switch (c) {
		case 'f': force = 1; break;
		case 'n':
			if (bind) {
				die_msg("bind: --no-probe is an unbind option");
				usage(stderr);
				return EXIT_USAGE;
			}
			probe = 0;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return EXIT_USAGE;
		}
	}
	if (argc - optind != 1) {
		die_msg("%s: expected one PCI address (DDDD:BB:DD.F)", name);
		usage(stderr);
		return EXIT_USAGE;
	}
	if (parse_bdf(argv[optind], bdf) < 0) {
		die_msg("bad PCI address '%s' (DDDD:BB:DD.F or BB:DD.F, hex)", argv[optind]);
		return EXIT_BAD;
	}
	snprintf(dev, sizeof(dev), "%s/bus/pci/devices/%s", root, bdf);
	if (stat(dev, &st) < 0 || !S_ISDIR(st.st_mode)) {
		die_msg("no PCI device %s (%s)", bdf, dev);
		return EXIT_BAD;
	}
	if (current_driver(dev, drv, sizeof(drv)) < 0) {
		die_msg("cannot read the driver of %s", bdf);
		return EXIT_BAD;
	}

	if (bind) {
		if (strcmp(drv, VFIO_DRIVER) == 0) {
			printf("%s: already bound to %s\n", bdf, VFIO_DRIVER);
			return 0;
		}
		if (drv[0]) {
			int n = in_use_walk(dev, 0, bdf);
			if (n > 0 && !force) {
				die_msg("%s: refusing to take the device from its driver %s while it is "
					"in use (use --force to do it anyway)", bdf, drv);
				return EXIT_BAD;
			}
			if (n > 0)
				die_msg("%s: --force: taking it from %s although it is in use", bdf, drv);
		}
		snprintf(p, sizeof(p), "%s/bus/pci/drivers/%s", root, VFIO_DRIVER);
		if (stat(p, &st) < 0)
			die_msg("warning: the %s driver is not loaded (modprobe vfio-pci)", VFIO_DRIVER);
		if (write_attr(dev, "driver_override", VFIO_DRIVER, "bind") < 0)
			return EXIT_BAD;
		if (drv[0]) {
			snprintf(p, sizeof(p), "%s/driver", dev);
			if (write_attr(p, "unbind", bdf, "bind") < 0)
				return EXIT_BAD;
		}
		snprintf(p, sizeof(p), "%s/bus/pci", root);
		if (write_attr(p, "drivers_probe", bdf, "bind") < 0)
			return EXIT_BAD;
		char now_drv[128];
		wait_driver(dev, VFIO_DRIVER, NULL, now_drv, sizeof(now_drv));
		if (strcmp(now_drv, VFIO_DRIVER) != 0) {
			die_msg("%s: %s did not take the device (driver now: %s); is the IOMMU on and "
				"vfio-pci loaded? (driver_override stays %s: 'udd unbind %s' clears it)",
				bdf, VFIO_DRIVER, now_drv[0] ? now_drv : "none", VFIO_DRIVER, bdf);
			return EXIT_BAD;
		}
		char grp[600] = "";
		snprintf(p, sizeof(p), "%s/iommu_group", dev);
		ssize_t n = readlink(p, grp, sizeof(grp) - 1);
		grp[n > 0 ? n : 0] = '\0';
		const char *g = strrchr(grp, '/');
		if (g)
			printf("%s: bound to %s (was %s), IOMMU group %s\n", bdf, VFIO_DRIVER,
			       drv[0] ? drv : "no driver", g + 1);
		else
			printf("%s: bound to %s (was %s)\n", bdf, VFIO_DRIVER, drv[0] ? drv : "no driver");
		return 0;
	}

	/* unbind */
	if (drv[0] && strcmp(drv, VFIO_DRIVER) != 0) {
		die_msg("%s is bound to %s, not to %s: nothing to unbind", bdf, drv, VFIO_DRIVER);
		return EXIT_BAD;
	}
	if (drv[0]) {
		long holder = borrow_holder(bdf);
		if (holder != 0 && !force) {
			if (holder > 0)
				die_msg("%s is borrowed by pid %ld; refusing to unbind it (use --force "
					"to do it anyway)", bdf, holder);
			else
				die_msg("%s is borrowed by a udd program; refusing to unbind it (use "
					"--force to do it anyway)", bdf);
			return EXIT_BAD;
		}
		snprintf(p, sizeof(p), "%s/driver", dev);
		if (write_attr(p, "unbind", bdf, "unbind") < 0)
			return EXIT_BAD;
	}
	/* an empty line clears driver_override */
	if (write_attr(dev, "driver_override", "\n", "unbind") < 0)
		return EXIT_BAD;
	if (!probe) {
		printf("%s: unbound from %s, left without a driver\n", bdf,
		       drv[0] ? drv : VFIO_DRIVER);
		return 0;
	}
	snprintf(p, sizeof(p), "%s/bus/pci", root);
	if (write_attr(p, "drivers_probe", bdf, "unbind") < 0)
		return EXIT_BAD;
	char now_drv[128];
	wait_driver(dev, NULL, VFIO_DRIVER, now_drv, sizeof(now_drv));
	if (strcmp(now_drv, VFIO_DRIVER) == 0) {
		die_msg("%s: %s took the device again", bdf, VFIO_DRIVER);
		return EXIT_BAD;
	}
	printf("%s: unbound from %s; now %s\n", bdf, VFIO_DRIVER,
	       now_drv[0] ? now_drv : "without a driver (none claims it)");
	return 0;
}

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

static int cmd_connect(int argc, char **argv, int connect)
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
static int cmd_lend(int argc, char **argv, int add)
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

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "list") == 0 || strcmp(argv[1], "ls") == 0)
		return cmd_list(argc - 1, argv + 1);
	if (strcmp(argv[1], "info") == 0)
		return cmd_info(argc - 1, argv + 1);
	if (strcmp(argv[1], "read") == 0)
		return cmd_rw(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "write") == 0)
		return cmd_rw(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "bind") == 0)
		return cmd_bind(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "unbind") == 0)
		return cmd_bind(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "connect") == 0)
		return cmd_connect(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "disconnect") == 0)
		return cmd_connect(argc - 1, argv + 1, 0);
	if (strcmp(argv[1], "add") == 0)
		return cmd_lend(argc - 1, argv + 1, 1);
	if (strcmp(argv[1], "remove") == 0)
		return cmd_lend(argc - 1, argv + 1, 0);
	die_msg("unknown command '%s'", argv[1]);
	usage(stderr);
	return EXIT_USAGE;
}
