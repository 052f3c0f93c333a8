/* Encode and decode of the UDP messages: magic ping, payment and their replies. */
#include <stdbool.h>
#include <string.h>

#include "laundromat/wire.h"
#include "lm.h"

/* Common 8-byte head of every message: magic, version, flags or status word. */
static int check_head(const uint8_t *b, size_t len, const char *magic, const char *what,
                      struct lm_diag *d)
{
    if (len < 8)
        return lm_fail(d, len >= 4 && memcmp(b, magic, 4) != 0 ? LM_BAD_MAGIC : LM_TRUNCATED,
                       "%s: %zu bytes, shorter than any %s", what, len, what);
    if (memcmp(b, magic, 4) != 0)
        return lm_fail(d, LM_BAD_MAGIC, "%s: magic %02x%02x%02x%02x, expected \"%s\"", what, b[0],
                       b[1], b[2], b[3], magic);
    uint16_t v = lm_get16(b + 4);
    if (v != LM_WIRE_VERSION)
        return lm_fail(d, LM_BAD_VERSION, "%s: version %u, this build speaks version %d", what, v,
                       LM_WIRE_VERSION);
    return 0;
}

static int check_len(size_t len, size_t want, const char *what, struct lm_diag *d)
{
    if (len == want)
        return 0;
    return lm_fail(d, len < want ? LM_TRUNCATED : LM_TRAILING, "%s: %zu bytes, expected %zu",
                   what, len, want);
}

static void put_head(uint8_t *b, const char *magic, uint16_t word)
{
    memcpy(b, magic, 4);
    lm_put16(b + 4, LM_WIRE_VERSION);
    lm_put16(b + 6, word);
}

int lm_ping_encode(const struct lm_ping *m, uint8_t *b, size_t cap)
{
    size_t n = m->has_payment ? LM_PING_SIZE_PAID : LM_PING_SIZE;
    if (cap < n)
        return -LM_INVAL;
    memset(b, 0, n);
    put_head(b, LM_PING_MAGIC, m->has_payment ? LM_PING_FLAG_PAYMENT : 0);
    lm_put64(b + 8, m->nonce);
    memcpy(b + LM_PING_OFF_TOKEN, m->token, LM_TOKEN_SIZE);
    if (m->has_payment) {
        lm_put32(b + LM_PING_SIZE, m->pay_index);
        memcpy(b + LM_PING_SIZE + 4, m->pay_link, LM_HASH_BYTES);
    }
    return (int)n;
}

int lm_ping_decode(const uint8_t *b, size_t len, struct lm_ping *m, struct lm_diag *d)
{
    int rc = check_head(b, len, LM_PING_MAGIC, "ping", d);
    if (rc)
        return rc;
    uint16_t flags = lm_get16(b + 6);
    if (flags & ~LM_PING_FLAG_PAYMENT)
        return lm_fail(d, LM_BAD_FLAGS, "ping: flags 0x%04x, only 0x0001 is defined", flags);
    m->has_payment = (flags & LM_PING_FLAG_PAYMENT) != 0;
    rc = check_len(len, m->has_payment ? LM_PING_SIZE_PAID : LM_PING_SIZE,
                   m->has_payment ? "ping with payment" : "ping", d);
    if (rc)
        return rc;
    m->nonce = lm_get64(b + 8);
    memcpy(m->token, b + LM_PING_OFF_TOKEN, LM_TOKEN_SIZE);
    m->pay_index = m->has_payment ? lm_get32(b + LM_PING_SIZE) : 0;
    memset(m->pay_link, 0, LM_HASH_BYTES);
    if (m->has_payment)
        memcpy(m->pay_link, b + LM_PING_SIZE + 4, LM_HASH_BYTES);
    return 0;
}

int lm_ping_reply_encode(const struct lm_ping_reply *m, uint8_t *b, size_t cap)
{
    bool vouched = (m->flags & LM_PING_REPLY_FLAG_VOUCHED) != 0;
    size_t n = vouched ? LM_PING_REPLY_VOUCHED_SIZE : LM_PING_REPLY_SIZE;
    if (cap < n)
        return -LM_INVAL;
    memset(b, 0, n);
    put_head(b, LM_PING_REPLY_MAGIC, m->status);
    lm_put64(b + 8, m->nonce);
    memcpy(b + 16, m->token_id, LM_TOKEN_ID_BYTES);
    lm_put64(b + 32, m->vm_id);
    lm_put64(b + 40, m->server_time);
    memcpy(b + 48, m->loader_ip, 4);
    lm_put16(b + 52, m->loader_port);
    lm_put16(b + 54, vouched ? LM_PING_REPLY_FLAG_VOUCHED : 0);
    lm_put64(b + 56, m->credit_ms);
    if (vouched) {
        memcpy(b + 64, m->loader_pub, 32);
        memcpy(b + 96, m->vouch_sig, 64);
    }
    return (int)n;
}

int lm_ping_reply_decode(const uint8_t *b, size_t len, struct lm_ping_reply *m,
                         struct lm_diag *d)
{
    int rc = check_head(b, len, LM_PING_REPLY_MAGIC, "ping reply", d);
    if (rc)
        return rc;
    if (len < LM_PING_REPLY_SIZE)
        return check_len(len, LM_PING_REPLY_SIZE, "ping reply", d);
    uint16_t flags = lm_get16(b + 54);
    if (flags & ~LM_PING_REPLY_FLAG_VOUCHED)
        return lm_fail(d, LM_BAD_FLAGS, "ping reply: flags 0x%04x, only 0x0001 is defined",
                       flags);
    bool vouched = flags != 0;
    rc = check_len(len, vouched ? LM_PING_REPLY_VOUCHED_SIZE : LM_PING_REPLY_SIZE,
                   vouched ? "vouched ping reply" : "ping reply", d);
    if (rc)
        return rc;
    m->status = lm_get16(b + 6);
    m->nonce = lm_get64(b + 8);
    memcpy(m->token_id, b + 16, LM_TOKEN_ID_BYTES);
    m->vm_id = lm_get64(b + 32);
    m->server_time = lm_get64(b + 40);
    memcpy(m->loader_ip, b + 48, 4);
    m->loader_port = lm_get16(b + 52);
    m->flags = flags;
    m->credit_ms = lm_get64(b + 56);
    memset(m->loader_pub, 0, 32);
    memset(m->vouch_sig, 0, 64);
    if (vouched) {
        memcpy(m->loader_pub, b + 64, 32);
        memcpy(m->vouch_sig, b + 96, 64);
    }
    return 0;
}

int lm_pay_encode(const struct lm_pay *m, uint8_t *b, size_t cap)
{
    if (cap < LM_PAY_SIZE)
        return -LM_INVAL;
    memset(b, 0, LM_PAY_SIZE);
    put_head(b, LM_PAY_MAGIC, 0);
    memcpy(b + 8, m->token_id, LM_TOKEN_ID_BYTES);
    lm_put32(b + 24, m->index);
    memcpy(b + 32, m->link, LM_HASH_BYTES);
    return LM_PAY_SIZE;
}

int lm_pay_decode(const uint8_t *b, size_t len, struct lm_pay *m, struct lm_diag *d)
{
    int rc = check_head(b, len, LM_PAY_MAGIC, "payment", d);
    if (!rc)
        rc = check_len(len, LM_PAY_SIZE, "payment", d);
    if (rc)
        return rc;
    if (lm_get16(b + 6) != 0)
        return lm_fail(d, LM_BAD_FLAGS, "payment: flags 0x%04x, none are defined",
                       lm_get16(b + 6));
    if (!lm_all_zero(b + 28, 4))
        return lm_fail(d, LM_RESERVED_NONZERO, "payment: reserved bytes are not zero");
    memcpy(m->token_id, b + 8, LM_TOKEN_ID_BYTES);
    m->index = lm_get32(b + 24);
    memcpy(m->link, b + 32, LM_HASH_BYTES);
    return 0;
}

int lm_pay_reply_encode(const struct lm_pay_reply *m, uint8_t *b, size_t cap)
{
    if (cap < LM_PAY_REPLY_SIZE)
        return -LM_INVAL;
    memset(b, 0, LM_PAY_REPLY_SIZE);
    put_head(b, LM_PAY_REPLY_MAGIC, m->status);
    memcpy(b + 8, m->token_id, LM_TOKEN_ID_BYTES);
    lm_put32(b + 24, m->accepted_index);
    lm_put64(b + 32, m->credit_ms);
    lm_put64(b + 40, m->server_time);
    return LM_PAY_REPLY_SIZE;
}

int lm_pay_reply_decode(const uint8_t *b, size_t len, struct lm_pay_reply *m,
                        struct lm_diag *d)
{
    int rc = check_head(b, len, LM_PAY_REPLY_MAGIC, "payment reply", d);
    if (!rc)
        rc = check_len(len, LM_PAY_REPLY_SIZE, "payment reply", d);
    if (rc)
        return rc;
    if (!lm_all_zero(b + 28, 4))
        return lm_fail(d, LM_RESERVED_NONZERO, "payment reply: reserved bytes are not zero");
    m->status = lm_get16(b + 6);
    memcpy(m->token_id, b + 8, LM_TOKEN_ID_BYTES);
    m->accepted_index = lm_get32(b + 24);
    m->credit_ms = lm_get64(b + 32);
    m->server_time = lm_get64(b + 40);
    return 0;
}
