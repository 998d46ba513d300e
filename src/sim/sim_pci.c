/* SPDX-License-Identifier: MIT */
/* PCI config space construction and access for udd-sim device models. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sim.h"

void sim_cfg_w8(struct sim_dev *d, unsigned off, uint8_t v)
{
	d->cfg[off] = v;
}

void sim_cfg_w16(struct sim_dev *d, unsigned off, uint16_t v)
{
	d->cfg[off] = (uint8_t)v;
	d->cfg[off + 1] = (uint8_t)(v >> 8);
}

void sim_cfg_w32(struct sim_dev *d, unsigned off, uint32_t v)
{
	sim_cfg_w16(d, off, (uint16_t)v);
	sim_cfg_w16(d, off + 2, (uint16_t)(v >> 16));
}

uint16_t sim_cfg_r16(const struct sim_dev *d, unsigned off)
{
	return (uint16_t)(d->cfg[off] | (d->cfg[off + 1] << 8));
}

uint32_t sim_cfg_r32(const struct sim_dev *d, unsigned off)
{
	return sim_cfg_r16(d, off) | ((uint32_t)sim_cfg_r16(d, off + 2) << 16);
}

void sim_wmask16(struct sim_dev *d, unsigned off, uint16_t m)
{
	d->wmask[off] = (uint8_t)m;
	d->wmask[off + 1] = (uint8_t)(m >> 8);
}

void sim_wmask32(struct sim_dev *d, unsigned off, uint32_t m)
{
	sim_wmask16(d, off, (uint16_t)m);
	sim_wmask16(d, off + 2, (uint16_t)(m >> 16));
}

void sim_cfg_header(struct sim_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		    uint8_t rev, uint8_t int_pin)
{
	sim_cfg_w16(d, 0x00, vendor);
	sim_cfg_w16(d, 0x02, device);
	sim_wmask16(d, 0x04, 0x0547); /* I/O, memory, master, parity, SERR, INTx disable */
	/* status: error bits are write-1-to-clear */
	d->w1cmask[0x07] = 0xf9;
	sim_cfg_w8(d, 0x08, rev);
	sim_cfg_w8(d, 0x09, (uint8_t)class_code);
	sim_cfg_w8(d, 0x0a, (uint8_t)(class_code >> 8));
	sim_cfg_w8(d, 0x0b, (uint8_t)(class_code >> 16));
	d->wmask[0x0c] = 0xff; /* cache line size */
	sim_cfg_w8(d, 0x0e, 0x00); /* header type 0, single function */
	sim_cfg_w16(d, 0x2c, 0x1af4); /* subsystem vendor, as QEMU */
	sim_cfg_w16(d, 0x2e, 0x1100); /* subsystem id, as QEMU */
	d->wmask[0x3c] = 0xff; /* interrupt line */
	sim_cfg_w8(d, 0x3d, int_pin);
}

void sim_cfg_bar(struct sim_dev *d, int i, uint64_t size, uint32_t flags)
{
	struct sim_bar *b = &d->bars[i];
	unsigned off = 0x10 + 4u * (unsigned)i;
	b->size = size;
	b->flags = flags;
	if (flags & SIM_BAR_IO) {
		sim_cfg_w32(d, off, 0x1);
		sim_wmask32(d, off, (uint32_t)~(size - 1) & ~0x3u);
		return;
	}
	uint32_t lo = 0;
	if (flags & SIM_BAR_64)
		lo |= 0x4;
	if (flags & SIM_BAR_PREFETCH)
		lo |= 0x8;
	sim_cfg_w32(d, off, lo);
	sim_wmask32(d, off, (uint32_t)~(size - 1) & ~0xfu);
	if (flags & SIM_BAR_64)
		sim_wmask32(d, off + 4, (uint32_t)(~(size - 1) >> 32));
}

unsigned sim_cfg_cap(struct sim_dev *d, unsigned off, uint8_t id)
{
	d->cfg[off] = id;
	d->cfg[off + 1] = 0;
	if (!d->cfg[0x34]) {
		d->cfg[0x34] = (uint8_t)off;
	} else {
		unsigned p = d->cfg[0x34];
		while (d->cfg[p + 1])
			p = d->cfg[p + 1];
		d->cfg[p + 1] = (uint8_t)off;
	}
	d->cfg[0x06] |= 0x10; /* capabilities list */
	return off;
}

unsigned sim_cfg_msi(struct sim_dev *d, unsigned off, bool is64)
{
	sim_cfg_cap(d, off, 0x05);
	/* one vector (MMC 0); enable and MME writable */
	sim_cfg_w16(d, off + 2, is64 ? 0x0080 : 0x0000);
	sim_wmask16(d, off + 2, 0x0071);
	sim_wmask32(d, off + 4, 0xfffffffc);
	if (is64) {
		sim_wmask32(d, off + 8, 0xffffffff);
		sim_wmask16(d, off + 12, 0xffff);
		return off + 14;
	}
	sim_wmask16(d, off + 8, 0xffff);
	return off + 10;
}

unsigned sim_cfg_msix(struct sim_dev *d, unsigned off, uint16_t n, int bar, uint32_t table_off,
		      uint32_t pba_off)
{
	sim_cfg_cap(d, off, 0x11);
	sim_cfg_w16(d, off + 2, (uint16_t)(n - 1));
	sim_wmask16(d, off + 2, 0xc000); /* enable, function mask */
	sim_cfg_w32(d, off + 4, table_off | (uint32_t)bar);
	sim_cfg_w32(d, off + 8, pba_off | (uint32_t)bar);
	return off + 12;
}

unsigned sim_cfg_pm(struct sim_dev *d, unsigned off)
{
	sim_cfg_cap(d, off, 0x01);
	sim_cfg_w16(d, off + 2, 0x0003);     /* PM spec 1.2 */
	sim_cfg_w16(d, off + 4, 0x0008);     /* D0, No_Soft_Reset */
	sim_wmask16(d, off + 4, 0x0103);     /* power state, PME enable */
	d->w1cmask[off + 5] = 0x80;          /* PME status */
	return off + 8;
}

unsigned sim_cfg_pcie(struct sim_dev *d, unsigned off)
{
	sim_cfg_cap(d, off, 0x10);
	sim_cfg_w16(d, off + 0x02, 0x0002);     /* version 2, endpoint */
	sim_cfg_w32(d, off + 0x04, 0x00008000); /* devcap: 128B MPS, role-based errors */
	sim_cfg_w16(d, off + 0x08, 0x2810);     /* devctl: MRRS 512, relaxed ordering... */
	sim_wmask16(d, off + 0x08, 0x7fff);
	d->w1cmask[off + 0x0a] = 0x0f;          /* devsta error bits */
	sim_cfg_w32(d, off + 0x0c, 0x00000011); /* linkcap: 2.5GT/s x1 */
	sim_wmask16(d, off + 0x10, 0x0fc3);
	sim_cfg_w16(d, off + 0x12, 0x0011);     /* linksta: 2.5GT/s x1 */
	sim_cfg_w32(d, off + 0x2c, 0x00000002); /* linkcap2: 2.5GT/s supported */
	sim_cfg_w16(d, off + 0x30, 0x0001);     /* linkctl2: target 2.5GT/s */
	return off + 0x3c;
}

void sim_cfg_ext_dsn(struct sim_dev *d, unsigned off, uint64_t serial)
{
	sim_cfg_w32(d, off, 0x0003u | (1u << 16)); /* DSN, version 1, last */
	sim_cfg_w32(d, off + 4, (uint32_t)serial);
	sim_cfg_w32(d, off + 8, (uint32_t)(serial >> 32));
}

void sim_cfg_read(struct sim_dev *d, unsigned off, void *buf, unsigned len)
{
	memcpy(buf, d->cfg + off, len);
}

void sim_cfg_write(struct sim_dev *d, unsigned off, const void *buf, unsigned len)
{
	const uint8_t *v = buf;
	for (unsigned i = 0; i < len; i++) {
		unsigned o = off + i;
		uint8_t nv = (uint8_t)((d->cfg[o] & ~d->wmask[o]) | (v[i] & d->wmask[o]));
		nv &= (uint8_t)~(v[i] & d->w1cmask[o]);
		d->cfg[o] = nv;
	}
}

int sim_bar_memfd(struct sim_dev *d, int bar, const char *name)
{
	struct sim_bar *b = &d->bars[bar];
	/* sealed at its size: a client that maps it cannot shrink it under the
	 * server's own mapping (SIGBUS) or grow it */
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)b->size) < 0 ||
	    fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	void *p = mmap(NULL, b->size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		int e = -errno;
		close(fd);
		return e;
	}
	b->memfd = fd;
	b->mem = p;
	return 0;
}
