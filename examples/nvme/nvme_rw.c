/* SPDX-License-Identifier: MIT */
/*
 * nvme_rw: find the first NVMe controller of the pool (class 010802),
 * identify it, write a pattern across a 64 KiB transfer (PRP list), read it
 * back and compare, flush, and shut the controller down.
 *   nvme_rw [--irq] [FDID]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nvme.h"

/* An ASCII field of Identify, space padded (5.15.2.1), as a C string. */
static const char *field(char *out, const char *in, size_t len)
{
	memcpy(out, in, len);
	while (len && out[len - 1] == ' ')
		len--;
	out[len] = '\0';
	return out;
}

int main(int argc, char **argv)
{
	struct nvme_opts o = { .nr_ioqs = 1 };
	udd_fdid_t id = 0;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--irq"))
			o.irq = true;
		else
			id = (udd_fdid_t)strtoul(argv[i], NULL, 0);
	}
	udd_ctx_t *ctx;
	int rc = udd_ctx_open(&ctx, NULL);
	if (rc) {
		fprintf(stderr, "nvme_rw: udd_ctx_open: %s\n", nvme_status_str(rc));
		return 1;
	}
	if (!id) {
		udd_filter_t f = { .class_code = NVME_PCI_CLASS };
		if (udd_pool_list(ctx, &f, &id, 1) < 1) {
			fprintf(stderr, "nvme_rw: no NVMe controller in the pool\n");
			udd_ctx_close(ctx);
			return 2;
		}
	}
	struct nvme_ctrl *c;
	rc = nvme_open(ctx, id, &o, &c);
	if (rc) {
		fprintf(stderr, "nvme_rw: open %#x: %s\n", id, nvme_status_str(rc));
		udd_ctx_close(ctx);
		return 1;
	}
	const struct nvme_id_ctrl *ic = nvme_id(c);
	char mn[41], sn[21], fr[9];
	printf("nvme %#010x: \"%s\" sn \"%s\" fw \"%s\", %u namespace(s), ns1 %llu blocks of %u bytes\n",
	       id, field(mn, ic->mn, 40), field(sn, ic->sn, 20), field(fr, ic->fr, 8), ic->nn,
	       (unsigned long long)nvme_ns_blocks(c), nvme_lba_size(c));
	struct nvme_ioq *q = NULL;
	struct nvme_buf wb = { 0 }, rb = { 0 };
	const size_t len = 64 * 1024;
	uint32_t nlb = (uint32_t)(len / nvme_lba_size(c));
	int ret = 1;
	rc = nvme_ioq_create(c, 64, &q);
	if (!rc)
		rc = nvme_buf_alloc(c, len, &wb);
	if (!rc)
		rc = nvme_buf_alloc(c, len, &rb);
	if (rc) {
		fprintf(stderr, "nvme_rw: setup: %s\n", nvme_status_str(rc));
		goto out;
	}
	for (size_t i = 0; i < len; i++)
		((uint8_t *)wb.va)[i] = (uint8_t)(i * 7 + (i >> 9));
	rc = nvme_rw_sync(q, NVME_CMD_WRITE, 1, 8, nlb, &wb, 0);
	if (!rc)
		rc = nvme_rw_sync(q, NVME_CMD_FLUSH, 1, 0, 1, NULL, 0);
	if (!rc)
		rc = nvme_rw_sync(q, NVME_CMD_READ, 1, 8, nlb, &rb, 0);
	if (rc) {
		fprintf(stderr, "nvme_rw: I/O: %s\n", nvme_status_str(rc));
		goto out;
	}
	if (memcmp(wb.va, rb.va, len)) {
		fprintf(stderr, "nvme_rw: read back differs\n");
		goto out;
	}
	printf("wrote, flushed and read back %zu bytes at LBA 8 (%s completions): ok\n", len,
	       o.irq ? "MSI-X" : "polled");
	ret = 0;
out:
	nvme_buf_free(&wb);
	nvme_buf_free(&rb);
	nvme_ioq_delete(q);
	nvme_close(c);
	udd_ctx_close(ctx);
	return ret;
}
