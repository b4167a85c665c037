#!/usr/bin/env bash
# bench/http.sh — HTTP throughput and latency with wrk: a trivial C API step and the durable
# chat POST (auth middleware, schema, state write, emit), against Node's http module serving
# the same trivial endpoint in the same run. Appends the figures to bench/RESULTS.md.
#   DUR=10 CONNS=64 bench/http.sh
. "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "bench/http.sh needs wrk (apt-get install wrk)"; exit 1; }
DUR=${DUR:-10}

cp -r "$ROOT/bench/projects/hello" "$BT/hello"
start_stepd "$BT/hello"
sleep 1
idle_rss=$(rss_kb "$SPID")
wrk_run "http://127.0.0.1:$SPORT/hello" -d2s >/dev/null
wrk_run "http://127.0.0.1:$SPORT/hello"
s_rps=$RPS s_p50=$(to_ms "$P50") s_p99=$(to_ms "$P99")
load_rss=$(rss_kb "$SPID")
stop_pid "$SPID"

NP=$(free_port)
node "$ROOT/bench/peers/hello.js" $NP &
NPID=$!
PIDS+=("$NPID")
sleep 1
wrk_run "http://127.0.0.1:$NP/hello" -d2s >/dev/null
wrk_run "http://127.0.0.1:$NP/hello"
n_rps=$RPS n_p50=$(to_ms "$P50") n_p99=$(to_ms "$P99")
n_rss=$(rss_kb "$NPID")
stop_pid "$NPID"

cp -r "$ROOT/examples/chat" "$BT/chat"
rm -rf "$BT/chat/.stepd"
echo '{"workers": 8, "logLevel": "warn", "events": {"concurrency": 64}}' >"$BT/chat/stepd.json"
start_stepd "$BT/chat"
wrk_run "http://127.0.0.1:$SPORT/ai/chat" -s "$ROOT/bench/peers/post.lua"
c_rps=$RPS c_p50=$(to_ms "$P50") c_p99=$(to_ms "$P99") c_non2xx=${NON2XX:-0}
stop_pid "$SPID"

ratio=$(awk -v a="$s_rps" -v b="$n_rps" 'BEGIN {printf "%.2f", a / b}')
table=$(cat <<T
| case | req/s | p50 ms | p99 ms | RSS |
|---|---|---|---|---|
| stepd trivial C API step | $s_rps | $s_p50 | $s_p99 | idle $((idle_rss / 1024)) MB, loaded $((load_rss / 1024)) MB |
| peer: node $(node --version) http, same endpoint | $n_rps | $n_p50 | $n_p99 | $((n_rss / 1024)) MB |
| stepd chat POST (auth, schema, state write, durable emit) | $c_rps | $c_p50 | $c_p99 | non-2xx: ${c_non2xx} |
T
)
echo "$table"
echo "stepd / node (trivial endpoint): ${ratio}x"
{
    echo
    echo "## http — $(date -u +%Y-%m-%d) — $(machine)"
    echo "wrk -t2 -c${CONNS:-64} -d${DUR}s on the same machine (wrk shares the 2 cores)."
    echo
    echo "$table"
    echo
    echo "stepd / node on the trivial endpoint: **${ratio}x**"
} >>"$ROOT/bench/RESULTS.md"
