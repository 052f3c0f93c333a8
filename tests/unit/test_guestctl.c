/* Unit tests of the owner's control channel: sealed commands, replies, bodies, the ctl key. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/guestctl.h"
#include "laundromat/hash.h"
#include "laundromat/keys.h"
#include "lm.h"
#include "testlib.h"

#define NOW 1795315750000000000ull /* T_NOW in ns */
#define WIN LM_GC_WINDOW_NS

static void fill(uint8_t *p, size_t n, uint8_t base)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(base + i * 13);
}

static void expect(const char *what, int rc, int want, const struct lm_diag *d, const char *msg)
{
    if (rc != -want || !memchr(d->msg, '\0', sizeof d->msg) || !strstr(d->msg, msg)) {
        print_error("%s: got %d (%s) \"%s\"; want %d (%s) containing \"%s\"\n", what, -rc,
                    rc ? lm_status_name(rc) : "OK", d->msg, want, lm_status_name(want), msg);
        fail();
    }
}

/* The owner: key pair 0 of testlib and its control key. */
struct owner {
    struct lm_keypair kp;
    uint8_t ctl[32];
};

static void owner(struct owner *o, int i)
{
    t_key(i, &o->kp);
    lm_gc_ctl_key(o->kp.seed, o->ctl);
}

static struct lm_gc_migrate sample_migrate(void)
{
    struct lm_gc_migrate m;
    memset(&m, 0, sizeof m);
    memcpy(m.ip, "\x0a\x00\x00\x07", 4);
    m.port = 7700;
    m.max_rounds = 30;
    fill(m.loader_pub, 32, 0x11);
    fill(m.mig_secret, 32, 0x22);
    fill(m.pay_token, 16, 0x33);
    fill(m.pay_seed, 32, 0x44);
    m.pay_len = 64;
    return m;
}

/* ---- the control key -------------------------------------------------------------------- */

static void test_ctl_key(void **state)
{
    (void)state;
    struct owner a, b;
    owner(&a, 0);
    owner(&b, 1);
    /* BLAKE2b-256 keyed with the seed over "laundromat/guestctl/v1" "ctl-key". */
    uint8_t want[32];
    const char *in = "laundromat/guestctl/v1ctl-key";
    assert_int_equal(crypto_generichash(want, 32, (const uint8_t *)in, strlen(in), a.kp.seed, 32),
                     0);
    assert_memory_equal(a.ctl, want, 32);
    assert_memory_not_equal(a.ctl, b.ctl, 32);
    assert_memory_not_equal(a.ctl, a.kp.seed, 32);
}

/* ---- commands ----------------------------------------------------------------------------- */

static void test_cmd_roundtrip(void **state)
{
    (void)state;
    struct owner o;
    owner(&o, 0);
    uint8_t nonce[LM_GC_NONCE_BYTES], body[LM_GC_BODY_MAX], out[LM_GC_CMD_MAX];
    uint8_t got[LM_GC_BODY_MAX];
    fill(nonce, sizeof nonce, 0xa0);
    struct lm_gc_migrate m = sample_migrate();
    lm_gc_migrate_encode(&m, body);

    size_t n =
        lm_gc_cmd_seal(LM_GC_MIGRATE, NOW, nonce, body, LM_GC_MIGRATE_SIZE, o.kp.sk, o.ctl, out);
    assert_int_equal(n, LM_GC_HDR_SIZE + LM_GC_MIGRATE_SIZE + LM_GC_SIG_BYTES);
    /* The layout: magic, version, cmd, time, nonce, body_len, reserved, body, signature. */
    assert_memory_equal(out, "LMGC\x01\x00\x02\x00", 8);
    assert_int_equal(lm_get64(out + 8), NOW);
    assert_memory_equal(out + 16, nonce, 16);
    assert_memory_equal(out + 32, "\x88\x00\x00\x00", 4);
    assert_int_equal(crypto_sign_verify_detached(out + n - 64, out, n - 64, o.kp.pub.pk), 0);
    /* The body travels encrypted: ChaCha20 under BLAKE2b-256(ctl, domain "cmd" header). */
    assert_memory_not_equal(out + LM_GC_HDR_SIZE, body, LM_GC_MIGRATE_SIZE);
    uint8_t k[32], in[22 + 3 + LM_GC_HDR_SIZE], nz[8] = {0}, dec[LM_GC_MIGRATE_SIZE];
    memcpy(in, "laundromat/guestctl/v1cmd", 25);
    memcpy(in + 25, out, LM_GC_HDR_SIZE);
    assert_int_equal(crypto_generichash(k, 32, in, sizeof in, o.ctl, 32), 0);
    assert_int_equal(
        crypto_stream_chacha20_xor(dec, out + LM_GC_HDR_SIZE, LM_GC_MIGRATE_SIZE, nz, k), 0);
    assert_memory_equal(dec, body, LM_GC_MIGRATE_SIZE);

    struct lm_gc_cmd c;
    struct lm_diag d = {""};
    memset(&c, 0x55, sizeof c);
    memset(got, 0x55, sizeof got);
    assert_int_equal(lm_gc_cmd_open(out, n, o.kp.pub.pk, o.ctl, NOW, &c, got, &d), 0);
    assert_int_equal(c.cmd, LM_GC_MIGRATE);
    assert_int_equal(c.time_ns, NOW);
    assert_memory_equal(c.nonce, nonce, 16);
    assert_int_equal(c.body_len, LM_GC_MIGRATE_SIZE);
    assert_memory_equal(got, body, LM_GC_MIGRATE_SIZE);
    struct lm_gc_migrate mm;
    assert_int_equal(lm_gc_migrate_decode(got, c.body_len, &mm, &d), 0);
    assert_memory_equal(&mm, &m, sizeof m);

    /* No body (STATUS, ABORT), and the largest body. */
    n = lm_gc_cmd_seal(LM_GC_STATUS, NOW, nonce, NULL, 0, o.kp.sk, o.ctl, out);
    assert_int_equal(n, LM_GC_HDR_SIZE + LM_GC_SIG_BYTES);
    assert_int_equal(lm_gc_cmd_open(out, n, o.kp.pub.pk, o.ctl, NOW, &c, got, &d), 0);
    assert_int_equal(c.cmd, LM_GC_STATUS);
    assert_int_equal(c.body_len, 0);
    fill(body, sizeof body, 0x01);
    n = lm_gc_cmd_seal(LM_GC_ABORT, NOW, nonce, body, LM_GC_BODY_MAX, o.kp.sk, o.ctl, out);
    assert_int_equal(n, LM_GC_CMD_MAX);
    assert_int_equal(lm_gc_cmd_open(out, n, o.kp.pub.pk, o.ctl, NOW, &c, got, &d), 0);
    assert_int_equal(c.cmd, LM_GC_ABORT);
    assert_memory_equal(got, body, LM_GC_BODY_MAX);
    /* One byte more than the most does not seal. */
    assert_int_equal(
        lm_gc_cmd_seal(LM_GC_ABORT, NOW, nonce, body, LM_GC_BODY_MAX + 1, o.kp.sk, o.ctl, out), 0);
}

/* The same body under another nonce or time is another ciphertext; another ctl key opens the
 * command (the signature is the owner's) but not its body. */
static void test_cmd_body_keys(void **state)
{
    (void)state;
    struct owner o, x;
    owner(&o, 0);
    owner(&x, 1);
    uint8_t nonce[LM_GC_NONCE_BYTES], body[64], a[LM_GC_CMD_MAX], b[LM_GC_CMD_MAX];
    uint8_t got[LM_GC_BODY_MAX];
    fill(nonce, sizeof nonce, 0xa0);
    memset(body, 0, sizeof body);
    size_t n = lm_gc_cmd_seal(9, NOW, nonce, body, sizeof body, o.kp.sk, o.ctl, a);
    nonce[0] ^= 1;
    lm_gc_cmd_seal(9, NOW, nonce, body, sizeof body, o.kp.sk, o.ctl, b);
    assert_memory_not_equal(a + LM_GC_HDR_SIZE, b + LM_GC_HDR_SIZE, sizeof body);
    nonce[0] ^= 1;
    lm_gc_cmd_seal(9, NOW + 1, nonce, body, sizeof body, o.kp.sk, o.ctl, b);
    assert_memory_not_equal(a + LM_GC_HDR_SIZE, b + LM_GC_HDR_SIZE, sizeof body);
    lm_gc_cmd_seal(9, NOW, nonce, body, sizeof body, o.kp.sk, o.ctl, b);
    assert_memory_equal(a, b, n); /* deterministic */

    struct lm_gc_cmd c;
    assert_int_equal(lm_gc_cmd_open(a, n, o.kp.pub.pk, x.ctl, NOW, &c, got, NULL), 0);
    assert_int_equal(c.cmd, 9); /* unknown commands are the caller's to refuse */
    assert_memory_not_equal(got, body, sizeof body);
    assert_int_equal(lm_gc_cmd_open(a, n, o.kp.pub.pk, o.ctl, NOW, &c, got, NULL), 0);
    assert_memory_equal(got, body, sizeof body);
}

struct bad_cmd {
    const char *name;
    long len;       /* length handed to open; 0: the sealed length, < 0: that much less */
    int off, width; /* patch width bytes little-endian at off (width 0: none) */
    uint64_t value;
    int signer;  /* 0: the owner, 1: another key */
    int64_t now; /* now - time, in ns */
    int want;
    const char *msg;
};

#define ONE_S 1000000000ll
static const struct bad_cmd bad_cmds[] = {
    {"empty", -(LM_GC_HDR_SIZE + 16 + LM_GC_SIG_BYTES), 0, 0, 0, 0, 0, LM_TRUNCATED,
     "command: 0 bytes, at least 100"},
    {"header and signature less one byte", -17, 0, 0, 0, 0, 0, LM_TRUNCATED,
     "command: 99 bytes, at least 100"},
    {"bad magic", 0, 0, 1, 'X', 0, 0, LM_BAD_MAGIC, "command: bad magic, expected \"LMGC\""},
    {"the reply's magic", 0, 3, 1, 'R', 0, 0, LM_BAD_MAGIC, "bad magic"},
    {"version 0", 0, 4, 2, 0, 0, 0, LM_BAD_VERSION, "command: version 0, this guest reads 1"},
    {"version 2", 0, 4, 2, 2, 0, 0, LM_BAD_VERSION, "version 2, this guest reads 1"},
    {"reserved low byte", 0, 34, 1, 1, 0, 0, LM_RESERVED_NONZERO,
     "command: reserved bytes are not zero"},
    {"reserved high byte", 0, 35, 1, 0x80, 0, 0, LM_RESERVED_NONZERO, "reserved"},
    {"body_len 257", 0, 32, 2, 257, 0, 0, LM_OVERSIZED, "command: body of 257 bytes, at most 256"},
    {"body_len 65535", 0, 32, 2, 65535, 0, 0, LM_OVERSIZED, "body of 65535 bytes"},
    {"one byte short", -1, 0, 0, 0, 0, 0, LM_TRUNCATED, "command: 115 bytes, the header says 116"},
    {"signature missing", -64, 0, 0, 0, 0, 0, LM_TRUNCATED, "command: 52 bytes, at least 100"},
    {"one byte long", 1, 0, 0, 0, 0, 0, LM_TRAILING, "command: 117 bytes, the header says 116"},
    {"body_len one less", 0, 32, 2, 15, 0, 0, LM_TRAILING, "116 bytes, the header says 115"},
    {"body_len one more", 0, 32, 2, 17, 0, 0, LM_TRUNCATED, "116 bytes, the header says 117"},
    {"signed by another key", 0, 0, 0, 0, 1, 0, LM_BAD_SIGNATURE,
     "command: not signed by this guest's owner"},
    {"time changed", 0, 8, 8, NOW + 1, 0, 0, LM_BAD_SIGNATURE, "not signed"},
    {"command changed", 0, 6, 2, LM_GC_MIGRATE, 0, 0, LM_BAD_SIGNATURE, "not signed"},
    {"signature zeroed", 0, 52, 8, 0, 0, 0, LM_BAD_SIGNATURE, "not signed"},
    {"one ns past the window", 0, 0, 0, 0, 0, (int64_t)WIN + 1, LM_EXPIRED,
     "command: time 1795315750 s, now 1795315870 s: more than 120 s apart"},
    {"an hour old", 0, 0, 0, 0, 0, 3600 * ONE_S, LM_EXPIRED, "now 1795319350 s"},
    {"one ns before the window", 0, 0, 0, 0, 0, -(int64_t)WIN - 1, LM_NOT_YET_VALID,
     "command: time 1795315750 s, now 1795315629 s: more than 120 s apart"},
    {"a day ahead", 0, 0, 0, 0, 0, -86400 * ONE_S, LM_NOT_YET_VALID, "more than 120 s apart"},
};
#define N_BAD_CMDS (sizeof bad_cmds / sizeof bad_cmds[0])

static void test_bad_cmd(void **state)
{
    const struct bad_cmd *c = *state;
    struct owner o, x;
    owner(&o, 0);
    owner(&x, 1);
    uint8_t nonce[LM_GC_NONCE_BYTES], body[16], b[LM_GC_CMD_MAX + 1] = {0};
    uint8_t got[LM_GC_BODY_MAX];
    fill(nonce, sizeof nonce, 0x5a);
    fill(body, sizeof body, 0x77);
    size_t n = lm_gc_cmd_seal(LM_GC_STATUS, NOW, nonce, body, sizeof body,
                              c->signer ? x.kp.sk : o.kp.sk, o.ctl, b);
    assert_int_equal(n, 116);
    for (int i = 0; i < c->width; i++)
        b[c->off + i] = (uint8_t)(c->value >> (8 * i));
    size_t len = (size_t)((long)n + c->len);
    struct lm_gc_cmd cmd;
    struct lm_diag d = {""};
    int rc = lm_gc_cmd_open(b, len, o.kp.pub.pk, o.ctl, (uint64_t)((int64_t)NOW + c->now), &cmd,
                            got, &d);
    expect(c->name, rc, c->want, &d, c->msg);
}

/* Time exactly at either edge of the window is accepted; at 0 and the largest u64 too. */
static void test_cmd_window_edges(void **state)
{
    (void)state;
    struct owner o;
    owner(&o, 0);
    uint8_t nonce[LM_GC_NONCE_BYTES] = {0}, b[LM_GC_CMD_MAX], got[LM_GC_BODY_MAX];
    struct lm_gc_cmd c;
    struct lm_diag d = {""};
    static const struct {
        uint64_t time, now;
        int want;
    } t[] = {
        {NOW, NOW + WIN, 0},
        {NOW, NOW - WIN, 0},
        {NOW, NOW + WIN + 1, -LM_EXPIRED},
        {NOW, NOW - WIN - 1, -LM_NOT_YET_VALID},
        {0, WIN, 0},
        {0, WIN + 1, -LM_EXPIRED},
        {UINT64_MAX, UINT64_MAX - WIN, 0},
        {UINT64_MAX, UINT64_MAX - WIN - 1, -LM_NOT_YET_VALID},
        {UINT64_MAX, 0, -LM_NOT_YET_VALID},
        {0, UINT64_MAX, -LM_EXPIRED},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        size_t n = lm_gc_cmd_seal(LM_GC_STATUS, t[i].time, nonce, NULL, 0, o.kp.sk, o.ctl, b);
        int rc = lm_gc_cmd_open(b, n, o.kp.pub.pk, o.ctl, t[i].now, &c, got, &d);
        if (rc != t[i].want)
            fail_msg("case %zu: time %llu now %llu gave %d (%s), want %d", i,
                     (unsigned long long)t[i].time, (unsigned long long)t[i].now, rc, d.msg,
                     t[i].want);
    }
}

/* Every single flipped bit of a sealed command is refused, with the status its field gives. */
static void test_cmd_every_bit(void **state)
{
    (void)state;
    struct owner o;
    owner(&o, 0);
    uint8_t nonce[LM_GC_NONCE_BYTES], body[LM_GC_MIGRATE_SIZE], b[LM_GC_CMD_MAX];
    uint8_t got[LM_GC_BODY_MAX];
    fill(nonce, sizeof nonce, 0x3c);
    struct lm_gc_migrate m = sample_migrate();
    lm_gc_migrate_encode(&m, body);
    size_t n = lm_gc_cmd_seal(LM_GC_MIGRATE, NOW, nonce, body, sizeof body, o.kp.sk, o.ctl, b);
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            int want = LM_BAD_SIGNATURE; /* cmd, time, nonce, body, signature */
            if (i < 4)
                want = LM_BAD_MAGIC;
            else if (i < 6)
                want = LM_BAD_VERSION;
            else if (i == 32 || i == 33) {
                unsigned bl = lm_get16(b + 32);
                want = bl > LM_GC_BODY_MAX       ? LM_OVERSIZED
                       : bl < LM_GC_MIGRATE_SIZE ? LM_TRAILING
                                                 : LM_TRUNCATED;
            } else if (i == 34 || i == 35)
                want = LM_RESERVED_NONZERO;
            struct lm_gc_cmd c;
            struct lm_diag d = {""};
            int rc = lm_gc_cmd_open(b, n, o.kp.pub.pk, o.ctl, NOW, &c, got, &d);
            if (rc != -want)
                fail_msg("byte %zu bit %d: got %d (%s: %s), want %s", i, bit, rc,
                         lm_status_name(rc), d.msg, lm_status_name(want));
            b[i] ^= (uint8_t)(1u << bit);
        }
    struct lm_gc_cmd c;
    assert_int_equal(lm_gc_cmd_open(b, n, o.kp.pub.pk, o.ctl, NOW, &c, got, NULL), 0);
}

/* ---- replies ------------------------------------------------------------------------------ */

static void test_reply_roundtrip(void **state)
{
    (void)state;
    struct owner o;
    owner(&o, 0);
    uint8_t nonce[LM_GC_NONCE_BYTES], body[LM_GC_STATUS_SIZE], out[LM_GC_REPLY_MAX];
    fill(nonce, sizeof nonce, 0x90);
    fill(body, sizeof body, 0x20);
    size_t n = lm_gc_reply_seal(LM_GC_STATUS, nonce, LM_BUSY, body, sizeof body, o.ctl, out);
    assert_int_equal(n, LM_GC_REPLY_HDR_SIZE + sizeof body + LM_GC_MAC_BYTES);
    assert_memory_equal(out, "LMGR\x01\x00\x01\x00", 8);
    assert_memory_equal(out + 8, nonce, 16);
    assert_int_equal(lm_get16(out + 24), LM_BUSY);
    assert_int_equal(lm_get16(out + 26), sizeof body);
    assert_memory_equal(out + 28, body, sizeof body);
    /* MAC = BLAKE2b-256(key = ctl, "laundromat/guestctl/v1" "reply" || everything before). */
    uint8_t mac[32];
    crypto_generichash_state st;
    assert_int_equal(crypto_generichash_init(&st, o.ctl, 32, 32), 0);
    assert_int_equal(
        crypto_generichash_update(&st, (const uint8_t *)"laundromat/guestctl/v1reply", 27), 0);
    assert_int_equal(crypto_generichash_update(&st, out, n - 32), 0);
    assert_int_equal(crypto_generichash_final(&st, mac, 32), 0);
    assert_memory_equal(out + n - 32, mac, 32);

    uint16_t status = 0;
    const uint8_t *rb = NULL;
    size_t rlen = 0;
    struct lm_diag d = {""};
    assert_int_equal(lm_gc_reply_open(out, n, LM_GC_STATUS, nonce, o.ctl, &status, &rb, &rlen, &d),
                     0);
    assert_int_equal(status, LM_BUSY);
    assert_ptr_equal(rb, out + 28);
    assert_int_equal(rlen, sizeof body);

    /* No body (NULL), and the largest one. */
    n = lm_gc_reply_seal(LM_GC_ABORT, nonce, 0, NULL, 0, o.ctl, out);
    assert_int_equal(n, LM_GC_REPLY_HDR_SIZE + LM_GC_MAC_BYTES);
    assert_int_equal(lm_gc_reply_open(out, n, LM_GC_ABORT, nonce, o.ctl, &status, &rb, &rlen, &d),
                     0);
    assert_int_equal(status, 0);
    assert_int_equal(rlen, 0);
    static uint8_t big[LM_GC_REPLY_MAX];
    fill(big, sizeof big, 3);
    size_t most = LM_GC_REPLY_MAX - LM_GC_REPLY_HDR_SIZE - LM_GC_MAC_BYTES;
    n = lm_gc_reply_seal(LM_GC_STATUS, nonce, 0, big, most, o.ctl, out);
    assert_int_equal(n, LM_GC_REPLY_MAX);
    assert_int_equal(lm_gc_reply_open(out, n, LM_GC_STATUS, nonce, o.ctl, &status, &rb, &rlen, &d),
                     0);
    assert_int_equal(rlen, most);
    assert_int_equal(lm_gc_reply_seal(LM_GC_STATUS, nonce, 0, big, most + 1, o.ctl, out), 0);
}

static void test_reply_refusals(void **state)
{
    (void)state;
    struct owner o, x;
    owner(&o, 0);
    owner(&x, 1);
    uint8_t nonce[LM_GC_NONCE_BYTES], other[LM_GC_NONCE_BYTES], body[8];
    uint8_t b[LM_GC_REPLY_MAX + 1] = {0};
    fill(nonce, sizeof nonce, 0x90);
    memcpy(other, nonce, sizeof other);
    other[15] ^= 1;
    fill(body, sizeof body, 0x20);
    size_t n = lm_gc_reply_seal(LM_GC_MIGRATE, nonce, 0, body, sizeof body, o.ctl, b);
    assert_int_equal(n, 68);
    uint16_t status;
    const uint8_t *rb;
    size_t rlen;
    struct lm_diag d = {""};
#define OPEN(len, cmd, nonce_, key)                                                                \
    lm_gc_reply_open(b, len, cmd, nonce_, key, &status, &rb, &rlen, &d)
    expect("wrong control key", OPEN(n, LM_GC_MIGRATE, nonce, x.ctl), LM_BAD_SIGNATURE, &d,
           "reply: bad MAC (another control key?)");
    expect("another command's nonce", OPEN(n, LM_GC_MIGRATE, other, o.ctl), LM_REPLAY, &d,
           "reply: answers another command");
    expect("another command", OPEN(n, LM_GC_STATUS, nonce, o.ctl), LM_REPLAY, &d,
           "answers another command");
    expect("one byte short", OPEN(n - 1, LM_GC_MIGRATE, nonce, o.ctl), LM_TRUNCATED, &d,
           "reply: 67 bytes, the header says 68");
    expect("MAC missing", OPEN(n - 32, LM_GC_MIGRATE, nonce, o.ctl), LM_BAD_MAGIC, &d,
           "reply: 36 bytes, not a guest reply");
    expect("one byte long", OPEN(n + 1, LM_GC_MIGRATE, nonce, o.ctl), LM_TRAILING, &d,
           "reply: 69 bytes, the header says 68");
    expect("header alone", OPEN(28, LM_GC_MIGRATE, nonce, o.ctl), LM_BAD_MAGIC, &d,
           "28 bytes, not a guest reply");
    expect("empty", OPEN(0, LM_GC_MIGRATE, nonce, o.ctl), LM_BAD_MAGIC, &d, "0 bytes");
    b[0] = 'X';
    expect("bad magic", OPEN(n, LM_GC_MIGRATE, nonce, o.ctl), LM_BAD_MAGIC, &d,
           "68 bytes, not a guest reply");
    b[0] = 'L';
    b[3] = 'C';
    expect("a command's magic", OPEN(n, LM_GC_MIGRATE, nonce, o.ctl), LM_BAD_MAGIC, &d,
           "not a guest reply");
    b[3] = 'R';
    b[4] = 2;
    expect("version 2", OPEN(n, LM_GC_MIGRATE, nonce, o.ctl), LM_BAD_MAGIC, &d,
           "not a guest reply");
    b[4] = 1;
    assert_int_equal(OPEN(n, LM_GC_MIGRATE, nonce, o.ctl), 0);

    /* Every flipped bit: magic and version look foreign, body_len changes the length, the
     * rest breaks the MAC. */
    for (size_t i = 0; i < n; i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            int want = i < 6 ? LM_BAD_MAGIC
                       : i == 26 || i == 27
                           ? (lm_get16(b + 26) < sizeof body ? LM_TRAILING : LM_TRUNCATED)
                           : LM_BAD_SIGNATURE;
            int rc = OPEN(n, LM_GC_MIGRATE, nonce, o.ctl);
            if (rc != -want)
                fail_msg("byte %zu bit %d: got %d (%s), want %s", i, bit, rc, d.msg,
                         lm_status_name(want));
            b[i] ^= (uint8_t)(1u << bit);
        }
#undef OPEN
}

/* ---- bodies ------------------------------------------------------------------------------- */

static void test_migrate_roundtrip(void **state)
{
    (void)state;
    struct lm_gc_migrate m = sample_migrate(), g;
    uint8_t b[LM_GC_MIGRATE_SIZE];
    memset(b, 0xee, sizeof b);
    lm_gc_migrate_encode(&m, b);
    assert_memory_equal(b, "\x0a\x00\x00\x07\x14\x1e\x00\x00\x1e\x00\x00\x00\x00\x00\x00\x00", 16);
    assert_memory_equal(b + 16, m.loader_pub, 32);
    assert_memory_equal(b + 48, m.mig_secret, 32);
    assert_memory_equal(b + 80, m.pay_token, 16);
    assert_memory_equal(b + 96, m.pay_seed, 32);
    assert_memory_equal(b + 128, "\x40\x00\x00\x00\x00\x00\x00\x00", 8);
    memset(&g, 0x55, sizeof g);
    assert_int_equal(lm_gc_migrate_decode(b, sizeof b, &g, NULL), 0);
    assert_memory_equal(g.ip, m.ip, 4);
    assert_int_equal(g.port, m.port);
    assert_int_equal(g.max_rounds, m.max_rounds);
    assert_memory_equal(g.loader_pub, m.loader_pub, 32);
    assert_memory_equal(g.mig_secret, m.mig_secret, 32);
    assert_memory_equal(g.pay_token, m.pay_token, 16);
    assert_memory_equal(g.pay_seed, m.pay_seed, 32);
    assert_int_equal(g.pay_len, m.pay_len);
    assert_int_equal(g.flags, 0);
    /* zstd asked: bit 0 of the u16 at 6 */
    m.flags = LM_GC_MIGRATE_ZSTD;
    lm_gc_migrate_encode(&m, b);
    assert_memory_equal(b + 6, "\x01\x00", 2);
    assert_int_equal(lm_gc_migrate_decode(b, sizeof b, &g, NULL), 0);
    assert_int_equal(g.flags, LM_GC_MIGRATE_ZSTD);
    m.flags = 0;
    /* The edges: no round limit (the guest's default), 1000 rounds, not paying. */
    m.max_rounds = 0;
    m.pay_len = 0;
    lm_gc_migrate_encode(&m, b);
    assert_int_equal(lm_gc_migrate_decode(b, sizeof b, &g, NULL), 0);
    assert_int_equal(g.max_rounds, 0);
    assert_int_equal(g.pay_len, 0);
    m.max_rounds = 1000;
    lm_gc_migrate_encode(&m, b);
    assert_int_equal(lm_gc_migrate_decode(b, sizeof b, &g, NULL), 0);
    assert_int_equal(g.max_rounds, 1000);
}

static void test_migrate_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t len;
        int off, width;
        uint64_t value;
        int want;
        const char *msg;
    } bad[] = {
        {"empty", 0, 0, 0, 0, LM_TRUNCATED, "migrate: body of 0 bytes, expected 136"},
        {"one byte short", 135, 0, 0, 0, LM_TRUNCATED, "body of 135 bytes, expected 136"},
        {"one byte long", 137, 0, 0, 0, LM_TRAILING, "body of 137 bytes, expected 136"},
        {"unknown flag", 136, 6, 2, 2, LM_RESERVED_NONZERO, "migrate: unknown flags (0x0002)"},
        {"high flag", 136, 7, 1, 0x80, LM_RESERVED_NONZERO, "unknown flags (0x8000)"},
        {"first reserved u32", 136, 12, 4, 1, LM_RESERVED_NONZERO, "reserved bytes are not zero"},
        {"first reserved, top byte", 136, 15, 1, 1, LM_RESERVED_NONZERO, "reserved"},
        {"last reserved u32", 136, 132, 4, 0x80000000u, LM_RESERVED_NONZERO, "reserved"},
        {"no address", 136, 0, 4, 0, LM_INVAL, "migrate: no destination address"},
        {"no port", 136, 4, 2, 0, LM_INVAL, "migrate: no destination address"},
        {"1001 rounds", 136, 8, 4, 1001, LM_INVAL, "migrate: max_rounds 1001, at most 1000"},
        {"2^32-1 rounds", 136, 8, 4, UINT32_MAX, LM_INVAL, "max_rounds 4294967295"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lm_gc_migrate m = sample_migrate(), g;
        uint8_t b[LM_GC_MIGRATE_SIZE + 1] = {0};
        lm_gc_migrate_encode(&m, b);
        for (int k = 0; k < bad[i].width; k++)
            b[bad[i].off + k] = (uint8_t)(bad[i].value >> (8 * k));
        struct lm_diag d = {""};
        expect(bad[i].name, lm_gc_migrate_decode(b, bad[i].len, &g, &d), bad[i].want, &d,
               bad[i].msg);
    }
}

static struct lm_gc_status sample_status(void)
{
    struct lm_gc_status s;
    memset(&s, 0, sizeof s);
    s.phase = LM_GC_PHASE_PRECOPY;
    s.round = 3;
    uint64_t *v[] = {&s.pages_sent,      &s.pages_round,      &s.bytes,       &s.elapsed_ns,
                     &s.dirty_rate,      &s.ram_pages,        &s.migrations,  &s.uptime_ns,
                     &s.last.total_ns,   &s.last.downtime_ns, &s.last.bytes,  &s.last.data_pages,
                     &s.last.zero_pages, &s.last.ram_pages,   &s.last.rounds, &s.last.final_pages,
                     &s.last.cow_faults, &s.last.fw_in,       &s.last.fw_out};
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++)
        *v[i] = 0x0101010101010101ull * (i + 1) + i;
    s.status = LM_MIG_TIMEOUT;
    s.evict_ms = 29500;
    strcpy(s.error, "loader 10.0.0.7:7700 silent for 5 s");
    return s;
}

static void test_status_roundtrip(void **state)
{
    (void)state;
    struct lm_gc_status s = sample_status(), g;
    uint8_t b[LM_GC_STATUS_SIZE];
    assert_int_equal(LM_GC_STATUS_SIZE, 264);
    memset(b, 0xee, sizeof b);
    lm_gc_status_encode(&s, b);
    assert_int_equal(lm_get32(b), LM_GC_PHASE_PRECOPY);
    assert_int_equal(lm_get32(b + 4), 3);
    assert_int_equal(lm_get64(b + 8), s.pages_sent);
    assert_int_equal(lm_get64(b + 64), s.uptime_ns);
    assert_int_equal(lm_get64(b + 72), s.last.total_ns);
    assert_int_equal(lm_get64(b + 152), s.last.fw_out);
    assert_int_equal(lm_get32(b + 160), LM_MIG_TIMEOUT);
    assert_int_equal(lm_get32(b + 164), 29500); /* evict_ms */
    assert_string_equal((const char *)b + 168, s.error);
    assert_true(lm_all_zero(b + 168 + strlen(s.error), 96 - strlen(s.error)));
    memset(&g, 0x55, sizeof g);
    assert_int_equal(lm_gc_status_decode(b, sizeof b, &g, NULL), 0);
    assert_memory_equal(&g, &s, offsetof(struct lm_gc_status, error));
    assert_string_equal(g.error, s.error);

    /* Non-printable text comes out as '?'; the text stops at 95 bytes. */
    memset(s.error, 0, sizeof s.error);
    strcpy(s.error, "bad\n\x1b[31mred\x7f\xc3\xa9!");
    lm_gc_status_encode(&s, b);
    assert_int_equal(lm_gc_status_decode(b, sizeof b, &g, NULL), 0);
    assert_string_equal(g.error, "bad\?\?[31mred\?\?\?!");
    memset(s.error, 'e', sizeof s.error); /* no NUL: encode writes 95 bytes */
    lm_gc_status_encode(&s, b);
    assert_int_equal(b[168 + 95], 0);
    assert_int_equal(lm_gc_status_decode(b, sizeof b, &g, NULL), 0);
    assert_int_equal(strlen(g.error), 95);
    memset(b + 168, 'f', 96); /* a sender that fills all 96 bytes */
    assert_int_equal(lm_gc_status_decode(b, sizeof b, &g, NULL), 0);
    assert_int_equal(strlen(g.error), 95);
    assert_int_equal(g.error[0], 'f');

    struct lm_diag d = {""};
    expect("one byte short", lm_gc_status_decode(b, sizeof b - 1, &g, &d), LM_TRUNCATED, &d,
           "status: 263 bytes, expected 264");
    uint8_t longer[LM_GC_STATUS_SIZE + 1] = {0};
    memcpy(longer, b, sizeof b);
    expect("one byte long", lm_gc_status_decode(longer, sizeof longer, &g, &d), LM_TRAILING, &d,
           "status: 265 bytes, expected 264");
    expect("empty", lm_gc_status_decode(b, 0, &g, &d), LM_TRUNCATED, &d, "0 bytes");
    lm_put32(b + 164, 0xffffffffu); /* evict_ms: any value is a time left */
    assert_int_equal(lm_gc_status_decode(b, sizeof b, &g, &d), 0);
    assert_int_equal(g.evict_ms, 0xffffffffu);
}

static void test_phase_names(void **state)
{
    (void)state;
    assert_string_equal(lm_gc_phase_name(LM_GC_PHASE_IDLE), "idle");
    assert_string_equal(lm_gc_phase_name(LM_GC_PHASE_CONNECTING), "connecting");
    assert_string_equal(lm_gc_phase_name(LM_GC_PHASE_PRECOPY), "pre-copy");
    assert_string_equal(lm_gc_phase_name(LM_GC_PHASE_FINAL), "final");
    assert_string_equal(lm_gc_phase_name(LM_GC_PHASE_COMMIT), "commit");
    assert_string_equal(lm_gc_phase_name(LM_GC_PHASE_FAILED), "failed");
    assert_string_equal(lm_gc_phase_name(LM_GC_PHASE_DOUBT), "doubt");
    assert_string_equal(lm_gc_phase_name(7), "unknown");
    assert_string_equal(lm_gc_phase_name(UINT32_MAX), "unknown");
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_ctl_key),          cmocka_unit_test(test_cmd_roundtrip),
        cmocka_unit_test(test_cmd_body_keys),    cmocka_unit_test(test_cmd_window_edges),
        cmocka_unit_test(test_cmd_every_bit),    cmocka_unit_test(test_reply_roundtrip),
        cmocka_unit_test(test_reply_refusals),   cmocka_unit_test(test_migrate_roundtrip),
        cmocka_unit_test(test_migrate_refusals), cmocka_unit_test(test_status_roundtrip),
        cmocka_unit_test(test_phase_names),
    };
    enum { NF = sizeof fixed / sizeof fixed[0] };
    struct CMUnitTest tests[NF + N_BAD_CMDS];
    static char names[N_BAD_CMDS][96];
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < N_BAD_CMDS; i++) {
        snprintf(names[i], sizeof names[i], "bad command: %s -> %s", bad_cmds[i].name,
                 lm_status_name(bad_cmds[i].want));
        tests[NF + i] =
            (struct CMUnitTest){names[i], test_bad_cmd, NULL, NULL, (void *)&bad_cmds[i]};
    }
    if (lm_crypto_init() != 0)
        return 1;
    return _cmocka_run_group_tests("guestctl", tests, NF + N_BAD_CMDS, NULL, NULL);
}
