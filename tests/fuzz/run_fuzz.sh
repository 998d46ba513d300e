#!/usr/bin/env bash
# Run the libFuzzer targets built in BUILD_DIR (make fuzz does this), each for
# SECONDS, on a scratch copy of its committed corpus plus its regress/ inputs:
# the committed corpus is never written to. Fails if any target found a crash,
# a leak or a timeout (-timeout=10: a hang is a finding too); the inputs are
# left in BUILD_DIR/fuzz-work/<target>/artifacts (see docs/fuzzing.md).
#   usage: run_fuzz.sh BUILD_DIR SECONDS [TARGET...]
#   extra libFuzzer flags: FUZZ_FLAGS="-jobs=2 -workers=2"
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "$1" && pwd)
secs=$2
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(fuzz_server fuzz_client)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1:handle_abort=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
failed=()
for t in "${targets[@]}"; do
	bin=$build/tests/fuzz/$t
	work=$build/fuzz-work/$t
	if [ ! -x "$bin" ]; then
		echo "run_fuzz: $bin is missing (build it with make fuzz)" >&2
		exit 2
	fi
	rm -rf "$work"
	mkdir -p "$work/corpus" "$work/artifacts"
	for d in "$here/corpus/$t" "$here/regress/$t"; do
		[ -d "$d" ] && find "$d" -maxdepth 1 -type f ! -name '.*' -exec cp {} "$work/corpus/" \;
	done
	echo "== $t: ${secs}s on $(ls "$work/corpus" | wc -l) seeds (log: $work/log) =="
	# shellcheck disable=SC2086
	"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=4096 -max_len=65536 \
		-print_final_stats=1 -artifact_prefix="$work/artifacts/" ${FUZZ_FLAGS:-} \
		"$work/corpus" >"$work/log" 2>&1
	rc=$?
	tail -n 15 "$work/log"
	found=$(find "$work/artifacts" -type f | wc -l)
	if [ $rc -ne 0 ] || [ "$found" -ne 0 ]; then
		echo "run_fuzz: $t FAILED (exit $rc); inputs in $work/artifacts:" >&2
		ls -l "$work/artifacts" >&2
		failed+=("$t")
	else
		echo "run_fuzz: $t: no crash in ${secs}s"
	fi
done
if [ ${#failed[@]} -gt 0 ]; then
	echo "run_fuzz: findings in: ${failed[*]}" >&2
	exit 1
fi
