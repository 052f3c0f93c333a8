#!/usr/bin/env bash
# Self-migration between two monitors on one bridge, in a namespace of their own: a guest
# serving HTTP (driven by wrk throughout, keep-alive connections kept) and a computation move
# themselves into checkpoint loaders and back; the failures leave exactly one running copy.
. "$(dirname "$0")/tap.bash"
VMM=$BUILD/bin/lm-vmm
KERNEL=$BUILD/guest/kernel.elf
LOADER=$BUILD/bootloader/loader.elf
require_net
for t in curl wrk python3 nft; do
    command -v $t >/dev/null || skip_or_fail "no $t (make deps installs it)"
done

NS=lmmig$$
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
wait_loader() { # name: its loader listens (up to 10 s)
    for _ in $(seq 200); do grep -q "loader: waiting on TCP port" "$SCRATCH/$1.log" 2>/dev/null && return 0; sleep 0.05; done
    return 1
}
migrate() { # VM IP, loader name, loader IP, migration key; then lmctl's own options
    local vm=$1 name=$2 lip=$3 mkey=$4
    shift 4
    in_ns timeout 600 "$LMCTL" migrate --loader "$lip" --loader-pub "$(cat "$SCRATCH/$name.lpub")" \
        --mig-key "$mkey" "$@" "$vm"
}
exit_of() { # pid [seconds]: waits for it (up to 30 s); its exit status in RC, or "running"
    local p=$1
    RC=running
    for _ in $(seq $((${2:-30} * 10))); do
        kill -0 "$p" 2>/dev/null || { wait "$p"; RC=$?; return; }
        sleep 0.1
    done
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
up() { in_ns "$LMCTL" status --json 10.78.0.2 | sed -n 's/.*"uptime_ns": \([0-9]*\).*/\1/p'; }
up1=$(up)
start_loader beta 10.78.0.50 "$SCRATCH/mig1.key" 10.78.0.2
wait_port 10.78.0.50 7700 || { not_ok "loader beta did not come up"; sed 's/^/# /' "$SCRATCH/beta.log"; }
in_ns wrk -t2 -c8 -d6s http://10.78.0.2/ >"$SCRATCH/wrk1.txt" 2>&1 &
WRK=$!
sleep 1.5
expect "migrate alpha -> beta under wrk" 0 "migrated in .* downtime [0-9.]+ ms as the guest measured it" -- \
    migrate 10.78.0.2 beta 10.78.0.50 "$SCRATCH/mig1.key"
wait $WRK
exit_of "$PID_http"; rc=$RC
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
up2=$(up)
[ -n "$up1" ] && [ -n "$up2" ] && [ "$up2" -gt "$up1" ] && ok "monotonic time went on across the move ($up1 -> $up2 ns)" ||
    not_ok "monotonic time: '$up1' then '$up2'"
expect "status after: one migration, its figures" 0 "last migration: .* downtime [0-9.]+ ms, .* [1-9][0-9]* rounds, [1-9][0-9]* pages in the final phase" -- \
    in_ns "$LMCTL" status 10.78.0.2

# 2. The computation moves back and forth while it runs; its result equals the host's. Moves
# 1, 3 and 5 send zstd-compressed pages (--zstd), 2 and 4 plain ones.
# It must outlast the five moves (9 s on KVM, each mostly a loader's start), at whatever speed
# this machine computes: sized to run ~30 s.
ROUNDS=${LM_MIG_COMPUTE_ROUNDS:-6000}
N=${LM_MIG_COMPUTE_N:-$(compute_n "$ROUNDS" 30)}
"$BUILD/tests/compute_ref" "$N" "$ROUNDS" >"$SCRATCH/ref.txt" & # the host's result, meanwhile
REF_PID=$!
PIDS+=("$REF_PID")
start_guest compute 10.78.0.3 02:00:00:78:00:03 "app=compute n=$N rounds=$ROUNDS"
for _ in $(seq 100); do grep -q "control: owner" "$SCRATCH/compute.log" && break; sleep 0.05; done
moves=0 where=compute t0=$(date +%s%N)
for i in 1 2 3 4 5; do
    start_loader "c$i" "10.78.0.$((60 + i))" "$SCRATCH/mig2.key" 10.78.0.3
    wait_port "10.78.0.$((60 + i))" 7700 || break
    z=(); [ $((i % 2)) = 1 ] && z=(--zstd)
    if migrate 10.78.0.3 "c$i" "10.78.0.$((60 + i))" "$SCRATCH/mig2.key" --quiet "${z[@]}" >"$SCRATCH/cmig$i.txt" 2>&1; then
        moves=$((moves + 1)) where=c$i
        echo "# move $i done at $(( ($(date +%s%N) - t0) / 1000000 )) ms: $(grep -o 'migrated in.*' "$SCRATCH/cmig$i.txt")"
    else
        sed 's/^/# /' "$SCRATCH/cmig$i.txt"; break
    fi
done
[ "$moves" = 5 ] && ok "the computation migrated 5 times while running (3 of them with --zstd)" ||
    { not_ok "the computation migrated $moves times of 5"; tail -5 "$SCRATCH/$where.log" | sed 's/^/# /'; }
sent() { sed -n 's/.*; \([0-9.]*\) MiB sent for.*/\1/p' "$SCRATCH/cmig$1.txt"; }
grep -q "shadow pages, zstd" "$SCRATCH/compute.log" && ! grep -q "shadow pages, zstd" "$SCRATCH/c1.log" &&
    ok "the guest compressed when asked (--zstd) and only then" ||
    not_ok "the guest's migration lines do not say zstd where asked: $(grep -h 'mig: migrating to' "$SCRATCH"/compute.log "$SCRATCH"/c1.log | tr '\n' '|')"
z1=$(sent 1) p2=$(sent 2) z3=$(sent 3) p4=$(sent 4)
awk -v a="$z1" -v b="$p2" -v c="$z3" -v d="$p4" 'BEGIN { exit !(a > 0 && c > 0 && a < b && c < d) }' &&
    ok "zstd moves sent fewer bytes ($z1, $z3 MiB) than plain ones ($p2, $p4 MiB)" ||
    not_ok "bytes sent: zstd $z1, $z3 MiB; plain $p2, $p4 MiB"
eval "pid=\$PID_$where"
exit_of "$pid" 180; rc=$RC # the rest of the computation (a minute or more under TCG)
wait "$REF_PID"; ref=$(cat "$SCRATCH/ref.txt")
got=$(grep -o "primes=[0-9]* sum=[0-9]* checksum=[0-9a-f]*" "$SCRATCH/$where.log" | tail -1)
[ "$rc" = 0 ] && [ -n "$got" ] && printf '%s' "$ref" | grep -qF "$got" &&
    ok "after $moves migrations the result equals the host's ($got)" ||
    { not_ok "computation result after migrations: exit $rc, '$got', host '$ref'"; tail -5 "$SCRATCH/$where.log" | sed 's/^/# /'; }

# 3. Failures leave exactly one running copy: the source, still serving.
start_guest web 10.78.0.4 02:00:00:78:00:04 "app=http"
wait_port 10.78.0.4 80 || not_ok "guest web did not come up"
serving() { in_ns curl -sS -m 5 http://10.78.0.4/ | grep -q "requests:"; }
fault() { # description, expected pattern in lmctl's output, loader name; then migrate's own args
    local desc=$1 pat=$2 name=$3 out rc
    shift 3
    out=$(migrate 10.78.0.4 "$name" "$@" --quiet 2>&1)
    rc=$?
    if [ "$rc" = 4 ] && printf '%s' "$out" | grep -qE -- "$pat" && serving; then
        ok "$desc: refused, the source serves on"
    else
        not_ok "$desc: lmctl exit $rc (want 4), /$pat/, source serving: $(serving && echo yes || echo no)"
        printf '%s\n' "$out" | sed 's/^/# /' | tail -5
        tail -5 "$SCRATCH/$name.log" | sed 's/^/# /'
    fi
}
start_loader f1 10.78.0.71 "$SCRATCH/wrong.key" 10.78.0.4
wait_port 10.78.0.71 7700
fault "a loader whose token commits to another migration key" "WRONG_MIG_KEY|not the one the token commits to" f1 10.78.0.71 "$SCRATCH/mig1.key"
exit_of "$PID_f1"; rc=$RC; [ "$rc" = 17 ] && ok "that loader VM ended (status 17)" || not_ok "loader f1 exit: $rc"

start_loader f2 10.78.0.72 "$SCRATCH/mig1.key" 10.78.0.4
wait_port 10.78.0.72 7700
cp "$SCRATCH/f1.lpub" "$SCRATCH/f2.lpub" # the owner names another loader's key
fault "a loader key the host did not vouch for" "authentication|STREAM_AUTH" f2 10.78.0.72 "$SCRATCH/mig1.key"


# Through a relay that tampers with the stream (the loader takes it from the relay's address).
# Each relay its own port, and stopped for sure (its own pid: not a subshell's) before the next.
start_relay() { # name, port, loader IP, mode, argument, relay options
    local name=$1 port=$2 lip=$3 mode=$4 arg=$5
    shift 5
    ip netns exec "$NS" python3 "$TOP/tests/tools/mig_relay.py" 10.78.0.1 "$port" "$lip" 7700 \
        "$mode" "$arg" "$@" >"$SCRATCH/$name.relay" 2>&1 &
    RELAY=$!
    PIDS+=("$RELAY")
    for _ in $(seq 200); do grep -q "relay: listening" "$SCRATCH/$name.relay" && return 0; sleep 0.05; done
    not_ok "relay $name did not listen on port $port"
    sed 's/^/# /' "$SCRATCH/$name.relay"
}
stop_relay() {
    kill "$RELAY" 2>/dev/null
    wait "$RELAY" 2>/dev/null
}
RELAYS=0
relay_fault() { # description, pattern, relay mode and argument
    local desc=$1 pat=$2 mode=$3 arg=$4 name=r$RANDOM
    # Each loader its own address: a reused one would be cached with the last loader's MAC.
    local ip=10.78.0.$((100 + RELAYS))
    RELAYS=$((RELAYS + 1))
    start_loader "$name" "$ip" "$SCRATCH/mig1.key" 10.78.0.1
    wait_loader "$name" # not wait_port: from 10.78.0.1 a probe would be the payload
    start_relay "$name" $((7790 + RELAYS)) "$ip" "$mode" "$arg" --record "$SCRATCH/$name.rec"
    fault "$desc" "$pat" "$name" 10.78.0.1:$((7790 + RELAYS)) "$SCRATCH/mig1.key"
    eval "kill \$PID_$name" 2>/dev/null
    stop_relay
    LAST_REC=$SCRATCH/$name.rec
}
# The destination killed during pre-copy: the relay passes 300 kB (of some 4 MiB) and stalls,
# then the loader is killed; the guest hears nothing more and gives up (a kill on a timer would
# race a migration that ends in 0.1 s on KVM).
start_loader f3 10.78.0.73 "$SCRATCH/mig1.key" 10.78.0.1
wait_loader f3
start_relay f3 7790 10.78.0.73 stall 300000
( for _ in $(seq 600); do grep -q "relay: stalled" "$SCRATCH/f3.relay" && break; sleep 0.05; done
  kill -9 "$PID_f3" ) &
fault "the destination killed during pre-copy" "failed|MIG_LINK|TIMEOUT|refused" f3 10.78.0.1:7790 "$SCRATCH/mig1.key"
grep -q "relay: stalled after 300000 bytes" "$SCRATCH/f3.relay" && ok "... killed after 300000 bytes of the stream" ||
    { not_ok "the relay did not stall the stream"; sed 's/^/# /' "$SCRATCH/f3.relay"; }
stop_relay

relay_fault "a flipped bit in a page record" "STREAM_AUTH|authentication" flip 5000
relay_fault "a truncated stream" "failed|MIG_LINK|TRUNCATED|refused" truncate 300000
relay_fault "a dropped record" "STREAM_AUTH|authentication" drop 3
relay_fault "two records swapped" "STREAM_AUTH|authentication" swap 3

# A stream recorded on its way to one loader, replayed into another with the same token
# commitment: that loader's key differs, so nothing of it authenticates.
relay_fault "(recording a stream)" "STREAM_AUTH|authentication" drop 40
start_loader rp 10.78.0.81 "$SCRATCH/mig1.key" 10.78.0.1
wait_loader rp
# (a loader that refuses ends its VM: no FIN comes, so the replayer does not wait for one)
in_ns timeout 20 python3 -c "import socket,sys; s=socket.create_connection(('10.78.0.81',7700)); s.settimeout(5); s.sendall(open(sys.argv[1],'rb').read())" "$LAST_REC" >"$SCRATCH/replay.txt" 2>&1
exit_of "$PID_rp"; rc=$RC
[ "$rc" = 17 ] && grep -q "STREAM_AUTH" "$SCRATCH/rp.log" && ok "a recorded stream replayed into another loader is refused (STREAM_AUTH)" ||
    { not_ok "replayed stream: loader exit $rc"; tail -3 "$SCRATCH/rp.log" | sed 's/^/# /'; }
serving && ok "after all that, the source still serves" || not_ok "the source stopped serving"

# GO lost on its way: the source sent it (the relay acknowledged it) and ended; the loader holds
# the complete checkpoint, paused. No copy answers: lmctl says it is in doubt (5), and
# --resolve with the migration key sends that loader GO over a fresh handshake.
name=lg
start_loader $name 10.78.0.82 "$SCRATCH/mig1.key" 10.78.0.1
wait_loader $name
start_relay $name 7789 10.78.0.82 losego 0
out=$(migrate 10.78.0.4 "$name" 10.78.0.1:7789 "$SCRATCH/mig1.key" --quiet --timeout 4 2>&1)
rc=$?
[ "$rc" = 5 ] && printf '%s' "$out" | grep -q "to settle it: lmctl migrate --resolve --loader 10.78.0.1:7789" &&
    ok "GO lost: lmctl says the outcome is in doubt (5) and how to settle it" ||
    { not_ok "GO lost: lmctl exit $rc (want 5)"; printf '%s\n' "$out" | sed 's/^/# /' | tail -5; }
grep -q "paused with a complete checkpoint" "$SCRATCH/$name.log" && ok "the loader holds the checkpoint, paused" ||
    { not_ok "the loader did not pause"; tail -5 "$SCRATCH/$name.log" | sed 's/^/# /'; }
expect "a resolver with another migration key is refused; the loader stays paused" 5 "no copy answered" -- \
    in_ns "$LMCTL" migrate --resolve --loader 10.78.0.82 --loader-pub "$(cat "$SCRATCH/$name.lpub")" \
    --mig-key "$SCRATCH/wrong.key" --timeout 1 10.78.0.4
expect "migrate --resolve sends GO: the guest resumes in that loader" 0 "resolved: the paused destination took GO" -- \
    in_ns "$LMCTL" migrate --resolve --loader 10.78.0.82 --loader-pub "$(cat "$SCRATCH/$name.lpub")" \
    --mig-key "$SCRATCH/mig1.key" --timeout 1 10.78.0.4
serving && ok "the one copy serves again, from the loader that was paused" || not_ok "nothing serves after --resolve"
stop_relay

# The commit when GO's acknowledgement is lost (pure ACKs from the relay to the guest dropped
# from READY on, by nftables): GO reached the loader, the new copy announces our address, and
# the source, which saw no ACK, ends on seeing it (121).
WEB=$name # the guest now runs in the loader that took GO from the resolver
drop_acks() { # relay port: from READY on, pure ACKs (40-byte IP packets) from it to the guest
    echo "ip netns exec $NS nft add table ip lmdrop && ip netns exec $NS nft add chain ip lmdrop out '{ type filter hook output priority 0; }' && ip netns exec $NS nft add rule ip lmdrop out ip saddr 10.78.0.1 ip daddr 10.78.0.4 tcp sport $1 ip length 40 drop"
}
undrop() { in_ns nft delete table ip lmdrop 2>/dev/null; }
name=ga
start_loader $name 10.78.0.83 "$SCRATCH/mig1.key" 10.78.0.1
wait_loader $name
start_relay $name 7788 10.78.0.83 pass 0 --on-ready "$(drop_acks 7788)"
eval "src=\$PID_$WEB"
expect "GO's acknowledgement lost: the new copy announcing itself settles it" 0 "migrated in" -- \
    migrate 10.78.0.4 "$name" 10.78.0.1:7788 "$SCRATCH/mig1.key" --quiet
exit_of "$src"; rc=$RC
[ "$rc" = 121 ] && grep -q "confirmed by the new copy announcing itself" "$SCRATCH/$WEB.log" &&
    ok "the source saw no ACK and ended on the new copy's announcement (status 121)" ||
    { not_ok "source after a lost ACK of GO: exit $rc"; tail -3 "$SCRATCH/$WEB.log" | sed 's/^/# /'; }
undrop
stop_relay
serving && ok "the new copy serves" || not_ok "nothing serves after the lost ACK"
WEB=$name

# GO swallowed and its ACK lost, then the destination killed: the source cannot know whether
# the destination runs, so it waits paused, in doubt, answering only its owner; lmctl says so
# (5); --resolve says how out; --resume-source resumes it once the destination is gone.
name=gh
start_loader $name 10.78.0.84 "$SCRATCH/mig1.key" 10.78.0.1
wait_loader $name
start_relay $name 7787 10.78.0.84 holdgo 0 --on-ready "$(drop_acks 7787)"
out=$(migrate 10.78.0.4 "$name" 10.78.0.1:7787 "$SCRATCH/mig1.key" --quiet 2>&1)
rc=$?
[ "$rc" = 5 ] && printf '%s' "$out" | grep -q "waits paused, in doubt" &&
    ok "GO unacknowledged: lmctl says the source waits paused, in doubt (5)" ||
    { not_ok "GO unacknowledged: lmctl exit $rc (want 5)"; printf '%s\n' "$out" | sed 's/^/# /' | tail -5; }
grep -q "in doubt, paused" "$SCRATCH/$WEB.log" && ! serving && ok "the source is paused: nothing serves" ||
    { not_ok "the source is not paused in doubt"; tail -3 "$SCRATCH/$WEB.log" | sed 's/^/# /'; }
eval "kill -9 \$PID_$name"
expect "--resolve: the source answers in doubt, lmctl names the way out" 5 "resume-source" -- \
    in_ns "$LMCTL" migrate --resolve --timeout 2 10.78.0.4
expect "--resolve --resume-source: the source resumes" 0 "resolved: the source resumed" -- \
    in_ns "$LMCTL" migrate --resolve --resume-source --timeout 2 10.78.0.4
undrop
stop_relay
serving && ok "the source serves again" || not_ok "the source does not serve after --resume-source"

# Links cut and destinations killed mid-way: the source stalls (nothing acknowledged for
# 10 s), lifts its firewall and serves on. The cut: nftables drops everything on the loader's tap.
cut_link() { # loader name: nftables drops all on its tap, both ways
    local tap
    tap=$(sed -n 's/.*NIC on tap \([^ ]*\) .*/\1/p' "$SCRATCH/$1.log")
    in_ns nft add table netdev "cut$1" &&
        in_ns nft add chain netdev "cut$1" in "{ type filter hook ingress device $tap priority 0; policy drop; }" &&
        in_ns nft add chain netdev "cut$1" out "{ type filter hook egress device $tap priority 0; policy drop; }" ||
        not_ok "nft could not cut the link of $1 (tap '$tap')"
}
midway() { # description, loader name, loader IP, guest IP, the loader's log line to act on,
    # action (kill or cut); then migrate's own options
    local desc=$1 name=$2 lip=$3 vm=$4 line=$5 act=$6 mp out rc
    shift 6
    start_loader "$name" "$lip" "$SCRATCH/mig1.key" "$vm"
    wait_loader "$name"
    migrate "$vm" "$name" "$lip" "$SCRATCH/mig1.key" --quiet "$@" >"$SCRATCH/$name.mig" 2>&1 &
    mp=$!
    for _ in $(seq 600); do grep -q "$line" "$SCRATCH/$name.log" && break; sleep 0.05; done
    if [ "$act" = kill ]; then eval "kill -9 \$PID_$name"; else cut_link "$name"; fi
    wait "$mp"
    rc=$?
    out=$(cat "$SCRATCH/$name.mig")
    if [ "$rc" = 4 ] && printf '%s' "$out" | grep -qE "MIG_TIMEOUT|MIG_LINK" &&
        in_ns "$LMCTL" status "$vm" 2>&1 | grep -q "phase failed"; then
        ok "$desc: the source resumed and answers"
    else
        not_ok "$desc: lmctl exit $rc (want 4)"
        printf '%s\n' "$out" | sed 's/^/# /' | tail -3
    fi
    eval "kill -9 \$PID_$name" 2>/dev/null
    # (a netdev chain outlives its tap and, on newer kernels, hooks the next tap of its name)
    in_ns nft delete table netdev "cut$name" 2>/dev/null
}
# A guest whose phases last long enough to act in: 32 MiB rewritten flat out (a pre-copy
# round of 32 MiB, a final phase of as much with one round).
start_guest big 10.78.0.7 02:00:00:78:00:07 "app=dirty mib=32 rate=0"
for _ in $(seq 600); do grep -q "dirty: rewriting" "$SCRATCH/big.log" && break; sleep 0.05; done
midway "the link cut during pre-copy" lc1 10.78.0.85 10.78.0.7 "receiving a checkpoint" cut
midway "the destination killed in the final phase" lk2 10.78.0.86 10.78.0.7 "its final phase" kill --max-rounds 1
midway "the link cut in the final phase" lc3 10.78.0.87 10.78.0.7 "its final phase" cut --max-rounds 1
kill "$PID_big"

# 4. Convergence: a workload dirtying memory below the link's rate converges; far above it
# (as fast as it can) the rounds stay bounded and the downtime is what it is.
start_guest dirty 10.78.0.5 02:00:00:78:00:05 "app=dirty mib=8 rate=2"
start_loader d1 10.78.0.91 "$SCRATCH/mig1.key" 10.78.0.5
wait_port 10.78.0.91 7700
for _ in $(seq 100); do grep -q "control: owner" "$SCRATCH/dirty.log" && break; sleep 0.05; done
expect "app=dirty at 2 MiB/s converges" 0 "migrated in .* [0-9]+ rounds" -- \
    migrate 10.78.0.5 d1 10.78.0.91 "$SCRATCH/mig1.key" --quiet
start_guest dirty2 10.78.0.6 02:00:00:78:00:06 "app=dirty mib=16 rate=0"
start_loader d2 10.78.0.92 "$SCRATCH/mig1.key" 10.78.0.6
wait_port 10.78.0.92 7700
for _ in $(seq 100); do grep -q "control: owner" "$SCRATCH/dirty2.log" && break; sleep 0.05; done
expect "app=dirty flat out: at most 8 rounds, then the final phase" 0 "migrated in .* downtime [0-9.]+ ms.*, [1-8] rounds" -- \
    migrate 10.78.0.6 d2 10.78.0.92 "$SCRATCH/mig1.key" --max-rounds 8 --quiet

done_testing
