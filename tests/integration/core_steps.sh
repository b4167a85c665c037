#!/usr/bin/env bash
# Step loading: invalid configs stop start-up with a message naming the file; compile errors
# name file and line; `stepd dev` reloads a changed step and keeps the old one on error.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
bad=$(project basic)
check_bad() { # FILE CONTENT EXPECTED
    rm -f "$bad"/steps/zz_*.step.c
    printf '%s\n' "$2" >"$bad/steps/$1"
    out=$("$STEPD_BIN" start "$bad" --port 0 2>&1)
    rc=$?
    [ $rc != 0 ] || fail "$1: start-up should fail"
    case "$out" in *$3*) ;; *) fail "$1: message '$out' lacks '$3'" ;; esac
}
H='#include <stepd/step.h>
static int h(step_ctx *c, step_request *q, step_response *r) { (void)c; (void)q; return step_respond(r, 200, NULL); }
static int e(step_ctx *c, json_t *i) { (void)c; (void)i; return 0; }
static int k(step_ctx *c) { (void)c; return 0; }'
check_bad zz_type.step.c "$H
STEP_CONFIG = {.type = 9, .name = \"T\", .api = h};" "zz_type.step.c: unknown step type"
check_bad zz_path.step.c "$H
STEP_CONFIG = {.type = STEP_API, .name = \"P\", .method = \"GET\", .path = \"no-slash\", .api = h};" "zz_path.step.c: bad path"
check_bad zz_dup.step.c "$H
STEP_CONFIG = {.type = STEP_API, .name = \"D\", .method = \"GET\", .path = \"/jobs/:x\", .api = h};" "zz_dup.step.c: duplicate route GET /jobs/:x: also served by steps/jobs_get.step.c"
check_bad zz_cron.step.c "$H
STEP_CONFIG = {.type = STEP_CRON, .name = \"C\", .cron = \"61 * * * *\", .on_cron = k};" "zz_cron.step.c: bad cron expression"
check_bad zz_subs.step.c "$H
STEP_CONFIG = {.type = STEP_EVENT, .name = \"S\", .on_event = e};" "zz_subs.step.c: event step subscribes to nothing"
check_bad zz_mw.step.c "$H
STEP_CONFIG = {.type = STEP_API, .name = \"M\", .method = \"GET\", .path = \"/m\", .middleware = STEP_LIST(\"nope\"), .api = h};" 'middleware "nope" not found'
check_bad zz_schema.step.c "$H
STEP_CONFIG = {.type = STEP_API, .name = \"B\", .method = \"POST\", .path = \"/b\", .body_schema = \"{\\\"type\\\":\\\"strin\\\"}\", .api = h};" "zz_schema.step.c: body_schema"
check_bad zz_name.step.c "$H
STEP_CONFIG = {.type = STEP_API, .name = \"Echo\", .method = \"GET\", .path = \"/n\", .api = h};" 'step name "Echo" is already used'
check_bad zz_syntax.step.c '#include <stepd/step.h>
int broken( {' "steps/zz_syntax.step.c:2:"
check_bad zz_none.step.c '#include <stepd/step.h>
int nothing_here(void) { return 0; }' "zz_none.step.c: no STEP_CONFIG found"
echo '{"port": "x"}' >"$bad/stepd.json"
rm -f "$bad"/steps/zz_*.step.c
out=$("$STEPD_BIN" start "$bad" 2>&1) && fail "bad stepd.json accepted"
expect "$out" "*stepd.json*port*" "stepd.json error names the file and key"
echo '{"port": 1,' >"$bad/stepd.json"
out=$("$STEPD_BIN" start "$bad" 2>&1) && fail "broken stepd.json accepted"
expect "$out" "*stepd.json:2:*" "stepd.json syntax error names file and line"

# hot reload in dev mode
dir=$(project basic)
start_server "$dir" dev
expect "$(http GET /fail)" '500 *' "before reload"
cat >"$dir/steps/fail.step.c" <<'C'
#include <stepd/step.h>
static int fixed(step_ctx *c, step_request *q, step_response *r) { (void)c; (void)q; return step_respond(r, 200, json_pack("{s:s}", "v", "two")); }
STEP_CONFIG = {.type = STEP_API, .name = "Fail", .method = "GET", .path = "/fail", .api = fixed};
C
for _ in $(seq 100); do out=$(http GET /fail); [ "${out%% *}" = 200 ] && break; sleep 0.1; done
expect "$out" '200 {"v":"two"}' "reloaded step serves the new code"
printf '#include <stepd/step.h>\nint oops( {\n' >"$dir/steps/fail.step.c"
sleep 2
expect "$(http GET /fail)" '200 {"v":"two"}' "compile error keeps the old version"
grep -q 'fail.step.c:2:' "$LOG" || fail "compile error not reported with file:line"
# queued events survive a reload: a job posted now is processed by the (unchanged) worker
expect "$(http POST /jobs '{"id":"r1"}')" '202 *' "post during dev"
wait_for /jobs/r1 >/dev/null || fail "event lost around reload"
stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "dev exit $EXIT_CODE"
echo "step loading and reload ok"
