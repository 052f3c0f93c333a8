#!/usr/bin/env bash
# Between clusters over an overlay: alpha and beta each have a bridge and a subnet of their
# own, with a routed link between them, and each agent joins its bridge to the other's with a
# VXLAN (overlay = VNI REMOTE SUBNET). A guest then keeps its address, its MAC and its open
# connections across the move, as within one network: wrk drives it through the migration
# with no errors, the broker locates it on beta at the same address, and it comes back. The
# agents remove their VXLAN devices when they stop.
. "$(dirname "$0")/tap.bash"
require_net
for t in curl wrk; do command -v $t >/dev/null || skip_or_fail "no $t (make deps installs it)"; done
. "$(dirname "$0")/hosts.bash"
# Two clusters: 10.61.0.0/24 behind alpha, 10.62.0.0/24 behind beta, routed over 10.60.0.0/30
# (whose MTU carries a guest's 1500-byte frames plus VXLAN's 50).
hosts_routed 10.61.0 10.62.0
expect "the clusters route to each other" 0 "1 received" -- in_a ping -c 1 -W 2 10.62.0.1
hosts_broker 10.61.0.1 alpha=10.61.0.1/one beta=10.62.0.1/two
hosts_agent alpha 10.61.0.1 10.61.0.10-10.61.0.49 "$A" "cluster = one" "overlay = 42 10.60.0.2 10.62.0.0/24"
hosts_agent beta 10.62.0.1 10.62.0.10-10.62.0.49 "$B" "cluster = two" "overlay = 42 10.60.0.1 10.61.0.0/24"
expect "alpha joined its bridge to beta's cluster" 0 "lmvx42: .* master br0" -- in_a ip -d -o link show lmvx42
expect "beta joined its bridge to alpha's cluster" 0 "vxlan id 42 remote 10.60.0.1" -- in_b ip -d -o link show lmvx42

in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --prepaid 900 --name web -o web.tok 2>/dev/null
expect "a guest serving HTTP boots in cluster one" 0 "total:" -- \
    in_a "$L" run 10.61.0.1 web.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80
VM=10.61.0.10
counter() { in_a curl -sS -m 5 "http://$VM/" | sed -n 's/.*requests: \([0-9]*\).*/\1/p'; }
n1=$(counter)
in_a wrk -t2 -c8 -d8s "http://$VM/" >wrk.txt 2>&1 &
WRK=$!
sleep 1
expect "migrate --to beta (another cluster) under wrk: the guest keeps its address" 0 "migrated in .* downtime" -- \
    bash -c "ip netns exec $A $L migrate --to beta web 2>&1 | tee mig.txt"
wait $WRK
grep -q "re-addressed" mig.txt && not_ok "the guest was re-addressed" || ok "not re-addressed: the same address"
if grep -qE "Non-2xx|Socket errors" wrk.txt || ! grep -q "requests in" wrk.txt; then
    not_ok "wrk saw errors across the overlay migration"; sed 's/^/# /' wrk.txt
else
    ok "wrk: no errors, same connections, across clusters ($(grep -o '[0-9]* requests in' wrk.txt))"
fi
n2=$(counter)
[ -n "$n2" ] && [ "$n2" -gt "$n1" ] && ok "it serves from beta at $VM with its memory ($n1 -> $n2)" || not_ok "counter '$n1' -> '$n2'"
expect "beta holds it at its own address" 0 "takes its address $VM" -- cat beta.log
expect "beta lists it running at $VM" 0 "running +$VM " -- host_b ls
located=
for _ in $(seq 100); do
    in_a "$L" locate web 2>&1 | grep -q "^web: host beta .* address $VM," && { located=1; break; }
    sleep 0.1
done
[ -n "$located" ] && ok "lmctl locate web: on beta, at $VM" || not_ok "web is not located on beta"
expect "and back to alpha over the overlay" 0 "migrated in" -- in_a "$L" migrate --to alpha --quiet web
expect "it serves at home again" 0 "requests:" -- in_a curl -sS -m 5 "http://$VM/"
kill "${PIDS[1]}" "${PIDS[2]}" 2>/dev/null
wait "${PIDS[1]}" "${PIDS[2]}" 2>/dev/null
in_a ip link show lmvx42 >/dev/null 2>&1 || in_b ip link show lmvx42 >/dev/null 2>&1 &&
    not_ok "a VXLAN device outlived its agent" || ok "the agents removed their VXLAN devices when they stopped"
done_testing
