#!/usr/bin/python3
"""recommend_gen.py N SEED OUT.json — a deterministic synthetic product catalogue for the
recommend tests and bench: Zipf-distributed pseudo-words, shared brand/category words,
near-duplicates, empty texts, and (unless --ascii) Unicode that stresses tokenisation
(accents, Greek final sigma, Turkish dotted I, superscripts, CJK, underscores, numbers)."""
import json
import random
import sys

def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    ascii_only = "--ascii" in sys.argv
    n, seed, out = int(args[0]), int(args[1]), args[2]
    rng = random.Random(seed)
    syll = ["ka", "lo", "mi", "ra", "te", "su", "no", "vi", "de", "pa", "zo", "ri", "ba", "ne"]
    vocab = sorted({"".join(rng.choice(syll) for _ in range(rng.randint(2, 4))) for _ in range(6000)})
    rng.shuffle(vocab)
    english = ("the a of and for with in on to is are this that it be by from as at or an "
               "shoes shirt coffee mug tea cup lamp desk chair phone case cable charger bag "
               "red blue green black white large small light heavy soft premium classic").split()
    uni = ["café", "naïve", "ΟΔΟΣ", "Σίσυφος", "İstanbul", "straße", "x²", "½", "日本語",
           "snake_case", "e\u0301clair", "ǅemal", "Ⱥlpha", "4K", "2024", "ÉCOLE", "ﬁle", "٣٤"]
    cats = ["shoes", "kitchen", "office", "electronics", "garden", "toys", "books", "sports"]
    weights = [1.0 / (i + 1) ** 1.1 for i in range(len(vocab))]
    products = []
    for i in range(n):
        cat = rng.choice(cats)
        k = rng.choice([0, 3, 8, 15, 30, 60]) if i % 97 else 0
        words = rng.choices(vocab, weights, k=k) + rng.sample(english, rng.randint(0, 6))
        if not ascii_only and rng.random() < 0.2:
            words += rng.sample(uni, rng.randint(1, 3))
        rng.shuffle(words)
        desc = " ".join(words)
        if rng.random() < 0.1:
            desc = desc.upper()
        if rng.random() < 0.1:
            desc = desc.replace(" ", ", ", 3) + "!"
        if i % 50 == 7 and products:  # near-duplicate of an earlier product
            desc = products[rng.randrange(len(products))]["description"]
        p = {"id": "p%d" % i if i % 10 else i,
             "title": " ".join(rng.choices(vocab[:300], k=rng.randint(1, 4))).title(),
             "description": desc,
             "category": cat,
             "tags": rng.sample(english[22:], rng.randint(0, 3)),
             "price": round(rng.uniform(1, 500), 2)}
        if i % 13 == 0:
            del p["title"]
        products.append(p)
    with open(out, "w", encoding="utf-8") as f:
        json.dump(products, f, ensure_ascii=False)

main()
