#!/bin/bash
# Run every udd benchmark and print the six tables (docs/performance.md).
#   bash bench/run.sh BENCH_BUILD_DIR
# Environment: UDD_SIM (udd-sim to use), UDD_BENCH_QUICK=1 (short smoke run),
# UDD_BENCH_LIBUDD (libudd.a for the guest programs; default BENCH_BUILD_DIR/../src/libudd.a),
# UDD_BENCH_GUEST=0 (leave the guest rows out).
# The benchmarks use a private embedded pool in a fresh runtime directory so
# that they neither disturb nor are disturbed by other users of the default
# pool; UDD_NO_VFIO=1 keeps host VFIO devices out.
set -u
dir=${1:?usage: run.sh BENCH_BUILD_DIR}
rt=$(mktemp -d /tmp/udd-bench-XXXXXX)
export UDD_RUNTIME_DIR=$rt UDD_NO_VFIO=1
trap 'rm -rf "$rt"' EXIT
status=0
echo "udd benchmarks — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) CPUs, $(uname -r)"
[ -n "${UDD_BENCH_QUICK:-}" ] && [ "$UDD_BENCH_QUICK" != 0 ] && echo "QUICK smoke run: few repetitions, small batches; figures are not meaningful"
# Instructions per access of table 1's inline paths (time is too noisy for a
# difference of one instruction): each path's loop of 100000 accesses runs
# once under callgrind, with one stats dump per path (bench_access --icount).
icount() {
	if ! command -v valgrind >/dev/null; then
		echo "(1b skipped: valgrind is not installed)"
		return 0
	fi
	local cg
	cg=$(mktemp -d /tmp/udd-bench-cg-XXXXXX)
	if ! valgrind --tool=callgrind --callgrind-out-file="$cg/out.%p" "$dir/bench_access" --icount \
		>/dev/null 2>"$cg/log"; then
		echo "bench: bench_access --icount under callgrind failed:"; cat "$cg/log"
		rm -rf "$cg"; return 1
	fi
	echo
	echo "== 1b. instructions per access (callgrind; the loop's own increment/mask/branch included) =="
	printf '%-44s %10s %12s\n' "path" "instr" "vs raw"
	awk '/^desc: Trigger: Client Request:/ { name = $NF }
	     /^totals:/ && name != "" { ir[name] = $2; order[n++] = name; name = "" }
	     END {
		split("raw_get raw_put", b, " ")
		label["raw_get"] = "raw volatile pointer, get32"; label["raw_put"] = "raw volatile pointer, put32"
		label["udd_get"] = "udd_get32 (checked inline, direct handle)"; label["udd_put"] = "udd_put32 (checked inline, direct handle)"
		label["direct_get"] = "udd_direct_get32"; label["direct_put"] = "udd_direct_put32"
		label["ool_get"] = "out-of-line call, get32"; label["ool_put"] = "out-of-line call, put32"
		label["swapped_get"] = "udd_swapped_get32"; label["swapped_put"] = "udd_swapped_put32"
		label["udd_be_get"] = "udd_get32 on a BIG_ENDIAN handle"; label["udd_be_put"] = "udd_put32 on a BIG_ENDIAN handle"
		label["dpdk_get"] = "DPDK rte_read32"; label["dpdk_put"] = "DPDK rte_write32"
		for (i = 0; i < n; i++) {
			k = order[i]; per = ir[k] / 100000.0
			base = (k ~ /_get$/) ? ir["raw_get"] / 100000.0 : ir["raw_put"] / 100000.0
			printf "%-44s %10.2f %+11.2f\n", label[k], per, per - base
		}
	     }' $(ls "$cg"/out.*.* | sort -t. -k3 -n)
	rm -rf "$cg"
}

for b in bench_access bench_bulk bench_transport bench_dma bench_irq bench_scale bench_net; do
	[ -x "$dir/$b" ] || { echo "== $b: not built =="; status=1; continue; }
	"$dir/$b" || { echo "bench: $b failed (exit $?)"; status=1; }
	if [ $b = bench_access ]; then icount || status=1; fi
done

# The guest rows (tables 1, 4 and 5 through VFIO; 6: lent vs direct): bench/guest/bench_guest_*.c,
# built statically against libudd.a and run in one boot of the QEMU guest of
# tests/vm (run-guest: Debian's kernel under TCG, edu and nvme on vfio-pci).
# Returns 1 only if the guest ran and a program failed; a harness that cannot
# run here prints "guest rows skipped: <why>".
guest() {
	local src vm libudd gd out rc quick=0 kcache sim
	src=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
	vm=$src/tests/vm
	libudd=${UDD_BENCH_LIBUDD:-$dir/../src/libudd.a}
	[ -n "${UDD_BENCH_QUICK:-}" ] && [ "$UDD_BENCH_QUICK" != 0 ] && quick=1
	echo
	if [ "${UDD_BENCH_GUEST:-1}" = 0 ]; then
		echo "guest rows skipped: UDD_BENCH_GUEST=0"; return 0
	fi
	if [ "$(id -u)" != 0 ]; then
		echo "guest rows skipped: not root (the VM harness, tests/vm/run-guest, installs packages and binds devices in a QEMU guest)"
		return 0
	fi
	[ -x "$vm/run-guest" ] || { echo "guest rows skipped: $vm/run-guest not found"; return 0; }
	[ -f "$libudd" ] || { echo "guest rows skipped: no static libudd.a ($libudd)"; return 0; }
	if [ $quick = 1 ]; then
		# A smoke run must stay short: only when the harness is already set up
		# (qemu installed, guest kernel cached) is a boot ~10 s.
		kcache=${UDD_VM_CACHE:-$vm/cache}
		if ! command -v qemu-system-x86_64 >/dev/null || ! ls "$kcache"/kernel-*/ready >/dev/null 2>&1; then
			echo "guest rows skipped: quick run and the VM harness is not set up yet (no qemu or no cached guest kernel; a full make bench or tests/vm/test_vm.sh sets it up, ~30 s once)"
			return 0
		fi
	fi
	gd=$(mktemp -d /tmp/udd-bench-guest-XXXXXX)
	if ! bash "$src/bench/guest/build.sh" "$gd/bin" "$libudd" >"$gd/build.log" 2>&1; then
		echo "guest rows skipped: building the static guest programs failed:"; cat "$gd/build.log"
		rm -rf "$gd"; return 0
	fi
	# the lender for bench_guest_lend: the build's udd-sim (dynamic) and its
	# libraries, at the same paths in the initramfs overlay
	mkdir -p "$gd/overlay/bin"
	sim=${UDD_BENCH_SIM:-$(dirname "$libudd")/sim/udd-sim}
	if [ -x "$sim" ]; then
		cp "$sim" "$gd/overlay/bin/udd-sim"
		ldd "$sim" | grep -oE '/[^ ]+' | while read -r lib; do
			mkdir -p "$gd/overlay$(dirname "$lib")" && cp -L "$lib" "$gd/overlay$lib"
		done
	fi
	# the NVMe rows (udd vs the kernel's nvme + fio): a script and the same
	# overlay (nvme-perf, udd, fio and their libraries); without them the
	# other rows run
	if ! bash "$src/bench/guest/build-nvme.sh" "$gd/bin" "$gd/overlay" "$libudd" >"$gd/build-nvme.log" 2>&1; then
		echo "guest NVMe rows skipped: building them failed:"; cat "$gd/build-nvme.log"
	fi
	echo "== guest rows: one boot of tests/vm/run-guest (QEMU TCG, intel-iommu, edu + nvme on vfio-pci)$([ $quick = 1 ] && echo ', QUICK') =="
	rc=0
	"$vm/run-guest" --tests "$gd/bin" --overlay "$gd/overlay" --log "$gd/serial.log" --env "UDD_BENCH_QUICK=$quick" \
		>"$gd/out" 2>&1 || rc=$?
	# Each program's output is between its @@UDD-BEGIN and @@UDD-TEST lines.
	tr -d '\r' < "$gd/serial.log" 2>/dev/null | awk '
		{ i = index($0, "@@UDD-"); if (i > 1) $0 = substr($0, i) }
		/^@@UDD-INIT / { print "(guest kernel " $5 ")" }
		/^@@UDD-BEGIN bench_guest_/ { on = 1; next }
		/^@@UDD-TEST / { if (on && $3 != "PASS") print "bench: " $2 " failed in the guest (exit " $4 ")"; on = 0; next }
		on { print }' | cat -s
	out=$(grep -E '^== (summary|RESULT)' "$gd/out" | tr '\n' ' ')
	[ -n "$out" ] && echo "($out)"
	if [ $rc = 2 ]; then
		echo "guest rows skipped: the VM harness could not run: $(grep -m1 'run-guest: error' "$gd/out" || tail -n1 "$gd/out")"
		rc=0
	elif [ $rc != 0 ]; then
		echo "bench: the guest run failed (run-guest exit $rc); its report:"; sed 's/^/  | /' "$gd/out"
		rc=1
	fi
	rm -rf "$gd"
	return $rc
}
# The NVMe driver (examples/nvme) on the simulated controller of the private
# pool: IOPS and latency at QD1/QD32, i.e. what the simulator itself costs.
nvme_sim() {
	local perf=$dir/../examples/nvme/nvme-perf t=3 w qd line
	[ -n "${UDD_BENCH_QUICK:-}" ] && [ "$UDD_BENCH_QUICK" != 0 ] && t=1
	[ -x "$perf" ] || { echo "== nvme-perf: not built =="; return 1; }
	echo
	echo "== NVMe driver on the simulated controller (nvme-perf, polled, 4 KiB, ${t} s per cell): the simulator's own cost =="
	printf '%-14s %10s %10s %10s %10s\n' "cell" "IOPS" "p50 us" "p99 us" "max us"
	for w in "randread 1" "randread 32" "randwrite 1" "randwrite 32"; do
		set -- $w
		line=$("$perf" -w "$1" -b 4096 -q "$2" -t "$t" 2>/dev/null) || { echo "bench: nvme-perf $1 QD$2 failed"; return 1; }
		echo "$line" | awk -v c="$1-qd$2" '/ IOPS, / { for (i = 1; i <= NF; i++) { if ($i == "p50") p50 = $(i + 1); if ($i == "p99") p99 = $(i + 1); if ($i == "max") mx = $(i + 1) }
			printf "%-14s %10.0f %10s %10s %10s\n", c, $1, p50, p99, mx }'
	done
}
nvme_sim || status=1
guest || status=1
exit $status
