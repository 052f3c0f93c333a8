#!/usr/bin/env bash
# lmctl autopilot keeps a named VM alive for its owner: it pays the host from the buyer's chain
# so that the VM is never warned for a whole run; it moves the VM when its host's price rises
# above another's by the margin, or when its host evicts it; --dry-run only says what it
# would do. Every decision is in its log with the reason.
. "$(dirname "$0")/tap.bash"
require_net
command -v curl >/dev/null || skip_or_fail "no curl (make deps installs it)"
. "$(dirname "$0")/hosts.bash"
hosts_segment 10.76.0
hosts_broker 10.76.0.1 alpha=10.76.0.1 beta=10.76.0.2
hosts_agent alpha 10.76.0.1 10.76.0.10-10.76.0.49 "$A"
hosts_agent beta 10.76.0.2 10.76.0.50-10.76.0.89 "$B"
RUN_S=${LM_AUTOPILOT_S:-60}
located() { # name, host: up to 20 s for the broker to locate it there
    for _ in $(seq 200); do
        in_a "$L" locate "$1" 2>&1 | grep -q "^$1: host $2 " && return 0
        sleep 0.1
    done
    return 1
}
"$L" chain new -n 3600 web.chain >/dev/null
in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --chain web.chain --prepaid 8 --name web -o web.tok 2>/dev/null
expect "a guest named web boots on alpha, 8 s prepaid" 0 "total:" -- \
    in_a "$L" run 10.76.0.1 web.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80
located web alpha || not_ok "web is not located on alpha"
expect "autopilot pays from the buyer's chain for ${RUN_S} s" 0 "done" -- \
    bash -c "ip netns exec $A $L autopilot --token web.tok --chain web.chain --duration $RUN_S web 2>&1 | tee ap1.log"
expect "it paid as it went" 0 "pay: link [0-9]+ accepted" -- cat ap1.log
grep -q "VM 1: credit low" alpha.log && not_ok "the VM was warned of low credit meanwhile" ||
    ok "the VM was never warned in ${RUN_S} s (host credit kept above its low mark)"
expect "web runs on alpha still (equal prices: no move)" 0 "^1 +running " -- host_a ls
grep -q "decision: move" ap1.log && not_ok "it moved web with equal prices" || ok "no move while prices are equal"

# alpha's price rises to three times beta's: autopilot moves web, and the guest pays beta.
in_a "$L" host-register --key op1.key --name alpha --address 10.76.0.1 --port 7777 --price 3 --unit-ms 1000 >/dev/null
expect "--dry-run says it would move web, and does not" 0 "decision \(dry run, not acting\): would move web from alpha to beta: alpha costs 3.00 credits/s, beta 1.00" -- \
    in_a "$L" autopilot --dry-run --duration 3 web
expect "web is still on alpha after the dry run" 0 "^1 +running " -- host_a ls
in_a "$L" autopilot --token web.tok --chain web.chain --duration 20 web >ap2.log 2>&1 &
AP=$!
located web beta && ok "autopilot moved web to beta when alpha's price rose" || not_ok "web did not move to beta"
wait $AP
expect "its log gives the reason" 0 "decision: move web from alpha to beta: alpha costs 3.00 credits/s, beta 1.00 credits/s: cheaper by 67 %" -- cat ap2.log
expect "it went on paying after the links the first run paid" 0 "pay: the host has links up to [0-9]+ already: going on from there" -- cat ap2.log
grep -q "move of web .* failed" ap2.log && not_ok "it tried to move web again after the move" || ok "one move, no second attempt on a stale location"
expect "after the move the guest pays beta itself" 0 "its guest pays its host.*autopilot stops paying" -- cat ap2.log
expect "web serves from beta" 0 "requests:" -- in_a curl -sS -m 5 http://10.76.0.10/

# beta evicts it: autopilot moves it back to alpha (prices equal again) before the deadline.
in_a "$L" host-register --key op1.key --name alpha --address 10.76.0.1 --port 7777 --price 1 --unit-ms 1000 >/dev/null
in_a "$L" autopilot --duration 20 web >ap3.log 2>&1 &
AP=$!
sleep 2
bid=$(host_b ls | awk '$2 == "running" {print $1}' | head -1)
host_b evict "$bid" --within 15s >/dev/null
located web alpha && ok "evicted by beta, web was moved to alpha by its autopilot" || not_ok "web did not leave beta"
wait $AP
expect "the reason: beta's eviction" 0 "decision: move web from beta to alpha: beta evicts it within [0-9.]+ s" -- cat ap3.log
sleep 1
grep -q "destroying: evicted" beta.log && not_ok "beta reclaimed it at the deadline" || ok "beta did not have to reclaim it"
expect "web serves from alpha" 0 "requests:" -- in_a curl -sS -m 5 http://10.76.0.10/
expect "autopilot wants a name" 2 "a VM name" -- "$L" autopilot 10.76.0.10
done_testing
