#!/usr/bin/env bash
# ocr_llm_cli.sh — `stepd ai ocr` with an LLM classifying the document type, over real HTTP on
# 127.0.0.1: a model answering {"type": "receipt"} decides the type ("classifiedBy": "llm");
# the fake OpenAI-compatible server (test_llm --serve) answering prose, failing with HTTP 500,
# or being down falls back to keyword scoring with a warning on stderr and exit 0; --no-llm,
# --type and no configuration never call a model.
set -uo pipefail
cd "$STEPD_ROOT"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skip: /usr/bin/python3 is needed to read the JSON output"; exit 77; }
server=$STEPD_ROOT/${BUILD:-build}/tests/test_llm
[ -x "$server" ] || { echo "fake server not built ($server): build the unit tests first"; exit 77; }
t=$(mktemp -d)
spid= ppid_=
trap 'for p in $spid $ppid_; do kill $p 2>/dev/null; wait $p 2>/dev/null; done; rm -rf "$t"' EXIT
bash bench/ocr_gen.sh "$t/gen" || { echo "cannot build bench/ocr_gen.c"; exit 1; }
"$t/gen" "$t" 1 >/dev/null || { echo "document generator failed"; exit 1; }
export OMP_THREAD_LIMIT=1
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_MODEL STEPD_AI_MODEL
fail=0

"$server" --serve >"$t/port" &
spid=$!
for _ in $(seq 50); do [ -s "$t/port" ] && break; sleep 0.1; done
port=$(head -n1 "$t/port")
[ -n "$port" ] || { echo "FAIL: fake server did not start"; exit 1; }

# A model that answers like a real one: JSON with a type. The fake server can only echo or
# fail, so this one is a few lines of Python; it records the request it got.
cat >"$t/model.py" <<'PYEOF'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        open(sys.argv[1], "wb").write(body)
        content = json.dumps({"type": "receipt", "confidence": 0.9})
        out = json.dumps({"id": "c1", "object": "chat.completion", "model": "m",
                          "choices": [{"index": 0, "finish_reason": "stop",
                                       "message": {"role": "assistant", "content": content}}]})
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out.encode())
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
PYEOF
"$PY" "$t/model.py" "$t/request.json" >"$t/port2" &
ppid_=$!
for _ in $(seq 50); do [ -s "$t/port2" ] && break; sleep 0.1; done
port2=$(head -n1 "$t/port2")
[ -n "$port2" ] || { echo "FAIL: model server did not start"; exit 1; }

run() { # WANT_TYPE WANT_BY STDERR_NEEDLE|"" ARGS... : exit 0, type, classifiedBy, warning
    local want=$1 by=$2 needle=$3
    shift 3
    if ! "$STEPD_BIN" ai ocr "$t/invoice.pdf" "$@" >"$t/out.json" 2>"$t/err"; then
        echo "FAIL: stepd ai ocr invoice.pdf $*: exit $?: $(cat "$t/err")"
        fail=1
        return
    fi
    local got
    got=$("$PY" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["type"], d["classifiedBy"], "total" in d["fields"])' "$t/out.json")
    if [ "$got" != "$want $by True" ]; then
        echo "FAIL: $* -> $got (want $want $by with a total); stderr: $(cat "$t/err")"
        fail=1
    elif [ -n "$needle" ] && ! grep -q -- "$needle" "$t/err"; then
        echo "FAIL: $* -> no warning '$needle' on stderr: $(cat "$t/err")"
        fail=1
    elif [ -z "$needle" ] && [ -s "$t/err" ]; then
        echo "FAIL: $* -> unexpected stderr: $(cat "$t/err")"
        fail=1
    else
        echo "ok: ${OPENAI_MODEL:-no model} $* -> $got${needle:+; $(head -n1 "$t/err")}"
    fi
}

# nothing configured: keywords, no warning
run invoice keywords ""

# a model that answers: its type wins over the keywords, and it got the page text
export OPENAI_BASE_URL=http://127.0.0.1:$port2/v1 OPENAI_MODEL=classifier
run receipt llm ""
"$PY" -c '
import json, sys
b = json.load(open(sys.argv[1]))
sysmsg, user = b["messages"][0]["content"], b["messages"][1]["content"]
assert all(t in sysmsg for t in ("invoice", "receipt", "id", "other")), sysmsg
assert "INVOICE" in user.upper() and len(user) <= 2100, len(user)
print("ok: the request named the four types and carried %d chars of the page" % len(user))
' "$t/request.json" || fail=1
run invoice given "" --type invoice
run invoice keywords "" --no-llm

# the fake server echoes the prompt: not a type, so keywords decide, with a warning
export OPENAI_BASE_URL=http://127.0.0.1:$port/v1 OPENAI_MODEL=fake-model
run invoice keywords "warning: LLM classifier answered 'Echo: "
# HTTP 500 on every attempt
export OPENAI_MODEL=fake-500
run invoice keywords "warning: LLM classifier failed (server)"
# the server is down
kill $spid
wait $spid 2>/dev/null
spid=
export OPENAI_MODEL=fake-model
start=$(date +%s)
run invoice keywords "warning: LLM classifier failed (network)"
[ $(($(date +%s) - start)) -le 10 ] || { echo "FAIL: a dead server delayed the document > 10 s"; fail=1; }
"$STEPD_BIN" ai ocr --help | grep -q -- "--no-llm" || { echo "FAIL: --help lacks --no-llm"; fail=1; }
exit $fail
