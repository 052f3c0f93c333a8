#!/usr/bin/env bash
# lmctl end to end: keys, chains, minting and showing tokens, and its refusals.
. "$(dirname "$0")/tap.bash"
cd "$SCRATCH"

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

head -c 4096 /dev/urandom >image.elf
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
expect "mint --ttl 0 is a usage error" 2 "--ttl" -- \
    "$LMCTL" token mint --key broker.key --host a --image image.elf --prepaid 1 --ttl 0
done_testing
