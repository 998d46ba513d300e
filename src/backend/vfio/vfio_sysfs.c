/* SPDX-License-Identifier: MIT */
/*
 * The sysfs side of the VFIO backend: which devices are bound to vfio-pci,
 * and what a device looks like without opening it (its "config" file, read
 * only, and its "resource" file). Listing a device this way never disturbs a
 * process that has borrowed it.
 *
 * $UDD_SYSFS_ROOT (default "/sys") moves the whole tree, so that a test can
 * build a fake one in a temporary directory.
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/vfio.h>

#include "vfio_priv.h"

const char *vfio_sysfs_root(void)
{
	const char *r = getenv("UDD_SYSFS_ROOT");
	return r && *r ? r : "/sys";
}

static int is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int vfio_bdf_valid(const char *s)
{
	/* DDDD:BB:DD.F */
	static const char shape[] = "hhhh:hh:hh.f";
	if (!s)
		return 0;
	for (size_t i = 0; i < sizeof(shape) - 1; i++) {
		char c = s[i];
		switch (shape[i]) {
		case 'h':
			if (!is_hex(c))
				return 0;
			break;
		case 'f':
			if (c < '0' || c > '7')
				return 0;
			break;
		default:
			if (c != shape[i])
				return 0;
		}
	}
	if (s[sizeof(shape) - 1] != '\0')
		return 0;
	/* device number is 5 bits */
	unsigned dev = (unsigned)strtoul((char[]){ s[8], s[9], 0 }, NULL, 16);
	return dev < 32;
}

int vfio_dev_path(char *buf, size_t len, const char *bdf, const char *leaf)
{
	int n = leaf ? snprintf(buf, len, "%s/bus/pci/devices/%s/%s", vfio_sysfs_root(), bdf, leaf)
		     : snprintf(buf, len, "%s/bus/pci/devices/%s", vfio_sysfs_root(), bdf);
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return 0;
}

int vfio_link_name(const char *bdf, const char *leaf, char *out, size_t outlen)
{
	char p[600], target[600];
	int rc = vfio_dev_path(p, sizeof(p), bdf, leaf);
	if (rc)
		return rc;
	ssize_t n = readlink(p, target, sizeof(target) - 1);
	if (n < 0)
		return -errno;
	target[n] = '\0';
	const char *base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!*base || strlen(base) >= outlen)
		return -ENAMETOOLONG;
	memcpy(out, base, strlen(base) + 1);
	return 0;
}

int vfio_check_bound(const char *bdf, struct udd_log *log)
{
	char p[600];
	struct stat st;
	int rc = vfio_dev_path(p, sizeof(p), bdf, NULL);
	if (rc)
		return rc;
	if (stat(p, &st) < 0) {
		udd_logf(log, UDD_LOG_WARN, "vfio: no PCI device %s", bdf);
		return -ENOENT;
	}
	char drv[64];
	rc = vfio_link_name(bdf, "driver", drv, sizeof(drv));
	if (rc == -ENOENT) {
		udd_logf(log, UDD_LOG_WARN, "vfio: %s is not bound to vfio-pci (no driver)", bdf);
		return -ENOENT;
	}
	if (rc)
		return rc;
	if (strcmp(drv, "vfio-pci") != 0) {
		udd_logf(log, UDD_LOG_WARN, "vfio: %s is not bound to vfio-pci (driver: %s)", bdf, drv);
		return -ENOENT;
	}
	return 0;
}

int vfio_sys_read_resources(const char *bdf, struct vfio_sys_res *res)
{
	char p[600];
	int rc = vfio_dev_path(p, sizeof(p), bdf, "resource");
	if (rc)
		return rc;
	FILE *f = fopen(p, "re");
	if (!f)
		return -errno;
	char line[256];
	unsigned n = 0;
	rc = 0;
	while (n < VFIO_SYS_NRES && fgets(line, sizeof(line), f)) {
		unsigned long long s, e, fl;
		char extra;
		if (sscanf(line, "%llx %llx %llx %c", &s, &e, &fl, &extra) != 3) {
			rc = -EIO;
			break;
		}
		if ((s || e) && e < s) {
			rc = -EIO;
			break;
		}
		res[n].start = s;
		res[n].end = e;
		res[n].flags = fl;
		n++;
	}
	fclose(f);
	if (rc)
		return rc;
	if (n < 6)
		return -EIO; /* every PCI device lists its six BARs */
	for (; n < VFIO_SYS_NRES; n++)
		res[n] = (struct vfio_sys_res){ 0, 0, 0 };
	return 0;
}

/* Find capability @id in the standard list; 0 if absent. Bounded walk. */
static unsigned cfg_find_cap(const uint8_t *cfg, size_t len, uint8_t id)
{
	if (len < 64 || !(cfg[0x06] & 0x10)) /* status: capability list */
		return 0;
	unsigned off = cfg[0x34] & 0xfc;
	for (int guard = 0; off >= 0x40 && off + 2 <= len && off < 256 && guard < 48; guard++) {
		if (cfg[off] == id)
			return off;
		off = cfg[off + 1] & 0xfc;
	}
	return 0;
}

uint32_t vfio_cfg_irq_count(const uint8_t *cfg, size_t len, uint32_t index)
{
	unsigned off;
	switch (index) {
	case VFIO_PCI_INTX_IRQ_INDEX:
		return len > 0x3d && cfg[0x3d] ? 1 : 0;
	case VFIO_PCI_MSI_IRQ_INDEX:
		off = cfg_find_cap(cfg, len, 0x05);
		if (!off || off + 4 > len)
			return 0;
		/* Multiple Message Capable: log2 of the vector count */
		return 1u << ((cfg[off + 2] >> 1) & 7);
	case VFIO_PCI_MSIX_IRQ_INDEX:
		off = cfg_find_cap(cfg, len, 0x11);
		if (!off || off + 4 > len)
			return 0;
		return ((uint32_t)(cfg[off + 2] | cfg[off + 3] << 8) & 0x7ff) + 1;
	default:
		return 0;
	}
}

/* Is the device directory @name bound to vfio-pci? */
static int bound_to_vfio(const char *name)
{
	char drv[64];
	return vfio_link_name(name, "driver", drv, sizeof(drv)) == 0 && strcmp(drv, "vfio-pci") == 0;
}

static int scan_names(const char *dir, int need_driver_check, struct udd_log *log,
		      int (*add)(void *arg, const char *loc), void *arg, int *found)
{
	DIR *d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? -ENOENT : -errno;
	struct dirent *de;
	int rc = 0;
	while (!rc && (de = readdir(d))) {
		if (!vfio_bdf_valid(de->d_name))
			continue;
		if (need_driver_check && !bound_to_vfio(de->d_name))
			continue;
		udd_logf(log, UDD_LOG_DEBUG, "vfio: %s is bound to vfio-pci", de->d_name);
		rc = add(arg, de->d_name);
		if (!rc)
			(*found)++;
	}
	closedir(d);
	return rc;
}

int vfio_enumerate(struct udd_log *log, int (*add)(void *arg, const char *loc), void *arg)
{
	char p[600];
	int found = 0;
	if (!add)
		return -EINVAL;
	/* Every PCI device whose driver link names vfio-pci ... */
	int n = snprintf(p, sizeof(p), "%s/bus/pci/devices", vfio_sysfs_root());
	if (n < 0 || (size_t)n >= sizeof(p))
		return -ENAMETOOLONG;
	int rc = scan_names(p, 1, log, add, arg, &found);
	if (rc != -ENOENT)
		return rc;
	/* ... or, with no devices directory, the driver's own links. */
	n = snprintf(p, sizeof(p), "%s/bus/pci/drivers/vfio-pci", vfio_sysfs_root());
	if (n < 0 || (size_t)n >= sizeof(p))
		return -ENAMETOOLONG;
	rc = scan_names(p, 0, log, add, arg, &found);
	return rc == -ENOENT ? 0 : rc; /* no vfio-pci: nothing to find */
}
