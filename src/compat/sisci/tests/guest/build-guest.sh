#!/bin/bash
# build-guest.sh OUTDIR: build the SISCI programs that run on real devices in the
# QEMU guest (tests/vm/run-guest), statically, exactly as a SISCI program is built
# (-I include/sisci -I include/sisci/dis, libsisci), with libudd.a, json-c, pthread:
#   - examples/smartio/edu_smartio.c  (QEMU's edu, 1234:11e8)
#   - examples/smartio/nvme_identify.c (QEMU's nvme, class 010802)
#   - src/compat/sisci/tests/guest/sisci_*.c (guest tests of libsisci; testlib.h)
#   - src/compat/sisci/tests/guest/sisci_*.sh (busybox sh checks, installed without .sh)
# Run them with UDD_NO_EMBEDDED=1 so the pool holds the guest's vfio-pci devices:
#   tests/vm/run-guest --tests OUTDIR --env UDD_NO_EMBEDDED=1
# Environment: UDD_BIN (build dir holding src/libudd.a and src/compat/sisci/libsisci.a),
# or UDD_VM_LIBUDD / UDD_VM_LIBSISCI; CC (default gcc); CFLAGS (extra flags).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../../../../.." && pwd)
OUT=${1:?usage: build-guest.sh OUTDIR}
CC=${CC:-gcc}

LIBUDD=${UDD_VM_LIBUDD:-${UDD_BIN:+$UDD_BIN/src/libudd.a}}
LIBSISCI=${UDD_VM_LIBSISCI:-${UDD_BIN:+$UDD_BIN/src/compat/sisci/libsisci.a}}
for f in "$LIBUDD" "$LIBSISCI"; do
    if [ -z "$f" ] || [ ! -f "$f" ]; then
        echo "build-guest: '${f:-libudd.a/libsisci.a}' not found (set UDD_BIN to a build dir)" >&2
        exit 1
    fi
done
if nm "$LIBUDD" 2>/dev/null | grep -q ' U __asan_'; then
    echo "build-guest: $LIBUDD is a sanitizer build; static guest programs cannot use it" >&2
    exit 1
fi
mkdir -p "$OUT"

FLAGS=(-static -std=c17 -O2 -g -Wall -Wextra -Werror
       -I"$SRC/include/sisci" -I"$SRC/include/sisci/dis")
build() { # build NAME SOURCE [extra flags...]
    local name=$1 src=$2
    shift 2
    # shellcheck disable=SC2086
    "$CC" "${FLAGS[@]}" "$@" ${CFLAGS:-} -o "$OUT/$name" "$src" \
        "$LIBSISCI" "$LIBUDD" -ljson-c -lpthread
}

n=0
build edu_smartio "$SRC/examples/smartio/edu_smartio.c"; n=$((n + 1))
build nvme_identify "$SRC/examples/smartio/nvme_identify.c"; n=$((n + 1))
for c in "$HERE"/sisci_*.c; do
    [ -e "$c" ] || continue
    build "$(basename "$c" .c)" "$c" -I"$SRC/tests"; n=$((n + 1))
done
for s in "$HERE"/sisci_*.sh; do # busybox sh scripts (checks on the programs' output)
    [ -e "$s" ] || continue
    install -m 0755 "$s" "$OUT/$(basename "$s" .sh)"; n=$((n + 1))
done
echo "build-guest: $n SISCI guest program(s) in $OUT" >&2
