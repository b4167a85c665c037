#!/usr/bin/env bash
# speech_flow: runs examples/speech with the real runtime: POST /speech synthesises a WAV
# (speech.synthesized), POST /audio (raw body and multipart) transcribes it back
# (speech.transcribed), a text upload is refused with 415, GET /audio/:id/meta shows results
# and GET /audio/:id answers Range requests with the right Content-Range.
set -uo pipefail
: "${STEPD_BIN:?}" "${STEPD_ROOT:?}"
command -v curl >/dev/null || { echo "curl is not installed"; exit 77; }
PY=/usr/bin/python3
tmp=$(mktemp -d)
cp -r "$STEPD_ROOT/examples/speech" "$tmp/app"
export STEPD_AUDIO_DIR="$tmp/store"
(cd "$tmp/app" && exec "$STEPD_BIN" start . --port 0 --port-file "$tmp/port" >"$tmp/log" 2>&1) &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$tmp/log"; exit 1; }
for _ in $(seq 1 120); do [ -s "$tmp/port" ] && break; sleep 0.5; done
[ -s "$tmp/port" ] || fail "server did not start"
base="http://127.0.0.1:$(cat "$tmp/port")"
field() { $PY -c 'import json,sys; d=json.loads(sys.argv[1]); print(d.get(sys.argv[2], ""))' "$1" "$2"; }
wait_status() { # id wanted
    for _ in $(seq 1 180); do
        m=$(curl -s "$base/audio/$1/meta"); s=$(field "$m" status)
        [ "$s" = "$2" ] && { echo "$m"; return 0; }
        [ "$s" = failed ] && { echo "$m"; return 1; }
        sleep 0.5
    done
    echo "$m"; return 1
}

r=$(curl -s -XPOST "$base/speech" -H 'content-type: application/json' \
    -d '{"text":"Your order has shipped and will arrive on Friday.","voice":"rms"}')
sid=$(field "$r" id); [ -n "$sid" ] || fail "POST /speech: $r"
m=$(wait_status "$sid" synthesized) || fail "synthesis: $m"
echo "synthesized: $m"

# Range on the stored audio: 206 with the bytes, 416 past the end
h=$(curl -s -o /dev/null -D - "$base/audio/$sid" -H 'range: bytes=0-99' | tr -d '\r')
echo "$h" | grep -qi '^content-range: bytes 0-99/' || fail "no content-range: $h"
echo "$h" | grep -qi '^accept-ranges: bytes' || fail "no accept-ranges"
[ "$(curl -s "$base/audio/$sid" -H 'range: bytes=0-3')" = RIFF ] || fail "range 0-3 is not the WAV header"
[ "$(curl -s -o /dev/null -w '%{http_code}' "$base/audio/$sid" -H 'range: bytes=0-3')" = 206 ] || fail "range: not 206"
full=$(curl -s "$base/audio/$sid" | wc -c)
[ "$full" -gt 1000 ] || fail "whole file: $full bytes"
h=$(curl -s -o /dev/null -D - "$base/audio/$sid" -H 'range: bytes=999999999-' | tr -d '\r')
echo "$h" | grep -q '^HTTP/1.1 416' || fail "unsatisfiable range: $h"

# transcribe the synthesised WAV back, raw body and multipart
"$STEPD_BIN" ai speak "Please call me back tomorrow morning." -o "$tmp/msg.wav" >/dev/null || fail speak
r=$(curl -s -XPOST "$base/audio" -H 'content-type: audio/wav' --data-binary @"$tmp/msg.wav")
rid=$(field "$r" id); [ -n "$rid" ] || fail "POST /audio raw: $r"
r=$(curl -s -XPOST "$base/audio" -F "file=@$tmp/msg.wav;filename=note.mp3")
mid=$(field "$r" id); [ -n "$mid" ] || fail "POST /audio multipart: $r"
r=$(curl -s -w ' %{http_code}' -XPOST "$base/audio" --data-binary 'just text')
echo "$r" | grep -q ' 415$' || fail "text upload should be 415: $r"
for id in "$rid" "$mid"; do
    m=$(wait_status "$id" transcribed) || fail "transcription: $m"
    echo "transcribed: ${m:0:200}"
    echo "$m" | grep -q 'tomorrow' || fail "transcript: $m"
done
echo "$(curl -s "$base/audio/$mid/meta")" | grep -q '"format":"wav"' || fail "mislabelled upload"
echo "speech flow ok"
