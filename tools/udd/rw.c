/* SPDX-License-Identifier: MIT */
/* udd: udd read and udd write. */
#include "udd.h"

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

int cmd_rw(int argc, char **argv, int wr)
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

