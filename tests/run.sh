#!/usr/bin/env bash
# Runs every unit test binary (cmocka) and every integration script, then prints one
# summary line "tests: N passed, N failed, N skipped". Exit status 1 if anything failed.
#   BUILD=build tests/run.sh [PATTERN]     PATTERN filters test names (grep -E)
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
export STEPD_BIN="$PWD/$BUILD/stepd" STEPD_ROOT="$PWD" BUILD
pattern=${1:-.}
pass=0 fail=0 skip=0 failed_names=()
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

for t in "$BUILD"/tests/test_*; do
    [ -x "$t" ] || continue
    name=$(basename "$t")
    echo "$name" | grep -qE "$pattern" || continue
    "$t" >"$log/out" 2>&1
    rc=$?
    cat "$log/out"
    p=$(grep -c '^\[       OK \]' "$log/out")
    f=$(grep -cE '^\[  (FAILED|ERROR)   ?\] test' "$log/out")
    s=$(grep -c '^\[  SKIPPED \] test' "$log/out")
    if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then f=1; fi
    pass=$((pass + p)) fail=$((fail + f)) skip=$((skip + s))
    [ "$f" -gt 0 ] && failed_names+=("$name (exit $rc)")
done

for t in tests/integration/*.sh; do
    [ -f "$t" ] || continue
    name=$(basename "$t" .sh)
    echo "$name" | grep -qE "$pattern" || continue
    echo "[ RUN      ] integration/$name"
    start=$(date +%s)
    bash "$t" >"$log/out" 2>&1
    rc=$?
    sed 's/^/    /' "$log/out"
    took=$(( $(date +%s) - start ))
    if [ $rc -eq 0 ]; then
        pass=$((pass + 1)); echo "[       OK ] integration/$name (${took}s)"
    elif [ $rc -eq 77 ]; then
        skip=$((skip + 1)); echo "[  SKIPPED ] integration/$name: $(tail -n1 "$log/out")"
    else
        fail=$((fail + 1)); failed_names+=("integration/$name (exit $rc)")
        echo "[  FAILED  ] integration/$name (${took}s)"
    fi
done

echo "$pass $fail $skip" >"$BUILD/test-summary"
echo
for n in "${failed_names[@]}"; do echo "FAILED: $n"; done
if [ "$skip" -gt 0 ]; then
    echo "tests: $pass passed, $fail failed, $skip skipped"
else
    echo "tests: $pass passed, $fail failed"
fi
[ "$fail" -eq 0 ] && [ $((pass + fail)) -gt 0 ]
