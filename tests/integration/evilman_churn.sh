#!/usr/bin/env bash
# 1000 VM lifecycles through Evil Man (ping, inject a tiny guest that exits, reclaim), four
# at a time; then nothing may be left: taps, monitor processes, addresses, the agent's file
# descriptors and memory, counted before and after. LM_BACKEND=libvirt runs them as libvirt
# domains (the PVH kernel, which computes a little and exits): evilman_churn_libvirt.sh,
# 200 of them (not in the KVM box, where they would take an hour).
. "$(dirname "$0")/tap.bash"
require_net
L=$LMCTL
EM=$BUILD/bin/evilman
BACKEND=${LM_BACKEND:-kvm}
if [ "$BACKEND" = libvirt ]; then
    # (not app=clock: its 20 ms bound on skew is a timing check, which four QEMUs emulating
    # ring 0 on two cores can miss; this test is about lifecycles)
    TINY=$BUILD/guest/kernel-pvh.elf CMD="app=compute n=1000 rounds=1" LOADER=$BUILD/bootloader/loader-pvh.elf
    RUN_MS=120000 # a domain starts in seconds in the KVM box
    count_vmms() { pgrep -fc "guest=lm-$EM_PID-" || true; }
else
    TINY=$BUILD/guests/hello.elf CMD="exit=0" LOADER=$BUILD/bootloader/loader.elf RUN_MS=20000
    count_vmms() { pgrep -c -P "$EM_PID" || true; }
fi
N=${LM_CHURN:-1000}
WORKERS=4
NS=lmch$$
EM_PID=
cleanup() {
    [ -n "$EM_PID" ] && stop_procs "$EM_PID"
    ip netns del "$NS" 2>/dev/null
    rm -rf "$SCRATCH"
    cleanup_status
}
trap cleanup EXIT
cd "$SCRATCH"
export LM_CONTROL=$SCRATCH/evilman.sock
ip netns add "$NS" && ip netns exec "$NS" ip link set lo up &&
    ip netns exec "$NS" ip link add br0 type bridge &&
    ip netns exec "$NS" ip addr add 10.67.0.1/24 dev br0 && ip netns exec "$NS" ip link set br0 up ||
    { not_ok "namespace"; done_testing; exit 1; }
"$L" keygen broker.key >/dev/null
cat >em.conf <<CONF
backend = $BACKEND
listen = 10.67.0.1:7777
host_name = churn
broker_key = $SCRATCH/broker.key.pub
bridge = br0
bridge_ip = 10.67.0.1/24
pool = 10.67.0.10-10.67.0.250
max_vms = 32
max_mem_mib = 16
replay_capacity = 4096
loader = $LOADER
vmm = $BUILD/bin/lm-vmm
control = $SCRATCH/evilman.sock
state_dir = $SCRATCH/state
CONF
ip netns exec "$NS" "$EM" -q --config em.conf 2>em.log &
EM_PID=$!
for _ in $(seq 100); do [ -S evilman.sock ] && break; sleep 0.05; done

for i in $(seq "$N"); do
    "$L" token mint --key broker.key --host churn --mem 16 --image "$TINY" --prepaid 60 \
        -o "t$i.tok" >/dev/null || { not_ok "mint token $i"; done_testing; exit 1; }
done
ok "minted $N tokens"

count_taps() { ip netns exec "$NS" ip -br link | grep -c lmvm; }
fds() { ls /proc/"$EM_PID"/fd | wc -l; }
fd_list() { find /proc/"$EM_PID"/fd -mindepth 1 -printf '%f -> %l\n' | sort -n; }
rss() { awk '/VmRSS/ {print $2}' /proc/"$EM_PID"/status; }
heap() { "$L" host status | sed -n 's/.*"heap_bytes": *\([0-9]*\).*/\1/p'; } # malloc'd, in use
br_mac() { ip netns exec "$NS" ip -br link show br0 | awk '{print $3}'; }
lifecycle() { # index
    ip netns exec "$NS" "$L" run --timeout "$RUN_MS" 10.67.0.1 "t$1.tok" "$TINY" \
        --cmdline "$CMD" >"run$1.log" 2>&1 || echo "lifecycle $1 failed" >>failures
}
all_gone() { # the last guests may still be exiting
    for _ in $(seq 600); do
        [ "$(count_vmms)" = 0 ] && [ "$("$L" host status | grep -c '"vms": 0')" = 1 ] && break
        sleep 0.05
    done
}
# The first lifecycle warms up what lives as long as the agent (libvirt's embedded driver opens
# its pid file and an eventfd, and caches QEMU's capabilities, ~15 MiB, at its first domain):
# what is counted after must be what was there after it.
t0=$(date +%s)
taps0=$(count_taps) mac0=$(br_mac)
lifecycle 1
all_gone
vmms0=$(count_vmms) fds0=$(fds) rss0=$(rss) fdl0=$(fd_list) heap0=$(heap)

worker() { # first index, step, last index
    for ((i = $1; i <= $3; i += $2)); do lifecycle "$i"; done
}
half() { # first and last index: WORKERS at a time
    local w WPIDS=()
    for w in $(seq $WORKERS); do worker $(($1 + w - 1)) "$WORKERS" "$2" & WPIDS+=($!); done
    wait "${WPIDS[@]}" # not a bare wait: evilman is a child too
    all_gone
}
# In two halves: a leak grows with the lifecycles, the allocator's and libvirt's caches settle
# in the first half, so the second half must not grow the agent.
half 2 $((N / 2))
rss_mid=$(rss) heap_mid=$(heap)
half $((N / 2 + 1)) "$N"
dt=$(( $(date +%s) - t0 ))
if [ ! -s failures ]; then ok "$N lifecycles in ${dt} s, $WORKERS at a time"
else not_ok "$(wc -l <failures) of $N lifecycles failed"; head -3 failures | sed 's/^/# /'
     f=$(head -1 failures | awk '{print $2}'); sed 's/^/# /' "run$f.log"
     vm=$(sed -n 's/.*admitted as VM \([0-9]*\).*/\1/p' "run$f.log")
     [ -n "$vm" ] && { echo "# the VM's log:"; sed 's/^/#   /' "state/vm-$vm.log"; grep "VM $vm " em.log | sed 's/^/# /'; }; fi
ended=$(grep -c '"why":"exit status 0' state/earnings.jsonl)
[ "$ended" = "$N" ] && ok "every VM ran the injected guest to its exit ($ended recorded)" ||
    { not_ok "$ended of $N VMs recorded a clean guest exit"
      grep -v '"why":"exit status 0' state/earnings.jsonl | head -3 | sed 's/^/# /'
      vm=$(grep -v '"why":"exit status 0' state/earnings.jsonl | head -1 | sed -n 's/.*"vm":\([0-9]*\).*/\1/p')
      [ -n "$vm" ] && tail -5 "state/vm-$vm.log" | sed 's/^/#   /'; }
# (a bridge takes its lowest port's MAC unless one was set: the agent keeps it as it is, or
# guests that cached it would send to an address it no longer answers)
[ -n "$mac0" ] && [ "$(br_mac)" = "$mac0" ] && ok "the bridge kept its MAC ($mac0) as taps came and went" ||
    not_ok "the bridge's MAC changed: $mac0 -> $(br_mac)"
[ "$(count_taps)" = "$taps0" ] && ok "no tap leaked ($taps0 before and after)" ||
    not_ok "taps: $taps0 before, $(count_taps) after"
[ "$(count_vmms)" = "$vmms0" ] && ok "no monitor process leaked" ||
    not_ok "monitor processes: $vmms0 before, $(count_vmms) after"
expect "no address leaked" 0 "\"addresses_in_use\": 0" -- "$L" host status
[ "$(fds)" = "$fds0" ] && ok "no descriptor leaked in the agent ($fds0 after the first lifecycle and after the last)" ||
    { not_ok "agent descriptors: $fds0 before, $(fds) after"
      diff <(echo "$fdl0") <(fd_list) | sed 's/^/# /'; }
rss1=$(rss) heap1=$(heap)
# What the agent's malloc holds in use (all arenas, `host status`), not its RSS: RSS keeps the
# high-water mark of the heaps, which rises whenever more domain starts than before overlap
# (seen: +2.3 MiB in the second half of one run, +0.3 in others), so it says little about a
# leak. In use, a leak of 2.5 KiB per lifecycle would show as 256 KiB over the second half.
# The replay cache (8192 slots of 130 bytes here) fills as tokens arrive and keeps them until
# they expire. (A valgrind run of the agent on libvirt found nothing definitely lost.)
if [ -n "$heap0" ] && [ -n "$heap_mid" ] && [ -n "$heap1" ] && [ $((heap1 - heap_mid)) -lt 262144 ]; then
    ok "agent heap in use: $heap0 bytes after the first lifecycle, $heap_mid after half, $heap1 after the last (RSS ${rss0}, $rss_mid, $rss1 KiB)"
else
    not_ok "agent heap in use grew in the second half: '$heap0' bytes after the first lifecycle, '$heap_mid' after half, '$heap1' after the last (RSS ${rss0}, $rss_mid, $rss1 KiB)"
fi
done_testing
