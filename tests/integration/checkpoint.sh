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
. "$(dirname "$0")/hosts.bash"
hosts_segment 10.78.0
hosts_broker 10.78.0.1 alpha=10.78.0.1 beta=10.78.0.2
hosts_agent alpha 10.78.0.1 10.78.0.10-10.78.0.49 "$A"
hosts_agent beta 10.78.0.2 10.78.0.50-10.78.0.89 "$B"
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

# Eviction: the operator asks a VM to leave; its guest and its owner hear the deadline. Nobody
# acts on the first: it is reclaimed at the deadline. The owner of the second moves it.
boot_web() { # token file: boots an HTTP guest on alpha, prints "ID ADDRESS"
    in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --prepaid 900 -o "$1" >/dev/null 2>&1
    in_a "$L" run 10.78.0.1 "$1" "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80 >/dev/null 2>&1
    host_a ls | awk '$2 == "running" {print $1" "$3}' | tail -1
}
e1=$(boot_web e1.tok)
expect "lmctl host evict VM --within 3s" 0 "\"evicted\": ${e1% *}" -- host_a --json evict "${e1% *}" --within 3s
expect "its owner sees it in status" 0 "evicted: its host reclaims it in [0-9.]+ s" -- in_a "$L" status "${e1#* }"
expect "its guest heard it" 0 "host: evicted: the host reclaims this VM in" -- cat "alpha/vm-${e1% *}.log"
for _ in $(seq 100); do grep -q "VM ${e1% *} ended" alpha.log && break; sleep 0.1; done
expect "nobody moved it: reclaimed at the deadline" 0 "VM ${e1% *}: destroying: evicted: it had not left by its deadline" -- cat alpha.log
expect "an unknown VM cannot be evicted" 1 "no such VM" -- host_a evict 999 --within 1s
expect "a bad duration is refused" 2 "a duration such as 30s" -- host_a evict 1 --within soon
expect "the agent refuses an evict without its deadline" 0 "expected evict ID MS" -- python3 -c "
import socket; s = socket.socket(socket.AF_UNIX); s.connect('$SCRATCH/alpha.sock')
s.send(b'evict 1\n'); print(s.recv(4096).decode())"
e2=$(boot_web e2.tok)
host_a evict "${e2% *}" --within 60s >/dev/null
for _ in $(seq 50); do in_a "$L" status "${e2#* }" 2>/dev/null | grep -q "^evicted:" && break; sleep 0.1; done
expect "its owner, seeing the eviction, moves it to beta" 0 "migrated in" -- in_a "$L" migrate --to beta --quiet "${e2#* }"
for _ in $(seq 100); do grep -q "VM ${e2% *} ended" alpha.log && break; sleep 0.1; done
expect "alpha ended it as migrated, not evicted" 0 "VM ${e2% *} ended \(migrated\)" -- cat alpha.log
grep -q "VM ${e2% *}: destroying: evicted" alpha.log && not_ok "alpha reclaimed the VM that left" || ok "alpha did not reclaim the VM that left"
in_a "$L" status "${e2#* }" 2>&1 | grep -q "^evicted" && not_ok "on beta it still thinks it is evicted" ||
    ok "on beta the old host's eviction no longer holds"
done_testing
