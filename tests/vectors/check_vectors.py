#!/usr/bin/env python3
"""Independent cross-check of tests/vectors/ in Python 3 (standard library only).

Recomputes every hash, chain link and key id with hashlib.blake2b, derives the Ed25519 public
keys and re-signs the tokens with a small RFC 8032 implementation (the reference code of RFC
8032 section 6, no libsodium), and re-parses the token and wire vectors with struct.unpack
using the byte layouts of docs/PROTOCOL.md (compared with its tables), and checks the status
table of docs/PROTOCOL.md against include/laundromat/status.h. For the migration stream and
the control channel it has its own X25519 (RFC 7748), ChaCha20 (original and IETF), HChaCha20
and Poly1305, each checked first against published test values: it derives the session keys,
re-seals the owner's commands and replies, and opens the secretstream frames of migrate.txt.
Prints TAP ("ok N - what" / "not ok N - what") and exits 1 on any mismatch.

usage: check_vectors.py [VECTOR_DIR]
  VECTOR_DIR defaults to $LM_TOP/tests/vectors when LM_TOP is set, else this script's
  directory. The top of the tree (for docs/PROTOCOL.md and include/laundromat/status.h) is
  two levels above VECTOR_DIR.
"""
import hashlib
import os
import re
import struct
import sys

DOMAIN_CHAIN = b"laundromat/chain/v1"
DOMAIN_KEYID = b"laundromat/keyid/v1"
DOMAIN_IMAGE = b"laundromat/image/v1"
DOMAIN_MIGRATE = b"laundromat/migrate/v1"
DOMAIN_GUESTCTL = b"laundromat/guestctl/v1"
DOMAIN_VOUCH = b"laundromat/loader-vouch/v1"

# ---------------------------------------------------------------- TAP

_n = 0
_failed = 0


def tap(ok, what, details=()):
    global _n, _failed
    _n += 1
    if not ok:
        _failed += 1
    print(f"{'ok' if ok else 'not ok'} {_n} - {what}")
    if not ok:
        for line in details:
            print(f"#   {line}")


class Checks:
    """Collects the mismatches of one vector; emits one TAP line."""

    def __init__(self):
        self.errors = []

    def eq(self, what, got, want):
        if got != want:
            g = got.hex() if isinstance(got, (bytes, bytearray)) else repr(got)
            w = want.hex() if isinstance(want, (bytes, bytearray)) else repr(want)
            self.errors.append(f"{what}: computed {g}, vector has {w}")

    def true(self, what, cond):
        if not cond:
            self.errors.append(what)

    def report(self, what):
        tap(not self.errors, what, self.errors)


# ---------------------------------------------------------------- vector files


class Record:
    def __init__(self, fname, line):
        self.fname, self.line, self.fields, self.used = fname, line, {}, set()

    def name(self):
        return f"{self.fname}:{self.line} {self.fields.get('vector', '?')}"

    def has(self, k):
        return k in self.fields

    def raw(self, k):
        if k not in self.fields:
            raise KeyError(f"{self.fname}:{self.line}: no field {k!r}")
        self.used.add(k)
        return self.fields[k]

    def hex(self, k, n=None):
        v = self.raw(k)
        if not re.fullmatch(r"([0-9a-f]{2})*", v):
            raise ValueError(f"{self.fname}:{self.line}: {k}: not lowercase hex")
        b = bytes.fromhex(v)
        if n is not None and len(b) != n:
            raise ValueError(f"{self.fname}:{self.line}: {k}: {len(b)} bytes, expected {n}")
        return b

    def dec(self, k):
        v = self.raw(k)
        if not re.fullmatch(r"[0-9]+", v):
            raise ValueError(f"{self.fname}:{self.line}: {k}: not a decimal number")
        return int(v)

    def u64x(self, k):
        v = self.raw(k)
        if not re.fullmatch(r"[0-9a-f]{16}", v):
            raise ValueError(f"{self.fname}:{self.line}: {k}: not 16 hex digits")
        return int(v, 16)

    def str(self, k):
        v = self.raw(k)
        if len(v) < 2 or v[0] != '"' or v[-1] != '"':
            raise ValueError(f"{self.fname}:{self.line}: {k}: not a quoted string")
        out, i, body = [], 0, v[1:-1]
        while i < len(body):
            c = body[i]
            if c == '"':
                raise ValueError(f"{self.fname}:{self.line}: {k}: unescaped quote")
            if c == "\\":
                i += 1
                c = {"\\": "\\", '"': '"', "n": "\n"}.get(body[i] if i < len(body) else "")
                if c is None:
                    raise ValueError(f"{self.fname}:{self.line}: {k}: bad escape")
            out.append(c)
            i += 1
        return "".join(out)

    def unused(self):
        return sorted(set(self.fields) - self.used)


def load(vdir, fname):
    records, cur = [], None
    with open(os.path.join(vdir, fname), encoding="ascii") as f:
        for lineno, line in enumerate(f, 1):
            s = line.strip()
            if s.startswith("#"):
                continue
            if not s:
                cur = None
                continue
            name, eq, value = s.partition("=")
            if not eq or not name.strip():
                raise ValueError(f"{fname}:{lineno}: expected 'name = value'")
            if cur is None:
                cur = Record(fname, lineno)
                records.append(cur)
            name = name.strip()
            if name in cur.fields:
                raise ValueError(f"{fname}:{lineno}: {name} given twice")
            cur.fields[name] = value.strip()
    return records


def H(domain, data):
    return hashlib.blake2b(domain + data, digest_size=32).digest()


# ---------------------------------------------------------------- Ed25519 (RFC 8032, 6)

_p = 2**255 - 19
_q = 2**252 + 27742317777372353535851937790883648493
_d = -121665 * pow(121666, _p - 2, _p) % _p
_sqrt_m1 = pow(2, (_p - 1) // 4, _p)


def _inv(x):
    return pow(x, _p - 2, _p)


def _add(P, Q):
    A = (P[1] - P[0]) * (Q[1] - Q[0]) % _p
    B = (P[1] + P[0]) * (Q[1] + Q[0]) % _p
    C = 2 * P[3] * Q[3] * _d % _p
    D = 2 * P[2] * Q[2] % _p
    E, F, G, Hh = B - A, D - C, D + C, B + A
    return (E * F, G * Hh, F * G, E * Hh)


def _mul(s, P):
    Q = (0, 1, 1, 0)
    while s > 0:
        if s & 1:
            Q = _add(Q, P)
        P = _add(P, P)
        s >>= 1
    return Q


def _equal(P, Q):
    return (P[0] * Q[2] - Q[0] * P[2]) % _p == 0 and (P[1] * Q[2] - Q[1] * P[2]) % _p == 0


def _recover_x(y, sign):
    if y >= _p:
        return None
    x2 = (y * y - 1) * _inv(_d * y * y + 1)
    if x2 == 0:
        return None if sign else 0
    x = pow(x2, (_p + 3) // 8, _p)
    if (x * x - x2) % _p != 0:
        x = x * _sqrt_m1 % _p
    if (x * x - x2) % _p != 0:
        return None
    if (x & 1) != sign:
        x = _p - x
    return x


_gy = 4 * _inv(5) % _p
_gx = _recover_x(_gy, 0)
_G = (_gx, _gy, 1, _gx * _gy % _p)


def _compress(P):
    zi = _inv(P[2])
    x, y = P[0] * zi % _p, P[1] * zi % _p
    return int.to_bytes(y | ((x & 1) << 255), 32, "little")


def _decompress(s):
    y = int.from_bytes(s, "little")
    sign = y >> 255
    y &= (1 << 255) - 1
    x = _recover_x(y, sign)
    return None if x is None else (x, y, 1, x * y % _p)


def _expand(seed):
    h = hashlib.sha512(seed).digest()
    a = int.from_bytes(h[:32], "little")
    a &= (1 << 254) - 8
    a |= 1 << 254
    return a, h[32:]


def _hq(data):
    return int.from_bytes(hashlib.sha512(data).digest(), "little") % _q


def ed25519_public(seed):
    return _compress(_mul(_expand(seed)[0], _G))


def ed25519_sign(seed, msg):
    a, prefix = _expand(seed)
    A = _compress(_mul(a, _G))
    r = _hq(prefix + msg)
    R = _compress(_mul(r, _G))
    s = (r + _hq(R + A + msg) * a) % _q
    return R + int.to_bytes(s, 32, "little")


def ed25519_verify(pk, msg, sig):
    A, R = _decompress(pk), _decompress(sig[:32])
    s = int.from_bytes(sig[32:], "little")
    if A is None or R is None or s >= _q:
        return False
    h = _hq(sig[:32] + pk + msg)
    return _equal(_mul(s, _G), _add(R, _mul(h, A)))


# ---------------------------------------------------------------- X25519 (RFC 7748, 5)


def x25519(k, u):
    k = bytearray(k)
    k[0] &= 248
    k[31] = (k[31] & 127) | 64
    k = int.from_bytes(k, "little")
    x1 = int.from_bytes(u, "little") & ((1 << 255) - 1)
    x2, z2, x3, z3, swap = 1, 0, x1, 1, 0
    for t in range(254, -1, -1):
        bit = (k >> t) & 1
        if swap ^ bit:
            x2, x3, z2, z3 = x3, x2, z3, z2
        swap = bit
        a, b, c, d = x2 + z2, x2 - z2, x3 + z3, x3 - z3
        aa, bb, da, cb = a * a % _p, b * b % _p, d * a % _p, c * b % _p
        e = aa - bb
        x3, z3 = (da + cb) ** 2 % _p, x1 * (da - cb) ** 2 % _p
        x2, z2 = aa * bb % _p, e * (aa + 121665 * e) % _p
    if swap:
        x2, z2 = x3, z3
    return (x2 * pow(z2, _p - 2, _p) % _p).to_bytes(32, "little")


# ---------------------------------------------------------------- ChaCha20, Poly1305 (RFC 8439)

_M32 = 0xFFFFFFFF


def _rounds(s):
    """The 20 ChaCha rounds over a 16-word state, in place."""
    def qr(a, b, c, d):
        for x, y, z, r in ((a, b, d, 16), (c, d, b, 12), (a, b, d, 8), (c, d, b, 7)):
            s[x] = (s[x] + s[y]) & _M32
            v = s[z] ^ s[x]
            s[z] = ((v << r) | (v >> (32 - r))) & _M32
    for _ in range(10):
        qr(0, 4, 8, 12), qr(1, 5, 9, 13), qr(2, 6, 10, 14), qr(3, 7, 11, 15)
        qr(0, 5, 10, 15), qr(1, 6, 11, 12), qr(2, 7, 8, 13), qr(3, 4, 9, 14)


def _state(key, tail16):
    return [0x61707865, 0x3320646E, 0x79622D32, 0x6B206574] + list(
        struct.unpack("<8I", key) + struct.unpack("<4I", tail16))


def chacha20_xor(key, nonce, data, counter=0):
    """ChaCha20 keystream xor data: an 8-byte nonce and 64-bit block counter (the original,
    libsodium's crypto_stream_chacha20), or a 12-byte nonce and 32-bit counter (IETF)."""
    out = bytearray()
    for i in range(0, len(data), 64):
        n = counter + i // 64
        ctr = n.to_bytes(8 if len(nonce) == 8 else 4, "little")
        s = _state(key, ctr + nonce)
        w = s[:]
        _rounds(w)
        ks = struct.pack("<16I", *((a + b) & _M32 for a, b in zip(w, s)))
        out += bytes(x ^ y for x, y in zip(data[i:i + 64], ks))
    return bytes(out)


def hchacha20(key, inp16):
    s = _state(key, inp16)
    _rounds(s)
    return struct.pack("<8I", *(s[0:4] + s[12:16]))


def poly1305(key, msg):
    r = int.from_bytes(key[:16], "little") & 0x0FFFFFFC0FFFFFFC0FFFFFFC0FFFFFFF
    acc, P = 0, (1 << 130) - 5
    for i in range(0, len(msg), 16):
        acc = (acc + int.from_bytes(msg[i:i + 16] + b"\x01", "little")) * r % P
    return ((acc + int.from_bytes(key[16:], "little")) & ((1 << 128) - 1)).to_bytes(16, "little")


class SecretstreamPull:
    """libsodium's crypto_secretstream_xchacha20poly1305, the receiving side, no rekeying
    (the vectors carry no REKEY tag and far fewer than 2^32 messages)."""

    def __init__(self, key, header):
        self.k = hchacha20(key, header[:16])
        self.counter, self.inonce = 1, header[16:24]

    def pull(self, c):
        """(tag, plaintext), or None when the message does not authenticate."""
        nonce = self.counter.to_bytes(4, "little") + self.inonce
        mlen = len(c) - 17
        if mlen < 0:
            return None
        polykey = chacha20_xor(self.k, nonce, bytes(64))[:32]
        block = chacha20_xor(self.k, nonce, bytes(64), 1)
        tag = c[0] ^ block[0]
        body = c[1:1 + mlen]
        mac_in = (bytes([c[0]]) + block[1:] + body + bytes((16 - (64 + mlen) % 16) % 16) +
                  (0).to_bytes(8, "little") + (64 + mlen).to_bytes(8, "little"))
        mac = poly1305(polykey, mac_in)
        if mac != c[1 + mlen:]:
            return None
        m = chacha20_xor(self.k, nonce, body, 2)
        self.inonce = bytes(a ^ b for a, b in zip(self.inonce, mac[:8]))
        self.counter = (self.counter + 1) & _M32
        return tag, m


def check_crypto():
    """The pure-Python primitives against published values, before they judge the vectors."""
    h = bytes.fromhex
    c = Checks()
    # RFC 7748, 6.1: Alice's and Bob's keys and their shared secret.
    a = h("77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a")
    b = h("5dab087e624a8a4b79e17f8b83800ee66f3bb1292618b6fd1c2f8b27ff88e0eb")
    nine = (9).to_bytes(32, "little")
    c.eq("X25519 Alice", x25519(a, nine),
         h("8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a"))
    c.eq("X25519 Bob", x25519(b, nine),
         h("de9edb7d7b7dc1b4d35b61c2ece435373f8343c85b78674dadfc7e146f882b4f"))
    c.eq("X25519 shared", x25519(a, x25519(b, nine)),
         h("4a5d9d5ba4ce2de1728e3bf480350f25e07e21c947d19e3376f09b3c1e161742"))
    # ChaCha20 with an all-zero key and nonce: the first keystream block (both variants).
    z = h("76b8e0ada0f13d90405d6ae55386bd28bdd219b8a08ded1aa836efcc8b770dc7"
          "da41597c5157488d7724e03fb8d84a376a43b8f41518a11cc387b669b2ee6586")
    c.eq("ChaCha20 zero key", chacha20_xor(bytes(32), bytes(8), bytes(64)), z)
    c.eq("ChaCha20-IETF zero key", chacha20_xor(bytes(32), bytes(12), bytes(64)), z)
    # RFC 8439, 2.4.2: the sunscreen text, IETF variant, counter 1.
    key = bytes(range(32))
    pt = (b"Ladies and Gentlemen of the class of '99: If I could offer you only one tip for "
          b"the future, sunscreen would be it.")
    ct = chacha20_xor(key, h("000000000000004a00000000"), pt, 1)
    c.eq("ChaCha20-IETF RFC 8439 2.4.2", ct[:16], h("6e2e359a2568f98041ba0728dd0d6981"))
    c.eq("ChaCha20-IETF RFC 8439 2.4.2 (end)", ct[-18:], h("5af90bbf74a35be6b40b8eedf2785e42874d"))
    # draft-irtf-cfrg-xchacha 2.2.1: HChaCha20.
    c.eq("HChaCha20", hchacha20(key, h("000000090000004a0000000031415927")),
         h("82413b4227b27bfed30e42508a877d73a0f9e4d58a74a853c12ec41326d3ecdc"))
    # RFC 8439, 2.5.2: Poly1305.
    c.eq("Poly1305", poly1305(h("85d6be7857556d337f4452fe42d506a80103808afb0db2fd4abff6af4149f51b"),
                              b"Cryptographic Forum Research Group"),
         h("a8061dc1305136c6c22b8baf0c0127a9"))
    c.report("crypto self-test: X25519, ChaCha20, HChaCha20, Poly1305 against RFC values")


# ---------------------------------------------------------------- layouts

# (offset, size, field, type) as in docs/PROTOCOL.md; type u8/u16/u32/u64 little-endian, or bytes.
TOKEN = [
    (0, 4, "magic", "bytes"), (4, 2, "version", "u16"), (6, 2, "flags", "u16"),
    (8, 16, "id", "bytes"), (24, 8, "key_id", "u64"), (32, 8, "issued", "u64"),
    (40, 8, "expires", "u64"), (48, 1, "scope_kind", "u8"), (49, 1, "payload_kind", "u8"),
    (50, 2, "vcpus", "u16"), (52, 4, "mem_mib", "u32"), (56, 32, "scope", "bytes"),
    (88, 32, "commitment", "bytes"), (120, 32, "anchor", "bytes"),
    (152, 4, "chain_len", "u32"), (156, 4, "link_value_ms", "u32"),
    (160, 4, "prepaid_units", "u32"), (164, 4, "reserved", "u32"), (168, 6, "mac", "bytes"),
    (174, 1, "prefix", "u8"), (175, 1, "reserved2", "u8"), (176, 4, "ipv4", "bytes"),
    (180, 4, "reserved3", "u32"), (184, 64, "signature", "bytes"),
]
HEAD = [(0, 4, "magic", "bytes"), (4, 2, "version", "u16")]
PING = HEAD + [(6, 2, "flags", "u16"), (8, 8, "nonce", "u64"), (16, 248, "token", "bytes")]
PING_PAYMENT = [(264, 4, "pay_index", "u32"), (268, 32, "pay_link", "bytes")]
PING_REPLY = HEAD + [
    (6, 2, "status", "u16"), (8, 8, "nonce", "u64"), (16, 16, "token_id", "bytes"),
    (32, 8, "vm_id", "u64"), (40, 8, "server_time", "u64"), (48, 4, "loader_ip", "bytes"),
    (52, 2, "loader_port", "u16"), (54, 2, "flags", "u16"), (56, 8, "credit_ms", "u64"),
]
PING_REPLY_VOUCH = [(64, 32, "loader_pub", "bytes"), (96, 64, "vouch_sig", "bytes")]
PAY = HEAD + [
    (6, 2, "flags", "u16"), (8, 16, "token_id", "bytes"), (24, 4, "index", "u32"),
    (28, 4, "reserved", "u32"), (32, 32, "link", "bytes"),
]
PAY_REPLY = HEAD + [
    (6, 2, "status", "u16"), (8, 16, "token_id", "bytes"), (24, 4, "accepted_index", "u32"),
    (28, 4, "reserved", "u32"), (32, 8, "credit_ms", "u64"), (40, 8, "server_time", "u64"),
]
MIG_HELLO = [(0, 4, "magic", "bytes"), (4, 2, "version", "u16"), (6, 2, "reserved", "u16"),
             (8, 32, "mig_pub", "bytes"), (40, 32, "nonce", "bytes")]
MIG_RECORD = [(0, 1, "type", "u8"), (1, 1, "flags", "u8"), (2, 2, "reserved", "u16"),
              (4, 4, "count", "u32"), (8, 8, "arg", "u64")]
MIG_CONTEXT = [
    (0, 4, "magic", "bytes"), (4, 4, "version", "u32"), (8, 8, "mem_size", "u64"),
    (16, 8, "kernel_start", "u64"), (24, 8, "kernel_end", "u64"),
    (32, 8, "resume_entry", "u64"), (40, 8, "clock_ns", "u64"), (48, 8, "wall_ns", "u64"),
    (56, 4, "platform", "u32"), (60, 12, "reserved", "bytes"),
]
MIG_TOTALS = [(0, 8, "data_pages", "u64"), (8, 8, "zero_pages", "u64"), (16, 8, "records", "u64")]
MIG_GO = [(0, 8, "fw_in", "u64"), (8, 8, "fw_out", "u64"), (16, 8, "cow_faults", "u64"),
          (24, 8, "cow_ticks", "u64")]
GC_COMMAND = HEAD + [
    (6, 2, "cmd", "u16"), (8, 8, "time", "u64"), (16, 16, "nonce", "bytes"),
    (32, 2, "body_len", "u16"), (34, 2, "reserved", "u16"),
]
GC_REPLY = HEAD + [(6, 2, "cmd", "u16"), (8, 16, "nonce", "bytes"), (24, 2, "status", "u16"),
                   (26, 2, "body_len", "u16")]
GC_MIGRATE = [
    (0, 4, "ip", "bytes"), (4, 2, "port", "u16"), (6, 2, "flags", "u16"),
    (8, 4, "max_rounds", "u32"), (12, 4, "reserved", "u32"), (16, 32, "loader_pub", "bytes"),
    (48, 32, "mig_secret", "bytes"), (80, 16, "pay_token", "bytes"),
    (96, 32, "pay_seed", "bytes"), (128, 4, "pay_len", "u32"), (132, 4, "reserved2", "u32"),
]
GC_STATUS_U64 = ["pages_sent", "pages_round", "bytes", "elapsed_ns", "dirty_rate", "ram_pages",
                 "migrations", "uptime_ns", "total_ns", "downtime_ns", "last_bytes",
                 "data_pages", "zero_pages", "last_ram_pages", "rounds", "final_pages",
                 "cow_faults", "fw_in", "fw_out"]
GC_STATUS = ([(0, 4, "phase", "u32"), (4, 4, "round", "u32")] +
             [(8 + 8 * i, 8, f, "u64") for i, f in enumerate(GC_STATUS_U64)] +
             [(160, 4, "status", "u32"), (164, 4, "evict_ms", "u32"), (168, 96, "error", "bytes")])
LAYOUTS = {"token": TOKEN, "ping": PING + PING_PAYMENT, "ping_reply": PING_REPLY + PING_REPLY_VOUCH,
           "pay": PAY, "pay_reply": PAY_REPLY, "mig_hello": MIG_HELLO, "mig_record": MIG_RECORD,
           "mig_context": MIG_CONTEXT, "mig_totals": MIG_TOTALS, "mig_go": MIG_GO,
           "gc_command": GC_COMMAND, "gc_reply": GC_REPLY, "gc_migrate": GC_MIGRATE,
           "gc_status": GC_STATUS}

_CODES = {"u8": "B", "u16": "H", "u32": "I", "u64": "Q"}


def unpack(layout, buf):
    """Unpacks buf (exactly the layout's size) into {field: value}."""
    fmt = "<" + "".join(_CODES.get(t, f"{n}s") for _, n, _, t in layout)
    return dict(zip((f for _, _, f, _ in layout), struct.unpack(fmt, buf)))


def layout_ok(layout):
    """Fields are contiguous from offset 0 and integer sizes match their types."""
    pos = 0
    for off, n, _, t in layout:
        if off != pos or (t in _CODES and struct.calcsize("<" + _CODES[t]) != n):
            return False
        pos += n
    return True


def doc_layouts(path):
    """The tables after '<!-- layout: NAME -->' markers in PROTOCOL.md."""
    out, name, rows = {}, None, None
    with open(path, encoding="utf-8") as f:
        for line in f:
            m = re.match(r"<!-- layout: (\w+) -->", line.strip())
            if m:
                name, rows = m.group(1), []
                out[name] = rows
                continue
            if name is None:
                continue
            s = line.strip()
            if s.startswith("|"):
                cells = [c.strip().strip("`") for c in s.strip("|").split("|")]
                if cells[0].isdigit():
                    rows.append((int(cells[0]), int(cells[1]), cells[2], cells[3]))
            elif rows:
                name = None
    return out


# ---------------------------------------------------------------- checks


def check_layouts(docdir):
    path = os.path.join(docdir, "PROTOCOL.md")
    try:
        docs = doc_layouts(path)
    except OSError as e:
        tap(False, f"docs/PROTOCOL.md layouts: {e}")
        return
    for name, layout in LAYOUTS.items():
        c = Checks()
        c.true("contiguous, sizes match types", layout_ok(layout))
        doc = docs.get(name)
        if doc is None:
            c.errors.append("no table after <!-- layout: %s --> in docs/PROTOCOL.md" % name)
        else:
            for row in sorted(set(layout) ^ set(doc)):
                where = "only in" if row in doc else "missing from"
                c.errors.append(f"{where} docs/PROTOCOL.md: {row}")
            c.true("rows of docs/PROTOCOL.md out of order", sorted(doc) == doc)
        c.report(f"layout '{name}' of docs/PROTOCOL.md")


def check_status(topdir):
    """The status table of PROTOCOL.md against LM_STATUS_TABLE in status.h."""
    code, local = [], False
    with open(os.path.join(topdir, "include", "laundromat", "status.h"), encoding="utf-8") as f:
        for line in f:
            if "local errors" in line:
                local = True
            m = re.search(r'X\((\w+), (\d+), "([^"]*)"\)', line)
            if m:
                code.append((int(m.group(2)), m.group(1), "local" if local else "wire",
                             m.group(3)))
    doc, on = [], False
    with open(os.path.join(topdir, "docs", "PROTOCOL.md"), encoding="utf-8") as f:
        for line in f:
            s = line.strip()
            if s == "<!-- table: status -->":
                on = True
            elif on and s.startswith("|"):
                cells = [c.strip().strip("`") for c in s.strip("|").split("|")]
                if cells[0].isdigit():
                    doc.append((int(cells[0]), cells[1], cells[2], cells[3]))
            elif on and doc:
                break
    c = Checks()
    c.true("no X(...) entries found in status.h", len(code) > 0)
    for row in sorted(set(code) ^ set(doc)):
        c.errors.append(f"{'status.h' if row in code else 'PROTOCOL.md'} only: {row}")
    c.report(f"status table of docs/PROTOCOL.md = LM_STATUS_TABLE ({len(code)} codes)")
    names = {name: value for value, name, _, _ in code}
    return names


def check_hash(vdir):
    recs = load(vdir, "hash.txt")
    per_domain = {}
    for r in recs:
        c = Checks()
        domain = r.str("domain").encode()
        c.eq("hash", H(domain, r.hex("data")), r.hex("hash", 32))
        per_domain[domain] = per_domain.get(domain, 0) + 1
        c.true("unknown domain", domain in (DOMAIN_CHAIN, DOMAIN_KEYID, DOMAIN_IMAGE))
        c.true(f"unused fields {r.unused()}", r.unused() == ["vector"])
        c.report(f"hash {r.name()}")
    for d in (DOMAIN_CHAIN, DOMAIN_KEYID, DOMAIN_IMAGE):
        tap(per_domain.get(d, 0) >= 4, f"hash.txt covers {d.decode()} (at least 4 inputs)")


def parse_textfile(text, tag):
    """A key or chain file: comment lines, the tag line, then 'name value' lines."""
    lines = [l for l in text.split("\n") if l and not l.startswith("#")]
    if not text.endswith("\n") or not lines or lines[0] != tag:
        return None
    out = {}
    for l in lines[1:]:
        k, _, v = l.partition(" ")
        if k in out:
            return None
        out[k] = v
    return out


def check_keys(vdir):
    keys = {}
    for r in load(vdir, "keys.txt"):
        c = Checks()
        seed, pk = r.hex("seed", 32), r.hex("public", 32)
        c.eq("Ed25519 public key from seed", ed25519_public(seed), pk)
        h = H(DOMAIN_KEYID, pk)
        c.eq("key_id_hash", h, r.hex("key_id_hash", 32))
        kid = int.from_bytes(h[:8], "little")
        c.eq("key_id", kid, r.u64x("key_id"))
        if r.has("secret_file"):
            sf = parse_textfile(r.str("secret_file"), "laundromat-secret-key-v1")
            c.eq("secret key file", sf, {"key-id": f"{kid:016x}", "seed": seed.hex()})
        if r.has("public_file"):
            pf = parse_textfile(r.str("public_file"), "laundromat-public-key-v1")
            c.eq("public key file", pf, {"key-id": f"{kid:016x}", "public": pk.hex()})
        r.raw("vector")
        c.true(f"unchecked fields {r.unused()}", not r.unused())
        c.report(f"key {r.name()}")
        keys[seed] = (pk, kid)
    return keys


def check_chain(vdir):
    chains = []
    for r in load(vdir, "chain.txt"):
        c = Checks()
        seed, n = r.hex("seed", 32), r.dec("length")
        links = [r.hex(f"link_{k}", 32) for k in range(n + 1)]
        c.eq("link n = seed", links[n], seed)
        x = seed
        for k in range(n, -1, -1):
            c.eq(f"link_{k}", x, links[k])
            x = H(DOMAIN_CHAIN, x)
        cf = parse_textfile(r.str("chain_file"), "laundromat-chain-v1")
        c.eq("chain file", cf, {"length": str(n), "anchor": links[0].hex(), "seed": seed.hex()})
        r.raw("vector")
        c.true(f"unchecked fields {r.unused()}", not r.unused())
        c.report(f"chain {r.name()}")
        chains.append(links)
    return chains


def token_rules(t):
    """The structural rules of lm_token_decode (docs/PROTOCOL.md); a list of violations."""
    bad = []
    scope = t["scope"].rstrip(b"\0")
    if t["magic"] != b"LMTK" or t["version"] != 1 or t["flags"] != 0:
        bad.append("magic, version or flags")
    if t["reserved"] or t["reserved2"] or t["reserved3"]:
        bad.append("reserved not zero")
    if not (t["issued"] < t["expires"] <= t["issued"] + 400 * 86400):
        bad.append("lifetime")
    if t["scope_kind"] not in (1, 2):
        bad.append("scope kind")
    if not scope or any(b <= 0x20 or b >= 0x7F for b in scope):
        bad.append("scope name")
    if not (1 <= t["vcpus"] <= 256 and 1 <= t["mem_mib"] <= 1 << 20):
        bad.append("shape")
    if t["payload_kind"] not in (1, 2):
        bad.append("payload kind")
    if t["commitment"] == bytes(32):
        bad.append("zero commitment")
    if t["chain_len"] > 1 << 24 or (t["chain_len"] == 0) != (t["anchor"] == bytes(32)):
        bad.append("chain length or anchor")
    if t["link_value_ms"] == 0 or t["prepaid_units"] > 1 << 24:
        bad.append("link value or prepaid")
    if t["prepaid_units"] == 0 and t["chain_len"] == 0:
        bad.append("no value")
    ip_zero = t["ipv4"] == bytes(4)
    if (t["prefix"] != 0) if ip_zero else not (1 <= t["prefix"] <= 32):
        bad.append("prefix")
    if t["mac"] != bytes(6) and t["mac"][0] & 1:
        bad.append("multicast MAC")
    return bad


def check_tokens(vdir, keys, chains):
    tokens = []
    for r in load(vdir, "token.txt"):
        c = Checks()
        raw = r.hex("token", 248)
        t = unpack(TOKEN, raw)
        seed = r.hex("key_seed", 32)
        pk = ed25519_public(seed)
        kid = int.from_bytes(H(DOMAIN_KEYID, pk)[:8], "little")
        if seed in keys:
            c.eq("public key of key_seed (keys.txt)", pk, keys[seed][0])
        c.eq("key_id of key_seed", kid, r.u64x("key_id"))
        want = {
            "magic": b"LMTK", "version": 1, "flags": 0, "id": r.hex("id", 16), "key_id": kid,
            "issued": r.dec("issued"), "expires": r.dec("expires"),
            "scope_kind": r.dec("scope_kind"), "payload_kind": r.dec("payload_kind"),
            "vcpus": r.dec("vcpus"), "mem_mib": r.dec("mem_mib"),
            "scope": r.str("scope").encode().ljust(32, b"\0"),
            "commitment": r.hex("commitment", 32), "anchor": r.hex("anchor", 32),
            "chain_len": r.dec("chain_len"), "link_value_ms": r.dec("link_value_ms"),
            "prepaid_units": r.dec("prepaid_units"), "reserved": 0, "mac": r.hex("mac", 6),
            "prefix": r.dec("prefix"), "reserved2": 0, "ipv4": r.hex("ipv4", 4),
            "reserved3": 0, "signature": r.hex("signature", 64),
        }
        for k, v in want.items():
            c.eq(f"bytes of field {k}", t[k], v)
        c.true(f"decode rules: {token_rules(t)}", not token_rules(t))
        c.eq("value_ms", (t["prepaid_units"] + t["chain_len"]) * t["link_value_ms"],
             r.dec("value_ms"))
        if r.has("image"):
            c.eq("commitment = H(image domain || image)", H(DOMAIN_IMAGE, r.hex("image")),
                 t["commitment"])
        if t["chain_len"] and t["chain_len"] + 1 in map(len, chains):
            c.true("anchor is not that of chain.txt",
                   any(t["anchor"] == l[0] for l in chains if len(l) == t["chain_len"] + 1))
        c.eq("Ed25519 signature of bytes 0..183", ed25519_sign(seed, raw[:184]), raw[184:])
        c.true("Ed25519 verify", ed25519_verify(pk, raw[:184], raw[184:]))
        r.raw("vector")
        c.true(f"unchecked fields {r.unused()}", not r.unused())
        c.report(f"token {r.name()}")
        tokens.append(raw)
    return tokens


def check_wire(vdir, tokens, chains, status_names):
    sizes = {"ping": 264, "ping_reply": 64, "pay": 64, "pay_reply": 48}
    magic = {"ping": b"LMPG", "ping_reply": b"LMPR", "pay": b"LMPY", "pay_reply": b"LMPA"}
    seen = set()
    links = chains[0] if chains else []
    for r in load(vdir, "wire.txt"):
        c = Checks()
        typ, msg = r.str("type"), r.hex("message")
        layout = {"ping": PING, "ping_reply": PING_REPLY, "pay": PAY, "pay_reply": PAY_REPLY}[typ]
        want = {"magic": magic[typ], "version": 1}
        size = sizes[typ]
        if typ == "ping":
            paid = r.dec("has_payment")
            want.update(flags=paid, nonce=r.dec("nonce"), token=r.hex("token", 248))
            if paid:
                layout, size = layout + PING_PAYMENT, 300
                want.update(pay_index=r.dec("pay_index"), pay_link=r.hex("pay_link", 32))
                if want["pay_index"] < len(links):
                    c.eq("pay_link = link of chain.txt", want["pay_link"], links[want["pay_index"]])
            c.true("token is one of token.txt", want["token"] in tokens)
            seen.add("ping with payment" if paid else "ping")
        elif typ == "ping_reply":
            want.update(status=r.dec("status"), nonce=r.dec("nonce"),
                        token_id=r.hex("token_id", 16), vm_id=r.dec("vm_id"),
                        server_time=r.dec("server_time"), loader_ip=r.hex("loader_ip", 4),
                        loader_port=r.dec("loader_port"), flags=0,
                        credit_ms=r.dec("credit_ms"))
            if r.has("vouch_sig"):
                layout, size = layout + PING_REPLY_VOUCH, 160
                seed, pub = r.hex("key_seed", 32), r.hex("loader_pub", 32)
                want.update(flags=1, loader_pub=pub, vouch_sig=r.hex("vouch_sig", 64))
                vmsg = (DOMAIN_VOUCH + want["token_id"] + struct.pack("<Q", want["vm_id"]) +
                        want["loader_ip"] + struct.pack("<H", want["loader_port"]) + pub)
                c.eq("vouch_sig = Ed25519(key_seed, vouch message)", ed25519_sign(seed, vmsg),
                     want["vouch_sig"])
                c.true("vouch_sig verifies", ed25519_verify(ed25519_public(seed), vmsg,
                                                            want["vouch_sig"]))
                seen.add("ping_reply vouched")
        elif typ == "pay":
            want.update(flags=0, token_id=r.hex("token_id", 16), index=r.dec("index"),
                        reserved=0, link=r.hex("link", 32))
            if want["index"] < len(links):
                c.eq("link = link of chain.txt", want["link"], links[want["index"]])
        else:
            want.update(status=r.dec("status"), token_id=r.hex("token_id", 16),
                        accepted_index=r.dec("accepted_index"), reserved=0,
                        credit_ms=r.dec("credit_ms"), server_time=r.dec("server_time"))
        if "status" in want:
            name = r.str("status_name")
            c.eq(f"status of {name} in status.h", status_names.get(name), want["status"])
        seen.add(typ)
        c.eq("size", len(msg), size)
        if len(msg) == size:
            m = unpack(layout, msg)
            for k, v in want.items():
                c.eq(f"bytes of field {k}", m[k], v)
        r.raw("vector")
        c.true(f"unchecked fields {r.unused()}", not r.unused())
        c.report(f"wire {r.name()}")
    need = {"ping", "ping with payment", "ping_reply", "ping_reply vouched", "pay", "pay_reply"}
    tap(need <= seen, "wire.txt has every message type", [f"missing {sorted(need - seen)}"])


# Record types of the migration stream and the body length each fixes (None: 1 to 200).
MIG_TYPES = {1: "PAGES", 2: "ZERO", 3: "ROUND", 4: "CONTEXT", 5: "END", 6: "GO", 7: "ZPAGES", 0x81: "READY",
             0x82: "ERROR"}


def mig_body_len(typ, count):
    return {1: count * 4096 if 1 <= count <= 16 else -1, 2: 0, 3: 0, 4: 72, 5: 24, 6: 32,
            7: None, 0x81: 24, 0x82: None}[typ]


def zstd_inflate(body):
    """A ZPAGES body inflated by the zstd command (Debian's zstd package), independent of
    our C code."""
    import subprocess
    return subprocess.run(["zstd", "-d", "-c", "-q"], input=body, capture_output=True,
                          check=True).stdout


def context_rules(c, c_checks):
    c_checks.eq("context magic", c["magic"], b"LMCX")
    c_checks.eq("context version", c["version"], 1)
    c_checks.eq("context reserved", c["reserved"], bytes(12))
    c_checks.true("context platform 0 (our monitor) or 1 (PVH)", c["platform"] in (0, 1))
    c_checks.true("resume entry inside the kernel, the kernel inside RAM",
                  c["kernel_start"] <= c["resume_entry"] < c["kernel_end"] <= c["mem_size"])


def check_migrate(vdir):
    keys, seen = {}, set()
    for r in load(vdir, "migrate.txt"):
        c = Checks()
        typ = r.str("type")
        seen.add(typ)
        if typ == "keys":
            m, l = r.hex("mig_secret", 32), r.hex("loader_secret", 32)
            M, L, nonce = r.hex("mig_pub", 32), r.hex("loader_pub", 32), r.hex("nonce", 32)
            nine = (9).to_bytes(32, "little")
            c.eq("M = X25519(m, 9)", x25519(m, nine), M)
            c.eq("L = X25519(l, 9)", x25519(l, nine), L)
            shared = r.hex("shared", 32)
            c.eq("shared = X25519(m, L)", x25519(m, L), shared)
            c.eq("shared = X25519(l, M)", x25519(l, M), shared)
            k = hashlib.blake2b(DOMAIN_MIGRATE + M + L + nonce, key=shared, digest_size=64).digest()
            c.eq("key_gl", k[:32], r.hex("key_gl", 32))
            c.eq("key_lg", k[32:], r.hex("key_lg", 32))
            keys = {"M": M, "nonce": nonce, "gl": k[:32]}
        elif typ == "hello":
            msg = r.hex("message", 72)
            h = unpack(MIG_HELLO, msg)
            want = {"magic": b"LMMG", "version": 1, "reserved": 0,
                    "mig_pub": r.hex("mig_pub", 32), "nonce": r.hex("nonce", 32)}
            for k, v in want.items():
                c.eq(f"bytes of field {k}", h[k], v)
            if keys:
                c.eq("the keys vector's M and nonce", (h["mig_pub"], h["nonce"]),
                     (keys["M"], keys["nonce"]))
        elif typ == "context":
            ctx = unpack(MIG_CONTEXT, r.hex("message", 72))
            for k in ("mem_size", "kernel_start", "kernel_end", "resume_entry", "clock_ns",
                      "wall_ns", "platform"):
                c.eq(f"bytes of field {k}", ctx[k], r.dec(k))
            context_rules(ctx, c)
        elif typ == "record":
            msg, body = r.hex("message"), r.hex("body")
            h = unpack(MIG_RECORD, msg[:16])
            t = r.dec("rec_type")
            c.eq("header", h, {"type": t, "flags": 0, "reserved": 0, "count": r.dec("count"),
                               "arg": r.dec("arg")})
            c.eq("body = message after the header", msg[16:], body)
            c.true(f"unknown type {t}", t in MIG_TYPES)
            want = mig_body_len(t, h["count"]) if t in MIG_TYPES else -1
            if want is None and t == 7:
                c.true("ZPAGES: 1 to 16 pages, 1 to count * 4096 bytes of body",
                       1 <= h["count"] <= 16 and 1 <= len(body) <= h["count"] * 4096)
                pages = zstd_inflate(body)
                c.eq("ZPAGES inflates to exactly count pages", len(pages), h["count"] * 4096)
                c.eq("ZPAGES inflates to page 1 (byte i = 7i + 3)", pages,
                     bytes((i * 7 + 3) % 256 for i in range(len(pages))))
            elif want is None:
                c.true("ERROR: arg 0, a message of 1 to 200 bytes",
                       h["arg"] == 0 and 1 <= len(body) <= 200)
            else:
                c.eq("body length for the type and count", len(body), want)
            if t in (4, 5, 6, 0x81):
                c.eq("count and arg of a fixed record", (h["count"], h["arg"]), (0, 0))
            if t in (5, 0x81) and len(body) == 24:
                tot = unpack(MIG_TOTALS, body)
                for k in ("data_pages", "zero_pages", "records"):
                    c.eq(k, tot[k], r.dec(k))
            if t == 6 and len(body) == 32:
                go = unpack(MIG_GO, body)
                for k in ("fw_in", "fw_out", "cow_faults", "cow_ticks"):
                    c.eq(k, go[k], r.dec(k))
            if t == 4 and len(body) == 72:
                context_rules(unpack(MIG_CONTEXT, body), c)
            seen.add(MIG_TYPES.get(t, "?"))
        elif typ == "stream":
            key = r.hex("key", 32)
            if keys:
                c.eq("key = key_gl", key, keys["gl"])
            ss = SecretstreamPull(key, r.hex("header", 24))
            k = 0
            while r.has(f"frame_{k}"):
                frame, plain = r.hex(f"frame_{k}"), r.hex(f"plain_{k}")
                clen = int.from_bytes(frame[:4], "little")
                c.eq(f"frame_{k}: u32 length = the rest", clen, len(frame) - 4)
                c.eq(f"frame_{k}: ciphertext = plaintext + 17", clen, len(plain) + 17)
                got = ss.pull(frame[4:])
                if got is None:
                    c.errors.append(f"frame_{k} does not authenticate")
                    break
                c.eq(f"plain_{k}", got[1], plain)
                c.eq(f"tag_{k}", got[0], r.dec(f"tag_{k}"))
                c.eq(f"frame_{k}: final tag exactly on GO", got[0] == 3, plain[:1] == b"\x06")
                k += 1
            c.true("at least two frames", k >= 2)
        else:
            c.errors.append(f"unknown type {typ!r}")
        r.raw("vector")
        c.true(f"unchecked fields {r.unused()}", not r.unused())
        c.report(f"migrate {r.name()}")
    need = {"keys", "hello", "context", "stream"} | set(MIG_TYPES.values())
    tap(need <= seen, "migrate.txt has keys, hello, context, stream and every record type",
        [f"missing {sorted(need - seen)}"])


def check_guestctl(vdir, status_names):
    seen = set()
    for r in load(vdir, "guestctl.txt"):
        c = Checks()
        typ = r.str("type")
        seen.add(typ)
        if typ == "ctl_key":
            seed = r.hex("owner_seed", 32)
            c.eq("owner_pub", ed25519_public(seed), r.hex("owner_pub", 32))
            c.eq("ctl_key", hashlib.blake2b(DOMAIN_GUESTCTL + b"ctl-key", key=seed,
                                            digest_size=32).digest(), r.hex("ctl_key", 32))
        elif typ == "migrate":
            m = unpack(GC_MIGRATE, r.hex("body", 136))
            want = {"ip": r.hex("ip", 4), "port": r.dec("port"), "flags": 0,
                    "max_rounds": r.dec("max_rounds"), "reserved": 0,
                    "loader_pub": r.hex("loader_pub", 32), "mig_secret": r.hex("mig_secret", 32),
                    "pay_token": r.hex("pay_token", 16), "pay_seed": r.hex("pay_seed", 32),
                    "pay_len": r.dec("pay_len"), "reserved2": 0}
            for k, v in want.items():
                c.eq(f"bytes of field {k}", m[k], v)
            c.true("an address, a port, at most 1000 rounds",
                   m["ip"] != bytes(4) and m["port"] and m["max_rounds"] <= 1000)
        elif typ == "command":
            seed, ctl, body = r.hex("owner_seed", 32), r.hex("ctl_key", 32), r.hex("body")
            msg = r.hex("message")
            c.eq("ctl_key of owner_seed", hashlib.blake2b(DOMAIN_GUESTCTL + b"ctl-key", key=seed,
                                                          digest_size=32).digest(), ctl)
            n = len(body)
            c.eq("length = 36 + body + 64", len(msg), 36 + n + 64)
            h = unpack(GC_COMMAND, msg[:36])
            c.eq("header", h, {"magic": b"LMGC", "version": 1, "cmd": r.dec("cmd"),
                               "time": r.dec("time"), "nonce": r.hex("nonce", 16),
                               "body_len": n, "reserved": 0})
            bk = hashlib.blake2b(DOMAIN_GUESTCTL + b"cmd" + msg[:36], key=ctl,
                                 digest_size=32).digest()
            c.eq("body_key", bk, r.hex("body_key", 32))
            c.eq("body encrypted with ChaCha20 (nonce 0)", chacha20_xor(bk, bytes(8), body),
                 msg[36:36 + n])
            c.eq("Ed25519 signature of header and body", ed25519_sign(seed, msg[:36 + n]),
                 msg[36 + n:])
            c.true("Ed25519 verify", ed25519_verify(ed25519_public(seed), msg[:36 + n],
                                                    msg[36 + n:]))
        elif typ == "status":
            st = unpack(GC_STATUS, r.hex("body", 264))
            for k in ["phase", "round", "status"] + GC_STATUS_U64:
                c.eq(f"bytes of field {k}", st[k], r.dec(k))
            c.eq("evict_ms (not evicted in this vector)", st["evict_ms"], 0)
            c.eq("error, NUL-padded", st["error"], r.str("error").encode().ljust(96, b"\0"))
        elif typ == "reply":
            ctl, body, msg = r.hex("ctl_key", 32), r.hex("body"), r.hex("message")
            c.eq("length = 28 + body + 32", len(msg), 28 + len(body) + 32)
            h = unpack(GC_REPLY, msg[:28])
            c.eq("header", h, {"magic": b"LMGR", "version": 1, "cmd": r.dec("cmd"),
                               "nonce": r.hex("nonce", 16), "status": r.dec("status"),
                               "body_len": len(body)})
            c.eq("body", msg[28:-32], body)
            mac = hashlib.blake2b(DOMAIN_GUESTCTL + b"reply" + msg[:-32], key=ctl,
                                  digest_size=32).digest()
            c.eq("mac", mac, r.hex("mac", 32))
            c.eq("mac = the last 32 bytes", msg[-32:], mac)
            name = r.str("status_name")
            c.eq(f"status of {name} in status.h", status_names.get(name), h["status"])
        else:
            c.errors.append(f"unknown type {typ!r}")
        r.raw("vector")
        c.true(f"unchecked fields {r.unused()}", not r.unused())
        c.report(f"guestctl {r.name()}")
    need = {"ctl_key", "migrate", "command", "status", "reply"}
    tap(need <= seen, "guestctl.txt has every type", [f"missing {sorted(need - seen)}"])


def main():
    if len(sys.argv) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    if len(sys.argv) == 2:
        vdir = sys.argv[1]
    elif os.environ.get("LM_TOP"):
        vdir = os.path.join(os.environ["LM_TOP"], "tests", "vectors")
    else:
        vdir = here
    topdir = os.path.normpath(os.path.join(vdir, os.pardir, os.pardir))
    docdir = os.path.join(topdir, "docs")
    steps = [
        ("layouts", lambda: check_layouts(docdir)),
        ("status table", lambda: check_status(topdir)),
        ("hash.txt", lambda: check_hash(vdir)),
        ("keys.txt", lambda: check_keys(vdir)),
        ("chain.txt", lambda: check_chain(vdir)),
        ("token.txt", lambda: check_tokens(vdir, state["keys"], state["chains"])),
        ("wire.txt", lambda: check_wire(vdir, state["tokens"], state["chains"], state["status"])),
        ("crypto self-test", check_crypto),
        ("migrate.txt", lambda: check_migrate(vdir)),
        ("guestctl.txt", lambda: check_guestctl(vdir, state["status"])),
    ]
    state = {"keys": {}, "chains": [], "tokens": [], "status": {}}
    for name, fn in steps:
        try:
            res = fn()
        except (OSError, ValueError, KeyError, struct.error) as e:
            tap(False, f"{name}: {e}")
            continue
        if name == "status table":
            state["status"] = res
        elif name == "keys.txt":
            state["keys"] = res
        elif name == "chain.txt":
            state["chains"] = res
        elif name == "token.txt":
            state["tokens"] = res
    print(f"1..{_n}")
    return 1 if _failed else 0


if __name__ == "__main__":
    sys.exit(main())
