#!/bin/bash
# SPDX-License-Identifier: MIT
# vfio-user across hosts. Three network namespaces stand for hosts: L (the
# lender: udd-sim + udd-gw), B1 and B2 (borrowers), joined by veth pairs
# (L 10.77.0.1 <-> B1 10.77.0.2, L 10.77.1.1 <-> B2 10.77.1.2; the addresses
# exist only inside the namespaces). Checks, in order:
#   conformance suite against the remote edu (TLS); exclusive borrowing from
#   two hosts (EBUSY); an interrupt as a message; a borrower's host vanishing
#   without a FIN (recovery within the documented bound); the gateway
#   restarted; a peer with the wrong key; plaintext against TLS; malformed
#   and oversized messages.
# Root only (exit 77 = skipped otherwise). Names are unique per run, so
# parallel runs cannot collide; everything is torn down by the trap.
set -u

. "$(dirname "$0")/netns.sh"
netns_require test_net
B=${UDD_BIN:?UDD_BIN: the build directory}
SIM=$B/src/sim/udd-sim
GW=$B/src/gateway/udd-gw
PEER=$B/tests/net/net_peer
CONF=$B/tests/conformance/conformance
# the documented bound (net.h VFU_NET_DEAD_MS, docs/cluster.md) plus the
# time of one borrow attempt
DEAD_BOUND_S=8

netns_init udd-net
L="udd-l-$tag"
B1="udd-b1-$tag"
B2="udd-b2-$tag"

# ---- hosts --------------------------------------------------------------------
for n in "$L" "$B1" "$B2"; do netns_host "$n"; done
netns_link "$L" v0 10.77.0.1/24 "$B1" v1 10.77.0.2/24
netns_link "$L" v2 10.77.1.1/24 "$B2" v3 10.77.1.2/24
netns_key "$T/key"
netns_key "$T/wrong"
mkdir -m 700 "$T/rt"

# ---- the lender -----------------------------------------------------------------
netns_sim "$L" "$T/rt" "$T/sim.log"

start_gw() {
	ip netns exec "$L" "$GW" -v --listen 0.0.0.0:7787 --pool "$T/rt/sim" --key "$T/key" \
		--node 7 2>>"$T/gw.log" &
	GWPID=$!
	PIDS+=($GWPID)
	netns_wait_listen "$L" 7787 && return 0
	echo "FAIL: udd-gw did not listen"
	cat "$T/gw.log"
	exit 1
}
start_gw

R1=tcp://10.77.0.1:7787/edu   # edu as B1 sees it
R2=tcp://10.77.1.1:7787/edu   # edu as B2 sees it
in1() { ip netns exec "$B1" env UDD_CLUSTER_KEY="$T/key" UDD_NO_CLUSTER=1 "$@"; }
in2() { ip netns exec "$B2" env UDD_CLUSTER_KEY="$T/key" UDD_NO_CLUSTER=1 "$@"; }

# borrow_within SECONDS: B2 borrows edu within that long; prints the ms taken
borrow_within() {
	local t0 t1 rc=1
	t0=$(now_ms)
	for _ in $(seq $(($1 * 4))); do
		in2 "$PEER" borrow "$R2" 2>/dev/null && { rc=0; break; }
		sleep 0.25
	done
	t1=$(now_ms)
	echo $((t1 - t0))
	return $rc
}

# ---- 1. conformance against the remote edu -------------------------------------
if in1 env UDD_SOCKETS="$R1" "$CONF" --backend remote >"$T/conf.log" 2>&1; then
	ok "conformance --backend remote over TLS ($(tail -1 "$T/conf.log"))"
else
	bad "conformance --backend remote"
	grep -v '^\s*\[udd' "$T/conf.log" | tail -20
fi

# ---- 2. two hosts, one exclusive device -----------------------------------------
ip netns exec "$B1" env UDD_CLUSTER_KEY="$T/key" "$PEER" hold "$R1" 30 >"$T/hold1" 2>&1 &
H1=$!
PIDS+=($H1)
if wait_line "$T/hold1" held; then
	expect 16 "a borrower on another host gets EBUSY" in2 "$PEER" borrow "$R2"
	kill "$H1"
	wait "$H1" 2>/dev/null
	if ms=$(borrow_within 5); then ok "returned: the other host borrows it (${ms} ms)"
	else bad "returned: the other host still cannot borrow it"; fi
else
	bad "B1 could not borrow edu: $(cat "$T/hold1")"
fi

# ---- 3. an interrupt crosses as a message ---------------------------------------
expect 0 "MSI through the gateway (VFU_UDD_CMD_IRQ -> eventfd)" in2 "$PEER" irq "$R2"
expect 0 "MSI-X: be's 4 vectors, each on its own eventfd" in2 "$PEER" msix tcp://10.77.1.1:7787/be
expect 0 "posted BAR writes: 3 bursts of 1000, each read back after its burst" in2 "$PEER" posted tcp://10.77.1.1:7787/be
# a device named like a lent one (its PCI address, with colons) over TCP, alone and in a list
ln -s edu.sock "$T/rt/sim/0000:00:09.0.sock"
expect 0 "a device named 0000:00:09.0 borrowed over TCP" in2 "$PEER" borrow tcp://10.77.1.1:7787/0000:00:09.0
n=$(in2 env UDD_NO_EMBEDDED=1 UDD_NO_VFIO=1 \
	UDD_SOCKETS="tcp://10.77.1.1:7787/0000:00:09.0:tcp://10.77.1.1:7787/be:/nonexistent.sock" \
	"$B/tools/udd" list 2>/dev/null | grep -c "tcp://")
[ "$n" = 2 ] && ok "a socket list with a colon-named tcp:// device: both devices listed" ||
	bad "a socket list with a colon-named tcp:// device listed $n devices, not 2"
rm -f "$T/rt/sim/0000:00:09.0.sock"

# ---- 4. a borrower's host vanishes (no FIN) --------------------------------------
ip netns exec "$B1" env UDD_CLUSTER_KEY="$T/key" "$PEER" hold "$R1" 120 >"$T/hold2" 2>&1 &
H2=$!
PIDS+=($H2)
if wait_line "$T/hold2" held; then
	ip -n "$B1" link set v1 down   # nothing leaves B1 any more: no FIN, no RST
	kill -9 "$H2"
	wait "$H2" 2>/dev/null
	ip netns del "$B1"
	if ms=$(borrow_within 20); then
		if [ "$ms" -le $((DEAD_BOUND_S * 1000)) ]; then
			ok "vanished borrower: the device is free again after ${ms} ms (bound ${DEAD_BOUND_S} s)"
		else
			bad "vanished borrower: freed only after ${ms} ms (bound ${DEAD_BOUND_S} s)"
		fi
	else
		bad "vanished borrower: the device was never freed"
	fi
else
	bad "B1 could not borrow edu for the vanishing test: $(cat "$T/hold2")"
fi

# ---- 5. the gateway restarted -----------------------------------------------------
ip netns exec "$B2" env UDD_CLUSTER_KEY="$T/key" "$PEER" hold "$R2" 60 >"$T/hold3" 2>&1 &
H3=$!
PIDS+=($H3)
if wait_line "$T/hold3" held; then
	kill "$GWPID"
	wait "$GWPID" 2>/dev/null
	for _ in $(seq 100); do kill -0 "$H3" 2>/dev/null || break; sleep 0.1; done
	wait "$H3"
	st=$?
	if [ "$st" = 3 ]; then ok "gateway gone: the borrower sees its device gone"
	else bad "gateway gone: the borrower exited $st ($(cat "$T/hold3"))"; fi
	start_gw
	if ms=$(borrow_within 5); then ok "gateway restarted: borrowing works again (${ms} ms)"
	else bad "gateway restarted: cannot borrow"; fi
else
	bad "B2 could not borrow edu before the restart: $(cat "$T/hold3")"
fi

# ---- 6. the wrong key, and plaintext against TLS ----------------------------------
expect 13 "a peer with the wrong key is refused (EACCES)" \
	ip netns exec "$B2" env UDD_CLUSTER_KEY="$T/wrong" UDD_NO_CLUSTER=1 "$PEER" borrow "$R2"
if grep -q "refused: TLS handshake" "$T/gw.log"; then ok "the gateway logged the refusal"
else bad "no refusal in the gateway's log"; fi
expect 1 "a plaintext client cannot talk to a TLS gateway" \
	ip netns exec "$B2" env UDD_CLUSTER_INSECURE=1 UDD_NO_CLUSTER=1 "$PEER" borrow "$R2"

# ---- 6b. plaintext only when both ends say so, with a warning ---------------------
ip netns exec "$L" "$GW" --listen 0.0.0.0:7788 --pool "$T/rt/sim" --insecure --node 7 \
	2>"$T/gw-plain.log" &
PIDS+=($!)
netns_wait_listen "$L" 7788
expect 0 "--insecure gateway, insecure client: plaintext works" \
	ip netns exec "$B2" env UDD_CLUSTER_INSECURE=1 UDD_NO_CLUSTER=1 "$PEER" borrow tcp://10.77.1.1:7788/edu
if grep -q WARNING "$T/gw-plain.log"; then ok "the --insecure gateway warned"; else bad "no warning from --insecure"; fi
expect 13 "a TLS client refuses a plaintext gateway" in2 "$PEER" borrow tcp://10.77.1.1:7788/edu

# ---- 7. malformed and oversized messages -------------------------------------------
expect 0 "oversized msg_size: the gateway drops the connection" in2 "$PEER" bad "$R2" huge
expect 0 "msg_size below the header: dropped" in2 "$PEER" bad "$R2" tiny
if kill -0 "$GWPID" 2>/dev/null; then ok "the gateway survives bad peers"; else bad "the gateway died"; fi
expect 0 "and still lends the device" in2 "$PEER" borrow "$R2"

# a sanitizer build: the gateway's report on its clean exit (step 5) lands in its log
if grep -q "Sanitizer\|runtime error" "$T/gw.log"; then bad "sanitizer report in the gateway's log"
else ok "no sanitizer report from the gateway"; fi

echo "test_net: $checks checks, $fails failed"
if [ "$fails" != 0 ]; then
	echo "--- gateway log"; tail -30 "$T/gw.log"
	exit 1
fi
exit 0
