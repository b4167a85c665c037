#!/usr/bin/python3
"""recommend_parity.py STEPD CATALOG [stepd options...] — checks that `stepd ai recommend`
gives scikit-learn's answers on CATALOG with the same settings: every TF-IDF vector (terms and
weights to 1e-6), every top-5 cosine list (same products; equal scores may swap places) and
its scores (to 1e-6). Exit 0 on agreement, 1 with the first differences, 77 without sklearn."""
import json
import subprocess
import sys

try:
    import numpy as np
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.metrics.pairwise import cosine_similarity
except ImportError as e:
    print("python3-sklearn is not installed (%s): cannot compare with scikit-learn" % e)
    sys.exit(77)

FIELDS = ["title", "description", "category", "tags"]
K = 5
TOL = 1e-6


def doc_text(p, fields):
    parts, first = [], True
    out = ""
    for f in fields:
        v = p.get(f)
        if isinstance(v, str):
            out += ("" if first else "\n") + v
            first = False
        elif isinstance(v, list):
            out += ("" if first else "\n") + " ".join(x for x in v if isinstance(x, str))
            first = False
    return out


def sk_args(opts):
    kw, fields, i = {}, FIELDS, 0
    while i < len(opts):
        o = opts[i]
        if o == "--ngram":
            a, b = opts[i + 1].split(","); kw["ngram_range"] = (int(a), int(b)); i += 1
        elif o == "--stop-words":
            kw["stop_words"] = opts[i + 1]; i += 1
        elif o == "--sublinear-tf":
            kw["sublinear_tf"] = True
        elif o == "--max-features":
            kw["max_features"] = int(opts[i + 1]); i += 1
        elif o == "--no-idf":
            kw["use_idf"] = False
        elif o == "--no-smooth-idf":
            kw["smooth_idf"] = False
        elif o == "--norm":
            kw["norm"] = None if opts[i + 1] == "none" else opts[i + 1]; i += 1
        elif o == "--fields":
            fields = opts[i + 1].split(","); i += 1
        i += 1
    return kw, fields


def main():
    stepd, catalog, opts = sys.argv[1], sys.argv[2], sys.argv[3:]
    products = json.load(open(catalog, encoding="utf-8"))
    kw, fields = sk_args(opts)
    ids = [str(p["id"]) for p in products]
    vec = TfidfVectorizer(**kw)
    X = vec.fit_transform([doc_text(p, fields) for p in products])
    terms = vec.get_feature_names_out()

    run = lambda extra: json.loads(subprocess.run([stepd, "ai", "recommend", "--catalog", catalog]
                                                  + opts + extra, check=True,
                                                  stdout=subprocess.PIPE).stdout)
    ours_vec = run(["--vectors"])
    ours_top = run(["--all", "-k", str(K)])
    errors = []
    X = X.tocsr()
    for r, pid in enumerate(ids):
        row = X.getrow(r)
        ref = {terms[j]: w for j, w in zip(row.indices, row.data)}
        got = ours_vec.get(pid, {})
        if set(ref) != set(got):
            errors.append("%s: terms differ: only sklearn %s, only stepd %s" % (
                pid, sorted(set(ref) - set(got))[:5], sorted(set(got) - set(ref))[:5]))
            continue
        for t, w in ref.items():
            if abs(w - got[t]) > TOL:
                errors.append("%s: weight of %r: sklearn %.9f stepd %.9f" % (pid, t, w, got[t]))
                break
    sims = cosine_similarity(X, X, dense_output=False).tocsr()
    compared = 0
    for r, pid in enumerate(ids):
        row = sims.getrow(r)
        scores = {c: v for c, v in zip(row.indices, row.data) if c != r and v > 0}
        ref = sorted(scores, key=lambda c: (-scores[c], c))[:K]
        got = ours_top.get(pid, [])
        if len(got) != len(ref):
            errors.append("%s: top-%d has %d items, sklearn %d" % (pid, K, len(got), len(ref)))
            continue
        for pos, (c, g) in enumerate(zip(ref, got)):
            gi = ids.index(str(g["productId"])) if str(g["productId"]) in ids else -1
            if abs(scores[c] - g["score"]) > TOL:
                errors.append("%s: #%d score sklearn %.9f stepd %.9f" % (pid, pos, scores[c], g["score"]))
                break
            if gi != c and abs(scores.get(gi, 0.0) - scores[c]) > 1e-9:
                errors.append("%s: #%d is %s for sklearn, %s for stepd" % (pid, pos, ids[c], g["productId"]))
                break
        compared += 1
    if errors:
        print("%d differences with sklearn %s; first ones:" % (len(errors), opts))
        print("\n".join(errors[:10]))
        sys.exit(1)
    print("parity %s: %d products, %d features, %d top-%d lists agree with scikit-learn" % (
        " ".join(opts) or "(defaults)", len(ids), len(terms), compared, K))


main()
