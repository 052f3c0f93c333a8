#!/usr/bin/env bash
# The guest kernel on standard virtual hardware: build/guest/kernel-pvh.elf booted by QEMU
# (-accel kvm, q35, PVH entry), its console on the serial port, its exit status through
# isa-debug-exit (QEMU exits with 2 * status + 1), its clock from kvmclock and the TSC, its idle
# waits on the LAPIC's TSC-deadline timer.
. "$(dirname "$0")/tap.bash"
KERNEL=$BUILD/guest/kernel-pvh.elf
require_kvm
command -v qemu-system-x86_64 >/dev/null || skip_or_fail "no qemu-system-x86_64 (make deps)"

# qemu CMDLINE [QEMU ARGS...]: boots the kernel with that command line, console on stdout.
qemu() {
    local cmdline=$1
    shift
    timeout 300 qemu-system-x86_64 -accel kvm -M q35 -cpu host -m 128 -nodefaults -nographic \
        -no-reboot -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -kernel "$KERNEL" -append "$cmdline" "$@"
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
expect "without -cpu host's x2APIC and TSC-deadline timer it says what to run" 5 \
    "run QEMU with -cpu host" -- \
    timeout 300 qemu-system-x86_64 -accel kvm -M q35 -cpu qemu64 -m 128 -nodefaults -nographic \
    -no-reboot -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
    -kernel "$KERNEL" -append "app=clock"

# Idle costs ~0 CPU: a guest sleeping 3 s halts instead of spinning. QEMU's CPU time over the
# sleep (its own start-up excluded by comparing two runs) stays a small part of the wall time.
cpu_of() { # sleep_ms: QEMU's user+system CPU seconds for a run sleeping that long
    local t
    t=$( { /usr/bin/time -f '%U %S' qemu "app=clock sleep_ms=$1" >/dev/null 2>/dev/null; } 2>&1 | tail -1)
    awk -v t="$t" 'BEGIN { split(t, a, " "); printf "%.2f", a[1] + a[2] }'
}
if [ -x /usr/bin/time ]; then
    short=$(cpu_of 100)
    long=$(cpu_of 3100)
    if ! awk -v s="$short" 'BEGIN { exit !(s > 0) }'; then
        not_ok "no CPU time measured for QEMU ('$short'): the measurement is broken"
    elif awk -v s="$short" -v l="$long" 'BEGIN { exit !(l - s < 0.6) }'; then
        ok "an idle guest halts: 3 s more of sleep, QEMU's CPU $short -> $long s"
    else
        not_ok "an idle guest spins: 3 s of sleep cost $short -> $long s of CPU"
    fi
else
    skip_or_fail "no /usr/bin/time (package time)"
fi
done_testing
