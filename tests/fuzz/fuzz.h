/* SPDX-License-Identifier: MIT */
/*
 * Shared pieces of the vfio-user fuzz harnesses (fuzz_server.c, fuzz_client.c):
 * the input record format, descriptor factories and small time helpers.
 * See docs/fuzzing.md for the input format in prose.
 *
 * An input is one configuration byte followed by records:
 *
 *   struct rec {
 *       uint8_t  kind;    harness-specific: what to do with the bytes
 *       uint8_t  fdspec;  descriptors to attach (FUZZ_FD_*), see below
 *       uint16_t arg;     little-endian; size of a memfd / regular file
 *       uint16_t len;     little-endian; bytes that follow (clamped to the input)
 *       uint8_t  data[len];
 *   };
 *
 * fdspec: bits 0-2 the type, bits 3-5 count-1 (1..8 descriptors), bit 6: arg
 * counts 4 KiB pages instead of bytes. A truncated record header ends the
 * input.
 */
#ifndef UDD_FUZZ_H
#define UDD_FUZZ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* libFuzzer's entry point; replay_main.c calls it without libFuzzer. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FUZZ_REC_HDR 6

enum fuzz_fd_type {
	FUZZ_FD_NONE = 0,
	FUZZ_FD_MEMFD = 1,    /* read-write memfd of the size in arg */
	FUZZ_FD_EVENTFD = 2,
	FUZZ_FD_ROFILE = 3,   /* unlinked regular file of that size, opened read-only */
	FUZZ_FD_PIPE = 4,     /* read end of a pipe */
	FUZZ_FD_SOCKET = 5,   /* one end of a socketpair (the other is closed) */
	FUZZ_FD_DIR = 6,      /* a directory */
	FUZZ_FD_ROMEMFD = 7,  /* memfd of that size reopened read-only */
};
#define FUZZ_FD_TYPE(spec) ((spec) & 7u)
#define FUZZ_FD_COUNT(spec) (FUZZ_FD_TYPE(spec) ? (((spec) >> 3) & 7u) + 1u : 0u)
#define FUZZ_FD_PAGES 0x40u
#define FUZZ_MAX_FDS 8

struct fuzz_rec {
	uint8_t kind;
	uint8_t fdspec;
	uint16_t arg;
	const uint8_t *data;
	size_t len;
};

struct fuzz_in {
	const uint8_t *p;
	size_t left;
};

/* The next record, false at the end of the input. */
bool fuzz_next(struct fuzz_in *in, struct fuzz_rec *r);

/* Size in bytes that a record's fdspec/arg describe. */
uint64_t fuzz_fd_size(const struct fuzz_rec *r);

/* Make the descriptors a record asks for into fds[] (FUZZ_MAX_FDS room);
 * returns how many were made (failures are skipped). */
size_t fuzz_make_fds(const struct fuzz_rec *r, int *fds);
void fuzz_close_fds(int *fds, size_t n);

/* Monotonic milliseconds. */
uint64_t fuzz_now_ms(void);
/* One non-blocking sendmsg of p[off, len), with @nfds descriptors on the
 * first byte (off == 0): bytes sent, or -1 with errno. Raw bytes: the
 * harnesses send whatever the input says, framed or not. */
ssize_t fuzz_send_part(int sock, const uint8_t *p, size_t off, size_t len, const int *fds,
		       size_t nfds);
void fuzz_sleep_us(unsigned us);

/* Little-endian loads and stores (x86-64 hosts; the protocol is host order). */
static inline void fuzz_put32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

#endif
