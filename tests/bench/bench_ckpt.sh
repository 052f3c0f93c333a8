#!/usr/bin/env bash
# Benchmark: checkpoints on disk. For a 64 MiB and a 512 MiB guest (app=dirty holding MIB of
# written memory, so the file has something to hold): `lmctl checkpoint` and `lmctl restore`
# times against the time the disk takes to write and read the same bytes sequentially, both
# measured in this run (dd with fdatasync; a read after dropping the page cache). Ratios,
# never thresholds: it fails only when something does not work.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-$TOP/build}
L=$B/bin/lmctl EM=$B/bin/evilman KERNEL=$B/guest/kernel.elf
NS=lmbc$$
. "$TOP/tests/bench/bench.bash" /var/tmp benchckpt "$NS"
echo
echo "== checkpoints on disk: 64 and 512 MiB guests, against the disk's sequential rate (bench_ckpt.sh)"
bench_require_kvm
[ -n "${LM_IN_KVMBOX:-}" ] && echo "(in the KVM box: QEMU TCG, nested KVM, its disk a tmpfs; figures say little about real hardware)"
cd "$W"
now() { date +%s%N; }
# The disk: 256 MiB written and synced, then read back cold.
t0=$(now)
dd if=/dev/urandom of=disk.bin bs=1M count=256 conv=fdatasync status=none || { echo "FAILED: dd"; exit 1; }
t1=$(now)
sync
echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
t2=$(now)
dd if=disk.bin of=/dev/null bs=1M status=none
t3=$(now)
rm -f disk.bin
wr=$(( (256 << 20) * 1000 / ((t1 - t0) / 1000000 + 1) )) rd=$(( (256 << 20) * 1000 / ((t3 - t2) / 1000000 + 1) ))
echo "disk in $W: sequential write $((wr >> 20)) MiB/s (synced), read $((rd >> 20)) MiB/s"

ip netns add "$NS" && in_ns ip link set lo up && in_ns ip link add br0 type bridge &&
    in_ns ip addr add 10.77.0.1/24 dev br0 && in_ns ip link set br0 up || { echo "FAILED: bridge"; exit 1; }
for k in broker admin alice op1 owner; do "$L" keygen $k.key >/dev/null; done
printf 'listen = 10.77.0.1:8480\ndatabase = ledger.db\nsigning_key = broker.key\nadmin_key = admin.key.pub\n' >broker.conf
in_ns "$B/bin/lm-broker" --config broker.conf 2>broker.log & PIDS+=($!)
export LM_BROKER=http://10.77.0.1:8480 LM_KEY=alice.key LM_OWNER=$W/owner.key
for _ in $(seq 200); do in_ns curl -s -o /dev/null -m 2 "$LM_BROKER/v1/hosts" && break; sleep 0.05; done
in_ns "$L" account create --key admin.key --name alice --role buyer --pub alice.key.pub >/dev/null &&
    in_ns "$L" account create --key admin.key --name op1 --role operator --pub op1.key.pub >/dev/null &&
    in_ns "$L" deposit --key admin.key --account alice --amount 1000000 >/dev/null &&
    in_ns "$L" host-register --key op1.key --name alpha --address 10.77.0.1 --port 7777 --price 1 --unit-ms 1000 >/dev/null ||
    { echo "FAILED: broker setup"; exit 1; }
cat >alpha.conf <<CONF
listen = 10.77.0.1:7777
host_name = alpha
broker_key = $W/broker.key.pub
bridge = br0
bridge_ip = 10.77.0.1/24
pool = 10.77.0.10-10.77.0.49
max_vms = 4
max_mem_mib = 512
total_mem_mib = 1200
loader = $B/bootloader/loader.elf
vmm = $B/bin/lm-vmm
lmctl = $L
broker_url = $LM_BROKER
operator_key = $W/op1.key
loader_wait_s = 60
control = $W/alpha.sock
state_dir = $W/alpha
CONF
in_ns "$EM" --config alpha.conf 2>alpha.log & PIDS+=($!)
for _ in $(seq 200); do [ -S alpha.sock ] && break; sleep 0.05; done
OWNER=$("$L" owner-cmdline --owner owner.key)
fail=0
for mem in 64 512; do
    fill=$((mem / 4))
    in_ns "$L" buy --host alpha --mem $mem --image "$KERNEL" --prepaid 900 -o g$mem.tok 2>/dev/null
    out=$(in_ns "$L" run 10.77.0.1 g$mem.tok "$KERNEL" --cmdline "app=dirty mib=$fill rate=1 $OWNER" 2>&1) ||
        { echo "FAILED: the $mem MiB guest did not boot: $out"; fail=1; continue; }
    vm=$(LM_CONTROL=$W/alpha.sock "$L" host ls | awk '$2 == "running" {print $1" "$3}' | tail -1)
    log=$W/alpha/vm-${vm% *}.log
    for _ in $(seq 1200); do grep -qs "dirty: rewriting" "$log" && break; sleep 0.05; done
    t0=$(now)
    out=$(in_ns "$L" checkpoint --quiet --max-rounds 2 -o g$mem.ckpt "${vm#* }" 2>&1) ||
        { echo "FAILED: checkpoint of the $mem MiB guest: $out"; fail=1; continue; }
    t1=$(now)
    size=$(stat -c %s g$mem.ckpt)
    sync
    echo 3 >/proc/sys/vm/drop_caches 2>/dev/null
    t2=$(now)
    out=$(in_ns "$L" restore --quiet --to alpha g$mem.ckpt 2>&1) ||
        { echo "FAILED: restore of the $mem MiB guest: $out"; fail=1; continue; }
    t3=$(now)
    ck_ms=$(( (t1 - t0) / 1000000 )) rs_ms=$(( (t3 - t2) / 1000000 ))
    dw_ms=$(( size * 1000 / wr + 1 )) dr_ms=$(( size * 1000 / rd + 1 ))
    echo "$mem MiB guest ($fill MiB written by app=dirty): file $((size >> 20)) MiB ($(awk -v s="$size" -v m="$mem" 'BEGIN { printf "%.2f", s / (m * 1048576) }') of RAM)"
    echo "  checkpoint $ck_ms ms: $(awk -v a="$ck_ms" -v b="$dw_ms" 'BEGIN { printf "%.1f", a / b }')x the time the disk takes to write the file ($dw_ms ms)"
    echo "  restore    $rs_ms ms: $(awk -v a="$rs_ms" -v b="$dr_ms" 'BEGIN { printf "%.1f", a / b }')x the time the disk takes to read it ($dr_ms ms), the token and the loader included"
    for id in $(LM_CONTROL=$W/alpha.sock "$L" host ls | awk '$1 ~ /^[0-9]+$/ {print $1}'); do
        LM_CONTROL=$W/alpha.sock "$L" host kill "$id" >/dev/null 2>&1
    done
    for _ in $(seq 100); do LM_CONTROL=$W/alpha.sock "$L" host ls | grep -q '^[0-9]' || break; sleep 0.05; done
    rm -f g$mem.ckpt
done
exit $fail
