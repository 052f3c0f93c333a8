#!/usr/bin/env bash
# Between clusters without an overlay: alpha and beta each have a bridge and a subnet of their
# own, with a routed link between them. A guest keeps its address only within its network:
# beta re-addresses guests from elsewhere (readdress = 1), so `lmctl migrate --to beta` moves
# it and it takes an address and MAC of beta's at commit, serves there with its memory, the
# broker locates it at its new address, and its source resets its old connections so that
# their peers hear it at once; alpha does not (the default), so the way back is refused with
# the way out named, and the guest serves on.
. "$(dirname "$0")/tap.bash"
require_net
command -v curl >/dev/null || skip_or_fail "no curl (make deps installs it)"
L=$LMCTL
EM=$BUILD/bin/evilman
KERNEL=$BUILD/guest/kernel.elf
A=lmcla$$ B=lmclb$$
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

# Two clusters: 10.61.0.0/24 behind alpha, 10.62.0.0/24 behind beta, routed over 10.60.0.0/30.
ip netns add "$A" && ip netns add "$B" &&
    in_a ip link set lo up && in_b ip link set lo up &&
    in_a ip link add br0 type bridge && in_b ip link add br0 type bridge &&
    in_a ip addr add 10.61.0.1/24 dev br0 && in_b ip addr add 10.62.0.1/24 dev br0 &&
    in_a ip link set br0 up && in_b ip link set br0 up &&
    in_a ip link add wan type veth peer name wan2 && in_a ip link set wan2 netns "$B" &&
    in_b ip link set wan2 name wan && in_a ip addr add 10.60.0.1/30 dev wan &&
    in_b ip addr add 10.60.0.2/30 dev wan && in_a ip link set wan up && in_b ip link set wan up &&
    in_a ip route add 10.62.0.0/24 via 10.60.0.2 && in_b ip route add 10.61.0.0/24 via 10.60.0.1 &&
    in_a sysctl -qw net.ipv4.ip_forward=1 && in_b sysctl -qw net.ipv4.ip_forward=1 ||
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

agent() { # name, own address, pool, namespace, cluster, readdress
    cat >"$1.conf" <<CONF
listen = $2:7777
host_name = $1
cluster = $5
readdress = $6
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
agent alpha 10.61.0.1 10.61.0.10-10.61.0.49 "$A" one 0
agent beta 10.62.0.1 10.62.0.10-10.62.0.49 "$B" two 1
OWNER=$("$L" owner-cmdline --owner owner.key)

in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --prepaid 900 --name web -o web.tok 2>/dev/null
expect "a guest serving HTTP boots in cluster one" 0 "total:" -- \
    in_a "$L" run 10.61.0.1 web.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80
VM=10.61.0.10
counter() { in_a curl -sS -m 5 "http://$1/" | sed -n 's/.*requests: \([0-9]*\).*/\1/p'; }
for _ in 1 2 3; do counter $VM >/dev/null; done
n1=$(counter $VM)

# An idle connection open across the move: its source resets it once the move commits.
cat >hold.py <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=5)
open("held", "w").close()
s.settimeout(30)
t = time.time()
try:
    d = s.recv(1)
    print("closed" if d == b"" else "data", round(time.time() - t, 1))
except ConnectionResetError:
    print("reset", round(time.time() - t, 1))
except socket.timeout:
    print("timeout", round(time.time() - t, 1))
PY
in_a python3 hold.py $VM >hold.txt 2>&1 &
HOLD=$!
for _ in $(seq 100); do [ -f held ] && break; sleep 0.05; done
expect "migrate --to beta moves it across, re-addressed" 0 "re-addressed: the guest now answers at 10\.62\.0\.[0-9]+" -- \
    bash -c "ip netns exec $A $L migrate --to beta web 2>&1 | tee mig.txt"
NEW=$(sed -n 's/^re-addressed: the guest now answers at \([0-9.]*\);.*/\1/p' mig.txt)
n2=$(counter "$NEW")
[ -n "$n2" ] && [ "$n2" -gt "$n1" ] && ok "it serves at $NEW, across the routed link, with its memory (counter $n1 -> $n2)" ||
    not_ok "at '$NEW': counter '$n1' -> '$n2'"
expect "beta: the guest took an address of its own" 0 "resumed from its checkpoint with a new identity: address $NEW" -- cat beta.log
expect "the child announced its new identity" 0 "net: a new identity: $NEW/24 gw 10.62.0.1" -- cat beta/vm-1.log
expect "alpha ended its VM as migrated" 0 "VM 1 ended \(migrated\)" -- bash -c "sleep 1; cat alpha.log"
wait $HOLD
expect "the old connection was reset by its source, not left to time out" 0 "^reset" -- cat hold.txt
located=
for _ in $(seq 100); do
    in_a "$L" locate web 2>&1 | grep -q "^web: host beta .* address $NEW," && { located=1; break; }
    sleep 0.1
done
[ -n "$located" ] && ok "lmctl locate web: on beta, at $NEW" || { not_ok "locate web"; in_a "$L" locate web 2>&1 | sed 's/^/# /'; }
expect "lmctl status web finds it by name at its new address" 0 "phase idle.* 1 migrations" -- in_a "$L" status web
expect "back to alpha, which does not re-address: refused, the way out named" 1 "BAD_NETID.*readdress = 1" -- \
    in_a "$L" migrate --to alpha --quiet web
expect "the guest serves on in cluster two" 0 "requests:" -- in_a curl -sS -m 5 "http://$NEW/"
done_testing
