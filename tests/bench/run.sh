#!/usr/bin/env bash
# Runs every benchmark (programs, and .sh scripts) and tees their report sections into REPORT.
# usage: run.sh REPORT BENCH... ; exits non-zero if any benchmark failed (timings never fail).
set -u -o pipefail
report=$1
shift
mkdir -p "$(dirname "$report")"
# No /dev/kvm here (a PVM guest cannot nest PVM): the benchmarks run in the KVM box, where
# QEMU's TCG emulates the machine: the figures then describe the box, not the hardware, and
# the report says so.
if [ ! -w /dev/kvm ] && [ -z "${LM_IN_KVMBOX:-}" ]; then
    top=$(cd "$(dirname "$0")/../.." && pwd)
    echo "bench: no /dev/kvm here: the benchmarks run in the KVM box (tools/kvmbox.sh); its figures are TCG's, not this hardware's"
    LM_IN_KVMBOX=1 exec bash "$top/tools/kvmbox.sh" -- env BUILD="${BUILD:-$top/build}" \
        bash "$top/tests/bench/run.sh" "$report" "$@"
fi
{
    echo "Laundromat benchmark report, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r)${LM_IN_KVMBOX:+, in the KVM box (QEMU TCG, nested KVM: not the figures of this hardware)}"
    rc=0
    for b in "$@"; do
        case $b in
        *.sh) bash "$b" ;;
        *) "$b" ;;
        esac
        st=$?
        if [ "$st" -ne 0 ]; then
            echo "FAILED: $b exited with status $st"
            rc=1
        fi
    done
    exit $rc
} | tee "$report"
