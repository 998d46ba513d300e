/* SPDX-License-Identifier: MIT */
/* dis_types.h — basic types shared by the SISCI headers (udd's SISCI layer). */
#ifndef _DIS_TYPES_H_
#define _DIS_TYPES_H_

#include <stddef.h>
#include <stdint.h>

typedef uint8_t unsigned8;
typedef uint16_t unsigned16;
typedef uint32_t unsigned32;
typedef uint64_t unsigned64;
typedef int8_t signed8;
typedef int16_t signed16;
typedef int32_t signed32;
typedef int64_t signed64;

/** One element of a vectored DMA transfer (SCIStartDmaTransferVec). */
typedef struct {
	size_t size;          /**< bytes */
	size_t local_offset;  /**< offset into the local segment */
	size_t remote_offset; /**< offset into the remote segment */
	unsigned int flags;   /**< per-element SCI_FLAG_DMA_* (ignored) */
} dis_dma_vec_t;

/** How many adapters a node can have: the bound of arrays indexed by adapter
 * number (adapter numbers run from 0 to DIS_MAX_NSCIS - 1). udd's SISCI layer
 * has exactly one adapter, number 0. */
#define DIS_MAX_NSCIS 4

/** Node id meaning "every node" in broadcast/multicast calls. */
#define DIS_BROADCAST_NODEID_GROUP_ALL 252

#endif
