#!/usr/bin/env bash
# kill -9 in the middle of a load, then restart: every job whose POST got 202 is processed
# (at least once), and the store is consistent.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
dir=$(project basic)
start_server "$dir" start
accepted="$TMP/accepted"
: >"$accepted"
# 4 parallel clients posting jobs that each take a little while to process
for c in 1 2 3 4; do
    (
        for i in $(seq 1 150); do
            id="c$c-$i"
            code=$(curl -s -m 5 -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$PORT/jobs" \
                -H 'content-type: application/json' -d "{\"id\":\"$id\",\"sleepMs\":2}") || break
            [ "$code" = 202 ] && echo "$id" >>"$accepted.$c"
        done
    ) &
done
sleep 1.2
kill -9 "$PID"
wait "$PID" 2>/dev/null
PID=""
wait
cat "$accepted".* >"$accepted"
n=$(wc -l <"$accepted")
[ "$n" -gt 20 ] || fail "only $n jobs accepted before the kill"
start_server "$dir" start
missing=0
for _ in $(seq 100); do
    missing=0
    while read -r id; do
        out=$(http GET "/jobs/$id")
        [ "${out%% *}" = 200 ] || missing=$((missing + 1))
    done <"$accepted"
    [ "$missing" = 0 ] && break
    sleep 0.3
done
[ "$missing" = 0 ] || fail "$missing of $n accepted jobs were lost after kill -9"
stop_server TERM
echo "all $n accepted jobs processed after kill -9 and restart"
