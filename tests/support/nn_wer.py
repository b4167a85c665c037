#!/usr/bin/python3
"""nn_wer.py — word error rate of transcripts against references, per group and pooled.

    nn_wer.py REFS.tsv HYPS.jsonl
REFS.tsv: "group<TAB>file<TAB>reference text" lines; HYPS.jsonl: one JSON object a line with
"file" and "text" (what `stepd nn transcribe` prints for several files). Text is normalised
before scoring: lower case, punctuation dropped, hyphens split, numbers written as words
("7:30" -> "seven thirty", "1999" -> "nineteen ninety nine", "4th" -> "fourth").
Prints {"groups": {g: {"wer", "words", "errors"}}, "pooled": {...}} as JSON.
"""
import json
import re
import sys

ONES = "zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen " \
       "fifteen sixteen seventeen eighteen nineteen".split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
ORD = {"one": "first", "two": "second", "three": "third", "five": "fifth", "eight": "eighth",
       "nine": "ninth", "twelve": "twelfth"}


def words_of(n):
    if n < 20:
        return [ONES[n]]
    if n < 100:
        return [TENS[n // 10]] + ([ONES[n % 10]] if n % 10 else [])
    if n < 1000:
        return [ONES[n // 100], "hundred"] + (words_of(n % 100) if n % 100 else [])
    if 1100 <= n < 2100 and n % 100 and n // 100 % 10:  # years: nineteen ninety nine
        return words_of(n // 100) + (["oh"] if n % 100 < 10 else []) + words_of(n % 100)
    if n < 1000000:
        return words_of(n // 1000) + ["thousand"] + (words_of(n % 1000) if n % 1000 else [])
    return [str(n)]


def ordinal(ws):
    last = ws[-1]
    if last in ORD:
        return ws[:-1] + [ORD[last]]
    if last.endswith("y"):
        return ws[:-1] + [last[:-1] + "ieth"]
    return ws[:-1] + [last + "th"]


def normalise(text):
    t = text.lower().replace("-", " ").replace("%", " percent")
    t = re.sub(r"(\d+):(\d\d)", lambda m: m.group(1) + " " + (m.group(2) if m.group(2) != "00" else ""), t)
    t = re.sub(r"(?<=\d),(?=\d{3})", "", t)
    out = []
    for w in re.findall(r"[a-z0-9']+", t):
        w = w.strip("'")
        m = re.fullmatch(r"(\d+)(st|nd|rd|th)?", w)
        if m:
            ws = words_of(int(m.group(1)))
            out += ordinal(ws) if m.group(2) else ws
        elif w:
            out.append(w)
    return out


def edits(a, b):
    prev = list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
        prev = cur
    return prev[-1]


def main():
    refs = [l.rstrip("\n").split("\t", 2) for l in open(sys.argv[1]) if l.strip()]
    hyps = {}
    for l in open(sys.argv[2]):
        if l.strip():
            o = json.loads(l)
            hyps[o["file"]] = o.get("text", "")
    groups, pooled = {}, {"words": 0, "errors": 0}
    for g, f, ref in refs:
        r, h = normalise(ref), normalise(hyps.get(f, ""))
        e = edits(r, h)
        s = groups.setdefault(g, {"words": 0, "errors": 0})
        for acc in (s, pooled):
            acc["words"] += len(r)
            acc["errors"] += e
        if e and len(sys.argv) > 3:
            print(f"{g}: {' '.join(r)}\n   -> {' '.join(h)}", file=sys.stderr)
    for s in list(groups.values()) + [pooled]:
        s["wer"] = round(s["errors"] / max(1, s["words"]), 4)
    print(json.dumps({"groups": groups, "pooled": pooled}))


if __name__ == "__main__":
    main()
