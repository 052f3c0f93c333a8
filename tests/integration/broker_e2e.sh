#!/usr/bin/env bash
# The broker end to end with real lm-broker, lmctl and curl: accounts, credit, the host
# directory, buying (host and cluster scope), redeeming, refunds by the daemon's sweeper,
# idempotent retries, key rotation; the ledger balanced at every step.
. "$(dirname "$0")/broker_lib.bash"

expect "lm-broker --help" 0 "usage: lm-broker" -- "$BROKER_BIN" --help
expect "lm-broker refuses an unknown option" 2 "usage" -- "$BROKER_BIN" --frob
for c in "account create" "account list" deposit balance hosts host-register buy redeem \
    "broker call" "broker headers"; do
    # shellcheck disable=SC2086
    expect "lmctl $c --help" 0 "usage: lmctl $c" -- "$LMCTL" $c --help
done
printf 'listen = 127.0.0.1:0\nfrobnicate = 1\n' >bad.conf
expect "an unknown setting is refused with its line" 2 "bad.conf:2: unknown setting \"frobnicate\"" -- \
    "$BROKER_BIN" --config bad.conf
printf 'max_skew = -5\n' >bad.conf
expect "a bad value is refused" 2 "bad.conf:1: max_skew = \"-5\": expected seconds" -- \
    "$BROKER_BIN" --config bad.conf
broker_config "settlement_grace = 1" "sweep_interval = 1"
expect "no signing key: a clear error" 1 "signing_key: .*broker.nokey" -- \
    "$BROKER_BIN" --config broker.conf --signing-key broker.nokey

broker_start || { not_ok "broker starts"; done_testing; exit 1; }
ok "broker serves on 127.0.0.1:$BROKER_PORT"
ledger_check "empty ledger"
expect "the ledger is in WAL mode" 0 "^wal$" -- sqlite3 ledger.db "PRAGMA journal_mode"

# Accounts and credit.
new_account alice buyer && new_account bob buyer && new_account op1 operator &&
    new_account op2 operator && ok "admin creates buyers alice, bob and operators op1, op2"
expect "deposit" 0 "deposited 10000 credits to alice: balance 10000" -- \
    "$LMCTL" deposit --key admin.key --account alice --amount 10000
expect "second deposit" 0 "balance 500" -- "$LMCTL" deposit --key admin.key --account bob --amount 500
expect "balance" 0 "balance   10000 credits available" -- "$LMCTL" balance --key alice.key
expect "account list (admin)" 0 "alice +buyer" -- "$LMCTL" account list --key admin.key
ledger_check "after deposits"

# The host directory.
expect "op1 registers alpha" 0 "host alpha registered" -- "$LMCTL" host-register --key op1.key \
    --name alpha --cluster blue --address 10.0.0.1 --port 7000 --price 3 --unit-ms 1000
"$LMCTL" host-register --key op1.key --name beta --cluster blue --address 10.0.0.2 --port 7000 \
    --price 5 --unit-ms 1000 >/dev/null
"$LMCTL" host-register --key op2.key --name gamma --cluster red --address gamma.example \
    --port 7001 --price 1 --unit-ms 500 >/dev/null
"$LMCTL" host-register --key op2.key --name delta --cluster red --address fd00::4 \
    --port 7002 --price 1 --unit-ms 1000 >/dev/null
expect "re-registering updates the host" 0 "host beta updated" -- "$LMCTL" host-register \
    --key op1.key --name beta --cluster blue --address 10.0.0.2 --port 7000 --price 5 --unit-ms 1000
expect "buyers list the hosts" 0 "alpha +blue +10.0.0.1:7000 +3 +1000  op1" -- \
    "$LMCTL" hosts --key alice.key
expect "hosts --json" 0 "^4$" -- bash -c "'$LMCTL' hosts --key alice.key --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"hosts\"]))'"
expect "hosts of one cluster" 0 "^2$" -- bash -c "'$LMCTL' hosts --key alice.key --cluster red --json |
    python3 -c 'import json,sys; print(len(json.load(sys.stdin)[\"hosts\"]))'"

# Buying: unit price = price * ceil(mem/64) * vcpus; cost = unit price * (prepaid + chain).
"$LMCTL" chain new -n 20 a.chain >/dev/null
head -c 8192 /dev/urandom >image.elf
expect "alice buys a token for alpha: 100 MiB, 2 vCPUs, 5 prepaid + 20 links" 0 \
    "credits \(unit price 12 x 25 units of 1000 ms\)" -- "$LMCTL" buy --key alice.key \
    --host alpha --mem 100 --vcpus 2 --image image.elf --chain a.chain --prepaid 5 -o a.tok
api alice.key GET "/v1/tokens/$("$LMCTL" token show --json a.tok | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')"
A=$(jget token_id)
[ "$(jget cost)" = 300 ] && [ "$(jget link_value_ms)" = 1000 ] && [ "$(jget state)" = open ] &&
    ok "token $A: cost 300 reserved, link value = alpha's unit_ms" || not_ok "token record: $BODY"
expect "the token verifies with the broker's public key on alpha" 0 "verdict     valid" -- \
    "$LMCTL" token show --key broker.key.pub --host alpha a.tok
expect "and is refused on beta" 1 "WRONG_SCOPE" -- "$LMCTL" token show --key broker.key.pub --host beta a.tok
expect "the balance shows the reservation" 0 "reserved  300 credits in 1 open tokens" -- \
    "$LMCTL" balance --key alice.key
ledger_check "after a purchase"
expect "a cluster token is priced at its dearest host" 0 "unit price 5 x 10 units" -- \
    "$LMCTL" buy --key alice.key --cluster blue --image image.elf --prepaid 10 -o blue.tok
expect "it verifies for cluster blue" 0 "verdict     valid" -- \
    "$LMCTL" token show --key broker.key.pub --cluster blue blue.tok
api alice.key POST /v1/tokens "{\"cluster\":\"red\",\"commitment\":\"$(printf 'ab%.0s' {1..32})\",\"prepaid_units\":1}"
want "a cluster whose hosts disagree on unit_ms" 409 CLUSTER_UNITS_DISAGREE
expect "token with network identity (curl-free path: lmctl)" 0 "network     10.1.0.7/24, MAC 02:00:00:00:00:07" -- \
    bash -c "'$LMCTL' buy --key alice.key --host gamma --image image.elf --prepaid 1 --ip 10.1.0.7/24 \
        --mac 02:00:00:00:00:07 -o net.tok >/dev/null && '$LMCTL' token show --key broker.key.pub net.tok"
ledger_check "after three purchases"

# Redeeming: prepaid units with the first redemption, then index - last index units.
expect "op1 redeems the anchor: the 5 prepaid units" 0 "5 units, 60 credits paid" -- \
    "$LMCTL" redeem --key op1.key --token a.tok --index 0 --chain a.chain
ledger_check "after redeeming the prepaid units"
expect "op1 redeems link 7" 0 "7 units, 84 credits paid \(token: 144 of 300 paid\)" -- \
    "$LMCTL" redeem --key op1.key --token "$A" --index 7 --chain a.chain --host alpha
expect "op1 redeems link 20, the last" 0 "13 units, 156 credits paid \(token: 300 of 300 paid\)" -- \
    "$LMCTL" redeem --key op1.key --token "$A" --index 20 --chain a.chain
expect "op1 earned every unit, once" 0 "balance   300 credits available" -- "$LMCTL" balance --key op1.key
ledger_check "after the token is fully redeemed"
B=$("$LMCTL" token show --json blue.tok | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
expect "a cluster token is redeemed by an operator of the cluster" 0 "10 units, 50 credits" -- \
    "$LMCTL" redeem --key op1.key --token "$B" --index 0 --link "$(printf '00%.0s' {1..32})"
api admin.key GET "/v1/tokens/$A"
[ "$(jget paid)" = 300 ] && [ "$(jget redeemed_index)" = 20 ] && [ "$(jget remaining)" = 0 ] &&
    ok "the token's record: paid 300, redeemed index 20" || not_ok "token record: $BODY"
api bob.key GET "/v1/tokens/$A"
want "another buyer cannot read the token" 403 NOT_YOUR_TOKEN

# Refund: expiry plus grace, by the daemon's own sweeper (every second here).
"$LMCTL" chain new -n 30 r.chain >/dev/null
"$LMCTL" buy --key bob.key --host alpha --image image.elf --chain r.chain --prepaid 2 --ttl 2 \
    -o r.tok >/dev/null && ok "bob buys a token that expires in 2 s: 32 units x 3 = 96" ||
    not_ok "bob's purchase"
R=$("$LMCTL" token show --json r.tok | python3 -c 'import json,sys; print(json.load(sys.stdin)["id"])')
"$LMCTL" redeem --key op1.key --token r.tok --index 10 --chain r.chain >/dev/null &&
    ok "op1 redeems 12 of its 32 units" || not_ok "op1 redeems bob's token"
ledger_check "before the refund"
for i in $(seq 80); do
    api bob.key GET "/v1/tokens/$R"
    [ "$(jget state)" = refunded ] && break
    sleep 0.1
done
[ "$(jget state)" = refunded ] && [ "$(jget refunded)" = 60 ] && [ "$(jget paid)" = 36 ] &&
    ok "the sweeper refunded the 20 unredeemed units (60 credits) after expiry + grace" ||
    not_ok "no refund: $BODY"
expect "bob's balance is back: 500 - 96 + 60" 0 "balance   464 credits" -- "$LMCTL" balance --key bob.key
ledger_check "after the refund"
expect "redeeming a refunded token" 1 "410 REFUNDED" -- \
    "$LMCTL" redeem --key op1.key --token r.tok --index 20 --chain r.chain
api admin.key POST /v1/admin/sweep '{}'
[ "$STATUS" = 200 ] && [ "$(jget refunded_tokens)" = 0 ] &&
    ok "the admin sweep is idempotent: nothing more to refund" || not_ok "sweep: $BODY"
expect "still 464" 0 "balance   464 credits" -- "$LMCTL" balance --key bob.key
ledger_check "after a second sweep"

# Idempotent retries: the same token id and request returns the same token, charged once.
ID=00112233445566778899aabbccddeeff
"$LMCTL" buy --key bob.key --host alpha --commitment "$(printf 'cd%.0s' {1..32})" --prepaid 4 \
    --id $ID -o i1.tok >/dev/null
expect "a retried purchase returns the token bought before" 0 "\(bought before\).*balance 452" -- \
    "$LMCTL" buy --key bob.key --host alpha --commitment "$(printf 'cd%.0s' {1..32})" --prepaid 4 \
    --id $ID -o i2.tok
expect "the very same token" 0 "" -- cmp i1.tok i2.tok
expect "the same id for another purchase" 1 "409 TOKEN_ID_TAKEN" -- "$LMCTL" buy --key bob.key \
    --host alpha --commitment "$(printf 'cd%.0s' {1..32})" --prepaid 5 --id $ID
ledger_check "after retries"

# curl with headers from lmctl broker headers (as in docs/BROKER-API.md).
"$LMCTL" broker headers --key alice.key GET /v1/account >h
expect "curl with signed headers" 0 "\"name\": \"alice\"" -- curl -sf -H @h "$LM_BROKER/v1/account"

# Key rotation: a new signing key; the old one stays listed as accepted.
api alice.key GET /v1/keys
OLD=$(jget keys 0 key_id)
broker_kill
mv broker.key old.key && mv broker.key.pub old.key.pub
"$LMCTL" keygen broker.key >/dev/null
echo "accepted_key = old.key.pub" >>broker.conf
broker_start && ok "restart with a rotated signing key" || not_ok "restart"
api alice.key GET /v1/keys
[ "$(jget keys 1 key_id)" = "$OLD" ] && [ "$(jget keys 1 current)" = false ] &&
    [ "$(jget keys 0 current)" = true ] && ok "GET /v1/keys: the new key is current, the old one listed" ||
    not_ok "keys: $BODY"
"$LMCTL" buy --key alice.key --host alpha --image image.elf --prepaid 1 -o new.tok >/dev/null
expect "new tokens carry the new key" 0 "verdict     valid" -- \
    "$LMCTL" token show --key broker.key.pub --host alpha new.tok
expect "old tokens still verify with the old key" 0 "verdict     valid" -- \
    "$LMCTL" token show --key old.key.pub --key broker.key.pub --host alpha a.tok
ledger_check "after the restart"
expect "the ledger file is intact" 0 "^ok$" -- sqlite3 ledger.db "PRAGMA integrity_check"

kill -TERM "$BROKER_PID"
wait "$BROKER_PID"
rc=$?
BROKER_PID=
[ "$rc" = 0 ] && ok "SIGTERM stops the broker cleanly" || not_ok "broker exit status $rc on SIGTERM"
grep -q "signal 15: stopping" broker.log && ok "it logs why it stops" || not_ok "no stop message"
done_testing
