#!/usr/bin/env bash
# The CLI: --version, --help everywhere, `stepd new` and its own test, emit/state/dlq usage.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
expect "$("$STEPD_BIN" --version)" 'stepd 0.*' "--version"
for c in dev start new test emit state dlq ai; do
    out=$("$STEPD_BIN" $c --help) || fail "$c --help exit code"
    expect "$out" '*usage: stepd*' "$c --help"
done
"$STEPD_BIN" bogus >/dev/null 2>&1 && fail "unknown command accepted"
"$STEPD_BIN" emit >/dev/null 2>&1; [ $? = 2 ] || fail "emit without topic should be a usage error"
contains "$("$STEPD_BIN" emit t '{bad' 2>&1)" "not valid JSON" "emit bad JSON message"
contains "$("$STEPD_BIN" emit t '{}' --port 1 2>&1)" "no stepd server answers" "emit without server"
cd "$TMP" && "$STEPD_BIN" new myapp >/dev/null || fail "stepd new"
"$STEPD_BIN" new myapp >/dev/null 2>&1 && fail "stepd new over an existing directory"
for f in stepd.json steps/hello.step.c steps/count_greetings.step.c steps/report.step.c tests/smoke.sh; do
    [ -f "myapp/$f" ] || fail "scaffold lacks $f"
done
out=$("$STEPD_BIN" test myapp) || fail "the scaffolded project's own test: $out"
expect "$out" '*1 passed, 0 failed*' "stepd test summary"
# the same project in JavaScript and in Python passes the same test
"$STEPD_BIN" new jsapp --lang js >/dev/null || fail "stepd new --lang js"
[ -f jsapp/steps/hello.step.js ] || fail "js scaffold lacks steps/hello.step.js"
"$STEPD_BIN" new pyapp --lang=python >/dev/null || fail "stepd new --lang python"
[ -f pyapp/steps/count_greetings_step.py ] || fail "python scaffold lacks its event step"
for app in jsapp pyapp; do
    out=$("$STEPD_BIN" test "$app") || fail "$app's own test: $out"
    expect "$out" '*1 passed, 0 failed*' "$app test summary"
done
"$STEPD_BIN" new other --lang cobol >/dev/null 2>&1
[ $? = 2 ] || fail "unknown --lang is a usage error"
echo "cli ok"
