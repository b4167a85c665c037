#!/usr/bin/env bash
# SIGTERM drains in-flight handlers and exits 0; SIGINT too; a handler past the shutdown
# timeout leaves its event queued for the next start.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
dir=$(project basic)
start_server "$dir" start
http POST /jobs '{"id":"slow1","sleepMs":800}' >/dev/null
sleep 0.2
t0=$(date +%s%N)
stop_server TERM
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$EXIT_CODE" = 0 ] || fail "exit $EXIT_CODE after SIGTERM"
[ "$ms" -ge 400 ] || fail "did not wait for the in-flight handler (${ms} ms)"
grep -q '"stopped"' "$LOG" || fail "no clean stop logged"
start_server "$dir" start
expect "$(http GET /jobs/slow1)" '200 *' "drained handler finished its work"
stop_server INT
[ "$EXIT_CODE" = 0 ] || fail "exit $EXIT_CODE after SIGINT"

# shutdown timeout shorter than the handler: exit anyway, event delivered on restart
sed -i 's/"shutdownTimeoutMs": 5000/"shutdownTimeoutMs": 200/' "$dir/stepd.json"
start_server "$dir" start
http POST /jobs '{"id":"slow2","sleepMs":1500}' >/dev/null
sleep 0.2
stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "exit $EXIT_CODE after shutdown timeout"
expect "$(cat "$LOG")" '*still running*' "timeout reported"
start_server "$dir" start
out=$(wait_for /jobs/slow2 60) || fail "interrupted event not redelivered: $out"
stop_server TERM
echo "graceful shutdown ok"
