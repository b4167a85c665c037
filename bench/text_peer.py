#!/usr/bin/python3
"""text_peer.py FILE PASSES MODE — the peer for bench/text.sh: Debian's python3-pattern on the
same documents (one per line). MODE "sentiment": pattern.en.sentiment(doc); MODE "full":
pattern.en.parse(doc) (tokens, tags, chunks) + sentiment + keywords. Prints the same JSON as
`stepd ai text --bench`; CPU time, data loading excluded (one warm-up document first)."""
import json
import sys
import time
import types

sys.modules["pattern.text.en.wordnet"] = types.ModuleType("pattern.text.en.wordnet")
import pattern.text.en as en  # noqa: E402

path, passes, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
docs = open(path, encoding="utf-8").read().split("\n")
if docs and docs[-1] == "":
    docs.pop()
en.sentiment("warm up the lexicon")
en.parse("warm up the tagger")
en.keywords("warm up the frequency list")
n = 0
t0 = time.process_time()
for _ in range(passes):
    for d in docs:
        if mode == "sentiment":
            en.sentiment(d)
        else:
            en.parse(d)
            en.sentiment(d)
            en.keywords(d)
        n += 1
dt = time.process_time() - t0
print(json.dumps({"mode": mode, "docs": n, "seconds": round(dt, 6),
                  "docsPerSec": round(n / dt, 1) if dt > 0 else 0}))
