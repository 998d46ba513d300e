#!/bin/bash
# Run every udd benchmark and print the six tables (docs/performance.md).
#   bash bench/run.sh BENCH_BUILD_DIR
# Environment: UDD_SIM (udd-sim to use), UDD_BENCH_QUICK=1 (short smoke run).
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

for b in bench_access bench_bulk bench_transport bench_dma bench_irq bench_scale; do
	[ -x "$dir/$b" ] || { echo "== $b: not built =="; status=1; continue; }
	"$dir/$b" || { echo "bench: $b failed (exit $?)"; status=1; }
	if [ $b = bench_access ]; then icount || status=1; fi
done
exit $status
