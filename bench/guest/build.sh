#!/bin/bash
# build.sh OUTDIR LIBUDD_A: build bench/guest/bench_guest_*.c statically for the
# QEMU guest of tests/vm (run-guest runs every program of OUTDIR), the way
# tests/vm/build-tests.sh builds the guest tests: gcc -static, -O2, -Wall
# -Wextra -Werror, linked with libudd.a, json-c and pthread.
# Environment: CC (default gcc), CFLAGS (extra flags).
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
OUT=${1:?usage: build.sh OUTDIR LIBUDD_A}
LIBUDD=${2:?usage: build.sh OUTDIR LIBUDD_A}
CC=${CC:-gcc}
[ -f "$LIBUDD" ] || { echo "bench/guest/build.sh: $LIBUDD not found" >&2; exit 1; }
mkdir -p "$OUT"
for c in "$HERE"/bench_guest_*.c; do
    name=$(basename "$c" .c)
    # shellcheck disable=SC2086
    "$CC" -static -std=c17 -O2 -g -Wall -Wextra -Werror -I"$SRC/include" -I"$SRC/bench" \
        -I"$HERE" ${CFLAGS:-} -o "$OUT/$name" "$c" "$LIBUDD" -ljson-c -lpthread
done
