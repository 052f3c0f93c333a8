/* Panic, and the random source lwIP uses for ports and sequence numbers. */
#include <stdarg.h>
#include <stdio.h>

#include "kernel.h"

#define EXIT_PANIC 2

void lm_panic(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("PANIC: %s\n", n >= 0 ? buf : fmt);
    platform_exit(EXIT_PANIC);
}

/* xorshift64*, seeded from the TSC, the wall clock and the MAC: enough for TCP port and ISN
 * choice; not for keys. */
static uint64_t rng_state;

void random_init(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    rng_state = ((uint64_t)hi << 32 | lo) ^ boot_info->clock.wall_ns;
    for (int i = 0; i < 6; i++)
        rng_state ^= (uint64_t)boot_info->net.mac[i] << (8 * i + 3);
    if (!rng_state)
        rng_state = 0x9e3779b97f4a7c15ull;
}

uint32_t lm_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return (uint32_t)((rng_state * 0x2545f4914f6cdd1dull) >> 32);
}
