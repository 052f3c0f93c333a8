#!/usr/bin/env bash
# Runs a command in a "KVM box": a small Linux VM under QEMU's TCG emulator whose emulated CPU
# offers SVM, so that /dev/kvm exists inside (Debian's kernel, kvm_amd). For machines whose own
# kernel gives no KVM (a PVM guest cannot nest PVM): the tests then run real KVM VMs there,
# one level down. The box sees this machine's root read-only (9p, a tmpfs overlay on top) and
# the work tree read-write at the same path; the command runs as root in the work tree.
#
#   tools/kvmbox.sh [--mem MIB] [--cpus N] [--timeout S] -- COMMAND [ARG...]
#
# KVMBOX_TCG_THREAD=single runs the box's CPUs on one host thread (default multi: one each).
# Hung boxes point at multi-threaded TCG, but single is too slow for the timing bounds of the
# tests here (evilman.sh's 4 s of prepaid credit ran out before its first payment).
#
# Exit status: the command's; 124 the box timed out; 125 the box could not start.
set -euo pipefail
TOP=$(cd "$(dirname "$0")/.." && pwd)
BOX=$TOP/build/kvmbox
MEM=6144 CPUS=2 TIMEOUT=3600
# Stage 2, inside the box (the init above runs this script again).
if [ "${1:-}" = --stage2 ]; then
    top=$2
    mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
    mkdir -p /dev/pts /dev/shm && mount -t devpts devpts /dev/pts && mount -t tmpfs tmpfs /dev/shm
    # /tmp stays on the root overlay (RAM already): a tmpfs there would hide a work tree under /tmp
    mount -t tmpfs tmpfs /run; mkdir -p /run/netns /var/run
    for m in kvm_amd tun bridge veth vxlan nf_tables; do modprobe "$m" 2>/dev/null; done
    ip link set lo up
    # The kernel's text symbols, saved once, and where its text is this boot (KASLR), for
    # naming where a hung box spins.
    [ -s "$top/build/kvmbox/kallsyms-$(uname -r)" ] ||
        grep -E ' [tT] ' /proc/kallsyms >"$top/build/kvmbox/kallsyms-$(uname -r)" 2>/dev/null
    awk '$3 == "_stext" { print $1; exit }' /proc/kallsyms >"$top/build/kvmbox/stext" 2>/dev/null
    cd "$top"
    rc=0
    (export PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root TERM=dumb
     . "$top/build/kvmbox/env"
     exec bash "$top/build/kvmbox/cmd") || rc=$?
    echo "$rc" >"$top/build/kvmbox/status"
    sync
    poweroff -f
fi

die() { printf 'kvmbox: error: %s\n' "$*" >&2; exit 125; }
while [ $# -gt 0 ]; do
    case $1 in
    --mem) MEM=$2; shift 2 ;;
    --cpus) CPUS=$2; shift 2 ;;
    --timeout) TIMEOUT=$2; shift 2 ;;
    --help|-h) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --) shift; break ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
done
[ $# -gt 0 ] || die "no command (see --help)"
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64: run make deps"
KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -1)
[ -n "$KERNEL" ] || die "no kernel in /boot: make deps installs linux-image-amd64 on machines without /dev/kvm"
KVER=${KERNEL#/boot/vmlinuz-}
[ -d "/lib/modules/$KVER" ] || die "no /lib/modules/$KVER for $KERNEL"
[ -x /bin/busybox ] || die "no /bin/busybox: make deps installs busybox-static"
command -v modprobe >/dev/null || die "no modprobe (kmod)"

# The initramfs: busybox, the modules for 9p and overlayfs, and an init that mounts this
# machine's root under a tmpfs overlay and runs stage 2 (below) in it. Made once per kernel.
INITRD=$BOX/initrd-$KVER.cpio.gz
if [ ! -s "$INITRD" ]; then
    ir=$(mktemp -d)
    trap 'rm -rf "$ir"' EXIT
    mkdir -p "$ir"/{bin,mod,proc,sys,dev,host,rw,newroot}
    cp /bin/busybox "$ir/bin/"
    for m in virtio_pci 9pnet_virtio 9p overlay; do modprobe -S "$KVER" --show-depends "$m"; done |
        awk '$1 == "insmod" { print $2 }' | awk '!seen[$0]++' | while read -r f; do
            cp "$f" "$ir/mod/"
            basename "$f" .ko
        done >"$ir/mod/order"
    cat >"$ir/init" <<'EOF'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $(cat /mod/order); do insmod /mod/$m.ko || echo "kvmbox: insmod $m failed"; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host &&
    mount -t tmpfs tmpfs /rw && mkdir /rw/upper /rw/work &&
    mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/upper,workdir=/rw/work /newroot ||
    { echo "kvmbox: cannot mount the root"; poweroff -f; }
top=$(sed -n 's/.*kvmbox_top=\([^ ]*\).*/\1/p' /proc/cmdline)
mkdir -p "/newroot$top"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 work "/newroot$top" ||
    { echo "kvmbox: cannot mount the work tree"; poweroff -f; }
exec switch_root /newroot /bin/bash "$top/tools/kvmbox.sh" --stage2 "$top"
EOF
    chmod +x "$ir/init"
    mkdir -p "$BOX"
    (cd "$ir" && find . | cpio -o -H newc 2>/dev/null | gzip -1 >"$INITRD.tmp") && mv "$INITRD.tmp" "$INITRD"
    rm -rf "$ir"
    trap - EXIT
fi

# The command and the environment it keeps (CI, V, and the test knobs LM_*).
mkdir -p "$BOX"
printf '%q ' "$@" >"$BOX/cmd"
echo >>"$BOX/cmd"
for v in $(compgen -e | grep -E '^(CI|V|FUZZ_SECONDS|FUZZ_SECONDS_SHORT|LM_[A-Z_]*)$'); do
    printf 'export %s=%q\n' "$v" "${!v}"
done >"$BOX/env"
rm -f "$BOX/status" "$BOX/hang.txt" "$BOX/stext"
# Boxes have hung at random points, both CPUs spinning and the kernel silent. Just before the
# time limit, what each CPU runs is asked of QEMU's monitor and written to $BOX/hang.txt, the
# box kernel's addresses named from its symbols (/proc/kallsyms, saved at the first boot).
MON=$BOX/monitor.sock
rm -f "$MON"
( sleep $((TIMEOUT > 10 ? TIMEOUT - 5 : TIMEOUT)); [ -S "$MON" ] &&
    python3 - "$MON" "$BOX/kallsyms-$KVER" "$BOX/stext" >"$BOX/hang.txt" 2>&1 <<'PY'
import bisect, re, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); s.settimeout(2)
def ask(cmd):
    s.sendall(cmd.encode() + b"\n"); out, end = b"", time.time() + 2
    while time.time() < end:
        try: out += s.recv(65536)
        except socket.timeout: break
    return out.decode(errors="replace")
ask("")
regs = ask("info registers -a")
syms = []
try:
    for line in open(sys.argv[2]):
        a, t, n = line.split()[:3]
        if t in "tTwW": syms.append((int(a, 16), n))
except OSError: pass
syms.sort(); keys = [a for a, _ in syms]
try: # this boot's text against the saved symbols' (KASLR moves them together)
    shift = int(open(sys.argv[3]).read().strip(), 16) - dict((n, a) for a, n in syms)["_stext"]
except (OSError, ValueError, KeyError): shift = 0
def name(rip):
    rip -= shift
    i = bisect.bisect_right(keys, rip) - 1
    return "%s+0x%x" % (syms[i][1], rip - syms[i][0]) if i >= 0 and rip - syms[i][0] < 1 << 20 else "not the box kernel's (a nested guest's, or user space)"
print("kvmbox: the box was still running at its time limit; its CPUs:")
for cpu, rip in re.findall(r"CPU#(\d+).*?RIP=([0-9a-f]+)", regs, re.S):
    print("  CPU %s at %s: %s" % (cpu, rip, name(int(rip, 16))))
print(regs)
PY
) &
WATCH=$!
# The whole console goes to $BOX/console.log too: the kernel's last words if it dies, and its
# soft-lockup and RCU-stall reports (loglevel 5) if it hangs, as boxes have, spinning.
timeout --foreground -k 10 "$TIMEOUT" qemu-system-x86_64 -accel "tcg,thread=${KVMBOX_TCG_THREAD:-multi}" -cpu max \
    -smp "$CPUS" -m "$MEM" -nographic -no-reboot -kernel "$KERNEL" -initrd "$INITRD" \
    -append "console=ttyS0 quiet loglevel=5 panic=-1 nowatchdog tsc=reliable kvmbox_top=$TOP" \
    -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
    -virtfs local,path="$TOP",mount_tag=work,security_model=none,multidevs=remap \
    -monitor "unix:$MON,server=on,wait=off" </dev/null 2>&1 | tee "$BOX/console.log" |
    sed -u 's/\r$//; s/\x1b\[[0-9;?]*[a-zA-Z]//g; s/\x1bc//g; /^SeaBIOS\|^iPXE\|^Press Ctrl-B\|^Booting from\|reboot: Power down\|^$/d' ||
    true
kill "$WATCH" 2>/dev/null || true
[ -s "$BOX/hang.txt" ] && head -3 "$BOX/hang.txt" >&2
[ -s "$BOX/status" ] || { echo "kvmbox: the box ended without a status (timed out after $TIMEOUT s, or its kernel died: see $BOX/console.log)" >&2; exit 124; }
exit "$(cat "$BOX/status")"
