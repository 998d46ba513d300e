/* SPDX-License-Identifier: MIT */
/*
 * Configuration space: raw and width-checked accesses, capability walks.
 *
 * Config space is the backend's VFIO config region (rnumber 0). Its
 * registers are little-endian; values are converted to host order here.
 */
#include <endian.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"

/* Standard header registers used here. */
#define CFG_STATUS 0x06
#define CFG_STATUS_CAP_LIST 0x10
#define CFG_CAP_PTR 0x34
#define CFG_STD_SIZE 0x100
#define CFG_CAP_FIRST 0x40
#define CFG_EXT_FIRST 0x100
#define CFG_EXT_MAX 0x1000

static int cfg_check_range(const struct udd_dev *dev, uint32_t off, size_t len)
{
	uint64_t size = dev->region[0].size;

	if (len == 0 || (uint64_t)off + len > size)
		return -ENXIO;
	return 0;
}

int udd_cfg_raw_read(struct udd_dev *dev, uint32_t off, void *buf, size_t len)
{
	int r;

	if (!dev || !buf)
		return -EINVAL;
	r = cfg_check_range(dev, off, len);
	if (r < 0)
		return r;
	if (__atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE))
		return -ENODEV;
	r = dev->be->region_read(dev->bdev, dev->region_index[0], off, buf, len);
	if (r == -ENODEV)
		udd_dev_mark_gone(dev);
	return r < 0 ? r : 0;
}

int udd_cfg_raw_write(struct udd_dev *dev, uint32_t off, const void *buf, size_t len)
{
	int r;

	if (!dev || !buf)
		return -EINVAL;
	r = cfg_check_range(dev, off, len);
	if (r < 0)
		return r;
	if (__atomic_load_n(&dev->gone, __ATOMIC_ACQUIRE))
		return -ENODEV;
	r = dev->be->region_write(dev->bdev, dev->region_index[0], off, buf, len);
	if (r == -ENODEV)
		udd_dev_mark_gone(dev);
	return r < 0 ? r : 0;
}

/* Common argument checks of the width functions. */
static int cfg_check(const struct udd_dev *dev, uint32_t off, unsigned width, const void *val)
{
	if (!dev || !val)
		return -EINVAL;
	if (off & (width - 1))
		return -EINVAL;
	return cfg_check_range(dev, off, width);
}

int udd_cfg_read8(udd_dev_t *dev, uint32_t off, uint8_t *val)
{
	uint8_t v;
	int r = cfg_check(dev, off, 1, val);

	if (r < 0)
		return r;
	r = udd_cfg_raw_read(dev, off, &v, 1);
	if (r < 0)
		return r;
	*val = v;
	return 0;
}

int udd_cfg_read16(udd_dev_t *dev, uint32_t off, uint16_t *val)
{
	uint16_t v;
	int r = cfg_check(dev, off, 2, val);

	if (r < 0)
		return r;
	r = udd_cfg_raw_read(dev, off, &v, 2);
	if (r < 0)
		return r;
	*val = le16toh(v);
	return 0;
}

int udd_cfg_read32(udd_dev_t *dev, uint32_t off, uint32_t *val)
{
	uint32_t v;
	int r = cfg_check(dev, off, 4, val);

	if (r < 0)
		return r;
	r = udd_cfg_raw_read(dev, off, &v, 4);
	if (r < 0)
		return r;
	*val = le32toh(v);
	return 0;
}

int udd_cfg_read64(udd_dev_t *dev, uint32_t off, uint64_t *val)
{
	uint32_t lo, hi;
	int r = cfg_check(dev, off, 8, val);

	if (r < 0)
		return r;
	r = udd_cfg_read32(dev, off, &lo);
	if (r < 0)
		return r;
	r = udd_cfg_read32(dev, off + 4, &hi);
	if (r < 0)
		return r;
	*val = (uint64_t)hi << 32 | lo;
	return 0;
}

int udd_cfg_write8(udd_dev_t *dev, uint32_t off, uint8_t val)
{
	int r = cfg_check(dev, off, 1, &val);

	if (r < 0)
		return r;
	return udd_cfg_raw_write(dev, off, &val, 1);
}

int udd_cfg_write16(udd_dev_t *dev, uint32_t off, uint16_t val)
{
	uint16_t v = htole16(val);
	int r = cfg_check(dev, off, 2, &v);

	if (r < 0)
		return r;
	return udd_cfg_raw_write(dev, off, &v, 2);
}

int udd_cfg_write32(udd_dev_t *dev, uint32_t off, uint32_t val)
{
	uint32_t v = htole32(val);
	int r = cfg_check(dev, off, 4, &v);

	if (r < 0)
		return r;
	return udd_cfg_raw_write(dev, off, &v, 4);
}

int udd_cfg_write64(udd_dev_t *dev, uint32_t off, uint64_t val)
{
	int r = cfg_check(dev, off, 8, &val);

	if (r < 0)
		return r;
	r = udd_cfg_write32(dev, off, (uint32_t)val);
	if (r < 0)
		return r;
	return udd_cfg_write32(dev, off + 4, (uint32_t)(val >> 32));
}

/* ---- capability lists ------------------------------------------------------ */

int udd_cfg_walk_caps(udd_dev_t *dev, int (*cb)(void *user, uint8_t id, uint32_t off), void *user)
{
	/* One bit per dword of the capability area (0x40..0xff). */
	uint8_t seen[(CFG_STD_SIZE - CFG_CAP_FIRST) / 4 / 8];
	uint16_t status;
	uint8_t ptr;
	int r;

	if (!dev || !cb)
		return -EINVAL;
	r = udd_cfg_read16(dev, CFG_STATUS, &status);
	if (r < 0)
		return r;
	if (!(status & CFG_STATUS_CAP_LIST))
		return 0;
	r = udd_cfg_read8(dev, CFG_CAP_PTR, &ptr);
	if (r < 0)
		return r;
	memset(seen, 0, sizeof(seen));
	ptr &= 0xfc;
	while (ptr >= CFG_CAP_FIRST) {
		unsigned slot = (ptr - CFG_CAP_FIRST) / 4;
		uint16_t ent;
		uint8_t id;

		if (seen[slot / 8] & (1u << (slot % 8)))
			return -ELOOP;
		seen[slot / 8] |= (uint8_t)(1u << (slot % 8));
		r = udd_cfg_read16(dev, ptr, &ent);
		if (r < 0)
			return r;
		id = (uint8_t)(ent & 0xff);
		if (id == 0xff) /* all-ones: nothing there */
			break;
		r = cb(user, id, ptr);
		if (r != 0)
			return r;
		ptr = (uint8_t)(ent >> 8) & 0xfc;
	}
	return 0;
}

int udd_cfg_walk_ext_caps(udd_dev_t *dev,
			  int (*cb)(void *user, uint16_t id, uint8_t ver, uint32_t off), void *user)
{
	uint8_t seen[(CFG_EXT_MAX - CFG_EXT_FIRST) / 4 / 8];
	uint64_t size;
	uint32_t off = CFG_EXT_FIRST;
	int r;

	if (!dev || !cb)
		return -EINVAL;
	size = dev->region[0].size;
	if (size <= CFG_STD_SIZE)
		return 0;
	if (size > CFG_EXT_MAX)
		size = CFG_EXT_MAX;
	memset(seen, 0, sizeof(seen));
	for (;;) {
		unsigned slot = (off - CFG_EXT_FIRST) / 4;
		uint32_t hdr;

		if (seen[slot / 8] & (1u << (slot % 8)))
			return -ELOOP;
		seen[slot / 8] |= (uint8_t)(1u << (slot % 8));
		r = udd_cfg_read32(dev, off, &hdr);
		if (r < 0)
			return r;
		if (hdr == 0 || hdr == 0xffffffffu)
			break;
		r = cb(user, (uint16_t)(hdr & 0xffff), (uint8_t)((hdr >> 16) & 0xf), off);
		if (r != 0)
			return r;
		off = (hdr >> 20) & 0xffc;
		/* 0 ends the list; anything below 0x100 or past the end is
		 * not a valid extended capability: stop there. */
		if (off < CFG_EXT_FIRST || off + 4 > size)
			break;
	}
	return 0;
}

struct find_state {
	unsigned id;
	uint32_t after;
	bool passed; /* walked past @after (or after == 0) */
};

static int find_cb(void *user, uint8_t id, uint32_t off)
{
	struct find_state *st = user;

	if (!st->passed) {
		if (off == st->after)
			st->passed = true;
		return 0;
	}
	return id == st->id ? (int)off : 0;
}

static int find_ext_cb(void *user, uint16_t id, uint8_t ver, uint32_t off)
{
	struct find_state *st = user;

	(void)ver;
	if (!st->passed) {
		if (off == st->after)
			st->passed = true;
		return 0;
	}
	return id == st->id ? (int)off : 0;
}

int udd_cfg_find_cap(udd_dev_t *dev, uint8_t id, uint32_t after)
{
	struct find_state st = { .id = id, .after = after, .passed = after == 0 };
	int r;

	if (!dev)
		return -EINVAL;
	/* Always walk from the head: that validates @after and catches loops. */
	r = udd_cfg_walk_caps(dev, find_cb, &st);
	return r == 0 ? -ENOENT : r;
}

int udd_cfg_find_ext_cap(udd_dev_t *dev, uint16_t id, uint32_t after)
{
	struct find_state st = { .id = id, .after = after, .passed = after == 0 };
	int r;

	if (!dev)
		return -EINVAL;
	r = udd_cfg_walk_ext_caps(dev, find_ext_cb, &st);
	return r == 0 ? -ENOENT : r;
}
