#!/usr/bin/env bash
# ocr_cli.sh — `stepd ai ocr` end to end on documents generated here (bench/ocr_gen.c): an
# invoice PNG, a text-layer PDF, a scanned PDF and a multi-page TIFF give the right fields as
# JSON; empty, truncated, wrong-type and mislabelled inputs fail with exit 1 and a clear
# message; bad usage exits 2.
set -uo pipefail
cd "$STEPD_ROOT"
PY=/usr/bin/python3
[ -x "$PY" ] || { echo "skip: /usr/bin/python3 is needed to read the JSON output"; exit 77; }
t=$(mktemp -d)
trap 'rm -rf "$t"' EXIT
bash bench/ocr_gen.sh "$t/gen" || { echo "cannot build bench/ocr_gen.c"; exit 1; }
"$t/gen" "$t" 3 || { echo "document generator failed"; exit 1; }
export OMP_THREAD_LIMIT=1
# no model: the type comes from keywords and nothing leaves the machine (ocr_llm_cli.sh tests
# the LLM classifier)
unset OPENAI_API_KEY OPENAI_BASE_URL OPENAI_MODEL STEPD_AI_MODEL
fail=0
check() { # FILE ARGS... : OCR FILE and compare every truth field with the output
    local f=$1
    shift
    if ! "$STEPD_BIN" ai ocr "$t/$f" "$@" >"$t/out.json" 2>"$t/err"; then
        echo "FAIL: stepd ai ocr $f $*: $(cat "$t/err")"
        fail=1
        return
    fi
    local by=detect
    case " $* " in *" --type "*) by=given ;; esac
    "$PY" - "$t/truth.json" "$f" "$t/out.json" "$by" <<'PYEOF' || fail=1
import json, sys
truth = json.load(open(sys.argv[1]))[sys.argv[2]]
out = json.load(open(sys.argv[3]))
assert set(out) == {"type", "classifiedBy", "text", "fields", "entities", "confidence",
                    "pages"}, list(out)
bad = []
if out["classifiedBy"] != ("given" if sys.argv[4] == "given" else "keywords"):
    bad.append("classifiedBy %r" % out["classifiedBy"])
if out["type"] != truth["type"]:
    bad.append("type %r" % out["type"])
for k, want in truth.items():
    if k == "type":
        continue
    got = out["fields"].get(k)
    if k == "items":
        ok = isinstance(got, list) and len(got) == want
    else:
        got = got and got.get("value")
        ok = (abs(got - want) < 0.005) if isinstance(want, float) and isinstance(got, (int, float)) \
            else str(got).upper() == str(want).upper()
    if not ok:
        bad.append("%s=%r (want %r)" % (k, got, want))
print("%s: %s, %d pages, confidence %.2f, %s" % (sys.argv[2], out["type"], len(out["pages"]),
      out["confidence"], "all fields right" if not bad else "WRONG: " + "; ".join(bad)))
sys.exit(1 if bad else 0)
PYEOF
}
check page_00.png --type invoice
check page_01.png
check invoice.pdf
check scan.pdf --dpi 200
# multi-page TIFF: three pages, each OCRed
"$STEPD_BIN" ai ocr "$t/pages.tif" --threads 2 --words >"$t/tif.json" || { echo "FAIL: tiff"; fail=1; }
"$PY" -c '
import json, sys
d = json.load(open(sys.argv[1]))
assert len(d["pages"]) == 3, len(d["pages"])
assert all(p["source"] == "ocr" and p["words"] for p in d["pages"])
assert d["text"].count("\f") == 2
print("pages.tif: 3 pages OCRed, %d words" % sum(len(p["words"]) for p in d["pages"]))
' "$t/tif.json" || fail=1

expect() { # CODE NEEDLE ARGS... : exit status and a message on stderr
    local code=$1 needle=$2
    shift 2
    "$STEPD_BIN" ai ocr "$@" >"$t/out" 2>"$t/err"
    local rc=$?
    if [ $rc -ne "$code" ] || ! grep -q -- "$needle" "$t/err"; then
        echo "FAIL: stepd ai ocr $* -> exit $rc, stderr: $(cat "$t/err") (want $code, '$needle')"
        fail=1
    else
        echo "ok: $* -> $code: $(head -n1 "$t/err")"
    fi
}
: >"$t/empty.png"
head -c 3000 "$t/page_00.png" >"$t/trunc.png"
head -c 2000 "$t/invoice.pdf" >"$t/trunc.pdf"
echo "just some text" >"$t/notes.txt"
expect 1 "empty" "$t/empty.png"
expect 1 "corrupt or truncated" "$t/trunc.png"
expect 1 "PDF" "$t/trunc.pdf"
expect 1 "not a document we can read" "$t/notes.txt"
expect 1 "declared application/pdf but the data is image/png" "$t/page_00.png" --mime application/pdf
expect 1 "limit is 0.1 megapixels" "$t/page_00.png" --max-pixels 100000
expect 1 "No such file" "$t/missing.png"
expect 1 "unknown document type" "$t/page_00.png" --type passport
expect 2 "wants a positive number" "$t/page_00.png" --threads x
expect 2 "usage" 
"$STEPD_BIN" ai ocr --help | grep -q "invoice|receipt|id" || { echo "FAIL: --help"; fail=1; }
"$STEPD_BIN" ai ocr --languages | grep -q '"eng"' || { echo "FAIL: --languages"; fail=1; }
exit $fail
