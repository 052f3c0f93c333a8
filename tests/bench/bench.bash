# Sourced by the benchmark scripts that run VMs in network namespaces:
#   . bench.bash DIR NAME NETNS...
# W, a scratch directory DIR/lm-NAME-XXXXXX; PIDS, the processes to stop; on exit those are
# stopped and waited for, then the namespaces NETNS deleted and W removed. in_ns runs a command
# in the first namespace.
W=$(mktemp -d "$1/lm-$2-XXXXXX")
BENCH_NETNS=("${@:3}")
PIDS=()
bench_cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    for n in "${BENCH_NETNS[@]}"; do ip netns del "$n" 2>/dev/null; done
    rm -rf "$W"
}
trap bench_cleanup EXIT
in_ns() { ip netns exec "${BENCH_NETNS[0]}" "$@"; }
