#!/usr/bin/env bash
# examples/chat end to end: auth middleware, 202 + chatId, the event step completes the record,
# GET returns it to its owner only.
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
expect "$out" '*"response":"You said: hello there"*' "reply"
expect "$(http GET "/ai/chat/$id" "" -H 'authorization: Bearer demo-bob')" '404 *' "other users cannot read it"
stop_server TERM
echo "chat example ok"
