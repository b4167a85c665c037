#!/usr/bin/env bash
# examples/shop end to end: products, histories and preferences go into state through the
# API; GET /recommendations/:userId blends them (purchases removed, reasons given); a user
# event triggers recommend.products, which stores the list and emits recommendations.ready.
. "$STEPD_ROOT/tests/support/integration.sh"
dir="$TMP/shop"
cp -r "$STEPD_ROOT/examples/shop" "$dir"
rm -rf "$dir/.stepd"
start_server "$dir" start
expect "$(http POST /products '[
 {"id":"p1","title":"Red running shoes","description":"Lightweight running shoes for men","category":"shoes","tags":["running"],"price":80},
 {"id":"p2","title":"Blue running shoes","description":"Running shoes for women","category":"shoes","tags":["running"],"price":90},
 {"id":"p3","title":"Trail running shoes","description":"Shoes for trail running","category":"shoes","tags":["trail"],"price":120},
 {"id":"p4","title":"Coffee mug","description":"Ceramic mug for coffee","category":"kitchen","tags":["coffee"],"price":12},
 {"id":"p5","title":"Tea cup","description":"Porcelain cup for tea","category":"kitchen","tags":["tea"],"price":15},
 {"id":"p6","title":"Running socks","description":"Socks for running","category":"apparel","tags":["running"],"price":9}]')" '204 *' "catalogue"
expect "$(http POST /users/bob/events '{"productId":"p1","type":"purchase"}')" '202 *' "bob buys p1"
expect "$(http POST /users/bob/events '{"productId":"p6","type":"purchase"}')" '202 *' "bob buys p6"
expect "$(http PUT /users/ann/preferences '{"categories":["kitchen"],"priceMax":20}')" '204 *' "ann's preferences"
expect "$(http POST /users/ann/events '{"productId":"p1","type":"purchase"}')" '202 *' "ann buys p1"
out=$(http GET '/recommendations/ann?item=p2&k=5')
expect "$out" '200 {"userId":"ann","item":"p2","recommendations":[*' "recommendations"
contains "$out" '"productId":"p3","score":' "similar shoes"
contains "$out" '"reason":"similar_to_viewed"' "content reason"
contains "$out" '"productId":"p6"' "bought together with p1 by bob"
contains "$out" '"reason":"bought_together"' "collaborative reason"
contains "$out" '"reason":"matches_preferences"' "preference reason"
case "$out" in *'"productId":"p1"'*) fail "purchased p1 recommended: $out" ;; esac
case "$out" in *'"productId":"p2"'*) fail "the viewed item itself recommended: $out" ;; esac
expect "$(http GET '/recommendations/ann?item=nope')" '404 *unknown product*' "unknown item"
expect "$(http GET '/recommendations/nobody')" '200 {"userId":"nobody","recommendations":[]}' "no data, no picks"
# the event step ran for ann's purchase and kept its answer in state
for _ in $(seq 50); do
    st=$("$STEPD_BIN" state get recommendations ann --dir "$dir" 2>/dev/null || true)
    case "$st" in *recommendations*) break ;; esac
    sleep 0.1
done
contains "$st" '"userId":"ann"' "recommend.products stored its result"
stop_server TERM
echo "shop example ok"
