#!/usr/bin/env bash
# The runtime under valgrind (memcheck): requests, events, retries, a dead letter and a
# graceful stop, with no memory errors and no definite leaks.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
if [ "${BUILD:-build}" != build ]; then
    echo "valgrind runs against the release build only (ASan and valgrind do not mix)"
    exit 77
fi
command -v valgrind >/dev/null || fail "valgrind is not installed (scripts/install-deps.sh installs it)"
dir=$(project basic)
cp "$STEPD_ROOT"/tests/integration/projects/streams/steps/*.c "$dir/steps/" # streaming too
# compile the steps before valgrind (the compiler's children are not what we check)
start_server "$dir" start
stop_server TERM
VG_LOG="$TMP/vg.log"
LOG="$TMP/server.vg.log"
rm -f "$TMP/port"
valgrind --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
    --show-leak-kinds=definite --trace-children=no --log-file="$VG_LOG" \
    "$STEPD_BIN" start "$dir" --port 0 --host 127.0.0.1 --port-file "$TMP/port" >"$LOG" 2>&1 &
PID=$!
for _ in $(seq 600); do [ -s "$TMP/port" ] && break; sleep 0.1; done
[ -s "$TMP/port" ] || { cat "$VG_LOG"; fail "server under valgrind did not start"; }
PORT=$(cat "$TMP/port")
expect "$(http POST '/echo/1?a=b' '{"name":"vg"}')" '201 *' "echo"
expect "$(http POST /echo/1 '{bad')" '400 *' "bad json"
expect "$(http GET /fail)" '500 *' "handler error"
expect "$(http POST /jobs '{"id":"v1"}')" '202 *' "job"
expect "$(http POST /jobs '{"id":"v2","failTimes":1}')" '202 *' "retried job"
expect "$(http POST /jobs '{"id":"v3","failTimes":9}')" '202 *' "dead job"
wait_for /jobs/v1 100 >/dev/null || fail "job v1"
wait_for /jobs/v2 100 >/dev/null || fail "job v2"
for _ in $(seq 100); do
    case "$("$STEPD_BIN" dlq list --port "$PORT")" in *v3*) break ;; esac
    sleep 0.1
done
# streams: a handler's own, a follower with live events and "end", a client that leaves
U="http://127.0.0.1:$PORT"
contains "$(curl -sN -m 20 "$U/stream?n=2")" "event: done" "stream under valgrind"
curl -sN -m 20 "$U/follow/vg" >"$TMP/follow" &
FPID=$!
sleep 1
http POST /publish/vg '{"event":"token","data":"x"}' >/dev/null
http POST /publish/vg '{"event":"end","data":"{}"}' >/dev/null
wait "$FPID"
contains "$(cat "$TMP/follow")" "event: end" "follower under valgrind"
curl -sN -m 1 "$U/forever" >/dev/null 2>&1
sleep 1
stop_server TERM
grep -q "ERROR SUMMARY: 0 errors" "$VG_LOG" || { cat "$VG_LOG"; fail "valgrind reported errors"; }
[ "$EXIT_CODE" = 0 ] || { tail -20 "$VG_LOG"; fail "exit code $EXIT_CODE under valgrind"; }
echo "valgrind clean: $(grep 'ERROR SUMMARY' "$VG_LOG" | sed 's/==[0-9]*== //')"
