#!/usr/bin/env bash
# lmctl end to end: keys, chains, minting and showing tokens, and its refusals; the checks it
# makes before it sends anything, and the deadlines and size limits of what it reads.
. "$(dirname "$0")/tap.bash"
command -v python3 >/dev/null || skip_or_fail "no python3"
cd "$SCRATCH"
SERVERS=()
cleanup() {
    for p in "${SERVERS[@]}"; do kill "$p" 2>/dev/null; done
    rm -rf "$SCRATCH"
}
trap cleanup EXIT

# elf FILE [BYTE]: a minimal x86-64 executable the loader takes (one R+X segment at 1 MiB).
elf() {
    python3 - "$1" "${2:-244}" <<'PY'
import struct, sys
code = bytes([int(sys.argv[2])]) * 16
size = 64 + 56 + len(code)
eh = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)
eh += struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, 0x100000 + 120, 64, 0, 0, 64, 56, 1, 0, 0, 0)
ph = struct.pack("<IIQQQQQQ", 1, 5, 0, 0x100000, 0x100000, size, size, 0x1000)
open(sys.argv[1], "wb").write(eh + ph + code)
PY
}

expect "lmctl --help" 0 "token mint" -- "$LMCTL" --help
expect "unknown command is a usage error" 2 "unknown command \"frob\"" -- "$LMCTL" frob
for c in "keygen" "token mint" "token show" "chain new" "chain show"; do
    # shellcheck disable=SC2086
    expect "lmctl $c --help" 0 "usage: lmctl $c" -- "$LMCTL" $c --help
done

kid=$("$LMCTL" keygen broker.key)
expect "keygen prints a 16-hex key id" 0 "^[0-9a-f]{16}$" -- echo "$kid"
expect "secret key file is mode 0600" 0 "^600$" -- stat -c %a broker.key
expect "public key file names the key id" 0 "key-id $kid" -- cat broker.key.pub
expect "keygen never overwrites" 1 "refusing to overwrite" -- "$LMCTL" keygen broker.key
"$LMCTL" keygen other.key >/dev/null
expect "keygen --seed is deterministic" 0 "" -- bash -c \
    "[ \$('$LMCTL' keygen --seed $(printf '11%.0s' {1..32}) s1) = \$('$LMCTL' keygen --seed $(printf '11%.0s' {1..32}) s2) ]"

anchor=$("$LMCTL" chain new -n 500 pay.chain)
expect "chain new prints a 32-byte anchor" 0 "^[0-9a-f]{64}$" -- echo "$anchor"
expect "chain file is mode 0600" 0 "^600$" -- stat -c %a pay.chain
expect "chain show --check recomputes the anchor" 0 "anchor  $anchor \(checked\)" -- \
    "$LMCTL" chain show --check pay.chain
expect "chain show --link 500 is the seed end" 0 "link 500  [0-9a-f]{64}" -- \
    "$LMCTL" chain show --link 500 pay.chain
expect "chain show --link beyond the end fails" 1 "beyond the chain's 500 links" -- \
    "$LMCTL" chain show --link 501 pay.chain
expect "chain new -n 0 is a usage error" 2 "not a number from 1" -- "$LMCTL" chain new -n 0 x.chain

elf image.elf
expect "mint a token" 0 "^[0-9a-f]{32}$" -- "$LMCTL" token mint --key broker.key --host alpha \
    --image image.elf --chain pay.chain --prepaid 3 --link-ms 500 --mem 32 -o t.tok
expect "token is 248 bytes" 0 "^248$" -- stat -c %s t.tok
expect "show verifies a good token" 0 "verdict     valid" -- \
    "$LMCTL" token show --key broker.key.pub --host alpha t.tok
expect "show --json" 0 "\"valid\": true" -- "$LMCTL" token show --key broker.key.pub --json t.tok
expect "show reports value" 0 "worth       251500 ms" -- "$LMCTL" token show t.tok
expect "show carries the chain anchor" 0 "anchor $anchor" -- "$LMCTL" token show t.tok
expect "show without keys does not claim validity" 0 "signature not checked" -- \
    "$LMCTL" token show t.tok
expect "wrong host" 1 "WRONG_SCOPE" -- "$LMCTL" token show --key broker.key.pub --host beta t.tok
expect "untrusted broker key" 1 "UNKNOWN_KEY" -- "$LMCTL" token show --key other.key.pub t.tok
expect "expired at a later time" 1 "expired at .*EXPIRED" -- \
    "$LMCTL" token show --key broker.key.pub --now 99999999999 t.tok
"$LMCTL" token mint --key broker.key --cluster blue --commitment "$anchor" --prepaid 10 \
    --ip 10.9.0.5/24 --mac 02:00:00:00:00:05 --payload checkpoint >t.hex
expect "hex tokens are read too" 0 "network     10.9.0.5/24, MAC 02:00:00:00:00:05" -- \
    "$LMCTL" token show --key broker.key.pub --cluster blue t.hex
expect "cluster token off its cluster" 1 "WRONG_SCOPE" -- \
    "$LMCTL" token show --key broker.key.pub --cluster red t.hex
head -c 247 t.tok >short.tok
expect "truncated token" 1 "247 bytes.*TRUNCATED" -- "$LMCTL" token show short.tok
cp t.tok flipped.tok
printf '\x00' | dd of=flipped.tok bs=1 seek=200 conv=notrunc status=none
expect "tampered signature" 1 "BAD_SIGNATURE" -- "$LMCTL" token show --key broker.key.pub flipped.tok
expect "show --json of garbage" 1 "\"status\": \"BAD_MAGIC\"" -- "$LMCTL" token show --json image.elf

chmod 644 broker.key
expect "mint refuses an exposed key" 1 "mode 0644.*chmod 600" -- \
    "$LMCTL" token mint --key broker.key --host alpha --image image.elf --prepaid 1
chmod 600 broker.key
expect "mint needs a scope" 2 "--host NAME or --cluster NAME" -- \
    "$LMCTL" token mint --key broker.key --image image.elf --prepaid 1
expect "mint needs value" 2 "a chain .* or --prepaid N" -- \
    "$LMCTL" token mint --key broker.key --host a --image image.elf
expect "mint refuses a bad IP" 2 "--ip: expected A.B.C.D/PREFIX" -- \
    "$LMCTL" token mint --key broker.key --host a --image image.elf --prepaid 1 --ip 10.0.0.1
expect "mint refuses a 33-byte scope" 2 "longer than 32" -- \
    "$LMCTL" token mint --key broker.key --host "$(printf 'h%.0s' {1..33})" --image image.elf --prepaid 1
expect "mint refuses a multicast MAC" 2 "multicast" -- \
    "$LMCTL" token mint --key broker.key --host a --image image.elf --prepaid 1 --mac 01:00:5e:00:00:01
expect "mint refuses a short MAC" 2 "--mac: expected XX:XX:XX:XX:XX:XX, got \"02:00:00:00:05\"" -- \
    "$LMCTL" token mint --key broker.key --host a --image image.elf --prepaid 1 --mac 02:00:00:00:05
expect "mint refuses a prefix above 32" 2 "--ip: expected A.B.C.D/PREFIX, got \"10.0.0.1/33\"" -- \
    "$LMCTL" token mint --key broker.key --host a --image image.elf --prepaid 1 --ip 10.0.0.1/33
expect "mint --ttl 0 is a usage error" 2 "--ttl" -- \
    "$LMCTL" token mint --key broker.key --host a --image image.elf --prepaid 1 --ttl 0

# Test servers (python3, on 127.0.0.1 or a UNIX socket in the scratch directory), each killed
# on exit. serve MODE NAME: NAME gets the port (or the socket's path) once it listens, and
# NAME.log a line per datagram or connection it took.
cat >srv.py <<'PY'
import os, socket, sys, threading, time
mode, name = sys.argv[1], sys.argv[2]
def log(line):
    with open(name + ".log", "a") as f:
        f.write(line + "\n")
def ready(addr):
    open(name + ".tmp", "w").write(str(addr))
    os.rename(name + ".tmp", name)
def endless(c, head, chunk, pause):
    try:
        c.recv(65536)
        c.sendall(head)
        while True:
            c.sendall(chunk)
            time.sleep(pause)
    except OSError:
        c.close()
if mode == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))
    ready(s.getsockname()[1])
    while True:
        log(s.recv(65536)[:8].hex())
unix = mode.startswith("unix")  # a relative path: the scratch directory's may be long
s = socket.socket(socket.AF_UNIX if unix else socket.AF_INET)
s.bind(name + ".sock" if unix else ("127.0.0.1", 0))
s.listen(64)
ready(name + ".sock" if unix else s.getsockname()[1])
ok = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
held = []
while True:
    c, _ = s.accept()
    log("connection")
    held.append(c)  # silent modes hold every connection open, unanswered
    if mode == "unix-json":
        c.recv(256)
        c.sendall(b'{"host": "alpha", "vms": 0}\n')
        c.close()
    elif mode == "unix-flood":
        threading.Thread(target=endless, args=(c, b"", b"x" * 65536, 0), daemon=True).start()
    elif mode == "http-flood":  # a body that never ends, framed by the connection's close
        threading.Thread(target=endless, args=(c, ok + b"\r\n", b"x" * 65536, 0), daemon=True).start()
    elif mode == "http-biglen":  # announces 1 GB
        threading.Thread(target=endless, args=(c, ok + b"Content-Length: 1000000000\r\n\r\n", b"x" * 65536, 0), daemon=True).start()
    elif mode == "http-trickle":  # a byte every 0.2 s: no idle timeout would ever fire
        threading.Thread(target=endless, args=(c, ok + b"\r\n", b"x", 0.2), daemon=True).start()
PY
serve() { # MODE NAME
    python3 srv.py "$1" "$2" &
    SERVERS+=($!)
    for _ in $(seq 600); do [ -s "$2" ] && break; sleep 0.05; done
    [ -s "$2" ] || { not_ok "test server $1 did not start"; done_testing; exit 1; }
    touch "$2.log"
}
lines() { wc -l <"$1" | tr -d ' '; }
wait_lines() { # FILE N: until FILE has N lines (the servers log a little after the fact)
    for _ in $(seq 600); do [ "$(lines "$1")" -ge "$2" ] && break; sleep 0.05; done
}

# Nothing is sent for a bad image: `run` checks everything it can before the magic ping, which
# spends the token. A UDP listener stands in for the host agent and records every datagram.
serve udp udp
H=127.0.0.1:$(cat udp)
mkdir dir.elf
: >empty.elf
truncate -s $((32 * 1024 * 1024 + 1)) big.elf
head -c 4096 /dev/urandom >random.elf
elf other.elf 144
"$LMCTL" token mint --key broker.key --host alpha --image image.elf --prepaid 1 -o run.tok >/dev/null
"$LMCTL" token mint --key broker.key --host alpha --mem 1 --image image.elf --prepaid 1 \
    -o small.tok >/dev/null 2>&1
R=("$LMCTL" run --timeout 2000 "$H")
expect "run: a missing image" 1 "image none.elf: cannot read it: No such file or directory; an image is an ELF file of at most 32 MiB" -- \
    "${R[@]}" run.tok none.elf
expect "run: a directory" 1 "image dir.elf: a directory; an image is an ELF file of at most 32 MiB" -- \
    "${R[@]}" run.tok dir.elf
expect "run: a 0-byte image" 1 "image empty.elf: 0 bytes; an image is an ELF file of at most 32 MiB" -- \
    "${R[@]}" run.tok empty.elf
expect "run: an image over the loader's 32 MiB" 1 "image big.elf: 33554433 bytes; an image is an ELF file of at most 32 MiB" -- \
    "${R[@]}" run.tok big.elf
expect "run: not an ELF file" 1 "image random.elf: ELF: no ELF magic .*; the loader of a 16 MiB VM would refuse it" -- \
    "${R[@]}" run.tok random.elf
expect "run: an ELF that does not fit the token's memory" 1 "image image.elf: ELF: segment 0 .* lies outside the allowed \[0x100000, 0x100000\); the loader of a 1 MiB VM would refuse it" -- \
    "${R[@]}" small.tok image.elf
expect "run: another image than the token's" 1 "image other.elf: BLAKE2b-256 [0-9a-f]{64}, but the token commits to [0-9a-f]{64}; the loader would refuse it \(DIGEST_MISMATCH\)" -- \
    "${R[@]}" run.tok other.elf
expect "run: a checkpoint token" 1 "the token is for a checkpoint, not an image" -- "${R[@]}" t.hex image.elf
expect "run: not a token" 1 "image.elf: not a token: token: magic 7f454c46, expected \"LMTK\"" -- \
    "${R[@]}" image.elf image.elf
expect "run: a command line over the loader's limit" 2 "--cmdline: 1024 bytes; the loader takes at most 1023" -- \
    "${R[@]}" --cmdline "$(printf 'x%.0s' {1..1024})" run.tok image.elf
python3 -c "import socket,sys; socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'sentinel', ('127.0.0.1', int(sys.argv[1])))" "$(cat udp)"
wait_lines udp.log 1
expect "no datagram reached the host for any bad image (only the test's sentinel)" 0 "^73656e74696e656c$" -- \
    bash -c "[ \$(wc -l <udp.log) = 1 ] && cat udp.log"
expect "run with a good image does ping (the listener hears it)" 1 "no answer from $H" -- \
    "$LMCTL" run --timeout 1000 "$H" run.tok image.elf
wait_lines udp.log 2
expect "the listener got the magic ping" 0 "^4c4d5047" -- tail -n 1 udp.log
expect "inject: a directory is refused before connecting" 1 "image dir.elf: a directory" -- \
    "$LMCTL" inject --timeout 2000 "$H" dir.elf

# token mint and buy refuse what the loader would never take; a non-ELF image only warns (tests
# mint tokens for images the loader is to refuse).
for f in none.elf dir.elf empty.elf big.elf; do
    expect "token mint refuses $f" 1 "image $f: .*; an image is an ELF file of at most 32 MiB" -- \
        "$LMCTL" token mint --key broker.key --host alpha --image $f --prepaid 1
done
expect "token mint warns of a non-ELF image" 0 "warning: image random.elf: ELF: no ELF magic.*will refuse it" -- \
    "$LMCTL" token mint --key broker.key --host alpha --image random.elf --prepaid 1
"$LMCTL" keygen alice.key >/dev/null
serve http-silent silent
B=http://127.0.0.1:$(cat silent)
for f in none.elf dir.elf empty.elf big.elf; do
    expect "buy refuses $f before asking the broker" 1 "image $f: .*; an image is an ELF file of at most 32 MiB" -- \
        env LM_BROKER_TIMEOUT=5 "$LMCTL" buy --broker "$B" --key alice.key --host alpha --image $f --prepaid 1
done
expect "broker call --data-file refuses a directory" 1 "--data-file dir.elf: a directory; a request body is a file of at most 16 MiB" -- \
    env LM_BROKER_TIMEOUT=5 "$LMCTL" broker call --broker "$B" --key alice.key --data-file dir.elf POST /v1/tokens
truncate -s $((16 * 1024 * 1024 + 1)) big.json
expect "broker call --data-file refuses a body over 16 MiB" 1 "--data-file big.json: 16777217 bytes; a request body is a file of at most 16 MiB" -- \
    env LM_BROKER_TIMEOUT=5 "$LMCTL" broker call --broker "$B" --key alice.key --data-file big.json POST /v1/tokens
expect "broker call --data-file - cuts stdin at 16 MiB" 1 "--data-file -: more than 16 MiB" -- \
    bash -c "head -c 20000000 /dev/zero | tr '\\0' x | LM_BROKER_TIMEOUT=5 '$LMCTL' broker call --broker '$B' --key alice.key --data-file - POST /v1/tokens"
expect "broker headers --data-file refuses a directory" 1 "--data-file dir.elf: a directory" -- \
    "$LMCTL" broker headers --key alice.key --data-file dir.elf POST /v1/tokens
expect "the broker saw none of those" 0 "^0$" -- lines silent.log

# Every read has a deadline and a size limit. The broker: LM_BROKER_TIMEOUT for the whole
# exchange, 4 MiB for a reply.
expect "buy with a good image does ask the broker (no reply within LM_BROKER_TIMEOUT)" 3 "broker $B: POST /v1/tokens: no complete reply within 1 s \(LM_BROKER_TIMEOUT sets the limit\)" -- \
    env LM_BROKER_TIMEOUT=1 "$LMCTL" buy --broker "$B" --key alice.key --host alpha --image image.elf --prepaid 1
wait_lines silent.log 1
expect "the broker saw that one" 0 "^1$" -- lines silent.log
serve http-trickle trickle
expect "a reply trickling forever ends at the deadline" 3 "GET /v1/account: no complete reply within 2 s" -- \
    env LM_BROKER_TIMEOUT=2 "$LMCTL" broker call --broker "http://127.0.0.1:$(cat trickle)" --key alice.key GET /v1/account
serve http-flood flood
F=http://127.0.0.1:$(cat flood)
expect "an endless reply is refused at 4 MiB" 3 "broker $F: GET /v1/account: reply over 4 MiB; refused" -- \
    "$LMCTL" broker call --broker "$F" --key alice.key GET /v1/account
if [ -x /usr/bin/time ]; then
    expect "... in bounded memory (max RSS under 64 MiB)" 0 "^ok" -- bash -c \
        "/usr/bin/time -f 'rss %M' '$LMCTL' broker call --broker '$F' --key alice.key GET /v1/account 2>&1 | awk '/^rss/ {print (\$2 < 65536 ? \"ok \" : \"too much \") \$2 \" KiB\"}'"
fi
serve http-biglen biglen
expect "a reply announcing 1 GB is refused" 3 "GET /v1/account: reply over 4 MiB; refused" -- \
    "$LMCTL" broker call --broker "http://127.0.0.1:$(cat biglen)" --key alice.key GET /v1/account

# The host agent's control socket: --timeout (default 10 s) and 4 MiB.
serve unix-json agent
expect "host status reads the agent's answer" 0 '"host": "alpha"' -- "$LMCTL" host --socket "$(cat agent)" --json status
serve unix-silent mute
expect "host status: an agent that never answers" 1 "host control socket $(cat mute): no answer within 1 s \(--timeout MS\)" -- \
    timeout 300 "$LMCTL" host --socket "$(cat mute)" --timeout 1000 status
expect "host status: the default deadline is 10 s" 1 "host control socket $(cat mute): no answer within 10 s" -- \
    env LM_CONTROL="$(cat mute)" timeout 300 "$LMCTL" host status
serve unix-flood chatty
expect "host status: an endless answer is refused at 4 MiB" 1 "host control socket $(cat chatty): answer over 4 MiB; refused" -- \
    timeout 300 "$LMCTL" host --socket "$(cat chatty)" ls
expect "host status: a socket path too long" 1 "a path of 200 bytes; a socket's is at most 107" -- \
    "$LMCTL" host --socket "$(printf 'p%.0s' {1..200})" status
expect "host status: no agent" 1 "host control socket nowhere.sock: No such file or directory; is the host agent running" -- \
    "$LMCTL" host --socket nowhere.sock status
done_testing
