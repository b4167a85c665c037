#!/usr/bin/env bash
# Cron steps fire on schedule (a 6-field, every-second expression keeps the test short), each
# run with its own trace id that follows its emits.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
dir=$(project cron)
start_server "$dir" start
sleep 3.5
n=$("$STEPD_BIN" state get cron ticks --port "$PORT" | grep -o '[0-9]\+')
[ "${n:-0}" -ge 2 ] && [ "${n:-0}" -le 5 ] || fail "expected 2-5 runs in 3.5 s, got '${n:-none}'"
traces=$("$STEPD_BIN" state get traces --port "$PORT")
distinct=$(echo "$traces" | grep -o '"trace": *"[0-9a-f]*"' | sort -u | wc -l)
[ "$distinct" -ge 2 ] || fail "cron runs should have distinct trace ids: $traces"
stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "exit $EXIT_CODE"
echo "cron fired $n times, $distinct trace ids"
