#!/usr/bin/env bash
# `make demo`: the product's story so far, end to end, with real binaries.
# Part 1: a broker key signs a boot token offline that commits to a hash chain; a host-side
# check verifies it, and refuses it on the wrong host, after expiry and when tampered with.
# Part 2: the built-in KVM monitor boots our guest kernel on a tap in a private network
# namespace, and unmodified clients (ping, curl, wrk) talk to its lwIP stack.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
LMCTL=$TOP/build/bin/lmctl
VMM=$TOP/build/bin/lm-vmm
KERNEL=$TOP/build/guest/kernel.elf
W=$(mktemp -d /tmp/lm-demo-XXXXXX)
NS=lmdemo$$
VM_PID=
cleanup() {
    [ -n "$VM_PID" ] && kill "$VM_PID" 2>/dev/null && wait "$VM_PID" 2>/dev/null
    ip netns del "$NS" 2>/dev/null
    rm -rf "$W"
}
trap cleanup EXIT
cd "$W"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

step "1. The broker makes its signing key"
run "$LMCTL" keygen broker.key
step "2. The buyer makes a hash chain of 600 links (each buys 1 s of VM time)"
run "$LMCTL" chain new -n 600 buyer.chain
step "3. The buyer builds the image the token will commit to"
head -c 65536 /dev/urandom >guest.elf
echo "guest.elf: 64 KiB"
step "4. The broker signs a boot token for host 'alpha': 32 MiB, 1 vCPU, 10 s prepaid"
run "$LMCTL" token mint --key broker.key --host alpha --mem 32 --image guest.elf \
    --chain buyer.chain --prepaid 10 --link-ms 1000 --ttl 600 -o boot.tok
step "5. Host 'alpha' verifies it (key, lifetime, scope, signature)"
run "$LMCTL" token show --key broker.key.pub --host alpha boot.tok
step "6. Host 'beta' refuses it"
"$LMCTL" token show --key broker.key.pub --host beta boot.tok | tail -1 || true
step "7. After expiry it is refused"
"$LMCTL" token show --key broker.key.pub --host alpha --now $(( $(date +%s) + 601 )) boot.tok | tail -1 || true
step "8. A tampered token is refused"
cp boot.tok forged.tok
printf '\x40' | dd of=forged.tok bs=1 seek=52 conv=notrunc status=none  # 64 MiB instead of 32
"$LMCTL" token show --key broker.key.pub --host alpha forged.tok | tail -1 || true
step "9. The links the buyer will send as payments: link k = H^(600-k)(seed), H(link 2) = link 1"
run "$LMCTL" chain show --link 1 buyer.chain
run "$LMCTL" chain show --link 2 buyer.chain

if [ ! -w /dev/kvm ] || [ "$(id -u)" -ne 0 ]; then
    echo "demo: part 2 needs root and /dev/kvm; stopping here" >&2
    exit 1
fi
step "10. The guest kernel computes on its own (no network): the result matches the host's"
run "$VMM" -m 64 -c "app=compute n=5000000 rounds=3" "$KERNEL"
echo "host reference: $("$TOP/build/tests/compute_ref" 5000000 3)"
step "11. A private network: namespace $NS, bridge br0 at 10.88.0.1/24"
ip netns add "$NS"
ip netns exec "$NS" ip link set lo up
ip netns exec "$NS" ip link add br0 type bridge
ip netns exec "$NS" ip addr add 10.88.0.1/24 dev br0
ip netns exec "$NS" ip link set br0 up
step "12. lm-vmm boots the guest on a tap on br0: 64 MiB, 10.88.0.2, HTTP server"
t0=$(date +%s%N)
ip netns exec "$NS" "$VMM" -m 64 --bridge br0 --ip 10.88.0.2/24 --gw 10.88.0.1 \
    -c "app=http" "$KERNEL" &
VM_PID=$!
until ip netns exec "$NS" curl -s -m 0.05 -o /dev/null http://10.88.0.2/; do :; done
echo "monitor start to the guest's first HTTP answer: $(( ($(date +%s%N) - t0) / 1000000 )) ms" \
     "(with this script's process start-ups; make bench measures it properly)"
step "13. ping, then curl (twice: the counter moves)"
run ip netns exec "$NS" ping -c 3 -i 0.2 10.88.0.2
run ip netns exec "$NS" curl -s http://10.88.0.2/
run ip netns exec "$NS" curl -s http://10.88.0.2/
step "14. wrk, 3 seconds, 8 connections"
run ip netns exec "$NS" wrk -t2 -c8 -d3s http://10.88.0.2/
step "15. Stop the VM: its tap goes with it"
kill "$VM_PID"
wait "$VM_PID" || true
VM_PID=
run ip netns exec "$NS" ip -br link
echo
echo "demo: done (Evil Man and the broker extend this story as they land)"
