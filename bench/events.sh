#!/usr/bin/env bash
# bench/events.sh — the durable chat flow end to end: POST /chat stores the chat and emits
# ai.chat.request (202 once durable); an event step completes the chat in state. Measures
# accepted requests/s, completed chats/s and the accept→complete latency (p50/p99), for stepd
# and, in the same run, for the same flow in Python (bench/peers/flow.py).
#   DUR=10 CONNS=64 bench/events.sh
. "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "bench/events.sh needs wrk"; exit 1; }
command -v sqlite3 >/dev/null || { echo "bench/events.sh needs the sqlite3 CLI"; exit 1; }
DUR=${DUR:-10}
cat >"$BT/post.lua" <<'L'
wrk.method = "POST"
wrk.body = '{"message":"hello there"}'
wrk.headers["content-type"] = "application/json"
L

# waits until every chat in DB is completed (or 60 s), then prints
# "accepted completed completed_per_s p50_ms p99_ms"
measure() {
    local db=$1 total done
    for _ in $(seq 600); do
        total=$(sqlite3 "$db" "SELECT count(*) FROM state WHERE grp='chats'" 2>/dev/null || echo 0)
        done=$(sqlite3 "$db" "SELECT count(*) FROM state WHERE grp='chats' AND value LIKE '%\"completed\"%'" 2>/dev/null || echo 0)
        [ "$total" -gt 0 ] && [ "$total" = "$done" ] && break
        sleep 0.1
    done
    local q="FROM state WHERE grp='chats' AND json_extract(value,'\$.t1') IS NOT NULL"
    sqlite3 "$db" "SELECT (json_extract(value,'\$.t1') - json_extract(value,'\$.t0')) / 1000.0 $q" | sort -n >"$BT/lat"
    local n span p50 p99
    n=$(wc -l <"$BT/lat")
    span=$(sqlite3 "$db" "SELECT max(json_extract(value,'\$.t1')) - min(json_extract(value,'\$.t0')) $q")
    p50=$(sed -n "$(( n / 2 > 0 ? n / 2 : 1 ))p" "$BT/lat")
    p99=$(sed -n "$(( n * 99 / 100 > 0 ? n * 99 / 100 : 1 ))p" "$BT/lat")
    awk -v t="$total" -v n="$n" -v s="${span:-1}" -v a="$p50" -v b="$p99" \
        'BEGIN { printf "%d %d %.0f %.2f %.2f\n", t, n, n / (s / 1e6), a, b }'
}

cp -r "$ROOT/bench/projects/flow" "$BT/flow"
start_stepd "$BT/flow"
wrk_run "http://127.0.0.1:$SPORT/chat" -s "$BT/post.lua"
s_rps=$RPS
read -r s_total s_done s_cps s_p50 s_p99 < <(measure "$BT/flow/.stepd/stepd.db")
s_rss=$(rss_kb "$SPID")
stop_pid "$SPID"

PP=$(free_port)
/usr/bin/python3 "$ROOT/bench/peers/flow.py" $PP "$BT/peer.db" &
PPID_=$!
PIDS+=("$PPID_")
sleep 1
wrk_run "http://127.0.0.1:$PP/chat" -s "$BT/post.lua"
p_rps=$RPS
read -r p_total p_done p_cps p_p50 p_p99 < <(measure "$BT/peer.db")
p_rss=$(rss_kb "$PPID_")
stop_pid "$PPID_"

ratio=$(awk -v a="$s_cps" -v b="$p_cps" 'BEGIN {printf "%.1f", a / (b > 0 ? b : 1)}')
table=$(cat <<T
| flow | accepted req/s | completed | completed chats/s | accept→complete p50 ms | p99 ms | RSS MB |
|---|---|---|---|---|---|---|
| stepd (C steps, SQLite WAL, group commit) | $s_rps | $s_done/$s_total | $s_cps | $s_p50 | $s_p99 | $((s_rss / 1024)) |
| peer: Python $(/usr/bin/python3 -c 'import sys; print(sys.version.split()[0])') threads + sqlite3, same flow | $p_rps | $p_done/$p_total | $p_cps | $p_p50 | $p_p99 | $((p_rss / 1024)) |
T
)
echo "$table"
echo "stepd / python completed chats/s: ${ratio}x"
{
    echo
    echo "## events — $(date -u +%Y-%m-%d) — $(machine)"
    echo "wrk -t2 -c${CONNS:-64} -d${DUR}s POST /chat, then wait for every chat to complete."
    echo
    echo "$table"
    echo
    echo "stepd / Python on completed chats/s: **${ratio}x**"
} >>"$ROOT/bench/RESULTS.md"
