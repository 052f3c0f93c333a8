/* The owner's control channel (guestctl.h): open commands, seal and open replies, bodies. */
#include <sodium.h>
#include <string.h>

#include "laundromat/guestctl.h"
#include "laundromat/hash.h"
#include "lm.h"

const char *lm_gc_phase_name(uint32_t phase)
{
    static const char *const names[] = {"idle", "connecting", "pre-copy", "final", "commit",
                                        "failed", "doubt"};
    return phase < sizeof names / sizeof names[0] ? names[phase] : "unknown";
}

/* key = BLAKE2b-256(key = ctl_key, LM_DOMAIN_GUESTCTL || what || data) */
static void derive(const uint8_t ctl_key[32], const char *what, const uint8_t *data, size_t len,
                   uint8_t out[32])
{
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, ctl_key, 32, 32);
    crypto_generichash_blake2b_update(&st, (const uint8_t *)LM_DOMAIN_GUESTCTL,
                                      strlen(LM_DOMAIN_GUESTCTL));
    crypto_generichash_blake2b_update(&st, (const uint8_t *)what, strlen(what));
    crypto_generichash_blake2b_update(&st, data, len);
    crypto_generichash_blake2b_final(&st, out, 32);
}

void lm_gc_body_crypt(const uint8_t hdr[LM_GC_HDR_SIZE], const uint8_t ctl_key[32],
                      const uint8_t *in, uint8_t *out, size_t len)
{
    uint8_t k[32], n[crypto_stream_chacha20_NONCEBYTES] = {0};
    derive(ctl_key, "cmd", hdr, LM_GC_HDR_SIZE, k);
    crypto_stream_chacha20_xor(out, in, len, n, k);
    sodium_memzero(k, sizeof k);
}

int lm_gc_cmd_open(const uint8_t *b, size_t len, const uint8_t owner_pub[32],
                   const uint8_t ctl_key[32], uint64_t now_ns, struct lm_gc_cmd *c,
                   uint8_t *body_out, struct lm_diag *d)
{
    if (len < LM_GC_HDR_SIZE + LM_GC_SIG_BYTES)
        return lm_fail(d, LM_TRUNCATED, "command: %zu bytes, at least %d", len, LM_GC_HDR_SIZE + LM_GC_SIG_BYTES);
    if (memcmp(b, LM_GC_MAGIC, 4) != 0)
        return lm_fail(d, LM_BAD_MAGIC, "command: bad magic, expected \"LMGC\"");
    if (lm_get16(b + 4) != LM_GC_VERSION)
        return lm_fail(d, LM_BAD_VERSION, "command: version %u, this guest reads %d", lm_get16(b + 4), LM_GC_VERSION);
    c->cmd = lm_get16(b + 6);
    c->time_ns = lm_get64(b + 8);
    memcpy(c->nonce, b + 16, LM_GC_NONCE_BYTES);
    c->body_len = lm_get16(b + 32);
    if (lm_get16(b + 34) != 0)
        return lm_fail(d, LM_RESERVED_NONZERO, "command: reserved bytes are not zero");
    if (c->body_len > LM_GC_BODY_MAX)
        return lm_fail(d, LM_OVERSIZED, "command: body of %u bytes, at most %d", c->body_len, LM_GC_BODY_MAX);
    if (len != (size_t)LM_GC_HDR_SIZE + c->body_len + LM_GC_SIG_BYTES)
        return lm_fail(d, len < (size_t)LM_GC_HDR_SIZE + c->body_len + LM_GC_SIG_BYTES ? LM_TRUNCATED : LM_TRAILING, "command: %zu bytes, the header says %d", len, LM_GC_HDR_SIZE + c->body_len + LM_GC_SIG_BYTES);
    size_t signed_len = LM_GC_HDR_SIZE + c->body_len;
    if (crypto_sign_ed25519_verify_detached(b + signed_len, b, signed_len, owner_pub) != 0)
        return lm_fail(d, LM_BAD_SIGNATURE, "command: not signed by this guest's owner");
    uint64_t skew = now_ns > c->time_ns ? now_ns - c->time_ns : c->time_ns - now_ns;
    if (skew > LM_GC_WINDOW_NS)
        return lm_fail(d, c->time_ns < now_ns ? LM_EXPIRED : LM_NOT_YET_VALID, "command: time %llu s, now %llu s: more than %llu s apart", (unsigned long long)(c->time_ns / 1000000000ull), (unsigned long long)(now_ns / 1000000000ull), LM_GC_WINDOW_NS / 1000000000ull);
    lm_gc_body_crypt(b, ctl_key, b + LM_GC_HDR_SIZE, body_out, c->body_len);
    return 0;
}

size_t lm_gc_reply_seal(uint16_t cmd, const uint8_t nonce[LM_GC_NONCE_BYTES], uint16_t status,
                        const uint8_t *body, size_t body_len, const uint8_t ctl_key[32],
                        uint8_t out[LM_GC_REPLY_MAX])
{
    if (body_len > LM_GC_REPLY_MAX - LM_GC_REPLY_HDR_SIZE - LM_GC_MAC_BYTES)
        return 0;
    memcpy(out, LM_GC_REPLY_MAGIC, 4);
    lm_put16(out + 4, LM_GC_VERSION);
    lm_put16(out + 6, cmd);
    memcpy(out + 8, nonce, LM_GC_NONCE_BYTES);
    lm_put16(out + 24, status);
    lm_put16(out + 26, (uint16_t)body_len);
    if (body_len) /* body may be NULL then */
        memcpy(out + LM_GC_REPLY_HDR_SIZE, body, body_len);
    size_t n = LM_GC_REPLY_HDR_SIZE + body_len;
    derive(ctl_key, "reply", out, n, out + n);
    return n + LM_GC_MAC_BYTES;
}

int lm_gc_reply_open(const uint8_t *b, size_t len, uint16_t cmd,
                     const uint8_t nonce[LM_GC_NONCE_BYTES], const uint8_t ctl_key[32],
                     uint16_t *status, const uint8_t **body, size_t *body_len, struct lm_diag *d)
{
    if (len < LM_GC_REPLY_HDR_SIZE + LM_GC_MAC_BYTES || memcmp(b, LM_GC_REPLY_MAGIC, 4) != 0 ||
        lm_get16(b + 4) != LM_GC_VERSION)
        return lm_fail(d, LM_BAD_MAGIC, "reply: %zu bytes, not a guest reply", len);
    size_t n = LM_GC_REPLY_HDR_SIZE + lm_get16(b + 26);
    if (len != n + LM_GC_MAC_BYTES)
        return lm_fail(d, len < n + LM_GC_MAC_BYTES ? LM_TRUNCATED : LM_TRAILING, "reply: %zu bytes, the header says %zu", len, n + LM_GC_MAC_BYTES);
    uint8_t mac[32];
    derive(ctl_key, "reply", b, n, mac);
    if (sodium_memcmp(mac, b + n, 32) != 0)
        return lm_fail(d, LM_BAD_SIGNATURE, "reply: bad MAC (another control key?)");
    if (lm_get16(b + 6) != cmd || memcmp(b + 8, nonce, LM_GC_NONCE_BYTES) != 0)
        return lm_fail(d, LM_REPLAY, "reply: answers another command");
    *status = lm_get16(b + 24);
    *body = b + LM_GC_REPLY_HDR_SIZE;
    *body_len = n - LM_GC_REPLY_HDR_SIZE;
    return 0;
}

void lm_gc_migrate_encode(const struct lm_gc_migrate *m, uint8_t out[LM_GC_MIGRATE_SIZE])
{
    memset(out, 0, LM_GC_MIGRATE_SIZE);
    memcpy(out, m->ip, 4);
    lm_put16(out + 4, m->port);
    lm_put16(out + 6, m->flags);
    lm_put32(out + 8, m->max_rounds);
    memcpy(out + 16, m->loader_pub, 32);
    memcpy(out + 48, m->mig_secret, 32);
    memcpy(out + 80, m->pay_token, 16);
    memcpy(out + 96, m->pay_seed, 32);
    lm_put32(out + 128, m->pay_len);
}

int lm_gc_migrate_decode(const uint8_t *b, size_t len, struct lm_gc_migrate *m,
                         struct lm_diag *d)
{
    if (len != LM_GC_MIGRATE_SIZE)
        return lm_fail(d, len < LM_GC_MIGRATE_SIZE ? LM_TRUNCATED : LM_TRAILING, "migrate: body of %zu bytes, expected %d", len, LM_GC_MIGRATE_SIZE);
    if ((lm_get16(b + 6) & ~LM_GC_MIGRATE_FLAGS) != 0)
        return lm_fail(d, LM_RESERVED_NONZERO, "migrate: unknown flags (0x%04x); this guest knows 0x%04x", lm_get16(b + 6), LM_GC_MIGRATE_FLAGS);
    if (lm_get32(b + 12) != 0 || lm_get32(b + 132) != 0)
        return lm_fail(d, LM_RESERVED_NONZERO, "migrate: reserved bytes are not zero");
    memcpy(m->ip, b, 4);
    m->port = lm_get16(b + 4);
    m->flags = lm_get16(b + 6);
    m->max_rounds = lm_get32(b + 8);
    memcpy(m->loader_pub, b + 16, 32);
    memcpy(m->mig_secret, b + 48, 32);
    memcpy(m->pay_token, b + 80, 16);
    memcpy(m->pay_seed, b + 96, 32);
    m->pay_len = lm_get32(b + 128);
    if (m->port == 0 || lm_all_zero(m->ip, 4))
        return lm_fail(d, LM_INVAL, "migrate: no destination address");
    if (m->max_rounds > 1000)
        return lm_fail(d, LM_INVAL, "migrate: max_rounds %u, at most 1000", m->max_rounds);
    return 0;
}

static const size_t fig_off = 8 + 8 * 8;

void lm_gc_status_encode(const struct lm_gc_status *s, uint8_t out[LM_GC_STATUS_SIZE])
{
    memset(out, 0, LM_GC_STATUS_SIZE);
    lm_put32(out, s->phase);
    lm_put32(out + 4, s->round);
    const uint64_t v[] = {s->pages_sent, s->pages_round, s->bytes, s->elapsed_ns,
                          s->dirty_rate, s->ram_pages, s->migrations, s->uptime_ns};
    for (size_t i = 0; i < 8; i++)
        lm_put64(out + 8 + 8 * i, v[i]);
    const struct lm_gc_figures *f = &s->last;
    const uint64_t w[] = {f->total_ns, f->downtime_ns, f->bytes, f->data_pages, f->zero_pages,
                          f->ram_pages, f->rounds, f->final_pages, f->cow_faults, f->fw_in,
                          f->fw_out};
    for (size_t i = 0; i < 11; i++)
        lm_put64(out + fig_off + 8 * i, w[i]);
    lm_put32(out + fig_off + 88, s->status);
    lm_put32(out + fig_off + 92, s->evict_ms);
    size_t n = strnlen(s->error, LM_GC_ERROR_MAX - 1);
    memcpy(out + fig_off + 96, s->error, n);
}

int lm_gc_status_decode(const uint8_t *b, size_t len, struct lm_gc_status *s, struct lm_diag *d)
{
    if (len != LM_GC_STATUS_SIZE)
        return lm_fail(d, len < LM_GC_STATUS_SIZE ? LM_TRUNCATED : LM_TRAILING, "status: %zu bytes, expected %d", len, LM_GC_STATUS_SIZE);
    s->phase = lm_get32(b);
    s->round = lm_get32(b + 4);
    uint64_t *v[] = {&s->pages_sent, &s->pages_round, &s->bytes, &s->elapsed_ns,
                     &s->dirty_rate, &s->ram_pages, &s->migrations, &s->uptime_ns};
    for (size_t i = 0; i < 8; i++)
        *v[i] = lm_get64(b + 8 + 8 * i);
    struct lm_gc_figures *f = &s->last;
    uint64_t *w[] = {&f->total_ns, &f->downtime_ns, &f->bytes, &f->data_pages, &f->zero_pages,
                     &f->ram_pages, &f->rounds, &f->final_pages, &f->cow_faults, &f->fw_in,
                     &f->fw_out};
    for (size_t i = 0; i < 11; i++)
        *w[i] = lm_get64(b + fig_off + 8 * i);
    s->status = lm_get32(b + fig_off + 88);
    s->evict_ms = lm_get32(b + fig_off + 92);
    memcpy(s->error, b + fig_off + 96, LM_GC_ERROR_MAX);
    s->error[LM_GC_ERROR_MAX - 1] = '\0';
    for (char *p = s->error; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
    return 0;
}
