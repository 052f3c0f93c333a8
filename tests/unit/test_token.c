/* Unit tests of boot tokens: round trips, every field, and a table of bad tokens. */
#include <stdio.h>
#include <string.h>

#include "laundromat/util.h"
#include "lm.h"
#include "testlib.h"

/* ---- round trips ---------------------------------------------------------------------- */

static void test_roundtrip_all_fields(void **state)
{
    (void)state;
    struct lm_token t, u;
    t_base_token(&t);
    t.scope_kind = LM_SCOPE_CLUSTER;
    strcpy(t.scope, "blue");
    t.payload_kind = LM_PAYLOAD_CHECKPOINT;
    t.vcpus = 3;
    t.mem_mib = 4096;
    t.chain_len = 100;
    t.link_value_ms = 250;
    t.prepaid_units = 7;
    memcpy(t.mac, "\x02\x11\x22\x33\x44\x55", 6);
    memcpy(t.ipv4, "\x0a\x00\x00\x05", 4);
    t.prefix = 24;
    uint8_t b[LM_TOKEN_SIZE];
    t_mint(&t, 0, b);

    struct lm_verify_ctx c;
    struct lm_pubkey k;
    t_ctx(&c, &k);
    struct lm_diag d = {""};
    assert_int_equal(lm_token_verify(b, sizeof b, &c, &u, &d), 0);
    assert_memory_equal(u.id, t.id, sizeof t.id);
    assert_int_equal(u.key_id, t.key_id);
    assert_int_equal(u.issued_at, t.issued_at);
    assert_int_equal(u.expires_at, t.expires_at);
    assert_int_equal(u.scope_kind, LM_SCOPE_CLUSTER);
    assert_string_equal(u.scope, "blue");
    assert_int_equal(u.payload_kind, LM_PAYLOAD_CHECKPOINT);
    assert_int_equal(u.vcpus, 3);
    assert_int_equal(u.mem_mib, 4096);
    assert_memory_equal(u.commitment, t.commitment, 32);
    assert_memory_equal(u.anchor, t.anchor, 32);
    assert_int_equal(u.chain_len, 100);
    assert_int_equal(u.link_value_ms, 250);
    assert_int_equal(u.prepaid_units, 7);
    assert_memory_equal(u.mac, t.mac, 6);
    assert_memory_equal(u.ipv4, t.ipv4, 4);
    assert_int_equal(u.prefix, 24);
    assert_memory_equal(u.sig, b + LM_TOK_OFF_SIG, 64);
    assert_int_equal(lm_token_value_ms(&u), (100 + 7) * 250);

    /* Re-encoding the decoded token gives the same signed bytes. */
    uint8_t b2[LM_TOKEN_SIZE];
    assert_int_equal(lm_token_encode(&u, b2), 0);
    assert_memory_equal(b2, b, LM_TOK_SIGNED_BYTES);
}

/* Every field lands at its documented offset, little-endian. */
static void test_layout_offsets(void **state)
{
    (void)state;
    struct lm_token t;
    t_base_token(&t);
    t.issued_at = 0x0102030405060708ull;
    t.expires_at = t.issued_at + 5;
    t.vcpus = 0x0203;
    t.mem_mib = 0x00050607;
    t.chain_len = 0x00a0b0c0 & (LM_MAX_CHAIN_LEN - 1);
    t.link_value_ms = 0x11223344;
    t.prepaid_units = 0x00334455;
    uint8_t b[LM_TOKEN_SIZE];
    assert_int_equal(lm_token_encode(&t, b), 0);
    assert_memory_equal(b, "LMTK\x01\x00\x00\x00", 8);
    assert_memory_equal(b + LM_TOK_OFF_ID, t.id, 16);
    assert_int_equal(lm_get64(b + LM_TOK_OFF_KEY_ID), t.key_id);
    assert_memory_equal(b + LM_TOK_OFF_ISSUED, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_int_equal(lm_get64(b + LM_TOK_OFF_EXPIRES), t.expires_at);
    assert_int_equal(b[LM_TOK_OFF_SCOPE_KIND], LM_SCOPE_HOST);
    assert_int_equal(b[LM_TOK_OFF_PAYLOAD], LM_PAYLOAD_IMAGE);
    assert_memory_equal(b + LM_TOK_OFF_VCPUS, "\x03\x02", 2);
    assert_memory_equal(b + LM_TOK_OFF_MEM_MIB, "\x07\x06\x05\x00", 4);
    assert_memory_equal(b + LM_TOK_OFF_SCOPE, "alpha\0\0\0", 8);
    assert_true(lm_all_zero(b + LM_TOK_OFF_SCOPE + 5, LM_SCOPE_BYTES - 5));
    assert_memory_equal(b + LM_TOK_OFF_COMMIT, t.commitment, 32);
    assert_memory_equal(b + LM_TOK_OFF_ANCHOR, t.anchor, 32);
    assert_int_equal(lm_get32(b + LM_TOK_OFF_CHAIN_LEN), t.chain_len);
    assert_memory_equal(b + LM_TOK_OFF_LINK_MS, "\x44\x33\x22\x11", 4);
    assert_int_equal(lm_get32(b + LM_TOK_OFF_PREPAID), t.prepaid_units);
    assert_true(lm_all_zero(b + LM_TOK_OFF_SIG, 64)); /* encode leaves the signature zero */
}

static void test_encode_refuses_long_scope(void **state)
{
    (void)state;
    struct lm_token t;
    t_base_token(&t);
    memset(t.scope, 'x', sizeof t.scope); /* 33 bytes, no NUL */
    uint8_t b[LM_TOKEN_SIZE];
    assert_int_equal(lm_token_encode(&t, b), -LM_INVAL);
    memset(t.scope, 'x', LM_SCOPE_BYTES);
    t.scope[LM_SCOPE_BYTES] = '\0'; /* exactly 32: fills the field, valid */
    t_mint(&t, 0, b);
    struct lm_token u;
    assert_int_equal(lm_token_decode(b, sizeof b, &u, NULL), 0);
    assert_string_equal(u.scope, t.scope);
}

/* ---- the table of bad tokens ---------------------------------------------------------- */

enum ctx_change { C_NONE, C_NOW_AT_EXPIRY, C_NOW_PAST_EXPIRY, C_NOW_EARLY, C_HOST_BETA,
                  C_NO_CLUSTER, C_NO_KEYS };

struct bad {
    const char *name;
    int off;          /* patch at this offset (-1: none) */
    int width;        /* 1, 2, 4, 8: little-endian value; 0: the bytes of str */
    uint64_t value;
    const char *str;
    int slen;
    int after_sign;   /* patch the signed token (breaks the signature) instead of re-signing */
    int key;          /* signing key number */
    long len;         /* length handed to verify; 0: LM_TOKEN_SIZE */
    enum ctx_change ctx;
    int want;         /* expected status */
    const char *msg;  /* expected part of the message */
};

#define P(o, w, v) o, w, v, NULL, 0
#define S(o, s, n) o, 0, 0, s, n
#define NOP -1, 0, 0, NULL, 0
#define LIFE(s) (T_NOW - 10 + (s))

static const struct bad bad_tokens[] = {
    {"empty buffer", NOP, 0, 0, -1, C_NONE, LM_TRUNCATED, "0 bytes"},
    {"three bytes", NOP, 0, 0, 3, C_NONE, LM_TRUNCATED, "3 bytes"},
    {"bad magic", S(0, "XMTK", 4), 0, 0, 0, C_NONE, LM_BAD_MAGIC, "expected \"LMTK\""},
    {"lower-case magic", S(0, "lmtk", 4), 0, 0, 0, C_NONE, LM_BAD_MAGIC, "magic 6c6d746b"},
    {"version 0", P(4, 2, 0), 0, 0, 0, C_NONE, LM_BAD_VERSION, "version 0"},
    {"version 2", P(4, 2, 2), 0, 0, 0, C_NONE, LM_BAD_VERSION, "version 2, this build"},
    {"truncated by one byte", NOP, 0, 0, LM_TOKEN_SIZE - 1, C_NONE, LM_TRUNCATED, "247 bytes"},
    {"signature missing", NOP, 0, 0, LM_TOK_SIGNED_BYTES, C_NONE, LM_TRUNCATED, "184 bytes"},
    {"one trailing byte", NOP, 0, 0, LM_TOKEN_SIZE + 1, C_NONE, LM_TRAILING, "1 more than"},
    {"flags set", P(6, 2, 1), 0, 0, 0, C_NONE, LM_BAD_FLAGS, "flags 0x0001"},
    {"high flag set", P(6, 2, 0x8000), 0, 0, 0, C_NONE, LM_BAD_FLAGS, "flags 0x8000"},
    {"reserved u32 set", P(164, 4, 1), 0, 0, 0, C_NONE, LM_RESERVED_NONZERO, "reserved"},
    {"reserved byte set", P(175, 1, 1), 0, 0, 0, C_NONE, LM_RESERVED_NONZERO, "reserved"},
    {"tail reserved set", P(183, 1, 0x80), 0, 0, 0, C_NONE, LM_RESERVED_NONZERO, "reserved"},
    {"expiry equals issue", P(40, 8, LIFE(0)), 0, 0, 0, C_NONE, LM_BAD_LIFETIME, "expires"},
    {"expiry before issue", P(40, 8, LIFE(-1)), 0, 0, 0, C_NONE, LM_BAD_LIFETIME, "at most 400"},
    {"lifetime over 400 days", P(40, 8, LIFE(400 * 86400 + 1)), 0, 0, 0, C_NONE,
     LM_BAD_LIFETIME, "400 days"},
    {"scope kind 0", P(48, 1, 0), 0, 0, 0, C_NONE, LM_BAD_SCOPE_KIND, "scope kind 0"},
    {"scope kind 3", P(48, 1, 3), 0, 0, 0, C_NONE, LM_BAD_SCOPE_KIND, "scope kind 3"},
    {"empty scope", S(56, "\0\0\0\0\0", 5), 0, 0, 0, C_NONE, LM_BAD_SCOPE_NAME, "empty"},
    {"scope with space", S(56, "al ha", 5), 0, 0, 0, C_NONE, LM_BAD_SCOPE_NAME, "printable"},
    {"scope with 8-bit byte", S(56, "alph\xe9", 5), 0, 0, 0, C_NONE, LM_BAD_SCOPE_NAME, "ASCII"},
    {"scope not NUL-padded", S(62, "x", 1), 0, 0, 0, C_NONE, LM_BAD_SCOPE_NAME, "NUL-padded"},
    {"zero memory", P(52, 4, 0), 0, 0, 0, C_NONE, LM_ZERO_SHAPE, "0 MiB"},
    {"zero vCPUs", P(50, 2, 0), 0, 0, 0, C_NONE, LM_ZERO_SHAPE, "0 vCPUs"},
    {"memory over 1 TiB", P(52, 4, LM_MAX_MEM_MIB + 1), 0, 0, 0, C_NONE, LM_OVERSIZED_SHAPE,
     "1048577 MiB"},
    {"257 vCPUs", P(50, 2, 257), 0, 0, 0, C_NONE, LM_OVERSIZED_SHAPE, "257 vCPUs"},
    {"payload kind 0", P(49, 1, 0), 0, 0, 0, C_NONE, LM_BAD_PAYLOAD_KIND, "payload kind 0"},
    {"payload kind 9", P(49, 1, 9), 0, 0, 0, C_NONE, LM_BAD_PAYLOAD_KIND, "payload kind 9"},
    {"zero commitment", S(88, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32),
     0, 0, 0, C_NONE, LM_ZERO_COMMITMENT, "commitment"},
    {"chain too long", P(152, 4, LM_MAX_CHAIN_LEN + 1), 0, 0, 0, C_NONE, LM_CHAIN_TOO_LONG,
     "16777217"},
    {"chain without anchor",
     S(120, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 32), 0, 0, 0,
     C_NONE, LM_CHAIN_ANCHOR, "all-zero anchor"},
    {"anchor without chain", P(152, 4, 0), 0, 0, 0, C_NONE, LM_CHAIN_ANCHOR, "non-zero anchor"},
    {"zero link value", P(156, 4, 0), 0, 0, 0, C_NONE, LM_ZERO_LINK_VALUE, "0 ms"},
    {"prepaid too large", P(160, 4, LM_MAX_PREPAID + 1), 0, 0, 0, C_NONE, LM_PREPAID_TOO_LARGE,
     "prepaid"},
    {"neither chain nor prepaid units",
     S(120, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"
            "\0\0\0\0\xe8\x03\0\0\0\0\0\0", 44), 0, 0, 0, C_NONE, LM_NO_VALUE,
     "no prepaid units and no chain"},
    {"IPv4 without prefix", S(176, "\x0a\0\0\x05", 4), 0, 0, 0, C_NONE, LM_BAD_NETID, "/0"},
    {"prefix 33", S(174, "\x21\0\x0a\0\0\x05", 6), 0, 0, 0, C_NONE, LM_BAD_NETID, "/33"},
    {"prefix without IPv4", P(174, 1, 24), 0, 0, 0, C_NONE, LM_BAD_NETID, "no address"},
    {"multicast MAC", S(168, "\x01\0\x5e\0\0\x01", 6), 0, 0, 0, C_NONE, LM_BAD_NETID,
     "01:00:5e:00:00:01 is multicast"},
    {"unknown key id", P(24, 8, 0x1122334455667788ull), 0, 0, 0, C_NONE, LM_UNKNOWN_KEY,
     "1122334455667788"},
    {"no trusted keys", NOP, 0, 0, 0, C_NO_KEYS, LM_UNKNOWN_KEY, "not a trusted"},
    {"flipped signature bit", P(LM_TOK_OFF_SIG + 5, 1, 0x55), 1, 0, 0, C_NONE, LM_BAD_SIGNATURE,
     "does not verify"},
    {"memory changed after signing", P(52, 4, 32), 1, 0, 0, C_NONE, LM_BAD_SIGNATURE,
     "does not verify"},
    {"scope changed after signing", S(56, "alphb", 5), 1, 0, 0, C_HOST_BETA, LM_WRONG_SCOPE,
     "alphb"},
    {"signed by another key under our key id", NOP, 0, 1, 0, C_NONE, LM_BAD_SIGNATURE,
     "does not verify"},
    {"expired at exactly now", P(40, 8, T_NOW), 0, 0, 0, C_NONE, LM_EXPIRED,
     "expired at 2026-11-22T02:49:10Z (now 2026-11-22T02:49:10Z)"},
    {"expired an hour ago", NOP, 0, 0, 0, C_NOW_PAST_EXPIRY, LM_EXPIRED, "expired at"},
    {"expiry reached", NOP, 0, 0, 0, C_NOW_AT_EXPIRY, LM_EXPIRED, "expired at"},
    {"issued beyond the skew", P(32, 8, T_NOW + 61), 0, 0, 0, C_NONE, LM_NOT_YET_VALID,
     "skew allowed 60s"},
    {"issued far ahead of our clock", NOP, 0, 0, 0, C_NOW_EARLY, LM_NOT_YET_VALID, "future"},
    {"other host", NOP, 0, 0, 0, C_HOST_BETA, LM_WRONG_SCOPE,
     "scoped to host \"alpha\", this is host \"beta\""},
    {"other cluster", S(48, "\x02", 1), 0, 0, 0, C_NONE, LM_WRONG_SCOPE,
     "scoped to cluster \"alpha\", this is cluster \"blue\""},
    {"cluster token on a host without cluster", S(48, "\x02", 1), 0, 0, 0, C_NO_CLUSTER,
     LM_WRONG_SCOPE, "(no cluster)"},
};

static void apply_patch(uint8_t *b, const struct bad *c)
{
    if (c->off < 0)
        return;
    if (c->width == 0)
        memcpy(b + c->off, c->str, (size_t)c->slen);
    else
        for (int i = 0; i < c->width; i++)
            b[c->off + i] = (uint8_t)(c->value >> (8 * i));
}

#define N_BAD (sizeof bad_tokens / sizeof bad_tokens[0])

/* One bad token: verify must refuse it with exactly the expected status and message. */
static void test_bad_token(void **state)
{
    const struct bad *c = *state;
    {
        struct lm_token t;
        t_base_token(&t);
        struct lm_keypair kp;
        t_key(c->key, &kp);
        uint8_t b[LM_TOKEN_SIZE + 8];
        memset(b, 0, sizeof b);
        assert_int_equal(lm_token_encode(&t, b), 0); /* key id of key 0 even when signed by 1 */
        if (!c->after_sign)
            apply_patch(b, c);
        assert_int_equal(lm_token_sign(b, kp.sk), 0);
        if (c->after_sign)
            apply_patch(b, c);

        struct lm_verify_ctx ctx;
        struct lm_pubkey k;
        t_ctx(&ctx, &k);
        switch (c->ctx) {
        case C_NONE: break;
        case C_NOW_AT_EXPIRY: ctx.now = t.expires_at; break;
        case C_NOW_PAST_EXPIRY: ctx.now = t.expires_at + 3600; break;
        case C_NOW_EARLY: ctx.now = t.issued_at - 3600; break;
        case C_HOST_BETA: ctx.host_name = "beta"; break;
        case C_NO_CLUSTER: ctx.cluster_name = NULL; break;
        case C_NO_KEYS: ctx.nkeys = 0; break;
        }
        size_t len = c->len == 0 ? LM_TOKEN_SIZE : c->len < 0 ? 0 : (size_t)c->len;
        struct lm_diag d = {""};
        struct lm_token out;
        int rc = lm_token_verify(b, len, &ctx, &out, &d);
        if (rc != -c->want || !strstr(d.msg, c->msg)) {
            print_error("case \"%s\": got %d (%s) \"%s\"; want %d (%s) containing \"%s\"\n",
                        c->name, -rc, lm_status_name(rc), d.msg, c->want,
                        lm_status_name(c->want), c->msg);
            fail();
        }
        /* Structural failures come from decode alone, with the same status. */
        if (c->want < LM_UNKNOWN_KEY)
            assert_int_equal(lm_token_decode(b, len, &out, NULL), -c->want);
    }
}

/* The table is large enough and every token status has at least one case. */
static void test_bad_table_covers_every_status(void **state)
{
    (void)state;
    assert_true(N_BAD >= 20);
    int seen[128] = {0};
    for (size_t i = 0; i < N_BAD; i++)
        seen[bad_tokens[i].want] = 1;
    for (int s = LM_BAD_MAGIC; s <= LM_WRONG_SCOPE; s++)
        if (lm_status_name(s) && !seen[s]) {
            print_error("no bad-token case for status %s\n", lm_status_name(s));
            fail();
        }
}

/* Boundaries that must still be accepted. */
static void test_accepted_edges(void **state)
{
    (void)state;
    struct lm_verify_ctx ctx;
    struct lm_pubkey k;
    t_ctx(&ctx, &k);
    struct lm_token t, out;
    uint8_t b[LM_TOKEN_SIZE];

    t_base_token(&t);
    t.issued_at = T_NOW + 60; /* exactly the allowed skew */
    t.expires_at = T_NOW + 61;
    t_mint(&t, 0, b);
    assert_int_equal(lm_token_verify(b, sizeof b, &ctx, &out, NULL), 0);

    t_base_token(&t);
    t.expires_at = T_NOW + 1; /* one second left */
    t.issued_at = t.expires_at - LM_MAX_LIFETIME_S; /* the longest lifetime */
    t_mint(&t, 0, b);
    assert_int_equal(lm_token_verify(b, sizeof b, &ctx, &out, NULL), 0);

    t_base_token(&t); /* prepaid only, no chain */
    t.chain_len = 0;
    memset(t.anchor, 0, sizeof t.anchor);
    t_mint(&t, 0, b);
    assert_int_equal(lm_token_verify(b, sizeof b, &ctx, &out, NULL), 0);
    assert_int_equal(lm_token_value_ms(&out), 5 * 1000);

    t_base_token(&t); /* chain only, maxima */
    t.prepaid_units = 0;
    t.chain_len = LM_MAX_CHAIN_LEN;
    t.mem_mib = LM_MAX_MEM_MIB;
    t.vcpus = LM_MAX_VCPUS;
    t.link_value_ms = UINT32_MAX;
    t_mint(&t, 0, b);
    assert_int_equal(lm_token_verify(b, sizeof b, &ctx, &out, NULL), 0);
    assert_int_equal(lm_token_value_ms(&out), (uint64_t)LM_MAX_CHAIN_LEN * UINT32_MAX);

    t_base_token(&t); /* cluster scope on a host of that cluster */
    t.scope_kind = LM_SCOPE_CLUSTER;
    strcpy(t.scope, "blue");
    t_mint(&t, 0, b);
    assert_int_equal(lm_token_verify(b, sizeof b, &ctx, &out, NULL), 0);

    t_base_token(&t); /* a verifier with no host name admits any host scope */
    strcpy(t.scope, "anywhere");
    t_mint(&t, 0, b);
    ctx.host_name = NULL;
    assert_int_equal(lm_token_verify(b, sizeof b, &ctx, &out, NULL), 0);

    /* Key rotation: two trusted keys, a token signed by the second. */
    struct lm_keypair k1;
    t_key(1, &k1);
    struct lm_pubkey ring[2] = {k, k1.pub};
    ctx.keys = ring;
    ctx.nkeys = 2;
    t_base_token(&t);
    t.key_id = k1.pub.key_id;
    t_mint(&t, 1, b);
    assert_int_equal(lm_token_verify(b, sizeof b, &ctx, &out, NULL), 0);
}

static void test_status_table(void **state)
{
    (void)state;
    assert_string_equal(lm_status_name(LM_EXPIRED), "EXPIRED");
    assert_string_equal(lm_status_name(-LM_EXPIRED), "EXPIRED");
    assert_string_equal(lm_status_text(LM_BAD_SIGNATURE), "bad signature");
    assert_null(lm_status_name(999));
    assert_string_equal(lm_status_text(999), "unknown status");
    /* Names are unique. */
    for (int a = 0; a < 100; a++)
        for (int b = a + 1; b < 100; b++)
            if (lm_status_name(a) && lm_status_name(b))
                assert_string_not_equal(lm_status_name(a), lm_status_name(b));
    struct lm_diag d;
    assert_int_equal(lm_fail(&d, LM_IO, "x=%d", 7), -LM_IO);
    assert_string_equal(d.msg, "x=7");
    assert_int_equal(lm_fail(NULL, LM_IO, "ignored"), -LM_IO);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_roundtrip_all_fields),
        cmocka_unit_test(test_layout_offsets),
        cmocka_unit_test(test_encode_refuses_long_scope),
        cmocka_unit_test(test_bad_table_covers_every_status),
        cmocka_unit_test(test_accepted_edges),
        cmocka_unit_test(test_status_table),
    };
    enum { NF = sizeof fixed / sizeof fixed[0] };
    struct CMUnitTest tests[NF + N_BAD];
    char names[N_BAD][96];
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < N_BAD; i++) {
        snprintf(names[i], sizeof names[i], "bad token: %s -> %s", bad_tokens[i].name,
                 lm_status_name(bad_tokens[i].want));
        tests[NF + i] = (struct CMUnitTest){names[i], test_bad_token, NULL, NULL,
                                            (void *)&bad_tokens[i]};
    }
    return _cmocka_run_group_tests("token", tests, NF + N_BAD, NULL, NULL);
}
