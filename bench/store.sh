#!/usr/bin/env bash
# bench/store.sh — writes/s of the SQLite state/queue adapter (group commit through one writer
# thread) against the same work on plain SQLite with one transaction per write, both measured
# in this run on the same disk. Prints a table and appends a dated section to bench/RESULTS.md.
#   bash bench/store.sh            (BUILD=build, 2 s per case, 24 cases: about 60 s)
#   STORE_BENCH_SECONDS=5 BUILD=build-store bash bench/store.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
secs=${STORE_BENCH_SECONDS:-2}

make -s -j2 BUILD="$BUILD" "$BUILD/libstepd.a" >/dev/null ||
    { echo "store.sh: cannot build $BUILD/libstepd.a (see make output)" >&2; exit 1; }
mkdir -p "$BUILD/bench"
cc -std=c11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wno-missing-field-initializers \
    -Iinclude -Isrc $(pkg-config --cflags sqlite3 jansson) bench/store_bench.c \
    -o "$BUILD/bench/store_bench" "$BUILD/libstepd.a" $(pkg-config --libs sqlite3 jansson) -lpthread

# On the project's disk (like DIR/.stepd/), not /tmp, which may be tmpfs elsewhere.
mkdir -p bench/tmp
dir=$(mktemp -d bench/tmp/store.XXXXXX)
trap 'rm -rf "$dir"' EXIT
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
raw=$("$BUILD/bench/store_bench" "$dir" "$secs")
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

table=$(echo "$raw" | awk -F'\t' '
    BEGIN { printf "| workload | threads | durability | stepd (group commit) ops/s | plain SQLite ops/s | ratio |\n|---|---:|---|---:|---:|---:|\n" }
    { r = ($5 > 0) ? sprintf("%.2fx", $4 / $5) : "-";
      printf "| %s | %d | %s | %d | %d | %s |\n", $1, $2, ($3 == "fsync") ? "synchronous=FULL" : "synchronous=NORMAL", $4, $5, r }')
echo "$table"

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
{
    echo
    echo "## store — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(nproc) cores ($cpu), $(uname -sr), SQLite $(sqlite3 --version | cut -d' ' -f1)," \
         "ext4 disk; load average before/after: $load_before / $load_after (shared machine)."
    echo "Ops/s over ${secs} s per case. push+claim+ack = one message pushed, claimed and acked" \
         "(three durable writes) per op. state.set async = the write as a handler makes it" \
         "(queued without waiting; counted when its commit is reported; 256 in flight per thread)." \
         "Peer: plain SQLite, same tables, statements and pragmas" \
         "(WAL), one transaction per write, one connection shared by the threads behind a mutex."
    echo
    echo "$table"
} >>bench/RESULTS.md
echo "appended to bench/RESULTS.md"
