#!/usr/bin/env python3
"""Independent check of tests/vectors/reqsig.txt (signed broker requests) in Python's
standard library, with the BLAKE2b, Ed25519 and vector-file reader of check_vectors.py.
Prints TAP."""
import hashlib
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import check_vectors as cv  # noqa: E402

PREFIX = b"laundromat-request-v1\n"
BODY_DOMAIN = b"laundromat/request-body/v1"


def main():
    top = os.environ.get("LM_TOP", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
    vdir = os.path.join(top, "tests", "vectors")
    records = cv.load(vdir, "reqsig.txt")
    cv.tap(len(records) >= 2, "reqsig.txt has at least two vectors")
    for r in records:
        c = cv.Checks()
        name = f"reqsig.txt:{r.line} {r.str('vector')}"
        seed = r.hex("key_seed", 32)
        pk = cv.ed25519_public(seed)
        key_id = int.from_bytes(cv.H(b"laundromat/keyid/v1", pk)[:8], "little")
        c.eq("key id", key_id, r.u64x("key_id"))
        body = r.str("body").encode()
        body_hash = hashlib.blake2b(BODY_DOMAIN + body, digest_size=32).digest()
        c.eq("body hash", body_hash, r.hex("body_hash", 32))
        canon = (PREFIX + r.str("method").encode() + b"\n" + r.str("target").encode() + b"\n" +
                 str(r.dec("time")).encode() + b"\n" + r.hex("nonce", 16).hex().encode() + b"\n" +
                 body_hash.hex().encode())
        c.eq("canonical string", canon, r.str("canonical").encode())
        sig = r.hex("signature", 64)
        c.eq("signature (deterministic Ed25519)", cv.ed25519_sign(seed, canon), sig)
        c.true("signature verifies", cv.ed25519_verify(pk, canon, sig))
        c.true("a changed target does not verify",
               not cv.ed25519_verify(pk, canon.replace(b"/v1/", b"/v2/"), sig))
        c.eq("every field checked", r.unused(), [])
        c.report(name)
    print(f"1..{cv._n}")
    return 1 if cv._failed else 0


if __name__ == "__main__":
    sys.exit(main())
