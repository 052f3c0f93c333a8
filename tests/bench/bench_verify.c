/* Benchmark: token verifications and chain links per second against libsodium's raw rates. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/clock.h"
#include "laundromat/keys.h"
#include "laundromat/token.h"

#define ROUNDS 7

static double now_s(void)
{
    return (double)lm_now_ns() / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static uint8_t tok[LM_TOKEN_SIZE];
static struct lm_pubkey key;
static struct lm_verify_ctx ctx;
static uint8_t chain_seed[32];
static uint32_t chain_n;
static volatile int sink;

/* Each workload runs `n` operations and returns how many succeeded. */
static long raw_verify(long n)
{
    long okc = 0;
    for (long i = 0; i < n; i++)
        okc += crypto_sign_verify_detached(tok + LM_TOK_OFF_SIG, tok, LM_TOK_SIGNED_BYTES,
                                           key.pk) == 0;
    return okc;
}

static long token_verify(long n)
{
    long okc = 0;
    struct lm_token t;
    for (long i = 0; i < n; i++)
        okc += lm_token_verify(tok, sizeof tok, &ctx, &t, NULL) == 0;
    return okc;
}

/* The floor for one chain step: BLAKE2b-256 of an input as long as domain || link. */
static long raw_hash(long n)
{
    uint8_t buf[sizeof LM_DOMAIN_CHAIN - 1 + 32];
    memset(buf, 3, sizeof buf);
    for (long i = 0; i < n; i++)
        crypto_generichash_blake2b(buf, 32, buf, sizeof buf, NULL, 0);
    sink = buf[0];
    return n;
}

/* Accepts links 1..n of a chain one by one, as a host receiving one payment per unit. */
static uint8_t (*links)[32];
static long chain_accept(long n)
{
    struct lm_chain_state st;
    lm_chain_init(&st, links[0], chain_n, 0);
    long okc = 0;
    for (long k = 1; k <= n; k++)
        okc += lm_chain_accept(&st, (uint32_t)k, links[k], NULL) == 0;
    return okc;
}

/* Median rate over ROUNDS, each round running the two workloads back to back. */
static void pair(const char *a_name, long (*a)(long), long an, const char *b_name,
                 long (*b)(long), long bn, double *ra, double *rb)
{
    double xa[ROUNDS], xb[ROUNDS];
    for (int r = 0; r < ROUNDS; r++) {
        double t0 = now_s();
        long oka = a(an);
        double t1 = now_s();
        long okb = b(bn);
        double t2 = now_s();
        if (oka != an || okb != bn) {
            fprintf(stderr, "bench: %s or %s failed (%ld/%ld, %ld/%ld ok)\n", a_name, b_name, oka,
                    an, okb, bn);
            exit(1);
        }
        xa[r] = an / (t1 - t0);
        xb[r] = bn / (t2 - t1);
    }
    qsort(xa, ROUNDS, sizeof xa[0], cmp_double);
    qsort(xb, ROUNDS, sizeof xb[0], cmp_double);
    *ra = xa[ROUNDS / 2];
    *rb = xb[ROUNDS / 2];
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    struct lm_keypair kp;
    uint8_t seed[32] = {1};
    lm_key_from_seed(seed, &kp);
    key = kp.pub;

    chain_n = 200000;
    memset(chain_seed, 7, sizeof chain_seed);
    links = malloc((size_t)(chain_n + 1) * 32);
    memcpy(links[chain_n], chain_seed, 32);
    for (long k = chain_n - 1; k >= 0; k--)
        lm_chain_step(links[k + 1], links[k]);

    struct lm_token t;
    memset(&t, 0, sizeof t);
    t.key_id = key.key_id;
    t.issued_at = 1000;
    t.expires_at = 2000;
    t.scope_kind = LM_SCOPE_HOST;
    strcpy(t.scope, "bench");
    t.payload_kind = LM_PAYLOAD_IMAGE;
    t.vcpus = 1;
    t.mem_mib = 16;
    memset(t.commitment, 1, 32);
    memcpy(t.anchor, links[0], 32);
    t.chain_len = chain_n;
    t.link_value_ms = 1000;
    lm_token_encode(&t, tok);
    lm_token_sign(tok, kp.sk);
    ctx = (struct lm_verify_ctx){.keys = &key, .nkeys = 1, .now = 1500, .host_name = "bench"};

    double raw_v, tok_v, raw_h, chain_v;
    pair("crypto_sign_verify_detached", raw_verify, 4000, "lm_token_verify", token_verify, 4000,
         &raw_v, &tok_v);
    pair("crypto_generichash", raw_hash, 200000, "lm_chain_accept", chain_accept, chain_n,
         &raw_h, &chain_v);

    printf("== token and payment core (median of %d rounds, peers measured in the same run)\n",
           ROUNDS);
    printf("tokens verified        %10.0f /s   raw Ed25519 verify %10.0f /s   ratio %.3f\n",
           tok_v, raw_v, tok_v / raw_v);
    printf("chain links verified   %10.0f /s   raw BLAKE2b-256 (51 B) %6.0f /s   ratio %.3f\n",
           chain_v, raw_h, chain_v / raw_h);
    free(links);
    return 0;
}
