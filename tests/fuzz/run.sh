#!/usr/bin/env bash
# Runs the named fuzz targets FUZZ_SECONDS each (make fuzz); one line per target, 1 on a finding.
# Corpus: $BUILD/fuzz/corpus/<target> (grows), seeds: $BUILD/fuzz/seeds/<target> (read only),
# crash inputs: $BUILD/fuzz/<target>-crash-*, full output: $BUILD/fuzz/logs/<target>.log.
set -u
BUILD=${BUILD:-build}
FUZZ_SECONDS=${FUZZ_SECONDS:-60}
logs=$BUILD/fuzz/logs
mkdir -p "$logs"
failed=()

# Value of libFuzzer's final "stat::NAME: value" line, or "?".
stat() {
    local v
    v=$(sed -n "s/^stat::$1: *//p" "$2" | tail -1)
    echo "${v:-?}"
}

echo "fuzz: ${FUZZ_SECONDS}s per target"
for name in "$@"; do
    bin=$BUILD/fuzz/$name
    corpus=$BUILD/fuzz/corpus/$name
    log=$logs/$name.log
    if [ ! -x "$bin" ]; then
        printf '  %-14s FAILED  %s is missing; run make fuzz-build\n' "$name" "$bin"
        failed+=("$name")
        continue
    fi
    mkdir -p "$corpus"
    "$bin" -max_total_time="$FUZZ_SECONDS" -print_final_stats=1 \
        -artifact_prefix="$BUILD/fuzz/$name-" "$corpus" "$BUILD/fuzz/seeds/$name" >"$log" 2>&1
    rc=$?
    last=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    corp=$(sed -n 's/.* corp: \([0-9]*\).*/\1/p' <<<"$last")
    if [ "$rc" -eq 0 ]; then
        printf '  %-14s ok      %10s runs  %7s exec/s  cov %s  corpus %s\n' "$name" \
            "$(stat number_of_executed_units "$log")" "$(stat average_exec_per_sec "$log")" \
            "${cov:-?}" "${corp:-?}"
    else
        failed+=("$name")
        artifact=$(sed -n 's/.*[Tt]est unit written to \(.*\)$/\1/p' "$log" | tail -1)
        summary=$(grep -m1 -E '^==[0-9]+== ?ERROR: |^SUMMARY: |deadly signal|ERROR: libFuzzer' \
            "$log")
        printf '  %-14s FAILED  exit %d: %s\n' "$name" "$rc" "${summary:-see the log}"
        printf '  %-14s         input: %s  log: %s\n' "" "${artifact:-none written}" "$log"
    fi
done

if [ ${#failed[@]} -gt 0 ]; then
    echo "fuzz: findings in ${failed[*]}"
    exit 1
fi
echo "fuzz: no findings"
