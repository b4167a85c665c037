#!/usr/bin/env bash
# Syntax errors in JS and Python step files are reported with file and line at start (stepd
# refuses to start), and in `stepd dev` on save without stopping the server; saving a JS or
# Python step reloads it (hot reload) in the running workers.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed"; exit 77; }
dir="$TMP/reload"
mkdir -p "$dir/steps"
js() { # js VERSION -> a JS api step answering {"v": VERSION}
    cat >"$dir/steps/hello.step.js" <<JS
exports.config = { type: 'api', name: 'Hello', path: '/hello', method: 'GET', emits: [] };
exports.handler = async () => ({ status: 200, body: { v: '$1' } });
JS
}
py() {
    cat >"$dir/steps/hello_step.py" <<PY
config = {"type": "api", "name": "HelloPy", "path": "/hello-py", "method": "GET", "emits": []}


async def handler(req, context):
    return {"status": 200, "body": {"v": "$1"}}
PY
}

# start-up: both broken files are named with their line, and stepd does not start
js v1; py v1
printf 'exports.config = { type: "api",\n  name: "Broken",\n  path: oops oops,\n};\n' >"$dir/steps/broken.step.js"
printf 'config = {"type": "event"}\n\n\ndef handler(input, context)\n    pass\n' >"$dir/steps/broken_step.py"
out=$("$STEPD_BIN" start "$dir" --port 0 --host 127.0.0.1 2>&1)
rc=$?
[ $rc -ne 0 ] || fail "stepd started with broken steps"
contains "$out" "steps/broken.step.js:3: " "JS syntax error with file:line"
contains "$out" "steps/broken_step.py:4: " "Python syntax error with file:line"
rm "$dir/steps/broken.step.js" "$dir/steps/broken_step.py"

# invalid configs are named with their file, all at once
printf 'exports.config = { type: "api", name: "NoPath", emits: [] };\nexports.handler = async () => ({});\n' >"$dir/steps/nopath.step.js"
printf 'config = {"type": "event", "name": "NoSubs", "emits": []}\n\n\nasync def handler(i, c):\n    pass\n' >"$dir/steps/nosubs_step.py"
printf 'exports.config = { type: "api", name: "Hello", path: "/x", method: "GET" };\nexports.handler = async () => ({});\n' >"$dir/steps/dup.step.js"
out=$("$STEPD_BIN" start "$dir" --port 0 --host 127.0.0.1 2>&1)
[ $? -ne 0 ] || fail "stepd started with invalid configs"
contains "$out" "steps/nopath.step.js: api step needs config.method and config.path" "JS config error"
contains "$out" "steps/nosubs_step.py: event step subscribes to nothing" "Python config error"
contains "$out" 'step name "Hello" is already used by steps/' "duplicate step name across files"
rm "$dir/steps/nopath.step.js" "$dir/steps/nosubs_step.py" "$dir/steps/dup.step.js"

start_server "$dir" dev
expect "$(http GET /hello)" '200 {"v":"v1"}' "js v1"
expect "$(http GET /hello-py)" '200 {"v":"v1"}' "py v1"
wait_version() { # PATH WANT
    local out
    for _ in $(seq 60); do
        out=$(http GET "$1")
        [ "$out" = "200 {\"v\":\"$2\"}" ] && return 0
        sleep 0.1
    done
    fail "$1 did not reload to $2: $out"
}
js v2; wait_version /hello v2
py v2; wait_version /hello-py v2

# a broken save is reported with file:line; the previous version keeps serving
printf 'exports.config = {\n  type: "api",,\n};\n' >"$dir/steps/hello.step.js"
for _ in $(seq 60); do grep -q 'reload failed' "$LOG" && break; sleep 0.1; done
grep -q "reload failed.*steps/hello.step.js:2: " "$LOG" || { cat "$LOG"; ls -la "$dir/steps"; fail "JS reload error without file:line"; }
expect "$(http GET /hello)" '200 {"v":"v2"}' "old JS version still serving"
js v3; wait_version /hello v3
printf 'config = {"type": "api"\n\nasync def handler(req, context):\n    pass\n' >"$dir/steps/hello_step.py"
for _ in $(seq 60); do grep -q 'reload failed.*hello_step.py' "$LOG" && break; sleep 0.1; done
grep -q 'reload failed.*steps/hello_step.py:[0-9]*: ' "$LOG" || fail "Python reload error without file:line"
expect "$(http GET /hello-py)" '200 {"v":"v2"}' "old Python version still serving"
py v3; wait_version /hello-py v3
kill -0 "$PID" || fail "dev server died"
stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "exit code $EXIT_CODE"
echo "reload ok"
