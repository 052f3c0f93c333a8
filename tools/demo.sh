#!/usr/bin/env bash
# `make demo`: the product's story end to end with real binaries, in a private network
# namespace: a broker sells a boot token, one UDP datagram boots a VM on a host running Evil
# Man, the buyer injects our guest kernel, curl talks to it, payments keep it alive, it is
# warned and reclaimed when they stop, and the host's earnings are settled with the broker.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
B=$TOP/build
export PATH=$B/bin:$PATH
KERNEL=$B/guest/kernel.elf
W=$(mktemp -d /tmp/lm-demo-XXXXXX)
NS=lmdemo$$
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    ip netns del "$NS" 2>/dev/null || true
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
    LM_IN_KVMBOX=1 exec bash "$TOP/tools/kvmbox.sh" -- bash "$TOP/tools/demo.sh"
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
printf 'listen = 127.0.0.1:8480\ndatabase = ledger.db\nsigning_key = broker.key\nadmin_key = admin.key.pub\n' >broker.conf
ip netns exec "$NS" lm-broker --config broker.conf 2>broker.log &
PIDS+=($!)
export LM_BROKER=http://127.0.0.1:8480
for _ in $(seq 200); do in_ns lmctl hosts >/dev/null 2>&1 && break; sleep 0.02; done
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

step "6. One magic ping boots a VM; alice injects the kernel; it serves HTTP (timed)"
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
step "10. Self-migration: a guest serving HTTP moves alpha -> beta -> alpha while wrk drives it"
echo "(monitor level: each destination is a loader VM started the way a host starts one for a"
echo " checkpoint token, with its own X25519 key; Evil Man's checkpoint admission comes next)"
run lmctl keygen owner.key
OWNER=$(lmctl owner-cmdline --owner owner.key)
echo "the guest obeys owner.key: $OWNER"
run lmctl migkey new mig.key
ip netns exec "$NS" lm-vmm -m 64 --bridge br0 --ip 10.88.0.200/24 --gw 10.88.0.1 \
    --mac 02:00:00:88:00:c8 -c "app=http $OWNER" "$KERNEL" >alpha-vm.log 2>&1 &
PIDS+=($!)
for _ in $(seq 200); do in_ns curl -s -m 1 http://10.88.0.200/ >/dev/null && break; sleep 0.05; done
loader() { # name, address: a loader VM for a checkpoint committing to mig.key
    lmctl migkey new "$1.lkey" >"$1.lpub"
    ip netns exec "$NS" lm-vmm -m 64 --loader --bridge br0 --ip "$2/24" --gw 10.88.0.1 \
        --commitment "$(lmctl migkey show mig.key)" --loader-key "$(cat "$1.lkey")" \
        -c "sender=10.88.0.200 wait_s=60" "$B/bootloader/loader.elf" >"$1.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 200); do in_ns bash -c "exec 3<>/dev/tcp/$2/7700" 2>/dev/null && break; sleep 0.05; done
}
loader beta 10.88.0.201
loader alpha2 10.88.0.202
in_ns wrk -t2 -c8 -d8s http://10.88.0.200/ >wrk-mig.txt 2>&1 &
WRK=$!
sleep 1
run in_ns lmctl status --owner owner.key 10.88.0.200
run in_ns lmctl migrate --owner owner.key --loader 10.88.0.201 --loader-pub "$(cat beta.lpub)" \
    --mig-key mig.key 10.88.0.200
run in_ns lmctl migrate --owner owner.key --loader 10.88.0.202 --loader-pub "$(cat alpha2.lpub)" \
    --mig-key mig.key 10.88.0.200
wait $WRK || true
echo "wrk across both migrations:"
cat wrk-mig.txt
grep -E "mig:|loader: (checkpoint|GO)" alpha-vm.log beta.log alpha2.log || true
run in_ns lmctl status --owner owner.key 10.88.0.200
run in_ns curl -s http://10.88.0.200/

step "11. A computation migrates while it runs; its result equals the host's"
lmctl migkey new mig2.key >/dev/null
ip netns exec "$NS" lm-vmm -m 64 --bridge br0 --ip 10.88.0.210/24 --gw 10.88.0.1 \
    --mac 02:00:00:88:00:d2 -c "app=compute n=300000 rounds=2000 $OWNER" "$KERNEL" >compute-vm.log 2>&1 &
PIDS+=($!)
lmctl migkey new c1.lkey >c1.lpub
ip netns exec "$NS" lm-vmm -m 64 --loader --bridge br0 --ip 10.88.0.211/24 --gw 10.88.0.1 \
    --commitment "$(lmctl migkey show mig2.key)" --loader-key "$(cat c1.lkey)" \
    -c "sender=10.88.0.210 wait_s=60" "$B/bootloader/loader.elf" >c1.log 2>&1 &
CPID=$!
PIDS+=($CPID)
for _ in $(seq 200); do grep -q "control: owner" compute-vm.log && in_ns bash -c "exec 3<>/dev/tcp/10.88.0.211/7700" 2>/dev/null && break; sleep 0.05; done
run in_ns lmctl migrate --owner owner.key --loader 10.88.0.211 --loader-pub "$(cat c1.lpub)" \
    --mig-key mig2.key --quiet 10.88.0.210
wait $CPID || true
grep "compute: result" c1.log || true
echo "host reference: $("$B/tests/compute_ref" 300000 2000)"

echo
echo "demo: done"
