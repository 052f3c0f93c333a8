/* Sieve-based deterministic computation shared by the guest and the host-side reference. */
#include "compute_core.h"

#define YIELD_MASK 0xffffu

void compute_run(uint64_t n, uint64_t rounds, uint8_t *sieve, compute_progress_fn progress,
                 compute_yield_fn yield, struct compute_result *r)
{
    r->primes = r->sum = 0;
    r->checksum = 0xcbf29ce484222325ull;
    for (uint64_t round = 0; round < rounds; round++) {
        uint64_t limit = n > round ? n - round : 0;
        for (uint64_t i = 0; i < limit; i++) {
            sieve[i] = i >= 2;
            if (yield && (i & YIELD_MASK) == 0)
                yield();
        }
        for (uint64_t p = 2; p * p < limit; p++) {
            if (sieve[p])
                for (uint64_t m = p * p; m < limit; m += p) {
                    sieve[m] = 0;
                    if (yield && (m & YIELD_MASK) < p)
                        yield();
                }
        }
        for (uint64_t i = 2; i < limit; i++) {
            if (yield && (i & YIELD_MASK) == 0)
                yield();
            if (sieve[i]) {
                r->primes++;
                r->sum += i;
                r->checksum = (r->checksum ^ i) * 0x100000001b3ull;
            }
        }
        r->checksum = (r->checksum ^ (round + 1)) * 0x100000001b3ull;
        if (progress)
            progress(round + 1, rounds, r);
    }
}
