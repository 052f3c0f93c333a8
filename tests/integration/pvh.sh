#!/usr/bin/env bash
# The guest kernel on standard virtual hardware: build/guest/kernel-pvh.elf booted by QEMU
# (-accel kvm, q35, PVH entry), its console on the serial port, its exit status through
# isa-debug-exit (QEMU exits with 2 * status + 1), its clock from kvmclock and the TSC, its idle
# waits on the LAPIC's TSC-deadline timer (QEMU: -cpu qemu64,+x2apic,+tsc-deadline).
. "$(dirname "$0")/tap.bash"
. "$(dirname "$0")/pvh.bash"
require_kvm
command -v qemu-system-x86_64 >/dev/null || skip_or_fail "no qemu-system-x86_64 (make deps)"

qemu() { # CMDLINE [QEMU ARGS...]
    local cmdline=$1
    shift
    pvh_qemu "$@" -append "$cmdline"
}

expect "boots, reads its command line and memory map, exits 0 (QEMU 1)" 1 \
    'laundromat guest: 12[0-9] MiB, [0-9]+ pages free, cmdline "app=clock sleep_ms=50"' -- \
    qemu "app=clock sleep_ms=50"

# The computation equals the host's reference.
ref=$("$BUILD/tests/compute_ref" 3000000 5)
expect "computation equals the host reference ($ref)" 1 \
    "compute: result n=3000000 rounds=5 $ref" -- qemu "app=compute n=3000000 rounds=5"

# The clock: TSC scaled by kvmclock's rate, in step with the host's wall clock across a sleep
# that halts on the TSC-deadline timer.
expect "clock: monotonic, in step with the host, sleeps on the timer" 1 "clock: ok" -- \
    qemu "app=clock sleep_ms=300"

# Exit statuses and faults pass through, as on our monitor.
expect "a page fault is reported and ends the VM with status 3 (QEMU 7)" 7 \
    "EXCEPTION: vector 14 \(page fault\).*CR2 0x10," -- qemu "app=compute fault=0x10"
expect "a bad command line panics with status 2 (QEMU 5)" 5 "unknown app=nope" -- qemu "app=nope"
expect "a malformed ip= is refused by name" 5 "ip=10.0.0.300/24: expected A.B.C.D/PREFIX" -- \
    qemu "app=clock ip=10.0.0.300/24"
expect "without the TSC-deadline timer it says what to run" 5 \
    "no TSC-deadline timer: run QEMU with -cpu qemu64,\\+x2apic,\\+tsc-deadline" -- \
    qemu "app=clock" -cpu qemu64

# An idle server costs ~0 CPU: the http guest on QEMU's user network (slirp, a port forwarded
# from loopback), asked once, then left alone: QEMU's CPU time over 5 s of wall time (from
# /proc) stays a small part of it. A guest that spun would burn all of it.
port=$((20000 + $$ % 20000))
qemu "app=http ip=10.0.2.15/24 gw=10.0.2.2" -name "pvh-idle-$$" \
    -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$port-:80" -device virtio-net-pci,netdev=n0 \
    >"$SCRATCH/idle.log" 2>&1 &
QPID=$!
LPID=
trap 'kill $QPID $LPID 2>/dev/null; wait $QPID $LPID 2>/dev/null; rm -rf "$SCRATCH"' EXIT
expect "the guest serves HTTP through virtio-net (QEMU's user network)" 0 \
    "Hello from a Laundromat guest" -- \
    curl -sS -m 5 --retry 40 --retry-delay 1 --retry-all-errors "http://127.0.0.1:$port/"
sleep 8 # past the guest's quiet threshold (6 s after its last frame)
qpid=$(pgrep -f "^qemu-system-x86_64 .*pvh-idle-$$" | head -1)
cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$qpid/stat"; }
if [ -n "$qpid" ] && t0=$(cpu_ticks); then
    sleep 5
    t1=$(cpu_ticks)
    hz=$(getconf CLK_TCK)
    if [ $((t1 - t0)) -lt $((hz / 2)) ]; then
        ok "an idle guest halts: QEMU used $((t1 - t0)) of $((5 * hz)) clock ticks in 5 s"
    else
        not_ok "an idle guest spins: QEMU used $((t1 - t0)) of $((5 * hz)) clock ticks in 5 s"
    fi
else
    not_ok "the idle guest's QEMU is gone"
    sed 's/^/# /' "$SCRATCH/idle.log"
fi
expect "and still answers after its quiet sleep began" 0 "Hello from a Laundromat guest" -- \
    curl -sS -m 5 "http://127.0.0.1:$port/"
kill "$QPID" 2>/dev/null
wait "$QPID" 2>/dev/null

# The in-VM loader on this platform (bootloader/loader-pvh.elf, linked in its block at 1792 MiB
# as on our monitor: QEMU gets RAM past it, the guest 64 MiB below): an image injected over TCP
# (QEMU's user network; the loader's port and the kernel's forwarded from loopback), checked
# against the commitment, handed over; the kernel then serves HTTP.
L=$BUILD/bin/lmctl
"$L" keygen "$SCRATCH/b.key" >/dev/null
"$L" token mint --key "$SCRATCH/b.key" --host x --image "$BUILD/guest/kernel-pvh.elf" --prepaid 1 \
    -o "$SCRATCH/t.tok" >/dev/null
C=$("$L" token show "$SCRATCH/t.tok" | sed -n 's/.*commitment \([0-9a-f]\{64\}\).*/\1/p')
loader() { # log, loader port, http port: the loader in the background
    PVH_MEM=1872 PVH_KERNEL=$BUILD/bootloader/loader-pvh.elf qemu \
        "app=loader mem=64 commitment=$C sender=10.0.2.2 ip=10.0.2.15/24 gw=10.0.2.2" \
        -netdev "user,id=n0,hostfwd=tcp:127.0.0.1:$2-:7700,hostfwd=tcp:127.0.0.1:$3-:80" \
        -device virtio-net-pci,netdev=n0 >"$SCRATCH/$1.log" 2>&1 &
    LPID=$!
}
lport=$((port + 1)) hport=$((port + 2))
loader loader "$lport" "$hport"
expect "the loader takes an image that matches the commitment" 0 "loader: OK image" -- \
    "$L" inject --timeout 60000 --cmdline "app=http" "127.0.0.1:$lport" "$BUILD/guest/kernel-pvh.elf"
expect "and the kernel it handed over to serves HTTP" 0 "Hello from a Laundromat guest" -- \
    curl -sS -m 5 --retry 40 --retry-delay 1 --retry-all-errors "http://127.0.0.1:$hport/"
expect "the kernel has the loader's address and 64 MiB of RAM" 0 \
    "laundromat guest: 64 MiB.*cmdline \"app=http\"" -- cat "$SCRATCH/loader.log"
kill "$LPID" 2>/dev/null
wait "$LPID" 2>/dev/null
loader wrong "$((port + 3))" "$((port + 4))"
expect "an image the token does not commit to is refused" 1 "ERR DIGEST_MISMATCH" -- \
    "$L" inject --timeout 60000 "127.0.0.1:$((port + 3))" "$BUILD/guest/kernel.elf"
wait "$LPID"
rc=$?
[ "$rc" -eq $((2 * 12 + 1)) ] && ok "and the loader ends the VM with its status (12: QEMU 25)" ||
    not_ok "the refusing loader's QEMU exited $rc, want 25"
# RAM that holds the loader's image but not its block (less would not even load it).
expect "a loader without all its block says how much RAM QEMU must give" 5 "QEMU -m 1856 or more" -- \
    env BUILD="$BUILD" PVH_MEM=1808 PVH_KERNEL="$BUILD/bootloader/loader-pvh.elf" \
    bash -c '. "$1"; pvh_qemu -append app=loader' _ "$TOP/tests/integration/pvh.bash"
done_testing
