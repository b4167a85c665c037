#!/usr/bin/python3
"""text_corpus.py N [SEED] — prints N generated English lines for the text module's parity
tests: sentiment words from Pattern's lexicon with intensifiers, negations, idioms, -ly
adverbs, exclamations, emoticons, emoji, contractions, abbreviations, numbers, URLs, e-mails,
names and quotes, in one to three sentences per line. Deterministic for a given seed."""
import os
import random
import sys
import xml.etree.ElementTree as ET

DIR = os.environ.get("STEPD_PATTERN_DIR", "/usr/lib/python3/dist-packages/pattern/text/en")


def load():
    words, idioms = [], []
    for w in ET.parse(os.path.join(DIR, "en-sentiment.xml")).getroot().findall("word"):
        f = w.attrib.get("form")
        if not f:
            continue
        (idioms if " " in f else words).append(f)
    lex = {}
    with open(os.path.join(DIR, "en-lexicon.txt"), encoding="utf-8") as fh:
        for line in fh:
            p = line.split()
            if len(p) >= 2 and not line.startswith(";;;"):
                lex.setdefault(p[1], []).append(p[0])
    return sorted(set(words)), sorted(set(idioms)), lex


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    rnd = random.Random(int(sys.argv[2]) if len(sys.argv) > 2 else 7)
    words, idioms, lex = load()
    nouns = [w for w in lex.get("NN", []) if w.isalpha()][:4000]
    plural = [w for w in lex.get("NNS", []) if w.isalpha()][:2000]
    verbs = [w for w in lex.get("VBD", []) if w.isalpha()][:2000]
    names = ["John", "Mary", "Alice Walker", "Google", "Microsoft", "Paris", "New York",
             "Obama", "Mr. Smith", "Dr. Jones", "the U.S.", "Apple Inc.", "Bill Gates"]
    intens = ["very", "really", "extremely", "quite", "so", "too", "pretty", "incredibly",
              "absolutely", "somewhat", "slightly", "most", "rather"]
    negs = ["not", "never", "no", "n't"]
    emos = [":)", ":-(", ":D", ";)", ":(", "<3", ":P", ":/", ":'(", "XD", ":-)", "=)",
            "\U0001F600", "\U0001F622", "\U0001F44D", "\u2764\ufe0f", "\U0001F621", "(!)"]
    extras = ["http://example.com/page", "www.test.org", "mail@example.com", "3.5", "42",
              "$100", "50%", "e.g.", "etc.", "i.e.", "10:30", "2024-01-15", "U.S.", "...",
              "“quoted”", "'single'", "(parenthesis)", "don't", "it's", "we'll", "I'm",
              "they've", "she'd", "can't", "@user", "#tag", "--", "!!!", "?!"]

    def adj():
        return rnd.choice(words)

    def sentence():
        parts = []
        k = rnd.random()
        subj = rnd.choice(["The " + rnd.choice(nouns), rnd.choice(names), "It", "This",
                           "I", "We", "They", "My " + rnd.choice(plural)])
        parts.append(subj)
        parts.append(rnd.choice(["is", "was", "seems", "looks", "feels", "were", "are",
                                 rnd.choice(verbs)]))
        for _ in range(rnd.randint(1, 3)):
            r = rnd.random()
            if r < 0.25:
                parts.append(rnd.choice(negs))
            if r < 0.5 or 0.7 < r < 0.8:
                parts.append(rnd.choice(intens))
            if 0.45 < r < 0.55:
                parts.append(adj().rstrip("y") + "ly" if rnd.random() < 0.5 else adj() + "ly")
            parts.append(adj())
            if rnd.random() < 0.4:
                parts.append(rnd.choice(["and", "but", "or", "," ,"with", "a", "the"]))
            if rnd.random() < 0.3:
                parts.append(rnd.choice(nouns))
            if rnd.random() < 0.08 and idioms:
                parts.append(rnd.choice(idioms))
            if rnd.random() < 0.1:
                parts.append(rnd.choice(extras))
        s = " ".join(parts)
        if rnd.random() < 0.3:
            s = s.capitalize()
        end = rnd.choice([".", ".", ".", "!", "!!", "?", "...", "", "!"])
        s += end
        if rnd.random() < 0.25:
            s += " " + rnd.choice(emos)
        return s

    for _ in range(n):
        print(" ".join(sentence() for _ in range(rnd.randint(1, 3))))


main()
