#!/bin/bash
# ctest entry point for the QEMU guest tests: build the guest tests statically, boot the
# guest with them (run-guest), print each guest test's result; fail if any guest test
# failed or the guest did not finish.
# Skips (exit 77) when not root or when UDD_VM_SKIP=1.
# Two boots:
#   1. every guest test: tests/vm/guest/*.c, the conformance tests, examples/edu, the udd
#      command against lspci, udd bind basics (build-extras.sh), with edu and nvme on
#      vfio-pci;
#   2. udd_bind alone with nvme left to the kernel's nvme driver
#      (UDD_VM_KERNEL_DRIVER=NVME): mounted -> refused, bind, borrow, unbind.
# Environment: UDD_BIN (build dir: outputs go to $UDD_BIN/vm; its src/libudd.a is
# needed for the library tests), UDD_VM_EXTRA_TESTS (more static test executables to
# run in the guest, see build-tests.sh), UDD_VM_TIMEOUT.
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
rm -rf "$OUT/extra" "$OUT/overlay" "$OUT/bind"
mkdir -p "$OUT/extra" "$OUT/overlay" "$OUT/bind"
rc=0
if [ -n "${UDD_BIN:-}${UDD_VM_LIBUDD:-}" ]; then
    "$HERE/build-extras.sh" "$OUT/extra" "$OUT/overlay" || rc=1
    # the compatibility layers' guest tests: DDI on QEMU's edu
    "$HERE/../../src/compat/ddi/tests/guest/build-guest.sh" "$OUT/extra" || rc=1
else
    echo "test_vm: no UDD_BIN: conformance, examples and udd are not built for the guest" >&2
    rc=1
fi
# the extras join the guest tests (build-tests.sh adds the caller's UDD_VM_EXTRA_TESTS)
"$HERE/build-tests.sh" "$OUT/tests"
cp "$OUT"/extra/* "$OUT/tests/" 2>/dev/null || true
[ -x "$OUT/extra/udd_bind" ] && cp "$OUT/extra/udd_bind" "$OUT/bind/"
t1=$EPOCHREALTIME
echo "== boot 1: all guest tests, edu and nvme on vfio-pci"
"$HERE/run-guest" --tests "$OUT/tests" --overlay "$OUT/overlay" --log "$OUT/guest.log" || rc=$?
t2=$EPOCHREALTIME
if [ -x "$OUT/bind/udd_bind" ]; then
    echo "== boot 2: udd bind/unbind with nvme on the kernel's nvme driver"
    "$HERE/run-guest" --tests "$OUT/bind" --overlay "$OUT/overlay" --log "$OUT/guest-bind.log" \
        --env UDD_VM_KERNEL_DRIVER=NVME || rc=1
fi
t3=$EPOCHREALTIME
# SISCI programs on the real devices get a boot of their own: sisci_guest provokes a
# DMAR fault on purpose, and the kernel rate-limits fault reports, which would hide
# the fault vfio_smoke must see in boot 1.
if [ -n "${UDD_BIN:-}" ] && [ -f "$UDD_BIN/src/compat/sisci/libsisci.a" ]; then
    echo "== boot 3: SISCI programs (edu_smartio, nvme_identify, sisci_guest, sisci_lend) on vfio-pci"
    rm -rf "$OUT/sisci"
    if "$HERE/../../src/compat/sisci/tests/guest/build-guest.sh" "$OUT/sisci"; then
        # the overlay's udd-sim and udd: sisci_lend lends edu with them
        "$HERE/run-guest" --tests "$OUT/sisci" --env UDD_NO_EMBEDDED=1 --overlay "$OUT/overlay" \
            --log "$OUT/guest-sisci.log" || rc=1
    else
        rc=1
    fi
fi
t4=$EPOCHREALTIME
awk -v a="$t0" -v b="$t1" -v c="$t2" -v d="$t3" -v e="$t4" \
    'BEGIN { printf "test_vm: build %.1fs, boot 1 %.1fs, boot 2 %.1fs, boot 3 %.1fs, total %.1fs\n", b - a, c - b, d - c, e - d, e - a }'
exit $rc
