#!/bin/bash
# build-tests.sh OUTDIR: build the guest test programs statically for tests/vm/run-guest.
#   - tests/vm/guest/*.c (raw VFIO, no library) -> OUTDIR/<name>: gcc -static,
#     -Wall -Wextra -Werror, tests/ on the include path (testlib.h);
#   - tests/vm/guest/udd_*.c (tests of the library itself) are compiled with include/,
#     src/ and src/core/ on the include path and linked statically with libudd.a,
#     json-c and pthread. libudd.a is $UDD_VM_LIBUDD, or $UDD_BIN/src/libudd.a (the
#     ctest build dir). Without it they are built without the library (they then
#     report FAIL in the guest) and a warning is printed;
#   - hook for the project's conformance tests: every executable file in the directory
#     named by $UDD_VM_EXTRA_TESTS (e.g. tests built statically against libudd.a) is
#     copied into OUTDIR as well (a warning if one is not statically linked).
# Environment: CC (default gcc), CFLAGS (extra flags), UDD_BIN, UDD_VM_LIBUDD,
# UDD_VM_EXTRA_TESTS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
OUT=${1:?usage: build-tests.sh OUTDIR}
CC=${CC:-gcc}
mkdir -p "$OUT"

LIBUDD=${UDD_VM_LIBUDD:-}
if [ -z "$LIBUDD" ] && [ -n "${UDD_BIN:-}" ] && [ -f "$UDD_BIN/src/libudd.a" ]; then
    LIBUDD=$UDD_BIN/src/libudd.a
fi
if [ -n "$LIBUDD" ] && [ ! -f "$LIBUDD" ]; then
    echo "build-tests: libudd.a '$LIBUDD' not found" >&2
    exit 1
fi

CFLAGS_ALL=(-static -std=c17 -O2 -g -Wall -Wextra -Werror -I"$SRC/tests")
n=0
for c in "$HERE"/guest/*.c; do
    [ -e "$c" ] || continue
    name=$(basename "$c" .c)
    case $name in
    udd_*)
        if [ -n "$LIBUDD" ]; then
            # shellcheck disable=SC2086
            "$CC" "${CFLAGS_ALL[@]}" -I"$SRC/include" -I"$SRC/src" -I"$SRC/src/core" ${CFLAGS:-} \
                -o "$OUT/$name" "$c" "$LIBUDD" -ljson-c -lpthread
        else
            echo "build-tests: warning: no libudd.a (set UDD_BIN or UDD_VM_LIBUDD); $name built without it" >&2
            # shellcheck disable=SC2086
            "$CC" "${CFLAGS_ALL[@]}" ${CFLAGS:-} -o "$OUT/$name" "$c"
        fi
        ;;
    *)
        # shellcheck disable=SC2086
        "$CC" "${CFLAGS_ALL[@]}" ${CFLAGS:-} -o "$OUT/$name" "$c"
        ;;
    esac
    n=$((n + 1))
done
if [ -n "${UDD_VM_EXTRA_TESTS:-}" ]; then
    if [ ! -d "$UDD_VM_EXTRA_TESTS" ]; then
        echo "build-tests: UDD_VM_EXTRA_TESTS=$UDD_VM_EXTRA_TESTS is not a directory" >&2
        exit 1
    fi
    for f in "$UDD_VM_EXTRA_TESTS"/*; do
        [ -f "$f" ] && [ -x "$f" ] || continue
        desc=$(file -b "$f" 2>/dev/null || true)
        case $desc in
        *"statically linked"* | *static-pie* | *script*) ;;
        *) echo "build-tests: warning: $f does not look statically linked ($desc)" >&2 ;;
        esac
        cp "$f" "$OUT/"
        n=$((n + 1))
    done
fi
echo "build-tests: $n guest test(s) in $OUT${LIBUDD:+ (libudd: $LIBUDD)}" >&2
