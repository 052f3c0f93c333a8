/*
 * Random numbers: RDRAND where the CPU has it (it runs in ring 3 without an exit), folded
 * into a xorshift64* state seeded from the TSC, the wall clock and the MAC. lm_random()
 * serves lwIP (ports, sequence numbers); lm_entropy() serves libsodium (randombytes).
 */
#include <stddef.h>

#include "kernel.h"

static uint64_t rng_state;
static bool have_rdrand;

static bool rdrand64(uint64_t *v)
{
    unsigned char ok;
    for (int i = 0; i < 10; i++) {
        __asm__ volatile("rdrand %0; setc %1" : "=r"(*v), "=qm"(ok));
        if (ok)
            return true;
    }
    return false;
}

void random_init(void)
{
    uint32_t a, b, c, d, lo, hi;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(1), "c"(0));
    have_rdrand = (c >> 30) & 1;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    rng_state = ((uint64_t)hi << 32 | lo) ^ boot_info->clock.wall_ns;
    for (int i = 0; i < 6; i++)
        rng_state ^= (uint64_t)boot_info->net.mac[i] << (8 * i + 3);
    uint64_t r;
    if (have_rdrand && rdrand64(&r))
        rng_state ^= r;
    if (!rng_state)
        rng_state = 0x9e3779b97f4a7c15ull;
}

static uint64_t next(void)
{
    uint64_t r;
    if (have_rdrand && rdrand64(&r))
        rng_state ^= r;
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}

uint32_t lm_random(void)
{
    return (uint32_t)(next() >> 32);
}

void lm_entropy(void *buf, unsigned long len)
{
    uint8_t *p = buf;
    while (len > 0) {
        uint64_t r = next();
        for (int i = 0; i < 8 && len > 0; i++, len--)
            *p++ = (uint8_t)(r >> (8 * i));
    }
}
