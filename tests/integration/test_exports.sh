#!/usr/bin/env bash
# Only the public API is exported from libudd.so, and every public prototype
# (every UDD_API function in include/udd/udd.h and access.h) links against it.
set -euo pipefail
src=${UDD_TEST_SRC:?}; bin=${UDD_BIN:?}
lib=$(ls "$bin"/src/libudd.so.* | head -1)
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

# the prototypes: "UDD_API <type> <name>(" possibly with the name on the same line
grep -h -o '^UDD_API[^(]*(' "$src"/include/udd/udd.h "$src"/include/udd/access.h | sed -E 's/.*[ *]([a-z_0-9]+)\($/\1/' | sort -u > "$tmp/api"
n=$(wc -l < "$tmp/api")
[ "$n" -ge 40 ] || { echo "only $n prototypes found: the extraction is broken"; exit 1; }

# what the library exports
nm -D --defined-only "$lib" | awk '$2 ~ /^[TtWwDdBbRr]$/ {print $3}' | sed 's/@.*//' | sort -u > "$tmp/exported"
if ! diff -u "$tmp/api" "$tmp/exported"; then
  echo "FAIL: exported symbols differ from the public prototypes (- header only, + library only)"
  exit 1
fi

# a program that takes the address of every public function, linked against the .so
{
  echo '#include <udd/udd.h>'
  echo '#include <stdio.h>'
  echo 'int main(void) { void *v[] = {'
  sed 's/.*/(void *)\&&,/' "$tmp/api"
  echo '}; int n = 0; for (unsigned i = 0; i < sizeof v / sizeof v[0]; i++) n += v[i] != 0;'
  echo 'printf("%d\n", n); return 0; }'
} > "$tmp/link.c"
# a sanitizer build's library needs the sanitizer runtimes from the program
san=""; nm -D "$lib" | grep ' U __asan_init' >/dev/null && san="-fsanitize=address,undefined"
"${UDD_CC:-cc}" $san -std=c17 -Wall -Werror -I"$src/include" "$tmp/link.c" -o "$tmp/link" -L"$(dirname "$lib")" -l:"$(basename "$lib")"
got=$(LD_LIBRARY_PATH=$(dirname "$lib") "$tmp/link")
[ "$got" = "$n" ] || { echo "FAIL: $got of $n functions resolved"; exit 1; }
echo "exports: $n public functions, all exported, nothing else; all link"
