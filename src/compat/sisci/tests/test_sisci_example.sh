#!/bin/bash
# The SmartIO example builds as a SISCI program does (only -I<include>/sisci
# -I<include>/sisci/dis and -lsisci) and runs on the simulated edu; libsisci
# exports exactly the SISCI API and Dolphin's _SISCI_PUBLIC_FUNC_ST/MT_ names.
set -euo pipefail
: "${UDD_TEST_SRC:?}" "${UDD_BIN:?}" "${UDD_SIM:?}"
lib="$UDD_BIN/src/compat/sisci"
udd="$UDD_BIN/src"
tmp=$(mktemp -d /tmp/udd-sisci-ex-XXXXXX)

san=""
if nm -D "$lib/libsisci.so" | grep ' U __asan_init' >/dev/null; then san="-fsanitize=address,undefined"; fi
"${UDD_CC:-cc}" $san -std=c17 -Wall -Wextra -Werror -I"$UDD_TEST_SRC/include/sisci" -I"$UDD_TEST_SRC/include/sisci/dis" \
   "$UDD_TEST_SRC/examples/smartio/edu_smartio.c" -o "$tmp/edu_smartio" \
   -L"$lib" -lsisci -Wl,-rpath,"$lib:$udd"

out=$(UDD_RUNTIME_DIR="$tmp/run" "$tmp/edu_smartio")
echo "$out"
grep -q "liveness ok, DMA 2048 bytes verified" <<<"$out"

syms=$(nm -D --defined-only "$lib/libsisci.so" | awk '$3 != "" {print $3}' | grep -v '^SISCI_1$')
bad=$(grep -Ev '^(SCI[A-Za-z]+|_SISCI_PUBLIC_FUNC_(ST|MT)_SCI[A-Za-z]+)(@@SISCI_1)?$' <<<"$syms" || true)
if [ -n "$bad" ]; then echo "unexpected exports: $bad"; exit 1; fi
for f in SCIOpen SCIBorrowDevice SCIMapRemoteSegment SCIGetDeviceList; do
  grep -q "^_SISCI_PUBLIC_FUNC_ST_$f" <<<"$syms" || { echo "missing alias ST_$f"; exit 1; }
  grep -q "^_SISCI_PUBLIC_FUNC_MT_$f" <<<"$syms" || { echo "missing alias MT_$f"; exit 1; }
done
rm -rf "$tmp"
echo "test_sisci_example: ok"
