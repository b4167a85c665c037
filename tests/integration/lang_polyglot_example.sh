#!/usr/bin/env bash
# examples/polyglot end to end: the JavaScript API step (with JS middleware and a JSON-Schema
# body) emits to the Python event step, which completes the record; a JS step reads it back.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed"; exit 77; }
dir="$TMP/polyglot"
cp -r "$STEPD_ROOT/examples/polyglot" "$dir"
rm -rf "$dir/.stepd"
start_server "$dir" start
expect "$(http POST /ai/chat '{"message":"hi"}')" '401 *missing bearer token*' "no token"
expect "$(http POST /ai/chat '{"message":"hi"}' -H 'authorization: Bearer nope')" '401 *invalid token*' "bad token"
expect "$(http POST /ai/chat '{}' -H 'authorization: Bearer demo-ann')" '400 *"field":"message"*' "schema"
out=$(http POST /ai/chat '{"message":"hello there"}' -H 'authorization: Bearer demo-ann')
expect "$out" '202 {"chatId":"*"}' "accepted"
id=$(echo "$out" | sed 's/.*"chatId":"\([0-9a-f]*\)".*/\1/')
for _ in $(seq 50); do
    out=$(http GET "/ai/chat/$id" "" -H 'authorization: Bearer demo-ann')
    case "$out" in *completed*) break ;; esac
    sleep 0.1
done
expect "$out" '200 *"status":"completed"*' "completed record"
contains "$out" '"response":"You said: hello there"' "reply from the Python step"
contains "$out" '"userId":"ann"' "user attached by the JS middleware"
expect "$(http GET "/ai/chat/$id" "" -H 'authorization: Bearer demo-bob')" '404 *' "other users cannot read it"
stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "exit code $EXIT_CODE after SIGTERM"
grep -q '"msg":"chat completed"' "$LOG" || fail "the Python logger line is missing"
echo "polyglot example ok"
