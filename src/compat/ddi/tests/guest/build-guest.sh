#!/bin/bash
# build-guest.sh OUTDIR: build the DDI guest tests (src/compat/ddi/tests/guest/*.c)
# as static executables for tests/vm/run-guest, against the static core and DDI
# libraries of a build directory:
#   $UDD_BIN/src/libudd.a and $UDD_BIN/src/compat/ddi/libudd_ddi.a
# (or $UDD_VM_LIBUDD / $UDD_VM_LIBUDD_DDI; without the latter, compat/ddi/libudd_ddi.a
# next to $UDD_VM_LIBUDD), with json-c and pthread.
# In the guest the programs pick the vfio backend themselves ($UDD_VM=1); run with
#   tests/vm/run-guest --tests OUTDIR --env UDD_NO_EMBEDDED=1
# On the host the same program runs on udd-sim: OUTDIR/ddi_edu --backend sim
# (needs $UDD_SIM).
# Environment: CC (default gcc), CFLAGS (extra flags), UDD_BIN, UDD_VM_LIBUDD,
# UDD_VM_LIBUDD_DDI.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../../../../.." && pwd)
OUT=${1:?usage: build-guest.sh OUTDIR}
CC=${CC:-gcc}

LIBUDD=${UDD_VM_LIBUDD:-${UDD_BIN:+$UDD_BIN/src/libudd.a}}
LIBDDI=${UDD_VM_LIBUDD_DDI:-${UDD_BIN:+$UDD_BIN/src/compat/ddi/libudd_ddi.a}}
if [ -z "$LIBDDI" ] && [ -n "$LIBUDD" ]; then
    LIBDDI=$(dirname "$LIBUDD")/compat/ddi/libudd_ddi.a # next to libudd.a in a build dir
fi
if [ -z "$LIBUDD" ] || [ -z "$LIBDDI" ]; then
    echo "build-guest: set UDD_BIN (a build directory) or UDD_VM_LIBUDD and UDD_VM_LIBUDD_DDI" >&2
    exit 1
fi
for f in "$LIBUDD" "$LIBDDI"; do
    if [ ! -f "$f" ]; then
        echo "build-guest: '$f' not found (build the udd_static and udd_ddi_static targets)" >&2
        exit 1
    fi
done

mkdir -p "$OUT"
n=0
for c in "$HERE"/*.c; do
    [ -e "$c" ] || continue
    name=$(basename "$c" .c)
    # shellcheck disable=SC2086
    "$CC" -static -std=c17 -O2 -g -Wall -Wextra -Werror \
        -I"$SRC/include" -I"$SRC/tests" ${CFLAGS:-} \
        -o "$OUT/$name" "$c" "$LIBDDI" "$LIBUDD" -ljson-c -lpthread
    n=$((n + 1))
done
echo "build-guest: $n DDI guest test(s) in $OUT (libudd: $LIBUDD, libudd_ddi: $LIBDDI)" >&2
