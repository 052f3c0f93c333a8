#!/usr/bin/env bash
# Benchmark: the same 64 MiB HTTP guest (our kernel on standard virtual hardware: PVH boot,
# virtio-net on a tap on one bridge) under the same keep-alive client, moved N times each way:
#   (a) by QEMU's own live migration, QMP `migrate` from one QEMU process to another started
#       with -incoming, with QEMU's defaults (downtime limit 300 ms, its bandwidth limit) and
#       with its best settings here (no bandwidth limit to speak of: above any link's rate;
#       zero pages are detected by QEMU in any case);
#   (b) by itself: self-migration (lmctl migrate) into a loader VM, a QEMU running the PVH
#       loader, which gets its key over the host channel (COM2, include/laundromat/hostchan.h).
# Client-seen downtime (median, p99), total time and bytes on the wire, each as a ratio of
# self-migration to QEMU. Ratios, never thresholds: it fails only when something does not work.
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
B=${BUILD:-$TOP/build}
KERNEL=$B/guest/kernel-pvh.elf LOADER=$B/bootloader/loader-pvh.elf LMCTL=$B/bin/lmctl
N=${LM_BENCH_QEMU_MIGRATIONS:-10}
NS=lmqm$$
. "$TOP/tests/bench/bench.bash" /tmp benchqm "$NS"
echo
echo "== QEMU's live migration vs self-migration: the same 64 MiB HTTP guest on standard virtual" \
    "hardware under load, $N moves each (bench_qemu_mig.sh)"
if [ ! -w /dev/kvm ] || [ "$(id -u)" -ne 0 ] || ! command -v qemu-system-x86_64 >/dev/null; then
    echo "FAILED: needs root, /dev/kvm and qemu-system-x86_64 (make bench runs it in the KVM box)"
    exit 1
fi
[ -n "${LM_IN_KVMBOX:-}" ] && echo "(in the KVM box: QEMU TCG, nested KVM; figures say little about real hardware)"
. "$TOP/tests/integration/pvh.bash"

GUEST=10.81.0.2 MAC=02:00:00:81:00:02
bench_migration_setup 10.81.0

# qemu_vm NAME TAP MIB [QEMU ARGS...]: a QEMU in the namespace (console NAME.log, QMP NAME.qmp),
# virtio-net on TAP on br0 with the guest's MAC (or VM_MAC); in the background, its pid in PIDS
# and QPID.
qemu_vm() {
    local name=$1 tap=$2 mib=$3 _
    shift 3
    PVH_TIMEOUT=3600 PVH_MEM=$mib nsenter --net="/run/netns/$NS" bash -c '. "$1"; shift; pvh_qemu "$@"' _ \
        "$TOP/tests/integration/pvh.bash" -qmp "unix:$W/$name.qmp,server=on,wait=off" \
        -netdev "tap,id=n0,ifname=$tap,script=no,downscript=no" \
        -device "virtio-net-pci,netdev=n0,mac=${VM_MAC:-$MAC}" "$@" >"$name.log" 2>&1 &
    QPID=$!
    PIDS+=($QPID)
    for _ in $(seq 400); do ip -n "$NS" link show "$tap" >/dev/null 2>&1 && [ -S "$name.qmp" ] && break; sleep 0.05; done
    ip -n "$NS" link set "$tap" master br0 up
}

# QMP: python3 qmp.py SOCKET COMMAND [ARGUMENTS-JSON]; "migrate-wait" polls query-migrate
# until the migration ends and prints its final state.
cat >qmp.py <<'PY'
import json, socket, sys, time
s = socket.socket(socket.AF_UNIX); s.connect(sys.argv[1]); f = s.makefile("rw")
def call(cmd, args=None):
    f.write(json.dumps({"execute": cmd, **({"arguments": args} if args else {})}) + "\n"); f.flush()
    while True:
        m = json.loads(f.readline())
        if "return" in m: return m["return"]
        if "error" in m: sys.exit("qmp %s: %s" % (cmd, m["error"]["desc"]))
json.loads(f.readline()); call("qmp_capabilities")
if sys.argv[2] == "migrate-wait":
    while True:
        r = call("query-migrate")
        if r.get("status") in ("completed", "failed", "cancelled"): print(json.dumps(r)); break
        time.sleep(0.01)
else:
    print(json.dumps(call(sys.argv[2], json.loads(sys.argv[3]) if len(sys.argv) > 3 else None)))
PY

# The client: request after request on one keep-alive connection, each answer's time logged;
# its longest gap during a move is the downtime it saw (bench_mig.sh's client).
cat >client.py <<'PY'
import socket, sys, time
out = open(sys.argv[2], "w")
while True:
    try:
        s = socket.create_connection((sys.argv[1], 80), timeout=30)
        req = b"GET / HTTP/1.1\r\nHost: g\r\n\r\n"
        while True:
            s.sendall(req); got = b""
            while b"\r\n\r\n" not in got:
                d = s.recv(65536)
                if not d: raise OSError("closed")
                got += d
            head, body = got.split(b"\r\n\r\n", 1)
            n = int([l.split(b":")[1] for l in head.split(b"\r\n") if l.lower().startswith(b"content-length")][0])
            while len(body) < n: body += s.recv(65536)
            out.write("%.6f\n" % time.time()); out.flush()
    except OSError:
        time.sleep(0.01) # a connection lost in a move: a new one (its gap counts)
PY
serving() { for _ in $(seq 600); do in_ns curl -s -m 1 "http://$GUEST/" >/dev/null && return 0; sleep 0.05; done; return 1; }

# ---- (a) QEMU's live migration, ping-pong between QEMU processes, per setting -----------------
qemu_runs() { # MODE PARAMETERS-JSON
    local mode=$1 params=$2 cur i port out
    qemu_vm "$mode-0" "lmqm${mode:0:1}0" 64 -append "app=http ip=$GUEST/24 gw=10.81.0.1 $OWNER"
    cur=$mode-0
    CUR_PID=$QPID
    serving || { echo "FAILED: the guest under QEMU ($mode) does not serve; its console:"; tail -5 "$cur.log"; return 1; }
    in_ns python3 client.py "$GUEST" "times-$mode.txt" & CLIENT=$!
    PIDS+=($CLIENT)
    sleep 1
    : >"migs-$mode.txt"
    for i in $(seq "$N"); do
        port=$((4400 + i))
        qemu_vm "$mode-$i" "lmqm${mode:0:1}$i" 64 -append "app=http ip=$GUEST/24 gw=10.81.0.1 $OWNER" \
            -incoming "tcp:127.0.0.1:$port"
        local next_pid=$QPID
        for f in "$cur" "$mode-$i"; do
            [ -S "$f.qmp" ] || { echo "FAILED: QEMU $f has no QMP socket; its console:"; tail -5 "$f.log"; ls; return 1; }
        done
        python3 qmp.py "$cur.qmp" migrate-set-parameters "$params" >/dev/null || return 1
        t0=$(date +%s.%N)
        python3 qmp.py "$cur.qmp" migrate "{\"uri\": \"tcp:127.0.0.1:$port\"}" >/dev/null || return 1
        out=$(python3 qmp.py "$cur.qmp" migrate-wait) || return 1
        t1=$(date +%s.%N)
        case $out in *'"completed"'*) ;; *) echo "FAILED: QEMU migration $i ($mode): $out"; return 1 ;; esac
        echo "$t0 $t1 $out" >>"migs-$mode.txt"
        python3 qmp.py "$cur.qmp" quit >/dev/null 2>&1
        wait "$CUR_PID" 2>/dev/null
        cur=$mode-$i CUR_PID=$next_pid
        sleep 0.3
        if ! kill -0 "$CUR_PID" 2>/dev/null; then
            wait "$CUR_PID"
            echo "FAILED: after QEMU's migration $i ($mode) the destination QEMU ended (status $?:" \
                "the guest's reset or triple fault ends it, -no-reboot); its state: $(python3 -c \
                'import json,sys; print(json.load(open(sys.argv[1]))["status"])' /dev/null 2>/dev/null)"
            tail -3 "$cur.log"
            return 1
        fi
    done
    stop_bg "$CLIENT"
    python3 qmp.py "$cur.qmp" quit >/dev/null 2>&1
    wait "$CUR_PID" 2>/dev/null
}

# ---- (b) self-migration, ping-pong between loader VMs ----------------------------------------
# The host side of a loader VM's channel: listens, sends the HELLO with the loader's key (a
# 32-byte X25519 secret, hex in FILE), then drains what the guest says until QEMU goes.
cat >chan.py <<'PY'
import os, socket, sys
key = bytes.fromhex(open(sys.argv[2]).read().split()[-1])
l = socket.socket(socket.AF_UNIX); l.bind(sys.argv[1]); l.listen(1)
open(sys.argv[1] + ".ready", "w").close()
c, _ = l.accept(); c.sendall(bytes([0xa7, 1, 32]) + key)
while c.recv(4096): pass
PY
LOADER_MIB=1872 # the loader's block ends at 1856 MiB (ABI.md): RAM past it
loader_vm() { # NAME IP SENDER COMMITMENT [KEYFILE]: a loader VM, its key (if any) over COM2
    local name=$1 ip=$2 sender=$3 commit=$4 key=${5:-} chan=()
    if [ -n "$key" ]; then
        python3 chan.py "$W/$name.chan" "$key" & PIDS+=($!)
        for _ in $(seq 200); do [ -e "$W/$name.chan.ready" ] && break; sleep 0.02; done
        chan=(-chardev "socket,id=chan,path=$W/$name.chan" -serial chardev:chan)
    fi
    # A loader VM has a MAC of its own; the guest moving in keeps its own (QEMU's virtio-net
    # takes any destination address without the control queue's filters).
    VM_MAC=02:00:00:81:01:$(printf %02x "${name#s}") PVH_KERNEL=$LOADER qemu_vm "$name" "lmqs$name" $LOADER_MIB "${chan[@]}" -append \
        "app=loader port=7700 wait_s=120 idle_s=30 sender=$sender mem=64 commitment=$commit ip=$ip/24 gw=10.81.0.1"
    for _ in $(seq 1200); do grep -qs "waiting on TCP" "$name.log" && return 0; sleep 0.05; done
    echo "FAILED: loader VM $name did not come up; its console:"
    tail -5 "$name.log"
    return 1
}
self_runs() {
    local i ip out t0 t1
    # The first copy: a loader VM (no key: an image), the kernel injected, so that its RAM is
    # exactly 64 MiB as in every loader VM it moves to.
    "$LMCTL" keygen k.key >/dev/null &&
        "$LMCTL" token mint --key k.key --host x --image "$KERNEL" --prepaid 1 -o img.tok >/dev/null || return 1
    local icommit
    icommit=$("$LMCTL" token show --json img.tok | sed -n 's/.*"commitment": "\([0-9a-f]*\)".*/\1/p')
    loader_vm s0 "$GUEST" 10.81.0.1 "$icommit" || return 1
    in_ns "$LMCTL" inject --timeout 120000 "$GUEST" "$KERNEL" --cmdline "app=http $OWNER" >inject.txt 2>&1 ||
        { echo "FAILED: injecting the guest: $(cat inject.txt)"; return 1; }
    serving || { echo "FAILED: the self-migrating guest does not serve"; tail -5 s0.log; return 1; }
    in_ns python3 client.py "$GUEST" times-self.txt & CLIENT=$!
    PIDS+=($CLIENT)
    sleep 1
    : >migs-self.txt
    for i in $(seq "$N"); do
        ip=10.81.0.$((100 + i))
        "$LMCTL" migkey new "l$i.key" >"l$i.pub"
        loader_vm "s$i" "$ip" "$GUEST" "$("$LMCTL" migkey show mig.key)" "l$i.key" || return 1
        t0=$(date +%s.%N)
        out=$(in_ns "$LMCTL" migrate --loader "$ip" --loader-pub "$(cat "l$i.pub")" --mig-key mig.key \
            --quiet --json "$GUEST" 2>&1) || {
            echo "FAILED: self-migration $i: $out"
            for f in "s$((i - 1)).log" "s$i.log"; do echo "$f ends:"; tail -6 "$f" | sed 's/^/  /'; done
            return 1
        }
        t1=$(date +%s.%N)
        echo "$t0 $t1 $out" >>migs-self.txt
        sleep 0.3
    done
    stop_bg "$CLIENT"
}

qemu_runs default '{"downtime-limit": 300}' || exit 1
qemu_runs best '{"downtime-limit": 300, "max-bandwidth": 107374182400}' || exit 1
self_runs || exit 1

python3 - <<'PY'
import json, statistics
def pct(v, p):
    v = sorted(v); return v[min(len(v) - 1, int(round(p / 100 * (len(v) - 1))))]
def load(mode):
    times = [float(l) for l in open("times-%s.txt" % mode)]
    migs = []
    for line in open("migs-%s.txt" % mode):
        t0, t1, js = line.split(" ", 2)
        migs.append((float(t0), float(t1), json.loads(js)))
    seen = []
    for t0, t1, _ in migs:
        w = [b - a for a, b in zip(times, times[1:]) if b >= t0 and a <= t1 + 1]
        seen.append(max(w) * 1e3 if w else float("nan"))
    if mode == "self":
        tot = [m[2]["last"]["total_ns"] / 1e6 for m in migs]
        byt = [m[2]["last"]["bytes"] / 2**20 for m in migs]
    else:
        tot = [float(m[2]["total-time"]) for m in migs]
        byt = [m[2]["ram"]["transferred"] / 2**20 for m in migs]
    return {"seen": seen, "total": tot, "bytes": byt, "n": len(migs), "answers": len(times)}
r = {m: load(m) for m in ("default", "best", "self")}
print("moves: %d each; answers the client got: QEMU defaults %d, QEMU best %d, self %d" %
      (r["self"]["n"], r["default"]["answers"], r["best"]["answers"], r["self"]["answers"]))
print("%-34s %12s %12s %12s %10s %10s" % ("median / p99", "QEMU default", "QEMU best", "self", "self/dflt", "self/best"))
for key, name, fmt in (("seen", "longest gap a client saw, ms", "%.1f"), ("total", "total time, ms", "%.0f"),
                       ("bytes", "bytes on the wire, MiB", "%.1f")):
    for stat, f in (("median", statistics.median), ("p99", lambda v: pct(v, 99))):
        d, b, s = f(r["default"][key]), f(r["best"][key]), f(r["self"][key])
        print("%-34s %12s %12s %12s %10.2f %10.2f" % ("%s (%s)" % (name, stat), fmt % d, fmt % b, fmt % s,
              s / d if d else float("nan"), s / b if b else float("nan")))
PY
echo "(QEMU: QMP migrate between two QEMU processes over loopback, the guest booted directly with"
echo " 64 MiB; its defaults: downtime limit 300 ms and QEMU's own bandwidth limit; best: the same"
echo " downtime limit, bandwidth 100 GiB/s. Self: lmctl migrate into a loader VM on the bridge, the"
echo " guest sending its own 64 MiB over its own TCP. Total time: QEMU's total-time; self: from the"
echo " command to GO. A client's gap includes its own round trip.)"
exit 0
