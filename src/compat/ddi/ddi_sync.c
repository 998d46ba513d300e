/* SPDX-License-Identifier: MIT */
/*
 * illumos DDI compatibility: kmutex_t, kcondvar_t, lbolt ticks, soft state.
 * Locks are pthread objects; the owner is recorded so that mutex_owned()
 * (used in ASSERTs of ported drivers) answers for the calling thread.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ddi_impl.h"

void mutex_init(kmutex_t *mp, char *name, kmutex_type_t type, void *arg)
{
	(void)name;
	(void)type;
	(void)arg; /* the interrupt priority cookie: handlers are threads here */
	pthread_mutex_init(&mp->m, NULL);
	mp->held = 0;
}

void mutex_destroy(kmutex_t *mp)
{
	pthread_mutex_destroy(&mp->m);
}

void mutex_enter(kmutex_t *mp)
{
	pthread_mutex_lock(&mp->m);
	mp->owner = pthread_self();
	__atomic_store_n(&mp->held, 1, __ATOMIC_RELEASE);
}

int mutex_tryenter(kmutex_t *mp)
{
	if (pthread_mutex_trylock(&mp->m) != 0)
		return 0;
	mp->owner = pthread_self();
	__atomic_store_n(&mp->held, 1, __ATOMIC_RELEASE);
	return 1;
}

void mutex_exit(kmutex_t *mp)
{
	__atomic_store_n(&mp->held, 0, __ATOMIC_RELEASE);
	pthread_mutex_unlock(&mp->m);
}

int mutex_owned(kmutex_t *mp)
{
	/* only the owner can see held == 1 with owner == itself stably */
	return __atomic_load_n(&mp->held, __ATOMIC_ACQUIRE) && pthread_equal(mp->owner, pthread_self());
}

void cv_init(kcondvar_t *cvp, char *name, kcv_type_t type, void *arg)
{
	(void)name;
	(void)type;
	(void)arg;
	pthread_condattr_t a;
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&cvp->c, &a);
	pthread_condattr_destroy(&a);
}

void cv_destroy(kcondvar_t *cvp)
{
	pthread_cond_destroy(&cvp->c);
}

void cv_wait(kcondvar_t *cvp, kmutex_t *mp)
{
	__atomic_store_n(&mp->held, 0, __ATOMIC_RELEASE);
	pthread_cond_wait(&cvp->c, &mp->m);
	mp->owner = pthread_self();
	__atomic_store_n(&mp->held, 1, __ATOMIC_RELEASE);
}

void cv_signal(kcondvar_t *cvp)
{
	pthread_cond_signal(&cvp->c);
}

void cv_broadcast(kcondvar_t *cvp)
{
	pthread_cond_broadcast(&cvp->c);
}

#define DDI_HZ 1000

clock_t ddi_get_lbolt(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (clock_t)(ts.tv_sec * DDI_HZ + ts.tv_nsec / (1000000000 / DDI_HZ));
}

clock_t drv_usectohz(clock_t us)
{
	return (us + (1000000 / DDI_HZ) - 1) / (1000000 / DDI_HZ);
}

clock_t drv_hztousec(clock_t ticks)
{
	return ticks * (1000000 / DDI_HZ);
}

clock_t cv_timedwait(kcondvar_t *cvp, kmutex_t *mp, clock_t timeout)
{
	clock_t now = ddi_get_lbolt();
	if (timeout <= now)
		return -1;
	struct timespec ts = { .tv_sec = timeout / DDI_HZ,
			       .tv_nsec = (long)(timeout % DDI_HZ) * (1000000000 / DDI_HZ) };
	__atomic_store_n(&mp->held, 0, __ATOMIC_RELEASE);
	int rc = pthread_cond_timedwait(&cvp->c, &mp->m, &ts);
	mp->owner = pthread_self();
	__atomic_store_n(&mp->held, 1, __ATOMIC_RELEASE);
	if (rc == ETIMEDOUT)
		return -1;
	clock_t left = timeout - ddi_get_lbolt();
	return left > 0 ? left : 1;
}

/* ---- soft state: a growable array of zeroed items, one lock per set ---- */

struct ddi_soft_state {
	pthread_mutex_t lock;
	size_t size;
	size_t n;
	void **items;
};

int ddi_soft_state_init(void **state_p, size_t size, size_t n_items)
{
	if (!state_p || !size)
		return EINVAL; /* illumos returns an errno value here */
	struct ddi_soft_state *s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->size = size;
	s->n = n_items ? n_items : 1;
	s->items = calloc(s->n, sizeof(void *));
	if (!s->items) {
		free(s);
		return ENOMEM;
	}
	pthread_mutex_init(&s->lock, NULL);
	*state_p = s;
	return 0;
}

int ddi_soft_state_zalloc(void *state, int item)
{
	struct ddi_soft_state *s = state;
	if (!s || item < 0 || item > (1 << 20)) /* instances are small numbers */
		return DDI_FAILURE;
	pthread_mutex_lock(&s->lock);
	if ((size_t)item >= s->n) {
		size_t n = s->n;
		while (n <= (size_t)item)
			n *= 2;
		void **p = realloc(s->items, n * sizeof(void *));
		if (!p) {
			pthread_mutex_unlock(&s->lock);
			return DDI_FAILURE;
		}
		memset(p + s->n, 0, (n - s->n) * sizeof(void *));
		s->items = p;
		s->n = n;
	}
	if (s->items[item]) {
		pthread_mutex_unlock(&s->lock);
		return DDI_FAILURE; /* already allocated */
	}
	s->items[item] = calloc(1, s->size);
	int rc = s->items[item] ? DDI_SUCCESS : DDI_FAILURE;
	pthread_mutex_unlock(&s->lock);
	return rc;
}

void *ddi_get_soft_state(void *state, int item)
{
	struct ddi_soft_state *s = state;
	void *p = NULL;
	if (!s || item < 0)
		return NULL;
	pthread_mutex_lock(&s->lock);
	if ((size_t)item < s->n)
		p = s->items[item];
	pthread_mutex_unlock(&s->lock);
	return p;
}

void ddi_soft_state_free(void *state, int item)
{
	struct ddi_soft_state *s = state;
	if (!s || item < 0)
		return;
	pthread_mutex_lock(&s->lock);
	if ((size_t)item < s->n) {
		free(s->items[item]);
		s->items[item] = NULL;
	}
	pthread_mutex_unlock(&s->lock);
}

void ddi_soft_state_fini(void **state_p)
{
	if (!state_p || !*state_p)
		return;
	struct ddi_soft_state *s = *state_p;
	for (size_t i = 0; i < s->n; i++)
		free(s->items[i]);
	free(s->items);
	pthread_mutex_destroy(&s->lock);
	free(s);
	*state_p = NULL;
}
