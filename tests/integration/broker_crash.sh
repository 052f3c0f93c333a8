#!/usr/bin/env bash
# Crash safety: two clients loop on buys and redeems while the broker is killed with
# SIGKILL at random moments and restarted, KILLS times. Afterwards every operation a client
# saw acknowledged (a 2xx) is in the ledger, no unit is paid twice or lost, and the ledger
# balances (audit endpoint, SQLite, integrity check).
. "$(dirname "$0")/broker_lib.bash"
KILLS=${BROKER_CRASH_KILLS:-120}

broker_config "sweep_interval = 3600"
broker_start || { not_ok "broker starts"; done_testing; exit 1; }
new_account buyer buyer 1000000000 && new_account op operator && ok "accounts" || not_ok "accounts"
"$LMCTL" host-register --key op.key --name alpha --address 127.0.0.1 --port 7000 --price 1 \
    --unit-ms 1000 >/dev/null
"$LMCTL" chain new -n 40 c.chain >/dev/null
C=$(printf 'ab%.0s' {1..32})
ANCHOR=$("$LMCTL" chain show c.chain | awk '/^anchor/ {print $2}')
# Each token: 2 prepaid + 40 links at 1 credit = 42 credits; redeemed at links 5, 12, 25, 40.

client() { # NAME: buys and redeems until ./stop exists; logs what was acknowledged
    local i=0 id k
    while [ ! -e stop ]; do
        i=$((i + 1))
        id=$(printf '%08x%024x' "$1" "$i")
        if "$LMCTL" buy --key buyer.key --host alpha --commitment "$C" --anchor "$ANCHOR" \
            --chain-len 40 --prepaid 2 --id "$id" >/dev/null 2>&1; then
            echo "buy $id" >>"ack.$1"
        fi
        for k in 5 12 25 40; do
            if "$LMCTL" redeem --key op.key --token "$id" --index "$k" --chain c.chain \
                >/dev/null 2>&1; then
                echo "redeem $id $k" >>"ack.$1"
            fi
        done
    done
}
LM_BROKER_TIMEOUT=5 client 1 &
C1=$!
LM_BROKER_TIMEOUT=5 client 2 &
C2=$!
t0=$(date +%s)
failed_starts=0
for n in $(seq "$KILLS"); do
    sleep "0.0$((RANDOM % 10))$((RANDOM % 10))"
    kill -9 "$BROKER_PID"
    wait "$BROKER_PID" 2>/dev/null
    broker_start || failed_starts=$((failed_starts + 1))
done
touch stop
wait "$C1" "$C2"
secs=$(($(date +%s) - t0))
[ "$failed_starts" = 0 ] && ok "killed with SIGKILL and restarted $KILLS times in $secs s" ||
    not_ok "$failed_starts of $KILLS restarts failed"
cat ack.1 ack.2 >ack 2>/dev/null
nb=$(grep -c '^buy' ack) nr=$(grep -c '^redeem' ack)
[ "$nb" -ge 20 ] && [ "$nr" -ge 20 ] && ok "the clients saw $nb purchases and $nr redemptions acknowledged" ||
    not_ok "too little progress: $nb purchases, $nr redemptions acknowledged"

expect "the ledger file is intact" 0 "^ok$" -- sqlite3 ledger.db "PRAGMA integrity_check"
ledger_check "after $KILLS crashes"

# Every acknowledged operation is there; every token is paid exactly for its redeemed units.
out=$(python3 - <<'EOF'
import sqlite3
db = sqlite3.connect("file:ledger.db?mode=ro", uri=True)
tokens = {r[0]: r[1:] for r in db.execute(
    "SELECT id, cost, unit_price, prepaid_units, redeemed_index, paid, refunded FROM tokens")}
lost, bad = [], []
for line in open("ack"):
    f = line.split()
    t = tokens.get(f[1])
    if t is None:
        lost.append(line.strip())
    elif f[0] == "buy" and t[0] != 42:
        bad.append(f"{f[1]} cost {t[0]}")
    elif f[0] == "redeem" and (t[3] is None or t[3] < int(f[2])):
        lost.append(line.strip())
for tid, (cost, price, prepaid, idx, paid, refunded) in tokens.items():
    want = 0 if idx is None else price * (prepaid + idx)
    if paid != want or refunded != 0:
        bad.append(f"{tid}: paid {paid}, redeemed index {idx} -> want {want}")
    n = db.execute("SELECT COUNT(*), COALESCE(SUM(units), 0) FROM redemptions WHERE token_id = ?",
                   (tid,)).fetchone()
    if n[1] != (0 if idx is None else prepaid + idx):
        bad.append(f"{tid}: redemptions cover {n[1]} units, want {prepaid + (idx or 0)}")
print(len(lost), len(bad), len(tokens))
for x in (lost + bad)[:10]:
    print(x)
EOF
)
set -- $out
[ "$1" = 0 ] && ok "no acknowledged operation lost ($3 tokens in the ledger)" ||
    { not_ok "$1 acknowledged operations are not in the ledger"; printf '%s\n' "$out" | sed 's/^/# /'; }
[ "$2" = 0 ] && ok "every token paid for exactly its redeemed units, none twice" ||
    { not_ok "$2 tokens paid wrongly"; printf '%s\n' "$out" | sed 's/^/# /'; }

# After all that the broker still works: a retried purchase is recognised, the rest goes on.
id=$(grep -m1 '^buy' ack | awk '{print $2}')
expect "a retry of an acknowledged purchase returns the same token" 0 "bought before" -- \
    "$LMCTL" buy --key buyer.key --host alpha --commitment "$C" --anchor "$ANCHOR" --chain-len 40 \
    --prepaid 2 --id "$id"
ledger_check "at the end"
done_testing
