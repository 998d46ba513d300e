/* SPDX-License-Identifier: MIT */
/*
 * sisci_types.h — SISCI handle types, enums, callbacks and query structures
 * (udd's source-compatible SISCI layer; see docs/sisci.md for every choice
 * made where Dolphin's definitions are not public).
 */
#ifndef _SISCI_TYPES_H
#define _SISCI_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "dis/dis_types.h"
#include "sisci_error.h"

#if defined(__cplusplus)
extern "C" {
#endif

/* Opaque handles: pointers to library objects. */
typedef struct sci_desc *sci_desc_t;
typedef struct sci_local_segment *sci_local_segment_t;
typedef struct sci_remote_segment *sci_remote_segment_t;
typedef struct sci_map *sci_map_t;
typedef struct sci_sequence *sci_sequence_t;
typedef struct sci_dma_queue *sci_dma_queue_t;
typedef struct sci_local_interrupt *sci_local_interrupt_t;
typedef struct sci_remote_interrupt *sci_remote_interrupt_t;
typedef struct sci_local_data_interrupt *sci_local_data_interrupt_t;
typedef struct sci_remote_data_interrupt *sci_remote_data_interrupt_t;
typedef struct sci_smartio_device *sci_smartio_device_t;
/** Older name of a SmartIO device handle. */
typedef sci_smartio_device_t sci_device_t;

/** A bus address as seen by a device (IOVA). */
typedef unsigned long long sci_ioaddr_t;

/** Wait forever (timeouts are in milliseconds). */
#ifndef SCI_INFINITE_TIMEOUT
#define SCI_INFINITE_TIMEOUT 0xffffffffu
#endif

typedef enum {
	SCI_CALLBACK_CANCEL = 1,
	SCI_CALLBACK_CONTINUE
} sci_callback_action_t;

typedef enum {
	SCI_CB_CONNECT = 1,
	SCI_CB_DISCONNECT,
	SCI_CB_NOT_OPERATIONAL,
	SCI_CB_OPERATIONAL,
	SCI_CB_LOST
} sci_segment_cb_reason_t;

typedef enum {
	SCI_DMAQUEUE_IDLE,
	SCI_DMAQUEUE_GATHER,
	SCI_DMAQUEUE_POSTED,
	SCI_DMAQUEUE_DONE,
	SCI_DMAQUEUE_ABORTED,
	SCI_DMAQUEUE_ERROR
} sci_dma_queue_state_t;

typedef enum {
	SCI_SEQ_OK,
	SCI_SEQ_RETRIABLE,
	SCI_SEQ_NOT_RETRIABLE,
	SCI_SEQ_PENDING
} sci_sequence_status_t;

typedef enum {
	SCI_IRQ_TYPE_INTX = 0,
	SCI_IRQ_TYPE_MSI,
	SCI_IRQ_TYPE_MSIX
} sci_irq_type_t;

/* Callbacks. */
typedef sci_callback_action_t (*sci_cb_local_segment_t)(void *arg, sci_local_segment_t segment,
							 sci_segment_cb_reason_t reason,
							 unsigned int nodeId,
							 unsigned int localAdapterNo,
							 sci_error_t error);
typedef sci_callback_action_t (*sci_cb_remote_segment_t)(void *arg, sci_remote_segment_t segment,
							  sci_segment_cb_reason_t reason,
							  sci_error_t status);
typedef sci_callback_action_t (*sci_cb_dma_t)(void *arg, sci_dma_queue_t queue, sci_error_t status);
typedef sci_callback_action_t (*sci_cb_interrupt_t)(void *arg, sci_local_interrupt_t interrupt,
						     sci_error_t status);
typedef sci_callback_action_t (*sci_cb_data_interrupt_t)(void *arg,
							  sci_local_data_interrupt_t interrupt,
							  void *data, unsigned int length,
							  sci_error_t status);
typedef sci_callback_action_t (*sci_cb_device_segment_t)(void *arg, sci_remote_segment_t segment,
							  sci_segment_cb_reason_t reason,
							  sci_error_t status);

/* ---- SCIQuery ----------------------------------------------------------- */

/** SCI_Q_VENDORID / SCI_Q_API: a string into the caller's buffer. */
typedef struct {
	char *str;
	unsigned int length;
} sci_query_string_t;

/** SCI_Q_ADAPTER. */
typedef struct {
	unsigned int subcommand;
	unsigned int localAdapterNo;
	unsigned int portNo;
	void *data;
} sci_query_adapter_t;

/** SCI_Q_SYSTEM. */
typedef struct {
	unsigned int subcommand;
	void *data;
} sci_query_system_t;

/** SCI_Q_DMA. */
typedef struct {
	unsigned int subcommand;
	unsigned int localAdapterNo;
	void *data;
} sci_query_dma_t;

/** SCI_Q_DMA_CAPABILITIES result. */
typedef struct {
	unsigned int num_channels;
	unsigned int max_transfer_size;
	unsigned int max_vector_length;
	unsigned int support_mem2io;
	unsigned int support_io2mem;
	unsigned int support_io2io;
	unsigned int min_align_bytes;
	unsigned int suggested_align_bytes;
} sci_dma_capabilities_t;

/** SCI_Q_LOCAL_SEGMENT. */
typedef struct {
	unsigned int subcommand;
	sci_local_segment_t segment;
	union {
		sci_ioaddr_t ioaddr;
	} data;
} sci_query_local_segment_t;

/** SCI_Q_REMOTE_SEGMENT. */
typedef struct {
	unsigned int subcommand;
	sci_remote_segment_t segment;
	union {
		sci_ioaddr_t ioaddr;
	} data;
} sci_query_remote_segment_t;

/** SCI_Q_MAP. */
typedef struct {
	unsigned int subcommand;
	sci_map_t map;
	unsigned int data;
} sci_query_map_t;

/** Length of sci_smartio_device_info_t.user_name. */
#define SCI_SMARTIO_USER_NAME_LEN 64

/**
 * What SmartIO knows about a device (SCIQuery SCI_Q_DEVICE_INFO), and the
 * filter of SCIGetDeviceList (zero fields are wildcards; only the PCI id
 * fields and pci_class take part in filtering).
 */
typedef struct {
	unsigned int fdid;
	unsigned int adapter;      /**< local adapter that reaches it (always 0) */
	unsigned int nodeid;       /**< node that owns it (this node) */
	unsigned int pci_vendor_id;
	unsigned int pci_device_id;
	unsigned int pci_subsystem_vendor_id;
	unsigned int pci_subsystem_id;
	unsigned int pci_class;    /**< base << 16 | sub << 8 | prog-if */
	unsigned int pci_revision;
	unsigned int bdf;          /**< 0: not a local PCI function */
	unsigned int num_bars;     /**< implemented BARs */
	unsigned long long bar_size[6];
	char user_name[SCI_SMARTIO_USER_NAME_LEN];
} sci_smartio_device_info_t;

/** SCI_Q_DEVICE. */
typedef struct {
	unsigned int subcommand; /**< SCI_Q_DEVICE_INFO */
	unsigned int fdid;
	void *data;              /**< sci_smartio_device_info_t * */
} sci_smartio_query_device_t;

#if defined(__cplusplus)
}
#endif

#endif /* _SISCI_TYPES_H */
