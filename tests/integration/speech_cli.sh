#!/usr/bin/env bash
# speech_cli: `stepd ai speak` writes a WAV that `stepd ai transcribe` reads back; help, usage
# errors (exit 2) and bad files (exit 1 with a message naming the file) behave.
set -uo pipefail
: "${STEPD_BIN:?STEPD_BIN not set}"
PY=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$STEPD_BIN" ai speak --help | grep -q "usage: stepd ai speak" || fail "speak --help"
"$STEPD_BIN" ai transcribe --help | grep -q "usage: stepd ai transcribe" || fail "transcribe --help"
"$STEPD_BIN" ai speak "hello" 2>/dev/null; [ $? -eq 2 ] || fail "speak without -o must exit 2"
"$STEPD_BIN" ai transcribe 2>/dev/null; [ $? -eq 2 ] || fail "transcribe without FILE must exit 2"
"$STEPD_BIN" ai speak hi -o "$tmp/x.wav" --rate abc 2>/dev/null; [ $? -eq 2 ] || fail "bad --rate"

out=$("$STEPD_BIN" ai speak "Please call me back tomorrow morning." -o "$tmp/a.wav" --voice rms) \
    || fail "speak failed"
echo "speak: $out"
$PY -c 'import json,sys; d=json.loads(sys.argv[1]); assert d["sampleRate"]==16000 and d["durationSec"]>1.5, d' "$out" \
    || fail "speak JSON"
$PY -c 'import wave,sys; w=wave.open(sys.argv[1]); assert w.getnchannels()==1 and w.getsampwidth()==2 and w.getframerate()==16000 and w.getnframes()>24000' "$tmp/a.wav" \
    || fail "not a 16-bit mono WAV"

# pinned to pocketsphinx (the fallback engine: en-US, real word times); the default engine
# (Moonshine when installed) reads stdin below and is covered by tests/integration/nn_*.sh
js=$(STEPD_SPEECH_ENGINE=pocketsphinx "$STEPD_BIN" ai transcribe "$tmp/a.wav") || fail "transcribe failed"
echo "transcribe: $js"
$PY - "$js" <<'PY' || fail "transcript JSON"
import json, sys
d = json.loads(sys.argv[1])
assert {"text", "words", "language", "durationSec"} <= d.keys(), d.keys()
assert "call" in d["text"] and "tomorrow" in d["text"], d["text"]
w = d["words"][0]
assert {"word", "start", "end", "confidence"} <= w.keys() and w["end"] > w["start"]
assert d["language"] == "en-US" and d["noSpeech"] is False
PY

# stdin
"$STEPD_BIN" ai transcribe - < "$tmp/a.wav" | grep -q '"call' || fail "transcribe from stdin"

# espeak-ng, another language
out=$("$STEPD_BIN" ai speak "Bonjour tout le monde." -o "$tmp/fr.wav" --lang fr) || fail "espeak fr"
echo "$out" | grep -q '"sampleRate":22050' || fail "espeak rate: $out"

# unknown voice: exit 1, lists the installed ones
msg=$("$STEPD_BIN" ai speak hi -o "$tmp/b.wav" --voice nobody 2>&1); rc=$?
[ $rc -eq 1 ] && echo "$msg" | grep -q "slt, rms, awb, kal16" || fail "unknown voice ($rc): $msg"

# silence: success with noSpeech
$PY -c 'import wave; w=wave.open("'"$tmp"'/s.wav","wb"); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000); w.writeframes(b"\0\0"*8000*3)'
"$STEPD_BIN" ai transcribe "$tmp/s.wav" | grep -q '"noSpeech":true' || fail "silence"

# bad files: exit 1, message names the file
: > "$tmp/empty.wav"
echo "not audio" > "$tmp/note.mp3"
for f in empty.wav note.mp3 missing.ogg; do
    msg=$("$STEPD_BIN" ai transcribe "$tmp/$f" 2>&1 >/dev/null); rc=$?
    echo "$f -> $rc: $msg"
    [ $rc -eq 1 ] && echo "$msg" | grep -q "$f" || fail "$f"
done
# the neural engine on request: transcribes when its model is installed (packages/nn.data.sh),
# otherwise says how to install it; a bad engine name is a usage error
"$STEPD_BIN" ai transcribe x.wav --engine nope 2>/dev/null; [ $? -eq 2 ] || fail "--engine nope must exit 2"
"$STEPD_BIN" ai speak "Please call me back tomorrow morning." -o "$tmp/m.wav" >/dev/null || fail "speak for moonshine"
if out=$("$STEPD_BIN" ai transcribe "$tmp/m.wav" --engine moonshine 2>&1); then
    echo "moonshine: ${out:0:80}"
    echo "$out" | grep -qi '"text":"please call me back' || fail "moonshine transcript: $out"
else
    echo "$out" | grep -q "nn.data.sh" || fail "moonshine without a model must name packages/nn.data.sh: $out"
    echo "moonshine model not installed: error names packages/nn.data.sh"
fi
echo "speech CLI ok"
