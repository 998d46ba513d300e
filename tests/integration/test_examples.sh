#!/bin/bash
# The example drivers run against the embedded simulated pool and print
# what they verified.
set -u
: "${UDD_BIN:?UDD_BIN must name the build directory}"
UDD_RUNTIME_DIR=$(mktemp -d)
export UDD_RUNTIME_DIR
trap 'rm -rf "$UDD_RUNTIME_DIR"' EXIT

fails=0
run() { # run PATTERN CMD...: exit 0 and a line matching PATTERN
	local pat=$1 out rc
	shift
	out=$("$@" 2>&1)
	rc=$?
	if [ "$rc" -ne 0 ]; then
		echo "FAIL: '$*' exited $rc: $out" >&2
		fails=$((fails + 1))
	elif ! grep -qE -- "$pat" <<<"$out"; then
		echo "FAIL: '$*' output lacks /$pat/: $out" >&2
		fails=$((fails + 1))
	else
		echo "$out"
	fi
}

run '^edu: id 0x010000ed, 10! = 3628800, DMA 2048 bytes verified, MSI received \(status 0x[0-9a-f]+\)$' \
	"$UDD_BIN/examples/edu/edu"
# twice: the device is left in a state the next driver can use
run '^edu: id 0x010000ed, 10! = 3628800, DMA 2048 bytes verified' "$UDD_BIN/examples/edu/edu"
run '^pio: device received "Hello from user space!"$' "$UDD_BIN/examples/pio/pio"
run '^pio: device received "udd, one char per interrupt"$' "$UDD_BIN/examples/pio/pio" \
	"udd, one char per interrupt"
run '^pio: device received "x"$' "$UDD_BIN/examples/pio/pio" x

# the benchmark's quick mode runs too (no timings checked)
if [ -x "$UDD_BIN/bench/bench_access" ]; then
	run '^udd_get32/put32 \(checked inline\) ' "$UDD_BIN/bench/bench_access" -q
	run '^trapped REGION_READ/WRITE \(edu 0x04\) ' "$UDD_BIN/bench/bench_access" -q
fi

echo "test_examples: $fails failures"
[ "$fails" -eq 0 ]
