#!/usr/bin/env bash
# Runs every benchmark (programs, and .sh scripts) and tees their report sections into REPORT.
# usage: run.sh REPORT BENCH... ; exits non-zero if any benchmark failed (timings never fail).
set -u -o pipefail
report=$1
shift
mkdir -p "$(dirname "$report")"
{
    echo "Laundromat benchmark report, $(date -u +%Y-%m-%dT%H:%M:%SZ), $(nproc) cores, $(uname -r)"
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
