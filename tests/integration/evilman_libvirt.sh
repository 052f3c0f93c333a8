#!/usr/bin/env bash
# Evil Man on its libvirt backend (backend = libvirt: libvirt's embedded QEMU driver, no
# daemon): the story of evilman.sh with the guest on standard virtual hardware. A token for
# the PVH kernel, one ping, a libvirt domain boots the PVH loader on the VM's tap, the buyer
# injects the kernel, it serves HTTP; payments keep it; when they stop it is reclaimed, the
# domain destroyed, its tap, address and QEMU gone; lifecycles leave nothing behind; a libvirt
# that cannot be reached is a precise refusal, and the agent goes on.
. "$(dirname "$0")/tap.bash"
require_net
for t in curl qemu-system-x86_64; do command -v $t >/dev/null || skip_or_fail "no $t (make deps)"; done
[ -e /usr/lib/x86_64-linux-gnu/libvirt/connection-driver/libvirt_driver_qemu.so ] ||
    skip_or_fail "no libvirt QEMU driver (make deps installs libvirt-daemon-driver-qemu)"
L=$LMCTL
EM=$BUILD/bin/evilman
KERNEL=$BUILD/guest/kernel-pvh.elf
NS=lmlv$$
EM_PID=
cleanup() {
    [ -n "$EM_PID" ] && kill "$EM_PID" 2>/dev/null && wait "$EM_PID" 2>/dev/null
    pkill -f "guest=lm-$EM_PID-" 2>/dev/null # a QEMU the agent left would be a failure above
    ip netns del "$NS" 2>/dev/null
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }
cd "$SCRATCH"
export LM_CONTROL=$SCRATCH/evilman.sock

ip netns add "$NS" && in_ns ip link set lo up && in_ns ip link add br0 type bridge &&
    in_ns ip addr add 10.67.0.1/24 dev br0 && in_ns ip link set br0 up ||
    { not_ok "namespace"; done_testing; exit 1; }
"$L" keygen broker.key >/dev/null
"$L" chain new -n 200 pay.chain >/dev/null
conf() { # file, extra lines
    cat >"$1" <<CONF
listen = 10.67.0.1:7777
host_name = alpha
broker_key = $SCRATCH/broker.key.pub
bridge = br0
bridge_ip = 10.67.0.1/24
pool = 10.67.0.10-10.67.0.40
max_vms = 4
max_mem_mib = 128
total_mem_mib = 512
grace_ms = 1500
tick_ms = 100
low_credit_ms = 1200
backend = libvirt
loader = $BUILD/bootloader/loader-pvh.elf
loader_wait_s = 60
loader_idle_s = 10
control = $SCRATCH/evilman.sock
state_dir = $SCRATCH/state
$2
CONF
}
conf em.conf ""
expect "evilman --check takes backend = libvirt" 0 "em.conf: ok" -- "$EM" --config em.conf --check
printf 'host_name = x\nbackend = xen\n' >bad.conf
expect "an unknown backend is refused by name" 1 "bad.conf:2: .*backend.*kvm .* or libvirt" -- \
    "$EM" --config bad.conf --check

ip netns exec "$NS" "$EM" --config em.conf >em.log 2>&1 & # not in_ns: $! must be evilman
EM_PID=$!
for _ in $(seq 100); do [ -S evilman.sock ] && break; sleep 0.05; done
mint() { # file, extra options...
    local f=$1
    shift
    "$L" token mint --key broker.key --host alpha --mem 64 --image "$KERNEL" --link-ms 1000 \
        -o "$f" "$@" >/dev/null
}

# The story: one ping boots a libvirt domain; the kernel is injected into its loader.
mint t1.tok --chain pay.chain --prepaid 30
expect "ping, inject, the guest answers TCP: through libvirt" 0 \
    "total: .* ms from ping to the image answering TCP" -- \
    in_ns "$L" run --timeout 120000 10.67.0.1 t1.tok "$KERNEL" --cmdline app=http --wait-tcp 80
expect "curl gets the injected guest's page" 0 "Hello from a Laundromat guest" -- \
    in_ns curl -sS -m 5 http://10.67.0.10/
expect "the agent saw the hand-over" 0 "VM 1: image verified and booted" -- cat em.log
expect "the agent lists the VM as running on tap lmvm1" 0 "^1 +running +10.67.0.10 +lmvm1" -- \
    "$L" host ls
qemu_count() { pgrep -fc "guest=lm-$EM_PID-" || true; }
[ "$(qemu_count)" = 1 ] && ok "one QEMU runs it" || not_ok "QEMU processes: $(qemu_count), want 1"

# Payments keep it; when they stop it is reclaimed: the domain destroyed, nothing left.
in_ns "$L" pay --every 300 --count 5 --quiet 10.67.0.1 t1.tok pay.chain >pay.log 2>&1
expect "payments are credited" 0 "link 5: accepted, paid through 5" -- cat pay.log
expect "the operator ends it" 0 "" -- "$L" host kill 1
gone=no
for _ in $(seq 200); do
    [ "$(qemu_count)" = 0 ] && ! in_ns ip link show lmvm1 >/dev/null 2>&1 &&
        ! "$L" host ls | grep -q "^1 " && { gone=yes; break; }
    sleep 0.1
done
[ $gone = yes ] && ok "destroyed: its QEMU, tap and table entry are gone" ||
    { not_ok "left behind: $(qemu_count) QEMU, $(in_ns ip -br link | grep -c lmvm) taps"; tail -5 em.log | sed 's/^/# /'; }
expect "the agent logged its end and reclaimed its address" 0 \
    "VM 1 ended .*reclaiming tap lmvm1, address 10.67.0.10" -- cat em.log

# Lifecycles: boot, then run out of credit and get reclaimed; nothing accumulates.
N=${LM_LIBVIRT_CYCLES:-3}
for i in $(seq "$N"); do
    mint "c$i.tok" --prepaid 1
    in_ns "$L" ping 10.67.0.1 "c$i.tok" >/dev/null 2>&1
done
left=1
for _ in $(seq 600); do
    [ "$("$L" host ls | grep -c running)" = 0 ] && [ "$("$L" host ls | grep -cE '^[0-9]')" = 0 ] &&
        [ "$(qemu_count)" = 0 ] && { left=0; break; }
    sleep 0.1
done
taps=$(in_ns ip -br link | grep -c lmvm || true)
[ $left = 0 ] && [ "$taps" = 0 ] && ok "$N more lifecycles (credit runs out, reclaimed): no domain, QEMU or tap left" ||
    not_ok "after $N lifecycles: $("$L" host ls | grep -cE '^[0-9]') VMs, $(qemu_count) QEMU, $taps taps"
fds=$(ls /proc/"$EM_PID"/fd | wc -l)
mint d.tok --prepaid 1
in_ns "$L" ping 10.67.0.1 d.tok >/dev/null 2>&1
for _ in $(seq 600); do [ "$("$L" host ls | grep -cE '^[0-9]')" = 0 ] && [ "$(qemu_count)" = 0 ] && break; sleep 0.1; done
fds2=$(ls /proc/"$EM_PID"/fd | wc -l)
[ "$fds2" -le "$fds" ] && ok "one more lifecycle leaves the agent's descriptors as they were ($fds2)" ||
    not_ok "descriptors grew from $fds to $fds2 over one lifecycle"
kill "$EM_PID"; wait "$EM_PID"; EM_PID=

# libvirt unreachable: the ping is refused with the reason, nothing is left, the agent runs on.
conf em2.conf "libvirt_uri = qemu+unix:///system?socket=$SCRATCH/no-such.sock"
ip netns exec "$NS" "$EM" --config em2.conf >em2.log 2>&1 &
EM_PID=$!
for _ in $(seq 100); do [ -S evilman.sock ] && break; sleep 0.05; done
mint u.tok --prepaid 5
expect "libvirt unreachable: the ping is refused" 1 "refused: INTERNAL" -- in_ns "$L" ping 10.67.0.1 u.tok
expect "the agent says why and what names the connection" 0 \
    "libvirt: cannot connect to qemu\+unix:///system\?socket=.*no-such.sock: .*libvirt_uri names it" -- cat em2.log
[ "$("$L" host ls | grep -cE '^[0-9]')" = 0 ] && [ "$(in_ns ip -br link | grep -c lmvm || true)" = 0 ] &&
    ok "and leaves no VM or tap behind" || not_ok "a VM or tap was left: $("$L" host ls)"
expect "the agent still answers" 0 "\"vms\": 0" -- "$L" host status
done_testing
