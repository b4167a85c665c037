#!/usr/bin/env bash
# TF-IDF vectors, cosine scores and top-5 lists of `stepd ai recommend` against Debian's
# scikit-learn (/usr/bin/python3) on a generated catalogue, for several settings.
set -euo pipefail
if ! /usr/bin/python3 -c 'import sklearn' 2>/dev/null; then
    echo "python3-sklearn is not installed: cannot compare with scikit-learn (scripts/install-deps.sh installs it)"
    exit 77
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
sup="$STEPD_ROOT/tests/support"
/usr/bin/python3 "$sup/recommend_gen.py" 1000 7 "$tmp/cat.json"
par() { /usr/bin/python3 "$sup/recommend_parity.py" "$STEPD_BIN" "$tmp/cat.json" "$@"; }
par
par --ngram 1,2 --stop-words english
par --sublinear-tf --max-features 300
par --ngram 1,2 --max-features 2000 --norm l1
par --no-smooth-idf --fields description --norm none
par --no-idf --max-features 40
par --fields title --max-features 100   # many equal counts: numpy's tie order
