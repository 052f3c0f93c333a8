/* Unit tests of the UDP messages: round trips and a table of bad datagrams per decoder. */
#include <stdio.h>
#include <string.h>

#include "laundromat/wire.h"
#include "lm.h"
#include "testlib.h"

static void fill(uint8_t *p, size_t n, uint8_t base)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(base + i);
}

static void test_ping_roundtrip(void **state)
{
    (void)state;
    struct lm_ping m = {.nonce = 0x1122334455667788ull}, r;
    fill(m.token, sizeof m.token, 1);
    uint8_t b[LM_WIRE_MAX + 1];
    assert_int_equal(lm_ping_encode(&m, b, sizeof b), LM_PING_SIZE);
    assert_memory_equal(b, "LMPG\x01\x00\x00\x00\x88\x77\x66\x55\x44\x33\x22\x11", 16);
    assert_memory_equal(b + LM_PING_OFF_TOKEN, m.token, LM_TOKEN_SIZE);
    assert_int_equal(lm_ping_decode(b, LM_PING_SIZE, &r, NULL), 0);
    assert_int_equal(r.nonce, m.nonce);
    assert_false(r.has_payment);
    assert_memory_equal(r.token, m.token, LM_TOKEN_SIZE);

    m.has_payment = 1;
    m.pay_index = 0x01020304;
    fill(m.pay_link, 32, 0x90);
    assert_int_equal(lm_ping_encode(&m, b, sizeof b), LM_PING_SIZE_PAID);
    assert_int_equal(lm_get16(b + 6), LM_PING_FLAG_PAYMENT);
    assert_memory_equal(b + LM_PING_SIZE, "\x04\x03\x02\x01", 4);
    assert_int_equal(lm_ping_decode(b, LM_PING_SIZE_PAID, &r, NULL), 0);
    assert_true(r.has_payment);
    assert_int_equal(r.pay_index, 0x01020304);
    assert_memory_equal(r.pay_link, m.pay_link, 32);
    assert_int_equal(lm_ping_encode(&m, b, LM_PING_SIZE_PAID - 1), -LM_INVAL);
}

static void test_replies_and_payment_roundtrip(void **state)
{
    (void)state;
    uint8_t b[128];
    /* Structs are zeroed whole so padding compares equal. */
    struct lm_ping_reply pr, prr;
    memset(&pr, 0, sizeof pr);
    memset(&prr, 0xff, sizeof prr);
    pr.status = LM_EXPIRED;
    pr.nonce = 42;
    pr.vm_id = 7;
    pr.server_time = T_NOW;
    memcpy(pr.loader_ip, "\x0a\x00\x00\x02", 4);
    pr.loader_port = 8000;
    pr.credit_ms = 123456789;
    fill(pr.token_id, 16, 0xa0);
    assert_int_equal(lm_ping_reply_encode(&pr, b, sizeof b), LM_PING_REPLY_SIZE);
    assert_memory_equal(b, "LMPR\x01\x00\x16\x00", 8);
    assert_int_equal(lm_ping_reply_decode(b, LM_PING_REPLY_SIZE, &prr, NULL), 0);
    assert_int_equal(prr.status, pr.status);
    assert_int_equal(prr.nonce, pr.nonce);
    assert_memory_equal(prr.token_id, pr.token_id, 16);
    assert_int_equal(prr.vm_id, pr.vm_id);
    assert_int_equal(prr.server_time, pr.server_time);
    assert_memory_equal(prr.loader_ip, pr.loader_ip, 4);
    assert_int_equal(prr.loader_port, pr.loader_port);
    assert_int_equal(prr.credit_ms, pr.credit_ms);

    struct lm_pay p = {.index = 99}, pp; /* no padding: 16 + 4 + 32 bytes */
    _Static_assert(sizeof p == 52, "struct lm_pay has no padding");
    fill(p.token_id, 16, 0xa0);
    fill(p.link, 32, 3);
    assert_int_equal(lm_pay_encode(&p, b, sizeof b), LM_PAY_SIZE);
    assert_memory_equal(b, "LMPY\x01\x00\x00\x00", 8);
    assert_int_equal(lm_pay_decode(b, LM_PAY_SIZE, &pp, NULL), 0);
    assert_memory_equal(&pp, &p, sizeof p);

    struct lm_pay_reply a, aa;
    memset(&a, 0, sizeof a);
    memset(&aa, 0xff, sizeof aa);
    a.status = LM_CHAIN_FORGED;
    a.accepted_index = 98;
    a.credit_ms = 5000;
    a.server_time = T_NOW;
    fill(a.token_id, 16, 0xa0);
    assert_int_equal(lm_pay_reply_encode(&a, b, sizeof b), LM_PAY_REPLY_SIZE);
    assert_int_equal(lm_pay_reply_decode(b, LM_PAY_REPLY_SIZE, &aa, NULL), 0);
    assert_int_equal(aa.status, a.status);
    assert_memory_equal(aa.token_id, a.token_id, 16);
    assert_int_equal(aa.accepted_index, a.accepted_index);
    assert_int_equal(aa.credit_ms, a.credit_ms);
    assert_int_equal(aa.server_time, a.server_time);
}

enum kind { PING, PING_REPLY, PAY, PAY_REPLY };

struct bad {
    const char *name;
    enum kind kind;
    int paid;      /* PING: start from a ping carrying a payment */
    int off;       /* patch offset, -1 none */
    const char *bytes;
    int nbytes;
    int delta;     /* length change from the valid message */
    int want;
    const char *msg;
};

static const struct bad bad_msgs[] = {
    {"ping: empty", PING, 0, -1, NULL, 0, -LM_PING_SIZE, LM_TRUNCATED, "0 bytes"},
    {"ping: 5 bytes", PING, 0, -1, NULL, 0, 5 - LM_PING_SIZE, LM_TRUNCATED, "5 bytes"},
    {"ping: bad magic", PING, 0, 0, "LMPX", 4, 0, LM_BAD_MAGIC, "expected \"LMPG\""},
    {"ping: a payment's magic", PING, 0, 0, "LMPY", 4, 0, LM_BAD_MAGIC, "4c4d5059"},
    {"ping: version 2", PING, 0, 4, "\x02\x00", 2, 0, LM_BAD_VERSION, "version 2"},
    {"ping: unknown flag", PING, 0, 6, "\x02\x00", 2, 0, LM_BAD_FLAGS, "flags 0x0002"},
    {"ping: short by one", PING, 0, -1, NULL, 0, -1, LM_TRUNCATED, "263 bytes, expected 264"},
    {"ping: trailing byte", PING, 0, -1, NULL, 0, 1, LM_TRAILING, "265 bytes, expected 264"},
    {"ping: payment flag, no payment", PING, 0, 6, "\x01\x00", 2, 0, LM_TRUNCATED,
     "expected 300"},
    {"ping: payment without flag", PING, 1, 6, "\x00\x00", 2, 0, LM_TRAILING, "expected 264"},
    {"ping: payment cut short", PING, 1, -1, NULL, 0, -1, LM_TRUNCATED, "299 bytes"},
    {"ping: oversized datagram", PING, 1, -1, NULL, 0, 1200, LM_TRAILING, "1500 bytes"},
    {"ping reply: bad magic", PING_REPLY, 0, 0, "LMPG", 4, 0, LM_BAD_MAGIC, "\"LMPR\""},
    {"ping reply: short", PING_REPLY, 0, -1, NULL, 0, -8, LM_TRUNCATED, "56 bytes"},
    {"ping reply: unknown flag", PING_REPLY, 0, 55, "\x01", 1, 0, LM_BAD_FLAGS, "flags 0x0100"},
    {"ping reply: vouched, no key", PING_REPLY, 0, 54, "\x01", 1, 0, LM_TRUNCATED,
     "64 bytes, expected 160"},
    {"payment: bad magic", PAY, 0, 0, "XXXX", 4, 0, LM_BAD_MAGIC, "58585858"},
    {"payment: version 9", PAY, 0, 4, "\x09\x00", 2, 0, LM_BAD_VERSION, "version 9"},
    {"payment: flags", PAY, 0, 6, "\x00\x01", 2, 0, LM_BAD_FLAGS, "flags 0x0100"},
    {"payment: reserved", PAY, 0, 30, "\x01", 1, 0, LM_RESERVED_NONZERO, "reserved"},
    {"payment: truncated", PAY, 0, -1, NULL, 0, -32, LM_TRUNCATED, "32 bytes, expected 64"},
    {"payment: trailing", PAY, 0, -1, NULL, 0, 3, LM_TRAILING, "67 bytes"},
    {"payment: 7 bytes", PAY, 0, -1, NULL, 0, 7 - LM_PAY_SIZE, LM_TRUNCATED, "7 bytes"},
    {"payment reply: reserved", PAY_REPLY, 0, 28, "\x01", 1, 0, LM_RESERVED_NONZERO, "reserved"},
    {"payment reply: trailing", PAY_REPLY, 0, -1, NULL, 0, 1, LM_TRAILING, "49 bytes"},
};
#define N_BAD (sizeof bad_msgs / sizeof bad_msgs[0])

static void test_bad_message(void **state)
{
    const struct bad *c = *state;
    uint8_t b[1600];
    memset(b, 0, sizeof b);
    int n = 0;
    switch (c->kind) {
    case PING: {
        struct lm_ping m = {.nonce = 1, .has_payment = c->paid};
        n = lm_ping_encode(&m, b, sizeof b);
        break;
    }
    case PING_REPLY: {
        struct lm_ping_reply m = {.status = 0};
        n = lm_ping_reply_encode(&m, b, sizeof b);
        break;
    }
    case PAY: {
        struct lm_pay m = {.index = 1};
        n = lm_pay_encode(&m, b, sizeof b);
        break;
    }
    case PAY_REPLY: {
        struct lm_pay_reply m = {.status = 0};
        n = lm_pay_reply_encode(&m, b, sizeof b);
        break;
    }
    }
    assert_true(n > 0);
    if (c->off >= 0)
        memcpy(b + c->off, c->bytes, (size_t)c->nbytes);
    size_t len = (size_t)(n + c->delta);
    struct lm_diag d = {""};
    union {
        struct lm_ping p;
        struct lm_ping_reply pr;
        struct lm_pay y;
        struct lm_pay_reply yr;
    } u;
    int rc = c->kind == PING         ? lm_ping_decode(b, len, &u.p, &d)
             : c->kind == PING_REPLY ? lm_ping_reply_decode(b, len, &u.pr, &d)
             : c->kind == PAY        ? lm_pay_decode(b, len, &u.y, &d)
                                     : lm_pay_reply_decode(b, len, &u.yr, &d);
    if (rc != -c->want || !strstr(d.msg, c->msg)) {
        print_error("case \"%s\": got %s \"%s\"; want %s containing \"%s\"\n", c->name,
                    lm_status_name(rc), d.msg, lm_status_name(c->want), c->msg);
        fail();
    }
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_ping_roundtrip),
        cmocka_unit_test(test_replies_and_payment_roundtrip),
    };
    enum { NF = sizeof fixed / sizeof fixed[0] };
    struct CMUnitTest tests[NF + N_BAD];
    memcpy(tests, fixed, sizeof fixed);
    for (size_t i = 0; i < N_BAD; i++)
        tests[NF + i] = (struct CMUnitTest){bad_msgs[i].name, test_bad_message, NULL, NULL,
                                            (void *)&bad_msgs[i]};
    return _cmocka_run_group_tests("wire", tests, NF + N_BAD, NULL, NULL);
}
