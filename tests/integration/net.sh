#!/usr/bin/env bash
# The guest on a real tap on a real bridge, in a namespace of its own, driven by unmodified
# clients: ping, curl, a 10 MB echo round trip, wrk for 10 seconds. LM_GUEST_PLATFORM picks
# the platform: kvm (our monitor, lm-vmm; the default) or pvh (QEMU with virtio-net: net_pvh.sh).
. "$(dirname "$0")/tap.bash"
VMM=$BUILD/bin/lm-vmm
PLATFORM=${LM_GUEST_PLATFORM:-kvm}
case $PLATFORM in
kvm) KERNEL=$BUILD/guest/kernel.elf ;;
pvh) KERNEL=$BUILD/guest/kernel-pvh.elf ;;
*) echo "LM_GUEST_PLATFORM=$PLATFORM: expected kvm or pvh" >&2; exit 2 ;;
esac
require_net
[ "$PLATFORM" = kvm ] || command -v qemu-system-x86_64 >/dev/null ||
    skip_or_fail "no qemu-system-x86_64 (make deps installs it)"
for t in curl wrk python3; do
    command -v $t >/dev/null || skip_or_fail "no $t (make deps installs it)"
done

NS=lmnet$$
PIDS=()
cleanup() {
    stop_procs "${PIDS[@]}"
    ip netns del "$NS" 2>/dev/null
    rm -rf "$SCRATCH"
    cleanup_status
}
trap cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS" && in_ns ip link set lo up && in_ns ip link add br0 type bridge &&
    in_ns ip addr add 10.77.0.1/24 dev br0 && in_ns ip link set br0 up ||
    { not_ok "set up namespace $NS with bridge br0"; done_testing; exit 1; }
ok "namespace $NS with bridge br0 at 10.77.0.1/24"

start_vm() { # log name, IP, guest command line; not through in_ns: $! must be the monitor
    if [ "$PLATFORM" = pvh ]; then # QEMU makes the tap; it joins the bridge once it exists.
        # A MAC of its own: QEMU gives every NIC the same one by default.
        local tap=lmtapq${#PIDS[@]}
        PVH_MEM=64 PVH_TIMEOUT=3600 ip netns exec "$NS" bash -c '. "$1"; shift; pvh_qemu "$@"' \
            pvh "$TOP/tests/integration/pvh.bash" \
            -netdev tap,id=n0,ifname=$tap,script=no,downscript=no \
            -device virtio-net-pci,netdev=n0,mac=52:54:00:77:00:$(printf %02x "${2##*.}") \
            -append "ip=$2/24 gw=10.77.0.1 $3" >"$SCRATCH/$1.log" 2>&1 &
        PIDS+=($!)
        for _ in $(seq 200); do in_ns ip link show "$tap" >/dev/null 2>&1 && break; sleep 0.05; done
        in_ns ip link set "$tap" master br0 up
        return
    fi
    ip netns exec "$NS" "$VMM" -m 64 --bridge br0 --ip "$2/24" --gw 10.77.0.1 -c "$3" "$KERNEL" \
        >"$SCRATCH/$1.log" 2>&1 &
    PIDS+=($!)
}
wait_port() { # IP, port: up to 20 s
    for _ in $(seq 400); do
        in_ns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
start_vm http 10.77.0.2 "app=http"
start_vm echo 10.77.0.3 "app=echo"
if wait_port 10.77.0.2 80 && wait_port 10.77.0.3 7; then
    ok "both guests listen (http on 10.77.0.2:80, echo on 10.77.0.3:7)"
else
    not_ok "guests did not come up"
    sed 's/^/# /' "$SCRATCH"/*.log
fi
expect "tap attached to the bridge" 0 "lmtap" -- in_ns ip -br link show master br0

expect "the guest answers ping" 0 " 0% packet loss" -- in_ns ping -c 5 -i 0.2 -W 2 10.77.0.2
# Frames that come with no checksum offload mark (a raw socket's, as from a NIC that checks
# nothing) the guest checks itself: a SYN with a wrong TCP checksum gets no answer.
expect "a SYN with a good TCP checksum gets its SYN-ACK" 0 "SYN-ACK from" -- \
    in_ns python3 "$TOP/tests/tools/syn_probe.py" br0 10.77.0.2 80 good
expect "a SYN with a bad TCP checksum is dropped" 1 "no SYN-ACK" -- \
    in_ns python3 "$TOP/tests/tools/syn_probe.py" br0 10.77.0.2 80 bad
expect "curl gets the page" 0 "Hello from a Laundromat guest" -- in_ns curl -sS -m 5 http://10.77.0.2/
page=$(in_ns curl -sS -m 5 http://10.77.0.2/)
n1=$(printf '%s' "$page" | sed -n 's/.*requests: \([0-9]*\).*/\1/p')
page=$(in_ns curl -sS -m 5 http://10.77.0.2/)
n2=$(printf '%s' "$page" | sed -n 's/.*requests: \([0-9]*\).*/\1/p')
if [ -n "$n1" ] && [ "$n2" = $((n1 + 1)) ] && printf '%s' "$page" | grep -q "uptime_ms: [0-9]"; then
    ok "the page counts requests ($n1, then $n2) and shows uptime"
else
    not_ok "request counter: '$n1' then '$n2'"
fi
expect "keep-alive: two requests on one connection" 0 "Re-using existing connection" -- \
    in_ns curl -sv -m 5 http://10.77.0.2/ http://10.77.0.2/index.html
expect "Content-Length matches the body" 0 "^ok$" -- in_ns bash -c \
    "curl -sS -m 5 -D $SCRATCH/h -o $SCRATCH/b http://10.77.0.2/ &&
     [ \"\$(sed -n 's/^Content-Length: \([0-9]*\).*/\1/p' $SCRATCH/h)\" = \"\$(stat -c %s $SCRATCH/b)\" ] && echo ok"
expect "HTTP/1.0 closes the connection" 0 "Connection: close" -- \
    in_ns curl -sS -m 5 -0 -D - -o /dev/null http://10.77.0.2/
expect "unknown path is 404" 0 "^404$" -- \
    in_ns curl -sS -m 5 -o /dev/null -w '%{http_code}' http://10.77.0.2/nope
expect "HEAD has headers, no body" 0 "Content-Length: [1-9]" -- in_ns curl -sS -m 5 -I http://10.77.0.2/
expect "POST is refused with 405" 0 "^405$" -- \
    in_ns curl -sS -m 5 -o /dev/null -w '%{http_code}' -d x http://10.77.0.2/

expect "TCP echo round-trips 10 MB intact" 0 "received 10485760 match True" -- \
    in_ns python3 "$TOP/tests/tools/echo_check.py" 10.77.0.3 7 10485760
expect "two echo connections at once" 0 "^ok$" -- in_ns bash -c \
    "python3 $TOP/tests/tools/echo_check.py 10.77.0.3 7 1000000 >/dev/null & a=\$!;
     python3 $TOP/tests/tools/echo_check.py 10.77.0.3 7 1000000 >/dev/null && wait \$a && echo ok"

in_ns wrk -t2 -c16 -d10s http://10.77.0.2/ >"$SCRATCH/wrk.txt" 2>&1
reqs=$(sed -n 's/^ *\([0-9]*\) requests in.*/\1/p' "$SCRATCH/wrk.txt")
if [ -n "$reqs" ] && [ "$reqs" -gt 0 ] && ! grep -qE "Socket errors|Non-2xx" "$SCRATCH/wrk.txt"; then
    ok "wrk 10 s, 16 connections: $reqs requests, zero errors"
else
    not_ok "wrk: errors or no requests"
fi
sed 's/^/# /' "$SCRATCH/wrk.txt"

# A tap opened by a parent and handed over as a descriptor (how Evil Man does it): lm-vmm's.
[ "$PLATFORM" = kvm ] && {
ip netns exec "$NS" python3 "$TOP/tests/tools/tapfd_exec.py" lmfd0 "$VMM" -m 32 \
    --ip 10.77.0.4/24 -c "app=http" "$KERNEL" >"$SCRATCH/fd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 100); do in_ns ip link show lmfd0 >/dev/null 2>&1 && break; sleep 0.05; done
in_ns ip link set lmfd0 master br0 up
expect "a tap handed over by descriptor works" 0 "Hello from a Laundromat guest" -- \
    in_ns curl -sS -m 5 --retry 20 --retry-delay 0 --retry-max-time 20 --retry-all-errors http://10.77.0.4/
expect "the monitor names the descriptor it was given" 0 "NIC on tap fd [0-9]+" -- cat "$SCRATCH/fd.log"
expect "a tap opened without IFF_VNET_HDR is refused, with what to do" 126 \
    "tap lmfd1 was opened without IFF_VNET_HDR: lm-vmm needs its offload header" -- \
    in_ns python3 "$TOP/tests/tools/tapfd_exec.py" --plain lmfd1 "$VMM" -m 32 --ip 10.77.0.5/24 \
    -c "app=http" "$KERNEL"
}

# The guests are still alive and well after all that.
expect "guest still serving after the load" 0 "Hello from a Laundromat guest" -- \
    in_ns curl -sS -m 5 http://10.77.0.2/
for p in "${PIDS[@]}"; do kill "$p"; done
for p in "${PIDS[@]}"; do wait "$p"; done
PIDS=()
gone=no
for _ in $(seq 40); do # the kernel removes a tap when its last descriptor closes
    in_ns ip -br link | grep -q lmtap || { gone=yes; break; }
    sleep 0.05
done
[ $gone = yes ] && ok "taps are gone with their monitors" || { not_ok "taps left behind"; in_ns ip -br link | sed "s/^/# /"; ps aux | grep lm-vmm | grep -v grep | sed "s/^/# /"; }
done_testing
