# Sourced by integration tests: TAP output helpers and a scratch directory removed on exit.
set -u
TOP=${LM_TOP:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
BUILD=${BUILD:-$TOP/build}
LMCTL=$BUILD/bin/lmctl
T_N=0
T_FAILED=0
# LM_SCRATCH_ROOT: where scratch directories go (default /tmp). To keep a hanging test's logs
# from a KVM box, point it into the work tree, which the box shares; not for tests that bind
# UNIX sockets there (the box mounts the tree over 9p, where they cannot be made).
mkdir -p "${LM_SCRATCH_ROOT:-/tmp}"
SCRATCH=$(mktemp -d "${LM_SCRATCH_ROOT:-/tmp}/lm-test-XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT

ok() { T_N=$((T_N + 1)); echo "ok $T_N - $*"; }

# stop_procs PID...: for a test's cleanup. SIGTERM to each, then up to LM_STOP_S (20) seconds
# for them to end. One that does not is shown (its state and its children's), killed with its
# children, and the test exits non-zero: a daemon that ignores SIGTERM is a bug, and a cleanup
# that waits for it forever would hang the whole run.
proc_alive() { local s; s=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null) && [ "${s%% *}" != Z ]; }
# A daemon started through a function (in_ns CMD &) runs under a subshell whose pid is $!:
# stopping only the subshell would leave the daemon running, orphaned (seen: brokers outliving
# their tests). The subshell's children are stopped with it.
proc_tree() {
    local p
    for p in "$@"; do
        [ "$(cat "/proc/$p/comm" 2>/dev/null)" = bash ] && pgrep -P "$p"
        echo "$p"
    done
}
stop_procs() {
    local p deadline=$(( $(date +%s) + ${LM_STOP_S:-20} ))
    set -- $(proc_tree "$@")
    for p in "$@"; do kill "$p" 2>/dev/null; done
    for p in "$@"; do
        while proc_alive "$p" && [ "$(date +%s)" -lt "$deadline" ]; do sleep 0.1; done
        if proc_alive "$p"; then
            echo "# process $p did not stop within ${LM_STOP_S:-20} s of SIGTERM: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
            ps -o pid,stat,wchan:24,args -p "$p" --ppid "$p" 2>/dev/null | sed 's/^/#   /'
            pkill -9 -P "$p" 2>/dev/null
            kill -9 "$p" 2>/dev/null
            T_STOP_FAILED=1
        fi
        wait "$p" 2>/dev/null
    done
    return 0
}
# The cleanup's last word: non-zero when a process had to be killed.
cleanup_status() { [ -z "${T_STOP_FAILED:-}" ] || exit 1; }
not_ok() { T_N=$((T_N + 1)); T_FAILED=$((T_FAILED + 1)); echo "not ok $T_N - $*"; }

# expect DESC WANT_STATUS PATTERN -- CMD...: runs CMD, checks its exit status and that its
# combined output matches the extended regex PATTERN (empty: no check).
expect() {
    local desc=$1 want=$2 pat=$3 out rc
    shift 4
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        not_ok "$desc (exit $rc, want $want)"
        printf '%s\n' "$out" | sed 's/^/# /' | head -20
    elif [ -n "$pat" ] && ! printf '%s\n' "$out" | grep -qE -- "$pat"; then
        not_ok "$desc (output lacks /$pat/)"
        printf '%s\n' "$out" | sed 's/^/# /' | head -20
    else
        ok "$desc"
    fi
}

# Skips the rest of the test (outside CI), or fails it loudly (CI=true), when a requirement
# is missing. Usage: require "what is missing" || exit 0
skip_or_fail() {
    if [ "${CI:-}" = true ]; then
        not_ok "$1 (required in CI)"
        done_testing
        exit 1
    fi
    T_N=$((T_N + 1))
    echo "ok $T_N # SKIP $1"
    done_testing
    exit 0
}

# The monitor needs /dev/kvm; network tests also need root and /dev/net/tun.
require_kvm() {
    [ -r /dev/kvm ] && [ -w /dev/kvm ] || skip_or_fail "no usable /dev/kvm"
}
require_net() {
    require_kvm
    [ "$(id -u)" -eq 0 ] || skip_or_fail "network tests need root"
    [ -c /dev/net/tun ] || skip_or_fail "no /dev/net/tun"
    command -v ip >/dev/null || skip_or_fail "no ip command (iproute2)"
}

# compute_n ROUNDS SECONDS: the sieve size n at which app=compute with ROUNDS rounds runs about
# SECONDS on this machine (the guest computes at the host's speed on KVM, ~30 times slower in
# the KVM box), from the host reference's time for a tenth of the rounds at n=300000; clamped
# to 300000..8000000. Tests whose computation must outlast some work size it with this.
compute_n() {
    local t0 ms n
    t0=$(date +%s%N)
    "$BUILD/tests/compute_ref" 300000 $(($1 / 10)) >/dev/null
    ms=$(( ($(date +%s%N) - t0) / 1000000 + 1 ))
    n=$((300000 * $2 * 100 / ms))
    [ "$n" -lt 300000 ] && n=300000
    [ "$n" -gt 8000000 ] && n=8000000
    echo "# the computation: n=$n rounds=$1 (the reference took $ms ms for a tenth of the rounds at n=300000)" >&2
    echo "$n"
}

# Prints the plan line last and exits non-zero if anything failed.
done_testing() {
    echo "1..$T_N"
    [ "$T_FAILED" -eq 0 ]
}
