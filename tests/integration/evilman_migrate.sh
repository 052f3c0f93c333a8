#!/usr/bin/env bash
# Self-migration between two Evil Man hosts, alpha and beta, each in a namespace of its own,
# joined on one L2 segment, with the broker selling the tokens: `lmctl migrate --to HOST`
# buys a checkpoint token, pings the host, checks the loader's key against the operator key
# the broker lists, and moves a guest serving HTTP (wrk driving it) back and forth; the
# source host ends its VM as migrated and settles it, the destination accounts the guest's
# address; then ping-pong migrations leave nothing behind on either host, and the broker's
# audit balances. LM_BACKEND picks the agents' backend: kvm (the default) or libvirt
# (evilman_migrate_libvirt.sh: the guest on standard virtual hardware moves between QEMUs).
. "$(dirname "$0")/tap.bash"
require_net
for t in curl wrk; do command -v $t >/dev/null || skip_or_fail "no $t (make deps installs it)"; done
L=$LMCTL
EM=$BUILD/bin/evilman
BACKEND=${LM_BACKEND:-kvm}
A=lmema$$ B=lmemb$$
PIDS=()
if [ "$BACKEND" = libvirt ]; then
    command -v qemu-system-x86_64 >/dev/null || skip_or_fail "no qemu-system-x86_64 (make deps)"
    KERNEL=$BUILD/guest/kernel-pvh.elf LOADER=$BUILD/bootloader/loader-pvh.elf
    PINGPONG=${LM_PINGPONG_LIBVIRT:-2} # each move starts a QEMU: seconds in the KVM box
    SELF_PREPAID=30 # credit runs from admission: a domain takes seconds to start in the box
    MIG_ARGS=(--prepaid 600) # (lmctl's default, 60 s, runs out over the slower moves here)
    vmm_procs() { pgrep -fc "guest=lm-[0-9]*-.*$SCRATCH" || true; }
else
    KERNEL=$BUILD/guest/kernel.elf LOADER=$BUILD/bootloader/loader.elf
    PINGPONG=${LM_PINGPONG:-50}
    SELF_PREPAID=2
    MIG_ARGS=()
    vmm_procs() { pgrep -fc "lm-vmm.*--ctl-fd" || true; }
fi
cleanup() {
    stop_procs "${PIDS[@]}"
    [ "$BACKEND" = libvirt ] && pkill -f "guest=lm-[0-9]*-.*$SCRATCH" 2>/dev/null
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$SCRATCH"
    cleanup_status
}
trap cleanup EXIT
cd "$SCRATCH"
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }
host_a() { LM_CONTROL=$SCRATCH/alpha.sock "$L" host "$@"; }
host_b() { LM_CONTROL=$SCRATCH/beta.sock "$L" host "$@"; }

# Two hosts, one segment: a bridge in each namespace, a veth pair between the bridges.
ip netns add "$A" && ip netns add "$B" &&
    in_a ip link set lo up && in_b ip link set lo up &&
    in_a ip link add br0 type bridge && in_b ip link add br0 type bridge &&
    in_a ip link add vx type veth peer name vy && in_a ip link set vy netns "$B" &&
    in_a ip link set vx master br0 && in_b ip link set vy master br0 &&
    in_a ip addr add 10.79.0.1/24 dev br0 && in_b ip addr add 10.79.0.2/24 dev br0 &&
    in_a ip link set br0 up && in_b ip link set br0 up && in_a ip link set vx up &&
    in_b ip link set vy up ||
    { not_ok "two namespaces joined on one segment"; done_testing; exit 1; }

# The broker (on alpha's side of the segment, where both agents reach it), its accounts.
for k in broker admin alice op1 owner; do "$L" keygen $k.key >/dev/null; done
printf 'listen = 10.79.0.1:8480\ndatabase = ledger.db\nsigning_key = broker.key\nadmin_key = admin.key.pub\n' >broker.conf
in_a "$BUILD/bin/lm-broker" --config broker.conf 2>broker.log &
PIDS+=($!)
export LM_BROKER=http://10.79.0.1:8480
for _ in $(seq 200); do in_a curl -s -o /dev/null -m 2 "$LM_BROKER/v1/hosts" && break; sleep 0.05; done
in_a "$L" account create --key admin.key --name alice --role buyer --pub alice.key.pub >/dev/null &&
    in_a "$L" account create --key admin.key --name op1 --role operator --pub op1.key.pub >/dev/null &&
    in_a "$L" deposit --key admin.key --account alice --amount 1000000 >/dev/null &&
    in_a "$L" host-register --key op1.key --name alpha --address 10.79.0.1 --port 7777 --price 1 --unit-ms 1000 >/dev/null &&
    in_a "$L" host-register --key op1.key --name beta --address 10.79.0.2 --port 7777 --price 1 --unit-ms 1000 >/dev/null ||
    { not_ok "broker accounts and hosts"; sed 's/^/# /' broker.log | tail; done_testing; exit 1; }
expect "the directory lists each host's operator key" 0 "\"operator_key\": \"$(sed -n 's/^public //p' op1.key.pub 2>/dev/null || true)" -- \
    in_a "$L" hosts --key alice.key --json

agent() { # name, own address, pool, namespace, most VMs
    cat >"$1.conf" <<CONF
backend = $BACKEND
listen = $2:7777
host_name = $1
broker_key = $SCRATCH/broker.key.pub
bridge = br0
bridge_ip = $2/24
pool = $3
max_vms = $5
max_mem_mib = 128
total_mem_mib = 512
loader = $LOADER
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
agent alpha 10.79.0.1 10.79.0.10-10.79.0.49 "$A" 4
agent beta 10.79.0.2 10.79.0.50-10.79.0.89 "$B" 1 # one VM: a guest moving in fills it

# A guest serving HTTP on alpha, owned by owner.key.
export LM_KEY=alice.key LM_OWNER=$SCRATCH/owner.key
OWNER=$("$L" owner-cmdline --owner owner.key)
in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --prepaid 900 --name web -o boot.tok 2>/dev/null
expect "a guest boots on alpha from an image token" 0 "total:" -- \
    in_a "$L" run --timeout 60000 10.79.0.1 boot.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80
VM=10.79.0.10
# Where it runs, as the host it runs on told the broker (Evil Man reports each VM that starts).
located() { # host: up to 10 s for the broker to locate web there
    for _ in $(seq 100); do
        in_a "$L" locate web 2>&1 | grep -q "^web: host $1 .* address $VM," && return 0
        sleep 0.1
    done
    in_a "$L" locate web 2>&1 | sed 's/^/# /'
    return 1
}
located alpha && ok "the broker locates web on alpha, at $VM" || not_ok "web is not located on alpha"
counter() { in_a curl -sS -m 5 "http://$VM/" | sed -n 's/.*requests: \([0-9]*\).*/\1/p'; }
n1=$(counter)

# alpha -> beta under wrk.
in_a wrk -t2 -c8 -d8s "http://$VM/" >wrk1.txt 2>&1 &
WRK=$!
sleep 1
expect "lmctl migrate --to beta web (by its name) under wrk" 0 "migrated in .* downtime [0-9.]+ ms as the guest measured it" -- \
    bash -c "ip netns exec $A $L migrate --to beta ${MIG_ARGS[*]} web 2>&1 | tee mig1.txt"
wait $WRK
expect "it bought a checkpoint token, and beta's loader key was vouched for by op1" 0 \
    "beta admitted it as VM [0-9]+ .* vouched for by operator op1" -- cat mig1.txt
if grep -qE "Non-2xx|Socket errors" wrk1.txt || ! grep -q "requests in" wrk1.txt; then
    not_ok "wrk saw errors across the migration"; sed 's/^/# /' wrk1.txt
else
    ok "wrk: no errors across the migration ($(grep -o '[0-9]* requests in' wrk1.txt))"
fi
n2=$(counter)
[ -n "$n1" ] && [ -n "$n2" ] && [ "$n2" -gt "$n1" ] && ok "the guest's memory moved: its request counter went on ($n1 -> $n2)" ||
    not_ok "request counter: '$n1' -> '$n2'"
if [ -z "$n2" ]; then # every check below needs the guest: say why it is gone, and stop
    for f in alpha.log beta.log $(ls -t alpha/vm-*.log beta/vm-*.log 2>/dev/null | head -3); do
        echo "# $f ends:"
        tail -12 "$f" | sed 's/^/#   /'
    done
    not_ok "the guest is gone after its first migration: the checks that need it are not run"
    done_testing
    exit 1
fi
for _ in $(seq 100); do grep -q "VM 1 ended (migrated" alpha.log && break; sleep 0.05; done
expect "alpha ended its VM as migrated" 0 "VM 1 ended \(migrated\); reclaiming" -- cat alpha.log
expect "alpha recorded the migrated VM's earnings" 0 "\"why\":\"migrated\"" -- cat alpha/earnings.jsonl
expect "beta: the checkpoint resumed and took the guest's address" 0 "VM 1: the guest resumed from its checkpoint and takes its address $VM" -- cat beta.log
expect "beta lists the guest running at its own address" 0 "^1 +running +$VM " -- host_b ls
host_a ls | grep -q running && not_ok "alpha still runs a VM" || ok "alpha runs nothing now"
located beta && ok "beta told the broker: lmctl locate web finds it on beta" || not_ok "web is not located on beta"

# beta -> alpha: back where it started, address and all.
expect "lmctl migrate --to alpha --name web (by its address)" 0 "migrated in" -- \
    in_a "$L" migrate --to alpha "${MIG_ARGS[@]}" --name web --quiet "$VM"
expect "alpha lists the guest running at its own address" 0 "^2 +running +$VM " -- host_a ls
for _ in $(seq 100); do grep -q "VM 1 ended (migrated" beta.log && break; sleep 0.05; done
expect "beta ended its VM as migrated" 0 "VM 1 ended \(migrated\)" -- cat beta.log
expect "the guest serves on alpha" 0 "requests:" -- in_a curl -sS -m 5 "http://$VM/"
located alpha && ok "the second move kept its name: located on alpha again" || not_ok "web is not located on alpha after the move back"
expect "lmctl status takes the name" 0 "phase idle" -- in_a "$L" status web

# Refusals leave the guest where it is: a host where its address is taken, an unknown host.
expect "to the host it runs on: the address is in use there" 1 "refused the checkpoint token: BAD_NETID" -- \
    in_a "$L" migrate --to alpha --quiet "$VM"
expect "to a host the broker does not list" 1 "no such host" -- in_a "$L" migrate --to gamma --quiet "$VM"
"$L" migkey new other.mkey >/dev/null
in_a "$L" buy --host alpha --mem 64 --payload checkpoint --commitment "$("$L" migkey show other.mkey)" \
    --prepaid 10 --ip "$VM/24" -o alpha-cp.tok 2>/dev/null
expect "with a token for another host: refused (WRONG_SCOPE)" 1 "refused the checkpoint token: WRONG_SCOPE" -- \
    in_a "$L" migrate --to beta --token alpha-cp.tok --mig-key other.mkey --quiet "$VM"
in_a "$L" buy --host beta --mem 32 --image "$KERNEL" --prepaid 60 -o filler.tok 2>/dev/null
in_a "$L" run --timeout 60000 10.79.0.2 filler.tok "$KERNEL" --cmdline app=http --wait-tcp 80 >/dev/null 2>&1
expect "to a full host: refused (HOST_FULL)" 1 "refused the checkpoint token: HOST_FULL" -- \
    in_a "$L" migrate --to beta --quiet "$VM"
filler=$(host_b ls | awk '$2 == "running" {print $1}')
[ -n "$filler" ] && host_b kill "$filler" >/dev/null
for _ in $(seq 100); do host_b ls | grep -q '^[0-9]' || break; sleep 0.05; done
expect "after the refusals the guest serves on" 0 "requests:" -- in_a curl -sS -m 5 "http://$VM/"

# The destination killed while the guest copies itself: the guest stays, and its host saw it
# go out and come back (the guest's notices).
in_a "$L" migrate --to beta "${MIG_ARGS[@]}" --quiet "$VM" >killed.txt 2>&1 &
MIG=$!
victim=
for _ in $(seq 400); do
    victim=$(host_b ls | awk '$2 == "receiving" {print $1}')
    [ -n "$victim" ] && break
    sleep 0.025
done
[ -n "$victim" ] && host_b kill "$victim" >/dev/null
wait $MIG
rc=$?
[ "$rc" = 4 ] && ok "the destination killed during the migration: lmctl exit 4, the guest stays" ||
    { not_ok "destination killed: lmctl exit $rc (want 4)"; sed 's/^/# /' killed.txt | tail -3; }
expect "alpha saw its guest migrate out" 0 "VM 2: its guest is migrating out" -- cat alpha.log
expect "and come back when the migration failed" 0 "VM 2: its migration failed; it runs here as before" -- cat alpha.log
expect "alpha lists it running again" 0 "^2 +running +$VM " -- host_a ls
for _ in $(seq 100); do host_b ls | grep -q '^[0-9]' || break; sleep 0.05; done
expect "and it serves" 0 "requests:" -- in_a curl -sS -m 5 "http://$VM/"

# Ping-pong: every migration leaves one VM, one tap, one monitor, across both hosts; the agents
# hold as many descriptors after as before, and the guest as much free memory.
fds() { ls "/proc/$1/fd" | wc -l; }
fd_a=$(fds "${PIDS[1]}") fd_b=$(fds "${PIDS[2]}")
where=alpha moved=0 leaks=
for i in $(seq "$PINGPONG"); do
    next=$([ $where = alpha ] && echo beta || echo alpha)
    if ! in_a "$L" migrate --to $next "${MIG_ARGS[@]}" --quiet "$VM" >pp.txt 2>&1; then
        sed 's/^/# /' pp.txt | tail -5
        for h in alpha beta; do
            pid=${PIDS[$([ $h = alpha ] && echo 1 || echo 2)]}
            echo "# $h's agent: $(kill -0 "$pid" 2>/dev/null && echo "alive, in $(cat /proc/"$pid"/wchan 2>/dev/null), $(ls /proc/"$pid"/task 2>/dev/null | wc -l) threads, children: $(pgrep -P "$pid" -l 2>/dev/null | tr '\n' ' ')" || echo gone); its UDP socket: $(ip netns exec "$([ $h = alpha ] && echo "$A" || echo "$B")" ss -uan 2>/dev/null | grep ':7777' | tr -s ' ')"
            echo "# $h's log ends:"
            tail -8 $h.log | sed 's/^/#   /'
        done
        # and the consoles of the guest and of the loader it went to (the newest VM logs)
        for f in $(ls -t "$SCRATCH"/alpha/vm-*.log "$SCRATCH"/beta/vm-*.log 2>/dev/null | head -2); do
            echo "# $f ends:"
            tail -12 "$f" | sed 's/^/#   /'
        done
        break
    fi
    moved=$((moved + 1)) where=$next
    for _ in $(seq 100); do
        [ "$(host_a ls | grep -c '^[0-9]') $(host_b ls | grep -c '^[0-9]')" = "$([ $where = alpha ] && echo '1 0' || echo '0 1')" ] && break
        sleep 0.05
    done
    vms="$(host_a ls | grep -c '^[0-9]') $(host_b ls | grep -c '^[0-9]')"
    taps=$(( $(in_a ip -br link | grep -c '^lmvm') + $(in_b ip -br link | grep -c '^lmvm') ))
    vmms=$(vmm_procs)
    [ "$taps" = 1 ] && [ "$vmms" = 1 ] && [ "$vms" = "$([ $where = alpha ] && echo '1 0' || echo '0 1')" ] ||
        leaks="$leaks [after $i: VMs $vms, taps $taps, monitors $vmms]"
done
[ "$moved" = "$PINGPONG" ] && ok "$PINGPONG ping-pong migrations" || not_ok "ping-pong: $moved of $PINGPONG"
if [ $where = alpha ]; then
    [ "$(fds "${PIDS[1]}") $(fds "${PIDS[2]}")" = "$fd_a $fd_b" ] &&
        ok "the agents hold as many descriptors as before ($fd_a, $fd_b)" ||
        not_ok "descriptors: alpha $fd_a -> $(fds "${PIDS[1]}"), beta $fd_b -> $(fds "${PIDS[2]}")"
fi
# Each migration sizes its shadow pages from the guest's free memory: a leak shows as a fall.
shadows=$(cat alpha/vm-*.log beta/vm-*.log 2>/dev/null | sed -n 's/^mig: migrating to .* \([0-9]*\) shadow pages$/\1/p' | sort -n)
lo=$(echo "$shadows" | head -1) hi=$(echo "$shadows" | tail -1)
[ -n "$lo" ] && [ $((hi - lo)) -le $((hi / 20)) ] &&
    ok "the guest's free memory held across $(echo "$shadows" | wc -l) migrations ($lo to $hi shadow pages)" ||
    not_ok "the guest's free memory fell across the migrations: $lo to $hi shadow pages"
[ -z "$leaks" ] && ok "nothing leaked: one VM, one tap, one monitor after each" || not_ok "leaks:$leaks"
expect "the guest still serves after the ping-pong" 0 "requests:" -- in_a curl -sS -m 5 "http://$VM/"
expect "migrate --resolve finds the one running copy" 0 "resolved: $VM answers its owner" -- \
    in_a "$L" migrate --resolve "$VM"
host_$([ $where = alpha ] && echo a || echo b) ls | grep -qE "running +$VM" &&
    ok "the current host ($where) accounts the guest" || not_ok "$where does not list the guest"

# A self-paying guest: the new token comes with a chain, whose seed the guest takes with the
# command, and it pays its new host from it (2 s prepaid would not last long otherwise).
next=$([ $where = alpha ] && echo beta || echo alpha)
expect "migrate --to $next with a chain for the guest to pay from" 0 "migrated in" -- \
    in_a "$L" migrate --to $next --prepaid $SELF_PREPAID --pay-chain 600 --quiet "$VM"
moved=$((moved + 1)) where=$next
for _ in $(seq 150); do # until it has paid 3 links (up to 15 s)
    paid=$(host_$([ $where = alpha ] && echo a || echo b) ls | awk -v a="$VM" '$3 == a && $2 == "running" {print $7}')
    [ "${paid:-0}" -ge 3 ] && break
    sleep 0.1
done
[ "${paid:-0}" -ge 3 ] && ok "the guest pays $where from the new chain (paid to link $paid; $SELF_PREPAID s prepaid)" ||
    { not_ok "the guest does not pay $where: paid to '$paid'"; grep -h "pay:" alpha/vm-*.log beta/vm-*.log | tail -3 | sed 's/^/# /'; }

# Settlement: stop the agents (they redeem what every VM earned), then the broker's audit.
kill "${PIDS[1]}" "${PIDS[2]}" 2>/dev/null
wait "${PIDS[1]}" "${PIDS[2]}" 2>/dev/null
migrated=$(cat alpha/earnings.jsonl beta/earnings.jsonl | grep -c '"why":"migrated"')
[ "$migrated" -ge $((moved + 2)) ] && ok "every migrated VM's earnings recorded ($migrated)" ||
    not_ok "earnings recorded for $migrated migrated VMs, want $((moved + 2))"
redeemed=$(cat alpha.log beta.log | grep -c "settle: VM .* redeemed up to link")
[ "${redeemed:-0}" -ge 1 ] && ok "the hosts redeemed at the broker ($redeemed redemptions logged)" ||
    not_ok "no redemption logged"
expect "the broker's audit balances" 0 "\"ok\": true" -- in_a "$L" broker call --key admin.key GET /v1/admin/audit
done_testing
