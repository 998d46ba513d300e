/* SPDX-License-Identifier: MIT */
/*
 * sisci_api.h — the SISCI API, as implemented by udd's libsisci.
 *
 * A program written for Dolphin's SISCI (including SmartIO) builds
 * unchanged with -I<prefix>/include/sisci -I<prefix>/include/sisci/dis and
 * links with -lsisci. Every function reports its status through the last
 * argument (sci_error_t *error), which is always written (SCI_ERR_OK on
 * success). Semantics, limits and every choice made where Dolphin's
 * behaviour is not public are in docs/sisci.md.
 *
 * Besides the names below the library exports each function also as
 * _SISCI_PUBLIC_FUNC_ST_<name> and _SISCI_PUBLIC_FUNC_MT_<name>.
 */
#ifndef _SISCI_API_H
#define _SISCI_API_H

#include <stddef.h>

#include "sisci_types.h"
#include "sisci_error.h"
#include "sisci_flags.h"

#if defined(__GNUC__)
#define SISCI_API __attribute__((visibility("default")))
#else
#define SISCI_API
#endif

#ifndef DLL
#define DLL
#endif

#if defined(__cplusplus)
extern "C" {
#endif

/* ---- library, descriptors, queries -------------------------------------- */
SISCI_API void SCIInitialize(unsigned int flags, sci_error_t *error);
SISCI_API void SCITerminate(void);
SISCI_API void SCIOpen(sci_desc_t *sd, unsigned int flags, sci_error_t *error);
SISCI_API void SCIClose(sci_desc_t sd, unsigned int flags, sci_error_t *error);
SISCI_API const char *SCIGetErrorString(sci_error_t error);
SISCI_API void SCIGetLocalNodeId(unsigned int adapterNo, unsigned int *nodeId, unsigned int flags,
				 sci_error_t *error);
SISCI_API void SCIGetNodeIdByAdapterName(char *adaptername, unsigned int *nodeId, unsigned int flags,
					 sci_error_t *error);
SISCI_API int SCIProbeNode(sci_desc_t sd, unsigned int localAdapterNo, unsigned int nodeId,
			   unsigned int flags, sci_error_t *error);
SISCI_API void SCIQuery(unsigned int command, void *data, unsigned int flags, sci_error_t *error);

/* ---- local segments ----------------------------------------------------- */
SISCI_API void SCICreateSegment(sci_desc_t sd, sci_local_segment_t *segment, unsigned int segmentId,
				size_t size, sci_cb_local_segment_t callback, void *callbackArg,
				unsigned int flags, sci_error_t *error);
SISCI_API void SCIRemoveSegment(sci_local_segment_t segment, unsigned int flags, sci_error_t *error);
SISCI_API void SCIPrepareSegment(sci_local_segment_t segment, unsigned int localAdapterNo,
				 unsigned int flags, sci_error_t *error);
SISCI_API void SCISetSegmentAvailable(sci_local_segment_t segment, unsigned int localAdapterNo,
				      unsigned int flags, sci_error_t *error);
SISCI_API void SCISetSegmentUnavailable(sci_local_segment_t segment, unsigned int localAdapterNo,
					unsigned int flags, sci_error_t *error);
SISCI_API void SCIRegisterSegmentMemory(void *address, size_t size, sci_local_segment_t segment,
					unsigned int flags, sci_error_t *error);
SISCI_API size_t SCIGetLocalSegmentSize(sci_local_segment_t segment);
SISCI_API unsigned int SCIGetLocalSegmentId(sci_local_segment_t segment);
SISCI_API void *SCIMapLocalSegment(sci_local_segment_t segment, sci_map_t *map, size_t offset,
				   size_t size, void *addr, unsigned int flags, sci_error_t *error);

/* ---- remote segments ---------------------------------------------------- */
SISCI_API void SCIConnectSegment(sci_desc_t sd, sci_remote_segment_t *segment, unsigned int nodeId,
				 unsigned int segmentId, unsigned int localAdapterNo,
				 sci_cb_remote_segment_t callback, void *callbackArg,
				 unsigned int timeout, unsigned int flags, sci_error_t *error);
SISCI_API void SCIDisconnectSegment(sci_remote_segment_t segment, unsigned int flags,
				    sci_error_t *error);
SISCI_API size_t SCIGetRemoteSegmentSize(sci_remote_segment_t segment);
SISCI_API unsigned int SCIGetRemoteSegmentId(sci_remote_segment_t segment);
SISCI_API unsigned int SCIGetRemoteSegmentNodeId(sci_remote_segment_t segment);
SISCI_API volatile void *SCIMapRemoteSegment(sci_remote_segment_t segment, sci_map_t *map,
					     size_t offset, size_t size, void *addr,
					     unsigned int flags, sci_error_t *error);
SISCI_API void SCIUnmapSegment(sci_map_t map, unsigned int flags, sci_error_t *error);
SISCI_API void *SCIGetMapPointer(sci_map_t map);
SISCI_API size_t SCIGetMapSize(sci_map_t map);

/* ---- ordering, copies, sequences ---------------------------------------- */
SISCI_API void SCIFlush(sci_sequence_t sequence, unsigned int flags);
SISCI_API void SCIStoreBarrier(sci_sequence_t sequence, unsigned int flags);
SISCI_API void SCICacheSync(sci_map_t map, void *addr, size_t length, unsigned int flags,
			    sci_error_t *error);
SISCI_API void SCIMemCpy(sci_sequence_t sequence, void *memAddr, sci_map_t remoteMap,
			 size_t remoteOffset, size_t size, unsigned int flags, sci_error_t *error);
SISCI_API void SCIMemWrite(void *memAddr, volatile void *remoteAddr, size_t size,
			   unsigned int flags, sci_error_t *error);
SISCI_API void SCICreateMapSequence(sci_map_t map, sci_sequence_t *sequence, unsigned int flags,
				    sci_error_t *error);
SISCI_API void SCIRemoveSequence(sci_sequence_t sequence, unsigned int flags, sci_error_t *error);
SISCI_API sci_sequence_status_t SCIStartSequence(sci_sequence_t sequence, unsigned int flags,
						 sci_error_t *error);
SISCI_API sci_sequence_status_t SCICheckSequence(sci_sequence_t sequence, unsigned int flags,
						 sci_error_t *error);

/* ---- DMA queues (a CPU copy engine) ------------------------------------- */
SISCI_API void SCICreateDMAQueue(sci_desc_t sd, sci_dma_queue_t *dq, unsigned int localAdapterNo,
				 unsigned int maxEntries, unsigned int flags, sci_error_t *error);
SISCI_API void SCIRemoveDMAQueue(sci_dma_queue_t dq, unsigned int flags, sci_error_t *error);
SISCI_API void SCIStartDmaTransfer(sci_dma_queue_t dq, sci_local_segment_t localSegment,
				   sci_remote_segment_t remoteSegment, size_t localOffset,
				   size_t size, size_t remoteOffset, sci_cb_dma_t callback,
				   void *callbackArg, unsigned int flags, sci_error_t *error);
SISCI_API void SCIStartDmaTransferVec(sci_dma_queue_t dq, sci_local_segment_t localSegment,
				      sci_remote_segment_t remoteSegment, size_t vecLength,
				      dis_dma_vec_t *disDmaVec, sci_cb_dma_t callback,
				      void *callbackArg, unsigned int flags, sci_error_t *error);
SISCI_API sci_dma_queue_state_t SCIWaitForDMAQueue(sci_dma_queue_t dq, unsigned int timeout,
						   unsigned int flags, sci_error_t *error);
SISCI_API sci_dma_queue_state_t SCIDMAQueueState(sci_dma_queue_t dq);
SISCI_API void SCIAbortDMAQueue(sci_dma_queue_t dq, unsigned int flags, sci_error_t *error);

/* ---- interrupts --------------------------------------------------------- */
SISCI_API void SCICreateInterrupt(sci_desc_t sd, sci_local_interrupt_t *interrupt,
				  unsigned int localAdapterNo, unsigned int *interruptNo,
				  sci_cb_interrupt_t callback, void *callbackArg,
				  unsigned int flags, sci_error_t *error);
SISCI_API void SCIRemoveInterrupt(sci_local_interrupt_t interrupt, unsigned int flags,
				  sci_error_t *error);
SISCI_API void SCIWaitForInterrupt(sci_local_interrupt_t interrupt, unsigned int timeout,
				   unsigned int flags, sci_error_t *error);
SISCI_API void SCIConnectInterrupt(sci_desc_t sd, sci_remote_interrupt_t *interrupt,
				   unsigned int nodeId, unsigned int localAdapterNo,
				   unsigned int interruptNo, unsigned int timeout,
				   unsigned int flags, sci_error_t *error);
SISCI_API void SCIDisconnectInterrupt(sci_remote_interrupt_t interrupt, unsigned int flags,
				      sci_error_t *error);
SISCI_API void SCITriggerInterrupt(sci_remote_interrupt_t interrupt, unsigned int flags,
				   sci_error_t *error);
SISCI_API void SCICreateDataInterrupt(sci_desc_t sd, sci_local_data_interrupt_t *interrupt,
				      unsigned int localAdapterNo, unsigned int *interruptNo,
				      sci_cb_data_interrupt_t callback, void *callbackArg,
				      unsigned int flags, sci_error_t *error);
SISCI_API void SCIRemoveDataInterrupt(sci_local_data_interrupt_t interrupt, unsigned int flags,
				      sci_error_t *error);
SISCI_API void SCIWaitForDataInterrupt(sci_local_data_interrupt_t interrupt, void *data,
				       unsigned int *length, unsigned int timeout,
				       unsigned int flags, sci_error_t *error);
SISCI_API void SCIConnectDataInterrupt(sci_desc_t sd, sci_remote_data_interrupt_t *interrupt,
				       unsigned int nodeId, unsigned int localAdapterNo,
				       unsigned int interruptNo, unsigned int timeout,
				       unsigned int flags, sci_error_t *error);
SISCI_API void SCIDisconnectDataInterrupt(sci_remote_data_interrupt_t interrupt,
					  unsigned int flags, sci_error_t *error);
SISCI_API void SCITriggerDataInterrupt(sci_remote_data_interrupt_t interrupt, void *data,
				       unsigned int length, unsigned int flags,
				       sci_error_t *error);

/* ---- SmartIO ------------------------------------------------------------ */
SISCI_API int SCIGetDeviceList(sci_desc_t sd, unsigned int *fdids, unsigned int length,
			       const sci_smartio_device_info_t *filter, unsigned int flags,
			       sci_error_t *error);
SISCI_API void SCIBorrowDevice(sci_desc_t sd, sci_smartio_device_t *device, unsigned int fdid,
			       unsigned int flags, sci_error_t *error);
SISCI_API void SCIReturnDevice(sci_smartio_device_t device, unsigned int flags, sci_error_t *error);
SISCI_API unsigned int SCIGetFabricDeviceId(sci_smartio_device_t device);
SISCI_API void SCIConnectDeviceSegment(sci_smartio_device_t device, sci_remote_segment_t *segment,
				       unsigned int segmentId, unsigned int memoryType,
				       sci_cb_device_segment_t callback, void *callbackArg,
				       unsigned int flags, sci_error_t *error);
SISCI_API void SCICreateDeviceSegment(sci_smartio_device_t device, unsigned int segmentId,
				      size_t size, unsigned int memoryType,
				      unsigned int accessHints, unsigned int flags,
				      sci_error_t *error);
SISCI_API void SCIMapLocalSegmentForDevice(sci_local_segment_t segment,
					   unsigned int localAdapterNo,
					   sci_smartio_device_t device, sci_ioaddr_t *remoteAddr,
					   size_t offset, size_t size, unsigned int flags,
					   sci_error_t *error);
SISCI_API void SCIUnmapLocalSegmentForDevice(sci_local_segment_t segment,
					     unsigned int localAdapterNo,
					     sci_smartio_device_t device, unsigned int flags,
					     sci_error_t *error);
SISCI_API void SCIMapRemoteSegmentForDevice(sci_remote_segment_t segment,
					    sci_smartio_device_t device, sci_ioaddr_t *remoteAddr,
					    size_t offset, size_t size, unsigned int flags,
					    sci_error_t *error);
SISCI_API void SCIUnmapRemoteSegmentForDevice(sci_remote_segment_t segment,
					      sci_smartio_device_t device, unsigned int flags,
					      sci_error_t *error);
SISCI_API void SCIRegisterPCIeRequester(sci_desc_t sd, unsigned int localAdapterNo,
					unsigned int bus, unsigned int devfn, unsigned int flags,
					sci_error_t *error);
SISCI_API void SCIUnregisterPCIeRequester(sci_desc_t sd, unsigned int localAdapterNo,
					  unsigned int bus, unsigned int devfn,
					  unsigned int flags, sci_error_t *error);

#if defined(__cplusplus)
}
#endif

#endif /* _SISCI_API_H */
