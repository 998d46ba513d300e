/* SPDX-License-Identifier: MIT */
/*
 * udd-sim internals: the server core (sim_server.c) and the device models
 * (sim_edu.c, sim_pio.c, sim_be.c) meet here.
 *
 * Locking: every device has one lock (sim_dev.lock) that guards its config
 * space, its BAR descriptions and its model state; the server takes it
 * around config accesses and calls the model's bar_read/bar_write with it
 * held. Models' worker threads take it themselves, and must not hold it for
 * long (no unbounded loops, no blocking calls). Lock order: device lock,
 * then the client list lock, then a client's locks. sim_irq_raise() may be
 * called with the device lock held (it never blocks); sim_dma_*() and
 * sim_dma_fault() must be called WITHOUT it (they may wait up to 5 s for a
 * client's reply).
 *
 * Lifetime of model state: init() builds the power-on state (config space,
 * BARs, registers, worker threads) and fini() tears it down. When the last
 * borrower of a device returns it (or dies), the server tears the model
 * down and builds it again, with fresh BAR memfds: nothing of one borrower
 * reaches the next, and mappings an earlier borrower kept point at memory
 * the device no longer uses. reset() (DEVICE_RESET) resets registers in
 * place; the server also zeroes BAR memory and drops pending interrupts.
 */
#ifndef UDD_SIM_H
#define UDD_SIM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define SIM_CFG_SIZE 4096
#define SIM_NUM_BARS 6
#define SIM_NUM_IRQ_IDX 5 /* INTx, MSI, MSI-X, ERR, REQ */
#define SIM_MAX_VECTORS 32
#define SIM_MAX_AREAS 4

extern int sim_verbose;
/* --no-udd-ext: behave as a server that does not know udd's extension
 * capability (ignore it, do not echo it, enforce no borrow modes), as a
 * foreign vfio-user server would. */
extern bool sim_no_udd_ext;
extern const char *sim_pio_record; /* pio: file to append received bytes to */
void sim_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

struct sim_dev;
struct sim_client;

/* BAR description (filled by the model's init). */
#define SIM_BAR_IO (1u << 0)
#define SIM_BAR_64 (1u << 1)
#define SIM_BAR_PREFETCH (1u << 2)
struct sim_bar {
	uint64_t size;   /* 0: no BAR */
	uint32_t flags;  /* SIM_BAR_* */
	int memfd;       /* -1: fully trapped */
	uint8_t *mem;    /* memfd mapping (whole BAR), or NULL */
	uint32_t nareas; /* sparse-mmap areas (offsets inside the BAR) */
	struct vfu_sparse_area areas[SIM_MAX_AREAS];
};

struct sim_model {
	const char *name;
	/* Set up ids, config space and BARs, start worker threads. */
	int (*init)(struct sim_dev *d);
	void (*fini)(struct sim_dev *d);
	/* Trapped BAR accesses (device lock held). @off/@len are validated
	 * against the BAR size. Return 0 or -errno (error reply). */
	int (*bar_read)(struct sim_dev *d, int bar, uint64_t off, void *buf, uint32_t len);
	int (*bar_write)(struct sim_dev *d, int bar, uint64_t off, const void *buf, uint32_t len,
			 uint64_t client_id);
	/* Device reset (device lock held); NULL: no reset support. */
	void (*reset)(struct sim_dev *d);
	/* INTx still asserted (device lock held)? Re-raised on UNMASK. NULL: no. */
	bool (*intx_asserted)(struct sim_dev *d);
	uint32_t irq_count[SIM_NUM_IRQ_IDX]; /* per VFIO_PCI_*_IRQ_INDEX */
};

struct sim_provider;

struct sim_dev {
	const struct sim_provider *prov; /* what serves it (sim_server_priv.h) */
	const struct sim_model *model;   /* simulated devices; NULL for a lent one */
	void *lend;                      /* a lent device's provider state */
	char name[32];
	char *sock_path;
	int listen_fd;
	bool unplugged;
	pthread_mutex_t lock;
	uint8_t cfg[SIM_CFG_SIZE];
	uint8_t wmask[SIM_CFG_SIZE];  /* bits the driver may write */
	uint8_t w1cmask[SIM_CFG_SIZE]; /* write-1-to-clear bits */
	uint32_t cfg_size;             /* 256 or 4096 */
	struct sim_bar bars[SIM_NUM_BARS];
	void *priv;

	/* Clients (guarded by clients_lock). */
	pthread_mutex_t clients_lock;
	pthread_cond_t clients_cv;
	struct sim_client *clients;
	int n_shared, n_excl, n_clients;
	bool resetting; /* power-on reset after the last borrower (borrows wait) */
	bool broken;    /* the model failed to come back up: borrows get ENODEV */
	atomic_ullong faults;
};

/* ---- config space helpers (sim_pci.c) ------------------------------------ */
void sim_cfg_w8(struct sim_dev *d, unsigned off, uint8_t v);
void sim_cfg_w16(struct sim_dev *d, unsigned off, uint16_t v);
void sim_cfg_w32(struct sim_dev *d, unsigned off, uint32_t v);
uint16_t sim_cfg_r16(const struct sim_dev *d, unsigned off);
uint32_t sim_cfg_r32(const struct sim_dev *d, unsigned off);
void sim_wmask16(struct sim_dev *d, unsigned off, uint16_t m);
void sim_wmask32(struct sim_dev *d, unsigned off, uint32_t m);
/* Type-0 header: ids, class, revision, command/status masks, pin. */
void sim_cfg_header(struct sim_dev *d, uint16_t vendor, uint16_t device, uint32_t class_code,
		    uint8_t rev, uint8_t int_pin);
/* Describe BAR @i (size a power of two); sets the register and sizing mask. */
void sim_cfg_bar(struct sim_dev *d, int i, uint64_t size, uint32_t flags);
/* Append a capability at @off (chained into the list); returns @off. */
unsigned sim_cfg_cap(struct sim_dev *d, unsigned off, uint8_t id);
unsigned sim_cfg_msi(struct sim_dev *d, unsigned off, bool is64);
unsigned sim_cfg_msix(struct sim_dev *d, unsigned off, uint16_t n, int bar, uint32_t table_off,
		      uint32_t pba_off);
unsigned sim_cfg_pm(struct sim_dev *d, unsigned off);
unsigned sim_cfg_pcie(struct sim_dev *d, unsigned off);
void sim_cfg_ext_dsn(struct sim_dev *d, unsigned off, uint64_t serial);
/* Config-space access from a client (bounds already checked). */
void sim_cfg_read(struct sim_dev *d, unsigned off, void *buf, unsigned len);
void sim_cfg_write(struct sim_dev *d, unsigned off, const void *buf, unsigned len);
/* A memfd of @size bytes mapped into bar->mem; 0 or -errno. */
int sim_bar_memfd(struct sim_dev *d, int bar, const char *name);

/* ---- device services for models (sim_server.c) --------------------------- */
/* Raise interrupt vector @v of the device for every client that enabled it. */
void sim_irq_raise(struct sim_dev *d, unsigned v);
/* Device DMA through the windows of client @client_id. 0, or -EFAULT when
 * no window of that client covers the range with the permission needed (or
 * the client is gone, or its DMA_READ/WRITE reply failed); the model then
 * reports it with sim_dma_fault() once its own state is updated. */
int sim_dma_read(struct sim_dev *d, uint64_t client_id, uint64_t iova, void *buf, size_t len);
int sim_dma_write(struct sim_dev *d, uint64_t client_id, uint64_t iova, const void *buf,
		  size_t len);
/* Count and report a DMA fault (device lock NOT held). */
void sim_dma_fault(struct sim_dev *d, uint64_t client_id, uint64_t iova, uint64_t len,
		   bool write);
/* Monotonic milliseconds. */
uint64_t sim_now_ms(void);
void sim_sleep_us(unsigned us);

/* ---- models ----------------------------------------------------------------- */
extern const struct sim_model sim_model_edu;
extern const struct sim_model sim_model_pio;
extern const struct sim_model sim_model_be;
extern const struct sim_model sim_model_nvme; /* sim_nvme.c */
/* nvme: a namespace for device @dev, "FILE[:SIZE]" (SIZE with K/M/G); before the device is created. */
int sim_nvme_add_ns(const char *dev, const char *spec);
const struct sim_model *sim_model_find(const char *name);

/* ---- device lifetime and serving (sim_server.c) ------------------------------ */
/* Create a device of @model (not yet listening). */
int sim_dev_create(const struct sim_model *m, const char *name, struct sim_dev **out);
/* Bind/listen on @path (stale socket removed first). */
int sim_dev_listen(struct sim_dev *d, const char *path);
/* Start a client thread for an accepted connection. */
int sim_dev_accept(struct sim_dev *d);
/* Serve an already-connected stream socket @sock as a new client (takes
 * ownership of @sock, also on error). 0 or -errno. */
int sim_dev_serve_fd(struct sim_dev *d, int sock);
/* Stop listening, unlink the socket, disconnect every client. */
void sim_dev_unplug(struct sim_dev *d);
/* Wait for every client to go, stop the model, free. */
void sim_dev_destroy(struct sim_dev *d);
int sim_dev_nclients(struct sim_dev *d);

/* Process-wide count of live device clients (for idle exit). */
extern atomic_int sim_live_clients;
extern atomic_ullong sim_last_activity_ms;

#endif
