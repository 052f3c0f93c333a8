#!/usr/bin/env bash
# Checkpoints on disk: `lmctl checkpoint VM -o FILE` records a running guest into a file sealed
# for its owner while it runs on; `lmctl restore --to HOST FILE` starts it on another host,
# with a new identity (or, --replace, its own address once the original is gone). A
# computation restored from the middle still gets the right result; a guest serving HTTP is
# restored with its memory. A file changed in any byte, cut short, or opened with another
# owner key is refused with the cause, before anything is bought.
. "$(dirname "$0")/tap.bash"
require_net
command -v curl >/dev/null || skip_or_fail "no curl (make deps installs it)"
L=$LMCTL
EM=$BUILD/bin/evilman
KERNEL=$BUILD/guest/kernel.elf
A=lmcka$$ B=lmckb$$
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
host_a() { LM_CONTROL=$SCRATCH/alpha.sock "$L" host "$@"; }
host_b() { LM_CONTROL=$SCRATCH/beta.sock "$L" host "$@"; }

ip netns add "$A" && ip netns add "$B" &&
    in_a ip link set lo up && ip netns exec "$B" ip link set lo up &&
    in_a ip link add br0 type bridge && ip netns exec "$B" ip link add br0 type bridge &&
    in_a ip link add vx type veth peer name vy && in_a ip link set vy netns "$B" &&
    in_a ip link set vx master br0 && ip netns exec "$B" ip link set vy master br0 &&
    in_a ip addr add 10.78.0.1/24 dev br0 && ip netns exec "$B" ip addr add 10.78.0.2/24 dev br0 &&
    in_a ip link set br0 up && ip netns exec "$B" ip link set br0 up && in_a ip link set vx up &&
    ip netns exec "$B" ip link set vy up ||
    { not_ok "two namespaces joined on one segment"; done_testing; exit 1; }

for k in broker admin alice op1 owner other; do "$L" keygen $k.key >/dev/null; done
printf 'listen = 10.78.0.1:8480\ndatabase = ledger.db\nsigning_key = broker.key\nadmin_key = admin.key.pub\n' >broker.conf
in_a "$BUILD/bin/lm-broker" --config broker.conf 2>broker.log &
PIDS+=($!)
export LM_BROKER=http://10.78.0.1:8480 LM_KEY=alice.key LM_OWNER=$SCRATCH/owner.key
for _ in $(seq 200); do in_a curl -s -o /dev/null -m 2 "$LM_BROKER/v1/hosts" && break; sleep 0.05; done
in_a "$L" account create --key admin.key --name alice --role buyer --pub alice.key.pub >/dev/null &&
    in_a "$L" account create --key admin.key --name op1 --role operator --pub op1.key.pub >/dev/null &&
    in_a "$L" deposit --key admin.key --account alice --amount 1000000 >/dev/null &&
    in_a "$L" host-register --key op1.key --name alpha --address 10.78.0.1 --port 7777 --price 1 --unit-ms 1000 >/dev/null &&
    in_a "$L" host-register --key op1.key --name beta --address 10.78.0.2 --port 7777 --price 1 --unit-ms 1000 >/dev/null ||
    { not_ok "broker accounts and hosts"; sed 's/^/# /' broker.log | tail; done_testing; exit 1; }

agent() { # name, own address, pool, namespace
    cat >"$1.conf" <<CONF
listen = $2:7777
host_name = $1
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
agent alpha 10.78.0.1 10.78.0.10-10.78.0.49 "$A"
agent beta 10.78.0.2 10.78.0.50-10.78.0.89 "$B"
OWNER=$("$L" owner-cmdline --owner owner.key)
vm_log() { # host, address: the console of the VM at that address
    local id
    id=$(host_"$1" ls | awk -v a="$2" '$3 == a {print $1}' | tail -1)
    echo "$SCRATCH/$([ "$1" = a ] && echo alpha || echo beta)/vm-$id.log"
}
result_of() { # console file: the computation's result line, waiting up to 60 s
    for _ in $(seq 600); do grep -q "compute: result" "$1" 2>/dev/null && break; sleep 0.1; done
    sed -n 's/^compute: result n=[0-9]* rounds=[0-9]* \(primes=[0-9]* sum=[0-9]* checksum=[0-9a-f]*\).*/\1/p' "$1"
}

# A computation on alpha, checkpointed while it runs.
N=300000 ROUNDS=600
REF=$("$BUILD/tests/compute_ref" $N $ROUNDS)
in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --prepaid 900 -o compute.tok 2>/dev/null
expect "a computation boots on alpha" 0 "total:" -- \
    in_a "$L" run 10.78.0.1 compute.tok "$KERNEL" --cmdline "app=compute n=$N rounds=$ROUNDS $OWNER"
CVM=10.78.0.10
sleep 1
expect "lmctl checkpoint records it into a file while it runs" 0 "checkpoint of $CVM written to c1.ckpt .* the guest paused [0-9.]+ ms and runs on" -- \
    in_a "$L" checkpoint --quiet -o c1.ckpt "$CVM"
[ -f c1.ckpt ] && [ ! -e c1.ckpt.part ] && [ "$(stat -c %a c1.ckpt)" = 600 ] &&
    ok "the file is there, readable by its owner only ($(stat -c %s c1.ckpt) bytes)" || not_ok "c1.ckpt: $(ls -l c1.ckpt* 2>&1)"
expect "the original answers its owner, idle again" 0 "phase idle" -- in_a "$L" status "$CVM"
expect "a checkpoint is never written over a file" 2 "exists" -- in_a "$L" checkpoint -o c1.ckpt "$CVM"
expect "restore --check opens and checks the file to its end" 0 "checkpoint of a 64 MiB guest at $CVM/24 taken .* records checked" -- \
    "$L" restore --check c1.ckpt

# Refusals, before anything is bought.
size=$(stat -c %s c1.ckpt)
flip() { # offset: a copy of c1.ckpt with that byte inverted
    cp c1.ckpt t.ckpt
    python3 -c "import sys; f=open('t.ckpt','r+b'); f.seek($1); b=f.read(1); f.seek($1); f.write(bytes([b[0]^0xff]))"
}
for case in "0:not a checkpoint file" "4:version" "16:its header or first record was changed" \
    "24:its header or first record was changed" "40:sealed for another owner key" \
    "60:sealed for another owner key" "100:its header or first record was changed" \
    "$((size / 2)):changed|damaged|truncated" "$((size - 1)):was changed"; do
    flip "${case%%:*}"
    expect "a file with byte ${case%%:*} changed is refused" 1 "${case#*:}" -- "$L" restore --check t.ckpt
done
head -c $((size - 5000)) c1.ckpt >t.ckpt
expect "a truncated file is refused, saying where it ends" 1 "truncated: .* at byte [0-9]+" -- "$L" restore --check t.ckpt
head -c 100 c1.ckpt >t.ckpt
expect "a file cut inside its header" 1 "its header alone is 112" -- "$L" restore --check t.ckpt
{ cat c1.ckpt; printf 'junk'; } >t.ckpt
expect "bytes after END are refused" 1 "after its END record" -- "$L" restore --check t.ckpt
expect "another owner key cannot open it" 1 "sealed for another owner key" -- \
    "$L" restore --check --owner other.key c1.ckpt
flip $((size / 2))
before=$(in_a "$L" balance 2>/dev/null | awk '/available/ {print $2}')
expect "restore --to beta of a changed file: refused" 1 "was changed" -- in_a "$L" restore --to beta t.ckpt
after=$(in_a "$L" balance 2>/dev/null | awk '/available/ {print $2}')
[ -n "$before" ] && [ "$before" = "$after" ] && ! host_b ls | grep -q '^[0-9]' &&
    ok "nothing was bought or started for it (balance $after)" || not_ok "balance $before -> $after; beta: $(host_b ls)"

# Restored on beta with a new identity while the original computes on.
expect "lmctl restore --to beta starts the checkpoint there, with a new identity" 0 "restored c1.ckpt on beta .* at 10\.78\.0\.5[0-9] \(a new identity\).* it answers its owner" -- \
    bash -c "ip netns exec $A $L restore --quiet --to beta c1.ckpt | tee r1.txt"
RVM=$(sed -n 's/.* at \(10\.78\.0\.[0-9]*\) (a new identity).*/\1/p' r1.txt)
expect "beta's agent: resumed with a new identity" 0 "resumed from its checkpoint with a new identity: address $RVM" -- cat beta.log
expect "beta lists it running at its new address" 0 "running +$RVM " -- host_b ls
expect "the restored copy took beta's address and MAC" 0 "net: a new identity: $RVM/24" -- cat "$(vm_log b "$RVM")"
ORIG_LOG=$SCRATCH/alpha/vm-1.log # the first VM alpha started
COPY_LOG=$SCRATCH/beta/vm-$(sed -n "s/.*VM \([0-9]*\): the guest resumed from its checkpoint with a new identity: address $RVM\$/\1/p" beta.log | head -1).log
orig=$(result_of "$ORIG_LOG")
copy=$(result_of "$COPY_LOG")
[ "$orig" = "$REF" ] && ok "the original's result equals the host's ($REF)" || not_ok "original: '$orig', host: '$REF'"
[ "$copy" = "$REF" ] && ok "the restored copy's result equals the host's: it went on from the checkpoint" ||
    { not_ok "restored: '$copy', host: '$REF'"; tail -5 "$COPY_LOG" | sed 's/^/# /'; }
[ -s "$COPY_LOG" ] && ! grep -q "compute: round 1/" "$COPY_LOG" &&
    ok "the copy did not compute from the start (no round 1 in its console)" ||
    not_ok "the copy computed from the start, or left no console ($COPY_LOG)"

# --replace: once the original is gone, a restore keeps its address.
id=$(host_a ls | awk -v a="$CVM" '$3 == a {print $1}')
[ -n "$id" ] && host_a kill "$id" >/dev/null
for _ in $(seq 100); do host_a ls | grep -q " $CVM " || break; sleep 0.05; done
expect "restore --replace --to beta: the guest keeps its address" 0 "at $CVM \(its own address\).* it answers its owner" -- \
    in_a "$L" restore --quiet --replace --to beta c1.ckpt
expect "beta accounts it at its own address" 0 "takes its address $CVM" -- cat beta.log
copy2=$(result_of "$SCRATCH/beta/vm-$(sed -n "s/^evilman: info: VM \([0-9]*\): the guest resumed from its checkpoint and takes its address $CVM .*/\1/p" beta.log | head -1).log")
[ "$copy2" = "$REF" ] && ok "the --replace copy's result equals the host's too" || not_ok "replace copy: '$copy2'"

# A guest serving HTTP: its memory (the request counter) comes back with it.
in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --prepaid 900 -o web.tok 2>/dev/null
in_a "$L" run 10.78.0.1 web.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80 >/dev/null 2>&1
WVM=$(host_a ls | awk '$2 == "running" {print $3}' | tail -1)
counter() { in_a curl -sS -m 5 "http://$1/" | sed -n 's/.*requests: \([0-9]*\).*/\1/p'; }
for _ in 1 2 3 4 5; do counter "$WVM" >/dev/null; done
n1=$(counter "$WVM")
expect "an HTTP guest is checkpointed while serving" 0 "written to w.ckpt" -- in_a "$L" checkpoint --quiet -o w.ckpt "$WVM"
n2=$(counter "$WVM")
[ -n "$n2" ] && [ "$n2" -gt "$n1" ] && ok "it serves on after the checkpoint ($n1 -> $n2)" || not_ok "after the checkpoint: '$n1' -> '$n2'"
expect "restored on beta" 0 "restored w.ckpt on beta" -- bash -c "ip netns exec $A $L restore --quiet --to beta w.ckpt | tee r2.txt"
WRVM=$(sed -n 's/.* at \(10\.78\.0\.[0-9]*\) (a new identity).*/\1/p' r2.txt)
n3=$(counter "$WRVM")
[ -n "$n3" ] && [ "$n3" -gt "$n1" ] && [ "$n3" -le "$((n2 + 1))" ] &&
    ok "the restored copy serves at $WRVM with the checkpoint's memory (its counter: $n3)" ||
    not_ok "restored copy at '$WRVM': counter '$n3' (checkpoint after $n1, original $n2)"
expect "the original serves on at its own address" 0 "requests:" -- in_a curl -sS -m 5 "http://$WVM/"
done_testing
