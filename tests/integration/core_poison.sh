#!/usr/bin/env bash
# A poison message: an event whose C handler crashes the whole server. Each restart delivers it
# again (at least once), but the runs that died with the process count as failed attempts, so
# after max_attempts it is dead-lettered instead of crashing the server at every restart.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
dir=$(project poison)
start_server "$dir" start
"$STEPD_BIN" emit poison.boom '{"n":1}' --port "$PORT" >/dev/null 2>&1 # the crash may beat the answer
# (re)starts that may crash at any moment, even before the port file is written
restart() {
    rm -f "$TMP/port"
    "$STEPD_BIN" start "$dir" --port 0 --host 127.0.0.1 --port-file "$TMP/port" >>"$LOG" 2>&1 &
    PID=$!
}
crashes=0
for round in 1 2 3 4; do
    for _ in $(seq 100); do kill -0 "$PID" 2>/dev/null || break; sleep 0.05; done
    if kill -0 "$PID" 2>/dev/null; then break; fi # survived: the event was dead-lettered
    wait "$PID" 2>/dev/null
    crashes=$((crashes + 1))
    restart
done
[ -s "$TMP/port" ] || sleep 1
PORT=$(cat "$TMP/port" 2>/dev/null)
[ "$crashes" = 2 ] || fail "crashes: got $crashes, want 2 (max_attempts)"
kill -0 "$PID" 2>/dev/null || fail "server not running after the poison message was parked"
dlq=$("$STEPD_BIN" dlq list --port "$PORT")
expect "$dlq" '*"step":"Boom"*"error":"the process stopped while the handler ran*' "dead-lettered with the reason"
"$STEPD_BIN" emit poison.ok '{"fine":true}' --port "$PORT" >/dev/null || fail "emit ok"
for _ in $(seq 50); do
    v=$("$STEPD_BIN" state get poison ok --port "$PORT" 2>/dev/null)
    [ -n "$v" ] && break
    sleep 0.1
done
expect "$v" '*"fine":true*' "other events still handled"
stop_server TERM
expect "$EXIT_CODE" 0 "clean exit"
echo "    poison message parked after $crashes crashes"
