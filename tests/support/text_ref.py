#!/usr/bin/python3
"""text_ref.py [--tags] — reference results from Debian's python3-pattern for each line of
stdin: one JSON line {"polarity", "subjectivity"} (and "tags": [[word, tag], ...] with
--tags). Run with /usr/bin/python3 (Debian's modules). pattern.text.en imports its WordNet
module, which wants nltk data that is not shipped: a stub module stands in for it (neither
the sentiment lexicon nor the tagger uses WordNet)."""
import json
import sys
import types

sys.modules["pattern.text.en.wordnet"] = types.ModuleType("pattern.text.en.wordnet")
import pattern.text.en as en  # noqa: E402

tags = "--tags" in sys.argv
out = sys.stdout
for line in sys.stdin:
    line = line.rstrip("\n")
    p, s = en.sentiment(line)
    r = {"polarity": p, "subjectivity": s}
    if tags:
        r["tags"] = [[w[0], w[1]] for sent in en.parse(line, chunks=False, collapse=False)
                     for w in sent]
    out.write(json.dumps(r) + "\n")
