#!/usr/bin/env bash
# bench/llm.sh — chat-completion client overhead against the fake OpenAI-compatible server on
# 127.0.0.1 (tests/support/llm_fake_server.c, run by `test_llm --serve`): stepd's libcurl client
# (`stepd ai chat --bench N`) against Python requests with a keep-alive Session (the stack under
# most Python LLM SDKs), same server, same run, one thread each. Plain JSON and SSE streaming.
# Prints a table and appends a dated section to bench/RESULTS.md.
#   N=3000 NS=1500 bash bench/llm.sh
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
STEPD=${STEPD_BIN:-$PWD/$BUILD/stepd}
SERVER=$PWD/$BUILD/tests/test_llm
N=${N:-3000} NS=${NS:-1500}
[ -x "$STEPD" ] || { echo "bench/llm.sh: build stepd first ($STEPD)"; exit 1; }
[ -x "$SERVER" ] || { echo "bench/llm.sh: build the unit tests first ($SERVER)"; exit 1; }
/usr/bin/python3 -c 'import requests' 2>/dev/null || { echo "bench/llm.sh: python3-requests is not installed"; exit 1; }
tmp=$(mktemp -d)
"$SERVER" --serve >"$tmp/port" &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$tmp"' EXIT
for _ in $(seq 50); do [ -s "$tmp/port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(head -n1 "$tmp/port")/v1
msg="Please summarise the return policy for electronics bought during the holiday sale in two sentences"
unset OPENAI_API_KEY
export OPENAI_BASE_URL=$url OPENAI_MODEL=fake-model

"$STEPD" ai chat "$msg" --bench 100 >/dev/null # warm up both sides
/usr/bin/python3 bench/llm_peer.py "$url" fake-model "$msg" 100 0 >/dev/null
"$STEPD" ai chat "$msg" --bench "$N" >"$tmp/s_plain.json"
/usr/bin/python3 bench/llm_peer.py "$url" fake-model "$msg" "$N" 0 >"$tmp/p_plain.json"
"$STEPD" ai chat "$msg" --bench "$NS" --stream >"$tmp/s_stream.json"
/usr/bin/python3 bench/llm_peer.py "$url" fake-model "$msg" "$NS" 1 >"$tmp/p_stream.json"

f() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$1" "$2"; }
ratio() { /usr/bin/python3 -c "import sys; print('%.1fx' % (float(sys.argv[1]) / float(sys.argv[2])))" "$1" "$2"; }
for k in s_plain p_plain s_stream p_stream; do
    [ "$(f "$tmp/$k.json" failed)" = 0 ] || { echo "bench/llm.sh: $k had failures"; cat "$tmp/$k.json"; exit 1; }
done
reqv=$(/usr/bin/python3 -c 'import requests; print(requests.__version__)')
table=$(cat <<T
| chat calls, 1 thread, keep-alive | stepd (libcurl $(curl-config --version 2>/dev/null | cut -d' ' -f2 || echo)) | Python requests $reqv | stepd advantage |
|---|---|---|---|
| plain JSON: calls/s ($N calls) | $(f "$tmp/s_plain.json" callsPerSec) | $(f "$tmp/p_plain.json" callsPerSec) | $(ratio "$(f "$tmp/s_plain.json" callsPerSec)" "$(f "$tmp/p_plain.json" callsPerSec)") |
| plain JSON: p50 / p99 ms | $(f "$tmp/s_plain.json" p50Ms) / $(f "$tmp/s_plain.json" p99Ms) | $(f "$tmp/p_plain.json" p50Ms) / $(f "$tmp/p_plain.json" p99Ms) | $(ratio "$(f "$tmp/p_plain.json" p50Ms)" "$(f "$tmp/s_plain.json" p50Ms)") lower p50 |
| SSE stream (~20 chunks): calls/s ($NS calls) | $(f "$tmp/s_stream.json" callsPerSec) | $(f "$tmp/p_stream.json" callsPerSec) | $(ratio "$(f "$tmp/s_stream.json" callsPerSec)" "$(f "$tmp/p_stream.json" callsPerSec)") |
| SSE stream: p50 / p99 ms | $(f "$tmp/s_stream.json" p50Ms) / $(f "$tmp/s_stream.json" p99Ms) | $(f "$tmp/p_stream.json" p50Ms) / $(f "$tmp/p_stream.json" p99Ms) | $(ratio "$(f "$tmp/p_stream.json" p50Ms)" "$(f "$tmp/s_stream.json" p50Ms)") lower p50 |
T
)
echo "$table"
{
    echo
    echo "## llm — $(date -u '+%Y-%m-%d %H:%M UTC')"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'). Both clients call the same fake OpenAI-compatible server (tests/support/llm_fake_server.c, thread per connection) on 127.0.0.1 in the same run, one request at a time over one kept-alive connection; the figures are client + loopback + fake-server overhead, i.e. what the client adds on top of a model's own latency. The stream is one SSE event per word (~20 content chunks + usage + [DONE]), parsed and delivered token by token on both sides."
    echo
    echo "$table"
} >>bench/RESULTS.md
