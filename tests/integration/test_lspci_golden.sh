#!/bin/bash
# Decode each udd-sim device's config space with the real lspci and compare
# with tests/golden/lspci-<dev>.txt. `--update` rewrites the golden files.
set -u
SIM=${UDD_SIM:?UDD_SIM not set}
SRC=${UDD_TEST_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
GOLDEN=$SRC/tests/golden
if ! command -v lspci >/dev/null; then
	echo "lspci not installed (Debian: pciutils)"; exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT
fail=0
for dev in edu pio be nvme; do
	"$SIM" --dump-config "$dev" >"$tmp/$dev.dump" || { echo "dump of $dev failed"; fail=1; continue; }
	lspci -vvv -nn -F "$tmp/$dev.dump" 2>/dev/null >"$tmp/$dev.txt" || { echo "lspci failed on $dev"; fail=1; continue; }
	if [ "${1:-}" = "--update" ]; then
		cp "$tmp/$dev.txt" "$GOLDEN/lspci-$dev.txt"
		echo "updated $GOLDEN/lspci-$dev.txt"
	elif ! diff -u "$GOLDEN/lspci-$dev.txt" "$tmp/$dev.txt"; then
		echo "FAIL: $dev differs from golden"; fail=1
	fi
done
[ $fail = 0 ] && echo "test_lspci_golden: ok"
exit $fail
