#!/usr/bin/env bash
# Benchmark: lm-vmm start-up, guest TCP throughput and idle cost, against QEMU microvm and veth.
#
# Prints three report sections on stdout; diagnostics go to stderr. Every figure is set against
# a peer measured in the same run; nothing is judged pass/fail on timing. All traffic stays in
# network namespaces made here (lmb<pid>, lmb<pid>a, lmb<pid>b) and removed on exit.
# Knobs for quick runs: BENCH_RUNS (20), BENCH_TCP_BYTES (256 MiB), BENCH_TCP_REPS (3), QEMU,
# BENCH_SECTIONS (startup throughput idle: which to run).
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-$TOP/build}
BB=$BUILD/bench
VMM=$BUILD/bin/lm-vmm
KERNEL=$BUILD/guest/kernel.elf
. "$TOP/tests/bench/aim.bash"
KERNEL_PVH=$BUILD/guest/kernel-pvh.elf # the same kernel on standard virtual hardware
PROBE=$BB/vmprobe
TCPBENCH=$BB/tcpbench
PVH=$BB/pvh.elf
PVH_IDLE=$BB/pvh-idle.elf
HELLO=$BUILD/guests/hello.elf # the project's build of tests/guests/hello.c, else ours
[ -f "$HELLO" ] || HELLO=$BB/hello.elf
QEMU=${QEMU:-qemu-system-x86_64}

RUNS=${BENCH_RUNS:-20}                     # start-up runs per figure
# The QEMU peer's runs, all of them, at most this long: under the KVM box (QEMU on nested
# KVM under TCG) it has been seen to hang at boot.
PROBE_LIMIT=${BENCH_PROBE_LIMIT:-300}
TCP_BYTES=${BENCH_TCP_BYTES:-268435456}    # 256 MiB per transfer
TCP_REPS=${BENCH_TCP_REPS:-3}
IDLE_WAIT=1
IDLE_SAMPLE=5

NS=lmb$$    # bridge namespace: host side of the guests' taps
NSA=lmb$$a  # veth peer: client side
NSB=lmb$$b  # veth peer: server side
TMP=$(mktemp -d /tmp/lmb-XXXXXX)
PIDS=()

# The QEMU peer: the smallest microvm we could make boot our PVH kernel here (see
# tests/bench/pvh/pvh.S). The default CPU model is kept: -cpu host aborts under KVM-PVM
# (MSR 0x10a cannot be set).
# shellcheck disable=SC2054 # the commas belong to -M's option string
QEMU_ARGS=(-M microvm,x-option-roms=off,pit=off,pic=off,rtc=off -accel kvm -m 64 -nodefaults
    -no-user-config -nographic -serial stdio -device isa-debug-exit,iobase=0xf4,iosize=0x04)
PVH_TEXT="hello from the pvh guest"
PVH_STATUS=67 # pvh.S writes 0x21 to the debug-exit port: QEMU exits (0x21 << 1) | 1
HELLO_TEXT="hello from the guest"

# Stops a background process we started: SIGTERM, then SIGKILL after 2 s; always reaps it.
stop_pid() {
    local p=$1 _
    kill "$p" 2>/dev/null || { wait "$p" 2>/dev/null; return 0; }
    for _ in $(seq 200); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.01
    done
    kill -9 "$p" 2>/dev/null
    wait "$p" 2>/dev/null
    return 0
}

# shellcheck disable=SC2317 # run by the EXIT trap
cleanup() {
    local p n
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
    for n in "$NS" "$NSA" "$NSB"; do
        [ -e "/run/netns/$n" ] && ip netns del "$n" 2>/dev/null
    done
    rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

in_ns() { local n=$1; shift; nsenter --net="/run/netns/$n" "$@"; }

# ratio A B: A/B to three significant digits, or n/a when B is zero or either is missing.
ratio() {
    awk -v a="$1" -v b="$2" 'BEGIN {
        if (a == "" || b == "" || b + 0 == 0) print "n/a"
        else if (a / b >= 100) printf "%.0f", a / b
        else printf "%.3g", a / b }'
}
# field KEY LINE: the value of KEY=... in a "k=v k=v" line from vmprobe.
field() { printf '%s\n' "$2" | tr ' ' '\n' | sed -n "s/^$1=//p"; }
# median of the numbers given as arguments
median() {
    printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
        END { if (NR % 2) print v[(NR + 1) / 2]
              else printf "%.1f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# row LABEL A B RATIO [NOTE]: one line of a section's table.
row() { printf '%-42s %10s %14s %8s   %s\n' "$1" "$2" "$3" "$4" "${5:-}" | sed 's/ *$//'; }

# Why the VM sections cannot run here, or nothing.
why_skip() {
    [ "$(id -u)" -eq 0 ] || { echo "needs root (network namespaces, taps)"; return; }
    if ! [ -c /dev/kvm ] || ! [ -r /dev/kvm ] || ! [ -w /dev/kvm ]; then
        echo "no usable /dev/kvm"
        return
    fi
    local f
    for f in "$VMM" "$KERNEL" "$HELLO" "$PROBE" "$TCPBENCH"; do
        [ -e "$f" ] || { echo "$f is missing (run make)"; return; }
    done
    command -v nsenter >/dev/null || { echo "nsenter not installed"; return; }
    command -v ip >/dev/null || { echo "ip (iproute2) not installed"; return; }
}

# Why the QEMU peer cannot run, or nothing.
why_no_qemu() {
    command -v "$QEMU" >/dev/null || { echo "$QEMU not installed"; return; }
    [ -e "$PVH" ] && [ -e "$PVH_IDLE" ] || echo "$PVH is missing (run make bench)"
}

# A namespace with bridge br0 at 10.200.0.1/24, the host side of every guest tap.
make_bridge_ns() {
    ip netns add "$NS" &&
        ip -n "$NS" link set lo up &&
        ip -n "$NS" link add br0 type bridge &&
        ip -n "$NS" addr add 10.200.0.1/24 dev br0 &&
        ip -n "$NS" link set br0 up
}

# guest_mac N: the MAC we give the guest at 10.200.0.N. Its neighbour entry is made permanent
# so the host's first SYN goes out at once, not after an ARP round that retries every second.
guest_mac() { printf '02:00:00:00:c8:%02x' "$1"; }
pin_neigh() {
    ip -n "$NS" neigh replace "10.200.0.$1" lladdr "$(guest_mac "$1")" dev br0 nud permanent
}

# vmm_args N APP [-q]: lm-vmm arguments for a 64 MiB guest at 10.200.0.N running APP.
vmm_args() {
    echo "$VMM ${3--q} -m 64 --bridge br0 --ip 10.200.0.$1/24 --mac $(guest_mac "$1") -c app=$2 $KERNEL"
}

# qemu_guest N APP: our kernel under QEMU (q35, virtio-net on tap lmbqN on br0) at 10.200.0.N
# running APP, in the background ($! is QEMU's, through nsenter, bash and timeout's execs).
qemu_guest() {
    PVH_TIMEOUT=3600 nsenter --net="/run/netns/$NS" bash -c '. "$1"; shift; pvh_qemu "$@"' _ \
        "$TOP/tests/integration/pvh.bash" -m 64 \
        -netdev "tap,id=n0,ifname=lmbq$1,script=no,downscript=no" \
        -device "virtio-net-pci,netdev=n0,mac=$(guest_mac "$1")" \
        -append "ip=10.200.0.$1/24 gw=10.200.0.1 app=$2" >"$TMP/qemu-$2.log" 2>&1 &
    PIDS+=($!)
    local _
    for _ in $(seq 400); do ip -n "$NS" link show "lmbq$1" >/dev/null 2>&1 && break; sleep 0.05; done
    ip -n "$NS" link set "lmbq$1" master br0 up
}

# Two namespaces joined by a veth pair: client 10.201.0.1 in $NSA, servers 10.201.0.2 in $NSB.
make_veth() {
    ip netns add "$NSA" && ip netns add "$NSB" &&
        ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up &&
        ip -n "$NSA" link add veth0 type veth peer name veth1 netns "$NSB" &&
        ip -n "$NSA" addr add 10.201.0.1/24 dev veth0 &&
        ip -n "$NSB" addr add 10.201.0.2/24 dev veth1 &&
        ip -n "$NSA" link set veth0 up && ip -n "$NSB" link set veth1 up
}

mtu_of() { ip -n "$1" -o link show "$2" 2>/dev/null | sed -n 's/.* mtu \([0-9]*\).*/\1/p'; }

# ---- 1. start-up latency ------------------------------------------------------------------
section_startup() {
    echo "== KVM monitor start-up (median of $RUNS runs each; peer: QEMU microvm, same run)"
    local hello kern http qemu qerr
    hello=$(timeout "$PROBE_LIMIT" "$PROBE" exit "$RUNS" 7 "$HELLO_TEXT" -- "$VMM" -q -c "exit=7" "$HELLO") ||
        { echo "FAILED: lm-vmm with the tiny guest (see stderr)"; return 1; }
    kern=$(timeout "$PROBE_LIMIT" "$PROBE" exit "$RUNS" 0 "laundromat guest" -- "$VMM" -q -c "app=compute n=1 rounds=1" \
        "$KERNEL") || { echo "FAILED: lm-vmm with app=compute n=1 (see stderr)"; return 1; }
    pin_neigh 5
    # shellcheck disable=SC2046 # vmm_args is a word list by design
    http=$(in_ns "$NS" timeout "$PROBE_LIMIT" "$PROBE" http "$RUNS" 10.200.0.5 80 -- $(vmm_args 5 http)) ||
        { echo "FAILED: lm-vmm app=http readiness (see stderr)"; return 1; }
    qerr=$(why_no_qemu)
    if [ -z "$qerr" ]; then
        qemu=$(timeout "$PROBE_LIMIT" "$PROBE" exit "$RUNS" "$PVH_STATUS" "$PVH_TEXT" -- "$QEMU" \
            "${QEMU_ARGS[@]}" -kernel "$PVH") ||
            qerr="QEMU did not boot the PVH kernel $RUNS times within $PROBE_LIMIT s (see stderr)"
    fi
    local hf he kf ke hc hh qf qe
    hf=$(field first_ms "$hello") he=$(field exit_ms "$hello")
    kf=$(field first_ms "$kern") ke=$(field exit_ms "$kern")
    hc=$(field connect_ms "$http") hh=$(field http_ms "$http")
    qf=$(field first_ms "${qemu:-}") qe=$(field exit_ms "${qemu:-}")
    row "" "lm-vmm" "qemu microvm" "ratio"
    row "tiny guest: spawn to first console line" "$hf ms" "${qf:-n/a} ms" "$(ratio "$hf" "$qf")"
    row "tiny guest: spawn to exit (whole process)" "$he ms" "${qe:-n/a} ms" "$(ratio "$he" "$qe")"
    row "our kernel, app=compute n=1: to exit" "$ke ms" "${qe:-n/a} ms" "$(ratio "$ke" "$qe")" \
        "(first line at $kf ms)"
    row "our kernel, app=http: to HTTP 200" "$hh ms" "${qe:-n/a} ms" "$(ratio "$hh" "$qe")" \
        "(TCP connect at $hc ms)"
    [ -z "$qerr" ] || echo "qemu peer skipped: $qerr"
    echo "(tiny guest: tests/guests/hello.c; qemu: tests/bench/pvh, its whole-process time is also"
    echo " the peer of our kernel's rows; all guests 64 MiB; the HTTP probe connects every 0.5 ms)"
}

# ---- 2. TCP throughput --------------------------------------------------------------------
# transfer NS send|recv HOST PORT: one tcpbench client run from namespace NS; prints its MB/s.
transfer() {
    local x
    if x=$(in_ns "$1" "$TCPBENCH" client "$2" "$3" "$4" "$TCP_BYTES") && [ -n "$x" ]; then
        echo "$x"
        return 0
    fi
    echo "FAILED: tcpbench client $2 $3:$4 from namespace $1 (see stderr)"
    return 1
}

section_throughput() {
    local rc=0 p
    throughput || rc=1
    for p in "${PIDS[@]}"; do stop_pid "$p"; done
    PIDS=()
    [ $rc = 0 ] && exits_per_mib
    return $rc
}

# Where the time goes, per MiB moved: the guest's exits for its NIC (kicks and polls, as the
# monitor counted them over the whole run of each guest, transfers and all) and frames per exit.
exits_per_mib() {
    local f line mib=$((TCP_BYTES / 1048576 * TCP_REPS))
    for f in sink source; do
        line=$(grep -o "NIC: .*" "$TMP/$f.log" | tail -1)
        [ -n "$line" ] || { echo "(no NIC figures in the $f guest's log)"; continue; }
        awk -v l="$line" -v mib="$mib" -v who="$f" 'BEGIN {
            n = split(l, w, " "); sent = w[2]; rcvd = w[10]; kicks = w[14]; polls = w[16]
            ex = kicks + polls
            printf "(%s guest, %d MiB: %.1f exits per MiB (%d kicks, %d polls), %.1f frames per exit:" \
                " %d sent, %d received)\n", who, mib, ex / mib, kicks, polls, (sent + rcvd) / (ex ? ex : 1), sent, rcvd }'
    done
}

throughput() {
    local mib=$((TCP_BYTES / 1048576))
    echo "== guest TCP throughput (median of $TCP_REPS x $mib MiB;" \
        "peer: veth between namespaces, same run)"
    pin_neigh 2 && pin_neigh 3 || return 1
    # The same kernel under QEMU with virtio-net, where QEMU runs.
    local qerr
    qerr=$(why_no_qemu)
    [ -e "$KERNEL_PVH" ] || qerr="$KERNEL_PVH is missing (run make)"
    if [ -z "$qerr" ]; then
        pin_neigh 4 && pin_neigh 5 || return 1
        qemu_guest 4 sink
        qemu_guest 5 source
    fi
    # Started with nsenter itself, not in_ns: a backgrounded function would be a subshell,
    # and $! its pid rather than the server's. nsenter execs the command (no --fork).
    # shellcheck disable=SC2046
    nsenter --net="/run/netns/$NS" $(vmm_args 2 sink "") >"$TMP/sink.log" 2>&1 &
    PIDS+=($!)
    # shellcheck disable=SC2046
    nsenter --net="/run/netns/$NS" $(vmm_args 3 source "") >"$TMP/source.log" 2>&1 &
    PIDS+=($!)
    make_veth || { echo "FAILED: veth setup"; return 1; }
    nsenter --net="/run/netns/$NSB" "$TCPBENCH" server sink 9 >"$TMP/vsink.log" 2>&1 &
    PIDS+=($!)
    nsenter --net="/run/netns/$NSB" "$TCPBENCH" server source 19 >"$TMP/vsource.log" 2>&1 &
    PIDS+=($!)
    local ns ip port
    while read -r ns ip port; do
        in_ns "$ns" "$PROBE" waitport "$ip" "$port" 10000 ||
            { echo "FAILED: nothing listening on $ip:$port"; cat "$TMP"/*.log >&2; return 1; }
    done <<EOF
$NS 10.200.0.2 9
$NS 10.200.0.3 19
$NSB 127.0.0.1 9
$NSB 127.0.0.1 19
EOF
    if [ -z "$qerr" ] && ! { in_ns "$NS" "$PROBE" waitport 10.200.0.4 9 60000 &&
        in_ns "$NS" "$PROBE" waitport 10.200.0.5 19 60000; }; then
        qerr="its guests did not listen (their consoles are on stderr)"
        cat "$TMP"/qemu-*.log >&2
    fi
    local gs=() vs=() gr=() vr=() qs=() qr=() x _
    for _ in $(seq "$TCP_REPS"); do
        # Interleaved, so that drift on the machine touches both sides alike.
        x=$(transfer "$NS" send 10.200.0.2 9) || { echo "$x"; return 1; }
        gs+=("$x")
        x=$(transfer "$NSA" send 10.201.0.2 9) || { echo "$x"; return 1; }
        vs+=("$x")
        x=$(transfer "$NS" recv 10.200.0.3 19) || { echo "$x"; return 1; }
        gr+=("$x")
        x=$(transfer "$NSA" recv 10.201.0.2 19) || { echo "$x"; return 1; }
        vr+=("$x")
        [ -z "$qerr" ] || continue
        x=$(transfer "$NS" send 10.200.0.4 9) || { echo "$x"; return 1; }
        qs+=("$x")
        x=$(transfer "$NS" recv 10.200.0.5 19) || { echo "$x"; return 1; }
        qr+=("$x")
    done
    local mgs mvs mgr mvr mqs mqr tap
    mgs=$(median "${gs[@]}") mvs=$(median "${vs[@]}")
    mgr=$(median "${gr[@]}") mvr=$(median "${vr[@]}")
    row "" "guest" "veth" "ratio"
    row "host to guest (app=sink, port 9)" "$mgs MB/s" "$mvs MB/s" "$(ratio "$mgs" "$mvs")" \
        "$(aim "$(ratio "$mgs" "$mvs")" ">=" 0.5) (issue 12)"
    row "guest to host (app=source, port 19)" "$mgr MB/s" "$mvr MB/s" "$(ratio "$mgr" "$mvr")" \
        "$(aim "$(ratio "$mgr" "$mvr")" ">=" 0.5) (issue 12)"
    if [ -z "$qerr" ]; then
        mqs=$(median "${qs[@]}") mqr=$(median "${qr[@]}")
        row "" "under QEMU" "veth" "ratio"
        row "host to guest, QEMU + virtio-net" "$mqs MB/s" "$mvs MB/s" "$(ratio "$mqs" "$mvs")" \
            "our monitor / QEMU $(ratio "$mgs" "$mqs")"
        row "guest to host, QEMU + virtio-net" "$mqr MB/s" "$mvr MB/s" "$(ratio "$mqr" "$mvr")" \
            "our monitor / QEMU $(ratio "$mgr" "$mqr")"
        echo "(QEMU runs, MB/s: send ${qs[*]}; recv ${qr[*]}. The same kernel, kernel-pvh.elf:"
        echo " q35, virtio-net on a tap on the same bridge, checksum and TSO offloads out, MTU"
        echo " frames in (no GUEST_TSO4), QEMU's own virtio back end: no vhost-net here)"
    else
        echo "QEMU peer skipped: $qerr"
    fi
    tap=$(ip -n "$NS" -o link show master br0 | grep ': lmtap' |
        sed -n '1s/^[0-9]*: \([^:@]*\).* mtu \([0-9]*\).*/\1 MTU \2/p')
    echo "(each run, MB/s: guest send ${gs[*]}; veth send ${vs[*]};"
    echo " guest recv ${gr[*]}; veth recv ${vr[*]}."
    echo " tap ${tap:-?}: the guest with checksum and segmentation offloads (TSO out, GRO in);"
    echo " veth MTU $(mtu_of "$NSA" veth0) with GSO/GRO)"
}

# ---- 3. idle cost -------------------------------------------------------------------------
section_idle() {
    echo "== idle 64 MiB VM (${IDLE_SAMPLE} s sample after ${IDLE_WAIT} s;" \
        "peer: QEMU microvm, halted guest, same run)"
    local vm qemu qerr
    pin_neigh 4
    # shellcheck disable=SC2046
    vm=$(in_ns "$NS" timeout "$PROBE_LIMIT" "$PROBE" idle "$IDLE_WAIT" "$IDLE_SAMPLE" --http 10.200.0.4 80 -- \
        $(vmm_args 4 http)) || { echo "FAILED: idle lm-vmm app=http (see stderr)"; return 1; }
    qerr=$(why_no_qemu)
    if [ -z "$qerr" ]; then
        qemu=$(timeout "$PROBE_LIMIT" "$PROBE" idle "$IDLE_WAIT" "$IDLE_SAMPLE" --want "$PVH_TEXT" \
            -- "$QEMU" "${QEMU_ARGS[@]}" -kernel "$PVH_IDLE") ||
            qerr="QEMU idle run failed or took over $PROBE_LIMIT s (see stderr)"
    fi
    local vc vn vr qc qn qr vrm qrm tick
    vc=$(field cpu_pct "$vm") vn=$(field run_pct "$vm") vr=$(field rss_kib "$vm")
    qc=$(field cpu_pct "${qemu:-}") qn=$(field run_pct "${qemu:-}") qr=$(field rss_kib "${qemu:-}")
    vrm=$(awk -v k="$vr" 'BEGIN { printf "%.1f", k / 1024 }')
    qrm=$([ -n "$qr" ] && awk -v k="$qr" 'BEGIN { printf "%.1f", k / 1024 }' || echo n/a)
    tick=$(awk -v t="$(getconf CLK_TCK)" -v s="$IDLE_SAMPLE" 'BEGIN { printf "%.2f", 100 / t / s }')
    row "" "lm-vmm" "qemu microvm" "ratio"
    row "CPU, % of one core (utime+stime)" "$vc %" "${qc:-n/a} %" "$(ratio "$vc" "$qc")" \
        "ratio to one core $(ratio "$vc" 100)"
    row "CPU, % of one core (scheduler run time)" "$vn %" "${qn:-n/a} %" "$(ratio "$vn" "$qn")" \
        "ratio to one core $(ratio "$vn" 100)"
    row "monitor RSS (VmRSS)" "$vrm MiB" "$qrm MiB" "$(ratio "$vr" "$qr")" \
        "ratio to guest RAM $(ratio "$vr" 65536)"
    [ -z "$qerr" ] || echo "qemu peer skipped: $qerr"
    echo "(utime+stime from /proc/PID/stat counts in steps of $tick %; run time sums"
    echo " /proc/PID/task/*/schedstat in ns. lm-vmm runs app=http and answered GET / afterwards;"
    echo " qemu runs tests/bench/pvh built with PVH_IDLE: it prints its line, then cli; hlt)"
}

skip=$(why_skip)
if [ -n "$skip" ]; then
    echo "== KVM monitor start-up"
    echo "skipped: $skip"
    echo "== guest TCP throughput"
    echo "skipped: $skip"
    echo "== idle 64 MiB VM"
    echo "skipped: $skip"
    exit 0
fi
make_bridge_ns || { echo "FAILED: cannot create network namespace $NS"; exit 1; }
rc=0
for s in ${BENCH_SECTIONS:-startup throughput idle}; do
    "section_$s" || rc=1
done
exit $rc
