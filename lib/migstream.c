/* The self-migration stream's layouts (migrate.h): hello, records, context, totals, keys. */
#include <sodium.h>
#include <string.h>

#include "laundromat/hash.h"
#include "laundromat/migrate.h"
#include "lm.h"

void lm_mig_hello_encode(const struct lm_mig_hello *h, uint8_t out[LM_MIG_HELLO_SIZE])
{
    memcpy(out, LM_MIG_HELLO_MAGIC, 4);
    lm_put16(out + 4, LM_MIG_VERSION);
    lm_put16(out + 6, 0);
    memcpy(out + 8, h->mig_pub, LM_MIG_KEY_BYTES);
    memcpy(out + 40, h->nonce, LM_MIG_NONCE_BYTES);
}

int lm_mig_hello_decode(const uint8_t *b, size_t len, struct lm_mig_hello *h, struct lm_diag *d)
{
    if (len != LM_MIG_HELLO_SIZE)
        return lm_fail(d, len < LM_MIG_HELLO_SIZE ? LM_TRUNCATED : LM_TRAILING,
                       "migration hello: %zu bytes, expected %d", len, LM_MIG_HELLO_SIZE);
    if (memcmp(b, LM_MIG_HELLO_MAGIC, 4) != 0)
        return lm_fail(d, LM_BAD_MAGIC, "migration hello: magic %02x%02x%02x%02x, expected \"LMMG\"", b[0], b[1], b[2], b[3]);
    if (lm_get16(b + 4) != LM_MIG_VERSION)
        return lm_fail(d, LM_BAD_VERSION, "migration hello: version %u, this loader reads %d", lm_get16(b + 4), LM_MIG_VERSION);
    if (lm_get16(b + 6) != 0)
        return lm_fail(d, LM_RESERVED_NONZERO, "migration hello: reserved bytes are not zero");
    memcpy(h->mig_pub, b + 8, LM_MIG_KEY_BYTES);
    memcpy(h->nonce, b + 40, LM_MIG_NONCE_BYTES);
    return 0;
}

void lm_mig_rec_header(uint8_t out[LM_MIG_REC_HDR], uint8_t type, uint32_t count, uint64_t arg)
{
    out[0] = type;
    out[1] = 0;
    lm_put16(out + 2, 0);
    lm_put32(out + 4, count);
    lm_put64(out + 8, arg);
}

int lm_mig_rec_parse(const uint8_t *b, size_t len, struct lm_mig_rec *r, struct lm_diag *d)
{
    if (len < LM_MIG_REC_HDR)
        return lm_fail(d, LM_TRUNCATED, "migration record: %zu bytes, the header alone is %d", len, LM_MIG_REC_HDR);
    if (b[1] != 0 || lm_get16(b + 2) != 0)
        return lm_fail(d, LM_RESERVED_NONZERO, "migration record type %u: flags or reserved bytes not zero", b[0]);
    r->type = b[0];
    r->count = lm_get32(b + 4);
    r->arg = lm_get64(b + 8);
    r->body = b + LM_MIG_REC_HDR;
    r->body_len = len - LM_MIG_REC_HDR;
    size_t want;
    switch (r->type) {
    case LM_MIG_PAGES:
        if (r->count == 0 || r->count > LM_MIG_PAGES_MAX)
            return lm_fail(d, LM_BAD_RECORD, "PAGES record: count %u, expected 1 to %u", r->count, LM_MIG_PAGES_MAX);
        want = (size_t)r->count * LM_MIG_PAGE;
        break;
    case LM_MIG_ZPAGES:
        if (r->count == 0 || r->count > LM_MIG_PAGES_MAX)
            return lm_fail(d, LM_BAD_RECORD, "ZPAGES record: count %u, expected 1 to %u", r->count, LM_MIG_PAGES_MAX);
        if (r->body_len == 0 || r->body_len > (size_t)r->count * LM_MIG_PAGE)
            return lm_fail(d, r->body_len ? LM_TRAILING : LM_TRUNCATED, "ZPAGES record: %zu compressed bytes for %u pages, expected 1 to %u", r->body_len, r->count, r->count * LM_MIG_PAGE);
        return 0;
    case LM_MIG_ZERO:
        if (r->count == 0)
            return lm_fail(d, LM_BAD_RECORD, "ZERO record: count 0");
        want = 0;
        break;
    case LM_MIG_ROUND:
        want = 0;
        break;
    case LM_MIG_CONTEXT:
    case LM_MIG_END:
    case LM_MIG_GO:
    case LM_MIG_READY:
    case LM_MIG_SAVED:
        if ((r->count & ~(r->type == LM_MIG_READY ? LM_MIG_READY_FLAGS : 0u)) != 0 || r->arg != 0)
            return lm_fail(d, LM_BAD_RECORD, "record type %u: count %u and arg %llu, expected 0", r->type, r->count, (unsigned long long)r->arg);
        want = r->type == LM_MIG_CONTEXT ? LM_MIG_CONTEXT_SIZE
               : r->type == LM_MIG_GO    ? LM_MIG_GO_SIZE
                                         : LM_MIG_TOTALS_SIZE;
        break;
    case LM_MIG_ERROR:
        if (r->arg != 0)
            return lm_fail(d, LM_BAD_RECORD, "ERROR record: arg %llu, expected 0", (unsigned long long)r->arg);
        if (r->body_len == 0 || r->body_len > LM_MIG_ERRMSG_MAX)
            return lm_fail(d, LM_BAD_RECORD, "ERROR record: message of %zu bytes, expected 1 to %d", r->body_len, LM_MIG_ERRMSG_MAX);
        return 0;
    default:
        return lm_fail(d, LM_BAD_RECORD, "migration record: unknown type %u", r->type);
    }
    if (r->body_len != want)
        return lm_fail(d, r->body_len < want ? LM_TRUNCATED : LM_TRAILING, "record type %u: body of %zu bytes, expected %zu", r->type, r->body_len, want);
    return 0;
}

void lm_mig_context_encode(const struct lm_mig_context *c, uint8_t out[LM_MIG_CONTEXT_SIZE])
{
    memset(out, 0, LM_MIG_CONTEXT_SIZE);
    lm_put32(out, LM_MIG_CONTEXT_MAGIC);
    lm_put32(out + 4, LM_MIG_VERSION);
    lm_put64(out + 8, c->mem_size);
    lm_put64(out + 16, c->kernel_start);
    lm_put64(out + 24, c->kernel_end);
    lm_put64(out + 32, c->resume_entry);
    lm_put64(out + 40, c->clock_ns);
    lm_put64(out + 48, c->wall_ns);
    lm_put32(out + 56, (uint32_t)c->platform);
}

int lm_mig_context_decode(const uint8_t *b, size_t len, struct lm_mig_context *c,
                          struct lm_diag *d)
{
    if (len != LM_MIG_CONTEXT_SIZE)
        return lm_fail(d, LM_BAD_RECORD, "context: %zu bytes, expected %d", len, LM_MIG_CONTEXT_SIZE);
    if (lm_get32(b) != LM_MIG_CONTEXT_MAGIC || lm_get32(b + 4) != LM_MIG_VERSION)
        return lm_fail(d, LM_BAD_RECORD, "context: magic %08x version %u, expected %08x version %d", lm_get32(b), lm_get32(b + 4), LM_MIG_CONTEXT_MAGIC, LM_MIG_VERSION);
    if (!lm_all_zero(b + 60, LM_MIG_CONTEXT_SIZE - 60))
        return lm_fail(d, LM_RESERVED_NONZERO, "context: reserved bytes are not zero");
    c->mem_size = lm_get64(b + 8);
    c->kernel_start = lm_get64(b + 16);
    c->kernel_end = lm_get64(b + 24);
    c->resume_entry = lm_get64(b + 32);
    c->clock_ns = lm_get64(b + 40);
    c->wall_ns = lm_get64(b + 48);
    c->platform = lm_get32(b + 56);
    if (c->platform > LM_MIG_PLATFORM_PVH)
        return lm_fail(d, LM_BAD_RECORD, "context: platform %llu, known are %d (our monitor) and %d (PVH)", (unsigned long long)c->platform, LM_MIG_PLATFORM_MONITOR, LM_MIG_PLATFORM_PVH);
    if (c->kernel_start >= c->kernel_end || c->kernel_end > c->mem_size ||
        c->resume_entry < c->kernel_start || c->resume_entry >= c->kernel_end)
        return lm_fail(d, LM_BAD_RECORD, "context: resume entry 0x%llx outside the kernel [0x%llx, 0x%llx) or the kernel outside %llu bytes of RAM", (unsigned long long)c->resume_entry, (unsigned long long)c->kernel_start, (unsigned long long)c->kernel_end, (unsigned long long)c->mem_size);
    return 0;
}

void lm_mig_totals_encode(const struct lm_mig_totals *t, uint8_t out[LM_MIG_TOTALS_SIZE])
{
    lm_put64(out, t->data_pages);
    lm_put64(out + 8, t->zero_pages);
    lm_put64(out + 16, t->records);
}

void lm_mig_totals_decode(const uint8_t b[LM_MIG_TOTALS_SIZE], struct lm_mig_totals *t)
{
    t->data_pages = lm_get64(b);
    t->zero_pages = lm_get64(b + 8);
    t->records = lm_get64(b + 16);
}

void lm_mig_go_encode(const struct lm_mig_go *g, uint8_t out[LM_MIG_GO_SIZE])
{
    lm_put64(out, g->fw_in);
    lm_put64(out + 8, g->fw_out);
    lm_put64(out + 16, g->cow_faults);
    lm_put64(out + 24, g->cow_ticks);
}

void lm_mig_go_decode(const uint8_t b[LM_MIG_GO_SIZE], struct lm_mig_go *g)
{
    g->fw_in = lm_get64(b);
    g->fw_out = lm_get64(b + 8);
    g->cow_faults = lm_get64(b + 16);
    g->cow_ticks = lm_get64(b + 24);
}

void lm_mig_recv_init(struct lm_mig_recv *s, uint64_t mem_size, uint64_t *covered)
{
    memset(s, 0, sizeof *s);
    s->mem_size = mem_size;
    s->npages = mem_size / LM_MIG_PAGE;
    s->covered = covered;
}

#define COVERED(s, p) ((s)->covered[(p) / 64] >> ((p) % 64) & 1)

int lm_mig_recv_record(struct lm_mig_recv *s, const uint8_t *b, size_t len, bool final,
                       struct lm_mig_rec *r, struct lm_diag *d)
{
    unsigned long long n = (unsigned long long)s->got.records;
    int rc = lm_mig_rec_parse(b, len, r, d);
    if (rc)
        return rc;
    if (final != (r->type == LM_MIG_GO))
        return lm_fail(d, LM_BAD_RECORD, "record %llu (type %u): the final tag belongs to GO alone", n, r->type);
    if (s->stage == 2)
        return lm_fail(d, LM_BAD_RECORD, "record %llu (type %u) after GO", n, r->type);
    if (s->stage == 1) {
        if (r->type != LM_MIG_GO)
            return lm_fail(d, LM_BAD_RECORD, "record %llu: after READY only GO may come, not type %u", n, r->type);
        s->stage = 2;
        return LM_MIG_ACT_GO;
    }
    switch (r->type) {
    case LM_MIG_PAGES:
    case LM_MIG_ZPAGES:
    case LM_MIG_ZERO:
        if (r->arg >= s->npages || r->count > s->npages - r->arg)
            return lm_fail(d, LM_PAGE_RANGE, "record %llu: pages [%llu, +%u) outside %llu pages of RAM", n, (unsigned long long)r->arg, r->count, (unsigned long long)s->npages);
        if (r->type != LM_MIG_ZERO && r->arg == 0)
            return lm_fail(d, LM_PAGE_RANGE, "record %llu: page 0 is the monitor's and always zero", n);
        for (uint64_t i = 0; i < r->count; i++)
            s->covered[(r->arg + i) / 64] |= 1ull << ((r->arg + i) % 64);
        if (r->type != LM_MIG_ZERO)
            s->got.data_pages += r->count;
        else
            s->got.zero_pages += r->count;
        if (s->have_ctx)
            s->final_pages += r->count;
        s->got.records++;
        return r->type == LM_MIG_PAGES    ? LM_MIG_ACT_PLACE
               : r->type == LM_MIG_ZPAGES ? LM_MIG_ACT_INFLATE
                                          : LM_MIG_ACT_ZERO;
    case LM_MIG_ROUND:
        if (r->arg < s->round || r->arg > UINT32_MAX) /* s->round is a u32: no wrap-around */
            return lm_fail(d, LM_BAD_RECORD, "record %llu: round %llu after round %u", n, (unsigned long long)r->arg, s->round);
        s->round = (uint32_t)r->arg;
        s->got.records++;
        return LM_MIG_ACT_NONE;
    case LM_MIG_CONTEXT:
        if (s->have_ctx)
            return lm_fail(d, LM_BAD_RECORD, "record %llu: a second CONTEXT", n);
        if ((rc = lm_mig_context_decode(r->body, r->body_len, &s->ctx, d)) != 0)
            return rc;
        if (s->ctx.mem_size != s->mem_size)
            return lm_fail(d, LM_MEM_MISMATCH, "context: %llu bytes of RAM, this VM has %llu", (unsigned long long)s->ctx.mem_size, (unsigned long long)s->mem_size);
        s->have_ctx = true;
        s->got.records++;
        return LM_MIG_ACT_NONE;
    case LM_MIG_END: {
        struct lm_mig_totals t;
        lm_mig_totals_decode(r->body, &t);
        if (!s->have_ctx)
            return lm_fail(d, LM_INCOMPLETE, "END without a CONTEXT record");
        uint64_t missing = 0, first = 0;
        for (uint64_t p = s->npages; p-- > 0;)
            if (!COVERED(s, p)) {
                missing++;
                first = p;
            }
        if (missing)
            return lm_fail(d, LM_INCOMPLETE, "END with %llu pages never sent (the first: %llu)", (unsigned long long)missing, (unsigned long long)first);
        if (t.data_pages != s->got.data_pages || t.zero_pages != s->got.zero_pages || t.records != s->got.records)
            return lm_fail(d, LM_INCOMPLETE, "END counts %llu data pages, %llu zero pages, %llu records; received %llu, %llu, %llu", (unsigned long long)t.data_pages, (unsigned long long)t.zero_pages, (unsigned long long)t.records, (unsigned long long)s->got.data_pages, (unsigned long long)s->got.zero_pages, (unsigned long long)s->got.records);
        s->stage = 1;
        return LM_MIG_ACT_READY;
    }
    default:
        return lm_fail(d, LM_BAD_RECORD, "record %llu: type %u does not go to a loader", n, r->type);
    }
}

int lm_mig_kdf(const uint8_t shared[32], const uint8_t mig_pub[32], const uint8_t loader_pub[32],
               const uint8_t nonce[LM_MIG_NONCE_BYTES], uint8_t out_gl[32], uint8_t out_lg[32])
{
    crypto_generichash_blake2b_state st;
    uint8_t k[64];
    if (crypto_generichash_blake2b_init(&st, shared, 32, sizeof k) != 0 ||
        crypto_generichash_blake2b_update(&st, (const uint8_t *)LM_DOMAIN_MIGRATE,
                                          strlen(LM_DOMAIN_MIGRATE)) != 0 ||
        crypto_generichash_blake2b_update(&st, mig_pub, 32) != 0 ||
        crypto_generichash_blake2b_update(&st, loader_pub, 32) != 0 ||
        crypto_generichash_blake2b_update(&st, nonce, LM_MIG_NONCE_BYTES) != 0 ||
        crypto_generichash_blake2b_final(&st, k, sizeof k) != 0)
        return -LM_CRYPTO;
    memcpy(out_gl, k, 32);
    memcpy(out_lg, k + 32, 32);
    sodium_memzero(k, sizeof k);
    return 0;
}

int lm_mig_keys(const uint8_t secret[32], const uint8_t peer[32], const uint8_t mig_pub[32],
                const uint8_t loader_pub[32], const uint8_t nonce[LM_MIG_NONCE_BYTES],
                uint8_t out_gl[32], uint8_t out_lg[32])
{
    uint8_t shared[32];
    if (crypto_scalarmult_curve25519(shared, secret, peer) != 0) /* a low-order point */
        return -LM_CRYPTO;
    int rc = lm_mig_kdf(shared, mig_pub, loader_pub, nonce, out_gl, out_lg);
    sodium_memzero(shared, sizeof shared);
    return rc;
}
