#!/usr/bin/env bash
# bench/text.sh — documents/s for the text module against Debian's python3-pattern on the same
# generated corpus (tests/support/text_corpus.py), in the same run:
#   sentiment alone: stepd_text_sentiment        vs pattern.en.sentiment
#   parse:           stepd_text_analyze with parse_only (tokens, sentiment, tags, noun and key
#                    phrases)                  vs pattern.en.parse + sentiment + keywords
#   full analysis:   stepd_text_analyze (the above + entities, summary, language id,
#                    readability)              vs the same peer
# CPU time of the analysis only (data loading excluded on both sides), single thread.
# Prints a table and appends it to bench/RESULTS.md.   DOCS=2000 PASSES=10 bench/text.sh
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
STEPD=${STEPD:-$ROOT/build/stepd}
PY=/usr/bin/python3
DOCS=${DOCS:-2000}
PASSES=${PASSES:-10}
[ -x "$STEPD" ] || make -C "$ROOT" -s -j2 build/stepd
$PY -c 'import pattern' 2>/dev/null || { echo "bench/text.sh needs Debian's python3-pattern"; exit 1; }
T=$(mktemp -d); trap 'rm -rf "$T"' EXIT
$PY "$ROOT/tests/support/text_corpus.py" "$DOCS" 5 >"$T/corpus.txt"
bytes=$(wc -c <"$T/corpus.txt")

field() { $PY -c 'import json,sys; print(json.loads(sys.stdin.read())[sys.argv[1]])' "$1"; }

s_sent=$("$STEPD" ai text --sentiment --bench "$PASSES" --file "$T/corpus.txt" | field docsPerSec)
p_sent=$($PY "$ROOT/bench/text_peer.py" "$T/corpus.txt" 2 sentiment | field docsPerSec)
s_parse=$("$STEPD" ai text --parse-only --bench "$PASSES" --file "$T/corpus.txt" | field docsPerSec)
s_full=$("$STEPD" ai text --bench "$(( PASSES / 5 > 0 ? PASSES / 5 : 1 ))" --file "$T/corpus.txt" | field docsPerSec)
p_full=$($PY "$ROOT/bench/text_peer.py" "$T/corpus.txt" 1 full | field docsPerSec)
r_sent=$($PY -c "print(f'{$s_sent/$p_sent:.1f}x')")
r_parse=$($PY -c "print(f'{$s_parse/$p_full:.1f}x')")
r_full=$($PY -c "print(f'{$s_full/$p_full:.1f}x')")

pver=$(dpkg-query -W -f='${Version}' python3-pattern 2>/dev/null || echo '?')
table="| text, 1 thread, CPU time | stepd | python3-pattern $pver | stepd advantage |
|---|---|---|---|
| sentiment: docs/s | $s_sent | $p_sent | $r_sent |
| parse (tokens, tags, noun/key phrases, sentiment) vs parse+sentiment+keywords: docs/s | $s_parse | $p_full | $r_parse |
| full analysis (+ entities, summary, language, readability) vs the same: docs/s | $s_full | $p_full | $r_full |"
echo "$table"
{
    echo
    echo "## text — $(date -u '+%Y-%m-%d %H:%M') UTC"
    echo
    echo "Machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'). Corpus: $DOCS generated English documents (tests/support/text_corpus.py, seed 5, $bytes bytes, 1-3 sentences each). CPU time of the analysis, data loading excluded on both sides. The peer's run is pattern.en.parse (tokens, tags, chunks) + sentiment + keywords; stepd's parse row computes the same kinds of output, its full row the whole analysis document (language id by stepd's own n-gram classifier over libexttextcat-data's fingerprints). Results are identical for sentiment (tests/unit/test_text.c checks equality to 1e-9) and POS tags (100% agreement on its corpus)."
    echo
    echo "$table"
} >>"$ROOT/bench/RESULTS.md.text.tmp"
cat "$ROOT/bench/RESULTS.md.text.tmp" >>"$ROOT/bench/RESULTS.md"
rm -f "$ROOT/bench/RESULTS.md.text.tmp"
