/* Hash-chain micropayments: link k of a chain of length n is H^(n-k)(seed), anchor = link 0. */
#ifndef LAUNDROMAT_CHAIN_H
#define LAUNDROMAT_CHAIN_H

#include <stdint.h>

#include "laundromat/hash.h"
#include "laundromat/status.h"

#define LM_CHAIN_SEED_BYTES 32
#define LM_CHAIN_DEFAULT_JUMP 4096u /* most hashes one payment may cost a verifier */

/* One step: out = BLAKE2b-256(LM_DOMAIN_CHAIN || in). out may equal in. */
int lm_chain_step(const uint8_t in[LM_HASH_BYTES], uint8_t out[LM_HASH_BYTES]);

/* Link k of the chain of length n from seed: H^(n-k)(seed). k > n gives -LM_CHAIN_BEYOND_END. */
int lm_chain_link(const uint8_t seed[LM_CHAIN_SEED_BYTES], uint32_t n, uint32_t k,
                  uint8_t out[LM_HASH_BYTES]);

/* The verifier's side: the newest accepted link and its index. */
struct lm_chain_state {
    uint8_t last[LM_HASH_BYTES]; /* link at last_index; the anchor at first */
    uint32_t last_index;         /* 0 = anchor */
    uint32_t length;             /* n */
    uint32_t jump_limit;         /* most hashes one accept may spend; 0 means the default */
};

void lm_chain_init(struct lm_chain_state *st, const uint8_t anchor[LM_HASH_BYTES],
                   uint32_t length, uint32_t jump_limit);

/*
 * Accepts link `link` at index k: k must be in (last_index, length], at most jump_limit
 * past last_index, and H^(k - last_index)(link) must equal the last accepted link. On
 * success the state advances and the caller credits k - old last_index units. Errors
 * leave the state unchanged: -LM_CHAIN_DUPLICATE (k == last_index, same link),
 * -LM_CHAIN_STALE (k below, or k equal with another link), -LM_CHAIN_BEYOND_END,
 * -LM_CHAIN_JUMP, -LM_CHAIN_FORGED.
 */
int lm_chain_accept(struct lm_chain_state *st, uint32_t k, const uint8_t link[LM_HASH_BYTES],
                    struct lm_diag *d);

/*
 * A payer's view of a chain: links on demand in at most about sqrt(n) hashes each, from
 * sqrt(n) remembered links (32 bytes each), rather than n - k hashes from the seed.
 */
struct lm_chain_payer {
    uint8_t seed[LM_CHAIN_SEED_BYTES];
    uint32_t n, stride;
    uint8_t (*marks)[LM_HASH_BYTES]; /* marks[j] = H^(j * stride)(seed) */
};
int lm_chain_payer_init(struct lm_chain_payer *p, const uint8_t seed[LM_CHAIN_SEED_BYTES],
                        uint32_t n);
int lm_chain_payer_link(const struct lm_chain_payer *p, uint32_t k, uint8_t out[LM_HASH_BYTES]);
void lm_chain_payer_free(struct lm_chain_payer *p);

/*
 * Chain files (docs/PROTOCOL.md, "Chain files"): the payer's secret seed, the length and
 * the anchor, as text. Written 0600 and never overwritten; loading refuses a file others
 * can read and, with check set, one whose anchor is not H^length(seed).
 */
#define LM_CHAIN_FILE_TAG "laundromat-chain-v1"

struct lm_chain_secret {
    uint8_t seed[LM_CHAIN_SEED_BYTES];
    uint32_t length;
    uint8_t anchor[LM_HASH_BYTES];
};

/* A fresh chain of length n from the system's random source. */
int lm_chain_new(uint32_t n, struct lm_chain_secret *c);
int lm_chainfile_write(const char *path, const struct lm_chain_secret *c, struct lm_diag *d);
int lm_chainfile_load(const char *path, int check, struct lm_chain_secret *c,
                      struct lm_diag *d);

#endif
