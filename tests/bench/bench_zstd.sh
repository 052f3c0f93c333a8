#!/usr/bin/env bash
# Benchmark: zstd on the migration stream, on against off, in one run: bytes on the wire and
# total time of the same move for an idle guest (app=http, no load), a computing guest
# (app=compute) and a guest rewriting memory (app=dirty), each moved between loader VMs on one
# bridge, alternating off and on. Ratios, never thresholds: it fails only when something does
# not work.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-$TOP/build}
VMM=$B/bin/lm-vmm KERNEL=$B/guest/kernel.elf LOADER=$B/bootloader/loader.elf LMCTL=$B/bin/lmctl
N=${LM_BENCH_ZSTD_MOVES:-3} # moves per workload and setting
NS=lmbz$$
. "$TOP/tests/bench/bench.bash" /tmp benchz "$NS"
echo
echo "== zstd on the migration stream: bytes and total time, on / off, $N moves each (bench_zstd.sh)"
bench_require_kvm
[ -n "${LM_IN_KVMBOX:-}" ] && echo "(in the KVM box: QEMU TCG, nested KVM; compression runs at TCG speed there)"
bench_migration_setup 10.79.0

# One guest per workload, then 2N moves between fresh loader VMs: off, on, off, on...
loader=0
: >moves.txt
run() { # name, guest IP, command line
    local name=$1 ip=$2 cmd=$3 at=$2
    in_ns "$VMM" -m 64 --bridge br0 --ip "$ip/24" --gw 10.79.0.1 --mac "$(printf '02:00:00:79:00:%02x' "${ip##*.}")" \
        -c "$cmd $OWNER" "$KERNEL" >"$name.log" 2>&1 & PIDS+=($!)
    for _ in $(seq 600); do grep -qs "control: owner" "$name.log" && break; sleep 0.05; done
    grep -qs "control: owner" "$name.log" || { echo "FAILED: guest $name did not come up:"; tail -3 "$name.log"; return 1; }
    sleep 2 # the workload under way (app=dirty touches its memory first)
    for i in $(seq $((2 * N))); do
        loader=$((loader + 1))
        local lip=10.79.0.$((100 + loader)) z=off
        [ $((i % 2)) = 0 ] && z=on
        "$LMCTL" migkey new "l$loader.key" >"l$loader.pub"
        in_ns "$VMM" -m 64 --loader --bridge br0 --ip "$lip/24" --gw 10.79.0.1 \
            --commitment "$("$LMCTL" migkey show mig.key)" --loader-key "$(cat "l$loader.key")" \
            -c "sender=$at wait_s=60" "$LOADER" >"l$loader.log" 2>&1 & PIDS+=($!)
        for _ in $(seq 200); do grep -qs "waiting on TCP" "l$loader.log" && break; sleep 0.05; done
        local zo=()
        [ "$z" = on ] && zo=(--zstd)
        out=$(in_ns "$LMCTL" migrate --loader "$lip" --loader-pub "$(cat "l$loader.pub")" \
            --mig-key mig.key --max-rounds 8 --quiet --json "${zo[@]}" "$ip" 2>&1) ||
            { echo "FAILED: $name move $i (zstd $z): $out"; return 1; }
        echo "$name $z $out" >>moves.txt
        sleep 0.5
    done
}
run idle 10.79.0.2 "app=http" &&
    run compute 10.79.0.3 "app=compute n=2000000 rounds=1000000" &&
    run dirty 10.79.0.4 "app=dirty mib=8 rate=2" || exit 1

python3 - <<'PY'
import json, statistics
rows = {}
for line in open("moves.txt"):
    name, z, js = line.split(" ", 2)
    last = json.loads(js)["last"]
    rows.setdefault(name, {}).setdefault(z, []).append(last)
print("%-9s %-5s %12s %12s %12s" % ("guest", "zstd", "MiB sent", "total ms", "downtime ms"))
for name in ("idle", "compute", "dirty"):
    med = {}
    for z in ("off", "on"):
        v = rows[name][z]
        b = statistics.median(m["bytes"] for m in v) / 1048576
        t = statistics.median(m["total_ns"] for m in v) / 1e6
        d = statistics.median(m["downtime_ns"] for m in v) / 1e6
        med[z] = (b, t, d)
        print("%-9s %-5s %12.2f %12.1f %12.3f" % (name, z, b, t, d))
    print("%-9s on/off: bytes %.2f, total time %.2f, downtime %.2f" % (
        name, med["on"][0] / med["off"][0], med["on"][1] / med["off"][1], med["on"][2] / med["off"][2]))
PY
