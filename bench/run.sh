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
for b in bench_access bench_bulk bench_transport bench_dma bench_irq bench_scale; do
	[ -x "$dir/$b" ] || { echo "== $b: not built =="; status=1; continue; }
	"$dir/$b" || { echo "bench: $b failed (exit $?)"; status=1; }
done
exit $status
