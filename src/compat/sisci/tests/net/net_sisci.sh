#!/bin/bash
# SPDX-License-Identifier: MIT
# SISCI SmartIO across hosts. Two network namespaces stand for hosts (the
# set-up is tests/net/netns.sh's): L lends its simulated devices with udd-sim
# + udd-gw --node 7 and a cluster key; B, node 2, has simulated devices of
# its own and a cluster file naming L as a peer (what `udd connect` writes).
# sisci_net_peer, a SISCI program, runs in B: node ids, the cluster-wide
# device list and filters, the remote edu borrowed, its BAR0 mapped (trapped,
# each access a round trip), id register, factorials, and a DMA round trip
# through a local segment mapped for the remote device.
# Root only (exit 77 = skipped otherwise).
set -u

. "${UDD_TEST_SRC:?UDD_TEST_SRC: the source tree}/tests/net/netns.sh"
netns_require net_sisci
B=${UDD_BIN:?UDD_BIN: the build directory}
SIM=$B/src/sim/udd-sim
GW=$B/src/gateway/udd-gw
PROG=$B/src/compat/sisci/tests/net/sisci_net_peer
LNODE=2
RNODE=7

netns_init udd-sisci-net
L="udd-sl-$tag"
BN="udd-sb-$tag"
netns_host "$L"
netns_host "$BN"
netns_link "$L" v0 10.78.0.1/24 "$BN" v1 10.78.0.2/24
netns_key "$T/key"
mkdir -m 700 "$T/rt-l" "$T/rt-b"

netns_sim "$L" "$T/rt-l" "$T/sim-l.log"
ip netns exec "$L" "$GW" --listen 0.0.0.0:7787 --pool "$T/rt-l/sim" --key "$T/key" \
	--node $RNODE 2>"$T/gw.log" &
PIDS+=($!)
netns_wait_listen "$L" 7787 || { echo "FAIL: udd-gw did not listen"; cat "$T/gw.log"; exit 1; }

# B's own devices: its udd-sim, started here so the trap ends it
netns_sim "$BN" "$T/rt-b" "$T/sim-b.log"
cat >"$T/cluster" <<EOF
# as \`udd connect --key $T/key --node $LNODE 10.78.0.1\` writes it
key $T/key
node $LNODE
peer 10.78.0.1:7787
EOF

ip netns exec "$BN" env -u UDD_NO_CLUSTER -u UDD_CLUSTER_KEY UDD_CLUSTER_CONFIG="$T/cluster" \
	UDD_RUNTIME_DIR="$T/rt-b" UDD_NO_VFIO=1 UDD_SIM="$SIM" \
	timeout 120 "$PROG" $LNODE $RNODE >"$T/peer.log" 2>&1
st=$?
cat "$T/peer.log"
if [ "$st" = 0 ]; then ok "sisci_net_peer in B ($(tail -1 "$T/peer.log"))"
else bad "sisci_net_peer in B exited $st"; fi

echo "net_sisci: $checks checks, $fails failed"
if [ "$fails" != 0 ]; then
	echo "--- gateway log"; tail -20 "$T/gw.log"
	exit 1
fi
exit 0
