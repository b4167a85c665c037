# lib.sh — helpers for bench/*.sh (sourced).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
STEPD=${STEPD:-$ROOT/build/stepd}
export STEPD_INCLUDE="$ROOT/include"
BT=$(mktemp -d)
PIDS=()
bench_cleanup() { for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -9 "$p" 2>/dev/null; done; rm -rf "$BT"; }
trap bench_cleanup EXIT
[ -x "$STEPD" ] || make -C "$ROOT" -s -j"$(nproc)" build/stepd

# start_stepd DIR → sets SPID and SPORT
start_stepd() {
    rm -f "$BT/port"
    "$STEPD" start "$1" --port 0 --host 127.0.0.1 --port-file "$BT/port" >"$BT/stepd.log" 2>&1 &
    SPID=$!
    PIDS+=("$SPID")
    for _ in $(seq 600); do [ -s "$BT/port" ] && break; sleep 0.05; done
    SPORT=$(cat "$BT/port")
}
stop_pid() { kill -TERM "$1" 2>/dev/null; wait "$1" 2>/dev/null || true; }
rss_kb() { ps -o rss= -p "$1" | tr -d ' '; }

# wrk_run URL [wrk args] → sets RPS, P50, P99 (ms)
wrk_run() {
    local url=$1
    shift
    wrk -t2 -c"${CONNS:-64}" -d"${DUR:-10}s" --latency "$@" "$url" >"$BT/wrk.out" 2>&1
    RPS=$(awk '/^Requests\/sec/ {print $2}' "$BT/wrk.out")
    P50=$(awk '$1=="50%" {print $2}' "$BT/wrk.out")
    P99=$(awk '$1=="99%" {print $2}' "$BT/wrk.out")
    NON2XX=$(awk '/Non-2xx/ {print $5}' "$BT/wrk.out")
}
to_ms() { # "1.23ms" "850.00us" "1.2s" → ms
    awk -v v="$1" 'BEGIN { if (v ~ /us$/) { sub(/us$/, "", v); print v / 1000 }
                           else if (v ~ /ms$/) { sub(/ms$/, "", v); print v + 0 }
                           else if (v ~ /s$/) { sub(/s$/, "", v); print v * 1000 } else print v }'
}
machine() { echo "$(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -m)"; }
free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
