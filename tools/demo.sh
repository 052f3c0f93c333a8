#!/usr/bin/env bash
# `make demo`: the product's story so far, end to end, with real binaries.
# Today: a broker key signs a boot token offline that commits to a hash chain; a host-side
# check verifies it, and refuses it on the wrong host, after expiry and when tampered with.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
LMCTL=$TOP/build/bin/lmctl
W=$(mktemp -d /tmp/lm-demo-XXXXXX)
trap 'rm -rf "$W"' EXIT
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
run "$LMCTL" token show --key broker.key.pub --host beta boot.tok | tail -1 || true
step "7. After expiry it is refused"
run "$LMCTL" token show --key broker.key.pub --host alpha --now $(( $(date +%s) + 601 )) boot.tok | tail -1 || true
step "8. A tampered token is refused"
cp boot.tok forged.tok
printf '\x40' | dd of=forged.tok bs=1 seek=52 conv=notrunc status=none  # 64 MiB instead of 32
run "$LMCTL" token show --key broker.key.pub --host alpha forged.tok | tail -1 || true
step "9. The links the buyer will send as payments: link k = H^(600-k)(seed), H(link 2) = link 1"
run "$LMCTL" chain show --link 1 buyer.chain
run "$LMCTL" chain show --link 2 buyer.chain
echo
echo "demo: done (the KVM monitor, Evil Man and the broker extend this story as they land)"
