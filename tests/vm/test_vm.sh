#!/bin/bash
# ctest entry point for the QEMU guest tests: build the guest tests statically, boot the
# guest with them (run-guest), print each guest test's result; fail if any guest test
# failed or the guest did not finish.
# Skips (exit 77) when not root or when UDD_VM_SKIP=1.
# Environment: UDD_BIN (build dir: outputs go to $UDD_BIN/vm), UDD_VM_EXTRA_TESTS (more
# static test executables to run in the guest, see build-tests.sh), UDD_VM_TIMEOUT.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [ "${UDD_VM_SKIP:-0}" = 1 ]; then
    echo "test_vm: skipped (UDD_VM_SKIP=1)"
    exit 77
fi
if [ "$(id -u)" != 0 ]; then
    echo "test_vm: skipped (needs root to install qemu and fetch the guest kernel)"
    exit 77
fi

if [ -n "${UDD_BIN:-}" ]; then
    OUT=$UDD_BIN/vm
    rm -rf "$OUT/tests"
else
    OUT=$(mktemp -d /tmp/udd-vm-test.XXXXXX)
    trap 'rm -rf "$OUT"' EXIT
fi
mkdir -p "$OUT/tests"

t0=$EPOCHREALTIME
"$HERE/build-tests.sh" "$OUT/tests"
t1=$EPOCHREALTIME
rc=0
"$HERE/run-guest" --tests "$OUT/tests" --log "$OUT/guest.log" || rc=$?
t2=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" -v c="$t2" \
    'BEGIN { printf "test_vm: build-tests %.1fs, run-guest %.1fs, total %.1fs\n", b - a, c - b, c - a }'
exit $rc
