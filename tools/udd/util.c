/* SPDX-License-Identifier: MIT */
/* udd: numbers, names (libpci), the context, register sets and interrupts printed. */
#include "udd.h"

/* ---- number parsing --------------------------------------------------------- */

/* Parse an unsigned number (decimal, or hex with 0x). Returns 0 or -EINVAL. */
int parse_u64(const char *s, uint64_t *out)
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

int parse_fdid(const char *s, udd_fdid_t *out)
{
	uint64_t v;

	if (parse_u64(s, &v) < 0 || v > UINT32_MAX) {
		die_msg("bad fdid '%s' (decimal or 0x-prefixed hex)", s);
		return -EINVAL;
	}
	*out = (udd_fdid_t)v;
	return 0;
}

int parse_u16_opt(const char *what, const char *s, uint16_t *out)
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
int parse_class(const char *s, udd_filter_t *f)
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

void names_init(void)
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

void names_fini(void)
{
	if (pacc)
		pci_cleanup(pacc);
	pacc = NULL;
}

const char *vendor_name(char *buf, size_t len, uint16_t v)
{
	if (pacc && pci_lookup_name(pacc, buf, (int)len, PCI_LOOKUP_VENDOR, v))
		return buf;
	snprintf(buf, len, "Vendor %04x", v);
	return buf;
}

const char *device_name(char *buf, size_t len, uint16_t v, uint16_t d)
{
	if (pacc && pci_lookup_name(pacc, buf, (int)len, PCI_LOOKUP_DEVICE, v, d))
		return buf;
	snprintf(buf, len, "Device %04x", d);
	return buf;
}

const char *class_name(char *buf, size_t len, uint32_t class_code)
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

const char *subsys_name(char *buf, size_t len, const udd_dev_info_t *in)
{
	if (pacc && pci_lookup_name(pacc, buf, (int)len, PCI_LOOKUP_SUBSYSTEM | PCI_LOOKUP_DEVICE,
				    in->vendor_id, in->device_id, in->subsys_vendor_id,
				    in->subsys_id))
		return buf;
	snprintf(buf, len, "Device %04x", in->subsys_id);
	return buf;
}

/* ---- context ------------------------------------------------------------- */

void log_cb(void *user, int level, const char *msg)
{
	(void)user;
	fprintf(stderr, "%s: [%s] %s\n", prog,
		level == UDD_LOG_ERR ? "error" : level == UDD_LOG_WARN ? "warning" : "debug", msg);
}

udd_ctx_t *open_ctx(void)
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

const char *rs_kind(uint32_t kind)
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

void rs_name(char *buf, size_t len, const udd_regset_info_t *r)
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

void print_regsets(const udd_dev_info_t *in, const char *indent)
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

void print_irqs(const udd_dev_info_t *in, const char *indent)
{
	printf("%sInterrupts: INTx %" PRIu32 ", MSI %" PRIu32 ", MSI-X %" PRIu32 "\n", indent,
	       in->irq_count[UDD_IRQ_INTX], in->irq_count[UDD_IRQ_MSI],
	       in->irq_count[UDD_IRQ_MSIX]);
}

