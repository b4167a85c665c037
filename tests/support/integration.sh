# integration.sh — helpers for tests/integration/*.sh (sourced, not run).
#   start_server DIR [start|dev] [extra args]   sets PORT, PID, LOG
#   stop_server [SIGNAL]                          waits for exit, sets EXIT_CODE
#   http METHOD PATH [BODY] [curl args...]        prints "STATUS BODY"
set -uo pipefail
STEPD_BIN=${STEPD_BIN:-$STEPD_ROOT/build/stepd}
export STEPD_INCLUDE="$STEPD_ROOT/include"
TMP=$(mktemp -d)
PID=""
BG=() # other background processes a test starts (killed at exit)
cleanup() {
    if [ -n "$PID" ] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null; fi
    for p in "${BG[@]}"; do kill -9 "$p" 2>/dev/null; done
    rm -rf "$TMP"
}
trap cleanup EXIT

fail() { echo "FAIL: $*"; [ -f "${LOG:-/dev/null}" ] && tail -n 30 "$LOG"; exit 1; }

# copies a project from tests/integration/projects/NAME into a fresh directory
project() {
    rm -rf "$TMP/$1"
    cp -r "$STEPD_ROOT/tests/integration/projects/$1" "$TMP/$1"
    echo "$TMP/$1"
}

start_server() {
    local dir=$1 mode=${2:-start}
    shift 2 2>/dev/null || shift $#
    LOG="$TMP/server.$RANDOM.log"
    rm -f "$TMP/port"
    "$STEPD_BIN" "$mode" "$dir" --port 0 --host 127.0.0.1 --port-file "$TMP/port" "$@" >"$LOG" 2>&1 &
    PID=$!
    for _ in $(seq 300); do
        [ -s "$TMP/port" ] && break
        kill -0 "$PID" 2>/dev/null || fail "server exited during start-up"
        sleep 0.05
    done
    [ -s "$TMP/port" ] || fail "server did not start"
    PORT=$(cat "$TMP/port")
}

stop_server() {
    local sig=${1:-TERM}
    kill -s "$sig" "$PID" 2>/dev/null
    wait "$PID" 2>/dev/null
    EXIT_CODE=$?
    PID=""
}

http() {
    local method=$1 path=$2 body=${3:-}
    shift 3 2>/dev/null || shift $#
    if [ -n "$body" ]; then
        curl -s -m 10 -o "$TMP/body" -w '%{http_code}' -X "$method" "http://127.0.0.1:$PORT$path" \
            -H 'content-type: application/json' --data-binary "$body" "$@" >"$TMP/code"
    else
        curl -s -m 10 -o "$TMP/body" -w '%{http_code}' -X "$method" "http://127.0.0.1:$PORT$path" "$@" >"$TMP/code"
    fi
    echo "$(cat "$TMP/code") $(cat "$TMP/body")"
}

expect() { # expect "ACTUAL" "GLOB" "what"
    case "$1" in $2) ;; *) fail "$3: got '$1', want '$2'" ;; esac
}

# waits until `http GET PATH` starts with 200, up to N tenths of a second
wait_for() {
    local path=$1 tries=${2:-100} out
    for _ in $(seq "$tries"); do
        out=$(http GET "$path")
        [ "${out%% *}" = 200 ] && { echo "$out"; return 0; }
        sleep 0.1
    done
    echo "$out"
    return 1
}

contains() { # contains "ACTUAL" "SUBSTRING" "what" — plain text, no glob
    case "$1" in *"$2"*) ;; *) fail "$3: '$1' lacks '$2'" ;; esac
}
