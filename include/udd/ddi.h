/* SPDX-License-Identifier: MIT */
/**
 * @file udd/ddi.h
 * @brief illumos DDI compatibility: driver code written against the illumos
 *        DDI (<sys/ddi.h>, <sys/sunddi.h>) compiled against udd.
 *
 * Link with -ludd_ddi (and -ludd). The constants have illumos's values
 * (checked against illumos-gate: sys/sunddi.h, sys/dditypes.h,
 * sys/ddidmareq.h, sys/ddimapreq.h, sys/ddi_intr.h, sys/ddifm.h).
 * docs/ddi.md lists what is covered, function by function.
 *
 * Mapping onto udd:
 *  - dev_info_t is a borrowed udd device: ddi_udd_attach() makes one,
 *    ddi_udd_detach() releases it and everything mapped through it.
 *  - rnumbers are the PCI binding's: 0 = configuration space, then the
 *    implemented BARs in order (udd's rnumbers).
 *  - A DDI address (caddr_t from ddi_regs_map_setup) is a pointer into the
 *    mapping when the register set could be mapped directly; otherwise it
 *    points into an inaccessible (PROT_NONE) reservation of the same length,
 *    so addresses stay unique and the accessors turn them into offsets.
 *    Never dereference such an address: use ddi_get8() and friends.
 *  - Interrupt handlers run on a library thread per vector (not in
 *    interrupt context); kmutex_t / kcondvar_t are pthread objects.
 *
 * Error conventions are illumos's (DDI_SUCCESS / DDI_FAILURE / ...), not
 * udd's negative errno values.
 */
#ifndef UDD_DDI_H
#define UDD_DDI_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#include "udd/udd.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define DDI_API __attribute__((visibility("default")))
#else
#define DDI_API
#endif

/* ---- Solaris basic types (identical redefinition is allowed in C11) ----- */
typedef char *caddr_t;
typedef unsigned char uchar_t;
typedef unsigned short ushort_t;
typedef unsigned int uint_t;
typedef unsigned long ulong_t;
typedef long long offset_t;
typedef int boolean_t;
#ifndef B_FALSE
#define B_FALSE 0
#define B_TRUE 1
#endif

/* ---- opaque handles ----------------------------------------------------- */
typedef struct ddi_udd_dev dev_info_t;             /**< a borrowed device */
typedef struct ddi_udd_acc *ddi_acc_handle_t;      /**< register / memory access */
typedef struct ddi_udd_dma *ddi_dma_handle_t;      /**< DMA handle */
typedef struct ddi_udd_intr *ddi_intr_handle_t;    /**< one interrupt vector */

/* ---- generic return values (sys/sunddi.h) -------------------------------- */
#define DDI_SUCCESS 0
#define DDI_FAILURE (-1)
#define DDI_NOT_WELL_FORMED (-2)
#define DDI_EAGAIN (-3)
#define DDI_EINVAL (-4)
#define DDI_ENOTSUP (-5)
#define DDI_EPENDING (-6)
#define DDI_EALREADY (-7)

#define DDI_SLEEP 0
#define DDI_NOSLEEP 1

/* mapping errors (sys/ddimapreq.h, sys/sunddi.h) */
#define DDI_ME_GENERIC (-1)
#define DDI_ME_UNIMPLEMENTED (-2)
#define DDI_ME_NORESOURCES (-3)
#define DDI_ME_UNSUPPORTED (-4)
#define DDI_ME_REGSPEC_RANGE (-5)
#define DDI_ME_RNUMBER_RANGE (-6)
#define DDI_ME_INVAL (-7)
#define DDI_REGS_ACC_CONFLICT (-10)

/* ---- device access attributes (sys/dditypes.h) -------------------------- */
typedef struct ddi_device_acc_attr {
	ushort_t devacc_attr_version;
	uchar_t devacc_attr_endian_flags;
	uchar_t devacc_attr_dataorder;
	uchar_t devacc_attr_access; /**< V1 only */
} ddi_device_acc_attr_t;

#define DDI_DEVICE_ATTR_V0 0x0001
#define DDI_DEVICE_ATTR_V1 0x0002

#define DDI_NEVERSWAP_ACC 0x00
#define DDI_STRUCTURE_LE_ACC 0x01
#define DDI_STRUCTURE_BE_ACC 0x02

#define DDI_STRICTORDER_ACC 0x00
#define DDI_UNORDERED_OK_ACC 0x01
#define DDI_MERGING_OK_ACC 0x02
#define DDI_LOADCACHING_OK_ACC 0x03
#define DDI_STORECACHING_OK_ACC 0x04

#define DDI_DEFAULT_ACC 0x01
#define DDI_FLAGERR_ACC 0x02
#define DDI_CAUTIOUS_ACC 0x03

#define DDI_DATA_SZ01_ACC 1
#define DDI_DATA_SZ02_ACC 2
#define DDI_DATA_SZ04_ACC 4
#define DDI_DATA_SZ08_ACC 8

/* rep flags (sys/sunddi.h). NOTE: the opposite of udd's UDD_DEV_* values. */
#define DDI_DEV_NO_AUTOINCR 0x0000
#define DDI_DEV_AUTOINCR 0x0001

/* ---- udd glue ------------------------------------------------------------ */

/**
 * Borrow device @p fdid of @p ctx and wrap it as a dev_info_t.
 * @param flags  UDD_BORROW_* (e.g. UDD_BORROW_EXCLUSIVE).
 * @return DDI_SUCCESS; DDI_EINVAL bad arguments; DDI_EAGAIN the device is
 *         busy; DDI_FAILURE otherwise.
 */
DDI_API int ddi_udd_attach(udd_ctx_t *ctx, udd_fdid_t fdid, uint32_t flags, dev_info_t **dipp);
/** Release everything obtained through @p dip (mappings, DMA handles,
 *  interrupts) and return the device. NULL: no-op. */
DDI_API void ddi_udd_detach(dev_info_t *dip);
/** The udd device behind @p dip (owned by dip). */
DDI_API udd_dev_t *ddi_udd_dev(dev_info_t *dip);
/** The udd access handle behind a register handle (NULL for memory handles). */
DDI_API udd_acc_t *ddi_udd_acc(ddi_acc_handle_t handle);

/** The instance number: small, unique per attach in this process (0, 1, ...). */
DDI_API int ddi_get_instance(dev_info_t *dip);

/* ---- register sets ------------------------------------------------------- */
/** Number of register sets (config space + BARs). DDI_SUCCESS / DDI_FAILURE. */
DDI_API int ddi_dev_nregs(dev_info_t *dip, int *resultp);
/** Size of set @p rnumber. DDI_SUCCESS / DDI_FAILURE (no such set). */
DDI_API int ddi_dev_regsize(dev_info_t *dip, uint_t rnumber, off_t *resultp);

/**
 * Map register set @p rnumber from @p offset for @p len bytes (0: to the end).
 * @return DDI_SUCCESS; DDI_ME_RNUMBER_RANGE bad rnumber; DDI_FAILURE bad
 *         offset/len, bad attributes, or the device failed.
 */
DDI_API int ddi_regs_map_setup(dev_info_t *dip, uint_t rnumber, caddr_t *addrp, offset_t offset,
			       offset_t len, const ddi_device_acc_attr_t *accattrp,
			       ddi_acc_handle_t *handlep);
/** Unmap; sets *handlep to NULL. */
DDI_API void ddi_regs_map_free(ddi_acc_handle_t *handlep);

/* ---- access -------------------------------------------------------------- */
DDI_API uint8_t ddi_get8(ddi_acc_handle_t h, uint8_t *addr);
DDI_API uint16_t ddi_get16(ddi_acc_handle_t h, uint16_t *addr);
DDI_API uint32_t ddi_get32(ddi_acc_handle_t h, uint32_t *addr);
DDI_API uint64_t ddi_get64(ddi_acc_handle_t h, uint64_t *addr);
DDI_API void ddi_put8(ddi_acc_handle_t h, uint8_t *addr, uint8_t value);
DDI_API void ddi_put16(ddi_acc_handle_t h, uint16_t *addr, uint16_t value);
DDI_API void ddi_put32(ddi_acc_handle_t h, uint32_t *addr, uint32_t value);
DDI_API void ddi_put64(ddi_acc_handle_t h, uint64_t *addr, uint64_t value);
DDI_API void ddi_rep_get8(ddi_acc_handle_t h, uint8_t *host_addr, uint8_t *dev_addr,
			  size_t repcount, uint_t flags);
DDI_API void ddi_rep_get16(ddi_acc_handle_t h, uint16_t *host_addr, uint16_t *dev_addr,
			   size_t repcount, uint_t flags);
DDI_API void ddi_rep_get32(ddi_acc_handle_t h, uint32_t *host_addr, uint32_t *dev_addr,
			   size_t repcount, uint_t flags);
DDI_API void ddi_rep_get64(ddi_acc_handle_t h, uint64_t *host_addr, uint64_t *dev_addr,
			   size_t repcount, uint_t flags);
DDI_API void ddi_rep_put8(ddi_acc_handle_t h, uint8_t *host_addr, uint8_t *dev_addr,
			  size_t repcount, uint_t flags);
DDI_API void ddi_rep_put16(ddi_acc_handle_t h, uint16_t *host_addr, uint16_t *dev_addr,
			   size_t repcount, uint_t flags);
DDI_API void ddi_rep_put32(ddi_acc_handle_t h, uint32_t *host_addr, uint32_t *dev_addr,
			   size_t repcount, uint_t flags);
DDI_API void ddi_rep_put64(ddi_acc_handle_t h, uint64_t *host_addr, uint64_t *dev_addr,
			   size_t repcount, uint_t flags);

/* memory-space family: same as ddi_get/put */
DDI_API uint8_t ddi_mem_get8(ddi_acc_handle_t h, uint8_t *addr);
DDI_API uint16_t ddi_mem_get16(ddi_acc_handle_t h, uint16_t *addr);
DDI_API uint32_t ddi_mem_get32(ddi_acc_handle_t h, uint32_t *addr);
DDI_API uint64_t ddi_mem_get64(ddi_acc_handle_t h, uint64_t *addr);
DDI_API void ddi_mem_put8(ddi_acc_handle_t h, uint8_t *addr, uint8_t value);
DDI_API void ddi_mem_put16(ddi_acc_handle_t h, uint16_t *addr, uint16_t value);
DDI_API void ddi_mem_put32(ddi_acc_handle_t h, uint32_t *addr, uint32_t value);
DDI_API void ddi_mem_put64(ddi_acc_handle_t h, uint64_t *addr, uint64_t value);
DDI_API void ddi_mem_rep_get8(ddi_acc_handle_t h, uint8_t *host_addr, uint8_t *dev_addr,
			      size_t repcount, uint_t flags);
DDI_API void ddi_mem_rep_get16(ddi_acc_handle_t h, uint16_t *host_addr, uint16_t *dev_addr,
			       size_t repcount, uint_t flags);
DDI_API void ddi_mem_rep_get32(ddi_acc_handle_t h, uint32_t *host_addr, uint32_t *dev_addr,
			       size_t repcount, uint_t flags);
DDI_API void ddi_mem_rep_get64(ddi_acc_handle_t h, uint64_t *host_addr, uint64_t *dev_addr,
			       size_t repcount, uint_t flags);
DDI_API void ddi_mem_rep_put8(ddi_acc_handle_t h, uint8_t *host_addr, uint8_t *dev_addr,
			      size_t repcount, uint_t flags);
DDI_API void ddi_mem_rep_put16(ddi_acc_handle_t h, uint16_t *host_addr, uint16_t *dev_addr,
			       size_t repcount, uint_t flags);
DDI_API void ddi_mem_rep_put32(ddi_acc_handle_t h, uint32_t *host_addr, uint32_t *dev_addr,
			       size_t repcount, uint_t flags);
DDI_API void ddi_mem_rep_put64(ddi_acc_handle_t h, uint64_t *host_addr, uint64_t *dev_addr,
			       size_t repcount, uint_t flags);

/* I/O-space family: 8..32 bits; rep never increments the port */
DDI_API uint8_t ddi_io_get8(ddi_acc_handle_t h, uint8_t *dev_addr);
DDI_API uint16_t ddi_io_get16(ddi_acc_handle_t h, uint16_t *dev_addr);
DDI_API uint32_t ddi_io_get32(ddi_acc_handle_t h, uint32_t *dev_addr);
DDI_API void ddi_io_put8(ddi_acc_handle_t h, uint8_t *dev_addr, uint8_t value);
DDI_API void ddi_io_put16(ddi_acc_handle_t h, uint16_t *dev_addr, uint16_t value);
DDI_API void ddi_io_put32(ddi_acc_handle_t h, uint32_t *dev_addr, uint32_t value);
DDI_API void ddi_io_rep_get8(ddi_acc_handle_t h, uint8_t *host_addr, uint8_t *dev_addr,
			     size_t repcount);
DDI_API void ddi_io_rep_get16(ddi_acc_handle_t h, uint16_t *host_addr, uint16_t *dev_addr,
			      size_t repcount);
DDI_API void ddi_io_rep_get32(ddi_acc_handle_t h, uint32_t *host_addr, uint32_t *dev_addr,
			      size_t repcount);
DDI_API void ddi_io_rep_put8(ddi_acc_handle_t h, uint8_t *host_addr, uint8_t *dev_addr,
			     size_t repcount);
DDI_API void ddi_io_rep_put16(ddi_acc_handle_t h, uint16_t *host_addr, uint16_t *dev_addr,
			      size_t repcount);
DDI_API void ddi_io_rep_put32(ddi_acc_handle_t h, uint32_t *host_addr, uint32_t *dev_addr,
			      size_t repcount);

DDI_API uint16_t ddi_swap16(uint16_t value);
DDI_API uint32_t ddi_swap32(uint32_t value);
DDI_API uint64_t ddi_swap64(uint64_t value);

/* ---- PCI configuration space ---------------------------------------------- */
DDI_API int pci_config_setup(dev_info_t *dip, ddi_acc_handle_t *handlep);
DDI_API void pci_config_teardown(ddi_acc_handle_t *handlep);
DDI_API uint8_t pci_config_get8(ddi_acc_handle_t h, off_t offset);
DDI_API uint16_t pci_config_get16(ddi_acc_handle_t h, off_t offset);
DDI_API uint32_t pci_config_get32(ddi_acc_handle_t h, off_t offset);
DDI_API uint64_t pci_config_get64(ddi_acc_handle_t h, off_t offset);
DDI_API void pci_config_put8(ddi_acc_handle_t h, off_t offset, uint8_t value);
DDI_API void pci_config_put16(ddi_acc_handle_t h, off_t offset, uint16_t value);
DDI_API void pci_config_put32(ddi_acc_handle_t h, off_t offset, uint32_t value);
DDI_API void pci_config_put64(ddi_acc_handle_t h, off_t offset, uint64_t value);

/* ---- fault management (sys/ddifm.h) -------------------------------------- */
#define DDI_FM_OK 0
#define DDI_FM_FATAL (-1)
#define DDI_FM_NONFATAL (-2)
#define DDI_FM_UNKNOWN (-3)

#define DDI_FM_ERR_UNEXPECTED 0
#define DDI_FM_ERR_EXPECTED 1
#define DDI_FM_ERR_POKE 2
#define DDI_FM_ERR_PEEK 3

#define DDI_FME_VER0 0
#define DDI_FME_VER1 1
#define DDI_FME_VERSION DDI_FME_VER1

typedef struct ddi_fm_error {
	int fme_version;
	int fme_status;             /**< DDI_FM_OK / DDI_FM_FATAL / ... */
	int fme_flag;               /**< DDI_FM_ERR_* */
	uint64_t fme_ena;
	ddi_acc_handle_t fme_acc_handle;
	ddi_dma_handle_t fme_dma_handle;
	void *fme_bus_specific;
	int fme_bus_type;
} ddi_fm_error_t;

/** DDI_SUCCESS if no error was seen on the handle, else DDI_FAILURE. */
DDI_API int ddi_check_acc_handle(ddi_acc_handle_t handle);
/** Fill @p de: DDI_FM_OK, DDI_FM_FATAL (device gone) or DDI_FM_NONFATAL. */
DDI_API void ddi_fm_acc_err_get(ddi_acc_handle_t handle, ddi_fm_error_t *de, int version);
DDI_API void ddi_fm_acc_err_clear(ddi_acc_handle_t handle, int version);

/**
 * Cautious single accesses at a DDI address of a mapping of @p dip.
 * @return DDI_SUCCESS; DDI_FAILURE (bad address, device gone, access
 *         failed) — never a crash.
 */
DDI_API int ddi_peek8(dev_info_t *dip, int8_t *addr, int8_t *val_p);
DDI_API int ddi_peek16(dev_info_t *dip, int16_t *addr, int16_t *val_p);
DDI_API int ddi_peek32(dev_info_t *dip, int32_t *addr, int32_t *val_p);
DDI_API int ddi_peek64(dev_info_t *dip, int64_t *addr, int64_t *val_p);
DDI_API int ddi_poke8(dev_info_t *dip, int8_t *addr, int8_t val);
DDI_API int ddi_poke16(dev_info_t *dip, int16_t *addr, int16_t val);
DDI_API int ddi_poke32(dev_info_t *dip, int32_t *addr, int32_t val);
DDI_API int ddi_poke64(dev_info_t *dip, int64_t *addr, int64_t val);

/* ---- DMA (sys/ddidmareq.h, sys/dditypes.h) -------------------------------- */
#define DMA_ATTR_V0 0
#define DMA_ATTR_VERSION DMA_ATTR_V0

typedef struct ddi_dma_attr {
	uint_t dma_attr_version;
	uint64_t dma_attr_addr_lo;
	uint64_t dma_attr_addr_hi;
	uint64_t dma_attr_count_max;
	uint64_t dma_attr_align;
	uint_t dma_attr_burstsizes;
	uint32_t dma_attr_minxfer;
	uint64_t dma_attr_maxxfer;
	uint64_t dma_attr_seg;
	int dma_attr_sgllen;
	uint32_t dma_attr_granular;
	uint_t dma_attr_flags;
} ddi_dma_attr_t;

typedef struct {
	union {
		uint64_t _dmac_ll;
		uint32_t _dmac_la[2];
	} _dmu;
	size_t dmac_size;
	uint_t dmac_type;
} ddi_dma_cookie_t;
#define dmac_laddress _dmu._dmac_ll
#define dmac_address _dmu._dmac_la[0]
#define dmac_notused _dmu._dmac_la[1]

#define DDI_DMA_FORCE_PHYSICAL 0x0100
#define DDI_DMA_FLAGERR 0x200
#define DDI_DMA_RELAXED_ORDERING 0x400

#define DDI_DMA_DONTWAIT ((int (*)(caddr_t))0)
#define DDI_DMA_SLEEP ((int (*)(caddr_t))1)

#define DDI_DMA_WRITE 0x0001 /**< memory -> device */
#define DDI_DMA_READ 0x0002  /**< device -> memory */
#define DDI_DMA_RDWR (DDI_DMA_READ | DDI_DMA_WRITE)
#define DDI_DMA_REDZONE 0x0004
#define DDI_DMA_PARTIAL 0x0008
#define DDI_DMA_CONSISTENT 0x0010
#define DDI_DMA_EXCLUSIVE 0x0020
#define DDI_DMA_STREAMING 0x0040

#define DDI_DMA_MAPPED 0
#define DDI_DMA_MAPOK 0
#define DDI_DMA_PARTIAL_MAP 1
#define DDI_DMA_DONE 2
#define DDI_DMA_NORESOURCES (-1)
#define DDI_DMA_NOMAPPING (-2)
#define DDI_DMA_TOOBIG (-3)
#define DDI_DMA_TOOSMALL (-4)
#define DDI_DMA_LOCKED (-5)
#define DDI_DMA_BADLIMITS (-6)
#define DDI_DMA_STALE (-7)
#define DDI_DMA_BADATTR (-8)
#define DDI_DMA_INUSE (-9)

#define DDI_DMA_SYNC_FORDEV 0x0
#define DDI_DMA_SYNC_FORCPU 0x1
#define DDI_DMA_SYNC_FORKERNEL 0x2

struct as; /* address space: ignored (always this process) */

/** @return DDI_SUCCESS; DDI_DMA_BADATTR bad attributes; DDI_DMA_NORESOURCES. */
DDI_API int ddi_dma_alloc_handle(dev_info_t *dip, const ddi_dma_attr_t *attr,
				 int (*waitfp)(caddr_t), caddr_t arg, ddi_dma_handle_t *handlep);
/** Frees the handle (unbinding it first if needed); *handlep = NULL. */
DDI_API void ddi_dma_free_handle(ddi_dma_handle_t *handlep);
/**
 * Allocate DMA-able memory for @p handle (udd_mem_alloc) and an access
 * handle on it honouring @p accattrp's endianness.
 * @return DDI_SUCCESS; DDI_FAILURE.
 */
DDI_API int ddi_dma_mem_alloc(ddi_dma_handle_t handle, size_t length,
			      const ddi_device_acc_attr_t *accattrp, uint_t flags,
			      int (*waitfp)(caddr_t), caddr_t arg, caddr_t *kaddrp,
			      size_t *real_length, ddi_acc_handle_t *handlep);
DDI_API void ddi_dma_mem_free(ddi_acc_handle_t *handlep);
/**
 * Bind [addr, addr+len) for DMA: cookies honour the handle's attributes.
 * @return DDI_DMA_MAPPED; DDI_DMA_INUSE already bound; DDI_DMA_TOOBIG more
 *         cookies than dma_attr_sgllen; DDI_DMA_NOMAPPING no IOVA satisfies
 *         the attributes, or the device refused; DDI_DMA_NORESOURCES.
 */
DDI_API int ddi_dma_addr_bind_handle(ddi_dma_handle_t handle, struct as *as, caddr_t addr,
				     size_t len, uint_t flags, int (*waitfp)(caddr_t),
				     caddr_t arg, ddi_dma_cookie_t *cookiep, uint_t *ccountp);
DDI_API int ddi_dma_unbind_handle(ddi_dma_handle_t handle);
DDI_API int ddi_dma_sync(ddi_dma_handle_t handle, off_t offset, size_t length, uint_t type);
DDI_API uint_t ddi_dma_ncookies(ddi_dma_handle_t handle);
DDI_API const ddi_dma_cookie_t *ddi_dma_cookie_iter(ddi_dma_handle_t handle,
						    const ddi_dma_cookie_t *prev);
DDI_API const ddi_dma_cookie_t *ddi_dma_cookie_get(ddi_dma_handle_t handle, uint_t index);
DDI_API const ddi_dma_cookie_t *ddi_dma_cookie_one(ddi_dma_handle_t handle);
DDI_API void ddi_dma_nextcookie(ddi_dma_handle_t handle, ddi_dma_cookie_t *cookiep);

/* ---- interrupts (sys/ddi_intr.h) ------------------------------------------ */
#define DDI_INTR_NOTFOUND 1 /**< no interrupts of that type */
#define DDI_INTR_CLAIMED 1
#define DDI_INTR_UNCLAIMED 0
#define DDI_INTR_TYPE_FIXED 0x1
#define DDI_INTR_TYPE_MSI 0x2
#define DDI_INTR_TYPE_MSIX 0x4
#define DDI_INTR_ALLOC_NORMAL 0
#define DDI_INTR_ALLOC_STRICT 1
#define DDI_INTR_PRI_MIN 1
#define DDI_INTR_PRI_MAX 12
#define DDI_INTR_PRI(pri) ((void *)((uintptr_t)(pri)))
#define DDI_INTR_FLAG_LEVEL 0x0001
#define DDI_INTR_FLAG_EDGE 0x0002
#define DDI_INTR_FLAG_MASKABLE 0x0010
#define DDI_INTR_FLAG_BLOCK 0x0100

typedef uint_t(ddi_intr_handler_t)(caddr_t arg1, caddr_t arg2);

DDI_API int ddi_intr_get_supported_types(dev_info_t *dip, int *typesp);
DDI_API int ddi_intr_get_nintrs(dev_info_t *dip, int type, int *nintrsp);
DDI_API int ddi_intr_get_navail(dev_info_t *dip, int type, int *navailp);
/**
 * Allocate @p count vectors of @p type from @p inum. All vectors of a
 * device must be of one type (as udd enables them together).
 * @return DDI_SUCCESS; DDI_EINVAL; DDI_EAGAIN not enough vectors (STRICT, or
 *         none at all); DDI_FAILURE.
 */
DDI_API int ddi_intr_alloc(dev_info_t *dip, ddi_intr_handle_t *h_array, int type, int inum,
			   int count, int *actualp, int behavior);
DDI_API int ddi_intr_free(ddi_intr_handle_t h);
DDI_API int ddi_intr_get_pri(ddi_intr_handle_t h, uint_t *prip);
DDI_API int ddi_intr_get_cap(ddi_intr_handle_t h, int *flagsp);
DDI_API int ddi_intr_add_handler(ddi_intr_handle_t h, ddi_intr_handler_t inthandler, void *arg1,
				 void *arg2);
DDI_API int ddi_intr_remove_handler(ddi_intr_handle_t h);
/** Start delivering: the handler runs on a library thread per vector. */
DDI_API int ddi_intr_enable(ddi_intr_handle_t h);
/** Stop delivering; when it returns the handler is not running. */
DDI_API int ddi_intr_disable(ddi_intr_handle_t h);

/* ---- kernel synchronisation (sys/ksynch.h) -------------------------------- */
typedef enum { MUTEX_ADAPTIVE = 0, MUTEX_SPIN = 1, MUTEX_DRIVER = 4, MUTEX_DEFAULT = 6 } kmutex_type_t;
typedef enum { CV_DEFAULT = 0, CV_DRIVER = 1 } kcv_type_t;

typedef struct kmutex {
	pthread_mutex_t m;
	pthread_t owner;
	int held;
} kmutex_t;

typedef struct kcondvar {
	pthread_cond_t c;
} kcondvar_t;

DDI_API void mutex_init(kmutex_t *mp, char *name, kmutex_type_t type, void *arg);
DDI_API void mutex_destroy(kmutex_t *mp);
DDI_API void mutex_enter(kmutex_t *mp);
DDI_API void mutex_exit(kmutex_t *mp);
DDI_API int mutex_tryenter(kmutex_t *mp);
/** Non-zero if the calling thread holds @p mp. */
DDI_API int mutex_owned(kmutex_t *mp);

DDI_API void cv_init(kcondvar_t *cvp, char *name, kcv_type_t type, void *arg);
DDI_API void cv_destroy(kcondvar_t *cvp);
DDI_API void cv_wait(kcondvar_t *cvp, kmutex_t *mp);
DDI_API void cv_signal(kcondvar_t *cvp);
DDI_API void cv_broadcast(kcondvar_t *cvp);
/** Wait until @p timeout (absolute, in ddi_get_lbolt() ticks).
 *  @return -1 timed out, else > 0. */
DDI_API clock_t cv_timedwait(kcondvar_t *cvp, kmutex_t *mp, clock_t timeout);
/** Ticks (of drv_usectohz's clock: 1000 Hz, CLOCK_MONOTONIC) since an epoch. */
DDI_API clock_t ddi_get_lbolt(void);
DDI_API clock_t drv_usectohz(clock_t microsecs);
DDI_API clock_t drv_hztousec(clock_t ticks);

/* ---- soft state (ddi_soft_state(9F)) -------------------------------------- */
DDI_API int ddi_soft_state_init(void **state_p, size_t size, size_t n_items);
DDI_API int ddi_soft_state_zalloc(void *state, int item);
DDI_API void *ddi_get_soft_state(void *state, int item);
DDI_API void ddi_soft_state_free(void *state, int item);
DDI_API void ddi_soft_state_fini(void **state_p);

#ifdef __cplusplus
}
#endif

#endif /* UDD_DDI_H */
