/* SPDX-License-Identifier: MIT */
/*
 * udd's SISCI layer: interrupts and data interrupts between processes of
 * this node. A local interrupt is a UNIX datagram socket bound at
 * "<registry>/intr-<no>" (data interrupts: "dintr-<no>"); triggering sends
 * one datagram (a data interrupt's payload is the datagram). With
 * SCI_FLAG_USE_CALLBACK a library thread delivers each one to the callback.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "sisci_int.h"

#define SCI_MAX_DATA_INTERRUPT 16384u

struct sci_local_interrupt {
	uint32_t magic;
	struct sci_desc *sd;
	int data;
	int fd;
	int stopfd;
	unsigned int no;
	sci_cb_interrupt_t cb;
	sci_cb_data_interrupt_t dcb;
	void *arg;
	pthread_t thr;
	int has_thr;
	struct sockaddr_un sa;
};
struct sci_local_data_interrupt {
	struct sci_local_interrupt i;
};
struct sci_remote_interrupt {
	uint32_t magic;
	struct sci_desc *sd;
	int data;
	int fd;
};
struct sci_remote_data_interrupt {
	struct sci_remote_interrupt i;
};

static int intr_addr(int data, unsigned no, struct sockaddr_un *sa)
{
	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	int n = snprintf(sa->sun_path, sizeof(sa->sun_path), "%s/%sintr-%u", sci_g.regdir,
			 data ? "d" : "", no);
	return (n < 0 || (size_t)n >= sizeof(sa->sun_path)) ? -ENAMETOOLONG : 0;
}

/* Bind fd at interrupt number no, clearing a stale socket file. */
static int bind_no(int fd, int data, unsigned no, struct sockaddr_un *sa)
{
	int rc = intr_addr(data, no, sa);
	if (rc < 0)
		return rc;
	if (bind(fd, (struct sockaddr *)sa, sizeof(*sa)) == 0)
		return 0;
	if (errno != EADDRINUSE)
		return -errno;
	int probe = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (probe < 0)
		return -errno;
	int live = connect(probe, (struct sockaddr *)sa, sizeof(*sa)) == 0;
	close(probe);
	if (live)
		return -EADDRINUSE;
	unlink(sa->sun_path);
	return bind(fd, (struct sockaddr *)sa, sizeof(*sa)) == 0 ? 0 : -errno;
}

static void *cb_thread(void *arg)
{
	struct sci_local_interrupt *li = arg;
	char *buf = malloc(SCI_MAX_DATA_INTERRUPT);
	if (!buf)
		return NULL;
	for (;;) {
		struct pollfd p[2] = { { li->fd, POLLIN, 0 }, { li->stopfd, POLLIN, 0 } };
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		ssize_t n = recv(li->fd, buf, SCI_MAX_DATA_INTERRUPT, 0);
		if (n < 0)
			continue;
		sci_callback_action_t act;
		if (li->data)
			act = li->dcb(li->arg, (sci_local_data_interrupt_t)li, buf, (unsigned)n,
				      SCI_ERR_OK);
		else
			act = li->cb(li->arg, (sci_local_interrupt_t)li, SCI_ERR_OK);
		if (act == SCI_CALLBACK_CANCEL)
			break;
	}
	free(buf);
	return NULL;
}

static sci_error_t lintr_create(sci_desc_t sd, struct sci_local_interrupt **out, int data,
				unsigned int adapter, unsigned int *no, void *cb, void *arg,
				unsigned int flags)
{
	if (!out || !no || !sd || sd->magic != M_DESC)
		return SCI_ERR_ILLEGAL_PARAMETER;
	if (adapter != 0)
		return SCI_ERR_NO_SUCH_ADAPTERNO;
	if ((flags & SCI_FLAG_USE_CALLBACK) && !cb)
		return SCI_ERR_ILLEGAL_PARAMETER;
	struct sci_local_interrupt *li =
		calloc(1, data ? sizeof(struct sci_local_data_interrupt) : sizeof(*li));
	if (!li)
		return SCI_ERR_API_NOSPC;
	li->data = data;
	li->stopfd = -1;
	li->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (li->fd < 0) {
		free(li);
		return sci_from_errno(errno);
	}
	pthread_mutex_lock(&sci_g.lock);
	int rc = sci_regdir_ok();
	if (rc == 0) {
		if (flags & SCI_FLAG_FIXED_INTNO) {
			li->no = *no;
			rc = bind_no(li->fd, data, li->no, &li->sa);
		} else {
			rc = -EADDRINUSE;
			for (unsigned k = 1; k < 65536 && rc == -EADDRINUSE; k++) {
				li->no = k;
				rc = bind_no(li->fd, data, k, &li->sa);
			}
		}
	}
	pthread_mutex_unlock(&sci_g.lock);
	if (rc < 0) {
		close(li->fd);
		free(li);
		return rc == -EADDRINUSE ? SCI_ERR_NO_SUCH_INTNO /* in use */ : sci_from_errno(rc);
	}
	if (flags & SCI_FLAG_USE_CALLBACK) {
		if (data)
			li->dcb = (sci_cb_data_interrupt_t)cb;
		else
			li->cb = (sci_cb_interrupt_t)cb;
		li->arg = arg;
		li->stopfd = eventfd(0, EFD_CLOEXEC);
		if (li->stopfd < 0 || pthread_create(&li->thr, NULL, cb_thread, li) != 0) {
			if (li->stopfd >= 0)
				close(li->stopfd);
			unlink(li->sa.sun_path);
			close(li->fd);
			free(li);
			return SCI_ERR_NOSPC;
		}
		li->has_thr = 1;
	}
	li->magic = data ? M_LDINTR : M_LINTR;
	li->sd = sd;
	pthread_mutex_lock(&sci_g.lock);
	sd->nres++;
	pthread_mutex_unlock(&sci_g.lock);
	*no = li->no;
	*out = li;
	return SCI_ERR_OK;
}

static sci_error_t lintr_remove(struct sci_local_interrupt *li, uint32_t magic)
{
	if (!li || li->magic != magic)
		return SCI_ERR_ILLEGAL_PARAMETER;
	li->magic = 0;
	if (li->has_thr) {
		uint64_t one = 1;
		ssize_t w = write(li->stopfd, &one, sizeof(one));
		(void)w;
		if (!pthread_equal(pthread_self(), li->thr))
			pthread_join(li->thr, NULL);
		else
			pthread_detach(li->thr);
		close(li->stopfd);
	}
	unlink(li->sa.sun_path);
	close(li->fd);
	pthread_mutex_lock(&sci_g.lock);
	li->sd->nres--;
	pthread_mutex_unlock(&sci_g.lock);
	free(li);
	return SCI_ERR_OK;
}

static sci_error_t lintr_wait(struct sci_local_interrupt *li, uint32_t magic, void *data,
			      unsigned int *length, unsigned int timeout)
{
	if (!li || li->magic != magic)
		return SCI_ERR_ILLEGAL_PARAMETER;
	if (li->has_thr)
		return SCI_ERR_ILLEGAL_OPERATION;
	struct pollfd p = { li->fd, POLLIN, 0 };
	int to = timeout == SCI_INFINITE_TIMEOUT ? -1 : timeout > 0x7fffffff ? 0x7fffffff : (int)timeout;
	int n = poll(&p, 1, to);
	if (n < 0)
		return errno == EINTR ? SCI_ERR_CANCELLED : sci_from_errno(errno);
	if (n == 0)
		return SCI_ERR_TIMEOUT;
	char dummy;
	ssize_t r;
	if (li->data) {
		r = recv(li->fd, data, *length, MSG_TRUNC);
		if (r < 0)
			return sci_from_errno(errno);
		if ((size_t)r > *length) {
			*length = (unsigned)r;
			return SCI_ERR_OUT_OF_RANGE;
		}
		*length = (unsigned)r;
	} else {
		r = recv(li->fd, &dummy, 1, 0);
		if (r < 0)
			return sci_from_errno(errno);
	}
	return SCI_ERR_OK;
}

static sci_error_t rintr_connect(sci_desc_t sd, struct sci_remote_interrupt **out, int data,
				 unsigned node, unsigned adapter, unsigned no, unsigned timeout)
{
	if (!out || !sd || sd->magic != M_DESC)
		return SCI_ERR_ILLEGAL_PARAMETER;
	if (adapter != 0)
		return SCI_ERR_NO_SUCH_ADAPTERNO;
	pthread_mutex_lock(&sci_g.lock);
	unsigned me = sci_g.node_id;
	int rc = sci_regdir_ok();
	struct sockaddr_un sa;
	if (rc == 0)
		rc = intr_addr(data, no, &sa);
	pthread_mutex_unlock(&sci_g.lock);
	if (node != me)
		return SCI_ERR_NO_SUCH_NODEID;
	if (rc < 0)
		return sci_from_errno(rc);
	struct sci_remote_interrupt *ri =
		calloc(1, data ? sizeof(struct sci_remote_data_interrupt) : sizeof(*ri));
	if (!ri)
		return SCI_ERR_API_NOSPC;
	ri->fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (ri->fd < 0) {
		free(ri);
		return sci_from_errno(errno);
	}
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		if (connect(ri->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			break;
		struct timespec now;
		clock_gettime(CLOCK_MONOTONIC, &now);
		long long ms = (now.tv_sec - t0.tv_sec) * 1000LL + (now.tv_nsec - t0.tv_nsec) / 1000000;
		if (timeout == 0 || (timeout != SCI_INFINITE_TIMEOUT && ms >= (long long)timeout)) {
			close(ri->fd);
			free(ri);
			return timeout ? SCI_ERR_TIMEOUT : SCI_ERR_NO_SUCH_INTNO;
		}
		struct timespec d = { 0, 5 * 1000 * 1000 };
		nanosleep(&d, NULL);
	}
	ri->magic = data ? M_RDINTR : M_RINTR;
	ri->data = data;
	ri->sd = sd;
	pthread_mutex_lock(&sci_g.lock);
	sd->nres++;
	pthread_mutex_unlock(&sci_g.lock);
	*out = ri;
	return SCI_ERR_OK;
}

static sci_error_t rintr_disconnect(struct sci_remote_interrupt *ri, uint32_t magic)
{
	if (!ri || ri->magic != magic)
		return SCI_ERR_ILLEGAL_PARAMETER;
	ri->magic = 0;
	close(ri->fd);
	pthread_mutex_lock(&sci_g.lock);
	ri->sd->nres--;
	pthread_mutex_unlock(&sci_g.lock);
	free(ri);
	return SCI_ERR_OK;
}

static sci_error_t rintr_trigger(struct sci_remote_interrupt *ri, uint32_t magic, const void *data,
				 unsigned int length)
{
	if (!ri || ri->magic != magic)
		return SCI_ERR_ILLEGAL_PARAMETER;
	if (ri->data && length > SCI_MAX_DATA_INTERRUPT)
		return SCI_ERR_OUT_OF_RANGE;
	if (ri->data && length && !data)
		return SCI_ERR_ILLEGAL_PARAMETER;
	char one = 1;
	ssize_t n = ri->data ? send(ri->fd, data, length, MSG_NOSIGNAL)
			     : send(ri->fd, &one, 1, MSG_NOSIGNAL);
	if (n < 0)
		return errno == ECONNREFUSED || errno == ENOENT ? SCI_ERR_NO_SUCH_INTNO
								: sci_from_errno(errno);
	return SCI_ERR_OK;
}

void SCICreateInterrupt(sci_desc_t sd, sci_local_interrupt_t *interrupt, unsigned int localAdapterNo,
			unsigned int *interruptNo, sci_cb_interrupt_t callback, void *callbackArg,
			unsigned int flags, sci_error_t *error)
{
	struct sci_local_interrupt *li = NULL;
	sci_error_t e = lintr_create(sd, &li, 0, localAdapterNo, interruptNo, (void *)callback,
				     callbackArg, flags);
	if (e == SCI_ERR_OK)
		*interrupt = li;
	SET_ERR(error, e);
}

void SCIRemoveInterrupt(sci_local_interrupt_t interrupt, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	SET_ERR(error, lintr_remove(interrupt, M_LINTR));
}

void SCIWaitForInterrupt(sci_local_interrupt_t interrupt, unsigned int timeout, unsigned int flags,
			 sci_error_t *error)
{
	(void)flags;
	SET_ERR(error, lintr_wait(interrupt, M_LINTR, NULL, NULL, timeout));
}

void SCIConnectInterrupt(sci_desc_t sd, sci_remote_interrupt_t *interrupt, unsigned int nodeId,
			 unsigned int localAdapterNo, unsigned int interruptNo, unsigned int timeout,
			 unsigned int flags, sci_error_t *error)
{
	(void)flags;
	struct sci_remote_interrupt *ri = NULL;
	sci_error_t e = rintr_connect(sd, &ri, 0, nodeId, localAdapterNo, interruptNo, timeout);
	if (e == SCI_ERR_OK)
		*interrupt = ri;
	SET_ERR(error, e);
}

void SCIDisconnectInterrupt(sci_remote_interrupt_t interrupt, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	SET_ERR(error, rintr_disconnect(interrupt, M_RINTR));
}

void SCITriggerInterrupt(sci_remote_interrupt_t interrupt, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	SET_ERR(error, rintr_trigger(interrupt, M_RINTR, NULL, 0));
}

void SCICreateDataInterrupt(sci_desc_t sd, sci_local_data_interrupt_t *interrupt,
			    unsigned int localAdapterNo, unsigned int *interruptNo,
			    sci_cb_data_interrupt_t callback, void *callbackArg, unsigned int flags,
			    sci_error_t *error)
{
	struct sci_local_interrupt *li = NULL;
	sci_error_t e = lintr_create(sd, &li, 1, localAdapterNo, interruptNo, (void *)callback,
				     callbackArg, flags);
	if (e == SCI_ERR_OK)
		*interrupt = (sci_local_data_interrupt_t)li;
	SET_ERR(error, e);
}

void SCIRemoveDataInterrupt(sci_local_data_interrupt_t interrupt, unsigned int flags,
			    sci_error_t *error)
{
	(void)flags;
	SET_ERR(error, lintr_remove((struct sci_local_interrupt *)interrupt, M_LDINTR));
}

void SCIWaitForDataInterrupt(sci_local_data_interrupt_t interrupt, void *data, unsigned int *length,
			     unsigned int timeout, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!data || !length) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	SET_ERR(error, lintr_wait((struct sci_local_interrupt *)interrupt, M_LDINTR, data, length,
				  timeout));
}

void SCIConnectDataInterrupt(sci_desc_t sd, sci_remote_data_interrupt_t *interrupt,
			     unsigned int nodeId, unsigned int localAdapterNo, unsigned int interruptNo,
			     unsigned int timeout, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	struct sci_remote_interrupt *ri = NULL;
	sci_error_t e = rintr_connect(sd, &ri, 1, nodeId, localAdapterNo, interruptNo, timeout);
	if (e == SCI_ERR_OK)
		*interrupt = (sci_remote_data_interrupt_t)ri;
	SET_ERR(error, e);
}

void SCIDisconnectDataInterrupt(sci_remote_data_interrupt_t interrupt, unsigned int flags,
				sci_error_t *error)
{
	(void)flags;
	SET_ERR(error, rintr_disconnect((struct sci_remote_interrupt *)interrupt, M_RDINTR));
}

void SCITriggerDataInterrupt(sci_remote_data_interrupt_t interrupt, void *data, unsigned int length,
			     unsigned int flags, sci_error_t *error)
{
	(void)flags;
	SET_ERR(error, rintr_trigger((struct sci_remote_interrupt *)interrupt, M_RDINTR, data, length));
}

/* Dolphin's exported names. */
SCI_ALIASES(SCIConnectDataInterrupt)
SCI_ALIASES(SCIConnectInterrupt)
SCI_ALIASES(SCICreateDataInterrupt)
SCI_ALIASES(SCICreateInterrupt)
SCI_ALIASES(SCIDisconnectDataInterrupt)
SCI_ALIASES(SCIDisconnectInterrupt)
SCI_ALIASES(SCIRemoveDataInterrupt)
SCI_ALIASES(SCIRemoveInterrupt)
SCI_ALIASES(SCITriggerDataInterrupt)
SCI_ALIASES(SCITriggerInterrupt)
SCI_ALIASES(SCIWaitForDataInterrupt)
SCI_ALIASES(SCIWaitForInterrupt)
