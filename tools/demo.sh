#!/usr/bin/env bash
# `make demo`: the product's story end to end with real binaries, in a private network
# namespace: a broker sells a boot token, one UDP datagram boots a VM on a host running Evil
# Man, the buyer injects our guest kernel, curl talks to it, payments keep it alive, it is
# warned and reclaimed when they stop, and the host's earnings are settled with the broker;
# then a guest migrates itself to a second host and back while wrk drives it, a checkpoint is
# restored, two clusters join, and a host runs the same loader and kernel as libvirt domains.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
export PATH=$B/bin:$PATH
KERNEL=$B/guest/kernel.elf
W=$(mktemp -d /tmp/lm-demo-XXXXXX)
NS=lmdemo$$
PIDS=()
cleanup() {
    local rc=$?
    if [ "$rc" -ne 0 ]; then # what the hosts said last: the cause is usually there
        for f in evilman.log beta.log gamma.log state/settle.log beta/settle.log; do
            [ -s "$W/$f" ] || continue
            echo "demo: failed (exit $rc); the last lines of $f:" >&2
            tail -25 "$W/$f" | sed 's/^/    /' >&2
        done
        for f in "$W"/state/vm-*.log "$W"/beta/vm-*.log "$W"/gamma/vm-*.log; do
            grep -q "error" "$f" 2>/dev/null || continue
            echo "demo: ${f#"$W"/} says:" >&2
            grep -v "^mig: \|^pay" "$f" | tail -25 | sed 's/^/    /' >&2
        done
    fi
    # (what in_c CMD & started runs under a subshell, $!: its children are stopped too)
    for p in "${PIDS[@]}"; do pkill -P "$p" 2>/dev/null || true; kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
    ip netns del "lmdemob$$" 2>/dev/null || true
    ip netns del "lmdemoc$$" 2>/dev/null || true
    rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }
in_ns() { ip netns exec "$NS" "$@"; }
if [ "$(id -u)" -ne 0 ]; then
    echo "demo: needs root (VMs, a network namespace, a bridge)" >&2
    exit 1
fi
if [ ! -w /dev/kvm ]; then
    if [ -n "${LM_IN_KVMBOX:-}" ]; then
        echo "demo: no /dev/kvm, even in the KVM box" >&2
        exit 1
    fi
    echo "demo: this machine's kernel gives no /dev/kvm: the demo runs in a KVM box (tools/kvmbox.sh: QEMU TCG with an SVM CPU, real KVM inside; slower)"
    trap - EXIT
    cd "$TOP" && rm -rf "$W"
    # Boxes have hung, died or stalled a guest at random (QEMU's multi-threaded TCG under SMP
    # Linux, tools/kvmbox.sh): a box that fails, or leaves no result within 20 min, is said so
    # (what failed is printed above it), and the whole story runs once more in a fresh box.
    for attempt in 1 2; do
        rc=0
        LM_IN_KVMBOX=1 bash "$TOP/tools/kvmbox.sh" --timeout 1200 -- bash "$TOP/tools/demo.sh" || rc=$?
        [ "$rc" = 0 ] && exit 0
        echo "demo: attempt $attempt of 2 in the KVM box failed (exit $rc$([ "$rc" = 124 ] &&
            echo ": the box hung or its kernel died; where its CPUs were: build/kvmbox/hang.txt"))" >&2
    done
    exit "$rc"
fi

step "1. The guest kernel alone: lm-vmm runs a computation; the host checks the result"
run lm-vmm -m 64 -c "app=compute n=5000000 rounds=3" "$KERNEL"
echo "host reference: $("$B/tests/compute_ref" 5000000 3)"

step "2. A private network: namespace $NS, bridge br0 at 10.88.0.1/24 (the host's side)"
ip netns add "$NS"
in_ns ip link set lo up
in_ns ip link add br0 type bridge
in_ns ip addr add 10.88.0.1/24 dev br0
in_ns ip link set br0 up

step "3. The broker: keys, a fresh SQLite ledger, accounts for buyer alice and operator op1"
for k in broker admin alice op1; do lmctl keygen $k.key >/dev/null; done
printf 'listen = 10.88.0.1:8480\ndatabase = ledger.db\nsigning_key = broker.key\nadmin_key = admin.key.pub\n' >broker.conf
ip netns exec "$NS" lm-broker --config broker.conf 2>broker.log &
PIDS+=($!)
export LM_BROKER=http://10.88.0.1:8480
for _ in $(seq 200); do in_ns curl -s -o /dev/null -m 2 "$LM_BROKER/v1/hosts" && break; sleep 0.02; done
run in_ns lmctl account create --key admin.key --name alice --role buyer --pub alice.key.pub
run in_ns lmctl account create --key admin.key --name op1 --role operator --pub op1.key.pub
run in_ns lmctl deposit --key admin.key --account alice --amount 10000
run in_ns lmctl host-register --key op1.key --name alpha --address 10.88.0.1 --port 7777 \
    --price 2 --unit-ms 1000

step "4. Evil Man on host alpha: trusts the broker's key, settles with op1's key"
cat >evilman.conf <<CONF
listen = 10.88.0.1:7777
host_name = alpha
broker_key = $W/broker.key.pub
bridge = br0
bridge_ip = 10.88.0.1/24
pool = 10.88.0.10-10.88.0.99
loader = $B/bootloader/loader.elf
vmm = $B/bin/lm-vmm
lmctl = $B/bin/lmctl
broker_url = $LM_BROKER
operator_key = $W/op1.key
settle_interval_s = 2
grace_ms = 2000
low_credit_ms = 2500
control = $W/evilman.sock
state_dir = $W/state
# a loader of 32 MiB kept booted for the next buyer: alice's ping finds it ready
warm_loaders = 1
warm_mem_mib = 32
# chapter 14: a VXLAN to gamma, the host of cluster two (10.89.0.0/24), over a routed link
overlay = 42 10.87.0.2 10.89.0.0/24
CONF
cat evilman.conf
ip netns exec "$NS" evilman --config evilman.conf 2>evilman.log &
PIDS+=($!)
export LM_CONTROL=$W/evilman.sock
for _ in $(seq 200); do [ -S evilman.sock ] && break; sleep 0.02; done

step "5. alice buys a token for alpha: 32 MiB, our kernel's digest, 4 s prepaid, 600-link chain"
export LM_KEY=alice.key
run in_ns lmctl hosts
run lmctl chain new -n 600 alice.chain
run in_ns lmctl buy --host alpha --mem 32 --image "$KERNEL" --chain alice.chain --prepaid 4 \
    --ttl 600 -o boot.tok
run lmctl token show --key broker.key.pub --host alpha boot.tok

step "6. One magic ping boots a VM (alpha's warm loader); alice injects the kernel; it serves HTTP (timed)"
for _ in $(seq 250); do grep -q "loader: warm: waiting" state/vm-1.log 2>/dev/null && break; sleep 0.02; done
grep -q "loader: warm: waiting" state/vm-1.log 2>/dev/null ||
    { echo "demo: alpha's warm loader did not boot within 5 s; its log: state/vm-1.log" >&2; exit 1; }
run in_ns lmctl run 10.88.0.1 boot.tok "$KERNEL" --cmdline app=http --wait-tcp 80
run in_ns curl -s http://10.88.0.10/
run in_ns ping -c 2 -i 0.2 10.88.0.10
run lmctl host ls

step "7. alice pays a link every 500 ms for 5 s: the VM lives past its 4 s of prepaid time"
run in_ns lmctl pay --every 500 --count 10 10.88.0.1 boot.tok alice.chain
run in_ns wrk -t2 -c8 -d2s http://10.88.0.10/
run lmctl host ls

step "8. alice stops paying: the guest is warned, then the grace period runs out"
for _ in $(seq 300); do lmctl host ls | grep -q '^1 ' || break; sleep 0.1; done
grep -E "host: credit" state/vm-1.log || true
grep -E "VM 1" evilman.log
run lmctl host status
run in_ns ip -br link

step "9. Settlement: Evil Man redeemed what the VM earned; the broker paid op1"
for _ in $(seq 100); do grep -q "redeemed up to link" evilman.log && break; sleep 0.05; done
grep settle evilman.log || true
cat state/earnings.jsonl
run in_ns lmctl balance --key op1.key
run in_ns lmctl balance --key alice.key
run in_ns lmctl broker call --key admin.key GET /v1/admin/audit
step "10. A second host, beta, joins alpha's network segment (its own namespace, a veth between the bridges)"
NSB=lmdemob$$
ip netns add "$NSB"
in_b() { ip netns exec "$NSB" "$@"; }
in_b ip link set lo up
in_b ip link add br0 type bridge
in_ns ip link add vx type veth peer name vy
in_ns ip link set vy netns "$NSB"
in_ns ip link set vx master br0
in_b ip link set vy master br0
in_b ip addr add 10.88.0.2/24 dev br0
in_b ip link set br0 up
in_ns ip link set vx up
in_b ip link set vy up
run in_ns lmctl host-register --key op1.key --name beta --address 10.88.0.2 --port 7777 \
    --price 2 --unit-ms 1000
sed -e 's/^listen = .*/listen = 10.88.0.2:7777/' -e 's/^host_name = .*/host_name = beta/' \
    -e 's|^bridge_ip = .*|bridge_ip = 10.88.0.2/24|' -e 's/^pool = .*/pool = 10.88.0.100-10.88.0.149/' \
    -e "s|^control = .*|control = $W/beta.sock|" -e "s|^state_dir = .*|state_dir = $W/beta|" \
    -e '/^overlay = /d' -e '/^# chapter 14/d' evilman.conf >beta.conf
echo "readdress = 1 # a guest from another cluster takes an address of beta's" >>beta.conf
ip netns exec "$NSB" evilman --config beta.conf 2>beta.log &
PIDS+=($!)
for _ in $(seq 200); do [ -S beta.sock ] && break; sleep 0.02; done
run in_ns lmctl hosts

step "11. Self-migration: a guest serving HTTP moves alpha -> beta -> alpha while wrk drives it"
echo "(lmctl buys a checkpoint token for the destination, pings it, checks that the host's operator"
echo " vouched for the loader's key, and tells the guest where to go; the guest copies itself)"
run lmctl keygen owner.key
OWNER=$(lmctl owner-cmdline --owner owner.key)
echo "the guest obeys owner.key: $OWNER"
export LM_OWNER=$W/owner.key
run in_ns lmctl buy --host alpha --mem 64 --image "$KERNEL" --prepaid 600 --name web -o web.tok
run in_ns lmctl run 10.88.0.1 web.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80
WEB=$(lmctl host ls | awk '$2 == "running" {print $3}' | tail -1)
echo "the guest serves at $WEB"
in_ns wrk -t2 -c8 -d10s "http://$WEB/" >wrk-mig.txt 2>&1 &
WRK=$!
sleep 1
run in_ns lmctl status "$WEB"
located() { for _ in $(seq 50); do in_ns lmctl locate web 2>/dev/null | grep -q "host $1 " && return; sleep 0.1; done; }
run in_ns lmctl migrate --to beta web
run env LM_CONTROL=$W/beta.sock lmctl host ls
located beta || true # beta tells the broker where web runs now (Evil Man, as each VM starts)
run in_ns lmctl locate web
run in_ns lmctl migrate --to alpha web
wait $WRK || true
echo "wrk across both migrations:"
cat wrk-mig.txt
grep -E "migrated|resumed from its checkpoint" evilman.log beta.log || true
run lmctl host ls
located alpha || true
run in_ns lmctl locate web
run in_ns lmctl status web
run in_ns curl -s "http://$WEB/"

step "12. A computation migrates to beta while it runs, its pages zstd-compressed; its result equals the host's"
run in_ns lmctl buy --host alpha --mem 64 --image "$KERNEL" --prepaid 600 -o compute.tok
run in_ns lmctl run 10.88.0.1 compute.tok "$KERNEL" --cmdline "app=compute n=300000 rounds=2000 $OWNER"
CVM=$(lmctl host ls | awk -v t="$(lmctl token show --json compute.tok | sed -n 's/.*"id": "\([0-9a-f]*\)".*/\1/p')" '$NF == t {print $1" "$3}')
sleep 1
run in_ns lmctl migrate --to beta --zstd --quiet "${CVM#* }"
BVM=$(LM_CONTROL=$W/beta.sock lmctl host ls | awk -v a="${CVM#* }" '$3 == a {print $1}')
for _ in $(seq 600); do grep -q "compute: result" "beta/vm-$BVM.log" 2>/dev/null && break; sleep 0.1; done
grep "compute: result" "beta/vm-$BVM.log" || true
echo "host reference: $("$B/tests/compute_ref" 300000 2000)"

step "13. A checkpoint on disk (zstd-compressed): web recorded while it serves, restored on beta as a copy with an address of its own"
run in_ns lmctl checkpoint --zstd -o web.ckpt web
run lmctl restore --check web.ckpt
run in_ns lmctl restore --to beta web.ckpt | tee restore.txt
COPY=$(sed -n 's/.* at \([0-9.]*\) (a new identity).*/\1/p' restore.txt)
echo "the copy answers at $COPY with the memory of the checkpoint; the original serves on at $WEB:"
run in_ns curl -s "http://$COPY/"
run in_ns curl -s "http://$WEB/"
run env LM_CONTROL=$W/beta.sock lmctl host ls

step "14. Two clusters: gamma's network 10.89.0.0/24 is routed to alpha's; their agents join the bridges with a VXLAN"
NSC=lmdemoc$$
in_c() { ip netns exec "$NSC" "$@"; }
ip netns add "$NSC"
in_c ip link set lo up
in_c ip link add br0 type bridge
in_c ip addr add 10.89.0.1/24 dev br0
in_c ip link set br0 up
in_ns ip link add wan type veth peer name wanc
in_ns ip link set wanc netns "$NSC"
in_c ip link set wanc name wan
in_ns ip addr add 10.87.0.1/30 dev wan
in_c ip addr add 10.87.0.2/30 dev wan
in_ns ip link set wan mtu 1600 up # VXLAN adds 50 bytes to the guests' 1500
in_c ip link set wan mtu 1600 up
in_ns ip route add 10.89.0.0/24 via 10.87.0.2
in_c ip route add 10.88.0.0/24 via 10.87.0.1
ip netns exec "$NSB" ip route add 10.89.0.0/24 via 10.88.0.1 # beta's guests reach gamma's
ip netns exec "$NSB" sysctl -qw net.ipv4.ip_forward=1
in_ns sysctl -qw net.ipv4.ip_forward=1
in_c sysctl -qw net.ipv4.ip_forward=1
run in_ns lmctl host-register --key op1.key --name gamma --cluster two --address 10.89.0.1 \
    --port 7777 --price 2 --unit-ms 1000
sed -e 's/^listen = .*/listen = 10.89.0.1:7777/' -e 's/^host_name = .*/host_name = gamma/' \
    -e 's|^bridge_ip = .*|bridge_ip = 10.89.0.1/24|' -e 's/^pool = .*/pool = 10.89.0.10-10.89.0.49/' \
    -e "s|^control = .*|control = $W/gamma.sock|" -e "s|^state_dir = .*|state_dir = $W/gamma|" \
    -e 's|^overlay = .*|overlay = 42 10.87.0.1 10.88.0.0/24|' -e '/^# chapter 14/d' evilman.conf >gamma.conf
echo "cluster = two" >>gamma.conf
grep overlay gamma.conf
in_c evilman --config gamma.conf 2>gamma.log &
PIDS+=($!)
for _ in $(seq 200); do [ -S gamma.sock ] && break; sleep 0.02; done
in_c ip -d -o link show lmvx42 | grep -o "vxlan id 42 remote [0-9.]*"
echo "(1) over the overlay web keeps its address and connections: wrk runs through the move"
in_ns wrk -t2 -c8 -d6s "http://$WEB/" >wrk-cl.txt 2>&1 &
WRK=$!
sleep 1
run in_ns lmctl migrate --to gamma --quiet web
wait $WRK || true
grep -E "requests in|errors" wrk-cl.txt || true
located() { for _ in $(seq 50); do in_ns lmctl locate "$1" 2>/dev/null | grep -q "host $2 " && return; sleep 0.1; done; }
located web gamma || true
run in_ns lmctl locate web
echo "(2) without an overlay: a guest born on gamma moves to beta, which re-addresses it"
run in_ns lmctl buy --host gamma --mem 64 --image "$KERNEL" --prepaid 600 --name svc -o svc.tok
run in_ns lmctl run 10.89.0.1 svc.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80
located svc gamma || true # gamma tells the broker as svc boots (a child of its agent)
run in_ns lmctl migrate --to beta --quiet svc
located svc beta || true
run in_ns lmctl locate svc
SVC=$(in_ns lmctl locate svc | sed -n 's/.* address \([0-9.]*\),.*/\1/p')
run in_ns curl -s "http://$SVC/"
echo "(3) the checkpoint of chapter 13 restored on a third host, gamma, in the other cluster"
run in_ns lmctl restore --to gamma web.ckpt
run env LM_CONTROL=$W/gamma.sock lmctl host ls
run in_ns lmctl broker call --key admin.key GET /v1/admin/audit

step "15. Standard virtual hardware through libvirt: host delta's Evil Man runs its VMs as libvirt domains (embedded QEMU driver; q35, PVH boot, virtio-net on a tap on the bridge, the host channel on COM2)"
KERNEL_PVH=$B/guest/kernel-pvh.elf
run in_ns lmctl host-register --key op1.key --name delta --address 10.88.0.1 --port 7778 --price 2 --unit-ms 1000
sed -e 's/^listen = .*/listen = 10.88.0.1:7778/' -e 's/^host_name = .*/host_name = delta/' \
    -e 's/^pool = .*/pool = 10.88.0.150-10.88.0.199/' \
    -e "s|^loader = .*|loader = $B/bootloader/loader-pvh.elf|" -e "s|^control = .*|control = $W/delta.sock|" \
    -e "s|^state_dir = .*|state_dir = $W/delta|" -e '/^overlay/d' -e '/^# chapter 14/d' -e '/^warm_/d' -e '/^# a loader of 32/d' \
    evilman.conf >delta.conf
echo "backend = libvirt" >>delta.conf
grep -E "^(listen|host_name|pool|loader|backend)" delta.conf
ip netns exec "$NS" evilman --config delta.conf 2>delta.log &
PIDS+=($!)
for _ in $(seq 200); do [ -S delta.sock ] && break; sleep 0.02; done
run in_ns lmctl buy --host delta --mem 64 --image "$KERNEL_PVH" --prepaid 120 -o pvh.tok
run in_ns lmctl run --timeout 120000 10.88.0.1:7778 pvh.tok "$KERNEL_PVH" --cmdline app=http --wait-tcp 80
run in_ns curl -s http://10.88.0.150/
run env LM_CONTROL=$W/delta.sock lmctl host ls
# The host speaks to the guest over its COM2 (the host channel): an eviction, heard inside.
run env LM_CONTROL=$W/delta.sock lmctl host evict 1 --within 3s
for _ in $(seq 100); do grep -q "host: evicted" delta/vm-1.log && break; sleep 0.05; done
grep -E "^host: " delta/vm-1.log || true
for _ in $(seq 100); do grep -q "VM 1 ended" delta.log && break; sleep 0.05; done
grep -E "libvirt|VM 1" delta.log || true

echo
echo "demo: done"
