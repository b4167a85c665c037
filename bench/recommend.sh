#!/usr/bin/env bash
# bench/recommend.sh — TF-IDF index build and similar-item queries on 100,000 generated
# products: stepd (`stepd ai recommend --bench`) against scikit-learn (TfidfVectorizer +
# cosine_similarity, Debian's python3-sklearn) in the same run, with peak memory of each.
# Prints a table and appends a dated section to bench/RESULTS.md.
#   N=100000 SK_QUERIES=300 QUERIES=20000 bash bench/recommend.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPD=${STEPD_BIN:-$PWD/$BUILD/stepd}
N=${N:-100000} QUERIES=${QUERIES:-20000} SK_QUERIES=${SK_QUERIES:-300} K=5
[ -x "$STEPD" ] || { echo "bench/recommend.sh: build stepd first ($STEPD)"; exit 1; }
/usr/bin/python3 -c 'import sklearn' 2>/dev/null || { echo "bench/recommend.sh: python3-sklearn is not installed"; exit 1; }
[ -x /usr/bin/time ] || { echo "bench/recommend.sh: /usr/bin/time (package 'time') is needed for peak memory"; exit 1; }
tmp=bench/tmp/recommend
mkdir -p "$tmp"
cat="$tmp/catalog-$N.json"
[ -s "$cat" ] || /usr/bin/python3 tests/support/recommend_gen.py "$N" 1 "$cat"

peak() { awk '/Maximum resident set size/ {print int($NF/1024)}' "$1"; }
field() { /usr/bin/python3 -c 'import json,sys; print(round(json.loads(open(sys.argv[1]).read())[sys.argv[2]], 1))' "$1" "$2"; }

/usr/bin/time -v "$STEPD" ai recommend --catalog "$cat" --bench "$QUERIES" -k $K >"$tmp/stepd.json" 2>"$tmp/stepd.time"
/usr/bin/time -v /usr/bin/python3 bench/recommend_sklearn.py "$cat" "$SK_QUERIES" $K >"$tmp/sk.json" 2>"$tmp/sk.time"

sb=$(field "$tmp/stepd.json" build_ms) ss=$(field "$tmp/stepd.json" single_thread_qps) sq=$(field "$tmp/stepd.json" batch_qps)
kb=$(field "$tmp/sk.json" build_ms) ks=$(field "$tmp/sk.json" single_qps) kq=$(field "$tmp/sk.json" batch_qps)
sm=$(peak "$tmp/stepd.time") km=$(peak "$tmp/sk.time")
threads=$(field "$tmp/stepd.json" threads)
ratio() { /usr/bin/python3 -c "import sys; print('%.1fx' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }

table=$(cat <<T
| $N products, top-$K | stepd | scikit-learn $(/usr/bin/python3 -c 'import sklearn; print(sklearn.__version__)') | stepd advantage |
|---|---|---|---|
| index build (ms) | $sb | $kb | $(ratio "$kb" "$sb") faster |
| similar-item queries/s, one at a time (1 thread) | $ss | $ks | $(ratio "$ss" "$ks") |
| similar-item queries/s, batched ($threads threads; sklearn 100 rows per call) | $sq | $kq | $(ratio "$sq" "$kq") |
| peak memory, whole process (MB) | $sm | $km | $(ratio "$km" "$sm") less |
T
)
echo "$table"
{
    echo
    echo "## recommend — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load average $(cut -d' ' -f1-3 /proc/loadavg) at the end of the run (shared machine: wall times of both sides are inflated alike). stepd: $QUERIES queries; scikit-learn: $SK_QUERIES queries (TfidfVectorizer() defaults on both sides; build excludes JSON parsing on both sides). Catalogue: tests/support/recommend_gen.py $N 1."
    echo
    echo "$table"
} >>bench/RESULTS.md
