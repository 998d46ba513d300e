#!/usr/bin/env bash
# The inline fast path: udd_direct_get32/put32 compile to exactly the instructions
# of a raw volatile pointer access, and udd_swapped_get32/put32 to those of a raw
# access plus a bswap (the driver keeps its pointer in a structure; the
# handle keeps its base in its head), with every compiler found, at -O2 and -O3.
set -euo pipefail
src=${UDD_TEST_SRC:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
body() { # instructions of function $2 in object $1, addresses stripped
  objdump -d --no-show-raw-insn "$1" | awk -v f="<$2>:" '$2==f{on=1;next} /^[0-9a-f]+ </{on=0} on && NF' |
    sed -E 's/^ *[0-9a-f]+:\s*//' | grep -v -E '^(nop|xchg +%ax,%ax|data16|cs nop)'
}
checked=0
for cc in gcc clang; do
  command -v $cc >/dev/null || continue
  for opt in -O2 -O3; do
    $cc -std=c17 $opt -I"$src/include" -c "$src/tests/asm/fastpath.c" -o "$tmp/f.o"
    for op in get32 put32 be_get32 be_put32; do
      case $op in
        be_*) raw=$(body "$tmp/f.o" rawbe_${op#be_}); direct=$(body "$tmp/f.o" swapped_${op#be_}) ;;
        *) raw=$(body "$tmp/f.o" raw_$op); direct=$(body "$tmp/f.o" direct_$op) ;;
      esac
      [ -n "$raw" ] || { echo "FAIL: no disassembly for raw_$op"; exit 1; }
      if [ "$raw" != "$direct" ]; then
        echo "FAIL ($cc $opt): udd_direct_$op differs from a raw pointer:"; echo "raw:"; echo "$raw"; echo "udd:"; echo "$direct"; exit 1
      fi
      echo "$cc $opt $op: $(echo "$direct" | tr '\n' ';' | tr -s ' \t' ' ')"
      checked=$((checked + 1))
    done
  done
done
[ $checked -ge 8 ] || { echo "FAIL: only $checked comparisons"; exit 1; }
echo "fast path == raw pointer in $checked comparisons"
