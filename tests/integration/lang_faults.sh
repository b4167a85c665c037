#!/usr/bin/env bash
# Worker faults: a JS or Python worker that crashes, hangs past the step timeout or writes
# garbage on stdout is killed and replaced; every event it held is retried and completes (none
# lost); other requests keep being served meanwhile; a handler that throws has its message and
# stack logged with the trace id and is retried; one that always throws is dead-lettered.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed"; exit 77; }
dir=$(project polyglot_faults)
start_server "$dir" start

ids=()
for kind in hang throws pythrows garbage crash pycrash pyhang; do
    # one hang at a time: a stuck loop takes a whole worker (and every invocation it holds, which
# is then retried) until the step timeout kills it
    ns="1 2 3"; case "$kind" in hang|pyhang) ns=1 ;; esac
    for n in $ns; do
        id="$kind-$n"
        ids+=("$id")
        expect "$(http POST "/faults/$kind" "{\"id\":\"$id\",\"kind\":\"$kind\"}" -H "x-trace-id: tr-$id")" '202 *' "queue $id"
    done
    if [ "$kind" = hang ]; then
        # one node worker is stuck in a loop: the other one keeps serving requests
        sleep 0.3
        start=$(date +%s%N)
        for _ in 1 2 3 4 5; do expect "$(http POST /faults/ok '{}')" '200 *' "served during a hang"; done
        took=$(( ($(date +%s%N) - start) / 1000000 ))
        [ "$took" -lt 1400 ] || fail "requests waited ${took} ms behind a hung worker"
    fi
    if [ "$kind" = garbage ]; then
        for _ in $(seq 50); do grep -q 'not a protocol message' "$LOG" && break; sleep 0.1; done
    fi
    if [ "$kind" = pythrows ]; then
        # let the throwing handlers run before crashes take their workers down
        for _ in $(seq 50); do
            grep -q 'py-boom-pythrows' "$LOG" && grep -q 'boom-throws' "$LOG" && break
            sleep 0.1
        done
    fi
done
http POST /faults/always '{"id":"always-1","kind":"always"}' -H 'x-trace-id: tr-always' >/dev/null

for id in "${ids[@]}"; do
    v=""
    for _ in $(seq 150); do
        v=$("$STEPD_BIN" state get done "$id" --port "$PORT" 2>/dev/null)
        [ -n "$v" ] && break
        sleep 0.1
    done
    contains "$v" '"attempt":' "event $id completed after the fault"
done
for _ in $(seq 300); do # 8 attempts with doubling backoff from 100 ms: up to ~20 s
    dlq=$("$STEPD_BIN" dlq list --port "$PORT")
    case "$dlq" in *always-1*) break ;; esac
    sleep 0.1
done
contains "$dlq" '"step":"FaultsJs"' "always-failing event dead-lettered"
contains "$dlq" '"error":"always fails always-1"' "the thrown message is the dead letter's error"
grep -q '"traceId":"tr-throws-[0-9]","msg":"handler threw an error","error":"boom-throws-[0-9]".*"stack":"Error: boom-throws' "$LOG" ||
    fail "thrown JS error not logged with message, stack and trace id"
grep -q '"traceId":"tr-pythrows-[0-9]","msg":"handler threw an error","error":"ValueError: py-boom-pythrows-[0-9]".*Traceback' "$LOG" ||
    fail "Python exception not logged with message, traceback and trace id"
grep -q 'worker hung past the step timeout' "$LOG" || fail "hang not reported"
grep -q 'not a protocol message' "$LOG" || fail "garbage not reported"
expect "$(http POST /faults/ok '{}')" '200 *' "still serving after all faults"
stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "exit code $EXIT_CODE"
echo "faults ok"
