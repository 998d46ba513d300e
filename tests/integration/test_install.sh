#!/usr/bin/env bash
# `make install` gives a usable library: install into a temporary prefix, build
# the edu example against it with pkg-config alone, and run it on the installed
# udd-sim.
set -euo pipefail
src=${UDD_TEST_SRC:?}; bin=${UDD_BIN:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cmake --install "$bin" --prefix "$tmp/prefix" >/dev/null
pc=$(find "$tmp/prefix" -name udd.pc | head -1)
[ -n "$pc" ] || { echo "FAIL: no udd.pc installed"; exit 1; }
# udd.pc names the prefix it was installed under, not the configured one
grep -qx "prefix=$tmp/prefix" "$pc" || { echo "FAIL: udd.pc does not name $tmp/prefix"; exit 1; }
export PKG_CONFIG_PATH=$(dirname "$pc")
for f in udd/udd.h udd/access.h; do [ -f "$tmp/prefix/include/$f" ] || { echo "FAIL: $f not installed"; exit 1; }; done
ls "$tmp/prefix"/lib*/libudd.so "$tmp/prefix"/lib*/libudd.a >/dev/null
[ -x "$tmp/prefix/bin/udd" ] || { echo "FAIL: udd tool not installed"; exit 1; }
sim=$(find "$tmp/prefix" -name udd-sim -type f | head -1)
[ -x "$sim" ] || { echo "FAIL: udd-sim not installed"; exit 1; }

# a sanitizer build's library needs the sanitizer runtimes from the program
san=""; nm -D "$(ls "$tmp/prefix"/lib*/libudd.so | head -1)" | grep ' U __asan_init' >/dev/null && san="-fsanitize=address,undefined"
"${UDD_CC:-cc}" $san -std=c17 -Wall -Werror -I"$src/examples/edu" "$src/examples/edu/edu.c" -o "$tmp/edu" \
   $(pkg-config --cflags --libs udd)
libdir=$(pkg-config --variable=libdir udd)
out=$(UDD_RUNTIME_DIR="$tmp/run" UDD_SIM="$sim" LD_LIBRARY_PATH="$libdir" "$tmp/edu")
echo "$out"
echo "$out" | grep -q "DMA 2048 bytes verified" || { echo "FAIL: edu did not verify its DMA"; exit 1; }
# and statically
"${UDD_CC:-cc}" $san -std=c17 -Wall -Werror -I"$src/examples/edu" "$src/examples/edu/edu.c" -o "$tmp/edu-static" \
   $(pkg-config --cflags udd) "$libdir/libudd.a" $(pkg-config --libs-only-other --static udd) -ljson-c -lgnutls -lpthread
out=$(UDD_RUNTIME_DIR="$tmp/run2" UDD_SIM="$sim" "$tmp/edu-static")
grep -q "MSI received" <<<"$out" || { echo "FAIL: static edu: $out"; exit 1; }
echo "install: headers, libudd.so/.a, udd.pc, udd, udd-sim; an example built from the installed tree runs"
