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
L=$LMCTL
EM=$BUILD/bin/evilman
KERNEL=$BUILD/guest/kernel.elf
A=lmova$$ B=lmovb$$
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
cd "$SCRATCH"
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }
host_a() { LM_CONTROL=$SCRATCH/alpha.sock "$L" host "$@"; }
host_b() { LM_CONTROL=$SCRATCH/beta.sock "$L" host "$@"; }

# Two clusters: 10.61.0.0/24 behind alpha, 10.62.0.0/24 behind beta, routed over 10.60.0.0/30
# (whose MTU carries a guest's 1500-byte frames plus VXLAN's 50).
ip netns add "$A" && ip netns add "$B" &&
    in_a ip link set lo up && in_b ip link set lo up &&
    in_a ip link add br0 type bridge && in_b ip link add br0 type bridge &&
    in_a ip addr add 10.61.0.1/24 dev br0 && in_b ip addr add 10.62.0.1/24 dev br0 &&
    in_a ip link set br0 up && in_b ip link set br0 up &&
    in_a ip link add wan type veth peer name wan2 && in_a ip link set wan2 netns "$B" &&
    in_b ip link set wan2 name wan && in_a ip addr add 10.60.0.1/30 dev wan &&
    in_b ip addr add 10.60.0.2/30 dev wan && in_a ip link set wan up && in_b ip link set wan up &&
    in_a ip route add 10.62.0.0/24 via 10.60.0.2 && in_b ip route add 10.61.0.0/24 via 10.60.0.1 &&
    in_a sysctl -qw net.ipv4.ip_forward=1 && in_b sysctl -qw net.ipv4.ip_forward=1 &&
    in_a ip link set wan mtu 1600 && in_b ip link set wan mtu 1600 ||
    { not_ok "two clusters with a routed link"; done_testing; exit 1; }
expect "the clusters route to each other" 0 "1 received" -- in_a ping -c 1 -W 2 10.62.0.1

for k in broker admin alice op1 owner; do "$L" keygen $k.key >/dev/null; done
printf 'listen = 10.61.0.1:8480\ndatabase = ledger.db\nsigning_key = broker.key\nadmin_key = admin.key.pub\n' >broker.conf
in_a "$BUILD/bin/lm-broker" --config broker.conf 2>broker.log &
PIDS+=($!)
export LM_BROKER=http://10.61.0.1:8480 LM_KEY=alice.key LM_OWNER=$SCRATCH/owner.key
for _ in $(seq 200); do in_a curl -s -o /dev/null -m 2 "$LM_BROKER/v1/hosts" && break; sleep 0.05; done
in_a "$L" account create --key admin.key --name alice --role buyer --pub alice.key.pub >/dev/null &&
    in_a "$L" account create --key admin.key --name op1 --role operator --pub op1.key.pub >/dev/null &&
    in_a "$L" deposit --key admin.key --account alice --amount 1000000 >/dev/null &&
    in_a "$L" host-register --key op1.key --name alpha --cluster one --address 10.61.0.1 --port 7777 --price 1 --unit-ms 1000 >/dev/null &&
    in_a "$L" host-register --key op1.key --name beta --cluster two --address 10.62.0.1 --port 7777 --price 1 --unit-ms 1000 >/dev/null ||
    { not_ok "broker accounts and hosts"; sed 's/^/# /' broker.log | tail; done_testing; exit 1; }

agent() { # name, own address, pool, namespace, cluster, overlay
    cat >"$1.conf" <<CONF
listen = $2:7777
host_name = $1
cluster = $5
overlay = $6
broker_key = $SCRATCH/broker.key.pub
bridge = br0
bridge_ip = $2/24
pool = $3
max_vms = 4
max_mem_mib = 128
total_mem_mib = 512
loader = $BUILD/bootloader/loader.elf
vmm = $BUILD/bin/lm-vmm
lmctl = $L
broker_url = $LM_BROKER
operator_key = $SCRATCH/op1.key
loader_wait_s = 20
control = $SCRATCH/$1.sock
state_dir = $SCRATCH/$1
CONF
    ip netns exec "$4" "$EM" --config "$1.conf" 2>"$1.log" &
    PIDS+=($!)
    for _ in $(seq 200); do [ -S "$1.sock" ] && break; sleep 0.05; done
}
agent alpha 10.61.0.1 10.61.0.10-10.61.0.49 "$A" one "42 10.60.0.2 10.62.0.0/24"
agent beta 10.62.0.1 10.62.0.10-10.62.0.49 "$B" two "42 10.60.0.1 10.61.0.0/24"
OWNER=$("$L" owner-cmdline --owner owner.key)

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
