#!/usr/bin/env bash
# Events: fan-out to two subscribers, trace id carried through emits, retries with backoff
# until success, dead-lettering after the last attempt, dlq list and replay.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
dir=$(project basic)
start_server "$dir" start

expect "$(http POST /jobs '{"id":"j1"}' -H 'x-trace-id: trace-abc')" '202 *' "accepted"
out=$(wait_for /jobs/j1) || fail "job j1 not processed: $out"
expect "$out" '200 *"attempt":1*"traceId":"trace-abc"*' "first attempt, trace id"
sleep 0.3
[ "$("$STEPD_BIN" state get audit j1 --port "$PORT")" != "" ] || fail "fan-out: audit step did not run"
expect "$("$STEPD_BIN" state get done j1 --port "$PORT")" '*trace-abc*' "trace id through a second emit"

http POST /jobs '{"id":"j2","failTimes":2}' >/dev/null
out=$(wait_for /jobs/j2 50) || fail "retried job not processed: $out"
expect "$out" '200 *"attempt":3*' "succeeds on the third attempt"

http POST /jobs '{"id":"j3","failTimes":99}' >/dev/null
for _ in $(seq 50); do
    dlq=$("$STEPD_BIN" dlq list --port "$PORT")
    case "$dlq" in *'"j3"'*) break ;; esac
    sleep 0.1
done
expect "$dlq" '*"step":"JobsWorker"*"attempts":3*"error":"handler returned -1*' "dead-lettered after 3 attempts"
expect "$(http GET /jobs/j3)" '404 *' "not processed"

# per-step concurrency 1: five 100 ms runs never overlap
for i in 1 2 3 4 5; do "$STEPD_BIN" emit slow.run "{\"id\":\"c$i\",\"sleepMs\":100}" --port "$PORT" >/dev/null; done
for _ in $(seq 100); do
    n=$("$STEPD_BIN" state get slow --port "$PORT" | grep -o '"c[0-9]"' | sort -u | wc -l)
    [ "$n" = 5 ] && break
    sleep 0.1
done
[ "$n" = 5 ] || fail "slow runs did not all finish"
"$STEPD_BIN" state get slow --port "$PORT" | /usr/bin/python3 -c '
import json, sys
runs = sorted((v["start"], v["end"]) for v in json.load(sys.stdin).values())
for (s1, e1), (s2, e2) in zip(runs, runs[1:]):
    assert s2 >= e1, "runs overlap: concurrency limit broken: %r" % runs
' || fail "concurrency limit of 1 not honoured"

# timeout: a 1 s run in a step with a 300 ms timeout fails each attempt, then dead-letters
"$STEPD_BIN" emit slow.run '{"id":"t1","sleepMs":1000}' --port "$PORT" >/dev/null
for _ in $(seq 60); do
    dlq=$("$STEPD_BIN" dlq list --port "$PORT")
    case "$dlq" in *'"t1"'*) break ;; esac
    sleep 0.1
done
contains "$dlq" 'timed out after 300 ms' "timeout recorded as the failure"
stop_server TERM
# list and replay also work with the server stopped (straight from the store)
expect "$("$STEPD_BIN" dlq list --dir "$dir" --port 1)" '*"j3"*' "dlq list offline"
id=$("$STEPD_BIN" dlq list --dir "$dir" --port 1 | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p' | head -1)
[ -n "$id" ] || fail "no dlq id"
expect "$("$STEPD_BIN" dlq replay "$id" --dir "$dir" --port 1)" '*"replayed":1*' "replay offline"
start_server "$dir" start
# replayed: attempt count starts again, and it fails again -> back in the DLQ after 3 tries
for _ in $(seq 50); do
    dlq=$("$STEPD_BIN" dlq list --port "$PORT")
    case "$dlq" in *'"j3"'*) break ;; esac
    sleep 0.1
done
expect "$dlq" '*"j3"*' "replayed event ran and dead-lettered again"
expect "$("$STEPD_BIN" dlq replay nope --port "$PORT")" '*no such dead-letter*' "unknown id"
stop_server TERM
echo "events ok"
