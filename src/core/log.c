/* SPDX-License-Identifier: MIT */
/* Logging: a per-context callback, quiet by default. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>

#include "internal.h"

void udd_logf(struct udd_log *log, int level, const char *fmt, ...)
{
	if (!log)
		return;
	pthread_mutex_lock(&log->lock);
	udd_log_cb_t cb = log->cb;
	void *user = log->user;
	int max = log->level;
	pthread_mutex_unlock(&log->lock);
	if (!cb || level > max)
		return;
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cb(user, level, msg);
}

int udd_ctx_set_log(udd_ctx_t *ctx, udd_log_cb_t cb, void *user, int level)
{
	if (!ctx)
		return -EINVAL;
	pthread_mutex_lock(&ctx->log.lock);
	ctx->log.cb = cb;
	ctx->log.user = user;
	ctx->log.level = level;
	pthread_mutex_unlock(&ctx->log.lock);
	return 0;
}
