/* SPDX-License-Identifier: MIT */
/*
 * vfio-user wire format, as specified by QEMU docs/interop/vfio-user.rst
 * (protocol version 0.1). One header for client (src/backend/vfio-user) and
 * server (src/sim); every struct's layout is pinned by _Static_assert against
 * the offsets in the specification's tables. All fields are in host byte
 * order ("In this revision, all data is in the endianness of the host").
 *
 * Region and IRQ indices, flag bits and capability ids are VFIO's
 * (<linux/vfio.h>), which the specification reuses.
 */
#ifndef UDD_VFIO_USER_PROTO_H
#define UDD_VFIO_USER_PROTO_H

#include <stddef.h>
#include <stdint.h>
#include <linux/vfio.h>

#define VFU_PROTO_MAJOR 0
#define VFU_PROTO_MINOR 1

/* Commands (spec: "Commands"). */
enum vfu_cmd {
	VFU_CMD_VERSION = 1,
	VFU_CMD_DMA_MAP = 2,
	VFU_CMD_DMA_UNMAP = 3,
	VFU_CMD_DEVICE_GET_INFO = 4,
	VFU_CMD_DEVICE_GET_REGION_INFO = 5,
	VFU_CMD_DEVICE_GET_REGION_IO_FDS = 6,
	VFU_CMD_DEVICE_GET_IRQ_INFO = 7,
	VFU_CMD_DEVICE_SET_IRQS = 8,
	VFU_CMD_REGION_READ = 9,
	VFU_CMD_REGION_WRITE = 10,
	VFU_CMD_DMA_READ = 11,
	VFU_CMD_DMA_WRITE = 12,
	VFU_CMD_DEVICE_RESET = 13,
	VFU_CMD_REGION_WRITE_MULTI = 15,
	VFU_CMD_DEVICE_FEATURE = 16,
	VFU_CMD_MAX = 18,
};

/* Header flags (spec: "Header"). */
#define VFU_F_TYPE_MASK 0xfu
#define VFU_F_TYPE_COMMAND 0x0u
#define VFU_F_TYPE_REPLY 0x1u
#define VFU_F_NO_REPLY (1u << 4)
#define VFU_F_ERROR (1u << 5)

struct vfu_hdr {
	uint16_t msg_id;
	uint16_t cmd;
	uint32_t msg_size; /* whole message, header included */
	uint32_t flags;
	uint32_t error;    /* errno in an error reply */
};
_Static_assert(sizeof(struct vfu_hdr) == 16, "vfio-user header is 16 bytes");
_Static_assert(offsetof(struct vfu_hdr, cmd) == 2, "spec: Command at 2");
_Static_assert(offsetof(struct vfu_hdr, msg_size) == 4, "spec: Message size at 4");
_Static_assert(offsetof(struct vfu_hdr, flags) == 8, "spec: Flags at 8");
_Static_assert(offsetof(struct vfu_hdr, error) == 12, "spec: Error at 12");

/* VFIO_USER_VERSION: followed by an optional NUL-terminated JSON string. */
struct vfu_version {
	uint16_t major;
	uint16_t minor;
	/* char data[]; */
};
_Static_assert(sizeof(struct vfu_version) == 4, "spec: version data at 4");

/* Defaults the spec gives for capabilities left out. */
#define VFU_DEFAULT_MAX_MSG_FDS 1
#define VFU_DEFAULT_MAX_DATA_XFER 1048576u
#define VFU_DEFAULT_MAX_DMA_MAPS 65535u

/* The udd extension capability, under "capabilities" in the VERSION JSON:
 *   "udd": { "borrow": "probe" | "shared" | "exclusive" }
 * A server that enforces borrow modes echoes it (with the mode granted) in
 * its reply, and refuses a conflicting mode with an error reply carrying
 * EBUSY. Peers that do not know it ignore it, as the spec requires of
 * unknown capabilities; the client then falls back to a lock file. */
#define VFU_UDD_CAP "udd"
#define VFU_UDD_CAP_BORROW "borrow"
/* Also in "udd": "dma_faults": true — the server sends VFU_UDD_CMD_DMA_FAULT
 * notifications (no reply) on the server-to-client channel when a device
 * DMA misses every window. Only sent to clients that offered it. */
#define VFU_UDD_CAP_DMA_FAULTS "dma_faults"
/* Only in a server's "udd" reply: "iova_range": {"start": N, "end": N}
 * (inclusive) — every DMA window of this connection must lie inside (a
 * lender gives each borrower of a shared real device its own range, since
 * they share one IOMMU domain); a window outside is refused with ERANGE. */
#define VFU_UDD_CAP_IOVA_RANGE "iova_range"
#define VFU_UDD_CMD_DMA_FAULT 0x7f01 /* outside the spec's command space */
struct vfu_udd_dma_fault {
	uint64_t iova;
	uint64_t len;
	uint32_t write; /* 1: the device tried to write */
	uint32_t pad;
};
_Static_assert(sizeof(struct vfu_udd_dma_fault) == 24, "dma fault notice");

/* Also in "udd": "irq_msgs": true — for a transport without descriptors
 * (TCP): the client asks for interrupts as VFU_UDD_CMD_IRQ messages (no
 * reply) instead of eventfds; a peer that echoes it sends them. Only used
 * when both sides announce it. A SET_IRQS with DATA_EVENTFD then carries,
 * after struct vfu_irq_set, one byte per vector (1: deliver by message)
 * and argsz covers them; without those bytes it de-assigns, as usual. */
#define VFU_UDD_CAP_IRQ_MSGS "irq_msgs"
#define VFU_UDD_CMD_IRQ 0x7f02
struct vfu_udd_irq {
	uint32_t index;  /* VFIO_PCI_*_IRQ_INDEX */
	uint32_t vector;
	uint32_t count;  /* interrupts since the last message (>= 1); a receiver
			  * takes an 8-byte notice, without it, as 1 */
};
_Static_assert(sizeof(struct vfu_udd_irq) == 12, "irq notice");

/* Also in "udd": "dma_sync": true — explicit DMA coherence for windows the
 * client registered without a descriptor (TCP). A server that echoes it
 * may back such a window with memory of its own (a lender: the real device
 * cannot reach the client's memory, so it DMAs into the server's copy) and
 * then keeps the copy and the client's memory coherent only when told, by
 * VFU_UDD_CMD_DMA_SYNC (client to server, ddi_dma_sync's model):
 *   FOR_DEVICE: request = struct vfu_udd_dma_sync + len bytes (the client's
 *               memory at iova), which the server stores into its copy;
 *               reply = the struct with len 0.
 *   FOR_CPU:    request = the struct; reply = the struct + len bytes (the
 *               server's copy), or the struct with len 0 when the server
 *               holds no copy (the client's memory is the window's).
 * [iova, iova+len) lies in one window; 0 < len <= the receiver's
 * max_data_xfer_size (the client chunks). A window without a copy of the
 * server's needs nothing: the server answers at once. Only used when both
 * sides announce it; a lender refuses descriptor-less windows without it. */
#define VFU_UDD_CAP_DMA_SYNC "dma_sync"
#define VFU_UDD_CMD_DMA_SYNC 0x7f03
#define VFU_UDD_SYNC_FOR_DEVICE 1u
#define VFU_UDD_SYNC_FOR_CPU 2u
struct vfu_udd_dma_sync {
	uint64_t iova;
	uint64_t len; /* request: the range; reply: bytes following (0 or the range) */
	uint32_t dir; /* VFU_UDD_SYNC_FOR_* */
	uint32_t pad;
};
_Static_assert(sizeof(struct vfu_udd_dma_sync) == 24, "dma sync");

/* VFIO_USER_DMA_MAP (spec: 32 bytes). */
struct vfu_dma_map {
	uint32_t argsz;
	uint32_t flags; /* bit 0 readable, bit 1 writeable */
	uint64_t offset;
	uint64_t addr;
	uint64_t size;
};
#define VFU_DMA_F_READ (1u << 0)
#define VFU_DMA_F_WRITE (1u << 1)
_Static_assert(sizeof(struct vfu_dma_map) == 32, "spec: DMA_MAP is 32 bytes");
_Static_assert(offsetof(struct vfu_dma_map, offset) == 8, "spec");
_Static_assert(offsetof(struct vfu_dma_map, addr) == 16, "spec");
_Static_assert(offsetof(struct vfu_dma_map, size) == 24, "spec");

/* VFIO_USER_DMA_UNMAP; the reply echoes the request. */
struct vfu_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t addr;
	uint64_t size;
};
_Static_assert(sizeof(struct vfu_dma_unmap) == 24, "spec: DMA_UNMAP");
_Static_assert(offsetof(struct vfu_dma_unmap, addr) == 8, "spec");

/* VFIO_USER_DEVICE_GET_INFO. */
struct vfu_device_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_DEVICE_FLAGS_RESET, VFIO_DEVICE_FLAGS_PCI */
	uint32_t num_regions;
	uint32_t num_irqs;
};
_Static_assert(sizeof(struct vfu_device_info) == 16, "spec: 16 bytes");

/* VFIO_USER_DEVICE_GET_REGION_INFO; capabilities follow at cap_offset
 * (relative to the start of this struct). */
struct vfu_region_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_REGION_INFO_FLAG_READ/WRITE/MMAP/CAPS */
	uint32_t index;
	uint32_t cap_offset;
	uint64_t size;
	uint64_t offset;
};
_Static_assert(sizeof(struct vfu_region_info) == 32, "spec: region info");
_Static_assert(offsetof(struct vfu_region_info, size) == 16, "spec");
_Static_assert(offsetof(struct vfu_region_info, offset) == 24, "spec");

struct vfu_cap_hdr {
	uint16_t id;      /* VFIO_REGION_INFO_CAP_SPARSE_MMAP = 1 */
	uint16_t version; /* 1 */
	uint32_t next;    /* offset from the region info start; 0 = last */
};
_Static_assert(sizeof(struct vfu_cap_hdr) == 8, "spec: cap header");

struct vfu_sparse_area {
	uint64_t offset;
	uint64_t size;
};
struct vfu_cap_sparse_mmap {
	struct vfu_cap_hdr hdr;
	uint32_t nr_areas;
	uint32_t reserved;
	/* struct vfu_sparse_area areas[nr_areas]; */
};
_Static_assert(sizeof(struct vfu_sparse_area) == 16, "spec: area");
_Static_assert(sizeof(struct vfu_cap_sparse_mmap) == 16, "spec: areas at 8 after hdr");

/* VFIO_USER_DEVICE_GET_IRQ_INFO. */
struct vfu_irq_info {
	uint32_t argsz;
	uint32_t flags; /* VFIO_IRQ_INFO_EVENTFD/MASKABLE/AUTOMASKED/NORESIZE */
	uint32_t index;
	uint32_t count;
};
_Static_assert(sizeof(struct vfu_irq_info) == 16, "spec: irq info");

/* VFIO_USER_DEVICE_SET_IRQS; eventfds travel as SCM_RIGHTS, a bool array
 * follows with VFIO_IRQ_SET_DATA_BOOL. */
struct vfu_irq_set {
	uint32_t argsz;
	uint32_t flags;
	uint32_t index;
	uint32_t start;
	uint32_t count;
};
_Static_assert(sizeof(struct vfu_irq_set) == 20, "spec: data at 20");

/* VFIO_USER_REGION_READ / WRITE; data follows (write request, read reply). */
struct vfu_region_access {
	uint64_t offset;
	uint32_t region;
	uint32_t count;
};
_Static_assert(sizeof(struct vfu_region_access) == 16, "spec: data at 16");

/* VFIO_USER_DMA_READ / WRITE (server to client); data follows. The spec's
 * DMA_WRITE reply table shows count as 4 bytes; implementations send the
 * same 16-byte struct as the request: we send 16 and accept >= 12. */
struct vfu_dma_access {
	uint64_t addr;
	uint64_t count;
};
_Static_assert(sizeof(struct vfu_dma_access) == 16, "spec: data at 16");

/* Largest message either side of udd accepts: header + access + max data. */
#define VFU_MAX_MSG_SIZE (sizeof(struct vfu_hdr) + 4096 + VFU_DEFAULT_MAX_DATA_XFER)
/* Most fds udd sends or accepts in one message. */
#define VFU_MAX_FDS 64

#endif /* UDD_VFIO_USER_PROTO_H */
