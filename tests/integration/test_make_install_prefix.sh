#!/usr/bin/env bash
# `make install PREFIX=...` after the build was configured (with the default
# prefix, /usr/local) installs under PREFIX, and the installed udd.pc names
# PREFIX. The first run is staged with DESTDIR, so that nothing can land in the
# configured prefix even if PREFIX were ignored; only then the plain one.
set -euo pipefail
src=${UDD_TEST_SRC:?}; bin=${UDD_BIN:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
configured=$(sed -n 's/^CMAKE_INSTALL_PREFIX:[A-Z]*=//p' "$bin/CMakeCache.txt")
[ "$configured" != "$tmp/a" ] || { echo "FAIL: the build is configured for $tmp/a"; exit 1; }

check_pc() { # $1: where udd.pc was installed; $2: the prefix it must name
	local pc
	pc=$(find "$1" -name udd.pc | head -1)
	[ -n "$pc" ] || { echo "FAIL: no udd.pc under $1"; exit 1; }
	grep -qx "prefix=$2" "$pc" || { echo "FAIL: $pc does not name $2:"; cat "$pc"; exit 1; }
	case $(PKG_CONFIG_PATH=$(dirname "$pc") pkg-config --variable=libdir udd) in
	"$2"/*) ;;
	*) echo "FAIL: pkg-config's libdir for $pc is not under $2"; exit 1 ;;
	esac
}

mk() { make -s -C "$src" BUILD="$bin" JOBS=1 install "$@" >"$tmp/make.log" 2>&1 ||
	{ cat "$tmp/make.log"; echo "FAIL: make install $*"; exit 1; }; }

# staged: everything goes below $tmp/stage$tmp/a, nothing elsewhere
mk PREFIX="$tmp/a" DESTDIR="$tmp/stage"
[ -d "$tmp/stage$tmp/a" ] || { echo "FAIL: nothing installed under PREFIX (staged)"; cat "$tmp/make.log"; exit 1; }
stray=$(find "$tmp/stage" -type f ! -path "$tmp/stage$tmp/a/*" | head -3)
[ -z "$stray" ] || { echo "FAIL: installed outside PREFIX: $stray"; exit 1; }
check_pc "$tmp/stage$tmp/a" "$tmp/a"

# and for real
mk PREFIX="$tmp/a"
for f in include/udd/udd.h bin/udd; do [ -e "$tmp/a/$f" ] || { echo "FAIL: $tmp/a/$f not installed"; exit 1; }; done
ls "$tmp/a"/lib*/libudd.so "$tmp/a"/lib*/libsisci.so "$tmp/a"/lib*/libudd_ddi.so >/dev/null
check_pc "$tmp/a" "$tmp/a"
# the installed library finds the udd-sim installed with it (not the build's,
# not the configured prefix's): its embedded pool works from PREFIX alone
rt=$(mktemp -d)
libdir=$(dirname "$(ls "$tmp/a"/lib*/libudd.so | head -1)")
out=$(env -u UDD_SIM LD_LIBRARY_PATH="$libdir" UDD_RUNTIME_DIR="$rt" UDD_NO_VFIO=1 "$tmp/a/bin/udd" list 2>&1) ||
	{ echo "FAIL: installed udd list: $out"; rm -rf "$rt"; exit 1; }
grep -q "1234:11e8" <<<"$out" || { echo "FAIL: installed udd list shows no edu: $out"; rm -rf "$rt"; exit 1; }
simpid=$(pgrep -f "udd-sim.*$rt" | head -1)
exe=$([ -n "$simpid" ] && readlink "/proc/$simpid/exe")
[ -n "$simpid" ] && kill "$simpid" 2>/dev/null
rm -rf "$rt"
case $exe in
"$tmp/a/"*) ;;
*) echo "FAIL: the installed library started '$exe', not the udd-sim under $tmp/a"; exit 1 ;;
esac
echo "make install PREFIX=$tmp/a: installed there (not in $configured), udd.pc names it, its library starts its own udd-sim"
