/* SPDX-License-Identifier: MIT */
/*
 * udd's SISCI layer: library state, descriptors, error strings, node ids,
 * SCIQuery.
 *
 * One udd context serves the whole process; it is opened on first need
 * (listing or borrowing a device, importing segment memory for a device),
 * so programs that only use segments and interrupts never start udd-sim.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "sisci_int.h"

struct sisci_global sci_g = { .lock = PTHREAD_MUTEX_INITIALIZER, .node_id = 4 };

size_t sci_page(void)
{
	static size_t page;
	if (!page) {
		long p = sysconf(_SC_PAGESIZE);
		page = p > 0 ? (size_t)p : 4096;
	}
	return page;
}

size_t sci_round_page(size_t n)
{
	size_t p = sci_page();
	return (n + p - 1) / p * p;
}

sci_error_t sci_from_errno(int e)
{
	if (e < 0)
		e = -e;
	switch (e) {
	case 0:
		return SCI_ERR_OK;
	case ENOMEM:
		return SCI_ERR_API_NOSPC;
	case ENOSPC:
		return SCI_ERR_NOSPC;
	case EBUSY:
		return SCI_ERR_NOT_AVAILABLE;
	case ENOENT:
		return SCI_ERR_NO_SUCH_FDID;
	case ENODEV:
	case ECONNREFUSED:
	case ECONNRESET:
	case EPIPE:
		return SCI_ERR_CONNECTION_REFUSED;
	case ENXIO:
	case ERANGE:
	case E2BIG:
		return SCI_ERR_OUT_OF_RANGE;
	case EINVAL:
		return SCI_ERR_ILLEGAL_PARAMETER;
	case ENOTSUP:
		return SCI_ERR_NOT_SUPPORTED;
	case ETIMEDOUT:
		return SCI_ERR_TIMEOUT;
	case EEXIST:
		return SCI_ERR_SEGMENTID_USED;
	case EACCES:
	case EPERM:
		return SCI_ERR_ACCESS;
	default:
		return SCI_ERR_SYSTEM;
	}
}

/* mkdir -p */
static int mkdirs(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);
	if (n == 0 || n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	for (char *p = tmp + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
				return -errno;
			*p = '/';
		}
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The registry of segments/interrupts of this "node": the runtime directory
 * of udd plus /sisci. Lock held. */
int sci_regdir_ok(void)
{
	if (sci_g.regdir[0])
		return 0;
	const char *rd = getenv("UDD_RUNTIME_DIR");
	const char *xdg = getenv("XDG_RUNTIME_DIR");
	int n;
	if (rd && rd[0])
		n = snprintf(sci_g.regdir, sizeof(sci_g.regdir), "%s/sisci", rd);
	else if (xdg && xdg[0])
		n = snprintf(sci_g.regdir, sizeof(sci_g.regdir), "%s/udd/sisci", xdg);
	else
		n = snprintf(sci_g.regdir, sizeof(sci_g.regdir), "/tmp/udd-%u/sisci",
			     (unsigned)getuid());
	if (n < 0 || (size_t)n >= sizeof(sci_g.regdir)) {
		sci_g.regdir[0] = '\0';
		return -ENAMETOOLONG;
	}
	int rc = mkdirs(sci_g.regdir);
	if (rc < 0)
		sci_g.regdir[0] = '\0';
	return rc;
}

/* Lock held. */
sci_error_t sci_need_ctx(void)
{
	if (sci_g.ctx)
		return SCI_ERR_OK;
	int rc = udd_ctx_open(&sci_g.ctx, NULL);
	if (rc < 0) {
		sci_g.ctx = NULL;
		return rc == -ENOENT ? SCI_ERR_NOT_INITIALIZED : sci_from_errno(rc);
	}
	return SCI_ERR_OK;
}

/* The path of udd's cluster file, as docs/cluster.md gives it:
 * $UDD_CLUSTER_CONFIG, else $XDG_CONFIG_HOME/udd/cluster, else
 * ~/.config/udd/cluster if it exists, else /etc/udd/cluster. */
static int cluster_path(char *buf, size_t cap)
{
	const char *e = getenv("UDD_CLUSTER_CONFIG");
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	int n = -1;
	if (e && e[0])
		n = snprintf(buf, cap, "%s", e);
	else if (xdg && xdg[0])
		n = snprintf(buf, cap, "%s/udd/cluster", xdg);
	else if (home && home[0]) {
		n = snprintf(buf, cap, "%s/.config/udd/cluster", home);
		if (n >= 0 && (size_t)n < cap && access(buf, F_OK) != 0)
			n = -1;
	}
	if (n < 0)
		n = snprintf(buf, cap, "/etc/udd/cluster");
	return (n < 0 || (size_t)n >= cap) ? -ENAMETOOLONG : 0;
}

/* This host's node id in udd's cluster (the `node N` line of the cluster
 * file, 1..1023; the core puts it in the upper bits of local fdids), or 0
 * when none is configured or $UDD_NO_CLUSTER=1. libudd has no public
 * accessor for it, so the documented file is read here. */
static unsigned cluster_node(void)
{
	const char *no = getenv("UDD_NO_CLUSTER");
	if (no && strcmp(no, "1") == 0)
		return 0;
	char path[PATH_MAX];
	if (cluster_path(path, sizeof(path)) < 0)
		return 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return 0;
	unsigned node = 0;
	char line[600];
	for (int lines = 0; lines < 4096 && fgets(line, sizeof(line), f); lines++) {
		char *p = line + strspn(line, " \t");
		if (strncmp(p, "node", 4) != 0 || (p[4] != ' ' && p[4] != '\t'))
			continue;
		p += 4 + strspn(p + 4, " \t");
		p[strcspn(p, " \t\r\n")] = '\0';
		char *end;
		unsigned long v = strtoul(p, &end, 0);
		if (*p && !*end && v > 0 && v < 1024)
			node = (unsigned)v;
	}
	fclose(f);
	return node;
}

void SCIInitialize(unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	if (sci_g.init_count++ == 0) {
		/* The cluster's node id names this host everywhere (fdids,
		 * udd list); $SISCI_NODE_ID and 4 only for a host without one. */
		unsigned node = cluster_node();
		const char *nid = getenv("SISCI_NODE_ID");
		sci_g.node_id = 4;
		if (node)
			sci_g.node_id = node;
		else if (nid && nid[0]) {
			char *end;
			unsigned long v = strtoul(nid, &end, 0);
			if (*end == '\0' && v > 0 && v < 0x10000)
				sci_g.node_id = (unsigned int)v;
		}
	}
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, SCI_ERR_OK);
}

void SCITerminate(void)
{
	pthread_mutex_lock(&sci_g.lock);
	if (sci_g.init_count > 0)
		sci_g.init_count--;
	if (sci_g.init_count == 0 && sci_g.ndesc == 0 && sci_g.ctx) {
		udd_ctx_close(sci_g.ctx);
		sci_g.ctx = NULL;
	}
	pthread_mutex_unlock(&sci_g.lock);
}

void SCIOpen(sci_desc_t *sd, unsigned int flags, sci_error_t *error)
{
	if (!sd) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (flags) {
		SET_ERR(error, SCI_ERR_ILLEGAL_FLAG);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	if (sci_g.init_count == 0) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_NOT_INITIALIZED);
		return;
	}
	struct sci_desc *d = calloc(1, sizeof(*d));
	if (!d) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_API_NOSPC);
		return;
	}
	d->magic = M_DESC;
	sci_g.ndesc++;
	pthread_mutex_unlock(&sci_g.lock);
	*sd = d;
	SET_ERR(error, SCI_ERR_OK);
}

void SCIClose(sci_desc_t sd, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	pthread_mutex_lock(&sci_g.lock);
	if (!sd || sd->magic != M_DESC) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (sd->nres > 0) {
		pthread_mutex_unlock(&sci_g.lock);
		SET_ERR(error, SCI_ERR_BUSY);
		return;
	}
	sd->magic = 0;
	free(sd);
	sci_g.ndesc--;
	if (sci_g.init_count == 0 && sci_g.ndesc == 0 && sci_g.ctx) {
		udd_ctx_close(sci_g.ctx);
		sci_g.ctx = NULL;
	}
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, SCI_ERR_OK);
}

const char *SCIGetErrorString(sci_error_t error)
{
	switch (error) {
	case SCI_ERR_OK: return "OK";
	case SCI_ERR_BUSY: return "Resource busy";
	case SCI_ERR_FLAG_NOT_IMPLEMENTED: return "Flag option is not implemented";
	case SCI_ERR_ILLEGAL_FLAG: return "Illegal flag option";
	case SCI_ERR_NOSPC: return "Out of local resources";
	case SCI_ERR_API_NOSPC: return "Out of local API resources";
	case SCI_ERR_HW_NOSPC: return "Out of hardware resources";
	case SCI_ERR_NOT_IMPLEMENTED: return "Not implemented";
	case SCI_ERR_ILLEGAL_ADAPTERNO: return "Illegal adapter number";
	case SCI_ERR_NO_SUCH_ADAPTERNO: return "Adapter not found";
	case SCI_ERR_TIMEOUT: return "Operation timed out";
	case SCI_ERR_OUT_OF_RANGE: return "Out of range";
	case SCI_ERR_NO_SUCH_SEGMENT: return "No such segment or interrupt number";
	case SCI_ERR_ILLEGAL_NODEID: return "Illegal node id";
	case SCI_ERR_CONNECTION_REFUSED: return "Connection refused";
	case SCI_ERR_SEGMENT_NOT_CONNECTED: return "Segment not connected";
	case SCI_ERR_SIZE_ALIGNMENT: return "Size is not aligned";
	case SCI_ERR_OFFSET_ALIGNMENT: return "Offset is not aligned";
	case SCI_ERR_ILLEGAL_PARAMETER: return "Illegal parameter";
	case SCI_ERR_MAX_ENTRIES: return "Maximum number of entries exceeded";
	case SCI_ERR_SEGMENT_NOT_PREPARED: return "Segment not prepared";
	case SCI_ERR_ILLEGAL_ADDRESS: return "Illegal address";
	case SCI_ERR_ILLEGAL_OPERATION: return "Illegal operation";
	case SCI_ERR_ILLEGAL_QUERY: return "Illegal query";
	case SCI_ERR_SEGMENTID_USED: return "Segment id already used";
	case SCI_ERR_SYSTEM: return "System error";
	case SCI_ERR_CANCELLED: return "Operation cancelled";
	case SCI_ERR_NOT_CONNECTED: return "Not connected";
	case SCI_ERR_NOT_AVAILABLE: return "Not available";
	case SCI_ERR_INCONSISTENT_VERSIONS: return "Inconsistent versions";
	case SCI_ERR_COND_INT_RACE_PROBLEM: return "Conditional interrupt race";
	case SCI_ERR_OVERFLOW: return "Overflow";
	case SCI_ERR_NOT_INITIALIZED: return "Not initialized";
	case SCI_ERR_ACCESS: return "Access denied";
	case SCI_ERR_NOT_SUPPORTED: return "Not supported";
	case SCI_ERR_DEPRECATED: return "Deprecated";
	case SCI_ERR_DMA_NOT_AVAILABLE: return "DMA not available";
	case SCI_ERR_DMA_DISABLED: return "DMA disabled";
	case SCI_ERR_EWOULD_BLOCK: return "Operation would block";
	case SCI_ERR_SEMAPHORE_COUNT_EXCEEDED: return "Semaphore count exceeded";
	case SCI_ERR_IRQL_ILLEGAL: return "Illegal IRQL";
	case SCI_ERR_REMOTE_BUSY: return "Remote busy";
	case SCI_ERR_LOCAL_BUSY: return "Local busy";
	case SCI_ERR_ALL_BUSY: return "All busy";
	case SCI_ERR_NO_SUCH_FDID: return "No such fabric device id";
	case SCI_ERR_NO_SUCH_NODEID: return "No such node id";
	case SCI_ERR_NODE_NOT_RESPONDING: return "Node not responding";
	case SCI_ERR_NO_REMOTE_LINK_ACCESS: return "No remote link access";
	case SCI_ERR_NO_LINK_ACCESS: return "No link access";
	case SCI_ERR_TRANSFER_FAILED: return "Transfer failed";
	}
	return "Unknown error";
}

void SCIGetLocalNodeId(unsigned int adapterNo, unsigned int *nodeId, unsigned int flags,
		       sci_error_t *error)
{
	(void)flags;
	if (!nodeId) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (adapterNo != 0) {
		SET_ERR(error, SCI_ERR_NO_SUCH_ADAPTERNO);
		return;
	}
	pthread_mutex_lock(&sci_g.lock);
	*nodeId = sci_g.node_id;
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, SCI_ERR_OK);
}

void SCIGetNodeIdByAdapterName(char *adaptername, unsigned int *nodeId, unsigned int flags,
			       sci_error_t *error)
{
	(void)adaptername;
	SCIGetLocalNodeId(0, nodeId, flags, error);
}

int SCIProbeNode(sci_desc_t sd, unsigned int localAdapterNo, unsigned int nodeId,
		 unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!sd || sd->magic != M_DESC) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return 0;
	}
	if (localAdapterNo != 0) {
		SET_ERR(error, SCI_ERR_NO_SUCH_ADAPTERNO);
		return 0;
	}
	pthread_mutex_lock(&sci_g.lock);
	int up = nodeId == sci_g.node_id;
	pthread_mutex_unlock(&sci_g.lock);
	SET_ERR(error, up ? SCI_ERR_OK : SCI_ERR_NO_SUCH_NODEID);
	return up;
}

static sci_error_t put_string(sci_query_string_t *q, const char *s)
{
	if (!q->str || q->length == 0)
		return SCI_ERR_ILLEGAL_PARAMETER;
	size_t n = strlen(s);
	if (n + 1 > q->length)
		return SCI_ERR_OVERFLOW;
	memcpy(q->str, s, n + 1);
	return SCI_ERR_OK;
}

static sci_error_t query_adapter(sci_query_adapter_t *q)
{
	if (q->localAdapterNo != 0)
		return SCI_ERR_NO_SUCH_ADAPTERNO;
	if (!q->data)
		return SCI_ERR_ILLEGAL_PARAMETER;
	unsigned int *u = q->data;
	switch (q->subcommand) {
	case SCI_Q_ADAPTER_NODEID:
		pthread_mutex_lock(&sci_g.lock);
		*u = sci_g.node_id;
		pthread_mutex_unlock(&sci_g.lock);
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_SERIAL_NUMBER:
		*u = 1;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_CARD_TYPE:
		*u = SCI_ADAPTER_TYPE_UDD;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_CONFIGURED:
	case SCI_Q_ADAPTER_LINK_OPERATIONAL:
	case SCI_Q_ADAPTER_LINK_CABLE_INSERTED:
	case SCI_Q_ADAPTER_LINK_ENABLED:
	case SCI_Q_ADAPTER_NUMBER_OF_LINKS:
		*u = 1;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_DMA_MTU:
		*u = 1u << 20;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_MCAST_MAX_GROUPS:
	case SCI_Q_ADAPTER_BDF:
	case SCI_Q_ADAPTER_LINK_DOWNTIME:
	case SCI_Q_ADAPTER_LINK_PARTNER_PORT_NO:
		*u = 0;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_LINK_WIDTH:
		*u = 1;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_LINK_SPEED:
		*u = 3;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_LINK_UPTIME:
		*u = 0;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_DMA_SIZE_ALIGNMENT:
	case SCI_Q_ADAPTER_DMA_OFFSET_ALIGNMENT:
	case SCI_Q_ADAPTER_SUGGESTED_MIN_DMA_SIZE:
		*u = 1;
		return SCI_ERR_OK;
	case SCI_Q_ADAPTER_SUGGESTED_DMA_SIZE_ALIGNMENT:
	case SCI_Q_ADAPTER_SUGGESTED_DMA_OFFSET_ALIGNMENT:
		*u = 64;
		return SCI_ERR_OK;
	}
	return SCI_ERR_ILLEGAL_QUERY;
}

SCI_HIDDEN sci_error_t sci_query_device(sci_smartio_query_device_t *q);
SCI_HIDDEN sci_error_t sci_query_lseg(sci_query_local_segment_t *q);
SCI_HIDDEN sci_error_t sci_query_rseg(sci_query_remote_segment_t *q);
SCI_HIDDEN sci_error_t sci_query_map(sci_query_map_t *q);

void SCIQuery(unsigned int command, void *data, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	sci_error_t e;
	if (!data) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	switch (command) {
	case SCI_Q_VENDORID:
		e = put_string(data, "udd");
		break;
	case SCI_Q_API:
		e = put_string(data, "SISCI API on udd " "0.1");
		break;
	case SCI_Q_ADAPTER:
		e = query_adapter(data);
		break;
	case SCI_Q_SYSTEM: {
		sci_query_system_t *q = data;
		if (!q->data)
			e = SCI_ERR_ILLEGAL_PARAMETER;
		else if (q->subcommand == SCI_Q_SYSTEM_CPU_CACHE_LINE_SIZE) {
			*(unsigned int *)q->data = 64;
			e = SCI_ERR_OK;
		} else if (q->subcommand == SCI_Q_SYSTEM_WRITE_POSTING_ENABLED ||
			   q->subcommand == SCI_Q_SYSTEM_WRITE_COMBINING_ENABLED) {
			*(unsigned int *)q->data = 1;
			e = SCI_ERR_OK;
		} else if (q->subcommand == SCI_Q_SYSTEM_HOSTBRIDGE) {
			*(unsigned int *)q->data = 0;
			e = SCI_ERR_OK;
		} else
			e = SCI_ERR_ILLEGAL_QUERY;
		break;
	}
	case SCI_Q_DMA: {
		sci_query_dma_t *q = data;
		if (!q->data)
			e = SCI_ERR_ILLEGAL_PARAMETER;
		else if (q->localAdapterNo != 0)
			e = SCI_ERR_NO_SUCH_ADAPTERNO;
		else if (q->subcommand == SCI_Q_DMA_AVAILABLE) {
			*(unsigned int *)q->data = 1;
			e = SCI_ERR_OK;
		} else if (q->subcommand == SCI_Q_DMA_CAPABILITIES) {
			sci_dma_capabilities_t *c = q->data;
			memset(c, 0, sizeof(*c));
			c->num_channels = 1;
			c->max_transfer_size = 1u << 30;
			c->max_vector_length = 256;
			c->support_mem2io = c->support_io2mem = 1;
			c->min_align_bytes = 1;
			c->suggested_align_bytes = 64;
			e = SCI_ERR_OK;
		} else
			e = SCI_ERR_ILLEGAL_QUERY;
		break;
	}
	case SCI_Q_LOCAL_SEGMENT:
		e = sci_query_lseg(data);
		break;
	case SCI_Q_REMOTE_SEGMENT:
		e = sci_query_rseg(data);
		break;
	case SCI_Q_MAP:
		e = sci_query_map(data);
		break;
	case SCI_Q_DEVICE:
		e = sci_query_device(data);
		break;
	default:
		e = SCI_ERR_ILLEGAL_QUERY;
	}
	SET_ERR(error, e);
}

void SCIRegisterPCIeRequester(sci_desc_t sd, unsigned int localAdapterNo, unsigned int bus,
			      unsigned int devfn, unsigned int flags, sci_error_t *error)
{
	(void)flags;
	if (!sd || sd->magic != M_DESC || bus > 255 || devfn > 255) {
		SET_ERR(error, SCI_ERR_ILLEGAL_PARAMETER);
		return;
	}
	if (localAdapterNo != 0) {
		SET_ERR(error, SCI_ERR_NO_SUCH_ADAPTERNO);
		return;
	}
	/* No NTB: every device reaches this host's memory through its own
	 * IOMMU windows, so there is nothing to register. */
	SET_ERR(error, SCI_ERR_OK);
}

void SCIUnregisterPCIeRequester(sci_desc_t sd, unsigned int localAdapterNo, unsigned int bus,
				unsigned int devfn, unsigned int flags, sci_error_t *error)
{
	SCIRegisterPCIeRequester(sd, localAdapterNo, bus, devfn, flags, error);
}

/* Dolphin's exported names. */
SCI_ALIASES(SCIClose)
SCI_ALIASES(SCIGetErrorString)
SCI_ALIASES(SCIGetLocalNodeId)
SCI_ALIASES(SCIGetNodeIdByAdapterName)
SCI_ALIASES(SCIInitialize)
SCI_ALIASES(SCIOpen)
SCI_ALIASES(SCIProbeNode)
SCI_ALIASES(SCIQuery)
SCI_ALIASES(SCIRegisterPCIeRequester)
SCI_ALIASES(SCITerminate)
SCI_ALIASES(SCIUnregisterPCIeRequester)
