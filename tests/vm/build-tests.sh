#!/bin/bash
# build-tests.sh OUTDIR: build the guest test programs statically for tests/vm/run-guest.
#   - every tests/vm/guest/*.c becomes OUTDIR/<name> (gcc -static, -Wall -Wextra -Werror,
#     with tests/ on the include path for testlib.h);
#   - hook for the project's conformance tests: every executable file in the directory
#     named by $UDD_VM_EXTRA_TESTS (e.g. tests built statically against libudd.a) is
#     copied into OUTDIR as well.
# Environment: CC (default gcc), CFLAGS (extra flags), UDD_VM_EXTRA_TESTS.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
SRC=$(cd "$HERE/../.." && pwd)
OUT=${1:?usage: build-tests.sh OUTDIR}
CC=${CC:-gcc}
mkdir -p "$OUT"
n=0
for c in "$HERE"/guest/*.c; do
    [ -e "$c" ] || continue
    name=$(basename "$c" .c)
    # shellcheck disable=SC2086
    "$CC" -static -std=c17 -O2 -g -Wall -Wextra -Werror -I"$SRC/tests" ${CFLAGS:-} \
        -o "$OUT/$name" "$c"
    n=$((n + 1))
done
if [ -n "${UDD_VM_EXTRA_TESTS:-}" ]; then
    [ -d "$UDD_VM_EXTRA_TESTS" ] || { echo "build-tests: UDD_VM_EXTRA_TESTS=$UDD_VM_EXTRA_TESTS is not a directory" >&2; exit 1; }
    for f in "$UDD_VM_EXTRA_TESTS"/*; do
        [ -f "$f" ] && [ -x "$f" ] || continue
        if ! file -b "$f" 2>/dev/null | grep -qE 'statically linked|static-pie|script'; then
            echo "build-tests: warning: $f does not look statically linked" >&2
        fi
        cp "$f" "$OUT/"
        n=$((n + 1))
    done
fi
echo "build-tests: $n guest test(s) in $OUT" >&2
