#!/usr/bin/env bash
# bench/ocr.sh — OCR throughput and peak memory: stepd's ocr module against the `tesseract` CLI
# (same tesseract 5 library and eng data), same generated pages, same run, OMP_THREAD_LIMIT=1
# for both. Pages are invoices, receipts and ID cards rendered at 144 dpi (bench/ocr_gen.c).
#   per page:   one process per page (`stepd ai ocr page.png` vs `tesseract page.png stdout`)
#   multi-page: one N-page TIFF in one process (stepd with 1 and 2 threads vs tesseract)
# stepd's figures include its clean-up (gray, text-size upscaling, deskew) and field extraction.
# Prints a table and appends a dated section to bench/RESULTS.md.   N=12 bash bench/ocr.sh
set -euo pipefail
# never classify with a real model from a benchmark (OPENAI_* would send every page out)
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_MODEL STEPD_AI_MODEL
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPD=${STEPD_BIN:-$PWD/$BUILD/stepd}
N=${N:-12}
[ -x "$STEPD" ] || { echo "bench/ocr.sh: build stepd first ($STEPD)"; exit 1; }
command -v tesseract >/dev/null || { echo "bench/ocr.sh: the tesseract CLI (tesseract-ocr) is not installed"; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bash bench/ocr_gen.sh "$tmp/gen"
"$tmp/gen" "$tmp" "$N"
export OMP_THREAD_LIMIT=1

now() { date +%s.%N; }
# run CMD... : appends "peak-RSS-KiB user-s sys-s" of the process to $tmp/rss
run() { /usr/bin/time -f "%M %U %S" -a -o "$tmp/rss" "$@" >/dev/null 2>"$tmp/err" || { cat "$tmp/err"; exit 1; }; }
# peak: MiB of the largest process; cpu: pages per CPU-second (user + sys) of the runs logged
# since the last reset (the machine is shared, so CPU time is steadier than wall time)
peak() { sort -n "$tmp/rss" | tail -n1 | awk '{printf "%.0f", $1 / 1024}'; }
cpu() { awk -v n="$N" '{ c += $2 + $3 } END { printf "%.2f", n / c }' "$tmp/rss"; }
rate() { awk -v n="$N" -v s="$1" -v e="$2" 'BEGIN { printf "%.2f", n / (e - s) }'; }

run tesseract "$tmp/page_00.png" stdout # warm the page cache for both
run "$STEPD" ai ocr "$tmp/page_00.png"
rm -f "$tmp/rss"

s=$(now); for f in "$tmp"/page_*.png; do run tesseract "$f" stdout; done; e=$(now)
t_page=$(rate "$s" "$e"); t_page_mb=$(peak); t_page_cpu=$(cpu); rm -f "$tmp/rss"
s=$(now); for f in "$tmp"/page_*.png; do run "$STEPD" ai ocr "$f"; done; e=$(now)
s_page=$(rate "$s" "$e"); s_page_mb=$(peak); s_page_cpu=$(cpu); rm -f "$tmp/rss"
s=$(now); run tesseract "$tmp/pages.tif" stdout; e=$(now)
t_tif=$(rate "$s" "$e"); t_tif_mb=$(peak); t_tif_cpu=$(cpu); rm -f "$tmp/rss"
s=$(now); run "$STEPD" ai ocr "$tmp/pages.tif" --threads 1; e=$(now)
s_tif1=$(rate "$s" "$e"); s_tif1_mb=$(peak); s_tif1_cpu=$(cpu); rm -f "$tmp/rss"
s=$(now); run "$STEPD" ai ocr "$tmp/pages.tif" --threads 1 --no-upscale --no-deskew; e=$(now)
s_raw=$(rate "$s" "$e"); s_raw_cpu=$(cpu); rm -f "$tmp/rss"
s=$(now); run "$STEPD" ai ocr "$tmp/pages.tif" --threads 2; e=$(now)
s_tif2=$(rate "$s" "$e"); s_tif2_mb=$(peak); s_tif2_cpu=$(cpu); rm -f "$tmp/rss"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
tv=$(tesseract --version 2>&1 | head -n1)
table=$(cat <<T
| $N pages (144 dpi invoices, receipts, IDs) | stepd | tesseract CLI | stepd / tesseract |
|---|---|---|---|
| one process per page: pages/s (wall) | $s_page | $t_page | $(ratio "$s_page" "$t_page") |
| one process per page: pages per CPU-second | $s_page_cpu | $t_page_cpu | $(ratio "$s_page_cpu" "$t_page_cpu") |
| one process per page: peak RSS MiB | $s_page_mb | $t_page_mb | $(ratio "$s_page_mb" "$t_page_mb") |
| $N-page TIFF, 1 thread: pages/s (wall) | $s_tif1 | $t_tif | $(ratio "$s_tif1" "$t_tif") |
| $N-page TIFF, 1 thread: pages per CPU-second | $s_tif1_cpu | $t_tif_cpu | $(ratio "$s_tif1_cpu" "$t_tif_cpu") |
| $N-page TIFF, 1 thread, no upscale/deskew: pages per CPU-second | $s_raw_cpu | $t_tif_cpu | $(ratio "$s_raw_cpu" "$t_tif_cpu") |
| $N-page TIFF, 2 threads: pages/s (wall) | $s_tif2 | $t_tif (1 thread) | $(ratio "$s_tif2" "$t_tif") |
| $N-page TIFF: peak RSS MiB (1 / 2 threads) | $s_tif1_mb / $s_tif2_mb | $t_tif_mb | $(ratio "$s_tif2_mb" "$t_tif_mb") (2 threads) |
T
)
echo "$table"
{
    echo
    echo "## ocr — $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "Machine: $(getconf _NPROCESSORS_ONLN) CPUs, load average $(cut -d' ' -f1 /proc/loadavg) at the end of the run, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), shared with other jobs (wall-clock figures move with that load; CPU-second figures are steadier). Peer: $tv, \`tesseract FILE stdout\`, same pages and language data, OMP_THREAD_LIMIT=1 for both. stepd also cleans each page up (gray, text-size upscaling, deskew) and extracts fields; with 2 threads it OCRs two pages at once, one reused tesseract instance per thread."
    echo
    echo "$table"
} >>bench/RESULTS.md
