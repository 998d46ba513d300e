/* SPDX-License-Identifier: MIT */
/**
 * @file udd/access.h
 * @brief Register access through an access handle: get/put 8..64, rep, barriers.
 *
 * Included by udd/udd.h. All functions here are inline and non-blocking on
 * a direct handle; on other handles they call the handle's own functions,
 * which may send a message to the device's server and wait for its answer.
 *
 * Two families:
 *  - udd_get32(acc, off) ... — work on every handle. On a direct handle they
 *    cost one load of the handle's base, a predicted branch, and the access
 *    itself; on a mapped byte-swapping handle a second test and a bswap.
 *    Otherwise they go through the handle's functions (trapping, error
 *    flagging, checked swapping).
 *  - udd_swapped_get32(acc, off) ... — only for handles for which
 *    udd_acc_is_swapped() returned true (mapped, default access, byte
 *    swapping needed): the volatile access and one bswap instruction.
 *  - udd_direct_get32(acc, off) ... — only for handles for which
 *    udd_acc_is_direct() returned true (checked once, at attach time). They
 *    compile to exactly a volatile access to base + off: the same
 *    instructions as a raw volatile pointer, plus only the barrier the data
 *    order needs (none on x86-64: the mapping's memory type orders uncached
 *    accesses, and udd_flush() drains write-combining buffers).
 *
 * Offsets are bytes from the start of the mapped range; an access must be
 * naturally aligned and inside the range. The slow path checks this (a bad
 * access sets the handle's error, see udd_acc_check(), and reads return all
 * ones); the direct path does not.
 *
 * Errors: get/put return no status. A failed slow-path access (device or
 * server gone, bad offset) reads as all ones and marks the handle; check it
 * with udd_acc_check().
 *
 * Thread-safety: safe; each access is performed whole.
 */
#ifndef UDD_ACCESS_H
#define UDD_ACCESS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/** udd_rep_*: flags. */
#define UDD_DEV_AUTOINCR 0     /**< device address advances with each item */
#define UDD_DEV_NO_AUTOINCR 1  /**< device address stays (a FIFO register) */

/**
 * Per-handle functions of the slow path. Internal to the library; shown
 * here only because the inline functions call through it.
 */
struct udd_acc_ops {
	uint8_t (*get8)(struct udd_acc *, uint64_t);
	uint16_t (*get16)(struct udd_acc *, uint64_t);
	uint32_t (*get32)(struct udd_acc *, uint64_t);
	uint64_t (*get64)(struct udd_acc *, uint64_t);
	void (*put8)(struct udd_acc *, uint64_t, uint8_t);
	void (*put16)(struct udd_acc *, uint64_t, uint16_t);
	void (*put32)(struct udd_acc *, uint64_t, uint32_t);
	void (*put64)(struct udd_acc *, uint64_t, uint64_t);
	/* rep: width in bytes (1,2,4,8); dir 0 = get, 1 = put */
	void (*rep)(struct udd_acc *, uint64_t off, void *buf, size_t count, unsigned width,
		    unsigned flags, int dir);
};

/**
 * The public head of an access handle. The library's handle begins with
 * this; the rest is private. Do not write to it.
 */
struct udd_acc_head {
	/** Base of the mapping when the handle is direct, else NULL. */
	volatile uint8_t *direct;
	/** Slow-path functions (always set). */
	const struct udd_acc_ops *ops;
	/** Base of the mapping when the handle is mapped, default access and
	 *  byte-swapping on this host (a big-endian device on x86), else NULL. */
	volatile uint8_t *swapped;
};

/** Compiler barrier: emits no instruction, keeps the compiler from moving
 *  memory accesses across it. */
#define UDD_COMPILER_BARRIER() __asm__ __volatile__("" ::: "memory")

/** True (1) if @p acc is direct: udd_direct_* may be used on it. */
static inline int udd_acc_is_direct(const udd_acc_t *acc)
{
	return ((const struct udd_acc_head *)(const void *)acc)->direct != NULL;
}

/**
 * The address of the mapped range when the handle is direct, else NULL.
 * For drivers that want to keep a raw pointer (as SISCI programs do).
 */
static inline volatile void *udd_acc_ptr(const udd_acc_t *acc)
{
	return ((const struct udd_acc_head *)(const void *)acc)->direct;
}

/* ---- direct path: exactly one volatile access ------------------------- */

#define UDD_DIRECT_BASE(acc) (((const struct udd_acc_head *)(const void *)(acc))->direct)

static inline uint8_t udd_direct_get8(const udd_acc_t *acc, uint64_t off)
{
	return *(volatile uint8_t *)(UDD_DIRECT_BASE(acc) + off);
}
static inline uint16_t udd_direct_get16(const udd_acc_t *acc, uint64_t off)
{
	return *(volatile uint16_t *)(void *)(UDD_DIRECT_BASE(acc) + off);
}
static inline uint32_t udd_direct_get32(const udd_acc_t *acc, uint64_t off)
{
	return *(volatile uint32_t *)(void *)(UDD_DIRECT_BASE(acc) + off);
}
static inline uint64_t udd_direct_get64(const udd_acc_t *acc, uint64_t off)
{
	return *(volatile uint64_t *)(void *)(UDD_DIRECT_BASE(acc) + off);
}
static inline void udd_direct_put8(const udd_acc_t *acc, uint64_t off, uint8_t v)
{
	*(volatile uint8_t *)(UDD_DIRECT_BASE(acc) + off) = v;
}
static inline void udd_direct_put16(const udd_acc_t *acc, uint64_t off, uint16_t v)
{
	*(volatile uint16_t *)(void *)(UDD_DIRECT_BASE(acc) + off) = v;
}
static inline void udd_direct_put32(const udd_acc_t *acc, uint64_t off, uint32_t v)
{
	*(volatile uint32_t *)(void *)(UDD_DIRECT_BASE(acc) + off) = v;
}
static inline void udd_direct_put64(const udd_acc_t *acc, uint64_t off, uint64_t v)
{
	*(volatile uint64_t *)(void *)(UDD_DIRECT_BASE(acc) + off) = v;
}

/* ---- swapped path: a volatile access plus one bswap ---------------------- */

static inline uint8_t udd_bswap8(uint8_t v) { return v; }
static inline uint16_t udd_bswap16(uint16_t v) { return __builtin_bswap16(v); }
static inline uint32_t udd_bswap32(uint32_t v) { return __builtin_bswap32(v); }
static inline uint64_t udd_bswap64(uint64_t v) { return __builtin_bswap64(v); }

/** True (1) if @p acc is mapped, default access and swapping: udd_swapped_*
 *  may be used on it (a big-endian device's registers on x86). */
static inline int udd_acc_is_swapped(const udd_acc_t *acc)
{
	return ((const struct udd_acc_head *)(const void *)acc)->swapped != NULL;
}

#define UDD_SWAPPED_BASE(acc) (((const struct udd_acc_head *)(const void *)(acc))->swapped)
#define UDD_DEF_SWAPPED(bits)                                                             \
	/** Only on handles for which udd_acc_is_swapped() is true: the access   \
	 *  and one byte swap, nothing else. */                                   \
	static inline uint##bits##_t udd_swapped_get##bits(const udd_acc_t *acc, uint64_t off) \
	{                                                                                 \
		return udd_bswap##bits(                                                   \
			*(volatile uint##bits##_t *)(void *)(UDD_SWAPPED_BASE(acc) + off)); \
	}                                                                                 \
	static inline void udd_swapped_put##bits(const udd_acc_t *acc, uint64_t off,      \
						 uint##bits##_t v)                        \
	{                                                                                 \
		*(volatile uint##bits##_t *)(void *)(UDD_SWAPPED_BASE(acc) + off) =       \
			udd_bswap##bits(v);                                               \
	}
UDD_DEF_SWAPPED(16)
UDD_DEF_SWAPPED(32)
UDD_DEF_SWAPPED(64)
#undef UDD_DEF_SWAPPED

/* ---- every handle -------------------------------------------------------- */

#define UDD_DEF_ACCESS(bits)                                                              \
	static inline uint##bits##_t udd_get##bits(udd_acc_t *acc, uint64_t off)         \
	{                                                                                 \
		const struct udd_acc_head *h_ = (const struct udd_acc_head *)(void *)acc; \
		if (__builtin_expect(h_->direct != NULL, 1))                              \
			return *(volatile uint##bits##_t *)(void *)(h_->direct + off);    \
		if (h_->swapped != NULL)                                                  \
			return udd_bswap##bits(                                           \
				*(volatile uint##bits##_t *)(void *)(h_->swapped + off)); \
		return h_->ops->get##bits(acc, off);                                      \
	}                                                                                 \
	static inline void udd_put##bits(udd_acc_t *acc, uint64_t off, uint##bits##_t v)  \
	{                                                                                 \
		const struct udd_acc_head *h_ = (const struct udd_acc_head *)(void *)acc; \
		if (__builtin_expect(h_->direct != NULL, 1)) {                            \
			*(volatile uint##bits##_t *)(void *)(h_->direct + off) = v;       \
			return;                                                           \
		}                                                                         \
		if (h_->swapped != NULL) {                                                \
			*(volatile uint##bits##_t *)(void *)(h_->swapped + off) =         \
				udd_bswap##bits(v);                                       \
			return;                                                           \
		}                                                                         \
		h_->ops->put##bits(acc, off, v);                                          \
	}                                                                                 \
	/** Transfer @p count items of this width between @p buf and the device at      \
	 *  @p off; @p flags UDD_DEV_AUTOINCR or UDD_DEV_NO_AUTOINCR. Unknown flag    \
	 *  bits: nothing is transferred (a get fills @p buf with all ones) and the   \
	 *  handle is marked: udd_acc_check() returns -EINVAL. */                      \
	static inline void udd_rep_get##bits(udd_acc_t *acc, uint64_t off, uint##bits##_t *buf, \
					     size_t count, unsigned flags)                \
	{                                                                                 \
		((const struct udd_acc_head *)(void *)acc)                                \
			->ops->rep(acc, off, buf, count, bits / 8, flags, 0);             \
	}                                                                                 \
	static inline void udd_rep_put##bits(udd_acc_t *acc, uint64_t off,                \
					     const uint##bits##_t *buf, size_t count,     \
					     unsigned flags)                              \
	{                                                                                 \
		((const struct udd_acc_head *)(void *)acc)                                \
			->ops->rep(acc, off, (void *)(uintptr_t)buf, count, bits / 8, flags, 1); \
	}

UDD_DEF_ACCESS(8)
UDD_DEF_ACCESS(16)
UDD_DEF_ACCESS(32)
UDD_DEF_ACCESS(64)
#undef UDD_DEF_ACCESS

/**
 * Full barrier: every earlier access to device and memory is performed
 * before any later one (mfence on x86-64).
 */
static inline void udd_barrier(udd_acc_t *acc)
{
	(void)acc;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("mfence" ::: "memory");
#endif
}

/**
 * Flush: drain stores buffered on the way to the device (write-combining
 * buffers) so that they are visible to it (sfence on x86-64). What SISCI's
 * SCIFlush and illumos's store-caching handles need before a doorbell.
 */
static inline void udd_flush(udd_acc_t *acc)
{
	(void)acc;
#if defined(__x86_64__) || defined(__i386__)
	__asm__ __volatile__("sfence" ::: "memory");
#else
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
#endif
}

#ifdef __cplusplus
}
#endif

#endif /* UDD_ACCESS_H */
