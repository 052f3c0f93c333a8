/* RFC 6528 initial sequence numbers for lwIP's TCP, keyed from the kernel's lm_random(). */
#include <stdint.h>
#include <string.h>

#include "lwip/ip_addr.h"
#include "lwip/sys.h"
#include "lm_lwip_hooks.h"

/* The secret of F() below; drawn on first use, when the kernel's random source is up. */
static uint64_t isn_key[2];
static int isn_keyed;

static uint64_t rotl(uint64_t x, int b)
{
    return (x << b) | (x >> (64 - b));
}

#define SIPROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl(v1, 13) ^ v0;                                                                    \
        v0 = rotl(v0, 32);                                                                         \
        v2 += v3;                                                                                  \
        v3 = rotl(v3, 16) ^ v2;                                                                    \
        v0 += v3;                                                                                  \
        v3 = rotl(v3, 21) ^ v0;                                                                    \
        v2 += v1;                                                                                  \
        v1 = rotl(v1, 17) ^ v2;                                                                    \
        v2 = rotl(v2, 32);                                                                         \
    } while (0)

/* SipHash-2-4 of the 12-byte connection tuple: a keyed PRF, as RFC 6528 asks for F(). */
static uint64_t siphash_tuple(const uint8_t m[12], const uint64_t k[2])
{
    uint64_t v0 = k[0] ^ 0x736f6d6570736575ull, v1 = k[1] ^ 0x646f72616e646f6dull;
    uint64_t v2 = k[0] ^ 0x6c7967656e657261ull, v3 = k[1] ^ 0x7465646279746573ull;
    uint64_t w0 = 0, w1 = 12ull << 56; /* second word: bytes 8..11, then the length in the top */

    for (int i = 0; i < 8; i++)
        w0 |= (uint64_t)m[i] << (8 * i);
    for (int i = 0; i < 4; i++)
        w1 |= (uint64_t)m[8 + i] << (8 * i);
    v3 ^= w0;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= w0;
    v3 ^= w1;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= w1;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++)
        SIPROUND(v0, v1, v2, v3);
    return v0 ^ v1 ^ v2 ^ v3;
}

u32_t lm_tcp_isn(const ip_addr_t *local_ip, u16_t local_port, const ip_addr_t *remote_ip,
                 u16_t remote_port)
{
    uint8_t m[12];
    u32_t a;

    if (!isn_keyed) {
        isn_key[0] = (uint64_t)LWIP_RAND() << 32 | LWIP_RAND();
        isn_key[1] = (uint64_t)LWIP_RAND() << 32 | LWIP_RAND();
        isn_keyed = 1;
    }
    a = ip4_addr_get_u32(ip_2_ip4(local_ip));
    memcpy(m, &a, 4);
    a = ip4_addr_get_u32(ip_2_ip4(remote_ip));
    memcpy(m + 4, &a, 4);
    memcpy(m + 8, &local_port, 2);
    memcpy(m + 10, &remote_port, 2);
    /* ISN = M + F(tuple, key), M a clock ticking every 4 us (RFC 6528 section 3). */
    return (u32_t)(sys_now() * 250u) + (u32_t)siphash_tuple(m, isn_key);
}
