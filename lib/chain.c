/* Hash chains: link generation for payers, bounded-work acceptance for verifiers. */
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/util.h"

/* The hot path of payment checks: one-shot BLAKE2b over domain || link, no streaming state. */
int lm_chain_step(const uint8_t in[LM_HASH_BYTES], uint8_t out[LM_HASH_BYTES])
{
    enum { DLEN = sizeof LM_DOMAIN_CHAIN - 1 };
    uint8_t buf[DLEN + LM_HASH_BYTES];
    memcpy(buf, LM_DOMAIN_CHAIN, DLEN);
    memcpy(buf + DLEN, in, LM_HASH_BYTES);
    if (lm_crypto_init() != 0)
        return -LM_CRYPTO;
    return crypto_generichash_blake2b(out, LM_HASH_BYTES, buf, sizeof buf, NULL, 0) == 0
               ? 0
               : -LM_CRYPTO;
}

int lm_chain_link(const uint8_t seed[LM_CHAIN_SEED_BYTES], uint32_t n, uint32_t k,
                  uint8_t out[LM_HASH_BYTES])
{
    if (k > n)
        return -LM_CHAIN_BEYOND_END;
    memcpy(out, seed, LM_HASH_BYTES);
    for (uint32_t i = 0; i < n - k; i++)
        if (lm_chain_step(out, out) != 0)
            return -LM_CRYPTO;
    return 0;
}

void lm_chain_init(struct lm_chain_state *st, const uint8_t anchor[LM_HASH_BYTES],
                   uint32_t length, uint32_t jump_limit)
{
    memcpy(st->last, anchor, LM_HASH_BYTES);
    st->last_index = 0;
    st->length = length;
    st->jump_limit = jump_limit ? jump_limit : LM_CHAIN_DEFAULT_JUMP;
}

int lm_chain_accept(struct lm_chain_state *st, uint32_t k, const uint8_t link[LM_HASH_BYTES],
                    struct lm_diag *d)
{
    if (k > st->length)
        return lm_fail(d, LM_CHAIN_BEYOND_END, "link %u: the chain has %u links", k,
                       st->length);
    if (k == st->last_index)
        return memcmp(link, st->last, LM_HASH_BYTES) == 0
                   ? lm_fail(d, LM_CHAIN_DUPLICATE, "link %u: already accepted", k)
                   : lm_fail(d, LM_CHAIN_STALE, "link %u: differs from the accepted link %u", k,
                             k);
    if (k < st->last_index)
        return lm_fail(d, LM_CHAIN_STALE, "link %u: older than the accepted link %u", k,
                       st->last_index);
    uint32_t steps = k - st->last_index;
    if (steps > st->jump_limit)
        return lm_fail(d, LM_CHAIN_JUMP, "link %u: %u past the accepted link %u, the limit is "
                       "%u; pay more often", k, steps, st->last_index, st->jump_limit);
    uint8_t h[LM_HASH_BYTES];
    memcpy(h, link, LM_HASH_BYTES);
    for (uint32_t i = 0; i < steps; i++)
        if (lm_chain_step(h, h) != 0)
            return lm_fail(d, LM_CRYPTO, "link %u: hash failed", k);
    /* Plain memcmp: links travel in clear, so the comparison guards no secret. */
    if (memcmp(h, st->last, LM_HASH_BYTES) != 0)
        return lm_fail(d, LM_CHAIN_FORGED, "link %u: hashing it %u times does not give the "
                       "accepted link %u", k, steps, st->last_index);
    memcpy(st->last, link, LM_HASH_BYTES);
    st->last_index = k;
    return 0;
}

int lm_chain_payer_init(struct lm_chain_payer *p, const uint8_t seed[LM_CHAIN_SEED_BYTES],
                        uint32_t n)
{
    memset(p, 0, sizeof *p);
    uint32_t stride = 1;
    while ((uint64_t)stride * stride < n)
        stride++;
    uint32_t count = n / stride + 1;
    p->marks = malloc((size_t)count * LM_HASH_BYTES);
    if (!p->marks)
        return -LM_NOMEM;
    memcpy(p->seed, seed, LM_CHAIN_SEED_BYTES);
    p->n = n;
    p->stride = stride;
    uint8_t h[LM_HASH_BYTES];
    memcpy(h, seed, LM_HASH_BYTES);
    for (uint32_t i = 0, j = 0; i <= n; i++) {
        if (i % stride == 0)
            memcpy(p->marks[j++], h, LM_HASH_BYTES);
        if (i < n && lm_chain_step(h, h) != 0)
            return -LM_CRYPTO;
    }
    return 0;
}

int lm_chain_payer_link(const struct lm_chain_payer *p, uint32_t k, uint8_t out[LM_HASH_BYTES])
{
    if (k > p->n)
        return -LM_CHAIN_BEYOND_END;
    uint32_t pos = p->n - k; /* hashes from the seed */
    memcpy(out, p->marks[pos / p->stride], LM_HASH_BYTES);
    for (uint32_t i = 0; i < pos % p->stride; i++)
        if (lm_chain_step(out, out) != 0)
            return -LM_CRYPTO;
    return 0;
}

void lm_chain_payer_free(struct lm_chain_payer *p)
{
    free(p->marks);
    memset(p, 0, sizeof *p);
}
