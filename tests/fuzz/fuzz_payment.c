/* libFuzzer target: payment messages (round trip) and a hash-chain verifier against a model. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/chain.h"
#include "laundromat/wire.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MAX_RECORDS 512 /* bounds the hashing one input may cost */

/* links[k] = lm_chain_link(seed, FZ_CHAIN_LEN, k), computed once; links[0] is the anchor. */
static uint8_t links[FZ_CHAIN_LEN + 1][LM_HASH_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[LM_CHAIN_SEED_BYTES];
    fz_chain_seed(seed);
    for (uint32_t k = 0; k <= FZ_CHAIN_LEN; k++)
        if (lm_chain_link(seed, FZ_CHAIN_LEN, k, links[k]) != 0)
            abort();
    /*
     * The table against the definition, through lm_hash rather than lm_chain_step: link
     * FZ_CHAIN_LEN is the seed and link k - 1 = BLAKE2b-256(LM_DOMAIN_CHAIN || link k).
     */
    uint8_t h[LM_HASH_BYTES];
    memcpy(h, seed, LM_HASH_BYTES);
    for (uint32_t k = FZ_CHAIN_LEN;; k--) {
        if (memcmp(h, links[k], LM_HASH_BYTES) != 0)
            abort();
        if (k == 0)
            break;
        if (lm_hash(LM_DOMAIN_CHAIN, h, LM_HASH_BYTES, h) != 0)
            abort();
    }
    return 0;
}

static void check_failure(int rc, const struct lm_diag *d)
{
    if (rc >= 0 || lm_status_name(rc) == NULL || !fz_diag_terminated(d))
        abort();
}

static void chain_start(struct lm_chain_state *st)
{
    lm_chain_init(st, links[0], FZ_CHAIN_LEN, FZ_CHAIN_JUMP);
    if (st->last_index != 0 || st->length != FZ_CHAIN_LEN || st->jump_limit != FZ_CHAIN_JUMP)
        abort();
}

/* What lm_chain_accept must answer, from the precomputed links alone. */
static int model_accept(const struct lm_chain_state *st, uint32_t k, const uint8_t *link)
{
    if (k > st->length)
        return -LM_CHAIN_BEYOND_END;
    if (k == st->last_index)
        return memcmp(link, links[k], LM_HASH_BYTES) == 0 ? -LM_CHAIN_DUPLICATE : -LM_CHAIN_STALE;
    if (k < st->last_index)
        return -LM_CHAIN_STALE;
    if (k - st->last_index > st->jump_limit)
        return -LM_CHAIN_JUMP;
    return memcmp(link, links[k], LM_HASH_BYTES) == 0 ? 0 : -LM_CHAIN_FORGED;
}

/* Offers (k, link) to the verifier and checks the answer and the state against the model. */
static void offer(struct lm_chain_state *st, uint32_t k, const uint8_t link[LM_HASH_BYTES])
{
    struct lm_chain_state before = *st;
    struct lm_diag d;
    int want = model_accept(st, k, link);

    memset(&d, 'x', sizeof d);
    int rc = lm_chain_accept(st, k, link, &d);
    if (rc != want)
        abort();
    if (rc == 0) {
        if (st->last_index != k || k <= before.last_index ||
            k - before.last_index > before.jump_limit ||
            memcmp(st->last, links[k], LM_HASH_BYTES) != 0 || st->length != before.length ||
            st->jump_limit != before.jump_limit)
            abort();
    } else {
        check_failure(rc, &d);
        if (memcmp(st, &before, sizeof before) != 0)
            abort();
    }
    /* Invariants: last_index only grows, stays within the chain, and names its link. */
    if (st->last_index < before.last_index || st->last_index > st->length ||
        memcmp(st->last, links[st->last_index], LM_HASH_BYTES) != 0)
        abort();
}

static void fuzz_messages(const uint8_t *data, size_t size)
{
    uint8_t out[LM_WIRE_MAX];
    struct lm_diag d;

    struct lm_pay p;
    memset(&d, 'x', sizeof d);
    int rc = lm_pay_decode(data, size, &p, &d);
    if (rc != 0) {
        check_failure(rc, &d);
    } else {
        if (size != LM_PAY_SIZE || lm_pay_encode(&p, out, sizeof out) != LM_PAY_SIZE ||
            memcmp(out, data, size) != 0 || lm_pay_encode(&p, out, LM_PAY_SIZE - 1) != -LM_INVAL)
            abort();
        /* What a host does next: offer the link to the token's chain. */
        struct lm_chain_state st;
        chain_start(&st);
        offer(&st, p.index, p.link);
    }

    struct lm_pay_reply r;
    memset(&d, 'x', sizeof d);
    rc = lm_pay_reply_decode(data, size, &r, &d);
    if (rc != 0) {
        check_failure(rc, &d);
    } else {
        if (size != LM_PAY_REPLY_SIZE ||
            lm_pay_reply_encode(&r, out, sizeof out) != LM_PAY_REPLY_SIZE ||
            memcmp(out, data, size) != 0 ||
            lm_pay_reply_encode(&r, out, LM_PAY_REPLY_SIZE - 1) != -LM_INVAL)
            abort();
    }
}

/* Reads the chain records described in fixtures.h and offers each to one verifier. */
static void fuzz_chain(const uint8_t *data, size_t size)
{
    struct lm_chain_state st;
    size_t pos = 0;
    chain_start(&st);
    for (int n = 0; n < MAX_RECORDS && pos < size; n++) {
        uint8_t op = data[pos++];
        uint32_t k;
        if (op & FZ_OP_WIDE) {
            if (size - pos < 4)
                return;
            k = (uint32_t)data[pos] | (uint32_t)data[pos + 1] << 8 | (uint32_t)data[pos + 2] << 16 |
                (uint32_t)data[pos + 3] << 24;
            pos += 4;
        } else {
            if (size - pos < 1)
                return;
            k = data[pos++];
        }
        uint8_t link[LM_HASH_BYTES];
        memset(link, 0, sizeof link);
        switch (op & FZ_OP_SOURCE_MASK) {
        case FZ_OP_GENUINE:
            if (k <= FZ_CHAIN_LEN)
                memcpy(link, links[k], LM_HASH_BYTES);
            break;
        case FZ_OP_OTHER:
            if (size - pos < 1)
                return;
            memcpy(link, links[data[pos++] % (FZ_CHAIN_LEN + 1)], LM_HASH_BYTES);
            break;
        case FZ_OP_RAW:
            if (size - pos < LM_HASH_BYTES)
                return;
            memcpy(link, data + pos, LM_HASH_BYTES);
            pos += LM_HASH_BYTES;
            break;
        case FZ_OP_FLIPPED:
            if (size - pos < 1)
                return;
            if (k <= FZ_CHAIN_LEN)
                memcpy(link, links[k], LM_HASH_BYTES);
            link[data[pos] / 8] ^= (uint8_t)(1u << (data[pos] % 8));
            pos++;
            break;
        }
        if (op & FZ_OP_RESTART)
            chain_start(&st);
        offer(&st, k, link);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_messages(data, size);
    fuzz_chain(data, size);
    return 0;
}
