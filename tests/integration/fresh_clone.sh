#!/usr/bin/env bash
# A newcomer's first command: in a fresh copy of the work tree (no build/), `make demo` runs
# deps, builds everything and runs the demo to its end. The source packages come from this
# tree's build/third_party through LM_SOURCE_CACHE, so they appear in the copy only when its
# `make deps` runs, as they would from `apt-get source` on a new machine.
#
# Without /dev/kvm here, tools/demo.sh runs the demo in a KVM box (QEMU TCG, minutes): only in
# CI (CI=true) or with LM_FRESH_CLONE_BOX=1; otherwise `make demo` stops where the box would
# start (LM_IN_KVMBOX=1 makes demo.sh refuse), after deps and the build it exists to check.
. "$(dirname "$0")/tap.bash"
[ "$(id -u)" -eq 0 ] || skip_or_fail "make demo needs root"
[ -c /dev/net/tun ] || skip_or_fail "no /dev/net/tun"
git -C "$TOP" rev-parse --is-inside-work-tree >/dev/null 2>&1 ||
    skip_or_fail "$TOP is not a git work tree: nothing to copy as a fresh clone"
for p in lwip libsodium libzstd; do
    [ -d "$BUILD/third_party/$p/src" ] ||
        skip_or_fail "no $BUILD/third_party/$p/src to copy the sources from: run make deps"
done

# The tracked files as they stand in the work tree, uncommitted changes included: what a clone
# would hold once they are committed. Untracked files stay out, as they would. Not under /tmp,
# which the KVM box covers with its own tmpfs.
FRESH=$(mktemp -d /var/tmp/lm-fresh-XXXXXX)
trap 'rm -rf "$SCRATCH" "$FRESH"' EXIT
TREE=$FRESH/tree
mkdir -p "$TREE"
(cd "$TOP" && git ls-files -z | while IFS= read -r -d '' f; do
    [ -e "$f" ] || [ -L "$f" ] && printf '%s\0' "$f"
done | tar --null -T - -cf -) | tar -C "$TREE" -xf -
if [ -f "$TREE/Makefile" ] && [ ! -e "$TREE/build" ]; then
    ok "fresh copy of the work tree in $TREE, no build/"
else
    not_ok "fresh copy of the work tree in $TREE, no build/"
fi

kvm_here() { [ -r /dev/kvm ] && [ -w /dev/kvm ]; }
nobox=
if ! kvm_here && [ "${CI:-}" != true ] && [ -z "${LM_FRESH_CLONE_BOX:-}" ]; then
    nobox=1
fi

# As typed in a shell: nothing inherited from the make running this test.
start=$(date +%s)
LOGF=$SCRATCH/make-demo.log
(cd "$TREE" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u LM_TOP \
    ${nobox:+LM_IN_KVMBOX=1} LM_SOURCE_CACHE="$BUILD/third_party" make -j2 demo) >"$LOGF" 2>&1
rc=$?
echo "# make -j2 demo: exit $rc after $(($(date +%s) - start)) s"
show_log() {
    grep -nE 'rror|missing|No such file|demo: ' "$LOGF" | head -20 | sed 's/^/# /'
    echo "# last lines of the log:"
    tail -15 "$LOGF" | sed 's/^/# /'
    local untracked
    untracked=$(git -C "$TOP" ls-files --others --exclude-standard | head -10 | tr '\n' ' ')
    [ -z "$untracked" ] ||
        echo "# not in the copy (untracked; git add what the build needs): $untracked"
}

if grep -q "copying source package libsodium from $BUILD/third_party" "$LOGF"; then
    ok "make demo ran make deps, which copied the sources in"
else
    not_ok "make demo ran make deps, which copied the sources in"
    show_log
fi

missing=()
for f in guest/kernel.elf bootloader/loader.elf bin/lm-vmm bin/evilman bin/lm-broker bin/lmctl \
    tests/compute_ref; do
    [ -s "$TREE/build/$f" ] || missing+=("build/$f")
done
if [ ${#missing[@]} -eq 0 ]; then
    ok "make demo built what the demo runs"
else
    not_ok "make demo built what the demo runs (missing: ${missing[*]})"
    show_log
fi

# The box itself (nested KVM under TCG) has killed a VM at random, about once in a few hundred
# boots, and the demo boots dozens: as the runner does for box tests, a demo that failed inside
# the box (after deps and the build) runs once more, its first failure printed; a real failure
# fails twice.
if [ -z "$nobox" ] && [ "$rc" -ne 0 ] && [ ${#missing[@]} -eq 0 ] && grep -q "runs in a KVM box" "$LOGF"; then
    echo "# make demo failed in the KVM box (exit $rc); its first run said:"
    show_log
    mv "$LOGF" "$LOGF.1"
    (cd "$TREE" && env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u BUILD -u LM_TOP \
        LM_SOURCE_CACHE="$BUILD/third_party" make -j2 demo) >"$LOGF" 2>&1
    rc=$?
    echo "# make demo, once more: exit $rc"
fi
if [ -n "$nobox" ]; then
    T_N=$((T_N + 1))
    echo "ok $T_N # SKIP no /dev/kvm here: the demo itself would run in a KVM box (minutes); CI=true or LM_FRESH_CLONE_BOX=1 runs it"
elif [ "$rc" -eq 0 ] && grep -q '^demo: done' "$LOGF"; then
    ok "make demo as the first command runs the demo to its end"
else
    not_ok "make demo as the first command runs the demo to its end (exit $rc)"
    show_log
fi
done_testing
