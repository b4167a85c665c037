#!/usr/bin/env bash
# bench/nn.sh — Moonshine-tiny transcription speed and memory: stepd's own engine (src/nn,
# `stepd nn moonshine`) against onnxruntime-node (tests/nn/moonshine_ref.js) on the same
# audio in the same run, both on 2 threads, greedy decoding driven the same way.
# Audio: English speech rendered by flite (a ~5 s sentence and a ~25 s passage).
# Prints a table and appends a dated section to bench/RESULTS.md.
# Targets (issue 12): real-time factor <= 0.1, time within 1.5x of onnxruntime, peak RSS <= 200 MB.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${STEPD_BIN:-build/stepd}
MODEL=${STEPD_NN_MODEL_DIR:-build-data/nn/moonshine-tiny}
RUNS=${RUNS:-3}
[ -x "$BIN" ] || { echo "bench/nn.sh: build first (make)"; exit 1; }
[ -r "$MODEL/encoder_model.onnx" ] || { echo "bench/nn.sh: model missing: run packages/nn.data.sh"; exit 1; }
[ -d build-data/nn/ort/node_modules/onnxruntime-node ] || { echo "bench/nn.sh: onnxruntime-node missing: run packages/nn.data.sh"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$BIN" ai speak "The quick brown fox jumps over the lazy dog. It was a sunny day in the park." -o "$tmp/short.wav" >/dev/null
"$BIN" ai speak "Good morning everyone, and welcome to the weekly project meeting. Today we will review the release schedule, discuss the open bugs in the payment service, and decide who takes over the documentation while Sarah is on holiday. The new build server is finally running, so every change is now tested within fifteen minutes. Please remember to update your tickets before Friday." -o "$tmp/long.wav" >/dev/null

py=/usr/bin/python3
printf '%-8s %-9s %7s %9s %9s %8s %8s %8s\n' audio engine seconds encode_ms decode_ms rtf cpu_s rss_mb
declare -A RTF
for f in short long; do
    for e in stepd ort; do
        best=""
        for r in $(seq "$RUNS"); do
            if [ $e = stepd ]; then
                out=$(STEPD_NN_MODEL_DIR="$MODEL" /usr/bin/time -f '%M %U %S' -o "$tmp/time" "$BIN" nn moonshine "$tmp/$f.wav" --threads 2)
                line=$($py -c 'import json,sys; d=json.loads(sys.stdin.read()); print(d["seconds"], d["encodeMs"], d["decodeMs"])' <<<"$out")
            else
                out=$(/usr/bin/time -f '%M %U %S' -o "$tmp/time" node tests/nn/moonshine_ref.js "$MODEL" "$tmp/$f.wav" --threads 2)
                line=$($py -c 'import json,sys; d=json.loads(sys.stdin.readline()); print(d["seconds"], d["encodeMs"], d["decodeMs"])' <<<"$out")
            fi
            read -r sec enc dec <<<"$line"
            read -r rss usr sys <"$tmp/time"
            tot=$($py -c "print(($enc + $dec) / 1000)")
            if [ -z "$best" ] || $py -c "import sys; sys.exit(0 if $tot < ${best%% *} else 1)"; then
                best="$tot $sec $enc $dec $rss $usr $sys"
            fi
        done
        read -r tot sec enc dec rss usr sys <<<"$best"
        rtf=$($py -c "print(round($tot / $sec, 4))")
        RTF[$f.$e]=$rtf
        printf '%-8s %-9s %7.2f %9.0f %9.0f %8s %8.2f %8.0f\n' "$f" "$e" "$sec" "$enc" "$dec" "$rtf" \
            "$($py -c "print($usr + $sys)")" "$($py -c "print($rss / 1024)")" | tee -a "$tmp/table"
    done
done
ratio_s=$($py -c "print(round(${RTF[short.stepd]} / ${RTF[short.ort]}, 2))")
ratio_l=$($py -c "print(round(${RTF[long.stepd]} / ${RTF[long.ort]}, 2))")
echo "stepd / onnxruntime time: short ${ratio_s}x, long ${ratio_l}x (best of $RUNS; cpu_s and rss_mb include model load)"
{
    echo
    echo "## nn (Moonshine-tiny) — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), load $(cut -d' ' -f1 /proc/loadavg)"
    echo
    echo "Transcription of flite speech, 2 threads, best of $RUNS; rtf = (encode + decode) / audio seconds."
    echo
    echo '```'
    printf '%-8s %-9s %7s %9s %9s %8s %8s %8s\n' audio engine seconds encode_ms decode_ms rtf cpu_s rss_mb
    cat "$tmp/table"
    echo "stepd / onnxruntime time: short ${ratio_s}x, long ${ratio_l}x"
    echo '```'
} >>bench/RESULTS.md
