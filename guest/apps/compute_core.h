/* The deterministic computation, pure C: built into the guest and into the host's reference. */
#ifndef GUEST_COMPUTE_CORE_H
#define GUEST_COMPUTE_CORE_H

#include <stdint.h>

struct compute_result {
    uint64_t primes;   /* primes below n, summed over rounds */
    uint64_t sum;      /* their sum, mod 2^64 */
    uint64_t checksum; /* an order-sensitive fold of every prime and round */
};

/* Called after each round with the round just done (1-based); may be NULL. */
typedef void (*compute_progress_fn)(uint64_t round, uint64_t rounds,
                                    const struct compute_result *so_far);

/* Called now and then (every 2^16 steps) so that a kernel can run what else it must. */
typedef void (*compute_yield_fn)(void);

/*
 * `rounds` sieves of Eratosthenes; round r sieves below n - r (so each round differs), in a
 * caller-provided buffer of n bytes.
 */
void compute_run(uint64_t n, uint64_t rounds, uint8_t *sieve, compute_progress_fn progress,
                 compute_yield_fn yield, struct compute_result *r);

#endif
