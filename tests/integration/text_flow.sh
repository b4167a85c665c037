#!/usr/bin/env bash
# text_flow: runs examples/text with the real runtime: POST /text/analyze answers short texts
# inline (and stores them when a textId is given), queues long ones as text.analyze, whose
# handler stores text_analysis/textId and emits text.analysis.complete; GET reads results.
set -uo pipefail
: "${STEPD_BIN:?}" "${STEPD_ROOT:?}"
command -v curl >/dev/null || { echo "curl is not installed"; exit 77; }
[ -f /usr/lib/python3/dist-packages/pattern/text/en/en-sentiment.xml ] || [ -n "${STEPD_PATTERN_DIR:-}" ] ||
    { echo "python3-pattern is not installed (packages/text.apt)"; exit 77; }
PY=/usr/bin/python3
tmp=$(mktemp -d)
cp -r "$STEPD_ROOT/examples/text" "$tmp/app"
(cd "$tmp/app" && exec "$STEPD_BIN" start . --port 0 --port-file "$tmp/port" >"$tmp/log" 2>&1) &
pid=$!
cleanup() { kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -n 20 "$tmp/log"; exit 1; }
for _ in $(seq 1 120); do [ -s "$tmp/port" ] && break; sleep 0.5; done
[ -s "$tmp/port" ] || fail "server did not start"
base="http://127.0.0.1:$(cat "$tmp/port")"

r=$(curl -s -XPOST "$base/text/analyze" -H 'content-type: application/json' \
    -d '{"text":"Apple Inc. opened a great store in Paris! Customers loved it.","textId":"a1"}')
$PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["sentiment"]["classification"]["label"] == "POSITIVE", d
assert any(e["type"] == "GPE" and e["text"] == "Paris" for e in d["entities"]), d["entities"]
assert d["language"]["code"] == "en" and d["sentences"] == 2, d
' "$r" || fail "inline analysis: $r"
g=$(curl -s "$base/text/analysis/a1")
[ "$(echo "$g" | $PY -c 'import json,sys; print(json.load(sys.stdin)["textId"])')" = a1 ] || fail "stored: $g"

code=$(curl -s -o /dev/null -w '%{http_code}' -XPOST "$base/text/analyze" -H 'content-type: application/json' -d '{"nope":1}')
[ "$code" = 400 ] || fail "missing text should be 400, got $code"

$PY -c 'import json; print(json.dumps({"text": "The service was terrible and the food was cold. " * 2000, "textId": "big1"}))' >"$tmp/big.json"
r=$(curl -s -XPOST "$base/text/analyze" -H 'content-type: application/json' --data-binary @"$tmp/big.json")
echo "$r" | grep -q '"queued"' || fail "long text should be queued: $r"
for _ in $(seq 1 120); do
    g=$(curl -s "$base/text/analysis/big1")
    echo "$g" | grep -q '"complete"' && break
    sleep 0.5
done
$PY -c '
import json, sys
d = json.loads(sys.argv[1])
assert d["status"] == "complete" and d["sentences"] == 2000, d.get("status")
assert d["sentiment"]["classification"]["label"] == "NEGATIVE", d["sentiment"]
' "$g" || fail "queued analysis: ${g:0:300}"
grep -q '"text analysed"' "$tmp/log" || fail "text.analysis.complete was not handled"
echo "text flow ok"
