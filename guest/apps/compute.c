/* app=compute: the deterministic computation, printing progress and its result. */
#include <stdio.h>
#include <stdlib.h>

#include "../kernel/kernel.h"
#include "compute_core.h"

static void progress(uint64_t round, uint64_t rounds, const struct compute_result *r)
{
    printf("compute: round %llu/%llu primes=%llu at %llu ms\n", (unsigned long long)round,
           (unsigned long long)rounds, (unsigned long long)r->primes,
           (unsigned long long)(clock_ns() / 1000000));
}

static int compute_init(void)
{
    uint64_t n = cmdline_ulong("n", 10000000), rounds = cmdline_ulong("rounds", 4);
    uint8_t *sieve = malloc(n ? n : 1);
    if (!sieve) {
        printf("compute: cannot allocate %llu bytes\n", (unsigned long long)n);
        return 1;
    }
    struct compute_result r;
    uint64_t t0 = clock_ns();
    compute_run(n, rounds, sieve, progress, kernel_yield, &r);
    printf("compute: result n=%llu rounds=%llu primes=%llu sum=%llu checksum=%016llx "
           "(%llu ms)\n",
           (unsigned long long)n, (unsigned long long)rounds, (unsigned long long)r.primes,
           (unsigned long long)r.sum, (unsigned long long)r.checksum,
           (unsigned long long)((clock_ns() - t0) / 1000000));
    free(sieve);
    return 0;
}

const struct app app_compute = {"compute", false, compute_init, NULL};
