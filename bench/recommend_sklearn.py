#!/usr/bin/python3
"""recommend_sklearn.py CATALOG NQ K — the scikit-learn side of bench/recommend.sh: the same
documents as `stepd ai recommend` (title, description, category, tags), TfidfVectorizer()
fit_transform time, then similar-item queries with cosine_similarity one item at a time and in
batches of 100 rows. Prints one JSON line."""
import json
import sys
import time

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics.pairwise import cosine_similarity


def text(p):
    out, first = "", True
    for f in ("title", "description", "category", "tags"):
        v = p.get(f)
        if isinstance(v, str):
            out += ("" if first else "\n") + v
            first = False
        elif isinstance(v, list):
            out += ("" if first else "\n") + " ".join(x for x in v if isinstance(x, str))
            first = False
    return out


def top_k(sims, self_row, k):
    sims[self_row] = -1
    part = np.argpartition(-sims, k)[:k]
    return part[np.argsort(-sims[part], kind="stable")]


def main():
    catalog, nq, k = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    products = json.load(open(catalog, encoding="utf-8"))
    docs = [text(p) for p in products]
    t0 = time.perf_counter()
    X = TfidfVectorizer().fit_transform(docs)
    build = time.perf_counter() - t0
    n = X.shape[0]
    rows = [(i * 7919) % n for i in range(nq)]
    t0 = time.perf_counter()
    for r in rows:
        s = cosine_similarity(X[r], X).ravel()
        top_k(s, r, k)
    single = time.perf_counter() - t0
    t0 = time.perf_counter()
    for b in range(0, nq, 100):
        chunk = rows[b:b + 100]
        S = cosine_similarity(X[chunk], X)
        for j, r in enumerate(chunk):
            top_k(S[j], r, k)
    batch = time.perf_counter() - t0
    print(json.dumps({"products": n, "features": X.shape[1], "build_ms": build * 1e3,
                      "queries": nq, "single_qps": nq / single, "batch_qps": nq / batch}))


main()
