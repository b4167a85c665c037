#!/usr/bin/env bash
# text_cli.sh — `stepd ai text`: JSON fields, --file/stdin, usage errors, bad and huge input.
set -euo pipefail
: "${STEPD_BIN:?}"
PY=/usr/bin/python3
if [ ! -f /usr/lib/python3/dist-packages/pattern/text/en/en-sentiment.xml ] && [ -z "${STEPD_PATTERN_DIR:-}" ]; then
    echo "python3-pattern is not installed (packages/text.apt)"; exit 77
fi
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT

"$STEPD_BIN" ai text "Apple Inc. is doing great in Paris! The new phone is amazing." >"$tmp/out.json"
$PY - "$tmp/out.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
for k in ("entities", "sentiment", "keyPhrases", "summary", "language", "readability", "tokens", "sentences"):
    assert k in d, k
s = d["sentiment"]
assert s["polarity"] > 0 and 0 <= s["subjectivity"] <= 1, s
assert s["classification"]["label"] == "POSITIVE", s
assert {"score", "grade", "level"} <= set(d["readability"]), d["readability"]
assert d["language"]["code"] == "en", d["language"]
assert d["sentences"] == 2, d["sentences"]
assert any(e["type"] == "GPE" and e["text"] == "Paris" for e in d["entities"]), d["entities"]
print("fields ok")
PYEOF

# --file and stdin give the same answer
printf 'The cat sat on the mat. It was not happy.' >"$tmp/in.txt"
a=$("$STEPD_BIN" ai text --sentiment --file "$tmp/in.txt")
b=$("$STEPD_BIN" ai text --sentiment - <"$tmp/in.txt")
[ "$a" = "$b" ] || { echo "file/stdin differ: $a / $b"; exit 1; }

# usage errors exit 2, --help exits 0
set +e
"$STEPD_BIN" ai text >/dev/null 2>&1; [ $? -eq 2 ] || { echo "no args should exit 2"; exit 1; }
"$STEPD_BIN" ai text --bogus x >/dev/null 2>&1; [ $? -eq 2 ] || { echo "bad option should exit 2"; exit 1; }
"$STEPD_BIN" ai text --file /nonexistent >/dev/null 2>&1; [ $? -eq 1 ] || { echo "missing file should exit 1"; exit 1; }
set -e
"$STEPD_BIN" ai text --help | grep -q usage

# empty, binary, invalid UTF-8
: >"$tmp/empty"; "$STEPD_BIN" ai text --file "$tmp/empty" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["tokens"]==0'
head -c 20000 /dev/urandom >"$tmp/bin"; "$STEPD_BIN" ai text --file "$tmp/bin" | $PY -c 'import json,sys; json.load(sys.stdin)'
printf 'caf\xc3 ok \xff\xfe \xe2\x82 bad' >"$tmp/bad"; "$STEPD_BIN" ai text --file "$tmp/bad" | $PY -c 'import json,sys; d=json.load(sys.stdin); assert d["tokens"]>=3'

# a 50 MB text: a clear result in bounded time (12 MB on sanitizer builds, which are ~5x slower)
MB=50; case "${BUILD:-}" in *asan*) MB=12;; esac
$PY -c '
import random
r = random.Random(3)
words = "the a good bad movie plot actor was very not great terrible fine and but it is".split()
with open("'"$tmp"'/big.txt", "w") as f:
    n = 0
    while n < '"$MB"' * 1024 * 1024:
        s = " ".join(r.choice(words) for _ in range(r.randint(5, 20))).capitalize() + ". "
        if r.random() < 0.1: s += "\n\n"
        f.write(s); n += len(s)
'
start=$(date +%s)
"$STEPD_BIN" ai text --file "$tmp/big.txt" >"$tmp/big.json"
took=$(( $(date +%s) - start ))
$PY -c 'import json,sys; d=json.load(open(sys.argv[1])); assert d["truncated"] is True and d["sentences"] > 100000, d.keys(); print("'"$MB"' MB:", d["tokens"], "tokens,", d["sentences"], "sentences")' "$tmp/big.json"
echo "$MB MB analysed in ${took}s"
