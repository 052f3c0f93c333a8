# Two Evil Man hosts, alpha and beta, each in a network namespace of its own, and the broker
# that sells their tokens: what the multi-host tests share (checkpoint, autopilot, clusters,
# overlay). Source it after tap.bash; it sets L, EM, KERNEL, A, B, PIDS, the cleanup trap,
# in_a/in_b/host_a/host_b, and works in $SCRATCH.
#   hosts_segment NET          one segment: NET.1 on alpha's bridge, NET.2 on beta's, a veth
#                              between the bridges
#   hosts_routed NETA NETB     two clusters: NETA.0/24 behind alpha, NETB.0/24 behind beta,
#                              routed over 10.60.0.0/30 (MTU 1600: room for VXLAN's 50 bytes)
#   hosts_broker ADDR NAME=ADDR[/CLUSTER]...
#                              keys, the broker at ADDR:8480 in alpha's namespace, accounts
#                              alice (buyer) and op1 (operator), the hosts registered at price
#                              1; exports LM_BROKER, LM_KEY and LM_OWNER; sets OWNER
#   hosts_agent NAME ADDR POOL NS [LINE...]
#                              an agent with its config (LINEs added), waited for
L=$LMCTL
EM=$BUILD/bin/evilman
KERNEL=$BUILD/guest/kernel.elf
A=lmha$$ B=lmhb$$
PIDS=()
hosts_cleanup() {
    stop_procs "${PIDS[@]}"
    ip netns del "$A" 2>/dev/null
    ip netns del "$B" 2>/dev/null
    rm -rf "$SCRATCH"
    cleanup_status
}
trap hosts_cleanup EXIT
cd "$SCRATCH" || exit 1
in_a() { ip netns exec "$A" "$@"; }
in_b() { ip netns exec "$B" "$@"; }
host_a() { LM_CONTROL=$SCRATCH/alpha.sock "$L" host "$@"; }
host_b() { LM_CONTROL=$SCRATCH/beta.sock "$L" host "$@"; }

hosts_namespaces() { # alpha's and beta's bridges at $1/$3 and $2/$3
    ip netns add "$A" && ip netns add "$B" &&
        in_a ip link set lo up && in_b ip link set lo up &&
        in_a ip link add br0 type bridge && in_b ip link add br0 type bridge &&
        in_a ip addr add "$1/$3" dev br0 && in_b ip addr add "$2/$3" dev br0 &&
        in_a ip link set br0 up && in_b ip link set br0 up
}

hosts_segment() {
    hosts_namespaces "$1.1" "$1.2" 24 &&
        in_a ip link add vx type veth peer name vy && in_a ip link set vy netns "$B" &&
        in_a ip link set vx master br0 && in_b ip link set vy master br0 &&
        in_a ip link set vx up && in_b ip link set vy up ||
        { not_ok "two namespaces joined on one segment"; done_testing; exit 1; }
}

hosts_routed() {
    hosts_namespaces "$1.1" "$2.1" 24 &&
        in_a ip link add wan type veth peer name wan2 && in_a ip link set wan2 netns "$B" &&
        in_b ip link set wan2 name wan && in_a ip addr add 10.60.0.1/30 dev wan &&
        in_b ip addr add 10.60.0.2/30 dev wan &&
        in_a ip link set wan mtu 1600 up && in_b ip link set wan mtu 1600 up &&
        in_a ip route add "$2.0/24" via 10.60.0.2 && in_b ip route add "$1.0/24" via 10.60.0.1 &&
        in_a sysctl -qw net.ipv4.ip_forward=1 && in_b sysctl -qw net.ipv4.ip_forward=1 ||
        { not_ok "two clusters with a routed link"; done_testing; exit 1; }
}

hosts_broker() {
    local at=$1 h name rest addr cluster
    shift
    for k in broker admin alice op1 owner other; do "$L" keygen $k.key >/dev/null; done
    printf 'listen = %s:8480\ndatabase = ledger.db\nsigning_key = broker.key\nadmin_key = admin.key.pub\n' "$at" >broker.conf
    in_a "$BUILD/bin/lm-broker" --config broker.conf 2>broker.log &
    PIDS+=($!)
    export LM_BROKER=http://$at:8480 LM_KEY=alice.key LM_OWNER=$SCRATCH/owner.key
    for _ in $(seq 200); do in_a curl -s -o /dev/null -m 2 "$LM_BROKER/v1/hosts" && break; sleep 0.05; done
    in_a "$L" account create --key admin.key --name alice --role buyer --pub alice.key.pub >/dev/null &&
        in_a "$L" account create --key admin.key --name op1 --role operator --pub op1.key.pub >/dev/null &&
        in_a "$L" deposit --key admin.key --account alice --amount 1000000 >/dev/null ||
        { not_ok "broker accounts"; sed 's/^/# /' broker.log | tail; done_testing; exit 1; }
    for h in "$@"; do
        name=${h%%=*} rest=${h#*=}
        addr=${rest%%/*} cluster=
        [ "$rest" != "$addr" ] && cluster=${rest#*/}
        in_a "$L" host-register --key op1.key --name "$name" ${cluster:+--cluster "$cluster"} \
            --address "$addr" --port 7777 --price 1 --unit-ms 1000 >/dev/null ||
            { not_ok "register host $name"; done_testing; exit 1; }
    done
    OWNER=$("$L" owner-cmdline --owner owner.key)
}

hosts_agent() {
    local name=$1 addr=$2 pool=$3 ns=$4
    shift 4
    {
        cat <<CONF
listen = $addr:7777
host_name = $name
broker_key = $SCRATCH/broker.key.pub
bridge = br0
bridge_ip = $addr/24
pool = $pool
max_vms = 4
max_mem_mib = 128
total_mem_mib = 512
loader = $BUILD/bootloader/loader.elf
vmm = $BUILD/bin/lm-vmm
lmctl = $L
broker_url = $LM_BROKER
operator_key = $SCRATCH/op1.key
loader_wait_s = 20
control = $SCRATCH/$name.sock
state_dir = $SCRATCH/$name
CONF
        for line in "$@"; do echo "$line"; done
    } >"$name.conf"
    ip netns exec "$ns" "$EM" --config "$name.conf" 2>"$name.log" &
    PIDS+=($!)
    for _ in $(seq 200); do [ -S "$name.sock" ] && break; sleep 0.05; done
}
