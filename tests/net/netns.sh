# SPDX-License-Identifier: MIT
# Sourced by the cluster tests (tests/net/test_net.sh, src/compat/sisci/tests/
# net_sisci.sh): network namespaces stand for hosts, joined by veth pairs;
# the addresses exist only inside the namespaces. Names are unique per run
# (netns_init), so parallel runs cannot collide; the EXIT trap kills every
# process in PIDS and deletes every namespace made here.
#
#   netns_require NAME         exit 77 (skipped) unless root with ip(8)
#   netns_init PREFIX          tag, T (a fresh directory), PIDS, checks/fails, the trap
#   netns_host NS              a namespace with lo up
#   netns_link NS1 IF1 ADDR1/LEN NS2 IF2 ADDR2/LEN   a veth pair between two of them, up
#   netns_key FILE             a fresh cluster key (mode 600)
#   netns_sim NS DIR LOG       udd-sim serving DIR inside NS, until DIR/sim/edu.sock exists
#   netns_wait_listen NS PORT  until a TCP listener on PORT exists in NS (10 s)
#   ok/bad WHAT, expect WANT WHAT CMD..., wait_line FILE WORD (5 s), now_ms

netns_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "SKIP: $1 needs root (network namespaces)"
		exit 77
	fi
	if ! command -v ip >/dev/null; then
		echo "SKIP: $1 needs ip (Debian: iproute2)"
		exit 77
	fi
}

netns_cleanup() {
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in "${NETNS_MADE[@]}"; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$T"
}

netns_init() {
	tag="$$-$RANDOM"
	NETNS_PREFIX=$1
	T=$(mktemp -d "/tmp/$1-XXXXXX")
	PIDS=()
	NETNS_MADE=()
	fails=0
	checks=0
	trap netns_cleanup EXIT
}

netns_host() {
	ip netns add "$1" || { echo "FAIL: ip netns add $1"; exit 1; }
	NETNS_MADE+=("$1")
	ip -n "$1" link set lo up
}

netns_link() {
	ip link add "$2" netns "$1" type veth peer name "$5" netns "$4" || exit 1
	ip -n "$1" addr add "$3" dev "$2"
	ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

netns_key() {
	(umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
}

netns_sim() {
	ip netns exec "$1" "$SIM" --dir "$2" --idle-exit 600000 2>"$3" &
	PIDS+=($!)
	for _ in $(seq 100); do [ -S "$2/sim/edu.sock" ] && return 0; sleep 0.1; done
	echo "FAIL: udd-sim did not come up in $1"
	cat "$3"
	exit 1
}

netns_wait_listen() {
	for _ in $(seq 100); do
		ip netns exec "$1" ss -ltnH "sport = :$2" | grep -q . && return 0
		sleep 0.1
	done
	return 1
}

ok() { checks=$((checks + 1)); echo "ok: $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*"; }
expect() { # expect WANT DESCRIPTION CMD...
	local want=$1 what=$2
	shift 2
	"$@"
	local got=$?
	if [ "$got" = "$want" ]; then ok "$what"; else bad "$what (exit $got, wanted $want)"; fi
}
now_ms() { date +%s%3N; }

# wait_line FILE WORD: until FILE has WORD (5 s)
wait_line() {
	for _ in $(seq 50); do grep -q "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
	return 1
}
