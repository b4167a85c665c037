#!/usr/bin/env bash
# `stepd ai recommend` from the command line: answers, saved index, usage and bad input.
set -uo pipefail
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
rec() { "$STEPD_BIN" ai recommend "$@"; }
cat >"$tmp/cat.json" <<'JSON'
[{"id":"p1","title":"Red running shoes","description":"Lightweight running shoes"},
 {"id":"p2","title":"Blue running shoes","description":"Running shoes for women"},
 {"id":3,"title":"Coffee mug","description":"Ceramic mug for coffee"},
 {"id":"p4","description":""}]
JSON
out=$(rec --catalog "$tmp/cat.json" --item p1 -k 2) || fail "similar items"
case "$out" in '[{"productId":"p2","score":'*'"reason":"similar_to_viewed"}]') ;; *) fail "p1 -> p2: $out" ;; esac
[ "$(rec --catalog "$tmp/cat.json" --item p4)" = "[]" ] || fail "a product without text has no neighbours"
case "$(rec --catalog "$tmp/cat.json" --item 3 --ngram 1,2 --stop-words english)" in '[{"productId":"p1"'*|'[]') ;; *) fail "options" ;; esac
rec --catalog "$tmp/cat.json" --save "$tmp/idx" || fail "save"
[ "$(rec --index "$tmp/idx" --item p1 -k 2)" = "$out" ] || fail "the saved index answers the same"
rec --help | grep -q -- '--catalog' || fail "--help"
err=$(rec --catalog "$tmp/cat.json" --item nope 2>&1); rc=$?
[ $rc -eq 1 ] && case "$err" in *"unknown product 'nope'"*) ;; *) false ;; esac || fail "unknown item: $rc $err"
rec --catalog "$tmp/cat.json" >/dev/null 2>&1; [ $? -eq 2 ] || fail "missing --item is a usage error"
rec --catalog "$tmp/cat.json" --item p1 -k 0 >/dev/null 2>&1; [ $? -eq 2 ] || fail "-k 0 is a usage error"
printf '[{"id":"a","description":"caf\xc3"}]' >"$tmp/bad.json"
err=$(rec --catalog "$tmp/bad.json" --item a 2>&1); [ $? -eq 1 ] || fail "invalid UTF-8 catalogue"
case "$err" in *"bad.json:1:"*) ;; *) fail "invalid UTF-8 message names the place: $err" ;; esac
echo '{"id":"a"}' >"$tmp/obj.json"
err=$(rec --catalog "$tmp/obj.json" --item a 2>&1); [ $? -eq 1 ] || fail "non-array catalogue"
case "$err" in *"must be a JSON array"*) ;; *) fail "non-array message: $err" ;; esac
echo '[]' >"$tmp/empty.json"
err=$(rec --catalog "$tmp/empty.json" --item a 2>&1); [ $? -eq 1 ] || fail "empty catalogue"
head -c 100 /dev/urandom >"$tmp/junk.idx"
err=$(rec --index "$tmp/junk.idx" --item a 2>&1); [ $? -eq 1 ] || fail "junk index"
case "$err" in *"not a stepd recommend index"*) ;; *) fail "junk index message: $err" ;; esac
echo "recommend CLI ok"
