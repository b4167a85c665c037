#!/usr/bin/env bash
# nn_info: `stepd nn info` prints the shapes inferred at load — on small models from the fuzz
# corpus (always) and on the Moonshine encoder/decoder when installed — `--shapes` adds every
# value, and an inconsistent model is refused with the node and the shapes named.
set -uo pipefail
BIN=${STEPD_BIN:-build/stepd}
ROOT=${STEPD_ROOT:-.}
CORPUS=$ROOT/tests/fuzz/corpus/nn
MODEL=${STEPD_NN_MODEL_DIR:-$ROOT/build-data/nn/moonshine-tiny}
fail() { echo "FAIL: $*"; exit 1; }
shapes() { # shapes FILE [--shapes]: "name shape" per output (or per value)
    "$BIN" nn info "$@" | python3 -c '
import json, sys
d = json.load(sys.stdin)
for v in d.get("values", d["outputs"]):
    print(v["name"], json.dumps(v["shape"], separators=(",", ":")))'
}

out=$(shapes "$CORPUS/shape-heads.onnx") || fail "nn info shape-heads"
echo "shape-heads: $out"
[[ $out == 'z ["batch",2,"seq",8]' ]] || fail "heads: $out"
out=$(shapes "$CORPUS/shape-conv-range.onnx") || fail "nn info shape-conv-range"
[[ $out == *'r ["(n-1)/2+1"]'* && $out == *'c [1,2,"(n-1)/2+1"]'* ]] || fail "conv: $out"
out=$(shapes "$CORPUS/shape-heads.onnx" --shapes) || fail "nn info --shapes"
[[ $out == *'shp [4]'* && $out == *'y ["batch","seq",2,8]'* ]] || fail "--shapes: $out"

err=$("$BIN" nn info "$CORPUS/bad-matmul-inner.onnx" 2>&1 >/dev/null) && fail "bad model loaded"
echo "bad model: $err"
[[ $err == *"node 'n0' (MatMul): inner dimensions differ"*"[b, 3]"*"[4, 5]"* ]] || fail "$err"

if [ ! -r "$MODEL/encoder_model.onnx" ]; then
    echo "Moonshine not checked: model not installed in $MODEL (run packages/nn.data.sh)"
    exit 0
fi
out=$(shapes "$MODEL/encoder_model.onnx") || fail "nn info encoder"
echo "encoder: $out"
[[ $out == 'last_hidden_state ["batch_size","(((num_samples-127)/64-6)/3-2)/2+1",288]' ]] ||
    fail "encoder: $out"
out=$(shapes "$MODEL/decoder_model_merged.onnx" --shapes) || fail "nn info decoder"
[[ $out == *'logits ["batch_size","decoder_sequence_length",32768]'* ]] || fail "decoder logits"
[[ $out != *null* ]] || fail "decoder: a value of unknown shape: $(grep null <<<"$out" | head -3)"
echo "decoder: $(wc -l <<<"$out") values, all shapes inferred"
