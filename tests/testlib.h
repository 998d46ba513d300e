/* SPDX-License-Identifier: MIT */
/* A tiny test harness: CHECK macros that count failures and say where. */
#ifndef UDD_TESTLIB_H
#define UDD_TESTLIB_H

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int t_failures;
static int t_checks;

#define CHECK(cond)                                                                     \
	do {                                                                            \
		t_checks++;                                                             \
		if (!(cond)) {                                                          \
			t_failures++;                                                   \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                       \
	} while (0)

/* Compare two integers, printing both on mismatch. */
#define CHECK_EQ(a, b)                                                                  \
	do {                                                                            \
		long long a_ = (long long)(a), b_ = (long long)(b);                     \
		t_checks++;                                                             \
		if (a_ != b_) {                                                         \
			t_failures++;                                                   \
			fprintf(stderr, "%s:%d: CHECK_EQ failed: %s == %s (%lld vs %lld / 0x%llx vs 0x%llx)\n", \
				__FILE__, __LINE__, #a, #b, a_, b_, (unsigned long long)a_, \
				(unsigned long long)b_);                                \
		}                                                                       \
	} while (0)

/* A call that must return 0; on failure the test cannot go on. */
#define REQUIRE_OK(expr)                                                                \
	do {                                                                            \
		long r_ = (long)(expr);                                                 \
		t_checks++;                                                             \
		if (r_ != 0) {                                                          \
			fprintf(stderr, "%s:%d: REQUIRE_OK failed: %s = %ld (%s)\n", __FILE__, \
				__LINE__, #expr, r_, r_ < 0 ? strerror((int)-r_) : "?"); \
			exit(1);                                                        \
		}                                                                       \
	} while (0)

#define REQUIRE(cond)                                                                   \
	do {                                                                            \
		t_checks++;                                                             \
		if (!(cond)) {                                                          \
			fprintf(stderr, "%s:%d: REQUIRE failed: %s\n", __FILE__, __LINE__, #cond); \
			exit(1);                                                        \
		}                                                                       \
	} while (0)

/* Ends main(): prints a summary, exit status 0 only if every check passed
 * and at least one check ran. */
static inline int t_done(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, t_checks, t_failures);
	return (t_failures || t_checks == 0) ? 1 : 0;
}

#endif
