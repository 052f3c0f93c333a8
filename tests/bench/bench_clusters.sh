#!/usr/bin/env bash
# Benchmark: migration between clusters over the overlay against the same migration within
# one network, in the same run. alpha and beta share a segment (10.75.0.0/24); gamma is
# another cluster (10.74.0.0/24) routed to alpha's, its bridge joined to alpha's by a VXLAN.
# A 64 MiB HTTP guest moves alpha -> beta -> alpha and alpha -> gamma -> alpha, N times each:
# downtime (as the guest measured it) and total time, medians, and their ratios. Ratios,
# never thresholds: it fails only when something does not work.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-$TOP/build}
L=$B/bin/lmctl EM=$B/bin/evilman KERNEL=$B/guest/kernel.elf
N=${LM_BENCH_CLUSTER_MOVES:-5}
NA=lmbca$$ NB=lmbcb$$ NG=lmbcg$$
. "$TOP/tests/bench/bench.bash" /tmp benchcl "$NA" "$NB" "$NG"
echo
echo "== between clusters: migration over the overlay against one network, $N moves each way (bench_clusters.sh)"
bench_require_kvm
[ -n "${LM_IN_KVMBOX:-}" ] && echo "(in the KVM box: QEMU TCG, nested KVM; figures say little about real hardware)"
cd "$W"
in_a() { ip netns exec "$NA" "$@"; }
in_b() { ip netns exec "$NB" "$@"; }
in_g() { ip netns exec "$NG" "$@"; }
for n in "$NA" "$NB" "$NG"; do
    ip netns add "$n" && ip -n "$n" link set lo up && ip -n "$n" link add br0 type bridge &&
        ip -n "$n" link set br0 up || { echo "FAILED: namespaces"; exit 1; }
done
in_a ip addr add 10.75.0.1/24 dev br0 && in_b ip addr add 10.75.0.2/24 dev br0 &&
    in_g ip addr add 10.74.0.1/24 dev br0 &&
    in_a ip link add vx type veth peer name vy && in_a ip link set vy netns "$NB" &&
    in_a ip link set vx master br0 up && in_b ip link set vy master br0 up &&
    in_a ip link add wan type veth peer name wan2 && in_a ip link set wan2 netns "$NG" &&
    in_g ip link set wan2 name wan && in_a ip addr add 10.60.0.1/30 dev wan &&
    in_g ip addr add 10.60.0.2/30 dev wan && in_a ip link set wan mtu 1600 up &&
    in_g ip link set wan mtu 1600 up && in_a ip route add 10.74.0.0/24 via 10.60.0.2 &&
    in_g ip route add 10.75.0.0/24 via 10.60.0.1 && in_b ip route add 10.74.0.0/24 via 10.75.0.1 &&
    in_a sysctl -qw net.ipv4.ip_forward=1 && in_g sysctl -qw net.ipv4.ip_forward=1 ||
    { echo "FAILED: the network"; exit 1; }
for k in broker admin alice op1 owner; do "$L" keygen $k.key >/dev/null; done
printf 'listen = 10.75.0.1:8480\ndatabase = ledger.db\nsigning_key = broker.key\nadmin_key = admin.key.pub\n' >broker.conf
in_a "$B/bin/lm-broker" --config broker.conf 2>broker.log & PIDS+=($!)
export LM_BROKER=http://10.75.0.1:8480 LM_KEY=alice.key LM_OWNER=$W/owner.key
for _ in $(seq 200); do in_a curl -s -o /dev/null -m 2 "$LM_BROKER/v1/hosts" && break; sleep 0.05; done
in_a "$L" account create --key admin.key --name alice --role buyer --pub alice.key.pub >/dev/null &&
    in_a "$L" account create --key admin.key --name op1 --role operator --pub op1.key.pub >/dev/null &&
    in_a "$L" deposit --key admin.key --account alice --amount 1000000 >/dev/null ||
    { echo "FAILED: broker accounts"; exit 1; }
agent() { # name address pool namespace cluster [overlay]
    in_a "$L" host-register --key op1.key --name "$1" --cluster "$5" --address "$2" --port 7777 \
        --price 1 --unit-ms 1000 >/dev/null || return 1
    cat >"$1.conf" <<CONF
listen = $2:7777
host_name = $1
cluster = $5
broker_key = $W/broker.key.pub
bridge = br0
bridge_ip = $2/24
pool = $3
max_vms = 4
max_mem_mib = 128
total_mem_mib = 512
loader = $B/bootloader/loader.elf
vmm = $B/bin/lm-vmm
lmctl = $L
broker_url = $LM_BROKER
operator_key = $W/op1.key
control = $W/$1.sock
state_dir = $W/$1
CONF
    [ -n "${6:-}" ] && echo "overlay = $6" >>"$1.conf"
    ip netns exec "$4" "$EM" --config "$1.conf" 2>"$1.log" & PIDS+=($!)
    for _ in $(seq 200); do [ -S "$1.sock" ] && break; sleep 0.05; done
}
agent alpha 10.75.0.1 10.75.0.10-10.75.0.49 "$NA" one "42 10.60.0.2 10.74.0.0/24" &&
    agent beta 10.75.0.2 10.75.0.50-10.75.0.89 "$NB" one &&
    agent gamma 10.74.0.1 10.74.0.10-10.74.0.49 "$NG" two "42 10.60.0.1 10.75.0.0/24" ||
    { echo "FAILED: the agents"; exit 1; }
OWNER=$("$L" owner-cmdline --owner owner.key)
in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --prepaid 3600 --name web -o web.tok 2>/dev/null
in_a "$L" run 10.75.0.1 web.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80 >/dev/null 2>&1 ||
    { echo "FAILED: the guest did not boot"; exit 1; }
fail=0
moves() { # other host, output file: N round trips alpha -> other -> alpha
    for i in $(seq "$N"); do
        for to in "$1" alpha; do
            out=$(in_a "$L" migrate --to "$to" --quiet --json web 2>&1) ||
                { echo "FAILED: migration to $to: $(echo "$out" | tail -1)"; fail=1; return; }
            echo "$out" | sed -n 's/.*"total_ns": \([0-9]*\), "downtime_ns": \([0-9]*\).*/\1 \2/p' >>"$2"
        done
    done
}
moves beta same.txt
moves gamma overlay.txt
med() { sort -n | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)]; else print 0 }'; }
[ -s same.txt ] && [ -s overlay.txt ] || { echo "FAILED: no figures"; exit 1; }
st=$(cut -d' ' -f1 same.txt | med) sd=$(cut -d' ' -f2 same.txt | med)
ot=$(cut -d' ' -f1 overlay.txt | med) od=$(cut -d' ' -f2 overlay.txt | med)
echo "within one network ($(wc -l <same.txt) moves): total median $((st / 1000000)) ms, downtime median $((sd / 1000)) us"
echo "over the overlay   ($(wc -l <overlay.txt) moves): total median $((ot / 1000000)) ms, downtime median $((od / 1000)) us"
echo "overlay / one network: total $(awk -v a="$ot" -v b="$st" 'BEGIN { printf "%.2f", a / b }'), downtime $(awk -v a="$od" -v b="$sd" 'BEGIN { printf "%.2f", a / b }')"
exit $fail
