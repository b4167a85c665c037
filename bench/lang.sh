#!/usr/bin/env bash
# bench/lang.sh — per-call overhead of JavaScript and Python steps (core → worker → core with
# one state.set and one emit), against the same step in C, in the same run:
#   events/s through an event step (N events queued by one request, until all are in state)
#   req/s through an API step (wrk)
#   N=20000 DUR=8 CONNS=64 bench/lang.sh
. "$(dirname "$0")/lib.sh"
command -v wrk >/dev/null || { echo "bench/lang.sh needs wrk"; exit 1; }
command -v sqlite3 >/dev/null || { echo "bench/lang.sh needs the sqlite3 CLI"; exit 1; }
N=${N:-20000}
RESULTS=${RESULTS:-$ROOT/bench/RESULTS.md} # RESULTS=/dev/null for a trial run
DUR=${DUR:-8}
P="$BT/langbench"
mkdir -p "$P/steps"
cat >"$P/stepd.json" <<J
{"workers": ${WORKERS:-8}, "eventWorkers": ${WORKERS:-8},
 "events": {"maxAttempts": 3, "backoffMs": 100, "timeoutMs": 30000, "concurrency": 64},
 "languages": {"node": {"processes": 2}, "python": {"processes": 2}}}
J
cat >"$P/steps/fan.step.c" <<'C'
/* POST /fan/:lang {"n": N} queues N events on bench.<lang> */
#include <stdio.h>
#include <stepd/step.h>
static int fan(step_ctx *ctx, step_request *req, step_response *res) {
    char topic[64];
    snprintf(topic, sizeof(topic), "bench.%s", json_string_value(json_object_get(req->path_params, "lang")));
    int n = (int)json_integer_value(json_object_get(req->body, "n"));
    for (int i = 0; i < n; i++) {
        int rc = step_emit(ctx, topic, json_pack("{s:i}", "i", i));
        if (rc)
            return rc;
    }
    return step_respond(res, 202, json_pack("{s:i}", "queued", n));
}
STEP_CONFIG = {.type = STEP_API, .name = "Fan", .method = "POST", .path = "/fan/:lang",
               .emits = STEP_LIST("bench.c", "bench.js", "bench.py"), .api = fan};
C
cat >"$P/steps/c_event.step.c" <<'C'
#include <stdio.h>
#include <stepd/step.h>
static int on_event(step_ctx *ctx, json_t *input) {
    char key[32];
    snprintf(key, sizeof(key), "%lld", (long long)json_integer_value(json_object_get(input, "i")));
    int rc = step_state_set(ctx, "b-c", key, input);
    return rc ? rc : step_emit(ctx, "bench.sink", json_incref(input));
}
STEP_CONFIG = {.type = STEP_EVENT, .name = "CEvent", .subscribes = STEP_LIST("bench.c"),
               .emits = STEP_LIST("bench.sink"), .on_event = on_event};
C
cat >"$P/steps/c_api.step.c" <<'C'
#include <stepd/step.h>
static int api(step_ctx *ctx, step_request *req, step_response *res) {
    int rc = step_state_set(ctx, "api-c", "last", req->body);
    if (!rc)
        rc = step_emit(ctx, "bench.sink", json_incref(req->body));
    return rc ? rc : step_respond(res, 200, json_pack("{s:b}", "ok", 1));
}
STEP_CONFIG = {.type = STEP_API, .name = "CApi", .method = "POST", .path = "/api/c",
               .emits = STEP_LIST("bench.sink"), .api = api};
C
cat >"$P/steps/js_event.step.js" <<'JS'
exports.config = { type: 'event', name: 'JsEvent', subscribes: ['bench.js'], emits: ['bench.sink'] };
exports.handler = async (input, { state, emit }) => {
  await state.set('b-js', String(input.i), input);
  await emit({ topic: 'bench.sink', data: input });
};
JS
cat >"$P/steps/js_api.step.js" <<'JS'
exports.config = { type: 'api', name: 'JsApi', path: '/api/js', method: 'POST', emits: ['bench.sink'] };
exports.handler = async (req, { state, emit }) => {
  await state.set('api-js', 'last', req.body);
  await emit({ topic: 'bench.sink', data: req.body });
  return { status: 200, body: { ok: true } };
};
JS
cat >"$P/steps/py_event_step.py" <<'PY'
config = {"type": "event", "name": "PyEvent", "subscribes": ["bench.py"], "emits": ["bench.sink"]}


async def handler(input, context):
    await context.state.set("b-py", str(input["i"]), input)
    await context.emit({"topic": "bench.sink", "data": input})
PY
cat >"$P/steps/py_api_step.py" <<'PY'
config = {"type": "api", "name": "PyApi", "path": "/api/py", "method": "POST", "emits": ["bench.sink"]}


async def handler(req, context):
    await context.state.set("api-py", "last", req["body"])
    await context.emit({"topic": "bench.sink", "data": req["body"]})
    return {"status": 200, "body": {"ok": True}}
PY
cat >"$P/steps/sink.step.c" <<'C'
#include <stepd/step.h>
static int sink(step_ctx *ctx, json_t *input) { (void)ctx; (void)input; return 0; }
STEP_CONFIG = {.type = STEP_EVENT, .name = "Sink", .subscribes = STEP_LIST("bench.none"),
               .on_event = sink};
C
# phase 1 stand-ins: same step names, C, one slot each, never finishing, so the N events of
# each language stay queued when the server is killed; phase 2 starts the real step of one
# language at a time and times the drain.
mkdir -p "$BT/hold"
for n in CEvent:bench.c JsEvent:bench.js PyEvent:bench.py; do
    cat >"$BT/hold/${n%%:*}.step.c" <<C
#include <unistd.h>
#include <stepd/step.h>
static int hold(step_ctx *ctx, json_t *input) { (void)ctx; (void)input; sleep(3600); return 0; }
STEP_CONFIG = {.type = STEP_EVENT, .name = "${n%%:*}", .subscribes = STEP_LIST("${n#*:}"),
               .concurrency = 1, .on_event = hold};
C
done
cat >"$BT/post.lua" <<'L'
wrk.method = "POST"
wrk.body = '{"message":"hello there","n":1}'
wrk.headers["content-type"] = "application/json"
L
DB="$P/.stepd/stepd.db"
now_ms() { date +%s%3N; }
mkdir -p "$BT/real"
mv "$P"/steps/c_event.step.c "$P"/steps/js_event.step.js "$P"/steps/py_event_step.py "$BT/real/"
cp "$BT"/hold/*.step.c "$P/steps/"
start_stepd "$P"
for l in c js py; do
    curl -s -m 300 -X POST "http://127.0.0.1:$SPORT/fan/$l" -H 'content-type: application/json' \
        -d "{\"n\":$N}" >/dev/null
done
kill -9 "$SPID"; wait "$SPID" 2>/dev/null || true
rm "$P"/steps/CEvent.step.c "$P"/steps/JsEvent.step.c "$P"/steps/PyEvent.step.c
# events/s for one language: its step alone drains the N queued events into state
events_rate() {
    local lang=$1 file=$2 t0 t1 n=0
    cp "$BT/real/$file" "$P/steps/"
    start_stepd "$P"
    t0=$(now_ms)
    for _ in $(seq 2400); do
        n=$(sqlite3 "$DB" "SELECT count(*) FROM state WHERE grp='b-$lang'" 2>/dev/null || echo 0)
        [ "$n" -ge "$N" ] && break
        sleep 0.05
    done
    t1=$(now_ms)
    stop_pid "$SPID"
    rm "$P/steps/$file"
    [ "$n" -ge "$N" ] || { echo "only $n of $N $lang events completed" >&2; echo 0; return; }
    awk -v n="$N" -v ms="$((t1 - t0))" 'BEGIN { printf "%.0f\n", n / (ms / 1000) }'
}
EV_C=$(events_rate c c_event.step.c); EV_JS=$(events_rate js js_event.step.js)
EV_PY=$(events_rate py py_event_step.py)
start_stepd "$P"
# warm up every worker
for l in c js py; do
    for _ in 1 2 3 4; do curl -s -X POST "http://127.0.0.1:$SPORT/api/$l" -H 'content-type: application/json' -d '{}' >/dev/null; done
done
wrk_run "http://127.0.0.1:$SPORT/api/c" -s "$BT/post.lua"; API_C=$RPS; P99_C=$P99
wrk_run "http://127.0.0.1:$SPORT/api/js" -s "$BT/post.lua"; API_JS=$RPS; P99_JS=$P99; BAD_JS=${NON2XX:-0}
wrk_run "http://127.0.0.1:$SPORT/api/py" -s "$BT/post.lua"; API_PY=$RPS; P99_PY=$P99; BAD_PY=${NON2XX:-0}
stop_pid "$SPID"
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
table=$(cat <<T
| step | events/s (state.set + emit) | vs C | API req/s (state.set + emit) | p99 | vs C |
|---|---:|---:|---:|---:|---:|
| C (in-process) | $EV_C | 1.00 | $API_C | $P99_C | 1.00 |
| JavaScript (node $(node --version), 2 workers) | $EV_JS | $(ratio "$EV_JS" "$EV_C") | $API_JS | $P99_JS | $(ratio "$API_JS" "$API_C") |
| Python ($(python3 --version 2>&1 | cut -d' ' -f2), 2 workers) | $EV_PY | $(ratio "$EV_PY" "$EV_C") | $API_PY | $P99_PY | $(ratio "$API_PY" "$API_C") |
T
)
echo "$table"
[ "${BAD_JS:-0}" = 0 ] && [ "${BAD_PY:-0}" = 0 ] || echo "non-2xx answers: js ${BAD_JS:-0}, py ${BAD_PY:-0}"
{
    echo
    echo "## lang — JS/Python step overhead ($(date -u +%Y-%m-%d), $(machine))"
    echo
    echo "workers/eventWorkers=${WORKERS:-8}; 2 worker processes per language, default packing (4 in flight per process before the next gets any); writes and emits from workers are fire-and-forget. N=$N events per language queued beforehand, drained by that language's step alone (rate until all are in state); wrk ${DUR}s x ${CONNS:-64} connections; sqlite store; load average $(cut -d' ' -f1 /proc/loadavg) (shared machine)."
    echo "Targets (issue 11): JS events ≥ 10,000/s, Python events ≥ 5,000/s, JS API ≥ 10,000 req/s."
    echo
    echo "$table"
} >>"$RESULTS"
