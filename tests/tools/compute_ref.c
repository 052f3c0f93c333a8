/* Host-side reference for the guest's app=compute: the same core, compiled for the host. */
#include <stdio.h>
#include <stdlib.h>

#include "../../guest/apps/compute_core.h"

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: compute_ref N ROUNDS\n");
        return 2;
    }
    uint64_t n = strtoull(argv[1], NULL, 0), rounds = strtoull(argv[2], NULL, 0);
    uint8_t *sieve = malloc(n ? n : 1);
    if (!sieve)
        return 1;
    struct compute_result r;
    compute_run(n, rounds, sieve, NULL, NULL, &r);
    printf("primes=%llu sum=%llu checksum=%016llx\n", (unsigned long long)r.primes,
           (unsigned long long)r.sum, (unsigned long long)r.checksum);
    free(sieve);
    return 0;
}
