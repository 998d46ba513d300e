/* SPDX-License-Identifier: MIT */
/**
 * @file udd/udd.h
 * @brief udd — user-space PCIe device drivers: the public API.
 *
 * This header is the manual. Every function states its parameters, its
 * return value and the negative errno values it can return, who owns what,
 * whether it blocks, and whether it is thread-safe.
 *
 * Conventions (all functions):
 *  - Return 0 (or a non-negative count) on success, a negative errno on
 *    failure. Objects come back through out-parameters, which are left
 *    untouched on failure.
 *  - -EINVAL always means a bad argument (NULL where an object is required,
 *    unknown flag bits, out-of-range values). Nothing is changed then.
 *  - The library never aborts, exits or prints; diagnostics go to the log
 *    callback of the context (none by default).
 *  - Widths are in bits everywhere (udd_get32 reads 32 bits).
 *
 * Objects:
 *  - udd_ctx_t   a context: the pool view, logging. One per program is usual.
 *  - udd_dev_t   a borrowed device.
 *  - udd_acc_t   an access handle: a mapped register set with attributes
 *                (see udd/access.h for the get/put functions).
 *  - udd_mem_t   DMA-able memory (memfd-backed, shareable with a server).
 *  - udd_dma_t   a DMA window: memory made visible to a device at an IOVA.
 *
 * Thread-safety: a context may be used from several threads at once; so may
 * a borrowed device and its access handles (register accesses from several
 * threads are each performed whole; their order between threads is the
 * caller's business). Destroying an object while another thread uses it is
 * the caller's bug.
 */
#ifndef UDD_UDD_H
#define UDD_UDD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define UDD_API __attribute__((visibility("default")))
#else
#define UDD_API
#endif

/** Library version, as major * 10000 + minor * 100 + patch. */
#define UDD_VERSION 100

typedef struct udd_ctx udd_ctx_t;
typedef struct udd_dev udd_dev_t;
typedef struct udd_acc udd_acc_t;
typedef struct udd_mem udd_mem_t;
typedef struct udd_dma udd_dma_t;

/** A fabric device id: names a device in the pool, stable while it is there. */
typedef uint32_t udd_fdid_t;

/* ------------------------------------------------------------------------ */
/* Context                                                                   */
/* ------------------------------------------------------------------------ */

/** Log levels, most severe first. */
enum udd_log_level {
	UDD_LOG_ERR = 0,
	UDD_LOG_WARN = 1,
	UDD_LOG_INFO = 2,
	UDD_LOG_DEBUG = 3,
};

/**
 * Log callback. Called with a complete, NUL-terminated message without a
 * trailing newline. May be called from any thread that uses the context, and
 * from library threads (interrupt and protocol service threads); it must not
 * call back into the library on the same context.
 */
typedef void (*udd_log_cb_t)(void *user, int level, const char *msg);

/** Do not start or use the embedded simulated pool (udd-sim). */
#define UDD_CTX_F_NO_EMBEDDED (1u << 0)
/** Do not look at VFIO devices of this host. */
#define UDD_CTX_F_NO_VFIO (1u << 1)
/** Do not read the cluster file (no remote peers, no node id in local
 *  fdids); also $UDD_NO_CLUSTER=1. See docs/cluster.md. */
#define UDD_CTX_F_NO_CLUSTER (1u << 2)

/**
 * Options for udd_ctx_open(). Zero-initialise and set what you need.
 * Strings are copied; the caller keeps ownership.
 */
typedef struct udd_ctx_opts {
	uint32_t flags;           /**< UDD_CTX_F_* */
	/** Colon-separated directories whose *.sock files are vfio-user
	 *  devices added to the pool (besides $UDD_POOL). NULL: none. */
	const char *pool_dirs;
	/** Colon-separated vfio-user socket paths added to the pool (besides
	 *  $UDD_SOCKETS). NULL: none. A remote device through a gateway is
	 *  `tcp://HOST:PORT/NAME` (TLS with $UDD_CLUSTER_KEY or the cluster
	 *  file's key; docs/cluster.md). */
	const char *sockets;
	/** Runtime directory of the embedded pool. NULL: $UDD_RUNTIME_DIR,
	 *  else $XDG_RUNTIME_DIR/udd, else /tmp/udd-<uid>. */
	const char *runtime_dir;
	/** Path of the udd-sim program. NULL: $UDD_SIM, else the build tree's,
	 *  else the installed one. */
	const char *sim_path;
	udd_log_cb_t log_cb;      /**< NULL: quiet */
	void *log_user;           /**< passed to log_cb */
	int log_level;            /**< highest level passed to log_cb */
} udd_ctx_opts_t;

/**
 * Open a context.
 *
 * Unless UDD_CTX_F_NO_EMBEDDED is set (or $UDD_NO_EMBEDDED is "1"), the
 * embedded pool is joined: if no udd-sim serves the runtime directory, one is
 * started (as a daemon, not a child) and waited for; it exits by itself once
 * no context on the host uses it any more.
 *
 * @param out   receives the new context (caller owns; udd_ctx_close()).
 * @param opts  options, or NULL for defaults.
 * @return 0; -EINVAL bad argument; -ENOMEM; -ENOENT udd-sim not found;
 *         -EPERM the runtime directory exists but is not a directory of
 *         this user closed to others (a symlink, someone else's, or group-
 *         or world-writable); -ENAMETOOLONG the runtime directory is too
 *         deep for the UNIX socket paths udd-sim makes in it (the log names
 *         the path); -ETIMEDOUT udd-sim did not come up in time; the errno
 *         udd-sim reported when it failed to start (for example
 *         -EADDRINUSE, -EACCES; its message goes to the log), -EIO only
 *         when it named none; other negative errno from the system calls
 *         involved.
 * Blocking: may block up to 15 s (10 s for another process that is starting
 *           udd-sim, 5 s for it to come up).
 * Thread-safety: safe.
 */
UDD_API int udd_ctx_open(udd_ctx_t **out, const udd_ctx_opts_t *opts);

/**
 * Close a context. Every device still borrowed through it is returned first
 * (its handles, DMA windows and interrupts are released). NULL is a no-op.
 * Blocking: may wait for the peers of returned devices.
 * Thread-safety: no other thread may use the context or its objects.
 */
UDD_API void udd_ctx_close(udd_ctx_t *ctx);

/**
 * Set (or clear, with cb NULL) the log callback.
 * @return 0; -EINVAL ctx NULL.  Thread-safety: safe.
 */
UDD_API int udd_ctx_set_log(udd_ctx_t *ctx, udd_log_cb_t cb, void *user, int level);

/* ------------------------------------------------------------------------ */
/* Pool                                                                      */
/* ------------------------------------------------------------------------ */

/** Most register sets a device can have: config space + 6 BARs + ROM + spare. */
#define UDD_MAX_REGSETS 8

/** Kind of a register set. */
enum udd_regset_kind {
	UDD_RS_CONFIG = 0, /**< PCI configuration space */
	UDD_RS_MEM = 1,    /**< memory BAR */
	UDD_RS_IO = 2,     /**< I/O-port BAR */
};

/** Register-set flags (udd_regset_info_t.flags). */
#define UDD_RS_F_READ (1u << 0)      /**< readable */
#define UDD_RS_F_WRITE (1u << 1)     /**< writable */
#define UDD_RS_F_MMAP (1u << 2)      /**< some or all of it can be mapped directly */
#define UDD_RS_F_PREFETCH (1u << 3)  /**< prefetchable memory BAR */
#define UDD_RS_F_64BIT (1u << 4)     /**< 64-bit memory BAR */
#define UDD_RS_F_SPARSE (1u << 5)    /**< only parts can be mapped; the rest is trapped */

/** One register set, in illumos PCI numbering (rnumber). */
typedef struct udd_regset_info {
	uint32_t kind;   /**< enum udd_regset_kind */
	int32_t bar;     /**< BAR index 0..5, or -1 for config space */
	uint64_t size;   /**< bytes */
	uint32_t flags;  /**< UDD_RS_F_* */
} udd_regset_info_t;

/** Interrupt types (index into udd_dev_info_t.irq_count). */
enum udd_irq_type {
	UDD_IRQ_INTX = 0,
	UDD_IRQ_MSI = 1,
	UDD_IRQ_MSIX = 2,
	UDD_IRQ_NTYPES = 3,
};

/** What the pool knows of a device. Plain data, caller-owned. */
typedef struct udd_dev_info {
	udd_fdid_t fdid;
	char backend[16];      /**< "vfio-user" or "vfio" */
	char location[256];    /**< socket path, or PCI address for vfio */
	uint16_t vendor_id, device_id;
	uint16_t subsys_vendor_id, subsys_id;
	uint32_t class_code;   /**< base << 16 | sub << 8 | prog-if */
	uint8_t revision;
	uint8_t can_reset;     /**< 1 if the device supports udd_dev_reset() */
	uint16_t nregsets;     /**< entries used in regsets[] (rnumbers) */
	udd_regset_info_t regsets[UDD_MAX_REGSETS];
	uint32_t irq_count[UDD_IRQ_NTYPES]; /**< vectors per enum udd_irq_type */
} udd_dev_info_t;

/**
 * A pool filter. Zero fields are wildcards. class_code is compared under
 * class_mask; a zero class_mask with a non-zero class_code means "exact"
 * (mask 0xffffff).
 */
typedef struct udd_filter {
	uint16_t vendor_id, device_id;
	uint16_t subsys_vendor_id, subsys_id;
	uint32_t class_code;
	uint32_t class_mask;
} udd_filter_t;

/**
 * List the devices of the pool that match a filter.
 *
 * The pool is looked at afresh on each call: each device's peer is probed
 * once (one connection). A device whose peer does not answer within 1 s
 * (for example a foreign server busy with another client) is left out.
 * Directories of the pool ($UDD_POOL, opts.pool_dirs) and their sockets
 * that are not trusted (docs/security.md) are skipped, with a log line.
 * With a cluster file (docs/cluster.md, unless UDD_CTX_F_NO_CLUSTER), each
 * `peer` gateway is asked for its devices first (one TLS connection, 1 s at
 * most; a peer that does not answer or refuses the key is left out, logged),
 * and they are probed like local ones.
 *
 * @param ctx     context.
 * @param filter  filter, or NULL for all devices.
 * @param ids     array receiving up to @p max fdids (may be NULL if max is 0),
 *                in ascending order.
 * @param max     capacity of @p ids.
 * @return the number of matching devices (may exceed @p max: only the first
 *         @p max are stored); -EINVAL; -ENOMEM.
 * Blocking: yes (talks to each device's peer). Thread-safety: safe.
 */
UDD_API int udd_pool_list(udd_ctx_t *ctx, const udd_filter_t *filter, udd_fdid_t *ids, size_t max);

/**
 * As udd_pool_list(), returning what the listing learned of each matching
 * device (as udd_pool_info() would) instead of only its fdid: one connection
 * per device per call. Prefer it to udd_pool_list() followed by
 * udd_pool_info() for each device, which talks to every peer twice — a
 * server that serves one client at a time (or exits after its first, as
 * libvfio-user's samples do) may not survive that.
 *
 * @param infos  array receiving up to @p max entries, in ascending fdid
 *               order (may be NULL if max is 0).
 * @return the number of matching devices (may exceed @p max); -EINVAL ctx
 *         NULL, or infos NULL with max > 0; -ENOMEM.
 * Blocking: yes (talks to each device's peer, at most 1 s each).
 * Thread-safety: safe.
 */
UDD_API int udd_pool_list_info(udd_ctx_t *ctx, const udd_filter_t *filter, udd_dev_info_t *infos,
			       size_t max);

/**
 * Describe a device of the pool without borrowing it.
 * @return 0; -EINVAL; -ENOENT no such fdid; -EIO the peer misbehaved;
 *         -ECONNREFUSED/-ETIMEDOUT the peer did not answer.
 * Blocking: yes. Thread-safety: safe.
 */
UDD_API int udd_pool_info(udd_ctx_t *ctx, udd_fdid_t fdid, udd_dev_info_t *info);

/** Return value of udd_filter_match(): 1 match, 0 no match. */
UDD_API int udd_filter_match(const udd_filter_t *filter, const udd_dev_info_t *info);

/* ------------------------------------------------------------------------ */
/* Borrowing                                                                 */
/* ------------------------------------------------------------------------ */

/** Borrow exclusively: no other borrower, in any process, while held. */
#define UDD_BORROW_EXCLUSIVE (1u << 0)

/**
 * Borrow a device.
 *
 * Without UDD_BORROW_EXCLUSIVE the borrow is shared: any number of shared
 * borrowers may hold the device at once. A shared borrow fails while an
 * exclusive one holds, and an exclusive one fails while any borrow holds.
 * A borrower that dies releases its borrow (the kernel closes its socket or
 * lock file).
 *
 * A vfio-user server that does not speak udd's extension capability cannot
 * enforce modes: a lock file in the runtime directory does, between the
 * processes of this host, and it is looked at before connecting, so a
 * conflicting borrow fails with -EBUSY at once. A server that serves one
 * client at a time cannot be shared: a second shared borrower waits for a
 * connection the server does not accept and fails with -ETIMEDOUT.
 *
 * @param ctx    context.
 * @param fdid   device to borrow.
 * @param flags  UDD_BORROW_*.
 * @param out    receives the borrowed device (caller owns; udd_dev_return()).
 * @return 0; -EINVAL; -ENOENT no such fdid; -EBUSY held by another borrower
 *         in a conflicting mode; -ENOMEM; -EIO/-EPROTO the peer misbehaved;
 *         -ECONNREFUSED the peer is gone; -ETIMEDOUT the peer did not answer
 *         within 10 s (or accepted no connection); -ENAMETOOLONG the socket
 *         path does not fit a UNIX socket address; -EPERM the lock directory
 *         (needed for a server without the udd capability) is not private;
 *         for a remote device (`tcp://HOST:PORT/NAME`, docs/cluster.md):
 *         -EACCES no cluster key configured, the key file is unusable (not
 *         private, malformed) or the gateway refused it (TLS handshake),
 *         -EHOSTUNREACH/-ECONNREFUSED/-ETIMEDOUT the gateway cannot be
 *         reached, and the errno the gateway reports when it cannot open the
 *         device (-ENOENT no such device there).
 *         A remote device's register sets are never mapped (every access is
 *         a message), and its interrupts arrive as messages the library turns
 *         into the same eventfd signals (udd_irq_wait works unchanged).
 * Blocking: yes. Thread-safety: safe.
 */
UDD_API int udd_dev_borrow(udd_ctx_t *ctx, udd_fdid_t fdid, uint32_t flags, udd_dev_t **out);

/**
 * Return a borrowed device: disables its interrupts, unmaps its DMA windows
 * and access handles (which become invalid), and releases the borrow.
 * NULL is a no-op. Blocking: yes (tells the peer).
 * Thread-safety: no other thread may use the device or its objects.
 */
UDD_API void udd_dev_return(udd_dev_t *dev);

/** Fill @p info for a borrowed device. @return 0; -EINVAL. Non-blocking; safe. */
UDD_API int udd_dev_get_info(udd_dev_t *dev, udd_dev_info_t *info);

/** The fdid of a borrowed device (0 if dev is NULL). Non-blocking; safe. */
UDD_API udd_fdid_t udd_dev_fdid(const udd_dev_t *dev);

/**
 * Reset the device (function-level, as the backend provides).
 * Interrupt configuration and DMA windows stay as they were.
 * @return 0; -EINVAL; -ENOTSUP the device cannot be reset; -ENODEV gone.
 * Blocking: yes. Thread-safety: safe, but register accesses racing with a
 * reset see whatever the device gives.
 */
UDD_API int udd_dev_reset(udd_dev_t *dev);

/**
 * Check that the device is still there and healthy.
 * @return 0; -ENODEV the device (or its server) is gone; -EIO it reports a
 *         fault (config space reads all-ones). Blocking: yes. Safe.
 */
UDD_API int udd_dev_check(udd_dev_t *dev);

/* ------------------------------------------------------------------------ */
/* Register sets and access handles                                          */
/* ------------------------------------------------------------------------ */

/** Endianness of the device's registers (acc_attr.endian). */
enum udd_endian {
	UDD_NEVERSWAP = 0,   /**< never swap */
	UDD_LITTLE_ENDIAN = 1, /**< registers are little-endian */
	UDD_BIG_ENDIAN = 2,  /**< registers are big-endian */
};

/** Data ordering the device needs (acc_attr.order), most strict first. */
enum udd_order {
	UDD_STRICTORDER = 0,    /**< in program order, uncached */
	UDD_UNORDERED_OK = 1,   /**< may be reordered */
	UDD_MERGING_OK = 2,     /**< stores may merge: write-combining */
	UDD_LOADCACHING_OK = 3, /**< loads may be cached until a store */
	UDD_STORECACHING_OK = 4,/**< stores may be deferred */
};

/** Access mode (acc_attr.access). */
enum udd_access {
	UDD_DEFAULT_ACC = 0,  /**< plain access */
	UDD_FLAGERR_ACC = 1,  /**< an all-ones read makes the library check the
	                           device; a fault marks the handle */
	UDD_CAUTIOUS_ACC = 2, /**< every access goes through the checked slow
	                           path; errors mark the handle, never crash */
};

/** Access attributes, as illumos ddi_device_acc_attr_t. */
typedef struct udd_acc_attr {
	uint8_t endian; /**< enum udd_endian */
	uint8_t order;  /**< enum udd_order */
	uint8_t access; /**< enum udd_access */
	uint8_t reserved; /**< must be 0 */
} udd_acc_attr_t;

/** Number of register sets (rnumbers): config space + implemented BARs. */
UDD_API int udd_regs_count(udd_dev_t *dev);

/**
 * Size of register set @p rnumber.
 * @return 0; -EINVAL dev/size NULL; -ERANGE rnumber out of range.
 */
UDD_API int udd_regs_size(udd_dev_t *dev, unsigned rnumber, uint64_t *size);

/**
 * The rnumber of BAR @p bar.
 * @return rnumber (>= 1); -EINVAL; -ENOENT the BAR is not implemented.
 */
UDD_API int udd_regs_rnumber(udd_dev_t *dev, unsigned bar);

/**
 * Map a register set.
 *
 * The handle is *direct* (see udd_acc_is_direct()) when the whole range can
 * be mapped into this process, no byte swapping is needed on this host and
 * access is UDD_DEFAULT_ACC. Otherwise accesses go through per-handle
 * functions: swapping, trapping (messages to the device's server, or
 * pread/pwrite), checking.
 *
 * Data order: strict → uncached, merging → write-combining where the backend
 * can map that way; the others are mapped as strict (allowed: "the system can
 * access data more strictly than the driver specifies"). Memory shared with a
 * simulator is ordinary memory whatever the order.
 *
 * @param dev      borrowed device.
 * @param rnumber  register set (0 = config space, then each BAR).
 * @param offset   byte offset into the set.
 * @param len      bytes to map, 0 = to the end of the set.
 * @param attr     attributes, or NULL for {NEVERSWAP, STRICT, DEFAULT}.
 * @param out      receives the handle (owned by the device; udd_regs_unmap()
 *                 or udd_dev_return() release it).
 * @return 0; -EINVAL bad attr or arguments; -ERANGE rnumber out of range;
 *         -ENXIO offset/len outside the set; -ENOMEM; -ENODEV gone.
 * Blocking: may talk to the peer. Thread-safety: safe.
 */
UDD_API int udd_regs_map(udd_dev_t *dev, unsigned rnumber, uint64_t offset, uint64_t len,
			 const udd_acc_attr_t *attr, udd_acc_t **out);

/** As udd_regs_map() but naming the set by BAR index (-ENOENT if absent). */
UDD_API int udd_regs_map_bar(udd_dev_t *dev, unsigned bar, uint64_t offset, uint64_t len,
			     const udd_acc_attr_t *attr, udd_acc_t **out);

/** Unmap an access handle. NULL is a no-op. Thread-safety: not with users of it. */
UDD_API void udd_regs_unmap(udd_acc_t *acc);

/**
 * Check an access handle (illumos ddi_check_acc_handle).
 * @return 0 no error seen; -EIO a fault was seen (all-ones read on a
 *         FLAGERR handle with the device faulted, or a failed slow-path
 *         access, including one outside the handle or misaligned);
 *         -ENODEV the device is gone; -EINVAL acc NULL, or a udd_rep_*
 *         call on it was refused for unknown flag bits (nothing was done;
 *         a refused read filled its buffer with all ones).
 * Non-blocking. Safe.
 */
UDD_API int udd_acc_check(udd_acc_t *acc);

/**
 * Clear the error state of a handle (after recovery). @return 0; -EINVAL.
 */
UDD_API int udd_acc_clear_error(udd_acc_t *acc);

/** Length in bytes of the mapped range (0 if acc is NULL). */
UDD_API uint64_t udd_acc_size(const udd_acc_t *acc);

/** The attributes the handle was mapped with. @return 0; -EINVAL. */
UDD_API int udd_acc_get_attr(const udd_acc_t *acc, udd_acc_attr_t *attr);

/* ------------------------------------------------------------------------ */
/* Configuration space                                                       */
/* ------------------------------------------------------------------------ */

/**
 * Read/write configuration space. Offsets must be aligned to the width;
 * 64-bit accesses are two 32-bit accesses, low dword first.
 * @return 0; -EINVAL NULL or misaligned; -ENXIO outside config space;
 *         -ENODEV the device is gone; -EIO the peer failed the access.
 * Blocking: yes (usually a message or pread). Thread-safety: safe.
 */
UDD_API int udd_cfg_read8(udd_dev_t *dev, uint32_t off, uint8_t *val);
UDD_API int udd_cfg_read16(udd_dev_t *dev, uint32_t off, uint16_t *val);
UDD_API int udd_cfg_read32(udd_dev_t *dev, uint32_t off, uint32_t *val);
UDD_API int udd_cfg_read64(udd_dev_t *dev, uint32_t off, uint64_t *val);
UDD_API int udd_cfg_write8(udd_dev_t *dev, uint32_t off, uint8_t val);
UDD_API int udd_cfg_write16(udd_dev_t *dev, uint32_t off, uint16_t val);
UDD_API int udd_cfg_write32(udd_dev_t *dev, uint32_t off, uint32_t val);
UDD_API int udd_cfg_write64(udd_dev_t *dev, uint32_t off, uint64_t val);

/**
 * Find a capability in the standard list.
 * @param id     capability id (e.g. 0x05 MSI, 0x11 MSI-X, 0x10 PCIe).
 * @param after  0 to search from the list head, or the offset of a previous
 *               match to find the next one with the same id.
 * @return its offset (> 0); -ENOENT none; -ELOOP a corrupt (looping) list;
 *         other errors as udd_cfg_read8().
 */
UDD_API int udd_cfg_find_cap(udd_dev_t *dev, uint8_t id, uint32_t after);

/**
 * Find an extended capability (config offset 0x100 onward).
 * @return its offset (>= 0x100); -ENOENT none (or config space is 256
 *         bytes); -ELOOP corrupt list; other errors as udd_cfg_read32().
 */
UDD_API int udd_cfg_find_ext_cap(udd_dev_t *dev, uint16_t id, uint32_t after);

/**
 * Walk the standard capability list: visit each capability in order.
 * @param cb  called with each (id, offset); a non-zero return stops the walk
 *            and is returned.
 * @return 0 after the last capability; the callback's non-zero value;
 *         -ELOOP corrupt list; errors as udd_cfg_read8().
 */
UDD_API int udd_cfg_walk_caps(udd_dev_t *dev, int (*cb)(void *user, uint8_t id, uint32_t off),
			      void *user);

/** As udd_cfg_walk_caps() for extended capabilities. */
UDD_API int udd_cfg_walk_ext_caps(udd_dev_t *dev,
				  int (*cb)(void *user, uint16_t id, uint8_t ver, uint32_t off),
				  void *user);

/* ------------------------------------------------------------------------ */
/* DMA                                                                       */
/* ------------------------------------------------------------------------ */

/**
 * Allocate DMA-able memory: zeroed, page-aligned, backed by a memfd so that
 * it can be shared with a device's server.
 * @param size   bytes (rounded up to the page size); > 0.
 * @param out    receives the memory (caller owns; udd_mem_free()).
 * @return 0; -EINVAL; -ENOMEM; other errno from memfd_create/mmap.
 * Non-blocking. Thread-safe.
 */
UDD_API int udd_mem_alloc(udd_ctx_t *ctx, size_t size, udd_mem_t **out);

/** Free DMA memory. Windows still mapping it keep the pages alive until unmapped. NULL: no-op. */
UDD_API void udd_mem_free(udd_mem_t *mem);
/** Its address in this process (NULL if mem is NULL). */
UDD_API void *udd_mem_ptr(const udd_mem_t *mem);
/** Its size in bytes (0 if mem is NULL). */
UDD_API size_t udd_mem_size(const udd_mem_t *mem);
/** Its memfd (owned by mem; do not close), or -EINVAL. A memfd from
 *  udd_mem_alloc() is sealed with F_SEAL_SHRINK | F_SEAL_GROW: its size
 *  cannot change (servers may map it safely); one from udd_mem_import() is
 *  the caller's, unsealed unless the caller sealed it. */
UDD_API int udd_mem_fd(const udd_mem_t *mem);

/**
 * DMA limits of a device, as illumos ddi_dma_attr_t. Zero fields take the
 * defaults given.
 */
typedef struct udd_dma_attr {
	uint64_t addr_lo;      /**< lowest usable IOVA (default 0) */
	uint64_t addr_hi;      /**< highest usable IOVA, inclusive (default 2^64-1) */
	uint64_t align;        /**< IOVA alignment, a power of two (default page size) */
	uint64_t seg_boundary; /**< a window must not cross a multiple of
	                            seg_boundary+1; so this is a mask (2^n - 1)
	                            (default: no boundary) */
	uint64_t max_seg;      /**< largest window in bytes (default: no limit) */
} udd_dma_attr_t;

#define UDD_DMA_F_READ (1u << 0)   /**< the device may read the memory */
#define UDD_DMA_F_WRITE (1u << 1)  /**< the device may write the memory */
#define UDD_DMA_F_FIXED (1u << 2)  /**< use the IOVA given, don't allocate */

/**
 * Map [offset, offset+len) of @p mem for the device as one contiguous window.
 *
 * The IOVA is chosen by the device's allocator within @p attr (and within
 * the IOMMU's valid ranges), or is @p *iova with UDD_DMA_F_FIXED.
 *
 * @param dev     borrowed device.
 * @param mem     memory from udd_mem_alloc(); offset and len page-aligned.
 * @param offset  start in mem.
 * @param len     bytes, > 0.
 * @param attr    limits, or NULL for none.
 * @param flags   UDD_DMA_F_READ | UDD_DMA_F_WRITE (at least one), F_FIXED.
 * @param iova    in: the IOVA with F_FIXED; out: the IOVA chosen.
 * @param out     receives the window (owned by the device; udd_dma_unmap()).
 * @return 0; -EINVAL bad arguments or attr; -E2BIG len > attr->max_seg, or
 *         a window that would cross seg_boundary; -ENOSPC no free IOVA range
 *         satisfies attr, or the device's window limit is reached (a
 *         vfio-user server's max_dma_maps — udd-sim: 16384 per borrower —
 *         or the daemon's budget below vm.max_map_count); -EEXIST F_FIXED
 *         overlaps a window; -ENOMEM;
 *         -ENODEV gone; -EIO the peer refused.
 * Blocking: yes. Thread-safety: safe.
 */
UDD_API int udd_dma_map(udd_dev_t *dev, udd_mem_t *mem, size_t offset, size_t len,
			const udd_dma_attr_t *attr, uint32_t flags, uint64_t *iova, udd_dma_t **out);

/**
 * Map memory the library did not allocate (any page-aligned range of this
 * process). The peer cannot map it, so it accesses it through messages
 * (vfio-user DMA_READ/DMA_WRITE) which the library serves; slower than
 * udd_dma_map(). Arguments and returns as udd_dma_map(); @p va and @p len
 * must be page-aligned and the range must stay valid until unmapped.
 */
UDD_API int udd_dma_map_va(udd_dev_t *dev, void *va, size_t len, const udd_dma_attr_t *attr,
			   uint32_t flags, uint64_t *iova, udd_dma_t **out);

/**
 * Wrap memory held by a file descriptor (a memfd or POSIX shared memory of
 * this or another process — for example a SISCI segment) as DMA-able memory,
 * so it can be given to a device with udd_dma_map(). The fd is duplicated
 * (the caller keeps its own); [offset, offset+size) is mapped shared.
 * @param offset  page-aligned.  @param size  > 0 (rounded up to pages).
 * @return 0; -EINVAL ctx/out NULL, fd < 0, size 0, offset not page-aligned,
 *         or [offset, offset+size) past the end of a regular file (memfd,
 *         shm, file: touching it would raise SIGBUS); -EBADF fd is not open;
 *         -ENOMEM; other errno from mmap (e.g. -EACCES for a read-only fd).
 * Non-blocking. Thread-safe. Free with udd_mem_free().
 */
UDD_API int udd_mem_import(udd_ctx_t *ctx, int fd, uint64_t offset, size_t size, udd_mem_t **out);

/**
 * Peer-to-peer: give @p dev a window onto part of another borrowed device's
 * register set (a BAR of @p peer), so that @p dev's DMA reaches @p peer.
 * The peer's set must be mappable (UDD_RS_F_MMAP) over the whole range.
 * Arguments and returns as udd_dma_map(), plus: -ENOTSUP the peer's range
 * cannot be mapped; -ERANGE bad rnumber; -ENXIO offset/len outside the set.
 * The window must be unmapped before @p peer is returned.
 */
UDD_API int udd_dma_map_peer(udd_dev_t *dev, udd_dev_t *peer, unsigned rnumber, uint64_t offset,
			     size_t len, const udd_dma_attr_t *attr, uint32_t flags, uint64_t *iova,
			     udd_dma_t **out);

/** Unmap a window: when this returns, the device can no longer reach it. NULL: no-op.
 *  Blocking: yes (waits for the peer). */
UDD_API void udd_dma_unmap(udd_dma_t *dma);

/** Directions of udd_dma_sync(). */
#define UDD_DMA_SYNC_FOR_DEVICE 1u /**< the CPU wrote, the device will read */
#define UDD_DMA_SYNC_FOR_CPU 2u    /**< the device wrote, the CPU will read */

/**
 * Make [offset, offset+len) of a DMA window coherent between the CPU and the
 * device before the other side uses it (docs/cluster.md). Call it with
 * UDD_DMA_SYNC_FOR_DEVICE after writing a buffer and before telling the device
 * to read it, and with UDD_DMA_SYNC_FOR_CPU after the device said it wrote
 * and before reading it. Locally every window is coherent (VFIO on an x86
 * IOMMU, memory shared with a local server, simulated devices reaching a
 * remote window through DMA_READ/DMA_WRITE messages served from this memory
 * at that moment): then it only orders memory (a full fence) and checks its
 * arguments. A real device lent by another host (through udd-gw) DMAs into
 * the lender's copy of the window instead (the server announced udd.dma_sync):
 * then FOR_DEVICE sends the range's bytes to the lender and FOR_CPU fetches
 * them back, one round trip per max_data_xfer_size bytes. A portable driver
 * always calls it.
 *
 * @param dma     the window (from udd_dma_map*()).
 * @param offset  start within the window.
 * @param len     bytes (0: nothing to do, still checked).
 * @param dir     UDD_DMA_SYNC_FOR_DEVICE or UDD_DMA_SYNC_FOR_CPU.
 * @return 0; -EINVAL NULL window, unknown @p dir, or a range outside the window;
 *         for a copied window also -ENODEV (the peer is gone), -ETIMEDOUT,
 *         -EPROTO (a bad reply) or the lender's error.
 * Non-blocking for coherent windows; a copied window waits for the lender
 * (bounded by the device's timeout). Thread-safe (the caller keeps the window
 * alive and does not unmap it meanwhile).
 */
UDD_API int udd_dma_sync(udd_dma_t *dma, size_t offset, size_t len, unsigned dir);
/** IOVA of a window (0 if NULL). */
UDD_API uint64_t udd_dma_iova(const udd_dma_t *dma);
/** Length of a window (0 if NULL). */
UDD_API size_t udd_dma_len(const udd_dma_t *dma);

/**
 * Device DMA faults seen since the last call: accesses the device attempted
 * outside every window (reported by the simulator; by VFIO not at all — the
 * IOMMU blocks them and the kernel logs them).
 * @return the count (>= 0); -EINVAL. Non-blocking (counts what has arrived).
 */
UDD_API int udd_dma_faults(udd_dev_t *dev, uint64_t *last_iova);

/* ------------------------------------------------------------------------ */
/* Interrupts                                                                */
/* ------------------------------------------------------------------------ */

/**
 * Enable @p nvec vectors of @p type, each delivered to its own eventfd
 * (created and owned by the library). Replaces an earlier enable of any type.
 * INTx has one vector; it masks itself when it fires, and udd_irq_wait()
 * unmasks it after consuming the event.
 * @return 0; -EINVAL; -ENOTSUP type absent or nvec > its count; -ENODEV;
 *         -EIO the peer refused.
 * Blocking: yes. Thread-safety: safe.
 */
UDD_API int udd_irq_enable(udd_dev_t *dev, unsigned type, unsigned nvec);

/** Disable interrupts and close their eventfds. @return 0; -EINVAL. Blocking. */
UDD_API int udd_irq_disable(udd_dev_t *dev);

/**
 * The eventfd of vector @p vec, for the caller's event loop (poll for
 * POLLIN, then read 8 bytes; for INTx call udd_irq_unmask() afterwards).
 * Owned by the library: do not close.
 * @return the fd (>= 0); -EINVAL; -ENOENT vector not enabled.
 */
UDD_API int udd_irq_fd(udd_dev_t *dev, unsigned vec);

/**
 * Wait for vector @p vec to fire.
 * @param timeout_ms  -1 forever, 0 poll.
 * @param count       if not NULL, receives how many times it fired since
 *                    the last wait (>= 1).
 * @return 0; -ETIMEDOUT; -EINVAL; -ENOENT not enabled; -EINTR a signal
 *         arrived; -ENODEV the device's peer (its vfio-user server) is gone:
 *         the wait ends when the server goes, even with timeout_ms -1 (an
 *         event that fired before is still delivered first).
 * Blocking: up to timeout_ms. Thread-safe (one waiter per vector).
 */
UDD_API int udd_irq_wait(udd_dev_t *dev, unsigned vec, int timeout_ms, uint64_t *count);

/** Mask / unmask vector @p vec at the device. @return 0; -EINVAL; -ENOENT;
 *  -ENOTSUP not maskable; -ENODEV. Blocking: yes. */
UDD_API int udd_irq_mask(udd_dev_t *dev, unsigned vec);
UDD_API int udd_irq_unmask(udd_dev_t *dev, unsigned vec);

#ifdef __cplusplus
}
#endif

#include "udd/access.h"

#endif /* UDD_UDD_H */
