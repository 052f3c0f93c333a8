#!/usr/bin/env bash
# The broker's part of the story, with real binaries on loopback: the admin opens accounts
# and deposits credit, an operator registers host "alpha", a buyer lists hosts and buys a
# token, the token verifies with the broker's public key, the operator redeems links, a
# replayed or forged request is refused, and the audit balances. Run from tools/demo.sh or
# alone: bash tools/demo_broker.sh
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
export PATH=$TOP/build/bin:$PATH
W=$(mktemp -d /tmp/lm-demo-broker-XXXXXX)
BROKER_PID=
cleanup() {
    [ -n "$BROKER_PID" ] && kill "$BROKER_PID" 2>/dev/null && wait "$BROKER_PID" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
refused() { printf '$ %s\n' "$*"; if "$@"; then echo "demo: expected a refusal" >&2; exit 1; fi; }

step "B1. Keys: the broker's token-signing key, the admin's, a buyer's, an operator's"
for k in broker admin alice op1; do lmctl keygen $k.key >/dev/null; done
ls ./*.key ./*.pub
step "B2. lm-broker on loopback with a fresh SQLite ledger"
cat >broker.conf <<'EOF'
listen = 127.0.0.1:0
database = ledger.db
signing_key = broker.key
admin_key = admin.key.pub
port_file = broker.port
EOF
cat broker.conf
lm-broker --config broker.conf 2>broker.log &
BROKER_PID=$!
for _ in $(seq 300); do [ -s broker.port ] && break; sleep 0.01; done
[ -s broker.port ] || { cat broker.log; echo "demo: lm-broker did not start" >&2; exit 1; }
export LM_BROKER=http://127.0.0.1:$(cat broker.port)
echo "LM_BROKER=$LM_BROKER"

step "B3. The admin creates buyer alice and operator op1, and deposits 10000 credits"
run lmctl account create --key admin.key --name alice --role buyer --pub alice.key.pub
run lmctl account create --key admin.key --name op1 --role operator --pub op1.key.pub
run lmctl deposit --key admin.key --account alice --amount 10000

step "B4. op1 registers host alpha: 3 credits per 1-second unit of a 64 MiB, 1-vCPU VM"
run lmctl host-register --key op1.key --name alpha --cluster blue --address 10.88.0.1 \
    --port 7800 --price 3 --unit-ms 1000

step "B5. alice lists the hosts and buys a token for alpha: 128 MiB, 10 s prepaid, 100-link chain"
export LM_KEY=alice.key
run lmctl hosts
run lmctl chain new -n 100 alice.chain
head -c 65536 /dev/urandom >guest.elf
run lmctl buy --host alpha --mem 128 --image guest.elf --chain alice.chain --prepaid 10 \
    --ttl 600 -o boot.tok
echo "(unit price 3 x ceil(128/64) x 1 vCPU = 6; cost 6 x (10 + 100) = 660)"
run lmctl balance

step "B6. Host alpha verifies the token with the broker's public key"
run lmctl token show --key broker.key.pub --host alpha boot.tok

step "B7. op1 redeems what alpha was paid: the anchor (10 prepaid units), then links 25 and 60"
export LM_KEY=op1.key
run lmctl redeem --token boot.tok --index 0 --chain alice.chain
run lmctl redeem --token boot.tok --index 25 --chain alice.chain --host alpha
run lmctl redeem --token boot.tok --index 60 --chain alice.chain --host alpha
step "B8. No unit is paid twice: link 25 again is refused, and so is a forged link 90"
refused lmctl redeem --token boot.tok --index 25 --chain alice.chain
refused lmctl redeem --token boot.tok --index 90 --link "$(printf '42%.0s' {1..32})"

step "B9. A replayed request is refused (same signed headers sent twice with curl)"
body='{"account":"alice","amount":1}'
lmctl broker headers --key admin.key POST /v1/deposits --data "$body" >h
cat h
printf '$ curl -H @h --data %s %s/v1/deposits   # twice\n' "'$body'" "$LM_BROKER"
curl -s -o /dev/null -w 'first:  HTTP %{http_code}\n' -H @h --data "$body" "$LM_BROKER/v1/deposits"
curl -s -w 'second: HTTP %{http_code}\n' -H @h --data "$body" "$LM_BROKER/v1/deposits"

step "B10. The audit: deposits = balances + credit still reserved in open tokens"
run lmctl balance --key op1.key
run lmctl broker call --key admin.key GET /v1/admin/audit
run sqlite3 ledger.db "SELECT name, role, balance FROM accounts"
echo
echo "demo (broker): done"
