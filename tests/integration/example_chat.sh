#!/usr/bin/env bash
# examples/chat end to end: auth middleware, 202 + chatId, the event step completes the record,
# GET returns it to its owner only, GET .../stream gives the reply as server-sent events.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
dir="$TMP/chat"
cp -r "$STEPD_ROOT/examples/chat" "$dir"
rm -rf "$dir/.stepd"
start_server "$dir" start
expect "$(http POST /ai/chat '{"message":"hi"}')" '401 *' "no token"
expect "$(http POST /ai/chat '{"message":"hi"}' -H 'authorization: Bearer nope')" '401 *' "bad token"
expect "$(http POST /ai/chat '{}' -H 'authorization: Bearer demo-ann')" '400 *"field":"message"*' "schema"
out=$(http POST /ai/chat '{"message":"hello there"}' -H 'authorization: Bearer demo-ann')
expect "$out" '202 {"chatId":"*"}' "accepted"
id=$(echo "$out" | sed 's/.*"chatId":"\([0-9a-f]*\)".*/\1/')
for _ in $(seq 50); do
    out=$(http GET "/ai/chat/$id" "" -H 'authorization: Bearer demo-ann')
    case "$out" in *completed*) break ;; esac
    sleep 0.1
done
expect "$out" '200 *"userId":"ann"*"status":"completed"*' "completed record"
expect "$out" '*"response":"You said: hello there (no model configured*' "stand-in reply without a model"
expect "$(http GET "/ai/chat/$id" "" -H 'authorization: Bearer demo-bob')" '404 *' "other users cannot read it"
expect "$(http GET "/ai/chat/$id/stream" "" -H 'authorization: Bearer demo-bob')" '404 *' "nor stream it"
out=$(curl -sN -m 10 -H 'authorization: Bearer demo-ann' "http://127.0.0.1:$PORT/ai/chat/$id/stream")
contains "$out" $'event: token\ndata: You said: hello there' "finished chat streamed from its record"
contains "$out" $'event: end\ndata: {"status":"completed"' "end event"
stop_server TERM

# with a model: the fake OpenAI-compatible server (echoes the user's message)
fake="$STEPD_ROOT/${BUILD:-build}/tests/test_llm"
[ -x "$fake" ] || fail "fake LLM server not built ($fake)"
"$fake" --serve >"$TMP/fake.port" &
FAKE=$!
BG+=("$FAKE")
for _ in $(seq 50); do [ -s "$TMP/fake.port" ] && break; sleep 0.1; done
# fake-slow answers after 3 s, so the stream below is followed live, token by token
OPENAI_BASE_URL="http://127.0.0.1:$(head -n1 "$TMP/fake.port")/v1" OPENAI_MODEL=fake-slow \
    start_server "$dir" start
out=$(http POST /ai/chat '{"message":"what is stepd"}' -H 'authorization: Bearer demo-ann')
id=$(echo "$out" | sed 's/.*"chatId":"\([0-9a-f]*\)".*/\1/')
# follow the reply while the model streams it
curl -sN -m 10 -H 'authorization: Bearer demo-ann' "http://127.0.0.1:$PORT/ai/chat/$id/stream" \
    >"$TMP/stream" || fail "chat stream did not end"
text=$(awk '/^event: token$/ {t = 1; next} t && /^data: / {printf "%s", substr($0, 7); t = 0}' "$TMP/stream")
[ "$text" = "Echo: what is stepd" ] || fail "streamed tokens: '$text' from $(cat "$TMP/stream")"
contains "$(cat "$TMP/stream")" $'event: end\ndata: {"status":"completed","response":"Echo: what is stepd"}' "end"
[ "$(grep -c '^event: token$' "$TMP/stream")" -gt 1 ] || fail "reply not streamed in tokens: $(cat "$TMP/stream")"
for _ in $(seq 100); do
    out=$(http GET "/ai/chat/$id" "" -H 'authorization: Bearer demo-ann')
    case "$out" in *completed*|*failed*) break ;; esac
    sleep 0.1
done
expect "$out" '200 *"status":"completed"*' "completed by the model"
contains "$out" '"response":"Echo: what is stepd"' "the model's reply"
stop_server TERM
kill "$FAKE" 2>/dev/null
wait "$FAKE" 2>/dev/null
echo "chat example ok"
