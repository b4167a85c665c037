#!/usr/bin/env bash
# JavaScript and Python steps: every context call from both languages (state get/set/delete/
# getGroup/clear, emit, undeclared emit refused, logger, traceId), Motia request fields
# (body, pathParams, queryParams, headers, rawBody), responses with status and headers,
# middleware chains (attach to req, short-circuit, post-process), Zod-style validation from
# the project's node_modules, ES modules and CommonJS, plain-def Python handlers, and a
# mixed-language fan-out (each language's emit reaches both languages' event steps).
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
command -v python3 >/dev/null || { echo "python3 is not installed"; exit 77; }
dir=$(project polyglot_ctx)
start_server "$dir" start
grep -q '"msg":"stepd is listening","steps":12' "$LOG" || fail "not every step loaded (cron and noop included)"

for lang in js py; do
    out=$(http POST "/$lang/ctx/g$lang?x=1&y=two" '{"hello":"world"}' -H 'x-custom: yes' -H 'x-trace-id: trace-'$lang -D "$TMP/h")
    expect "$out" '201 *' "$lang ctx status"
    grep -qi "^x-step: " "$TMP/h" || fail "$lang: response header missing"
    contains "$out" '"setReturned":{"n":1}' "$lang state.set returns the value"
    contains "$out" '"get":{"n":1}' "$lang state.get"
    contains "$out" '"missing":null' "$lang state.get of a missing key"
    contains "$out" '"group":[{"n":1},{"n":2}]' "$lang state.getGroup"
    contains "$out" '"afterDelete":null' "$lang state.delete"
    contains "$out" '"afterClear":[]' "$lang state.clear"
    contains "$out" '"undeclared":"emit of \"undeclared.topic\": the topic is not in the step'"'"'s emits"' "$lang undeclared emit"
    contains "$out" "\"traceId\":\"trace-$lang\"" "$lang trace id"
    contains "$out" '"query":{"x":"1","y":"two"}' "$lang queryParams"
    contains "$out" '"header":"yes"' "$lang headers"
    contains "$out" '"rawBody":"{\"hello\":\"world\"}"' "$lang rawBody"
    contains "$out" '"body":{"hello":"world"}' "$lang body"
done
grep -q '"level":"info","step":"JsCtx","traceId":"trace-js","msg":"js ctx done","group":"gjs"' "$LOG" || fail "JS logger.info line"
grep -q '"level":"warn","step":"JsCtx".*"msg":"js warn line"' "$LOG" || fail "JS logger.warn line"
grep -q '"level":"info","step":"PyCtx","traceId":"trace-py","msg":"py ctx done"' "$LOG" || fail "Python logger line"

# mixed-language fan-out: js.ping and py.ping each reach the JS and the Python subscriber
for k in js-got-js py-got-js js-got-py py-got-py; do
    for _ in $(seq 50); do
        v=$("$STEPD_BIN" state get pings "$k" --port "$PORT" 2>/dev/null)
        [ -n "$v" ] && break
        sleep 0.1
    done
    contains "$v" '"traceId":"trace-' "fan-out $k (trace id carried)"
done

# middleware: attaches to req, short-circuits, post-processes the response
out=$(http GET /js/mw "" -H 'x-user: ann' -D "$TMP/h")
contains "$out" '200 {"user":{"id":"ann"},"trail":["first","second"]}' "middleware chain"
grep -qi '^x-after: first' "$TMP/h" || fail "middleware did not post-process the response"
contains "$(http GET /js/mw "" -H 'x-block: 1')" '403 {"error":"blocked by second","trail":["first"]}' "short-circuit"

# Zod-style schema from node_modules: 400 naming the field, like the core's JSON Schema check
expect "$(http POST /js/zod '{"name":"x","age":3}')" '400 *"field":"name"*at least 2*' "zod min length"
expect "$(http POST /js/zod '{"name":"xy"}')" '400 {"error":"invalid request body: '"'"'age'"'"' Required","field":"age","message":"Required"}' "zod required"
expect "$(http POST /js/zod '{"name":"xy","age":3}')" '200 {"hello":"xy"}' "zod ok"

# module kinds and plain-def Python
expect "$(http GET /js/esm)" '200 {"module":"esm","file":"esm.step.mjs*' "ES module step"
expect "$(http GET /js/cjs)" '200 {"module":"cjs"}' ".cjs step"
expect "$(http GET '/py/sync?x=7')" '200 {"sync":true,"q":"7"}' "plain def handler"

# binary uploads: not UTF-8, so rawBody is null and rawBodyBase64 carries the bytes
printf '\xff\xfe\x00\x01abc' >"$TMP/bin"
out=$(curl -s -m 10 -X POST "http://127.0.0.1:$PORT/js/upload" -H 'content-type: application/octet-stream' --data-binary @"$TMP/bin")
expect "$out" '{"bytes":7,"first":255,"text":null}' "binary body"
out=$(curl -s -m 10 -X POST "http://127.0.0.1:$PORT/js/upload" -H 'content-type: text/plain' --data-binary 'héllo')
expect "$out" '{"bytes":6,"first":104,"text":"héllo"}' "text body"

stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "exit code $EXIT_CODE"

# a pydantic model as bodySchema is validated in the Python worker (when pydantic is there)
if python3 -c 'import pydantic' 2>/dev/null; then
    pd="$TMP/pyd"
    mkdir -p "$pd/steps"
    cat >"$pd/steps/pyd_step.py" <<'PY'
from pydantic import BaseModel


class Order(BaseModel):
    name: str
    qty: int


config = {"type": "api", "name": "PyOrder", "path": "/order", "method": "POST", "emits": [],
          "bodySchema": Order}


async def handler(req, context):
    return {"status": 200, "body": {"name": req["body"]["name"]}}
PY
    start_server "$pd" start
    expect "$(http POST /order '{"name":"x"}')" '400 {"error":"invalid request body: '"'"'qty'"'"' Field required","field":"qty","message":"Field required"}' "pydantic required"
    expect "$(http POST /order '{"name":"x","qty":2}')" '200 {"name":"x"}' "pydantic ok"
    stop_server TERM
else
    echo "pydantic is not installed for python3: pydantic check not run"
fi
# writes do not wait for the core, yet what the core would refuse is still an error the
# handler can catch, and a write followed by a read in the same handler sees the write
wd="$TMP/writes"
mkdir -p "$wd/steps"
cat >"$wd/steps/w.step.js" <<'JS'
exports.config = { type: 'api', name: 'JsWrites', path: '/js/w', method: 'POST', emits: [] };
exports.handler = async (req, { state }) => {
  const out = {};
  try { await state.set('', 'k', 1); out.badGroup = 'allowed'; } catch (e) { out.badGroup = e.message; }
  const cyc = {}; cyc.self = cyc;
  try { await state.set('w', 'k', cyc); out.cycle = 'allowed'; } catch (e) { out.cycle = e.message.split(':')[0]; }
  for (let i = 0; i < 50; i++) state.set('w', 'n', { i }); // not awaited: still in order
  out.read = await state.get('w', 'n');
  return { status: 200, body: out };
};
JS
cat >"$wd/steps/w_step.py" <<'PY'
config = {"type": "api", "name": "PyWrites", "path": "/py/w", "method": "POST", "emits": []}


async def handler(req, context):
    out = {}
    try:
        await context.state.set("", "k", 1)
        out["badGroup"] = "allowed"
    except Exception as e:
        out["badGroup"] = str(e)
    cyc = {}
    cyc["self"] = cyc
    try:
        await context.state.set("w", "k", cyc)
        out["cycle"] = "allowed"
    except Exception as e:
        out["cycle"] = str(e).split(":")[0]
    for i in range(50):
        context.state.set("w", "n", {"i": i})
    out["read"] = await context.state.get("w", "n")
    return {"status": 200, "body": out}
PY
start_server "$wd" start
for lang in js py; do
    expect "$(http POST "/$lang/w" '{}')" '200 {"badGroup":"state.set failed: invalid argument","cycle":"state.set failed","read":{"i":49}}' "$lang writes"
done
stop_server TERM
echo "context ok"
