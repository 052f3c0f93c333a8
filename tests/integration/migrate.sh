#!/usr/bin/env bash
# Self-migration between two monitors on one bridge, in a namespace of their own: a guest
# serving HTTP (driven by wrk throughout, keep-alive connections kept) and a computation move
# themselves into checkpoint loaders and back; the failures leave exactly one running copy.
. "$(dirname "$0")/tap.bash"
VMM=$BUILD/bin/lm-vmm
KERNEL=$BUILD/guest/kernel.elf
LOADER=$BUILD/bootloader/loader.elf
require_net
for t in curl wrk python3; do
    command -v $t >/dev/null || skip_or_fail "no $t (make deps installs it)"
done

NS=lmmig$$
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done
    ip netns del "$NS" 2>/dev/null
    rm -rf "$SCRATCH"
}
trap cleanup EXIT
in_ns() { ip netns exec "$NS" "$@"; }

ip netns add "$NS" && in_ns ip link set lo up && in_ns ip link add br0 type bridge &&
    in_ns ip addr add 10.78.0.1/24 dev br0 && in_ns ip link set br0 up ||
    { not_ok "set up namespace $NS with bridge br0"; done_testing; exit 1; }

"$LMCTL" keygen "$SCRATCH/owner.key" >/dev/null && "$LMCTL" keygen "$SCRATCH/other.key" >/dev/null ||
    { not_ok "owner keys"; done_testing; exit 1; }
OWNER=$("$LMCTL" owner-cmdline --owner "$SCRATCH/owner.key")
export LM_OWNER=$SCRATCH/owner.key

# A loader VM as a host would start it for a checkpoint token: its own X25519 key (the
# host's to vouch for), the token's commitment = the migration public key.
N_LOADER=0
start_loader() { # log name, IP, migration key file (its public half is the commitment), sender
    local lkey=$SCRATCH/$1.lkey
    "$LMCTL" migkey new "$lkey" >"$SCRATCH/$1.lpub"
    ip netns exec "$NS" "$VMM" -m 64 --loader --bridge br0 --ip "$2/24" --gw 10.78.0.1 \
        --commitment "$("$LMCTL" migkey show "$3")" --loader-key "$(cat "$lkey")" \
        -c "sender=$4 wait_s=30" "$LOADER" >"$SCRATCH/$1.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$1=$!"
}
start_guest() { # log name, IP, MAC, command line
    ip netns exec "$NS" "$VMM" -m 64 --bridge br0 --ip "$2/24" --gw 10.78.0.1 --mac "$3" \
        -c "$4 $OWNER" "$KERNEL" >"$SCRATCH/$1.log" 2>&1 &
    PIDS+=($!)
    eval "PID_$1=$!"
}
wait_port() { # IP, port: up to 5 s
    for _ in $(seq 100); do
        in_ns bash -c "exec 3<>/dev/tcp/$1/$2" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}
migrate() { # VM IP, loader name, loader IP, migration key; then lmctl's own options
    local vm=$1 name=$2 lip=$3 mkey=$4
    shift 4
    in_ns "$LMCTL" migrate --loader "$lip" --loader-pub "$(cat "$SCRATCH/$name.lpub")" \
        --mig-key "$mkey" "$@" "$vm"
}
exit_of() { # pid: waits for it (up to 10 s) and prints its exit status, or "running"
    local p=$1
    for _ in $(seq 100); do
        kill -0 "$p" 2>/dev/null || { wait "$p"; echo $?; return; }
        sleep 0.1
    done
    echo running
}
counter() { in_ns curl -sS -m 5 http://10.78.0.2/ | sed -n 's/.*requests: \([0-9]*\).*/\1/p'; }

"$LMCTL" migkey new "$SCRATCH/mig1.key" >/dev/null
"$LMCTL" migkey new "$SCRATCH/mig2.key" >/dev/null
"$LMCTL" migkey new "$SCRATCH/wrong.key" >/dev/null

# 1. An HTTP guest moves alpha -> beta while wrk drives it.
start_guest http 10.78.0.2 02:00:00:78:00:02 "app=http"
wait_port 10.78.0.2 80 && ok "guest serves HTTP on 10.78.0.2" ||
    { not_ok "guest did not come up"; sed 's/^/# /' "$SCRATCH/http.log"; done_testing; exit 1; }
expect "status answers the owner" 0 "phase idle, up [0-9.]+ s, 64 MiB RAM, 0 migrations" -- \
    in_ns "$LMCTL" status 10.78.0.2
expect "status refuses another key (no answer)" 1 "no authenticated answer" -- \
    in_ns "$LMCTL" status --owner "$SCRATCH/other.key" --timeout 800 10.78.0.2
n1=$(counter)
start_loader beta 10.78.0.50 "$SCRATCH/mig1.key" 10.78.0.2
wait_port 10.78.0.50 7700 || { not_ok "loader beta did not come up"; sed 's/^/# /' "$SCRATCH/beta.log"; }
in_ns wrk -t2 -c8 -d6s http://10.78.0.2/ >"$SCRATCH/wrk1.txt" 2>&1 &
WRK=$!
sleep 1.5
expect "migrate alpha -> beta under wrk" 0 "migrated in .* downtime [0-9.]+ ms as the guest measured it" -- \
    migrate 10.78.0.2 beta 10.78.0.50 "$SCRATCH/mig1.key"
wait $WRK
rc=$(exit_of "$PID_http")
[ "$rc" = 120 ] && ok "the source VM ended with status 120 (migrated)" ||
    { not_ok "source VM exit: $rc"; tail -20 "$SCRATCH/http.log" | sed 's/^/# /'; }
grep -q "loader: GO: resuming the guest" "$SCRATCH/beta.log" && ok "beta's loader handed over on GO" ||
    { not_ok "no hand-over in beta's log"; tail -20 "$SCRATCH/beta.log" | sed 's/^/# /'; }
grep -q "mig: resumed on the new host" "$SCRATCH/beta.log" && ok "the child resumed on beta" ||
    not_ok "no resume in beta's log"
if grep -qE "Non-2xx|Socket errors" "$SCRATCH/wrk1.txt" || ! grep -q "requests in" "$SCRATCH/wrk1.txt"; then
    not_ok "wrk saw errors across the migration"; sed 's/^/# /' "$SCRATCH/wrk1.txt"
else
    ok "wrk: no errors across the migration ($(grep -o '[0-9]* requests in' "$SCRATCH/wrk1.txt"))"
fi
n2=$(counter)
[ -n "$n1" ] && [ -n "$n2" ] && [ "$n2" -gt "$n1" ] && ok "same memory on beta: the request counter went on ($n1 -> $n2)" ||
    not_ok "request counter after migration: '$n1' -> '$n2'"
expect "status after: one migration, its figures" 0 "last migration: .* downtime [0-9.]+ ms, .* [1-9][0-9]* rounds, [1-9][0-9]* pages in the final phase" -- \
    in_ns "$LMCTL" status 10.78.0.2

done_testing
