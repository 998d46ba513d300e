/* SPDX-License-Identifier: MIT */
/* Helpers shared by the guest tests in tests/vm/guest (raw VFIO, no udd library). */
#ifndef UDD_VM_GUEST_H
#define UDD_VM_GUEST_H

#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline double vg_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Find the first PCI function with this vendor:device in sysfs (BDFs move with the QEMU
 * command line): fills bdf, returns its IOMMU group number or -errno. */
static inline int vg_find_device(unsigned int vendor, unsigned int device, char *bdf, size_t len)
{
	DIR *d = opendir("/sys/bus/pci/devices");
	struct dirent *e;
	int group = -ENODEV;

	if (!d)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char path[PATH_MAX], link[PATH_MAX];
		unsigned int ven = 0, dev = 0;
		FILE *f;
		ssize_t n;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vendor", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%x", &ven) != 1)
			ven = 0;
		fclose(f);
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/device", e->d_name);
		f = fopen(path, "r");
		if (!f)
			continue;
		if (fscanf(f, "%x", &dev) != 1)
			dev = 0;
		fclose(f);
		if (ven != vendor || dev != device)
			continue;
		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", e->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0) {
			group = -errno;
			break;
		}
		link[n] = '\0';
		snprintf(bdf, len, "%s", e->d_name);
		group = atoi(strrchr(link, '/') ? strrchr(link, '/') + 1 : link);
		break;
	}
	closedir(d);
	return group;
}

#endif
