/* The VM address pool: IPv4 addresses from the configured range; each MAC follows its IP. */
#include <arpa/inet.h>
#include <string.h>

#include "evilman.h"

#define POOL_MAX 65536

static uint8_t used[POOL_MAX / 8];
static unsigned in_use;

static unsigned pool_size(const struct em_config *c)
{
    unsigned n = ntohl(ip4_u32(c->pool_hi)) - ntohl(ip4_u32(c->pool_lo)) + 1;
    return n > POOL_MAX ? POOL_MAX : n;
}

static void mac_for(const struct em_config *c, const uint8_t ip[4], uint8_t mac[6])
{
    memcpy(mac, c->mac_prefix, 3);
    memcpy(mac + 3, ip + 1, 3);
}

/* Takes `want` if given (the token carries an address), else the first free address. */
int pool_take(const struct em_config *c, const uint8_t want[4], uint8_t ip[4], uint8_t mac[6])
{
    uint32_t lo = ntohl(ip4_u32(c->pool_lo));
    unsigned n = pool_size(c), i;
    if (want && ip4_u32(want)) {
        uint32_t w = ntohl(ip4_u32(want));
        if (w < lo || w - lo >= n || (used[(w - lo) / 8] >> ((w - lo) % 8) & 1))
            return -1;
        i = w - lo;
    } else {
        for (i = 0; i < n && (used[i / 8] >> (i % 8) & 1); i++)
            ;
        if (i == n)
            return -1;
    }
    used[i / 8] |= (uint8_t)(1u << (i % 8));
    in_use++;
    uint32_t a = htonl(lo + i);
    memcpy(ip, &a, 4);
    mac_for(c, ip, mac);
    return 0;
}

int pool_claim(const struct em_config *c, const uint8_t ip[4])
{
    uint32_t lo = ntohl(ip4_u32(c->pool_lo)), a = ntohl(ip4_u32(ip));
    if (a < lo || a - lo >= pool_size(c))
        return 0; /* not the pool's to hand out: the VM table alone accounts it */
    unsigned i = a - lo;
    if (used[i / 8] >> (i % 8) & 1)
        return -1;
    used[i / 8] |= (uint8_t)(1u << (i % 8));
    in_use++;
    return 0;
}

bool pool_in_subnet(const struct em_config *c, const uint8_t ip[4])
{
    uint32_t mask = c->prefix ? htonl(~0u << (32 - c->prefix)) : 0;
    return (ip4_u32(ip) & mask) == (ip4_u32(c->bridge_ip) & mask) &&
           ip4_u32(ip) != ip4_u32(c->bridge_ip) && (ip4_u32(ip) & ~mask) != 0 &&
           (ip4_u32(ip) | mask) != 0xffffffffu;
}

void pool_release(const struct em_config *c, const uint8_t ip[4])
{
    uint32_t lo = ntohl(ip4_u32(c->pool_lo)), a = ntohl(ip4_u32(ip));
    if (a < lo || a - lo >= pool_size(c))
        return;
    unsigned i = a - lo;
    if (used[i / 8] >> (i % 8) & 1) {
        used[i / 8] &= (uint8_t)~(1u << (i % 8));
        in_use--;
    }
}

unsigned pool_in_use(void)
{
    return in_use;
}
