/* SPDX-License-Identifier: MIT */
/*
 * udd-sim server core internals, shared by its parts:
 *   sim_server.c  client lifecycle, accept, borrow arbitration, device
 *                 create/destroy and the power-on reset between borrowers
 *   sim_conn.c    sending (with deadlines) and server-to-client commands
 *   sim_cmds.c    VERSION, infos, region access, reset, dispatch
 *   sim_dma.c     DMA windows (DMA_MAP/UNMAP) and device DMA
 *   sim_irq.c     interrupts (IRQ_INFO, SET_IRQS, raising vectors)
 *   sim_prov_model.c  the provider of simulated devices (struct sim_model)
 *   lend_vfio.c   the provider of lent devices (a host device bound to
 *                 vfio-pci, served to many borrowers)
 *
 * The core (connections, VERSION, borrow arbitration, argument checks, the
 * DMA window table, the power-on between borrowers) is the same for every
 * device; what a device does with a region access, a DMA window, an
 * interrupt eventfd or a reset is its provider's (struct sim_provider).
 *
 * Limits a client cannot exceed (each a clear errno, never a daemon-wide
 * failure) are defined here.
 */
#ifndef UDD_SIM_SERVER_PRIV_H
#define UDD_SIM_SERVER_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "msg.h"
#include "sim.h"

/* Deadlines (ms). */
#define SIM_S2C_TIMEOUT_MS 5000     /* a client's reply to DMA_READ/WRITE */
#define SIM_SEND_TIMEOUT_MS 2000    /* a message the client does not read */
#define SIM_HELLO_TIMEOUT_MS 5000   /* VERSION after connecting */
#define SIM_MSG_BODY_TIMEOUT_MS 5000 /* the rest of a message once it started */
#define SIM_RESET_WAIT_MS 5000      /* a borrow waiting for a power-on reset */

/* Limits. */
#define SIM_MAX_WINDOWS_PER_CLIENT 16384 /* advertised as max_dma_maps */
#define SIM_MAX_CLIENTS_PER_DEV 64       /* further connections are closed */
/* Server memory backing one client's descriptor-less windows (sim_bounce.c):
 * a window beyond it is ENOSPC. */
#define SIM_BOUNCE_MAX_PER_CLIENT (64ull << 20)

enum { BORROW_NONE = -1, BORROW_PROBE = 0, BORROW_SHARED = 1, BORROW_EXCL = 2 };
extern const char *const sim_borrow_names[3];

struct sim_win {
	uint64_t addr, size;
	uint32_t flags;
	uint8_t *map;   /* NULL: reached through DMA_READ/DMA_WRITE messages */
	void *map_base; /* what to munmap (or keep in sim_dma.c's mapping cache) */
	size_t map_len;
	uint64_t map_client, map_dev, map_ino, map_off; /* the mapping's identity */
	int map_prot;
	/* No map: the server's own copy the device DMAs into (sim_bounce.c),
	 * kept coherent with the client's memory by VFU_UDD_CMD_DMA_SYNC; NULL:
	 * none. bounce_len: what to munmap (size rounded up to pages). */
	uint8_t *bounce;
	size_t bounce_len;
};

struct sim_client {
	struct sim_client *next;
	struct sim_dev *d;
	uint64_t id;
	int sock;
	int twin; /* server end of the twin socket, or -1 */
	int borrow;
	bool dma_faults;
	bool dma_sync;        /* both announced udd.dma_sync */
	uint64_t bounce_bytes; /* in this client's bounce windows (its thread only) */
	uint32_t max_xfer;    /* client's max_data_xfer_size */
	uint32_t max_fds;     /* client's max_msg_fds (fds we may send it) */
	int refs;             /* guarded by d->clients_lock */

	pthread_mutex_t send_lock; /* writes on sock */
	pthread_mutex_t s2c_lock;  /* one server-to-client command at a time */
	uint16_t s2c_id;

	/* Reply to a server-to-client command on the main socket. */
	pthread_mutex_t rep_lock;
	pthread_cond_t rep_cv;
	bool rep_waiting, rep_ready, dead;
	uint16_t rep_id;
	void *rep_buf;
	size_t rep_cap;
	long rep_len;

	pthread_mutex_t dma_lock;
	void *wins; /* tsearch tree of struct sim_win *, disjoint, by address */
	int nwins;

	pthread_mutex_t irq_lock;
	int irq_fd[SIM_NUM_IRQ_IDX][SIM_MAX_VECTORS];
	bool irq_masked[SIM_NUM_IRQ_IDX][SIM_MAX_VECTORS];

	/* Peer credentials (SO_PEERCRED at accept; -1 if unknown). */
	int pid, uid;
	/* IOVA range the borrower's windows must lie in (inclusive), advertised
	 * in the VERSION reply's udd capability; has_iova false: anywhere. Set by
	 * the provider's attach(), constant for the connection. */
	bool has_iova;
	uint64_t iova_lo, iova_hi;
	int iova_slot; /* provider's bookkeeping (-1: none) */
};

struct req;

/* A region as a provider describes it. */
struct sim_region {
	uint64_t size;       /* 0: no region */
	uint32_t flags;      /* VFIO_REGION_INFO_FLAG_READ/WRITE/MMAP */
	int fd;              /* mmap fd (a dup, the caller closes it), or -1 */
	uint64_t mmap_offset; /* where the region starts in fd */
	uint32_t nareas;     /* mappable areas (offsets inside the region) */
	struct vfu_sparse_area areas[SIM_MAX_AREAS];
};

/*
 * A device provider: what the core calls for everything the device itself
 * does. Arguments are validated by the core first (region index below
 * VFIO_PCI_NUM_REGIONS, count 1..VFU_DEFAULT_MAX_DATA_XFER, probes refused
 * where they may not act); providers check offsets against their regions.
 * Errors are positive errno values (the error reply's), unless said.
 * Called from a client's thread without any core lock held.
 */
struct sim_provider {
	const char *name;
	/* VFIO_DEVICE_FLAGS_RESET if the device can reset. */
	uint32_t (*dev_flags)(struct sim_dev *d);
	/* Region @index; @want_fd: also a dup of the mmap fd (else fd = -1). */
	int (*region_info)(struct sim_dev *d, uint32_t index, bool want_fd, struct sim_region *out);
	int (*region_read)(struct sim_client *cl, uint32_t index, uint64_t off, void *buf,
			   uint32_t len);
	int (*region_write)(struct sim_client *cl, uint32_t index, uint64_t off, const void *buf,
			    uint32_t len);
	/* Interrupt index (< SIM_NUM_IRQ_IDX): vector count and VFIO_IRQ_INFO_* flags. */
	int (*irq_info)(struct sim_dev *d, uint32_t index, uint32_t *count, uint32_t *flags);
	/* SET_IRQS from @r->cl (header @s already copied, probes refused). */
	int (*set_irqs)(struct req *r, const struct vfu_irq_set *s);
	/* A new window (already in the client's table; w->map set if the
	 * server mmapped the borrower's fd). NULL: nothing to do. */
	int (*dma_map)(struct sim_client *cl, struct sim_win *w);
	/* The window goes (DMA_UNMAP, or its borrower went); before munmap. */
	void (*dma_unmap)(struct sim_client *cl, struct sim_win *w);
	/* DEVICE_RESET by the device's only borrower @cl. */
	int (*reset)(struct sim_client *cl);
	/* Borrow granted (shared or exclusive): set cl's IOVA range. NULL: none. */
	int (*attach)(struct sim_client *cl);
	/* The borrower goes (connection closed; windows are unmapped next). */
	void (*detach)(struct sim_client *cl);
	/* After the last borrower (@after_excl: it was exclusive), before the
	 * next: back to power-on state. -errno: the device is out of service. */
	int (*power_on)(struct sim_dev *d, bool after_excl);
	/* sim_dev_destroy: release the provider's state. */
	void (*destroy)(struct sim_dev *d);
	/* Extra words for the control socket's `stats` (may be NULL). */
	void (*stats)(struct sim_dev *d, char *buf, size_t len);
};

extern const struct sim_provider sim_prov_model;

/* A command being handled. */
struct req {
	struct sim_client *cl;
	const struct vfu_hdr *hdr;
	const uint8_t *p; /* payload */
	size_t len;
	int *fds;
	size_t nfds;
	bool close_conn; /* disconnect after handling */
};

/* ---- sim_conn.c --------------------------------------------------------- */
/* Apply the send deadline to a client socket (SO_SNDTIMEO). */
void sim_sock_deadline(int sock);
/* Reply to @req (nothing if it asked for no reply); 0 or -errno. A failed
 * send (deadline, peer gone) drops the connection: the stream is broken. */
int sim_send_reply(struct sim_client *cl, const struct vfu_hdr *req, const void *p1, size_t l1,
		   const void *p2, size_t l2, const int *fds, size_t nfds);
int sim_send_error(struct sim_client *cl, const struct vfu_hdr *req, int err);
/* Server-to-client command; @rbuf receives the whole reply. Length or -errno. */
long sim_s2c_call(struct sim_client *cl, uint16_t cmd, const void *p1, size_t l1, const void *p2,
		  size_t l2, void *rbuf, size_t rcap, bool noreply);
/* A reply from the client to a server-to-client command on the main socket. */
void sim_deliver_reply(struct sim_client *cl, const void *msg, long len);
/* Drop a client's connection (its thread then cleans up). */
void sim_client_drop(struct sim_client *cl);

/* ---- sim_server.c ------------------------------------------------------- */
struct sim_client *sim_client_get(struct sim_dev *d, uint64_t id);
void sim_client_put(struct sim_client *c);
/* Grant borrow mode @want to @cl, waiting (bounded) for a power-on reset or
 * for holders whose peers already hung up. 0 or an errno (EBUSY, ENODEV). */
int sim_borrow_grant(struct sim_client *cl, int want);
/* DEVICE_RESET by @cl: model reset, BAR memory zeroed, pending interrupts
 * dropped. 0, or EBUSY while another borrower shares the device. */
int sim_dev_function_reset(struct sim_dev *d, struct sim_client *cl);

/* Allocate a device served by @prov (no model, not listening). */
int sim_dev_alloc(const struct sim_provider *prov, const char *name, struct sim_dev **out);
/* Its borrowers as "pid/mode,pid/mode" (empty: none) into @buf. */
void sim_dev_borrowers(struct sim_dev *d, char *buf, size_t len);
/* Free a device from sim_dev_alloc that never served a client. */
void sim_dev_free(struct sim_dev *d);

/* ---- sim_cmds.c --------------------------------------------------------- */
int sim_dispatch(struct req *r);
int sim_cmd_version(struct req *r);

/* ---- sim_dma.c ---------------------------------------------------------- */
int sim_cmd_dma_map(struct req *r);
int sim_cmd_dma_unmap(struct req *r);
void sim_client_wins_free(struct sim_client *cl);
/* Process-wide budget of mmapped windows (below vm.max_map_count). */
void sim_dma_budget_init(void);

/* The window overlapping [addr, addr+size), or NULL. Caller holds dma_lock. */
struct sim_win *sim_win_find(struct sim_client *c, uint64_t addr, uint64_t size);

/* ---- sim_bounce.c ------------------------------------------------------- */
/* udd-sim --bounce-windows: the simulated devices, too, DMA into a server
 * copy of a descriptor-less window (of a client that announced dma_sync)
 * instead of DMA_READ/WRITE messages, as a lent real device must. Testing. */
extern bool sim_bounce_windows;
/* Back descriptor-less window @w of @cl with zeroed server memory (the
 * client announced dma_sync, else EINVAL: nothing would keep it coherent).
 * 0 or errno (ENOSPC: over SIM_BOUNCE_MAX_PER_CLIENT). Client's thread. */
int sim_bounce_alloc(struct sim_client *cl, struct sim_win *w);
/* Free it (after the device stopped reaching it); no-op without one. */
void sim_bounce_free(struct sim_client *cl, struct sim_win *w);
/* VFU_UDD_CMD_DMA_SYNC. */
int sim_cmd_dma_sync(struct req *r);

/* ---- sim_irq.c ---------------------------------------------------------- */
int sim_cmd_irq_info(struct req *r);
int sim_cmd_set_irqs(struct req *r);
void sim_client_irqs_free(struct sim_client *cl);
/* Drop what a client's eventfds have pending (device reset). */
void sim_client_irqs_drain(struct sim_client *cl);
/* The simulated models' SET_IRQS (sim_prov_model). */
int sim_model_set_irqs(struct req *r, const struct vfu_irq_set *s);
/* Is @fd an eventfd? Made non-blocking if so. */
bool sim_eventfd_adopt(int fd);
/* Validate SET_IRQS @s of @r for an index of @n vectors (flags, ranges,
 * fds are eventfds, BOOL data present); 0 or errno. */
int sim_set_irqs_check(const struct req *r, const struct vfu_irq_set *s, uint32_t n);

/* ---- lend_vfio.c -------------------------------------------------------- */
/* A device of this host bound to vfio-pci, opened exclusively by the lender
 * (so nobody opens it directly meanwhile), named @name. 0 or -errno. */
int lend_vfio_create(const char *bdf, const char *name, struct sim_dev **out);
/* Its PCI address, or NULL for a simulated device. */
const char *lend_vfio_bdf(const struct sim_dev *d);

#endif
