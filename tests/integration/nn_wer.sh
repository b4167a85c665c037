#!/usr/bin/env bash
# nn_wer: word error rate of the Moonshine recogniser (stepd nn transcribe: silence detection,
# segments, the neural model) on 20 sentences rendered with each flite voice (slt, rms, awb,
# kal16), numbers normalised before scoring (tests/support/nn_wer.py). Pooled WER must be
# <= 0.10 (onnxruntime with this model measured 0.07 on such audio). Skips (77) without the
# model (packages/nn.data.sh).
set -euo pipefail
BIN=${STEPD_BIN:-build/stepd}
ROOT=${STEPD_ROOT:-.}
MODEL=${STEPD_NN_MODEL_DIR:-$ROOT/build-data/nn/moonshine-tiny}
if [ ! -r "$MODEL/encoder_model.onnx" ]; then
    echo "skip: Moonshine model not installed in $MODEL (run packages/nn.data.sh)"
    exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/sentences.txt" <<'TXT'
The quick brown fox jumps over the lazy dog.
Please call me back when you get this message.
The meeting has been moved to Thursday afternoon.
I would like to order two coffees and a glass of water.
Our flight leaves at seven thirty tomorrow morning.
She bought three apples, four oranges and a loaf of bread.
The weather will be sunny with a high of twenty five degrees.
Turn left at the second traffic light and keep going straight.
He has been working at the hospital for eleven years.
Can you send me the report before the end of the day?
The library closes at nine on weekdays and at five on Sundays.
My phone number changed last week, so please update your records.
We need to finish the project before the holidays.
The children played in the garden until it started to rain.
This train stops at every station between here and the city.
I forgot my umbrella at the restaurant last night.
The new policy takes effect on the first of January.
Please remember to turn off the lights when you leave the room.
The museum is open every day except Monday.
They moved to a small house near the river in nineteen ninety nine.
TXT
refs="$tmp/refs.tsv"; : >"$refs"
files=()
for v in slt rms awb kal16; do
    i=0
    while IFS= read -r s; do
        i=$((i + 1))
        f="$tmp/$v-$i.wav"
        "$BIN" ai speak "$s" --voice "$v" -o "$f" >/dev/null
        printf '%s\t%s\t%s\n' "$v" "$f" "$s" >>"$refs"
        files+=("$f")
    done <"$tmp/sentences.txt"
done
start=$(date +%s.%N)
STEPD_NN_MODEL_DIR="$MODEL" "$BIN" nn transcribe "${files[@]}" >"$tmp/hyps.jsonl"
took=$(echo "$(date +%s.%N) - $start" | bc)
res=$(/usr/bin/python3 "$ROOT/tests/support/nn_wer.py" "$refs" "$tmp/hyps.jsonl" ${NN_WER_VERBOSE:+-v})
echo "nn_wer: $res (80 utterances transcribed in ${took}s)"
/usr/bin/python3 -c '
import json, sys
r = json.loads(sys.argv[1])
w = r["pooled"]["wer"]
sys.exit(0 if w <= 0.10 else 1)' "$res" || { echo "pooled WER above 0.10"; exit 1; }
