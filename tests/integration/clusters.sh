#!/usr/bin/env bash
# Between clusters without an overlay: alpha and beta each have a bridge and a subnet of their
# own, with a routed link between them. A guest keeps its address only within its network:
# beta re-addresses guests from elsewhere (readdress = 1), so `lmctl migrate --to beta` moves
# it and it takes an address and MAC of beta's at commit, serves there with its memory, the
# broker locates it at its new address, and its source resets its old connections so that
# their peers hear it at once; alpha does not (the default), so the way back is refused with
# the way out named, and the guest serves on.
. "$(dirname "$0")/tap.bash"
require_net
command -v curl >/dev/null || skip_or_fail "no curl (make deps installs it)"
. "$(dirname "$0")/hosts.bash"
# Two clusters: 10.61.0.0/24 behind alpha, 10.62.0.0/24 behind beta, routed over 10.60.0.0/30.
hosts_routed 10.61.0 10.62.0
expect "the clusters route to each other" 0 "1 received" -- in_a ping -c 1 -W 2 10.62.0.1
hosts_broker 10.61.0.1 alpha=10.61.0.1/one beta=10.62.0.1/two
hosts_agent alpha 10.61.0.1 10.61.0.10-10.61.0.49 "$A" "cluster = one" "readdress = 0"
hosts_agent beta 10.62.0.1 10.62.0.10-10.62.0.49 "$B" "cluster = two" "readdress = 1"

in_a "$L" buy --host alpha --mem 64 --image "$KERNEL" --prepaid 900 --name web -o web.tok 2>/dev/null
expect "a guest serving HTTP boots in cluster one" 0 "total:" -- \
    in_a "$L" run 10.61.0.1 web.tok "$KERNEL" --cmdline "app=http $OWNER" --wait-tcp 80
VM=10.61.0.10
counter() { in_a curl -sS -m 5 "http://$1/" | sed -n 's/.*requests: \([0-9]*\).*/\1/p'; }
for _ in 1 2 3; do counter $VM >/dev/null; done
n1=$(counter $VM)

# An idle connection open across the move: its source resets it once the move commits.
cat >hold.py <<'PY'
import socket, sys, time
s = socket.create_connection((sys.argv[1], 80), timeout=5)
open("held", "w").close()
s.settimeout(30)
t = time.time()
try:
    d = s.recv(1)
    print("closed" if d == b"" else "data", round(time.time() - t, 1))
except ConnectionResetError:
    print("reset", round(time.time() - t, 1))
except socket.timeout:
    print("timeout", round(time.time() - t, 1))
PY
in_a python3 hold.py $VM >hold.txt 2>&1 &
HOLD=$!
for _ in $(seq 100); do [ -f held ] && break; sleep 0.05; done
expect "migrate --to beta moves it across, re-addressed" 0 "re-addressed: the guest now answers at 10\.62\.0\.[0-9]+" -- \
    bash -c "ip netns exec $A $L migrate --to beta web 2>&1 | tee mig.txt"
NEW=$(sed -n 's/^re-addressed: the guest now answers at \([0-9.]*\);.*/\1/p' mig.txt)
n2=$(counter "$NEW")
[ -n "$n2" ] && [ "$n2" -gt "$n1" ] && ok "it serves at $NEW, across the routed link, with its memory (counter $n1 -> $n2)" ||
    not_ok "at '$NEW': counter '$n1' -> '$n2'"
expect "beta: the guest took an address of its own" 0 "resumed from its checkpoint with a new identity: address $NEW" -- cat beta.log
expect "the child announced its new identity" 0 "net: a new identity: $NEW/24 gw 10.62.0.1" -- cat beta/vm-1.log
expect "alpha ended its VM as migrated" 0 "VM 1 ended \(migrated\)" -- bash -c "sleep 1; cat alpha.log"
wait $HOLD
expect "the old connection was reset by its source, not left to time out" 0 "^reset" -- cat hold.txt
located=
for _ in $(seq 100); do
    in_a "$L" locate web 2>&1 | grep -q "^web: host beta .* address $NEW," && { located=1; break; }
    sleep 0.1
done
[ -n "$located" ] && ok "lmctl locate web: on beta, at $NEW" || { not_ok "locate web"; in_a "$L" locate web 2>&1 | sed 's/^/# /'; }
expect "lmctl status web finds it by name at its new address" 0 "phase idle.* 1 migrations" -- in_a "$L" status web
expect "back to alpha, which does not re-address: refused, the way out named" 1 "BAD_NETID.*readdress = 1" -- \
    in_a "$L" migrate --to alpha --quiet web
expect "the guest serves on in cluster two" 0 "requests:" -- in_a curl -sS -m 5 "http://$NEW/"
done_testing
