#!/bin/sh
# QEMU's edu lent across "hosts": udd-sim --lend-only lends it, udd-gw serves the
# lender's pool over TCP on the guest's loopback (127.0.0.1; not network namespaces as
# tests/net does: the guest's busybox has what `lo` needs and nothing more), and
# /bin/lend_tcp_sync borrows it through tcp:// with the cluster key. No descriptors
# cross: its DMA window is the lender's bounce memory, synced by udd_dma_sync
# (VFU_UDD_CMD_DMA_SYNC), and the interrupt arrives as a message.
set -u
D=/tmp/lend-tcp
mkdir -p "$D" && chmod 700 "$D"
export UDD_RUNTIME_DIR=$D
ip link set lo up || { echo "lend_tcp_sync: no loopback"; exit 1; }
(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$D/key")
/bin/udd-sim -v --dir "$D" --lend-only --daemon 2>>/tmp/lend-tcp.log || exit 1
/bin/udd add "$UDD_VM_EDU" || exit 1
sock=
for s in "$D"/sim/*.sock; do [ -S "$s" ] && [ "$s" != "$D/sim/control.sock" ] && { sock=$s; break; }; done
[ -n "$sock" ] || { echo "lend_tcp_sync: no lent socket in $D/sim"; ls -l "$D/sim"; exit 1; }
# the lent socket is named by its BDF (0000:00:01.0.sock): the gateway serves the
# lender's pool directory as it is, and the borrower names the device by its BDF
name=$(basename "$sock" .sock)
# --daemon returns once it listens
/bin/udd-gw -v --daemon --listen 127.0.0.1:7790 --pool "$D/sim" --key "$D/key" --node 1 \
    2>>/tmp/lend-tcp-gw.log || { echo "lend_tcp_sync: udd-gw"; cat /tmp/lend-tcp-gw.log; exit 1; }
UDD_CLUSTER_KEY=$D/key UDD_NO_CLUSTER=1 UDD_RUNTIME_DIR=/tmp/lend-tcp-client \
    /bin/lend_tcp_sync "tcp://127.0.0.1:7790/$name"
rc=$?
/bin/udd remove "$UDD_VM_EDU" || rc=1
# stop this gateway and this lender: the ones whose command lines name $D
for p in /proc/[0-9]*; do
    c=$(cat "$p/comm" 2>/dev/null)
    [ "$c" = udd-sim ] || [ "$c" = udd-gw ] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- " $D[/ ]" && kill "${p#/proc/}"
done
sleep 0.3
[ $rc -eq 0 ] || { echo "lend_tcp_sync failed: $rc"; cat /tmp/lend-tcp.log /tmp/lend-tcp-gw.log; exit 1; }
echo "lend_tcp_sync: ok"
