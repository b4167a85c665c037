#!/usr/bin/env bash
# Builds the libFuzzer targets and runs each for N seconds (default 20) from its seed corpus.
set -euo pipefail
cd "$(dirname "$0")/../.."
secs=${1:-20}
make -s fuzz FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
n=0
for f in ${FUZZ_BUILD:-build-fuzz}/fuzz/fuzz_*; do
    [ -x "$f" ] || continue
    name=$(basename "$f")
    corpus=tests/fuzz/corpus/${name#fuzz_}
    work=$(mktemp -d)
    [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
    echo "fuzz: $name for ${secs}s"
    "$f" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=10 -print_final_stats=0 "$work" 2>&1 | tail -n 3
    rm -rf "$work"
    n=$((n + 1))
done
echo "fuzz: $n targets ran clean"
