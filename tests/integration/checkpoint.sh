#!/usr/bin/env bash
# Checkpoints on disk: `lmctl checkpoint VM -o FILE` records a running guest into a file sealed
# for its owner while it runs on; `lmctl restore --to HOST FILE` starts it on another host,
# with a new identity (or, --replace, its own address once the original is gone). A
# computation restored from the middle still gets the right result; a guest serving HTTP is
# restored with its memory. A file changed in any byte, cut short, or opened with another
# owner key is refused with the cause, before anything is bought. Eviction: by the operator
# (reclaimed at the deadline, or moved by its owner first, or checkpointed first by an owner
# waiting with `checkpoint --on-evict`), and by the host itself when it needs the room (gamma,
# started in beta's place with evict_mem_below far above any machine's memory).
. "$(dirname "$0")/tap.bash"
require_net
command -v curl >/dev/null || skip_or_fail "no curl (make deps installs it)"
. "$(dirname "$0")/hosts.bash"
hosts_segment 10.78.0
hosts_broker 10.78.0.1 alpha=10.78.0.1 beta=10.78.0.2
hosts_agent alpha 10.78.0.1 10.78.0.10-10.78.0.49 "$A"
hosts_agent beta 10.78.0.2 10.78.0.50-10.78.0.89 "$B"
BETA_PID=${PIDS[-1]} # stopped at the end, to make way for gamma
vm_log() { # host, address: the console of the VM at that address
    local id
    id=$(host_"$1" ls | awk -v a="$2" '$3 == a {print $1}' | tail -1)
    echo "$SCRATCH/$([ "$1" = a ] && echo alpha || echo beta)/vm-$id.log"
}
result_of() { # console file: the computation's result line, waiting up to 60 s
    for _ in $(seq 600); do grep -q "compute: result" "$1" 2>/dev/null && break; sleep 0.1; done
    sed -n 's/^compute: result n=[0-9]* rounds=[0-9]* \(primes=[0-9]* sum=[0-9]* checksum=[0-9a-f]*\).*/\1/p' "$1"
}

# A computation on alpha, checkpointed while it runs. It must outlast the checkpoint and the
# restore (some 15 s), at whatever speed this machine computes (KVM runs it 30 times faster
# than the KVM box): the sieve's size is scaled by the host reference's time for a tenth of it.
ROUNDS=600
N=$(compute_n $ROUNDS 15)
"$BUILD/tests/compute_ref" $N $ROUNDS >ref.txt & # the host's result, meanwhile
REF_PID=$!
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
ORIG_LOG=$SCRATCH/alpha/vm-1.log # the first VM alpha started
# (by beta's log, not its list: the copy may have finished its computation and gone already)
COPY_LOG=$SCRATCH/beta/vm-$(sed -n "s/.*VM \([0-9]*\): the guest resumed from its checkpoint with a new identity: address $RVM\$/\1/p" beta.log | head -1).log
expect "the restored copy took beta's address and MAC" 0 "net: a new identity: $RVM/24" -- cat "$COPY_LOG"
orig=$(result_of "$ORIG_LOG")
copy=$(result_of "$COPY_LOG")
wait "$REF_PID"
REF=$(cat ref.txt)
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
# Its checkpoint with --zstd (compressed pages: a smaller file, inflated by beta's loader).
expect "an HTTP guest is checkpointed while serving" 0 "written to w0.ckpt" -- in_a "$L" checkpoint --quiet -o w0.ckpt "$WVM"
expect "... and again with --zstd" 0 "written to w.ckpt" -- in_a "$L" checkpoint --quiet --zstd -o w.ckpt "$WVM"
s0=$(stat -c %s w0.ckpt) s1=$(stat -c %s w.ckpt)
[ "$s1" -gt 0 ] && [ "$s1" -lt "$s0" ] && ok "the --zstd file is smaller: $s1 bytes against $s0" ||
    not_ok "--zstd file $s1 bytes, plain $s0"
expect "restore --check inflates and checks every compressed record" 0 "records checked" -- "$L" restore --check w.ckpt
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

wait_for() { # file, extended regex, seconds: polls until the file matches; 1 if it never did
    local i
    for ((i = 0; i < $3 * 10; i++)); do grep -qE -- "$2" "$1" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}

# The owner asked in advance for a checkpoint at eviction: `checkpoint --on-evict` waits, asking
# the guest's status every second, and records it as soon as the operator evicts it, before the
# deadline. The host still reclaims the VM at the deadline: the file is what is kept.
e3=$(boot_web e3.tok)
E3ID=${e3% *} E3IP=${e3#* }
(ip netns exec "$A" "$L" checkpoint --quiet --on-evict --wait-max 5m -o e3.ckpt "$E3IP" >oe.out 2>&1
    echo $? >oe.rc) &
OE=$!
PIDS+=("$OE")
wait_for oe.out "waiting for" 10
expect "checkpoint --on-evict says that it waits for the eviction" 0 "^checkpoint: waiting for $E3IP's host to evict it" -- cat oe.out
sleep 3
[ ! -e e3.ckpt ] && [ ! -e e3.ckpt.part ] && [ ! -e oe.rc ] &&
    ok "it waits while the VM is not evicted: no file yet" || not_ok "before any eviction: $(ls e3.ckpt* oe.rc 2>&1); $(cat oe.out)"
expect "the operator evicts the VM within 20 s" 0 "\"evicted\": $E3ID" -- host_a --json evict "$E3ID" --within 20s
if ! wait_for oe.rc . 60; then
    not_ok "checkpoint --on-evict still runs 60 s after the eviction"
    pkill -P "$OE"
fi
wait "$OE"
[ "$(cat oe.rc 2>/dev/null)" = 0 ] && ok "checkpoint --on-evict exits 0 once its file is written" ||
    { not_ok "checkpoint --on-evict exited '$(cat oe.rc 2>/dev/null)'"; sed 's/^/# /' oe.out; }
gone=$(grep "VM $E3ID: destroying" alpha.log)
listed=$(host_a ls | awk -v id="$E3ID" '$1 == id')
[ -z "$gone" ] && [ -n "$listed" ] && ok "its file came before the deadline: the VM is still on alpha" ||
    not_ok "the VM was reclaimed before its checkpoint was done: '$gone', listed: '$listed'"
expect "it says the eviction was the reason" 0 "^checkpoint: $E3IP is evicted, its host reclaims it in [0-9.]+ s: checkpointing it now because of the eviction" -- cat oe.out
expect "then it checkpoints as without the option" 0 "^checkpoint of $E3IP written to e3.ckpt .* the guest paused [0-9.]+ ms and runs on" -- cat oe.out
[ -f e3.ckpt ] && [ ! -e e3.ckpt.part ] && [ "$(stat -c %a e3.ckpt)" = 600 ] &&
    ok "the file is there, readable by its owner only ($(stat -c %s e3.ckpt) bytes)" || not_ok "e3.ckpt: $(ls -l e3.ckpt* 2>&1)"
expect "restore --check accepts the file taken at eviction" 0 "checkpoint of a 64 MiB guest at $E3IP/24 taken .* records checked" -- \
    "$L" restore --check e3.ckpt
expect "the guest carried on after its checkpoint" 0 "mig: checkpoint saved by the recorder" -- cat "alpha/vm-$E3ID.log"
wait_for alpha.log "VM $E3ID ended" 100
expect "the host reclaims the VM at the deadline all the same" 0 "VM $E3ID: destroying: evicted: it had not left by its deadline" -- cat alpha.log

# The host evicts by itself when it needs the room (evict_mem_below, evict_load_above). First
# its config: a bad setting is refused with the key, the value and the fix.
{ cat alpha.conf; echo "evict_grace = soon"; } >bad.conf
expect "evilman --check refuses a bad eviction setting, naming the key, the value and the fix" 1 \
    'bad\.conf:[0-9]+: evict_grace = "soon": expected the time an evicted VM has to leave, such as 30s, 2m or 1500ms' -- "$EM" --config bad.conf --check
{ cat alpha.conf; echo "evict_load_above = 1.555"; } >bad.conf
expect "a load limit with three decimals is refused" 1 'evict_load_above = "1\.555": expected the 1-minute load average per CPU' -- "$EM" --config bad.conf --check
{ cat alpha.conf; printf 'evict_mem_below = 1024\nevict_load_above = 1.5\nevict_grace = 20s\n'; } >good.conf
expect "evilman --check takes the eviction settings" 0 "good\.conf: ok" -- "$EM" --config good.conf --check

# Then a host that needs more memory than any machine has: beta makes way for gamma, an agent
# on its address whose config says evict_mem_below = 100000000 (MiB) and leaves evict_grace at
# its default (30 s). It evicts each VM it runs, one at a time, naming the figure and the limit.
kill "$BETA_PID"
wait_for beta.log "evilman: info: stopped" 60 ||
    { not_ok "beta did not stop within 60 s of SIGTERM"; kill -9 "$BETA_PID"; }
wait "$BETA_PID"
in_a "$L" host-register --key op1.key --name gamma --address 10.78.0.2 --port 7777 --price 1 --unit-ms 1000 >/dev/null ||
    not_ok "gamma registered at the broker"
hosts_agent gamma 10.78.0.2 10.78.0.90-10.78.0.99 "$B" "evict_mem_below = 100000000"
host_g() { LM_CONTROL=$SCRATCH/gamma.sock "$L" host "$@"; }
wait_for gamma.log "when the host needs the room" 10
expect "gamma says that it evicts when it needs the room" 0 "a VM is evicted, one at a time, within 30000 ms when the host needs the room: evict_mem_below = 100000000 MiB" -- cat gamma.log
in_a "$L" buy --host gamma --mem 64 --image "$KERNEL" --prepaid 900 -o g1.tok >/dev/null 2>&1
in_a "$L" buy --host gamma --mem 64 --image "$KERNEL" --prepaid 900 -o g2.tok >/dev/null 2>&1
boot_gamma() { # token file: boots an HTTP guest on gamma, prints "ID ADDRESS" of the newest
    in_a "$L" run 10.78.0.2 "$1" "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80 >/dev/null 2>&1
    host_g ls | awk '$2 == "running" {print $1" "$3}' | sort -n | tail -1
}
g1=$(boot_gamma g1.tok)
[ -n "$g1" ] && ok "gamma boots a VM ($g1)" || not_ok "gamma booted no VM: $(tail -5 gamma.log)"
G1ID=${g1% *} G1IP=${g1#* }
wait_for gamma.log "VM $G1ID: evicted: " 15
expect "gamma evicts it, naming the figure and the limit" 0 "VM $G1ID: evicted: host MemAvailable [0-9]+ MiB is below evict_mem_below = 100000000 MiB; it must leave within [0-9]+ ms" -- cat gamma.log
for _ in $(seq 20); do in_a "$L" status "$G1IP" 2>/dev/null | grep -q "^evicted:" && break; sleep 0.5; done
expect "its owner sees the eviction in status" 0 "^evicted: its host reclaims it in [0-9.]+ s" -- in_a "$L" status "$G1IP"
wait_for "gamma/vm-$G1ID.log" "host: evicted" 10
expect "its guest heard it" 0 "host: evicted: the host reclaims this VM in [0-9]+ ms" -- cat "gamma/vm-$G1ID.log"
g2=$(boot_gamma g2.tok)
G2ID=${g2% *}
sleep 3 # three of the agent's looks
if [ -n "$g2" ] && [ "$G2ID" != "$G1ID" ] && host_g ls | awk -v id="$G1ID" '$1 == id' | grep -q .; then
    n=$(grep -c ": evicted: host MemAvailable" gamma.log)
    [ "$n" = 1 ] && ok "one at a time: VM $G2ID is not evicted while VM $G1ID is still there" ||
        not_ok "$n evictions while VM $G1ID is still there: $(grep ': evicted: ' gamma.log)"
else
    not_ok "no second VM running beside VM $G1ID ('$g2'; booting took longer than its 30 s?): $(host_g ls)"
fi
wait_for gamma.log "VM $G1ID ended" 60
expect "nobody moved it: reclaimed at its deadline" 0 "VM $G1ID: destroying: evicted: it had not left by its deadline" -- cat gamma.log
wait_for gamma.log "VM $G2ID: evicted: " 15
expect "then the next VM is evicted, the need still there" 0 "VM $G2ID: evicted: host MemAvailable [0-9]+ MiB is below evict_mem_below = 100000000 MiB" -- cat gamma.log
l1=$(grep -n "VM $G1ID ended" gamma.log | head -1 | cut -d: -f1)
l2=$(grep -n "VM $G2ID: evicted: " gamma.log | head -1 | cut -d: -f1)
[ -n "$l1" ] && [ -n "$l2" ] && [ "$l1" -lt "$l2" ] && ok "the next was evicted only once the last had gone" ||
    not_ok "VM $G1ID ended at line '$l1' of gamma.log, VM $G2ID evicted at line '$l2'"
done_testing
