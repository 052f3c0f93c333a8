# Sourced by the benchmark scripts that run VMs in network namespaces:
#   . bench.bash DIR NAME NETNS...
# W, a scratch directory DIR/lm-NAME-XXXXXX; PIDS, the processes to stop; on exit those are
# stopped and waited for, then the namespaces NETNS deleted and W removed. in_ns runs a command
# in the first namespace.
W=$(mktemp -d "$1/lm-$2-XXXXXX")
BENCH_NETNS=("${@:3}")
PIDS=()
# stop_bg PID...: stops what `in_ns CMD &` started: $! is a subshell, CMD its child, so the
# children go too (stopping the subshell alone left clients and daemons running, orphaned).
stop_bg() {
    local p
    for p in "$@"; do pkill -P "$p" 2>/dev/null; kill "$p" 2>/dev/null; done
    for p in "$@"; do wait "$p" 2>/dev/null; done
    return 0 # (a stopped process's status is not the caller's)
}
bench_cleanup() {
    stop_bg "${PIDS[@]}"
    for n in "${BENCH_NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$W"
}
trap bench_cleanup EXIT
in_ns() { ip netns exec "${BENCH_NETNS[0]}" "$@"; }

# Exits (as a failed benchmark) unless this runs as root with /dev/kvm (the box has both).
bench_require_kvm() {
    if [ ! -w /dev/kvm ] || [ "$(id -u)" -ne 0 ]; then
        echo "FAILED: needs root and /dev/kvm (make bench runs it in the KVM box where there is none)"
        exit 1
    fi
}

# bench_migration_setup A.B.C: the migration benchmarks' stage: a bridge br0 at A.B.C.1/24 in the
# first namespace (its MAC set: QEMU's taps, which it adds itself, would otherwise change it),
# then, in W, the owner's key (OWNER: its command-line words; LM_OWNER) and
# the migration key mig.key.
bench_migration_setup() {
    ip netns add "${BENCH_NETNS[0]}" && in_ns ip link set lo up &&
        in_ns ip link add br0 address 02:4c:4d:62:72:30 type bridge && in_ns ip addr add "$1.1/24" dev br0 &&
        in_ns ip link set br0 up || { echo "FAILED: bridge"; exit 1; }
    cd "$W" || exit 1
    "$LMCTL" keygen owner.key >/dev/null && "$LMCTL" migkey new mig.key >/dev/null || exit 1
    OWNER=$("$LMCTL" owner-cmdline --owner owner.key)
    export LM_OWNER=$W/owner.key
}
