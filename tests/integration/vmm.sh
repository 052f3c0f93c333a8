#!/usr/bin/env bash
# lm-vmm without a network: exit codes, ELF refusals, ABI violations, guest faults, the
# computation against its host reference, the clock.
. "$(dirname "$0")/tap.bash"
VMM=$BUILD/bin/lm-vmm
KERNEL=$BUILD/guest/kernel.elf
G=$BUILD/guests
require_kvm

expect "--help" 0 "usage: lm-vmm" -- "$VMM" --help
expect "no kernel argument" 126 "expected one KERNEL" -- "$VMM"
expect "bad --mem" 126 "--mem 1: expected MiB from 2 to 8192" -- "$VMM" --mem 1 "$G/hello.elf"
expect "--ip without a NIC" 126 "--ip needs a NIC" -- "$VMM" --ip 10.0.0.2/24 "$G/hello.elf"
expect "NIC without --ip" 126 "needs --ip" -- "$VMM" --bridge br0 "$G/hello.elf"
expect "missing kernel file" 126 "nope.elf: No such file" -- "$VMM" "$SCRATCH/nope.elf"

expect "guest exit status 0" 0 "hello from the guest: cmdline=\[\]" -- "$VMM" "$G/hello.elf"
expect "guest exit status 7 passes through" 7 "cmdline=\[say hi exit=7\]" -- \
    "$VMM" -c "say hi exit=7" "$G/hello.elf"
expect "guest exit status above 123 is capped" 123 "above 123" -- "$VMM" -c "exit=200" "$G/hello.elf"

# Malformed ELF images: patched copies of the hello guest.
patch_elf() { # name, python statements on bytearray b with helpers
    python3 - "$G/hello.elf" "$SCRATCH/$1.elf" "$2" <<'PY'
import struct, sys
b = bytearray(open(sys.argv[1], 'rb').read())
phoff = struct.unpack_from('<Q', b, 32)[0]
def ph(i, field, fmt, v):
    off = {'flags': 4, 'offset': 8, 'vaddr': 16, 'paddr': 24, 'filesz': 32, 'memsz': 40}[field]
    struct.pack_into(fmt, b, phoff + 56 * i + off, v)
def addr(i, v):
    ph(i, 'vaddr', '<Q', v); ph(i, 'paddr', '<Q', v)
exec(sys.argv[3])
open(sys.argv[2], 'wb').write(b)
PY
}
patch_elf badmagic 'b[1] = ord("X")'
patch_elf elf32 'b[4] = 1'
patch_elf truncated 'del b[100:]'
patch_elf wx 'ph(0, "flags", "<I", 7)'
patch_elf low 'addr(0, 0x1000)'
patch_elf high 'addr(1, 0x7ff0000)'
patch_elf overlap 'addr(1, 0x100000)'
patch_elf pastfile 'ph(1, "filesz", "<Q", 1 << 20); ph(1, "memsz", "<Q", 1 << 20)'
patch_elf entry 'struct.pack_into("<Q", b, 24, 0x101000)'
for c in "badmagic:no ELF magic" "elf32:class 1" "truncated:program headers at 64" \
         "wx:writable and executable" "low:outside the allowed \[0x100000" \
         "high:outside the allowed" "overlap:overlaps" "pastfile:run past the end" \
         "entry:not in an executable segment"; do
    expect "malformed ELF refused: ${c%%:*}" 126 "${c#*:}" -- "$VMM" "$SCRATCH/${c%%:*}.elf"
done

# ABI violations end the VM with status 125 and say what was wrong.
for c in "console-pointer:console: buffer \[0x3fffffc, \+64\) is outside guest RAM" \
         "console-length:length 65537 exceeds 65536" \
         "args-outside:argument block at 0xfffffff0 \(16 bytes\) is outside guest RAM" \
         "args-misaligned:not 8-byte aligned" "unknown-call:unknown hypercall 17" \
         "port:OUT of 1 bytes x1 at port 0x80: not a hypercall" "in:IN of 4 bytes" \
         "net-no-nic:this VM has no NIC" "notice-what:notice 7 \(reserved 0\): not a notice" \
         "notice-reserved:notice 1 \(reserved 1\): not a notice"; do
    expect "ABI violation ends the VM: ${c%%:*}" 125 "guest broke the ABI, VM ended: .*${c#*:}" -- \
        "$VMM" -c "bad=${c%%:*}" "$G/abi.elf"
done
expect "a guest's notices go on to its host (none here): the VM runs on" 0 "notices taken" -- \
    "$VMM" -c "notice-ok" "$G/abi.elf"
for c in "mmio:triple fault" "triple-fault:triple fault" "halt:HLT with interrupts off"; do
    expect "guest crash reported: ${c%%:*}" 124 "guest fault: ${c#*:}" -- \
        "$VMM" -c "bad=${c%%:*}" "$G/abi.elf"
done

# The guest kernel's own exception handling: an unmapped address.
expect "guest kernel: null pointer read" 3 \
    "EXCEPTION: vector 14 \(page fault\).*CR2 0x10," -- "$VMM" -c "app=compute fault=0x10" "$KERNEL"
expect "guest kernel: read beyond RAM" 3 "CR2 0x4000000," -- \
    "$VMM" -m 16 -c "app=compute fault=0x4000000" "$KERNEL"
expect "guest kernel: unknown app" 2 "PANIC: command line: unknown app=nope" -- \
    "$VMM" -c "app=nope" "$KERNEL"
expect "guest kernel: a server without a network" 1 "app=http serves TCP: give lm-vmm a NIC" -- \
    "$VMM" -c "app=http" "$KERNEL"

# The computation equals the host's reference.
ref=$("$BUILD/tests/compute_ref" 3000000 5)
out=$("$VMM" -c "app=compute n=3000000 rounds=5" "$KERNEL" 2>&1)
rc=$?
if [ $rc -eq 0 ] && printf '%s\n' "$out" | grep -q "compute: result n=3000000 rounds=5 $ref"; then
    ok "computation equals the host reference ($ref)"
else
    not_ok "computation differs from the host reference ($ref), exit $rc"
    printf '%s\n' "$out" | sed 's/^/# /' | tail -5
fi
expect "computation prints progress" 0 "compute: round 2/5 primes=" -- \
    "$VMM" -c "app=compute n=100000 rounds=5" "$KERNEL"

expect "clock: monotonic, no exits, in step with the host" 0 "^clock: ok" -- \
    "$VMM" -c "app=clock" "$KERNEL"

# A signal stops the monitor cleanly.
"$VMM" -c "app=compute n=20000000 rounds=100000" "$KERNEL" >"$SCRATCH/sig.log" 2>&1 &
pid=$!
sleep 0.3
kill -TERM $pid
wait $pid
rc=$?
if [ $rc -eq 126 ] && grep -q "stopped by signal" "$SCRATCH/sig.log"; then
    ok "SIGTERM stops the monitor (exit 126, logged)"
else
    not_ok "SIGTERM: exit $rc"
    sed 's/^/# /' "$SCRATCH/sig.log"
fi
done_testing
