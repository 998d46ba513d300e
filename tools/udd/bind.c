/* SPDX-License-Identifier: MIT */
/* udd: udd bind and udd unbind. */
#include "udd.h"

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

int cmd_bind(int argc, char **argv, int bind)
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

