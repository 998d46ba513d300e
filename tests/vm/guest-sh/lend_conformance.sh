#!/bin/sh
# The conformance suite (tests/conformance/conformance.c) on QEMU's edu lent by udd-sim
# (the lender), borrowed through its socket: `conformance --backend lent` with the
# lender's DIR/sim as the only pool directory.
set -u
D=/tmp/lend-conf
mkdir -p "$D" && chmod 700 "$D"
export UDD_RUNTIME_DIR=$D
/bin/udd-sim -v --dir "$D" --lend-only --daemon 2>>/tmp/lend-conf.log || exit 1
/bin/udd add "$UDD_VM_EDU" || exit 1
UDD_POOL=$D/sim UDD_RUNTIME_DIR=/tmp/lend-conf-client /tests/conformance --backend lent
rc=$?
/bin/udd remove "$UDD_VM_EDU" || rc=1
# stop this lender: the udd-sim whose command line names $D
for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = udd-sim ] || continue
    tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q -- "--dir $D " && kill "${p#/proc/}"
done
sleep 0.3
[ $rc -eq 0 ] || { echo "conformance through the lender failed: $rc"; cat /tmp/lend-conf.log; exit 1; }
echo "lend_conformance: ok"
