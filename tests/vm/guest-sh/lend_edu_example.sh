#!/bin/sh
# examples/edu, unchanged, on QEMU's edu lent by udd-sim (the lender): the pool lists
# the lender's socket (and the device itself, held by the lender); the example is given
# the socket's fdid.
set -u
export UDD_RUNTIME_DIR=/tmp/lend-example
mkdir -p "$UDD_RUNTIME_DIR" && chmod 700 "$UDD_RUNTIME_DIR"
/bin/udd-sim --dir "$UDD_RUNTIME_DIR" --lend-only --daemon || exit 1
/bin/udd add "$UDD_VM_EDU" || exit 1
line=$(/bin/udd list | grep "$UDD_RUNTIME_DIR/sim/$UDD_VM_EDU.sock") || { echo "not in udd list"; exit 1; }
echo "$line"
set -- $line
out=$(/bin/edu "$1" 2>&1); rc=$?
echo "$out"
/bin/udd remove "$UDD_VM_EDU" || rc=1
# stop the lender (the only udd-sim in the guest)
for p in /proc/[0-9]*; do
    [ "$(cat "$p/comm" 2>/dev/null)" = udd-sim ] && kill "${p#/proc/}"
done
sleep 0.3
[ $rc -eq 0 ] || { echo "edu example failed: $rc"; exit 1; }
echo "$out" | grep -q "MSI received" || { echo "no success line"; exit 1; }
echo "lend_edu_example: ok"
