#!/usr/bin/env bash
# Concurrency: 20 buyer processes sharing one account hammer purchases against limited
# credit and never overspend; 20 operator processes redeem links of one token in every
# order and no unit is paid twice.
. "$(dirname "$0")/broker_lib.bash"
P=20 N=10

broker_config
broker_start || { not_ok "broker starts"; done_testing; exit 1; }
new_account pool buyer 1000 && new_account op operator && ok "accounts" || not_ok "accounts"
"$LMCTL" host-register --key op.key --name alpha --address 127.0.0.1 --port 7000 --price 1 \
    --unit-ms 1000 >/dev/null
C=$(printf 'ab%.0s' {1..32})

# Each purchase costs 7 credits: 1000 buys 142 of the 200 attempts, leaving 6.
buyer() {
    local i out
    for i in $(seq "$N"); do
        if out=$("$LMCTL" buy --key pool.key --host alpha --commitment "$C" --prepaid 7 2>&1); then
            echo "ok $(printf '%s' "$out" | sed -n 's/.*: \([0-9]*\) credits (unit price.*/\1/p')"
        else
            echo "refused $(printf '%s' "$out" | grep -o 'broker: [0-9]* [A-Z_]*' | head -1)"
        fi
    done >"buys.$1"
}
t0=$(date +%s%N)
pids=()
for p in $(seq "$P"); do buyer "$p" & pids+=($!); done
wait "${pids[@]}" # not a bare wait: the broker is a child too
ms=$((($(date +%s%N) - t0) / 1000000))
cat buys.* >buys
n_ok=$(grep -c '^ok' buys) spent=$(awk '/^ok/ {s += $2} END {print s + 0}' buys)
others=$(grep '^refused' buys | grep -vc 'broker: 402 INSUFFICIENT_CREDIT')
balance=$(sqlite3 ledger.db "SELECT balance FROM accounts WHERE name = 'pool'")
ok "$P processes made $((P * N)) purchase attempts in $ms ms: $n_ok bought, $spent credits"
[ "$balance" -ge 0 ] && ok "final balance $balance >= 0" || not_ok "balance $balance < 0"
[ "$spent" = $((1000 - balance)) ] && ok "successful purchases cost exactly deposit - balance ($spent)" ||
    not_ok "purchases cost $spent, deposit - balance = $((1000 - balance))"
[ "$n_ok" = 142 ] && [ "$balance" = 6 ] && ok "credit ran out exactly: 142 purchases, 6 left" ||
    not_ok "$n_ok purchases, balance $balance (want 142 and 6)"
[ "$others" = 0 ] && ok "every refusal was 402 INSUFFICIENT_CREDIT" ||
    { not_ok "$others refusals of another kind"; grep -v 'INSUFFICIENT' buys | grep refused | head -5 | sed 's/^/# /'; }
ledger_check "after the purchase race"

# One token with a 200-link chain; 20 operator processes race to redeem rising links.
"$LMCTL" deposit --key admin.key --account pool --amount 1000 >/dev/null
"$LMCTL" chain new -n 200 c.chain >/dev/null
T=$("$LMCTL" buy --key pool.key --host alpha --commitment "$C" --chain c.chain --prepaid 3 \
    -o t.tok | awk '{print $2}' | tr -d :)
redeemer() {
    local i k out
    for i in $(seq "$N"); do
        k=$((i * 20 - RANDOM % 20)) # mostly rising, often colliding
        if out=$("$LMCTL" redeem --key op.key --token t.tok --index "$k" --chain c.chain --json 2>&1); then
            echo "ok $k $(printf '%s' "$out" | sed -n 's/^ *"amount": \([0-9]*\).*/\1/p')"
        else
            echo "refused $k $(printf '%s' "$out" | grep -o 'broker: [0-9]* [A-Z_]*' | head -1)"
        fi
    done >"redeems.$1"
}
pids=()
for p in $(seq "$P"); do redeemer "$p" & pids+=($!); done
wait "${pids[@]}"
cat redeems.* >redeems
paid_sum=$(awk '/^ok/ {s += $3} END {print s + 0}' redeems)
n_ok=$(grep -c '^ok' redeems)
others=$(grep '^refused' redeems | grep -vcE 'broker: 409 (ALREADY_REDEEMED|OUT_OF_ORDER)')
api admin.key GET "/v1/tokens/$T"
idx=$(jget redeemed_index) paid=$(jget paid)
[ "$paid" = $((idx + 3)) ] && ok "$n_ok of $((P * N)) redemptions paid; the token is paid for 3 prepaid + $idx links = $paid" ||
    not_ok "token paid $paid for redeemed index $idx"
[ "$paid_sum" = "$paid" ] && ok "the acknowledged payments add up to the token's payment ($paid_sum)" ||
    not_ok "acknowledged payments add up to $paid_sum, the token says $paid"
[ "$others" = 0 ] && ok "every refusal was 409 ALREADY_REDEEMED or OUT_OF_ORDER" ||
    { not_ok "$others refusals of another kind"; grep refused redeems | grep -v 409 | head -5 | sed 's/^/# /'; }
ledger_check "after the redemption race"
done_testing
