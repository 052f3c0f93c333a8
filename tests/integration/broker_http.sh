#!/usr/bin/env bash
# The broker's HTTP front against hostile clients: ambiguous or unsupported message framing is
# refused on the request's head and the connection closed (no pipelined request after it); no
# client input, however malformed its bytes, gets a 500; one address trickling request heads
# can hold neither more than its share of connections nor any of them for long.
. "$(dirname "$0")/broker_lib.bash"
RAW=$TOP/tests/tools/http_raw.py

broker_config "request_timeout = 60"
broker_start || { not_ok "broker starts"; done_testing; exit 1; }
new_account alice buyer 100 && ok "accounts" || not_ok "accounts"

# raw DESC WANT FORMAT [ARGS...]: sends printf FORMAT ARGS as raw bytes; WANT is the replies
# ("STATUS CODE" each) and then "closed" or "open", on one line.
raw() {
    local desc=$1 want=$2 out
    shift 2
    # shellcheck disable=SC2059
    out=$(printf "$@" | python3 "$RAW" send "$BROKER_PORT" | tr '\n' ' ')
    out=${out% }
    [ "$out" = "$want" ] && ok "$desc: $want" || not_ok "$desc: got \"$out\", want \"$want\""
}
H='Host: broker\r\n'
# A pipelined request after the one under test: a second reply means it was read.
NEXT="GET /v1/nothing HTTP/1.1\r\n${H}Connection: close\r\n\r\n"

# --- framing (RFC 9112 §6.1, §6.3): one way to find the body's end, or a refusal
raw "a well-formed chunked request, then a pipelined one" "401 MISSING_AUTH 404 NOT_FOUND closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n$NEXT"
raw "a well-formed Content-Length request, then a pipelined one" "401 MISSING_AUTH 404 NOT_FOUND closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Content-Length: 2\r\n\r\n{}$NEXT"

body='{"account":"alice","amount":50}'
[ ${#body} = 31 ] || not_ok "the deposit body is not 31 bytes"
# signed DESC WANT CONTENT_LENGTH_HEADERS: the deposit, freshly signed, with these headers.
signed() {
    local sig
    sig=$("$LMCTL" broker headers --key admin.key POST /v1/deposits --data "$body" | sed 's/$/\\r\\n/' | tr -d '\n')
    raw "$1" "$2" "POST /v1/deposits HTTP/1.1\r\n$H$sig$3\r\n%s$NEXT" "$body"
}
signed "the signed deposit, as a control" "200 - 404 NOT_FOUND closed" "Content-Length: 31\r\n"
signed "a signed deposit with Content-Length 31 and then 5" "400 BAD_FRAMING closed" \
    "Content-Length: 31\r\nContent-Length: 5\r\n"
signed "a signed deposit with Content-Length 31 twice" "400 BAD_FRAMING closed" \
    "Content-Length: 31\r\ncontent-length: 31\r\n"
[ "$(sqlite3 ledger.db "SELECT balance FROM accounts WHERE name = 'alice'")" = 150 ] &&
    ok "only the control deposit went through" || not_ok "a refused deposit moved money"
raw "Content-Length and Transfer-Encoding: chunked" "400 BAD_FRAMING closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$NEXT"
raw "Transfer-Encoding: chunked and Content-Length" "400 BAD_FRAMING closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n0\r\n\r\n$NEXT"
raw "Transfer-Encoding: identity" "501 UNKNOWN_TRANSFER_CODING closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Transfer-Encoding: identity\r\n\r\n{}$NEXT"
raw "Transfer-Encoding: gzip" "501 UNKNOWN_TRANSFER_CODING closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Transfer-Encoding: gzip\r\n\r\n{}$NEXT"
raw "Transfer-Encoding: gzip, chunked" "501 UNKNOWN_TRANSFER_CODING closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n$NEXT"
raw "two Transfer-Encoding: chunked headers" "400 BAD_FRAMING closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n$NEXT"
raw "whitespace before the colon (Transfer-Encoding : chunked)" "400 BAD_HEADER closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Transfer-Encoding : chunked\r\n\r\n0\r\n\r\n$NEXT"
raw "a tab before the colon (Content-Length<TAB>: 2)" "400 BAD_HEADER closed" \
    "POST /v1/deposits HTTP/1.1\r\n${H}Content-Length\t: 2\r\n\r\n{}$NEXT"
raw "a separator in a header name" "400 BAD_HEADER closed" \
    "GET /v1/keys HTTP/1.1\r\n${H}X-LM(Key): 1\r\n\r\n$NEXT"

# --- no 500 for any client input: bytes that are not UTF-8 are echoed escaped, each refusal
# keeps its own status
raw "a path with a 0xff byte" "404 NOT_FOUND closed" \
    "GET /v1/\xff HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
raw "a method with a 0xff byte" "405 METHOD_NOT_ALLOWED closed" \
    "G\xffT /v1/keys HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
raw "a method and a path with 0xff bytes" "404 NOT_FOUND closed" \
    "\xff /\xff\xfe HTTP/1.1\r\n${H}Connection: close\r\n\r\n"
raw "a path cut inside a UTF-8 sequence (at 100 bytes)" "404 NOT_FOUND closed" \
    "GET /%s\xc3\xa9 HTTP/1.1\r\n${H}Connection: close\r\n\r\n" "$(printf 'a%.0s' {1..98})"
curl_out=$(curl -s --request-target "/v1/keys/$(printf '\xe2\x82')" "$LM_BROKER")
printf '%s' "$curl_out" | grep -q '"message": ".*\\\\xe2\\\\x82' &&
    ok "the bytes that are not UTF-8 are shown as \\xNN" || not_ok "escaped echo: $curl_out"
C=$(printf 'ab%.0s' {1..32})
A39=$(printf 'a%.0s' {1..39})
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":1,\"$A39\\u00e9\":1}"
want "an unknown field name cut inside a UTF-8 sequence" 400 UNKNOWN_FIELD
api alice.key POST /v1/tokens "{\"host\":\"$(printf 'h%.0s' {1..59})é\",\"commitment\":\"$C\",\"prepaid_units\":1}"
want "a bad host name cut inside a UTF-8 sequence" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$(printf 'f%.0s' {1..79})€\",\"prepaid_units\":1}"
want "a bad hex value cut inside a UTF-8 sequence" 400 BAD_FIELD
api admin.key POST /v1/accounts "{\"name\":\"$(printf 'n%.0s' {1..59})é\",\"role\":\"buyer\",\"public_key\":\"$C\"}"
want "a bad account name cut inside a UTF-8 sequence" 400 BAD_FIELD
no_500 "framing and encoding"

# --- connection limits: 16 connections in all, 4 per address, 2 s to deliver a request
broker_kill
broker_config "max_connections = 16" "max_connections_per_address = 4" "request_timeout = 2"
broker_start || { not_ok "broker restarts"; done_testing; exit 1; }
# 127.0.0.1 keeps 40 connections trickling (more than the broker's 16 in all), opening anew
# whatever is closed; a signed request from 127.0.0.2 meanwhile is served. The goal (served
# within 1 s, docs/BROKER-API.md) is not timed here: a shared test machine may be slow.
python3 "$RAW" trickle "$BROKER_PORT" 40 10 again >trickle.out 2>&1 &
TRICKLE=$!
sleep 3
"$LMCTL" broker headers --key alice.key GET /v1/account >h
out=$(curl -s -m 5 --interface 127.0.0.2 -H @h -w '\n%{http_code} %{time_total}' "$LM_BROKER/v1/account")
read -r code secs <<<"$(printf '%s\n' "$out" | tail -1)"
[ "$code" = 200 ] &&
    ok "a signed request from 127.0.0.2 is served (in $secs s) while 127.0.0.1 trickles 40 connections" ||
    not_ok "the request from 127.0.0.2 got \"$out\""
wait "$TRICKLE"
read -r _ tried _ refused _ cut _ held <trickle.out
[ "${refused:-0}" -gt 0 ] && [ "${cut:-0}" -gt 0 ] &&
    ok "the trickler opened $tried connections: $refused refused at once (4 per address), $cut cut by the deadline" ||
    not_ok "trickler: $(cat trickle.out)"
# Without reopening, every trickling connection is cut (request_timeout 2 s; 30 s allowed).
python3 "$RAW" trickle "$BROKER_PORT" 4 30 >trickle.out 2>&1
read -r _ tried _ refused _ cut _ held <trickle.out
[ "$cut" = 4 ] && [ "$held" = 0 ] &&
    ok "4 connections trickling a header line a second are all cut (request_timeout)" ||
    not_ok "trickler: $(cat trickle.out)"
grep -aq "cut: no whole request within 2 s (request_timeout)" broker.log &&
    ok "the broker logs the cut connections" || not_ok "no log line for the cut connections"
api alice.key GET /v1/account
want "127.0.0.1 is served again" 200
no_500 "connection limits"
done_testing
