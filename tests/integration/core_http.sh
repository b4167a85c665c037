#!/usr/bin/env bash
# HTTP behaviour of API steps: routing, params, query, middleware, schema errors naming the
# field, malformed JSON, 404/405/413/500, response headers, and garbage bytes that must not
# bring the server down.
. "${STEPD_ROOT:?run through tests/run.sh}/tests/support/integration.sh" || exit 1
dir=$(project basic)
start_server "$dir" start

out=$(http POST '/echo/42?x=1&x=2&y=a%20b' '{"name":"ada","kind":"a"}' -H 'user-agent: t/1')
expect "$out" '201 *"params":{"id":"42"}*' "path params"
contains "$out" '"query":{"x":["1","2"],"y":"a b"}' "query params"
expect "$out" '*"tag":"tagged"*' "middleware attached data"
expect "$out" '*"ua":"t/1"*' "headers"
grep -qi '^x-echo: 1' <(curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$PORT/echo/1" -d '{"name":"a"}') \
    || fail "custom response header missing"
curl -s -D - -o /dev/null -X POST "http://127.0.0.1:$PORT/echo/1" -d '{"name":"a"}' | grep -qi '^x-request-id: [0-9a-f]\{32\}' \
    || fail "x-request-id missing"

expect "$(http POST /echo/1 '{"name":"ada"}' -H 'x-deny: yes')" '401 *denied by middleware*' "middleware reject"
expect "$(http POST /echo/1 '{}')" '400 *"field":"name"*is required*' "required field"
expect "$(http POST /echo/1 '{"name":"waytoolongname"}')" '400 *"field":"name"*at most 10*' "maxLength"
expect "$(http POST /echo/1 '{"name":"a","kind":"z"}')" '400 *"field":"kind"*' "enum"
expect "$(http POST /echo/1 '{"name":')" '400 *malformed JSON*' "malformed JSON"
expect "$(http POST /echo/1 "$(printf '\xff\xfe{')")" '400 *' "binary body"
expect "$(http GET /nowhere)" '404 *no route*' "unknown route"
expect "$(http GET /echo/1)" '405 *"allow":"POST"*' "wrong method"
expect "$(http GET /fail)" '500 *"requestId":"*' "handler error"
expect "$(http GET /undeclared)" '200 *STEP_EUNDECLARED*' "undeclared emit"
big=$(head -c 70000 /dev/zero | tr '\0' 'a')
expect "$(http POST /echo/1 "{\"name\":\"$big\"}")" '413 {"error":"request entity is too large"}' "oversized body, JSON error"

# raw bytes from step_respond_bytes
curl -s -D "$TMP/h" -o "$TMP/b" "http://127.0.0.1:$PORT/bytes"
grep -qi '^HTTP/1.1 206' "$TMP/h" || fail "bytes: status"
grep -qi '^content-type: audio/wav' "$TMP/h" || fail "bytes: content-type"
grep -qi '^content-range: bytes 0-4/10' "$TMP/h" || fail "bytes: content-range"
[ "$(od -An -tx1 "$TMP/b" | tr -d ' \n')" = 52490046ff ] || fail "bytes: body $(od -An -tx1 "$TMP/b")"

# garbage on the socket: the server must answer 400 or close, and keep serving
for payload in 'GARBAGE\r\n\r\n' 'GET / HTTP/9.9\r\n\r\n' 'POST /echo/1 HTTP/1.1\r\nContent-Length: -5\r\n\r\n' \
               '\x00\x01\x02\xff\r\n\r\n' 'GET /echo/%%%% HTTP/1.1\r\nHost: x\r\n\r\n'; do
    exec 3<>"/dev/tcp/127.0.0.1/$PORT" || fail "connect"
    printf "$payload" >&3
    timeout 2 cat <&3 >/dev/null || true
    exec 3>&-
done
expect "$(http POST /echo/7 '{"name":"still"}')" '201 *' "server survives bad input"

# keep-alive: several requests on one connection
n=$(curl -s -o /dev/null -w "%{num_connects}\n" "http://127.0.0.1:$PORT/__stepd/health" "http://127.0.0.1:$PORT/__stepd/health" | awk "{s+=\$1} END {print s}")
[ "$n" = 1 ] || fail "keep-alive: $n connections for two requests"

stop_server TERM
[ "$EXIT_CODE" = 0 ] || fail "exit code $EXIT_CODE after SIGTERM"
echo "http behaviour ok"
