/* SPDX-License-Identifier: MIT */
/*
 * Config-space helpers on a hand-made config space (a fake backend serving
 * an array): capability walks over corrupt lists (-ELOOP), list ends,
 * pointer masking, "after" searches, extended lists, 64-bit access order,
 * a vanished peer. (Named test_iova_* only because of file ownership: it
 * tests src/core/cfg.c.)
 */
#include <linux/vfio.h>
#include <stdint.h>
#include <string.h>

#include "internal.h"
#include "testlib.h"

static uint8_t cs[4096];
static struct {
	int n;
	uint64_t off[8];
	size_t len[8];
	int write[8];
} log_;
static int fail_with;

static void note(uint64_t off, size_t len, int write)
{
	if (log_.n < 8) {
		log_.off[log_.n] = off;
		log_.len[log_.n] = len;
		log_.write[log_.n] = write;
	}
	log_.n++;
}

static int f_read(void *bdev, uint32_t index, uint64_t off, void *buf, size_t len)
{
	(void)bdev;
	if (index != VFIO_PCI_CONFIG_REGION_INDEX || off + len > sizeof(cs))
		return -EINVAL;
	if (fail_with)
		return fail_with;
	note(off, len, 0);
	memcpy(buf, cs + off, len);
	return 0;
}

static int f_write(void *bdev, uint32_t index, uint64_t off, const void *buf, size_t len)
{
	(void)bdev;
	if (index != VFIO_PCI_CONFIG_REGION_INDEX || off + len > sizeof(cs))
		return -EINVAL;
	if (fail_with)
		return fail_with;
	note(off, len, 1);
	memcpy(cs + off, buf, len);
	return 0;
}

static const struct udd_backend_ops ops = {
	.name = "fake-cfg",
	.region_read = f_read,
	.region_write = f_write,
};

static void dev_init(struct udd_dev *dev, uint64_t cfg_size)
{
	memset(dev, 0, sizeof(*dev));
	dev->be = &ops;
	dev->irq_type = -1;
	dev->region_index[0] = VFIO_PCI_CONFIG_REGION_INDEX;
	dev->region[0].size = cfg_size;
	pthread_mutex_init(&dev->lock, NULL);
}

static void put16(unsigned off, uint16_t v)
{
	cs[off] = (uint8_t)v;
	cs[off + 1] = (uint8_t)(v >> 8);
}

static void put32(unsigned off, uint32_t v)
{
	put16(off, (uint16_t)v);
	put16(off + 2, (uint16_t)(v >> 16));
}

/* A standard capability: id, next. */
static void cap(unsigned off, uint8_t id, uint8_t next)
{
	cs[off] = id;
	cs[off + 1] = next;
}

/* An extended capability header. */
static void ext(unsigned off, uint16_t id, uint8_t ver, unsigned next)
{
	put32(off, (uint32_t)id | (uint32_t)(ver & 0xf) << 16 | (uint32_t)next << 20);
}

static int count_cb(void *user, uint8_t id, uint32_t off)
{
	(void)id;
	(void)off;
	(*(int *)user)++;
	return 0;
}

static int ext_count_cb(void *user, uint16_t id, uint8_t ver, uint32_t off)
{
	(void)id;
	(void)ver;
	(void)off;
	(*(int *)user)++;
	return 0;
}

static void test_std(void)
{
	struct udd_dev dev;
	int n;

	dev_init(&dev, 256);
	memset(cs, 0, sizeof(cs));
	/* no capability list bit: nothing, even with a pointer */
	cs[0x34] = 0x40;
	cap(0x40, 0x05, 0);
	n = 0;
	CHECK_EQ(udd_cfg_walk_caps(&dev, count_cb, &n), 0);
	CHECK_EQ(n, 0);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x05, 0), -ENOENT);

	put16(0x06, 0x0010);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x05, 0), 0x40);
	/* low pointer bits are masked off */
	cs[0x34] = 0x43;
	cap(0x40, 0x05, 0x53);
	cap(0x50, 0x11, 0x60);
	cap(0x60, 0x05, 0x00);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x05, 0), 0x40);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x11, 0), 0x50);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x05, 0x40), 0x60);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x05, 0x60), -ENOENT);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x10, 0), -ENOENT);
	n = 0;
	CHECK_EQ(udd_cfg_walk_caps(&dev, count_cb, &n), 0);
	CHECK_EQ(n, 3);

	/* a loop */
	cap(0x60, 0x05, 0x50);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x10, 0), -ELOOP);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x05, 0x60), -ELOOP);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x11, 0), 0x50); /* found before the loop shows */
	n = 0;
	CHECK_EQ(udd_cfg_walk_caps(&dev, count_cb, &n), -ELOOP);
	CHECK_EQ(n, 3);
	/* a self loop */
	cs[0x34] = 0xfc;
	cap(0xfc, 0x09, 0xfc);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x05, 0), -ELOOP);
	/* ends: a pointer below 0x40, an all-ones entry */
	cs[0x34] = 0x40;
	cap(0x40, 0x05, 0x10);
	CHECK_EQ(udd_cfg_find_cap(&dev, 0x11, 0), -ENOENT);
	cap(0x40, 0x05, 0x80);
	cap(0x80, 0xff, 0xff);
	n = 0;
	CHECK_EQ(udd_cfg_walk_caps(&dev, count_cb, &n), 0);
	CHECK_EQ(n, 1);
	/* no extended list in a 256-byte space, whatever is past it */
	ext(0x100, 0x0003, 1, 0);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x0003, 0), -ENOENT);
	pthread_mutex_destroy(&dev.lock);
}

static void test_ext(void)
{
	struct udd_dev dev;
	int n;

	dev_init(&dev, 4096);
	memset(cs, 0, sizeof(cs));
	n = 0;
	CHECK_EQ(udd_cfg_walk_ext_caps(&dev, ext_count_cb, &n), 0); /* header 0: empty */
	CHECK_EQ(n, 0);
	put32(0x100, 0xffffffffu);
	CHECK_EQ(udd_cfg_walk_ext_caps(&dev, ext_count_cb, &n), 0);
	CHECK_EQ(n, 0);

	ext(0x100, 0x0001, 2, 0x148);
	ext(0x148, 0x0003, 1, 0x200);
	ext(0x200, 0x0001, 1, 0xffc);
	ext(0xffc, 0x000b, 1, 0);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x0001, 0), 0x100);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x0001, 0x100), 0x200);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x0001, 0x200), -ENOENT);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x0003, 0), 0x148);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x000b, 0), 0xffc);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x0010, 0), -ENOENT);
	n = 0;
	CHECK_EQ(udd_cfg_walk_ext_caps(&dev, ext_count_cb, &n), 0);
	CHECK_EQ(n, 4);
	/* a loop back to the head */
	ext(0xffc, 0x000b, 1, 0x100);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x0010, 0), -ELOOP);
	/* a pointer into the standard space ends the list */
	ext(0xffc, 0x000b, 1, 0x040);
	CHECK_EQ(udd_cfg_find_ext_cap(&dev, 0x0010, 0), -ENOENT);
	/* an extended space smaller than 4 KiB: pointers past it end the list */
	dev.region[0].size = 0x400;
	ext(0x200, 0x0001, 1, 0x800);
	n = 0;
	CHECK_EQ(udd_cfg_walk_ext_caps(&dev, ext_count_cb, &n), 0);
	CHECK_EQ(n, 3);
	pthread_mutex_destroy(&dev.lock);
}

static void test_access(void)
{
	struct udd_dev dev;
	uint64_t v64;
	uint32_t v32;

	dev_init(&dev, 256);
	memset(cs, 0, sizeof(cs));
	put32(0x10, 0x89abcdefu);
	put32(0x14, 0x01234567u);
	log_.n = 0;
	REQUIRE_OK(udd_cfg_read64(&dev, 0x10, &v64));
	CHECK_EQ(v64, 0x0123456789abcdefull);
	CHECK_EQ(log_.n, 2);
	CHECK_EQ(log_.off[0], 0x10); /* low dword first */
	CHECK_EQ(log_.off[1], 0x14);
	CHECK_EQ(log_.len[0], 4);
	log_.n = 0;
	REQUIRE_OK(udd_cfg_write64(&dev, 0x18, 0x1122334455667788ull));
	CHECK_EQ(log_.n, 2);
	CHECK_EQ(log_.off[0], 0x18);
	CHECK(log_.write[0] && log_.write[1]);
	CHECK_EQ(cs[0x18], 0x88);
	CHECK_EQ(cs[0x1f], 0x11);
	/* raw accesses: any length inside, nothing outside */
	uint8_t buf[16];
	REQUIRE_OK(udd_cfg_raw_read(&dev, 0x10, buf, 16));
	CHECK_EQ(buf[0], 0xef);
	CHECK_EQ(udd_cfg_raw_read(&dev, 0xf8, buf, 16), -ENXIO);
	CHECK_EQ(udd_cfg_raw_write(&dev, 0x100, buf, 1), -ENXIO);
	log_.n = 0;
	CHECK_EQ(udd_cfg_read32(&dev, 0x102, &v32), -EINVAL);
	CHECK_EQ(log_.n, 0); /* nothing reached the backend */

	/* the peer vanishes: -ENODEV, and the device is marked gone */
	fail_with = -ENODEV;
	CHECK_EQ(udd_cfg_read32(&dev, 0, &v32), -ENODEV);
	fail_with = 0;
	CHECK(dev.gone);
	log_.n = 0;
	CHECK_EQ(udd_cfg_read32(&dev, 0, &v32), -ENODEV);
	CHECK_EQ(log_.n, 0);
	/* other errors pass through */
	dev.gone = false;
	fail_with = -EIO;
	CHECK_EQ(udd_cfg_write16(&dev, 0, 1), -EIO);
	fail_with = 0;
	CHECK(!dev.gone);
	pthread_mutex_destroy(&dev.lock);
}

int main(void)
{
	test_std();
	test_ext();
	test_access();
	return t_done("test_iova_cfg");
}
