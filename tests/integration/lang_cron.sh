#!/usr/bin/env bash
# Cron steps in JavaScript and Python: a 6-field every-second expression fires each handler
# about once a second; each run reads and writes state (the count) and emits with its own
# trace id, which an event step in the other language sees.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed"; exit 77; }
dir=$(project lang_cron)
start_server "$dir" start
sleep 3.5
for lang in js py; do
    v=$("$STEPD_BIN" state get cron "$lang" --port "$PORT")
    n=$(echo "$v" | grep -o '"n": *[0-9]*' | grep -o '[0-9]*$')
    [ "${n:-0}" -ge 2 ] && [ "${n:-0}" -le 5 ] || fail "$lang cron: expected 2-5 runs in 3.5 s, got '${v:-nothing}'"
    echo "$v" | grep -Eq '"traceId": *"[0-9a-f]{32}"' || fail "$lang cron run has no trace id: $v"
done
for lang in js py; do
    g=$("$STEPD_BIN" state get "seen-$lang" --port "$PORT")
    runs=$(echo "$g" | grep -o '"sameTrace": *true' | wc -l)
    [ "$runs" -ge 2 ] || fail "$lang cron emits: want 2+ deliveries carrying the run's trace id, got '$g'"
    echo "$g" | grep -q '"sameTrace": *false' && fail "$lang cron emit delivered under another trace: $g"
done
stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "exit code $EXIT_CODE"
grep -q '"level":"error"' "$LOG" && fail "errors logged: $(grep '"level":"error"' "$LOG" | head -3)"
echo "js and python cron ok"
