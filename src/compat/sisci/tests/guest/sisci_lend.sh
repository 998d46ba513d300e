#!/bin/sh
# Guest test (busybox sh): libsisci on QEMU's edu lent by udd-sim --lend-only
# (as tests/vm/guest-sh/lend_edu_example.sh starts the lender): `sisci_guest
# lent` sees only the lender's socket (UDD_POOL=<dir>/sim, UDD_NO_VFIO=1) and
# borrows it shared from two processes, maps BAR0, runs a DMA round trip.
# Needs the guest overlay's udd-sim and udd (tests/vm/build-extras.sh).
set -u
[ -x /bin/udd-sim ] && [ -x /bin/udd ] || { echo "sisci_lend: no /bin/udd-sim or /bin/udd (overlay)"; exit 1; }
prog=$(dirname "$0")/sisci_guest
export UDD_RUNTIME_DIR=/tmp/sisci-lend
mkdir -p "$UDD_RUNTIME_DIR" && chmod 700 "$UDD_RUNTIME_DIR"
/bin/udd-sim --dir "$UDD_RUNTIME_DIR" --lend-only --daemon || exit 1
rc=0
/bin/udd add "$UDD_VM_EDU" || rc=1
if [ $rc -eq 0 ]; then
    UDD_POOL="$UDD_RUNTIME_DIR/sim" UDD_NO_VFIO=1 "$prog" lent || rc=1
    /bin/udd remove "$UDD_VM_EDU" || rc=1
fi
# stop the lender (the only udd-sim in the guest), at most 3 s
for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = udd-sim ] && kill "${p#/proc/}"
done
i=0
while [ $i -lt 30 ] && grep -qx udd-sim /proc/[0-9]*/comm 2>/dev/null; do sleep 0.1; i=$((i + 1)); done
[ $rc -eq 0 ] || { echo "sisci_lend: failed"; exit 1; }
echo "sisci_lend: ok"
