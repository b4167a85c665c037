#!/usr/bin/env bash
# `stepd ai chat` end to end against the fake OpenAI-compatible server (run by the test_llm
# binary with --serve): plain and streamed replies, config errors, typed failures, usage.
set -uo pipefail
root=${STEPD_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
bin=${STEPD_BIN:-$root/build/stepd}
server=$root/${BUILD:-build}/tests/test_llm
[ -x "$bin" ] || { echo "stepd binary not built ($bin)"; exit 77; }
[ -x "$server" ] || { echo "fake server not built ($server): build the unit tests first"; exit 77; }

work=$(mktemp -d)
"$server" --serve >"$work/port" &
spid=$!
trap 'kill $spid 2>/dev/null; wait $spid 2>/dev/null; rm -rf "$work"' EXIT
for _ in $(seq 50); do [ -s "$work/port" ] && break; sleep 0.1; done
port=$(head -n1 "$work/port")
[ -n "$port" ] || { echo "FAIL: fake server did not start"; exit 1; }
cd "$work"
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_MODEL STEPD_AI_MODEL
fail() { echo "FAIL: $*"; exit 1; }

# no model configured: exit 1 and say how to configure one
"$bin" ai chat "hello" >out 2>err && fail "chat without a model succeeded"
grep -q OPENAI_API_KEY err || fail "no-model message does not mention OPENAI_API_KEY: $(cat err)"
grep -q no_model err || fail "no-model error kind missing: $(cat err)"

export OPENAI_BASE_URL=http://127.0.0.1:$port/v1 OPENAI_MODEL=fake-model

# JSON reply with usage
"$bin" ai chat "hello there" >out 2>err || fail "chat failed: $(cat err)"
/usr/bin/python3 - out <<'PY' || fail "bad JSON reply: $(cat out)"
import json, sys
r = json.load(open(sys.argv[1]))
assert r["content"] == "Echo: hello there", r
assert r["finishReason"] == "stop", r
assert r["usage"]["promptTokens"] == 2 and r["usage"]["completionTokens"] == 3, r
assert r["error"] is None, r
PY

# streamed: tokens on stdout, then a newline
out=$("$bin" ai chat "stream this please" --stream) || fail "stream failed"
[ "$out" = "Echo: stream this please" ] || fail "stream printed '$out'"

# --text, --system and stdin
out=$(echo "from stdin" | "$bin" ai chat - --text --system "be nice") || fail "stdin chat failed"
[ "$out" = "Echo: from stdin" ] || fail "--text printed '$out'"

# stepd.json in the current directory is read (its model wins over nothing, env wins over it)
unset OPENAI_MODEL
echo '{"ai": {"model": "fake-tool"}}' >stepd.json
"$bin" ai chat "where is A12345" >out 2>err || fail "stepd.json chat failed: $(cat err)"
grep -q track_order out || fail "tool call not printed: $(cat out)"
rm stepd.json
export OPENAI_MODEL=fake-model

# typed errors
"$bin" ai chat x --model fake-401 >out 2>err && fail "401 succeeded"
grep -q '\[auth\]' err || fail "401 not reported as auth: $(cat err)"
"$bin" ai chat x --model fake-500 --retries 1 >out 2>err && fail "500 succeeded"
grep -q '\[server\]' err || fail "500 not reported as server: $(cat err)"
grep -q 'after 2 attempts' err || fail "retries not reported: $(cat err)"
"$bin" ai chat x --model fake-slow --timeout 300 --retries 0 >out 2>err && fail "slow succeeded"
grep -q '\[timeout\]' err || fail "slow not reported as timeout: $(cat err)"

# usage
"$bin" ai chat --help | grep -q -- --stream || fail "--help does not document --stream"
"$bin" ai chat >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing message is not a usage error"
"$bin" ai chat x --bogus >/dev/null 2>&1; [ $? -eq 2 ] || fail "unknown option is not a usage error"
echo "llm_cli: all checks passed"
