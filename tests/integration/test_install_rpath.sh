#!/usr/bin/env bash
# Programs linked as Dolphin's are, -L<prefix>/lib -lsisci -Wl,-rpath,<prefix>/lib,
# start without LD_LIBRARY_PATH: the linker writes DT_RUNPATH, which is not
# searched for libsisci's (or libudd_ddi's) own dependency libudd.so, so those
# libraries carry a RUNPATH of $ORIGIN themselves.
set -euo pipefail
src=${UDD_TEST_SRC:?}; bin=${UDD_BIN:?}
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
p="$tmp/prefix"
cmake --install "$bin" --prefix "$p" >/dev/null
lib=$(dirname "$(ls "$p"/lib*/libsisci.so | head -1)")
unset LD_LIBRARY_PATH

for l in libsisci.so libudd_ddi.so; do
	rp=$(readelf -d "$lib/$l" | grep -E '\((RUNPATH|RPATH)\)' || true)
	grep -q 'RUNPATH.*\$ORIGIN' <<<"$rp" || { echo "FAIL: $l has no \$ORIGIN RUNPATH: ${rp:-none}"; exit 1; }
done

# a sanitizer build's libraries need the sanitizer runtimes from the program
san=""; nm -D "$lib/libudd.so" | grep ' U __asan_init' >/dev/null && san="-fsanitize=address,undefined"
cc=${UDD_CC:-cc}

cat >"$tmp/sisci_hello.c" <<'C'
#include <stdio.h>
#include <sisci_api.h>
#include <sisci_error.h>
int main(void)
{
	sci_error_t err;
	SCIInitialize(0, &err);
	if (err != SCI_ERR_OK)
		return 1;
	SCITerminate();
	puts("sisci: initialized and terminated");
	return 0;
}
C
"$cc" $san -std=c17 -Wall -Werror -I"$p/include/sisci" -I"$p/include/sisci/dis" "$tmp/sisci_hello.c" \
	-o "$tmp/sisci_hello" -L"$lib" -lsisci -Wl,-rpath,"$lib"
readelf -d "$tmp/sisci_hello" | grep -q RUNPATH || echo "note: the linker wrote no RUNPATH into the program"
out=$("$tmp/sisci_hello" 2>&1) || { echo "FAIL: the SISCI program did not start: $out"; exit 1; }
echo "$out"; grep -q "sisci: initialized and terminated" <<<"$out"

cat >"$tmp/ddi_hello.c" <<'C'
#include <stdio.h>
#include <sys/ddi.h>
#include <sys/sunddi.h>
int main(void)
{
	printf("ddi: 1000 us = %ld ticks\n", (long)drv_usectohz(1000));
	return 0;
}
C
"$cc" $san -std=c17 -Wall -Werror -I"$p/include" -I"$p/include/udd/compat" "$tmp/ddi_hello.c" \
	-o "$tmp/ddi_hello" -L"$lib" -ludd_ddi -Wl,-rpath,"$lib"
out=$("$tmp/ddi_hello" 2>&1) || { echo "FAIL: the DDI program did not start: $out"; exit 1; }
echo "$out"; grep -q "ddi: 1000 us = 1 ticks" <<<"$out"
echo "install: SISCI and DDI programs linked with -rpath <prefix>/lib start without LD_LIBRARY_PATH"
