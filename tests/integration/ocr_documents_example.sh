#!/usr/bin/env bash
# examples/documents end to end: multipart and raw uploads are accepted with 202 and read by the
# event step (fields stored under document_extracts, GET returns them); wrong types, corrupt
# and empty uploads are refused at once with the reason.
. "$STEPD_ROOT/tests/support/integration.sh"
export OMP_THREAD_LIMIT=1
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

out=$(http POST /documents "" -H 'content-type: application/pdf' --data-binary "@$TMP/docs/invoice.pdf")
expect "$out" '202 *' "raw PDF upload accepted"
id=$(echo "$out" | sed 's/.*"documentId":"\([0-9a-f]*\)".*/\1/')
done=$(wait_done "$id")
expect "$done" '200 *"type":"invoice"*"source":"text"*' "text-layer PDF read without OCR"
[ "$(field "$done" total)" = "$(truth invoice.pdf total)" ] || fail "pdf total: $(field "$done" total)"

echo "hello" >"$TMP/notes.txt"
head -c 1500 "$TMP/docs/invoice.pdf" >"$TMP/trunc.pdf"
expect "$(http POST /documents "" -F "file=@$TMP/notes.txt;type=text/plain")" '415 *not a document we can read*' "text file refused"
expect "$(http POST /documents "" -H 'content-type: application/pdf' --data-binary "@$TMP/docs/page_01.png")" '415 *declared application/pdf but the data is image/png*' "mislabelled upload refused"
expect "$(http POST /documents "" -H 'content-type: application/pdf' --data-binary "@$TMP/trunc.pdf")" '422 *PDF is corrupt*' "truncated PDF refused"
expect "$(http POST /documents "" -F "note=x")" '400 *no *file* field*' "form without a file"
expect "$(http GET /documents/0123456789abcdef0123456789abcdef)" '404 *' "unknown id"
stop_server TERM
echo "documents example ok"
