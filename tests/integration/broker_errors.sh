#!/usr/bin/env bash
# Bad requests to a real broker, each with its precise HTTP status and JSON error body:
# authentication, replay, clock, JSON, credit, roles, unknown objects, forged and repeated
# redemptions, size limits. Nothing refused may move money.
. "$(dirname "$0")/broker_lib.bash"

broker_config "max_skew = 60" "max_body = 4096"
broker_start || { not_ok "broker starts"; done_testing; exit 1; }
new_account alice buyer 1000 && new_account bob buyer 10 && new_account op1 operator &&
    new_account op2 operator && ok "accounts" || not_ok "accounts"
"$LMCTL" host-register --key op1.key --name alpha --address 127.0.0.1 --port 7000 --price 2 \
    --unit-ms 1000 >/dev/null && ok "host alpha" || not_ok "host alpha"
"$LMCTL" chain new -n 10 a.chain >/dev/null
C=$(printf 'ab%.0s' {1..32})
ANCHOR=$("$LMCTL" chain show a.chain | sed -n 's/^anchor *\([0-9a-f]*\).*/\1/p')
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"anchor\":\"$ANCHOR\",\"chain_len\":10,\"prepaid_units\":2}"
want "alice buys a token (12 units x 2)" 201
T=$(jget token_id)
ledger_check "before the bad requests"
SNAPSHOT=$(sqlite3 ledger.db "SELECT group_concat(name || '=' || balance) FROM accounts")

# curl_api DESC... : like api, with curl and hand-made headers (CURL_ARGS).
curl_api() {
    local out
    out=$(curl -s -w '\n%{http_code}' "$@")
    STATUS=$(printf '%s\n' "$out" | tail -1)
    BODY=$(printf '%s\n' "$out" | head -n -1)
}

# --- authentication
curl_api "$LM_BROKER/v1/account"
want "no signature headers" 401 MISSING_AUTH
"$LMCTL" broker headers --key alice.key GET /v1/account | grep -v X-LM-Nonce >h
curl_api -H @h "$LM_BROKER/v1/account"
want "one header missing" 401 MISSING_AUTH
"$LMCTL" broker headers --key alice.key GET /v1/account | sed 's/^X-LM-Key: \(.*\)/X-LM-Key: \U\1/' >h
curl_api -H @h "$LM_BROKER/v1/account"
want "an uppercase key id" 401 BAD_AUTH_HEADER
"$LMCTL" broker headers --key alice.key GET /v1/account | sed 's/^X-LM-Time: /X-LM-Time: 0/' >h
curl_api -H @h "$LM_BROKER/v1/account"
want "a time with a leading zero" 401 BAD_AUTH_HEADER
"$LMCTL" broker headers --key alice.key GET /v1/account | sed 's/^\(X-LM-Signature: .*\)..$/\1/' >h
curl_api -H @h "$LM_BROKER/v1/account"
want "a short signature" 401 BAD_AUTH_HEADER
"$LMCTL" keygen stranger.key >/dev/null
api stranger.key GET /v1/account
want "a key no account has" 401 UNKNOWN_KEY
body='{"account":"alice","amount":5}'
"$LMCTL" broker headers --key admin.key POST /v1/deposits --data "$body" >h
curl_api -H @h --data '{"account":"alice","amount":500}' "$LM_BROKER/v1/deposits"
want "a signature over another body" 401 BAD_SIGNATURE
"$LMCTL" broker headers --key admin.key POST /v1/deposits --data "$body" >h
curl_api -H @h --data "$body" "$LM_BROKER/v1/deposits?x=1"
want "a signature over another target" 401 BAD_SIGNATURE
curl_api -X PUT -H @h --data "$body" "$LM_BROKER/v1/deposits"
want "another method on the same path" 405 METHOD_NOT_ALLOWED
"$LMCTL" broker headers --key alice.key GET /v1/account | sed 's/^X-LM-Key: .*/X-LM-Key: '"$(sed -n 's/^key-id //p' bob.key.pub)"'/' >h
curl_api -H @h "$LM_BROKER/v1/account"
want "alice's signature under bob's key id" 401 BAD_SIGNATURE

# --- replay and clock
"$LMCTL" broker headers --key admin.key POST /v1/deposits --data "$body" >h
curl_api -H @h --data "$body" "$LM_BROKER/v1/deposits"
want "a deposit" 200
curl_api -H @h --data "$body" "$LM_BROKER/v1/deposits"
want "the same request replayed" 401 NONCE_REPLAYED
api admin.key GET /v1/account
N=$(printf '%032x' 77)
"$LMCTL" broker call --key bob.key --nonce "$N" POST /v1/tokens \
    --data "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":6}" >/dev/null 2>&1
"$LMCTL" deposit --key admin.key --account bob --amount 100 >/dev/null
out=$("$LMCTL" broker call --key bob.key -i --nonce "$N" POST /v1/tokens \
    --data "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":6}" 2>&1)
STATUS=$(printf '%s\n' "$out" | head -1 | sed 's/HTTP //') BODY=$(printf '%s\n' "$out" | tail -n +2)
want "a refused purchase (402) replayed after a deposit stays refused" 401 NONCE_REPLAYED
out=$("$LMCTL" broker call --key alice.key -i --time $(($(date +%s) - 120)) GET /v1/account 2>&1)
STATUS=$(printf '%s\n' "$out" | head -1 | sed 's/HTTP //') BODY=$(printf '%s\n' "$out" | tail -n +2)
want "a timestamp 120 s old (limit 60)" 401 STALE_TIMESTAMP
out=$("$LMCTL" broker call --key alice.key -i --time $(($(date +%s) + 120)) GET /v1/account 2>&1)
STATUS=$(printf '%s\n' "$out" | head -1 | sed 's/HTTP //') BODY=$(printf '%s\n' "$out" | tail -n +2)
want "a timestamp 120 s ahead" 401 STALE_TIMESTAMP

# --- request bodies
api alice.key POST /v1/tokens '{"host": "alpha", '
want "malformed JSON" 400 BAD_JSON
api alice.key POST /v1/tokens '[1, 2]'
want "JSON that is not an object" 400 BAD_JSON
api alice.key POST /v1/tokens '{"host":"alpha","host":"beta"}'
want "a duplicated field" 400 BAD_JSON
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":1,\"colour\":\"red\"}"
want "an unknown field" 400 UNKNOWN_FIELD
api alice.key POST /v1/tokens '{"host":"alpha","prepaid_units":1}'
want "a missing field" 400 MISSING_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":-1}"
want "a negative number" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":\"1\"}"
want "a number as a string" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"${C^^}\",\"prepaid_units\":1}"
want "uppercase hex" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"cluster\":\"blue\",\"commitment\":\"$C\",\"prepaid_units\":1}"
want "both host and cluster" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\"}"
want "a token without value" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":1,\"mac\":\"01:00:5e:00:00:01\"}"
want "a multicast MAC (refused by the token decoder)" 400 BAD_TOKEN
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":1,\"ip\":\"10.0.0.1\"}"
want "an address without prefix" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":1,\"ip\":\"10.0.0.1/33\"}"
want "a prefix above 32" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":1,\"mac\":\"02:00:00:00:01\"}"
want "a MAC of five bytes" 400 BAD_FIELD
api alice.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":1,\"ttl\":99999999}"
want "a ttl beyond max_ttl" 400 BAD_FIELD
api alice.key GET "/v1/tokens/$T" '{}'
want "a GET with a body" 400 BAD_JSON
api alice.key GET "/v1/tokens/XYZ"
want "a malformed token id" 400 BAD_FIELD
head -c 5000 /dev/zero | tr '\0' ' ' >big
"$LMCTL" broker headers --key alice.key POST /v1/tokens --data-file big >h
curl_api -H @h --data-binary @big "$LM_BROKER/v1/tokens"
want "a body above max_body (Content-Length)" 413 BODY_TOO_LARGE
curl_api -H @h -H 'Transfer-Encoding: chunked' --data-binary @big "$LM_BROKER/v1/tokens"
want "a body above max_body (chunked)" 413 BODY_TOO_LARGE

# --- credit and roles
api bob.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":100}"
want "a purchase beyond the balance" 402 INSUFFICIENT_CREDIT
printf '%s' "$BODY" | grep -q "cost 200 credits.*available balance 110" &&
    ok "the 402 names the cost and the balance" || not_ok "402 message: $BODY"
api bob.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"mem_mib\":1048576,\"vcpus\":256,\"chain_len\":16777216,\"anchor\":\"$C\",\"prepaid_units\":16777216}"
want "a purchase whose cost is beyond any balance" 402 INSUFFICIENT_CREDIT
api alice.key POST /v1/accounts '{"name":"eve","role":"buyer","public_key":"'"$C"'"}'
want "a buyer creating an account" 403 WRONG_ROLE
api op1.key POST /v1/tokens "{\"host\":\"alpha\",\"commitment\":\"$C\",\"prepaid_units\":1}"
want "an operator buying" 403 WRONG_ROLE
api alice.key POST /v1/hosts '{"name":"mine","address":"1.2.3.4","port":1,"price_per_unit":1,"unit_ms":1}'
want "a buyer registering a host" 403 WRONG_ROLE
api alice.key POST "/v1/tokens/$T/redeem" "{\"index\":0,\"link\":\"$ANCHOR\"}"
want "a buyer redeeming" 403 WRONG_ROLE
api alice.key GET /v1/admin/audit
want "a buyer reading the audit" 403 WRONG_ROLE
api op2.key POST /v1/hosts '{"name":"alpha","address":"1.2.3.4","port":1,"price_per_unit":1,"unit_ms":1}'
want "registering another operator's host" 403 NOT_YOUR_HOST
api op2.key POST "/v1/tokens/$T/redeem" "{\"index\":0,\"link\":\"$ANCHOR\"}"
want "redeeming a token for another operator's host" 403 NOT_YOUR_HOST
api admin.key POST /v1/accounts '{"name":"alice","role":"buyer","public_key":"'"$C"'"}'
want "an account name taken" 409 ACCOUNT_EXISTS
api admin.key POST /v1/accounts '{"name":"alice2","role":"buyer","public_key":"'"$(sed -n 's/^public //p' alice.key.pub)"'"}'
want "a key taken" 409 KEY_IN_USE
api admin.key POST /v1/accounts '{"name":"root","role":"admin","public_key":"'"$C"'"}'
want "a second admin" 400 BAD_FIELD

# --- unknown objects
api alice.key GET /v1/tokens/00000000000000000000000000000000
want "an unknown token" 404 UNKNOWN_TOKEN
api op1.key POST /v1/tokens/00000000000000000000000000000000/redeem "{\"index\":1,\"link\":\"$C\"}"
want "redeeming an unknown token" 404 UNKNOWN_TOKEN
api alice.key POST /v1/tokens "{\"host\":\"omega\",\"commitment\":\"$C\",\"prepaid_units\":1}"
want "an unknown host" 404 UNKNOWN_HOST
api alice.key POST /v1/tokens "{\"cluster\":\"nowhere\",\"commitment\":\"$C\",\"prepaid_units\":1}"
want "an unknown cluster" 404 UNKNOWN_CLUSTER
api admin.key POST /v1/deposits '{"account":"nobody","amount":5}'
want "a deposit to an unknown account" 404 UNKNOWN_ACCOUNT
api alice.key GET /v1/nothing
want "an unknown endpoint" 404 NOT_FOUND

# --- redemption: forged, beyond the chain, twice, out of order
LINK() { "$LMCTL" chain show --link "$1" a.chain | awk '/^link/ {print $3}'; }
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":3,\"link\":\"$C\"}"
want "a forged link" 422 FORGED_LINK
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":0,\"link\":\"$C\"}"
want "index 0 with something else than the anchor" 422 FORGED_LINK
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":11,\"link\":\"$C\"}"
want "an index beyond the chain" 422 BEYOND_CHAIN
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":5,\"link\":\"$(LINK 5)\"}"
want "redeem link 5 (2 prepaid + 5 units)" 200
[ "$(jget amount)" = 14 ] && ok "paid 7 units x 2 = 14" || not_ok "amount: $BODY"
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":5,\"link\":\"$(LINK 5)\"}"
want "redeem twice" 409 ALREADY_REDEEMED
[ "$(jget last_redeemed_index)" = 5 ] && ok "the 409 names the last redeemed index" || not_ok "$BODY"
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":3,\"link\":\"$(LINK 3)\"}"
want "redeem out of order (an older link)" 409 OUT_OF_ORDER
[ "$(jget last_redeemed_index)" = 5 ] && ok "the 409 names the last redeemed index" || not_ok "$BODY"
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":7,\"link\":\"$(LINK 6)\"}"
want "a genuine link under the wrong index" 422 FORGED_LINK
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":6,\"link\":\"$(LINK 6)\",\"host\":\"gamma\"}"
want "naming a host that is not the operator's" 403 NOT_YOUR_HOST
api op1.key POST "/v1/tokens/$T/redeem" "{\"index\":10,\"link\":\"$(LINK 10)\",\"host\":\"alpha\"}"
want "redeem the last link" 200
[ "$(jget paid)" = 24 ] && [ "$(jget remaining)" = 0 ] && ok "the token is paid in full, once: 24" ||
    not_ok "$BODY"

# Nothing refused moved money: only the two deposits of 5 and 100 and the redemptions.
ledger_check "after every bad request"
sq=$(sqlite3 ledger.db "SELECT (SELECT balance FROM accounts WHERE name='alice'),
     (SELECT balance FROM accounts WHERE name='bob'), (SELECT balance FROM accounts WHERE name='op1'),
     (SELECT COUNT(*) FROM tokens)")
[ "$sq" = "981|110|24|1" ] && ok "balances: alice 1000-24+5, bob 10+100, op1 24; one token" ||
    not_ok "balances and tokens: $sq (before: $SNAPSHOT)"
no_500 "every bad request"
done_testing
