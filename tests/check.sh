#!/usr/bin/env bash
# The full test suite, as CI runs it: release build + tests, then the same tests on an
# ASan+UBSan build, then short libFuzzer runs of every fuzz target.
set -uo pipefail
cd "$(dirname "$0")/.."
jobs=$(nproc)
echo "== release build and tests"
make -s -j"$jobs" build/stepd || exit 1
rm -f build/test-summary build-asan/test-summary
make -s -j"$jobs" test || true
read -r p1 f1 s1 <build/test-summary 2>/dev/null || { p1=0 f1=1 s1=0; }
echo "== ASan + UBSan build and tests"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
make -s -j"$jobs" asan || true
read -r p2 f2 s2 <build-asan/test-summary 2>/dev/null || { p2=0 f2=1 s2=0; }
echo "== fuzz (short runs)"
fz_fail=0
tests/fuzz/run.sh "${FUZZ_SECONDS:-10}" || fz_fail=1
pass=$((p1 + p2)) fail=$((f1 + f2 + fz_fail)) skip=$((s1 + s2))
echo
echo "release: $p1 passed, $f1 failed; asan: $p2 passed, $f2 failed; fuzz: $([ $fz_fail = 0 ] && echo clean || echo FAILED)"
if [ "$skip" -gt 0 ]; then echo "check: $pass passed, $fail failed, $skip skipped"; else echo "check: $pass passed, $fail failed"; fi
[ "$fail" -eq 0 ]
