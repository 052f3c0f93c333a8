# Sourced by tests that boot the guest on standard virtual hardware (kernel-pvh.elf).
# pvh_qemu [QEMU ARGS...] -append CMDLINE: QEMU with KVM, q35, QEMU's default CPU model with
# x2APIC and the TSC-deadline timer (KVM emulates both everywhere; -cpu host aborts under
# KVM-PVM, which cannot set MSR 0x10a), the console on stdout, the exit status through
# isa-debug-exit (QEMU exits with 2 * status + 1); PVH_MEM MiB of RAM (default 128); PVH_KERNEL
# the image (default the kernel; the loader is bootloader/loader-pvh.elf). PVH_WRAP:
# a command (with its arguments) that runs it, e.g. /usr/bin/time. QEMU takes the place of the
# calling shell (exec), so that a signal to the job reaches it: call it in a subshell or a job.
pvh_qemu() {
    exec ${PVH_WRAP:-} timeout "${PVH_TIMEOUT:-300}" qemu-system-x86_64 -accel kvm -M q35 \
        -cpu qemu64,+x2apic,+tsc-deadline -m "${PVH_MEM:-128}" -nodefaults -nographic \
        -no-reboot -display none -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=4 \
        -bios "${PVH_BIOS:-/usr/share/qemu/qboot.rom}" -kernel "${PVH_KERNEL:-$BUILD/guest/kernel-pvh.elf}" "$@"
}
