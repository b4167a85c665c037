#!/usr/bin/env bash
# Graceful shutdown with JavaScript handlers in flight: SIGTERM waits for them up to
# shutdownTimeoutMs, then stops the workers and exits 0; the unfinished event stays queued
# and is delivered again on the next start.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
command -v node >/dev/null || { echo "node is not installed"; exit 77; }
dir="$TMP/shut"
mkdir -p "$dir/steps"
cat >"$dir/stepd.json" <<'J'
{"shutdownTimeoutMs": 500, "events": {"maxAttempts": 5, "backoffMs": 50, "timeoutMs": 60000},
 "languages": {"node": {"processes": 1}}}
J
cat >"$dir/steps/slow.step.js" <<'JS'
exports.config = { type: 'api', name: 'Kick', path: '/kick', method: 'POST', emits: ['slow'] };
exports.handler = async (req, { emit }) => { await emit({ topic: 'slow', data: req.body }); return { status: 202, body: {} }; };
JS
cat >"$dir/steps/worker.step.js" <<'JS'
// the first delivery sleeps far past the shutdown timeout; a later one finishes
exports.config = { type: 'event', name: 'Slow', subscribes: ['slow'], emits: [] };
exports.handler = async (input, { state, attempt }) => {
  const seen = await state.get('seen', input.id);
  await state.set('seen', input.id, { n: (seen ? seen.n : 0) + 1 });
  if (!seen) await new Promise((r) => setTimeout(r, 60000));
  await state.set('done', input.id, { attempt });
};
JS
start_server "$dir" start
expect "$(http POST /kick '{"id":"s1"}')" '202 *' "queued"
for _ in $(seq 50); do
    [ -n "$("$STEPD_BIN" state get seen s1 --port "$PORT" 2>/dev/null)" ] && break
    sleep 0.1
done
start=$(date +%s%N)
stop_server TERM
took=$(( ($(date +%s%N) - start) / 1000000 ))
[ "$EXIT_CODE" = 0 ] || fail "exit code $EXIT_CODE"
[ "$took" -lt 5000 ] || fail "shutdown took ${took} ms with a JS handler in flight"
start_server "$dir" start
for _ in $(seq 100); do
    v=$("$STEPD_BIN" state get done s1 --port "$PORT" 2>/dev/null)
    [ -n "$v" ] && break
    sleep 0.1
done
contains "$v" '"attempt":' "the unfinished event ran again after the restart"
stop_server TERM
echo "shutdown ok"
