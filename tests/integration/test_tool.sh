#!/bin/bash
# The udd command against the embedded simulated pool: list (names, filters,
# JSON), info (decoded capabilities), read/write round trips, and the exit
# status and message of every kind of bad input.
set -u
: "${UDD_BIN:?UDD_BIN must name the build directory}"
UDD="$UDD_BIN/tools/udd"
UDD_RUNTIME_DIR=$(mktemp -d)
export UDD_RUNTIME_DIR
trap 'rm -rf "$UDD_RUNTIME_DIR"' EXIT

fails=0
checks=0
ok() { checks=$((checks + 1)); }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL: $*" >&2; }

# expect STATUS PATTERN-ON-STDERR-or-STDOUT -- CMD...: exit status and a message
expect() {
	local want=$1 pat=$2
	shift 2
	local out rc
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne "$want" ]; then
		bad "'$*' exited $rc, expected $want; output: $out"
	elif [ -n "$pat" ] && ! grep -qiE -- "$pat" <<<"$out"; then
		bad "'$*' output lacks /$pat/: $out"
	else
		ok
	fi
}

# --- usage -------------------------------------------------------------------
expect 0 "^Usage: udd" "$UDD" --help
expect 2 "Usage" "$UDD"
expect 2 "unknown command" "$UDD" frobnicate
expect 2 "expected FDID SET OFFSET" "$UDD" read 1
expect 2 "expected FDID SET OFFSET VALUE" "$UDD" write 1 bar0 0
expect 2 "expected one FDID" "$UDD" info
expect 2 "" "$UDD" list --no-such-option

# --- list --------------------------------------------------------------------
list=$("$UDD" list) || bad "udd list failed"
for id in 1234:11e8 1234:0d01 1234:0d02; do
	if grep -q "\[$id\]" <<<"$list"; then ok; else bad "list lacks [$id]: $list"; fi
done
n=$(grep -c "^0x" <<<"$list")
[ "$n" -ge 3 ] && ok || bad "list shows $n devices"

json=$("$UDD" list --json) || bad "udd list --json failed"
# The JSON parses, has the three devices, and gives what the tests below need.
eval "$(python3 - "$json" <<'PY'
import json, sys
devs = json.loads(sys.argv[1])
assert isinstance(devs, list), "not a list"
by = {(d["vendor_id"], d["device_id"]): d for d in devs}
for k in [("1234", "11e8"), ("1234", "0d01"), ("1234", "0d02")]:
    assert k in by, "missing %s:%s" % k
for d in devs:
    for key in ("fdid", "location", "vendor", "device", "class", "class_code", "revision",
                "regsets", "irqs"):
        assert key in d, "missing key " + key
edu, pio, be = by[("1234", "11e8")], by[("1234", "0d01")], by[("1234", "0d02")]
bar0 = [r for r in be["regsets"] if r["name"] == "bar0"][0]
print("JSON_OK=1")
print("EDU=%d PIO=%d BE=%d" % (edu["fdid"], pio["fdid"], be["fdid"]))
print("EDU_CLASS=%s" % edu["class_code"])
print("BE_BAR0_SIZE=%d BE_BAR0_R=%d" % (bar0["size"], bar0["rnumber"]))
print("ALL_FDIDS='%s'" % " ".join(str(d["fdid"]) for d in devs))
print("EDU_MSI=%d" % edu["irqs"]["msi"])
PY
)"
[ "${JSON_OK:-0}" = 1 ] && ok || { bad "list --json did not parse or lacks devices"; echo "$json" >&2; exit 1; }
[ "$EDU_MSI" -ge 1 ] && ok || bad "edu has no MSI in the JSON"

# The fdid printed in the lines is the JSON's
edu_hex=$(printf '0x%08x' "$EDU")
grep -q "^$edu_hex .*\[1234:11e8\]" <<<"$list" && ok || bad "list line for edu lacks $edu_hex"

# -v: subsystem, regions, interrupts
v=$("$UDD" list -v)
for pat in "Subsystem:" "Region 0 \(cfg\)" "Region 1 \(bar0\)" "Interrupts: INTx"; do
	grep -qE "$pat" <<<"$v" && ok || bad "list -v lacks /$pat/"
done

# filters
out=$("$UDD" list --device 11e8)
[ "$(grep -c '^0x' <<<"$out")" -eq 1 ] && grep -q "\[1234:11e8\]" <<<"$out" && ok ||
	bad "--device 11e8 gave: $out"
out=$("$UDD" list --vendor 1234 --device 0d02)
[ "$(grep -c '^0x' <<<"$out")" -eq 1 ] && grep -q "\[1234:0d02\]" <<<"$out" && ok ||
	bad "--vendor 1234 --device 0d02 gave: $out"
out=$("$UDD" list --vendor 1234)
[ "$(grep -c '\[1234:' <<<"$out")" -ge 3 ] && ok || bad "--vendor 1234 gave: $out"
out=$("$UDD" list --vendor 0xabcd)
[ -z "$out" ] && ok || bad "--vendor abcd should list nothing: $out"
out=$("$UDD" list --class "$EDU_CLASS")
grep -q "\[1234:11e8\]" <<<"$out" && ok || bad "--class $EDU_CLASS lacks the edu: $out"
out=$("$UDD" list --class "${EDU_CLASS:0:2}")
grep -q "\[1234:11e8\]" <<<"$out" && ok || bad "--class ${EDU_CLASS:0:2} lacks the edu: $out"
other=$(printf '%06x' $(( (0x$EDU_CLASS ^ 0x010000) )))
out=$("$UDD" list --class "$other/ff0000")
grep -q "\[1234:11e8\]" <<<"$out" && bad "--class $other/ff0000 shows the edu" || ok
out=$("$UDD" list --json --device 0d01)
python3 -c 'import json,sys; d=json.loads(sys.argv[1]); assert len(d)==1 and d[0]["device_id"]=="0d01"' "$out" &&
	ok || bad "--json --device 0d01 gave: $out"
expect 1 "bad vendor" "$UDD" list --vendor xyz
expect 1 "bad class" "$UDD" list --class 1234567

# --- info --------------------------------------------------------------------
allinfo=""
for f in $ALL_FDIDS; do
	i=$("$UDD" info "$f") || bad "udd info $f failed"
	allinfo+="$i"$'\n'
done
info_edu=$("$UDD" info "$EDU")
grep -q "Vendor: .*\[1234\]" <<<"$info_edu" && grep -q "Device: .*\[11e8\]" <<<"$info_edu" && ok ||
	bad "info edu lacks its ids: $info_edu"
grep -qE "MSI: Enable[-+] Count=[0-9]+/[0-9]+ .*64bit[-+]" <<<"$info_edu" && ok ||
	bad "info edu lacks a decoded MSI: $info_edu"
grep -qE "Region 1 \(bar0\): memory, size 1M" <<<"$info_edu" && ok ||
	bad "info edu lacks BAR0 1M: $info_edu"
for pat in "MSI-X: Enable[-+] Count=[0-9]+" "Vector table: BAR=[0-5] offset=[0-9a-f]{8}" \
	"Express \(v[0-9]\) [A-Z]" "Device Serial Number ([0-9a-f]{2}-){7}[0-9a-f]{2}" \
	"Power Management version [0-9]"; do
	grep -qE "$pat" <<<"$allinfo" && ok || bad "no device's info shows /$pat/"
done
# info by hex fdid works the same
[ "$("$UDD" info "$edu_hex")" = "$info_edu" ] && ok || bad "info by hex fdid differs"

# --- read / write -----------------------------------------------------------------
# Each command is one borrow, and a simulated device is powered on afresh when its
# last borrower returns it: a write is seen by -r (read back in the same borrow),
# and the next command finds the power-on value (0), not the last one's data.
out=$("$UDD" write "$BE" bar0 4 0xdeadbeef -r)
[ "$out" = "0xdeadbeef" ] && ok || bad "be scratch32 read back '$out'"
out=$("$UDD" read "$BE" bar0 4)
[ "$out" = "0x00000000" ] && ok || bad "be scratch32 survived its borrower: '$out'"
out=$("$UDD" write "$BE" bar0 8 0x0123456789abcdef -w 64 --read-back)
[ "$out" = "0x0123456789abcdef" ] && ok || bad "be scratch64 read back '$out'"
expect 0 "^$" "$UDD" write "$BE" bar0 8 0x0123456789abcdef -w 64
# by rnumber and with the width before the operands
out=$("$UDD" write -w 32 "$BE" "$BE_BAR0_R" 4 0xdeadbeef -r)
[ "$out" = "0xdeadbeef" ] && ok || bad "write by rnumber read back '$out'"
# 8-bit write into the 32-bit scratch, seen through an 8-bit read (raw bytes)
out=$("$UDD" write "$BE" bar0 4 0x11 -w 8 -r)
[ "$out" = "0x11" ] && ok || bad "8-bit read back '$out'"
# config space writes read back too (the command register's memory-enable bit)
out=$("$UDD" write "$EDU" cfg 4 0x0002 -w 16 -r)
[ "$out" = "0x0002" ] && ok || bad "cfg command read back '$out'"
# the id register of the be device is big-endian: raw bytes 0d 02 be 00
out=$("$UDD" read "$BE" bar0 0)
[ "$out" = "0x00be020d" ] && ok || bad "be id read raw '$out' (expected 0x00be020d)"
# config space: vendor and device id
out=$("$UDD" read "$EDU" cfg 0 -w 16)
[ "$out" = "0x1234" ] && ok || bad "cfg vendor id '$out'"
out=$("$UDD" read "$EDU" 0 2 -w 16)
[ "$out" = "0x11e8" ] && ok || bad "cfg device id '$out'"
out=$("$UDD" read "$EDU" bar0 0)
[ "$out" = "0x010000ed" ] && ok || bad "edu id '$out'"

# --- bad input: exit 1 and a message -------------------------------------------------
unknown=4294967295
for f in $ALL_FDIDS; do [ "$f" = "$unknown" ] && unknown=4294967294; done
expect 1 "no device with fdid" "$UDD" info "$unknown"
expect 1 "no device with fdid" "$UDD" read "$unknown" bar0 0
expect 1 "bad fdid" "$UDD" info 12abc
expect 1 "bad fdid" "$UDD" read 0x bar0 0
expect 1 "bad width" "$UDD" read "$BE" bar0 4 -w 12
expect 1 "bad width" "$UDD" write "$BE" bar0 4 1 -w 0
expect 1 "not aligned" "$UDD" read "$BE" bar0 2
expect 1 "not aligned" "$UDD" write "$BE" bar0 4 0 -w 64
expect 1 "outside" "$UDD" read "$BE" bar0 "$BE_BAR0_SIZE"
expect 1 "outside" "$UDD" read "$BE" bar0 $((BE_BAR0_SIZE + 8)) -w 64
expect 1 "outside" "$UDD" read "$BE" cfg 0x100000
expect 1 "does not fit" "$UDD" write "$BE" bar0 4 0x100 -w 8
expect 1 "does not fit" "$UDD" write "$BE" bar0 4 0x100000000
expect 1 "bad value" "$UDD" write "$BE" bar0 4 zz
expect 1 "bad offset" "$UDD" read "$BE" bar0 4x
expect 1 "bad register set|no bar" "$UDD" read "$BE" bar9 0
expect 1 "out of range" "$UDD" read "$BE" 99 0

echo "test_tool: $checks checks, $fails failures"
[ "$fails" -eq 0 ]
