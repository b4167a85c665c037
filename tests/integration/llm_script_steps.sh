#!/usr/bin/env bash
# ctx.ai.chat from JavaScript and Python steps, against the fake OpenAI-compatible server:
# a JS API step answers with the model; a Python event step streams the model's tokens to a
# named stream that a client follows, then stores the answer; a model failure reaches the JS
# handler as a thrown error; without a model, the error says how to configure one.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
command -v node >/dev/null || fail "node is not installed (scripts/install-deps.sh installs it)"
fake="$STEPD_ROOT/${BUILD:-build}/tests/test_llm"
[ -x "$fake" ] || fail "fake LLM server not built ($fake)"
"$fake" --serve >"$TMP/fake.port" &
BG+=($!)
for _ in $(seq 50); do [ -s "$TMP/fake.port" ] && break; sleep 0.1; done
export OPENAI_BASE_URL="http://127.0.0.1:$(head -n1 "$TMP/fake.port")/v1" OPENAI_MODEL=fake-slow
dir=$(project llm_scripts)
start_server "$dir" start
U="http://127.0.0.1:$PORT"

# follow the Python step's stream before it starts (fake-slow answers after 3 s)
curl -sN -m 20 "$U/__stepd/streams/answers/a1" >"$TMP/stream" &
FOLLOW=$!
BG+=($FOLLOW)
out=$(curl -s -m 20 -X POST "$U/ask" -H 'content-type: application/json' \
    -d '{"q":"hello from js","id":"a1"}')
expect "$out" '{"answer":"Echo: hello from js","model":"fake-slow"}' "JS step answered by the model"
wait $FOLLOW || fail "stream follower did not end"
text=$(awk '/^event: token$/ {t = 1; next} t && /^data: / {printf "%s", substr($0, 7); t = 0}' "$TMP/stream")
[ "$text" = "Echo: hello from js" ] || fail "streamed tokens: '$text' from $(cat "$TMP/stream")"
[ "$(grep -c '^event: token$' "$TMP/stream")" -gt 1 ] || fail "not streamed in tokens"
contains "$(cat "$TMP/stream")" $'event: end\ndata: {"content":"Echo: hello from js"}' "end event"
for _ in $(seq 50); do
    v=$("$STEPD_BIN" state get answers a1 --port "$PORT" 2>/dev/null)
    [ -n "$v" ] && break
    sleep 0.1
done
expect "$v" '*"content":*"Echo: hello from js"*' "Python step stored the answer"
stop_server TERM

# a failing model: the JS handler catches the error thrown by ai.chat
OPENAI_MODEL=fake-500 start_server "$dir" start
out=$(curl -s -m 20 -X POST "http://127.0.0.1:$PORT/ask" -H 'content-type: application/json' \
    -d '{"q":"x","id":"a2"}')
expect "$out" '{"error":"*500*"}' "model failure thrown into the handler"
stop_server TERM

# no model at all: the error says how to configure one
env -u OPENAI_BASE_URL -u OPENAI_MODEL -u OPENAI_API_KEY "$STEPD_BIN" start "$dir" --port 0 \
    --host 127.0.0.1 --port-file "$TMP/port2" >"$TMP/nomodel.log" 2>&1 &
PID=$!
for _ in $(seq 100); do [ -s "$TMP/port2" ] && break; sleep 0.1; done
out=$(curl -s -m 20 -X POST "http://127.0.0.1:$(cat "$TMP/port2")/ask" \
    -H 'content-type: application/json' -d '{"q":"x","id":"a3"}')
expect "$out" '{"error":"*OPENAI*"}' "no model: how to configure one"
stop_server TERM
echo "    ai.chat from JS and Python ok"
