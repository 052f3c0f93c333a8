/* Unit tests of signed broker requests: the vectors, tampering, and strict header parsing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/reqsig.h"
#include "laundromat/util.h"
#include "testlib.h"

/* One record of tests/vectors/reqsig.txt, its values decoded. */
struct vec {
    char name[128];
    uint8_t seed[32];
    uint64_t key_id;
    char method[32], target[256], body[1024], canonical[2048];
    uint64_t time;
    uint8_t nonce[16], body_hash[32], sig[64];
    int seen; /* bit per field */
};

static struct vec vecs[8];
static int nvecs;

/* A "quoted" value with \\, \" and \n escapes. */
static void unquote(const char *v, char *out, size_t cap)
{
    size_t n = strlen(v), o = 0;
    assert_true(n >= 2 && v[0] == '"' && v[n - 1] == '"');
    for (size_t i = 1; i + 1 < n; i++) {
        char c = v[i];
        if (c == '\\') {
            c = v[++i];
            c = c == 'n' ? '\n' : c;
        }
        assert_true(o + 1 < cap);
        out[o++] = c;
    }
    out[o] = '\0';
}

static void set_field(struct vec *v, const char *k, const char *val)
{
    static const char *const names[] = {"vector",    "key_seed",  "key_id",   "method",
                                        "target",    "time",      "nonce",    "body",
                                        "body_hash", "canonical", "signature"};
    int i;
    for (i = 0; i < 11 && strcmp(names[i], k); i++)
        ;
    if (i == 11)
        fail_msg("reqsig.txt: unknown field %s", k);
    v->seen |= 1 << i;
    uint8_t kid[8];
    switch (i) {
    case 0:
        unquote(val, v->name, sizeof v->name);
        break;
    case 1:
        assert_int_equal(lm_hex_decode(val, v->seed, 32), 0);
        break;
    case 2:
        assert_int_equal(lm_hex_decode(val, kid, 8), 0);
        for (int j = 0; j < 8; j++)
            v->key_id = v->key_id << 8 | kid[j];
        break;
    case 3:
        unquote(val, v->method, sizeof v->method);
        break;
    case 4:
        unquote(val, v->target, sizeof v->target);
        break;
    case 5:
        v->time = strtoull(val, NULL, 10);
        break;
    case 6:
        assert_int_equal(lm_hex_decode(val, v->nonce, 16), 0);
        break;
    case 7:
        unquote(val, v->body, sizeof v->body);
        break;
    case 8:
        assert_int_equal(lm_hex_decode(val, v->body_hash, 32), 0);
        break;
    case 9:
        unquote(val, v->canonical, sizeof v->canonical);
        break;
    case 10:
        assert_int_equal(lm_hex_decode(val, v->sig, 64), 0);
        break;
    }
}

static int load_vectors(void **state)
{
    (void)state;
    const char *top = getenv("LM_TOP");
    char path[4096], line[4096];
    if (!top) {
        fprintf(stderr, "LM_TOP is not set: run with LM_TOP=<top of the source tree>\n");
        return -1;
    }
    snprintf(path, sizeof path, "%s/tests/vectors/reqsig.txt", top);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: cannot open\n", path);
        return -1;
    }
    struct vec *cur = NULL;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        if (line[0] == '#')
            continue;
        if (line[0] == '\0') {
            cur = NULL;
            continue;
        }
        char *eq = strstr(line, " = ");
        if (!eq || nvecs == 8)
            return fclose(f), -1;
        *eq = '\0';
        if (!cur)
            cur = &vecs[nvecs++];
        set_field(cur, line, eq + 3);
    }
    fclose(f);
    return nvecs >= 2 ? 0 : -1;
}

static void test_vectors(void **state)
{
    (void)state;
    for (int i = 0; i < nvecs; i++) {
        struct vec *v = &vecs[i];
        assert_int_equal(v->seen, (1 << 11) - 1); /* every field given, so every one checked */
        struct lm_keypair kp;
        assert_int_equal(lm_key_from_seed(v->seed, &kp), 0);
        assert_int_equal(kp.pub.key_id, v->key_id);
        uint8_t h[32];
        assert_int_equal(lm_hash(LM_DOMAIN_REQUEST_BODY, v->body, strlen(v->body), h), 0);
        assert_memory_equal(h, v->body_hash, 32);
        char canon[4096];
        int n = lm_reqsig_canonical(v->method, v->target, v->time, v->nonce, v->body,
                                    strlen(v->body), canon, sizeof canon, NULL);
        assert_int_equal(n, (int)strlen(v->canonical));
        assert_string_equal(canon, v->canonical);
        struct lm_reqsig r;
        struct lm_reqsig_text tx;
        assert_int_equal(lm_reqsig_sign(&kp, v->method, v->target, v->time, v->nonce, v->body,
                                        strlen(v->body), &r, &tx, NULL),
                         0);
        assert_memory_equal(r.sig, v->sig, 64);
        /* The header texts parse back to the same values, and verify. */
        struct lm_reqsig p;
        assert_int_equal(lm_reqsig_parse(tx.key, tx.time, tx.nonce, tx.sig, &p, NULL), 0);
        assert_memory_equal(&p, &r, sizeof p);
        assert_int_equal(
            lm_reqsig_verify(&kp.pub, &p, v->method, v->target, v->body, strlen(v->body), NULL), 0);
    }
}

/* Every input of the canonical string is covered by the signature. */
static void test_tampering(void **state)
{
    (void)state;
    struct lm_keypair kp, other;
    t_key(0, &kp);
    t_key(1, &other);
    const char *body = "{\"amount\":100}";
    struct lm_reqsig r, t;
    assert_int_equal(lm_reqsig_sign(&kp, "POST", "/v1/deposits", T_NOW, NULL, body, strlen(body),
                                    &r, NULL, NULL),
                     0);
    struct lm_diag d;
    assert_int_equal(lm_reqsig_verify(&kp.pub, &r, "POST", "/v1/deposits", body, strlen(body), &d),
                     0);
    assert_int_equal(lm_reqsig_verify(&kp.pub, &r, "PUT", "/v1/deposits", body, strlen(body), &d),
                     -LM_BAD_SIGNATURE);
    assert_non_null(strstr(d.msg, "does not verify"));
    assert_int_equal(
        lm_reqsig_verify(&kp.pub, &r, "POST", "/v1/deposits?x", body, strlen(body), NULL),
        -LM_BAD_SIGNATURE);
    assert_int_equal(lm_reqsig_verify(&kp.pub, &r, "POST", "/v1/deposits", "{\"amount\":101}",
                                      strlen(body), NULL),
                     -LM_BAD_SIGNATURE);
    assert_int_equal(lm_reqsig_verify(&kp.pub, &r, "POST", "/v1/deposits", body, 0, NULL),
                     -LM_BAD_SIGNATURE);
    t = r;
    t.time++;
    assert_int_equal(
        lm_reqsig_verify(&kp.pub, &t, "POST", "/v1/deposits", body, strlen(body), NULL),
        -LM_BAD_SIGNATURE);
    t = r;
    t.nonce[15] ^= 1;
    assert_int_equal(
        lm_reqsig_verify(&kp.pub, &t, "POST", "/v1/deposits", body, strlen(body), NULL),
        -LM_BAD_SIGNATURE);
    t = r;
    t.sig[0] ^= 0x80;
    assert_int_equal(
        lm_reqsig_verify(&kp.pub, &t, "POST", "/v1/deposits", body, strlen(body), NULL),
        -LM_BAD_SIGNATURE);
    /* Another account's key: its id differs, and its signature would not verify either. */
    assert_int_equal(
        lm_reqsig_verify(&other.pub, &r, "POST", "/v1/deposits", body, strlen(body), &d),
        -LM_UNKNOWN_KEY);
    t = r;
    t.key_id = other.pub.key_id;
    assert_int_equal(
        lm_reqsig_verify(&other.pub, &t, "POST", "/v1/deposits", body, strlen(body), NULL),
        -LM_BAD_SIGNATURE);
    /* Fresh nonces differ. */
    assert_int_equal(lm_reqsig_sign(&kp, "GET", "/v1/account", T_NOW, NULL, "", 0, &t, NULL, NULL),
                     0);
    assert_memory_not_equal(t.nonce, r.nonce, 16);
}

static void test_canonical_refusals(void **state)
{
    (void)state;
    uint8_t nonce[16] = {0};
    char out[4096], long_target[LM_REQSIG_MAX_TARGET + 2];
    struct lm_diag d;
    static const struct {
        const char *method, *target, *why;
    } bad[] = {
        {"", "/v1/x", "method"},      {"get", "/v1/x", "method"},
        {"GE T", "/v1/x", "method"},  {"ABCDEFGHIJKLMNOPQ", "/v1/x", "method"},
        {"GET", "", "target"},        {"GET", "v1/x", "target"},
        {"GET", "/v1/a b", "target"}, {"GET", "/v1/\x7f", "target"},
        {"GET", "/v1/\n", "target"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            lm_reqsig_canonical(bad[i].method, bad[i].target, 1, nonce, "", 0, out, sizeof out, &d),
            -LM_INVAL);
        assert_non_null(strstr(d.msg, bad[i].why));
    }
    memset(long_target, 'a', sizeof long_target - 1);
    long_target[0] = '/';
    long_target[sizeof long_target - 1] = '\0';
    assert_int_equal(lm_reqsig_canonical("GET", long_target, 1, nonce, "", 0, out, sizeof out, &d),
                     -LM_INVAL);
    long_target[LM_REQSIG_MAX_TARGET] = '\0'; /* exactly the maximum is fine */
    assert_true(lm_reqsig_canonical("GET", long_target, 1, nonce, "", 0, out, sizeof out, &d) > 0);
    assert_int_equal(lm_reqsig_canonical("GET", "/", 1, nonce, "", 0, out, 20, &d), -LM_INVAL);
}

static void test_parse_refusals(void **state)
{
    (void)state;
    const char *key = "e16532bb7175ccc2", *time = "1767225600",
               *nonce = "000102030405060708090a0b0c0d0e0f",
               *sig = "73f88356a06da1b5a7a1c0237e55fc19c42d4dbb85774ad006da9935b6770d2c"
                      "7b334fb715518e4845f5d1ae0f3ce2512c25999cfdd343d50d0659c7090cd100";
    static const char *const sig_upper =
        "73F88356a06da1b5a7a1c0237e55fc19c42d4dbb85774ad006da9935b6770d2c"
        "7b334fb715518e4845f5d1ae0f3ce2512c25999cfdd343d50d0659c7090cd100";
    struct lm_reqsig r;
    struct lm_diag d;
    assert_int_equal(lm_reqsig_parse(key, time, nonce, sig, &r, &d), 0);
    assert_int_equal(r.key_id, 0xe16532bb7175ccc2ull);
    assert_int_equal(r.time, 1767225600);
    static const struct {
        int which; /* 0 key, 1 time, 2 nonce, 3 signature */
        const char *value, *msg;
    } bad[] = {
        {0, NULL, "X-LM-Key is missing"},
        {1, NULL, "X-LM-Time is missing"},
        {2, NULL, "X-LM-Nonce is missing"},
        {3, NULL, "X-LM-Signature is missing"},
        {0, "", "X-LM-Key: 0 hex digits, expected 16"},
        {0, "e16532bb7175ccc", "X-LM-Key: 15 hex digits, expected 16"},
        {0, "e16532bb7175ccc20", "X-LM-Key: 17 hex digits"},
        {0, "E16532BB7175CCC2", "X-LM-Key: \"E16532BB7175CCC2\" is not lowercase hex"},
        {0, "e16532bb7175ccgg", "not lowercase hex"},
        {1, "", "X-LM-Time: \"\" is not Unix seconds"},
        {1, "-1767225600", "not Unix seconds"},
        {1, "+1767225600", "not Unix seconds"},
        {1, "01767225600", "no leading zero"},
        {1, "1767225600.5", "not Unix seconds"},
        {1, " 1767225600", "not Unix seconds"},
        {1, "17672256001767225600", "not Unix seconds"},
        {1, "9223372036854775808", "beyond 2^63"},
        {2, "000102030405060708090a0b0c0d0e", "X-LM-Nonce: 30 hex digits, expected 32"},
        {2, "000102030405060708090a0b0c0d0e0f00", "34 hex digits"},
        {3, "73f8", "X-LM-Signature: 4 hex digits, expected 128"},
        {3, sig_upper, "X-LM-Signature: \"73F8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        const char *v[4] = {key, time, nonce, sig};
        v[bad[i].which] = bad[i].value;
        memset(&d, 0, sizeof d);
        assert_int_equal(lm_reqsig_parse(v[0], v[1], v[2], v[3], &r, &d), -LM_INVAL);
        if (!strstr(d.msg, bad[i].msg))
            fail_msg("case %zu: message \"%s\" lacks \"%s\"", i, d.msg, bad[i].msg);
    }
    assert_int_equal(lm_reqsig_parse(key, "0", nonce, sig, &r, &d), 0); /* "0" is canonical */
    assert_int_equal(lm_reqsig_parse(key, "9223372036854775807", nonce, sig, &r, &d), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_tampering),
        cmocka_unit_test(test_canonical_refusals),
        cmocka_unit_test(test_parse_refusals),
    };
    return cmocka_run_group_tests(tests, load_vectors, NULL);
}
