#!/usr/bin/env bash
# nn_default_engine: with the Moonshine model installed, `stepd ai transcribe` uses it by
# default ("language":"en", modern spelling of "tomorrow"); pocketsphinx stays the fallback:
# chosen by STEPD_SPEECH_ENGINE=pocketsphinx, by a pocketsphinx --model directory, and when
# the Moonshine model is missing. A bad STEPD_SPEECH_ENGINE is an error naming it.
# Skips (77) without the model (packages/nn.data.sh).
set -uo pipefail
BIN=${STEPD_BIN:-build/stepd}
ROOT=${STEPD_ROOT:-.}
MODEL=${STEPD_NN_MODEL_DIR:-$ROOT/build-data/nn/moonshine-tiny}
if [ ! -r "$MODEL/encoder_model.onnx" ]; then
    echo "skip: Moonshine model not installed in $MODEL (run packages/nn.data.sh)"
    exit 77
fi
export STEPD_NN_MODEL_DIR=$MODEL
unset STEPD_SPEECH_ENGINE
fail() { echo "FAIL: $*"; exit 1; }
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
"$BIN" ai speak "Please call me back tomorrow morning." -o "$tmp/a.wav" >/dev/null || fail "speak"

lang() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["language"], d["text"])'; }

out=$("$BIN" ai transcribe "$tmp/a.wav" | lang) || fail "default transcribe"
echo "default: $out"
[[ $out == "en Please call me back tomorrow morning." ]] || fail "default engine is not Moonshine: $out"

out=$(STEPD_SPEECH_ENGINE=pocketsphinx "$BIN" ai transcribe "$tmp/a.wav" | lang) || fail "pocketsphinx"
echo "STEPD_SPEECH_ENGINE=pocketsphinx: $out"
[[ $out == en-US* && $out == *tomorrow* ]] || fail "STEPD_SPEECH_ENGINE=pocketsphinx: $out"

out=$("$BIN" ai transcribe "$tmp/a.wav" --engine pocketsphinx | lang) || fail "--engine pocketsphinx"
[[ $out == en-US* ]] || fail "--engine pocketsphinx: $out"

out=$(STEPD_SPEECH_ENGINE=moonshine "$BIN" ai transcribe "$tmp/a.wav" | lang) || fail "moonshine"
[[ $out == "en "* ]] || fail "STEPD_SPEECH_ENGINE=moonshine: $out"

ps=/usr/share/pocketsphinx/model/en-us
if [ -d "$ps" ]; then
    out=$("$BIN" ai transcribe "$tmp/a.wav" --model "$ps" | lang) || fail "--model $ps"
    [[ $out == en-US* ]] || fail "a pocketsphinx --model must keep pocketsphinx: $out"
fi

out=$(STEPD_NN_MODEL_DIR=$tmp/none "$BIN" ai transcribe "$tmp/a.wav" | lang) || fail "no model"
echo "without the model: $out"
[[ $out == en-US* ]] || fail "without the Moonshine model the default must be pocketsphinx: $out"

msg=$(STEPD_SPEECH_ENGINE=whisper "$BIN" ai transcribe "$tmp/a.wav" 2>&1 >/dev/null); rc=$?
echo "STEPD_SPEECH_ENGINE=whisper -> $rc: $msg"
[ $rc -eq 1 ] && [[ $msg == *STEPD_SPEECH_ENGINE*whisper* ]] || fail "bad STEPD_SPEECH_ENGINE: $msg"
echo "default engine ok"
