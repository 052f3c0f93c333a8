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

# Prints the plan line last and exits non-zero if anything failed.
done_testing() {
    echo "1..$T_N"
    [ "$T_FAILED" -eq 0 ]
}
