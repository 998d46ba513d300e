/* SPDX-License-Identifier: MIT */
#ifndef UDD_CORE_POOL_H
#define UDD_CORE_POOL_H

#include "internal.h"

struct udd_loc {
	const struct udd_backend_ops *be;
	udd_fdid_t fdid;
	char path[256];
};
struct udd_loc_list {
	struct udd_loc *v;
	size_t n, cap;
};

UDD_INTERNAL udd_fdid_t udd_fdid_of(const char *location);
/* Every location of the pool, sorted by fdid; caller frees l->v. */
UDD_INTERNAL int udd_pool_scan(struct udd_ctx *ctx, struct udd_loc_list *l);
/* The location of @fdid: 0 or -ENOENT. */
UDD_INTERNAL int udd_pool_find(struct udd_ctx *ctx, udd_fdid_t fdid, struct udd_loc *out);

#endif
