/* SPDX-License-Identifier: MIT */
/*
 * udd-sim server core: sending to a client. Every send has a deadline
 * (SO_SNDTIMEO on the socket): a client that stops reading cannot hold a
 * server thread, and a send that fails or times out drops that client's
 * connection, because a partly sent message leaves the stream unusable.
 * Server-to-client commands (DMA_READ/WRITE, udd's DMA fault notice) wait
 * at most SIM_S2C_TIMEOUT_MS for their reply.
 */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "sim_server_priv.h"

void sim_sock_deadline(int sock)
{
	struct timeval tv = { .tv_sec = SIM_SEND_TIMEOUT_MS / 1000,
			      .tv_usec = (SIM_SEND_TIMEOUT_MS % 1000) * 1000 };
	(void)setsockopt(sock, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	/* receive deadlines: the client thread's reader (sim_server.c) */
}

void sim_client_drop(struct sim_client *cl)
{
	shutdown(cl->sock, SHUT_RDWR);
	if (cl->twin >= 0)
		shutdown(cl->twin, SHUT_RDWR);
}

static int send_locked(struct sim_client *cl, int sock, struct vfu_hdr *h, const void *p1,
		       size_t l1, const void *p2, size_t l2, const int *fds, size_t nfds)
{
	int rc = vfu_msg_send2(sock, h, p1, l1, p2, l2, fds, nfds);
	if (rc) {
		sim_log("%s: client %llu: send failed (%s): dropped", cl->d->name,
			(unsigned long long)cl->id, strerror(-rc));
		sim_client_drop(cl);
	}
	return rc;
}

int sim_send_reply(struct sim_client *cl, const struct vfu_hdr *req, const void *p1, size_t l1,
		   const void *p2, size_t l2, const int *fds, size_t nfds)
{
	if (req->flags & VFU_F_NO_REPLY)
		return 0;
	struct vfu_hdr h = { .msg_id = req->msg_id, .cmd = req->cmd, .flags = VFU_F_TYPE_REPLY };
	pthread_mutex_lock(&cl->send_lock);
	int rc = send_locked(cl, cl->sock, &h, p1, l1, p2, l2, fds, nfds);
	pthread_mutex_unlock(&cl->send_lock);
	return rc;
}

int sim_send_error(struct sim_client *cl, const struct vfu_hdr *req, int err)
{
	struct vfu_hdr h = { .msg_id = req->msg_id,
			     .cmd = req->cmd,
			     .flags = VFU_F_TYPE_REPLY | VFU_F_ERROR,
			     .error = (uint32_t)err };
	sim_log("%s: client %llu: cmd %u fails: %s", cl->d->name, (unsigned long long)cl->id,
		req->cmd, strerror(err));
	if (req->flags & VFU_F_NO_REPLY)
		return 0; /* a posted command gets no reply, not even an error */
	pthread_mutex_lock(&cl->send_lock);
	int rc = send_locked(cl, cl->sock, &h, NULL, 0, NULL, 0, NULL, 0);
	pthread_mutex_unlock(&cl->send_lock);
	return rc;
}

/* Wait for the reply the client thread hands over (main-socket mode). */
static long wait_handed_reply(struct sim_client *cl)
{
	long rc = 0;
	struct timespec dl;
	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += SIM_S2C_TIMEOUT_MS / 1000;
	pthread_mutex_lock(&cl->rep_lock);
	while (!cl->rep_ready && !cl->dead && !rc)
		rc = -pthread_cond_timedwait(&cl->rep_cv, &cl->rep_lock, &dl);
	if (cl->rep_ready)
		rc = cl->rep_len;
	else
		rc = cl->dead ? -ECONNRESET : -ETIMEDOUT;
	cl->rep_waiting = false;
	cl->rep_ready = false;
	pthread_mutex_unlock(&cl->rep_lock);
	return rc;
}

static long s2c_twin(struct sim_client *cl, struct vfu_hdr *h, const void *p1, size_t l1,
		     const void *p2, size_t l2, void *rbuf, size_t rcap, bool noreply)
{
	long rc = send_locked(cl, cl->twin, h, p1, l1, p2, l2, NULL, 0);
	if (rc || noreply)
		return rc;
	rc = vfu_msg_recv(cl->twin, rbuf, rcap, NULL, NULL, SIM_S2C_TIMEOUT_MS);
	return rc == 0 ? -ECONNRESET : rc;
}

static long s2c_main(struct sim_client *cl, struct vfu_hdr *h, const void *p1, size_t l1,
		     const void *p2, size_t l2, void *rbuf, size_t rcap, bool noreply)
{
	if (!noreply) {
		pthread_mutex_lock(&cl->rep_lock);
		cl->rep_waiting = true;
		cl->rep_ready = false;
		cl->rep_id = h->msg_id;
		cl->rep_buf = rbuf;
		cl->rep_cap = rcap;
		pthread_mutex_unlock(&cl->rep_lock);
	}
	pthread_mutex_lock(&cl->send_lock);
	long rc = send_locked(cl, cl->sock, h, p1, l1, p2, l2, NULL, 0);
	pthread_mutex_unlock(&cl->send_lock);
	if (noreply)
		return rc;
	if (rc) {
		pthread_mutex_lock(&cl->rep_lock);
		cl->rep_waiting = false;
		pthread_mutex_unlock(&cl->rep_lock);
		return rc;
	}
	return wait_handed_reply(cl);
}

long sim_s2c_call(struct sim_client *cl, uint16_t cmd, const void *p1, size_t l1, const void *p2,
		  size_t l2, void *rbuf, size_t rcap, bool noreply)
{
	long rc;
	pthread_mutex_lock(&cl->s2c_lock);
	struct vfu_hdr h = { .msg_id = ++cl->s2c_id,
			     .cmd = cmd,
			     .flags = VFU_F_TYPE_COMMAND | (noreply ? VFU_F_NO_REPLY : 0) };
	if (cl->twin >= 0)
		rc = s2c_twin(cl, &h, p1, l1, p2, l2, rbuf, rcap, noreply);
	else
		rc = s2c_main(cl, &h, p1, l1, p2, l2, rbuf, rcap, noreply);
	bool error_reply = false;
	if (rc >= 0 && !noreply) {
		const struct vfu_hdr *r = rbuf;
		if ((size_t)rc < sizeof(*r) || (r->flags & VFU_F_TYPE_MASK) != VFU_F_TYPE_REPLY ||
		    r->msg_id != h.msg_id || r->cmd != cmd) {
			rc = -EPROTO;
		} else if (r->flags & VFU_F_ERROR) {
			rc = -(long)(r->error && r->error < 4096 ? r->error : EIO);
			error_reply = true; /* a valid answer: the client refused */
		}
	}
	if (rc < 0 && !error_reply && !noreply) {
		/* no (valid) reply in time: the client is broken or hostile */
		sim_log("%s: client %llu: no valid reply to command %u (%s): dropped",
			cl->d->name, (unsigned long long)cl->id, cmd, strerror((int)-rc));
		sim_client_drop(cl);
	}
	pthread_mutex_unlock(&cl->s2c_lock);
	return rc;
}

void sim_deliver_reply(struct sim_client *cl, const void *msg, long len)
{
	struct vfu_hdr h; /* msg may be unaligned (reader.h) */
	memcpy(&h, msg, sizeof(h));
	pthread_mutex_lock(&cl->rep_lock);
	if (cl->rep_waiting && !cl->rep_ready && h.msg_id == cl->rep_id) {
		if ((size_t)len <= cl->rep_cap) {
			memcpy(cl->rep_buf, msg, (size_t)len);
			cl->rep_len = len;
		} else {
			cl->rep_len = -EMSGSIZE;
		}
		cl->rep_ready = true;
		pthread_cond_broadcast(&cl->rep_cv);
	}
	pthread_mutex_unlock(&cl->rep_lock);
}
