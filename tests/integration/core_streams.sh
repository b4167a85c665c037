#!/usr/bin/env bash
# Streaming responses: a handler's own server-sent events reach the client as they are
# written (and it learns when the client leaves); named streams published by one handler
# reach every follower, late followers get the recent events, "end" ends them; the Workbench
# endpoint follows the same streams; the connection stays usable for the next request.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
dir=$(project streams)
start_server "$dir" start
U="http://127.0.0.1:$PORT"

# a handler's stream, with its headers, in order, ending when the handler returns
out=$(curl -sN -m 10 -D "$TMP/h" "$U/stream?n=3") || fail "stream request failed"
want=$'event: token\ndata: t0\n\nevent: token\ndata: t1\n\nevent: token\ndata: t2\n\ndata: two\ndata: lines\n\nevent: done\ndata: {}'
[ "$out" = "$want" ] || fail "stream body: got '$out'"
grep -qi '^content-type: text/event-stream' "$TMP/h" || fail "content type: $(cat "$TMP/h")"
grep -qi '^x-custom: yes' "$TMP/h" || fail "handler header lost: $(cat "$TMP/h")"
grep -qi '^cache-control: no-cache' "$TMP/h" || fail "no-cache missing"
expect "$("$STEPD_BIN" state get streams started --port "$PORT")" 'true' "write before the stream"

# tokens arrive while the handler still runs: the first is there long before the last
curl -sN -m 10 "$U/stream?n=40" >"$TMP/slow" &
BG+=($!)
sleep 0.3
grep -q 'data: t0' "$TMP/slow" || fail "first token not delivered while streaming"
grep -q 'event: done' "$TMP/slow" && fail "stream finished too early (not streamed?)"
wait "${BG[-1]}"
grep -q 'event: done' "$TMP/slow" || fail "long stream did not finish"

# the handler learns that its client left
curl -sN -m 0.5 "$U/forever" >/dev/null 2>&1
for _ in $(seq 50); do
    v=$("$STEPD_BIN" state get streams forever --port "$PORT" 2>/dev/null)
    [ -n "$v" ] && break
    sleep 0.1
done
expect "$v" '"client gone"' "write after the client left fails with STEP_ECLOSED"

# followers: live events, then "end" ends every follower
curl -sN -m 10 "$U/follow/c1" >"$TMP/f1" &
F1=$!
BG+=($F1)
curl -sN -m 10 "$U/__stepd/streams/t/c1" >"$TMP/f2" &
F2=$!
BG+=($F2)
sleep 0.3
expect "$(http POST /publish/c1 '{"event":"token","data":"hel"}')" '202 *' "publish"
expect "$(http POST /publish/c1 '{"event":"token","data":"lo"}')" '202 *' "publish"
sleep 0.2
grep -q 'data: lo' "$TMP/f1" || fail "live event not delivered to the follower: $(cat "$TMP/f1")"
kill -0 $F1 2>/dev/null || fail "follower ended before 'end'"
expect "$(http POST /publish/c1 '{"event":"end","data":"{}"}')" '202 *' "publish end"
wait $F1 || fail "follower did not end cleanly"
wait $F2 || fail "workbench follower did not end cleanly"
want=$'event: token\ndata: hel\n\nevent: token\ndata: lo\n\nevent: end\ndata: {}'
[ "$(cat "$TMP/f1")" = "$want" ] || fail "follower got '$(cat "$TMP/f1")'"
[ "$(cat "$TMP/f2")" = "$want" ] || fail "workbench follower got '$(cat "$TMP/f2")'"

# a late follower gets the recent events and ends at once
out=$(curl -sN -m 5 "$U/follow/c1") || fail "late follower did not end"
[ "$out" = "$want" ] || fail "late follower got '$out'"
# a handler can still refuse to follow
expect "$(http GET /follow/forbidden)" '403 *not yours*' "refusal"
# admin endpoint: loopback only usage errors
expect "$(http GET /__stepd/streams/t)" '400 *usage*' "usage"

# keep-alive: the connection that carried a stream serves the next request
curl -sv -m 10 "$U/stream?n=1" -o /dev/null --next "$U/stream?n=1" -o /dev/null 2>"$TMP/v"
grep -q 'Re-using existing connection' "$TMP/v" || fail "connection not reused after a stream"

stop_server TERM
expect "$EXIT_CODE" 0 "clean exit"
echo "    streams ok"
