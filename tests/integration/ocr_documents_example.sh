#!/usr/bin/env bash
# examples/documents end to end: multipart and raw uploads are accepted with 202 and read by the
# event step (fields stored under document_extracts, GET returns them); wrong types, corrupt
# and empty uploads are refused at once with the reason. A chat model on 127.0.0.1 classifies
# documents uploaded without a type ("classifiedBy": "llm"); with that model gone, keywords
# decide and the step logs why.
. "$STEPD_ROOT/tests/support/integration.sh"
export OMP_THREAD_LIMIT=1
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_MODEL STEPD_AI_MODEL DOCUMENTS_NO_LLM
# a chat model that calls every document an invoice, and counts the questions
cat >"$TMP/model.py" <<'PYEOF'
import http.server, json, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        open(sys.argv[1], "a").write("q\n")
        content = json.dumps({"type": "invoice", "confidence": 0.95})
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
/usr/bin/python3 "$TMP/model.py" "$TMP/questions" >"$TMP/model_port" &
MODEL_PID=$!
BG+=("$MODEL_PID")
for _ in $(seq 50); do [ -s "$TMP/model_port" ] && break; sleep 0.1; done
[ -s "$TMP/model_port" ] || fail "model server did not start"
export OPENAI_BASE_URL="http://127.0.0.1:$(cat "$TMP/model_port")/v1" OPENAI_MODEL=classifier
dir="$TMP/documents"
cp -r "$STEPD_ROOT/examples/documents" "$dir"
rm -rf "$dir/.stepd"
export DOCUMENTS_DIR="$TMP/uploads"
bash "$STEPD_ROOT/bench/ocr_gen.sh" "$TMP/gen" || fail "cannot build the document generator"
mkdir -p "$TMP/docs" && "$TMP/gen" "$TMP/docs" 2 || fail "document generator failed"
start_server "$dir" start

wait_done() { # ID -> prints the final "STATUS BODY"
    local out
    for _ in $(seq 300); do
        out=$(http GET "/documents/$1")
        case "$out" in 200*) break ;; esac
        sleep 0.2
    done
    echo "$out"
}
field() { /usr/bin/python3 -c 'import json,sys; d=json.loads(sys.argv[1].split(" ",1)[1]); print(d["fields"][sys.argv[2]]["value"])' "$1" "$2"; }
truth() { /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))[sys.argv[2]][sys.argv[3]])' "$TMP/docs/truth.json" "$1" "$2"; }

out=$(http POST "/documents?type=invoice" "" -F "file=@$TMP/docs/page_00.png;type=image/png")
expect "$out" '202 {"documentId":"*","pages":1}' "multipart upload accepted"
id=$(echo "$out" | sed 's/.*"documentId":"\([0-9a-f]*\)".*/\1/')
done=$(wait_done "$id")
expect "$done" '200 *"status":"done"*' "invoice extracted"
[ "$(field "$done" number)" = "$(truth page_00.png number)" ] || fail "invoice number: $(field "$done" number)"
[ "$(field "$done" vendor)" = "$(truth page_00.png vendor)" ] || fail "vendor: $(field "$done" vendor)"
expect "$done" '*"entities":[*' "entities present"
expect "$done" '*"classifiedBy":"given"*' "a given type is not classified"
[ ! -s "$TMP/questions" ] || fail "the model was asked although the type was given"

out=$(http POST /documents "" -H 'content-type: application/pdf' --data-binary "@$TMP/docs/invoice.pdf")
expect "$out" '202 *' "raw PDF upload accepted"
id=$(echo "$out" | sed 's/.*"documentId":"\([0-9a-f]*\)".*/\1/')
done=$(wait_done "$id")
expect "$done" '200 *"type":"invoice"*"source":"text"*' "text-layer PDF read without OCR"
[ "$(field "$done" total)" = "$(truth invoice.pdf total)" ] || fail "pdf total: $(field "$done" total)"
expect "$done" '*"classifiedBy":"llm"*' "the model classified the untyped upload"
[ "$(wc -l <"$TMP/questions")" -eq 1 ] || fail "the model was asked $(wc -l <"$TMP/questions") times"

echo "hello" >"$TMP/notes.txt"
head -c 1500 "$TMP/docs/invoice.pdf" >"$TMP/trunc.pdf"
expect "$(http POST /documents "" -F "file=@$TMP/notes.txt;type=text/plain")" '415 *not a document we can read*' "text file refused"
expect "$(http POST /documents "" -H 'content-type: application/pdf' --data-binary "@$TMP/docs/page_01.png")" '415 *declared application/pdf but the data is image/png*' "mislabelled upload refused"
expect "$(http POST /documents "" -H 'content-type: application/pdf' --data-binary "@$TMP/trunc.pdf")" '422 *PDF is corrupt*' "truncated PDF refused"
expect "$(http POST /documents "" -F "note=x")" '400 *no *file* field*' "form without a file"
expect "$(http GET /documents/0123456789abcdef0123456789abcdef)" '404 *' "unknown id"
stop_server TERM

# the model is gone: keywords decide, the step logs why, the document is still read
kill "$MODEL_PID"
wait "$MODEL_PID" 2>/dev/null
start_server "$dir" start
out=$(http POST /documents "" -H 'content-type: application/pdf' --data-binary "@$TMP/docs/invoice.pdf")
id=$(echo "$out" | sed 's/.*"documentId":"\([0-9a-f]*\)".*/\1/')
done=$(wait_done "$id")
expect "$done" '200 *"type":"invoice"*' "read when the model is down"
expect "$done" '*"classifiedBy":"keywords"*' "keywords when the model is down"
[ "$(field "$done" total)" = "$(truth invoice.pdf total)" ] || fail "pdf total: $(field "$done" total)"
grep -q "LLM classifier failed (network)" "$LOG" || fail "no warning logged for the dead model"
stop_server TERM
echo "documents example ok"
