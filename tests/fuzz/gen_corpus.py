#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the seed corpus of the vfio-user fuzzers: valid sessions, one file each.

    python3 tests/fuzz/gen_corpus.py [OUTDIR]     (default: tests/fuzz/corpus)
    python3 tests/fuzz/gen_corpus.py --found [OUTDIR]   (default: tests/fuzz/found)
      hand-minimised reproducers of open crashes (not replayed by ctest)

The input format is described in tests/fuzz/fuzz.h, fuzz_server.c and
fuzz_client.c (and in prose in docs/fuzzing.md). Files are named after the
session they hold; re-running the script rewrites the same bytes.
"""
import json
import os
import struct
import sys

# ---- protocol constants (src/backend/vfio-user/proto.h, <linux/vfio.h>) ----
VERSION, DMA_MAP, DMA_UNMAP, GET_INFO, REGION_INFO, REGION_IO_FDS, IRQ_INFO, SET_IRQS, \
    REGION_READ, REGION_WRITE, DMA_READ, DMA_WRITE, RESET = range(1, 14)
UDD_DMA_FAULT = 0x7F01
F_COMMAND, F_REPLY, F_NO_REPLY, F_ERROR = 0x0, 0x1, 0x10, 0x20
REG_READ, REG_WRITE, REG_MMAP, REG_CAPS = 1, 2, 4, 8
CONFIG_REGION = 7
INTX, MSI, MSIX, ERR, REQ = range(5)
SET_DATA_NONE, SET_DATA_BOOL, SET_DATA_EVENTFD = 1, 2, 4
SET_ACTION_MASK, SET_ACTION_UNMASK, SET_ACTION_TRIGGER = 8, 16, 32
DEV_FLAGS_RESET, DEV_FLAGS_PCI = 1, 2
IRQ_INFO_EVENTFD, IRQ_INFO_MASKABLE = 1, 2

# ---- fd specs (tests/fuzz/fuzz.h) ----
FD_NONE, FD_MEMFD, FD_EVENTFD, FD_ROFILE, FD_PIPE, FD_SOCKET, FD_DIR, FD_ROMEMFD = range(8)
FD_PAGES = 0x40


def fdspec(kind, count=1):
    return kind | ((count - 1) << 3) if kind else 0


def rec(kind, data, fds=0, arg=0):
    assert len(data) < 65536
    return struct.pack('<BBHH', kind, fds, arg, len(data)) + data


def hdr(msg_id, cmd, payload_len, flags=F_COMMAND, error=0):
    return struct.pack('<HHIII', msg_id, cmd, 16 + payload_len, flags, error)


def msg(msg_id, cmd, payload=b'', flags=F_COMMAND):
    return hdr(msg_id, cmd, len(payload), flags) + payload


def version_payload(caps):
    js = json.dumps({'capabilities': caps}, separators=(',', ':')).encode() + b'\0'
    return struct.pack('<HH', 0, 1) + js


def region_access(off, region, count):
    return struct.pack('<QII', off, region, count)


def dma_access(addr, count):
    return struct.pack('<QQ', addr, count)


# ---------------------------------------------------------------------------
# fuzz_server: sessions a client could have with udd-sim
# ---------------------------------------------------------------------------
EDU_ID, EDU_LIVENESS, EDU_FACT, EDU_STATUS, EDU_IRQ_STATUS = 0x00, 0x04, 0x08, 0x20, 0x24
EDU_IRQ_RAISE, EDU_IRQ_ACK = 0x60, 0x64
EDU_DMA_SRC, EDU_DMA_DST, EDU_DMA_COUNT, EDU_DMA_CMD = 0x80, 0x88, 0x90, 0x98
EDU_DMA_BUF = 0x40000
DMA_START, DMA_FROM_DEV, DMA_IRQ = 1, 2, 4

# config byte
M_EDU, M_PIO, M_BE = 0, 1, 2
RAW, TWIN, FAULTS = 0x04, 0x08, 0x10
B_EXCL, B_SHARED, B_PROBE, B_NOUDD = 0x00, 0x20, 0x40, 0x60


class S:
    """Builds a fuzz_server input: messages with increasing ids."""

    def __init__(self, cfg):
        self.out = bytes([cfg])
        self.id = 0

    def m(self, cmd, payload=b'', fds=0, arg=0, sync=False, flags=F_COMMAND):
        self.id += 1
        self.out += rec(2 if sync else 0, msg(self.id, cmd, payload, flags), fds, arg)
        return self

    def raw(self, data, sync=False):
        self.out += rec(3 if sync else 1, data)
        return self

    def rd(self, region, off, count, sync=False):
        return self.m(REGION_READ, region_access(off, region, count), sync=sync)

    def wr(self, region, off, data, sync=False):
        return self.m(REGION_WRITE, region_access(off, region, len(data)) + data, sync=sync)

    def wr32(self, region, off, v, sync=False):
        return self.wr(region, off, struct.pack('<I', v), sync)

    def wr64(self, region, off, v, sync=False):
        return self.wr(region, off, struct.pack('<Q', v), sync)

    def info(self):
        self.m(GET_INFO, struct.pack('<IIII', 16, 0, 0, 0))
        for i in range(9):
            self.m(REGION_INFO, struct.pack('<IIIIQQ', 4096 if i != 2 else 32, 0, i, 0, 0, 0))
        for i in range(5):
            self.m(IRQ_INFO, struct.pack('<IIII', 16, 0, i, 0))
        return self

    def irqs(self, index, start, count, flags, extra=b'', fds=0):
        return self.m(SET_IRQS, struct.pack('<IIIII', 20 + len(extra), flags, index, start, count)
                      + extra, fds=fds)

    def dma_map(self, addr, size, prot=3, offset=0, fds=0, arg=0):
        return self.m(DMA_MAP, struct.pack('<IIQQQ', 32, prot, offset, addr, size), fds, arg)

    def dma_unmap(self, addr, size):
        return self.m(DMA_UNMAP, struct.pack('<IIQQ', 24, 0, addr, size))


def edu_dma(s, src, dst, count, cmd):
    s.wr64(0, EDU_DMA_SRC, src).wr64(0, EDU_DMA_DST, dst).wr64(0, EDU_DMA_COUNT, count)
    s.wr64(0, EDU_DMA_CMD, cmd)
    s.rd(0, EDU_DMA_CMD, 8, sync=True)  # give the worker its 0.5 ms, then look
    return s.rd(0, EDU_DMA_CMD, 8, sync=True)


def server_corpus():
    c = {}
    # Every info query of every model.
    for name, model in (('edu', M_EDU), ('pio', M_PIO), ('be', M_BE)):
        c['info-' + name] = S(model).info().rd(CONFIG_REGION, 0, 64).rd(CONFIG_REGION, 0x40, 16)
    # edu registers: id, liveness, factorial, interrupt raise/ack.
    s = S(M_EDU).rd(0, EDU_ID, 4).wr32(0, EDU_LIVENESS, 0x1234).rd(0, EDU_LIVENESS, 4)
    s.wr32(0, EDU_STATUS, 0x80).wr32(0, EDU_FACT, 6).rd(0, EDU_STATUS, 4, sync=True)
    s.rd(0, EDU_FACT, 4, sync=True).wr32(0, EDU_IRQ_RAISE, 0x10).rd(0, EDU_IRQ_STATUS, 4)
    s.wr32(0, EDU_IRQ_ACK, 0x10).wr(0, EDU_DMA_BUF, bytes(range(64))).rd(0, EDU_DMA_BUF, 64)
    s.rd(0, 0x100, 8).wr(0, 0x3, b'\x01')
    c['edu-regs'] = s
    # edu DMA through a memfd-backed window, both directions.
    s = S(M_EDU).dma_map(0x10000, 0x2000, 3, fds=fdspec(FD_MEMFD), arg=0x2000)
    s.wr(0, EDU_DMA_BUF, b'\xa5' * 32)
    edu_dma(s, EDU_DMA_BUF, 0x10000, 32, DMA_START | DMA_FROM_DEV | DMA_IRQ)
    edu_dma(s, 0x10000, EDU_DMA_BUF + 0x100, 32, DMA_START | DMA_IRQ)
    s.rd(0, EDU_DMA_BUF + 0x100, 32).dma_unmap(0x10000, 0x2000)
    c['edu-dma-memfd'] = s
    # edu DMA through DMA_READ/DMA_WRITE messages, on the main socket, and an
    # access outside every window (a fault notice with dma_faults).
    for name, cfg in (('main', FAULTS), ('twin', TWIN | FAULTS)):
        s = S(M_EDU | cfg).dma_map(0x20000, 0x1000, 3)
        edu_dma(s, EDU_DMA_BUF, 0x20000, 64, DMA_START | DMA_FROM_DEV)
        edu_dma(s, 0x20000, EDU_DMA_BUF, 64, DMA_START | DMA_IRQ)
        edu_dma(s, 0x900000, EDU_DMA_BUF, 16, DMA_START)  # no window: fault
        s.dma_unmap(0x20000, 0x1000)
        c['edu-dma-msg-' + name] = s
    # Interrupts: MSI and INTx eventfds, trigger by bool, mask/unmask, disable.
    s = S(M_EDU).irqs(MSI, 0, 1, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, fds=fdspec(FD_EVENTFD))
    s.irqs(INTX, 0, 1, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, fds=fdspec(FD_EVENTFD))
    s.wr32(0, EDU_IRQ_RAISE, 1).irqs(MSI, 0, 1, SET_DATA_BOOL | SET_ACTION_TRIGGER, b'\x01')
    s.irqs(INTX, 0, 1, SET_DATA_NONE | SET_ACTION_MASK).irqs(INTX, 0, 1,
                                                             SET_DATA_NONE | SET_ACTION_UNMASK)
    s.irqs(MSI, 0, 1, SET_DATA_NONE | SET_ACTION_TRIGGER).irqs(MSI, 0, 0, SET_DATA_NONE |
                                                               SET_ACTION_TRIGGER)
    s.irqs(INTX, 0, 0, SET_DATA_NONE | SET_ACTION_TRIGGER)
    c['edu-irqs'] = s
    # pio: print characters, read the record BAR.
    s = S(M_PIO).wr(0, 0, b'\x01')
    for ch in b'hi\n':
        s.rd(0, 0, 1).wr(1, 0, bytes([ch]), sync=True)
    s.rd(0, 0, 1, sync=True).wr(0, 0, b'\x02').rd(2, 0, 4).rd(2, 4, 16)
    c['pio-print'] = s
    # be: registers, FIFO, the mappable doorbell page, MSI-X, RAM BAR, I/O BAR, reset.
    s = S(M_BE).rd(0, 0, 4).wr32(0, 4, 0xdeadbeef).rd(0, 4, 4).wr64(0, 8, 1 << 40).rd(0, 8, 8)
    s.wr32(0, 0x10, 7).wr32(0, 0x10, 8).rd(0, 0x14, 4).rd(0, 0x10, 4)
    s.irqs(MSIX, 0, 4, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, fds=fdspec(FD_EVENTFD, 4))
    s.wr32(0, 0x18, 2).wr32(0, 0x1000, 0x55).rd(0, 0x1004, 4, sync=True)
    s.wr(2, 0x100, b'ram!' * 8).rd(2, 0x100, 32).rd(4, 0, 4).wr32(4, 0, 0x01020304)
    s.rd(0, 0x800, 16).wr32(0, 0x80c, 0).m(RESET).rd(0, 4, 4)
    c['be-regs'] = s
    # The client's own VERSION (raw mode): shared, then a second VERSION (refused).
    ver = version_payload({'max_msg_fds': 4, 'max_data_xfer_size': 4096,
                           'udd': {'borrow': 'shared'}})
    s = S(M_EDU | RAW).m(VERSION, ver).m(GET_INFO, struct.pack('<IIII', 16, 0, 0, 0))
    s.rd(0, 0, 4).m(VERSION, ver)
    c['raw-version-shared'] = s
    # Probe mode: reads work, writes, maps and IRQs are refused.
    s = S(M_BE | B_PROBE).rd(0, 0, 4).wr32(0, 4, 1).dma_map(0x1000, 0x1000)
    s.irqs(MSIX, 0, 1, SET_DATA_EVENTFD | SET_ACTION_TRIGGER, fds=fdspec(FD_EVENTFD)).m(RESET)
    c['be-probe'] = s
    # No udd capability at all; an unknown command; a NO_REPLY command.
    s = S(M_PIO | B_NOUDD).m(REGION_IO_FDS, struct.pack('<IIII', 16, 0, 0, 0)).m(99)
    s.m(GET_INFO, struct.pack('<IIII', 16, 0, 0, 0), flags=F_NO_REPLY).rd(1, 0, 1)
    c['pio-noudd'] = s
    # Window bookkeeping: overlapping and partial unmaps, offsets into the fd.
    s = S(M_EDU).dma_map(0x40000, 0x3000, 1, offset=0x1000, fds=fdspec(FD_MEMFD), arg=0x4000)
    s.dma_map(0x41000, 0x1000, 3).dma_unmap(0x41000, 0x1000).dma_map(0x50000, 0x1000, 2)
    s.dma_unmap(0x40000, 0x3000).dma_unmap(0x50000, 0x1000).dma_unmap(0x50000, 0x1000)
    c['edu-windows'] = s
    return {k: v.out for k, v in c.items()}


# ---------------------------------------------------------------------------
# fuzz_client: a server's side of the client's fixed call sequence
# ---------------------------------------------------------------------------
IOVA_FD, IOVA_MEM = 0x100000, 0x200000
K_REPLY, K_RAW, K_BYTES, K_CMD, K_CMD_TWIN, K_CLOSE = range(6)
K_ERROR, K_TWIN = 0x08, 0x10
MODES = ['exclusive', 'shared', 'probe']


def region_info(index, size, flags, areas=None, argsz=None, pad=0):
    caps = b''
    if areas is not None:
        caps = struct.pack('<HHIII', 1, 1, 0, len(areas), 0)
        for off, sz in areas:
            caps += struct.pack('<QQ', off, sz)
    full = 32 + len(caps) + pad
    body = struct.pack('<IIIIQQ', argsz if argsz is not None else full, flags, index,
                       32 if caps else 0, size, 0)
    return body + caps + b'\0' * pad


def client_session(mode=0, twin=False, xfer=1024, reset=True, error_read=False):
    """Replies to every request of run_client() in fuzz_client.c, in order."""
    out = bytes([mode])
    caps = {'max_msg_fds': 8, 'max_data_xfer_size': xfer, 'pgsizes': 4096,
            'max_dma_maps': 100,
            'udd': {'borrow': MODES[mode], 'dma_faults': True}}
    if twin:
        caps['twin_socket'] = {'supported': True, 'fd_index': 0}
    out += rec(K_REPLY | (K_TWIN if twin else 0), version_payload(caps))
    flags = DEV_FLAGS_PCI | (DEV_FLAGS_RESET if reset else 0)
    out += rec(K_REPLY, struct.pack('<IIII', 16, flags, 9, 5))
    rw = REG_READ | REG_WRITE
    # region 0: mappable through a memfd, one sparse area
    out += rec(K_REPLY, region_info(0, 0x4000, rw | REG_MMAP | REG_CAPS, [(0x1000, 0x1000)]),
               fdspec(FD_MEMFD), 0x4000)
    out += rec(K_REPLY, region_info(1, 0x2000, rw))
    # region 2: first "argsz 5000 needed", then the whole reply
    out += rec(K_REPLY, region_info(2, 0x1000, rw, argsz=5000)[:32])
    out += rec(K_REPLY, region_info(2, 0x1000, rw | REG_MMAP | REG_CAPS,
                                    [(0, 0x800), (0x800, 0x800)], pad=5000 - 80),
               fdspec(FD_MEMFD), 0x1000)
    out += rec(K_REPLY, region_info(CONFIG_REGION, 256, rw))
    # REGION_READ 0+0 (4), REGION_WRITE 0+4 (4)
    if error_read:
        out += rec(K_REPLY | K_ERROR, b'', 0, 5)  # EIO
    else:
        out += rec(K_REPLY, region_access(0, 0, 4) + b'\x11\x22\x33\x44')
    out += rec(K_REPLY, region_access(4, 0, 4))
    chunks = []
    off, left = 0x10, 3000
    while left:
        n = min(left, xfer)
        chunks.append((off, n))
        off += n
        left -= n
    for off, n in chunks:
        out += rec(K_REPLY, region_access(off, 1, n) + bytes((off + i) & 0xff for i in range(n)))
    for off, n in chunks:
        out += rec(K_REPLY, region_access(off, 1, n))
    out += rec(K_REPLY, struct.pack('<IIII', 16, IRQ_INFO_EVENTFD | IRQ_INFO_MASKABLE, MSIX, 8))
    out += rec(K_REPLY, b'')  # SET_IRQS eventfds
    out += rec(K_REPLY, b'')  # SET_IRQS mask
    cmd = K_CMD_TWIN if twin else K_CMD
    # DMA_MAP (memfd): the device writes, reads and reports a fault meanwhile
    out += rec(cmd, msg(1, DMA_WRITE, dma_access(IOVA_FD + 0x10, 16) + b'\xab' * 16))
    out += rec(cmd, msg(2, DMA_READ, dma_access(IOVA_FD + 0x10, 16)))
    out += rec(cmd, msg(3, UDD_DMA_FAULT, struct.pack('<QQII', 0xdead000, 64, 1, 0),
                        F_COMMAND | F_NO_REPLY))
    out += rec(K_REPLY, b'')
    # DMA_MAP (memory, read-only): a read, and a write that must be refused
    out += rec(cmd, msg(4, DMA_READ, dma_access(IOVA_MEM, 32)))
    out += rec(cmd, msg(5, DMA_WRITE, dma_access(IOVA_MEM, 4) + b'nope'))
    out += rec(K_REPLY, b'')
    # REGION_WRITE 0+8: a read outside every window, then the reply
    out += rec(cmd, msg(6, DMA_READ, dma_access(0x7000000000, 8)))
    out += rec(K_REPLY, region_access(8, 0, 4))
    if reset:
        out += rec(K_REPLY, b'')
    out += rec(K_REPLY, struct.pack('<IIQQ', 24, 0, IOVA_FD, 0x2000))
    out += rec(K_REPLY, b'')
    return out


def client_corpus():
    c = {
        'session-excl': client_session(0),
        'session-shared-twin': client_session(1, twin=True, xfer=4096),
        'session-probe-noreset': client_session(2, reset=False, error_read=True),
        'session-twin-small-xfer': client_session(0, twin=True, xfer=512),
    }
    # the smallest server: a bare VERSION reply (defaults), no regions
    c['bare-version'] = bytes([0]) + rec(K_REPLY, struct.pack('<HH', 0, 1)) + \
        rec(K_REPLY, struct.pack('<IIII', 16, DEV_FLAGS_PCI, 0, 0))
    return c


# ---------------------------------------------------------------------------
# Hand-minimised reproducers of crashes the fuzzers found (written with
# --found into tests/fuzz/found/, which is not replayed until they are fixed)
# ---------------------------------------------------------------------------
def found_server():
    c = {}
    # DMA_MAP of 0x2000 bytes backed by a 0x1000-byte memfd: udd-sim mmaps it
    # without checking the file size; edu's DMA into the second page: SIGBUS.
    s = S(M_EDU).dma_map(0x10000, 0x2000, 3, fds=fdspec(FD_MEMFD), arg=0x1000)
    s.wr(0, EDU_DMA_BUF, b'\xa5' * 16)
    edu_dma(s, EDU_DMA_BUF, 0x11000, 16, DMA_START | DMA_FROM_DEV)
    c['dma-map-short-memfd-sigbus'] = s
    # The same with the mapping entirely past the end of the file (offset).
    s = S(M_EDU).dma_map(0x10000, 0x1000, 3, offset=0x100000, fds=fdspec(FD_MEMFD), arg=0x1000)
    edu_dma(s, 0x10000, EDU_DMA_BUF, 16, DMA_START)
    c['dma-map-offset-past-eof-sigbus'] = s
    return {k: v.out for k, v in c.items()}


def main():
    args = sys.argv[1:]
    if args[:1] == ['--found']:
        top = args[1] if len(args) > 1 else os.path.join(os.path.dirname(
            os.path.abspath(__file__)), 'found')
        sets = (('fuzz_server', found_server()),)
    else:
        top = args[0] if args else os.path.join(os.path.dirname(
            os.path.abspath(__file__)), 'corpus')
        sets = (('fuzz_server', server_corpus()), ('fuzz_client', client_corpus()))
    for target, files in sets:
        d = os.path.join(top, target)
        os.makedirs(d, exist_ok=True)
        for name, data in sorted(files.items()):
            with open(os.path.join(d, name), 'wb') as f:
                f.write(data)
        print(f'{d}: {len(files)} files')


if __name__ == '__main__':
    main()
