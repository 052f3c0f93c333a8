/* The VM address pool: IPv4 addresses from the configured range; each MAC follows its IP. */
#include <arpa/inet.h>
#include <string.h>

#include "evilman.h"
#include "laundromat/netaddr.h"

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

/* Index of ip in the pool, or -1 when it is outside the pool's range. */
static long index_of(const struct em_config *c, const uint8_t ip[4])
{
    uint32_t lo = ntohl(ip4_u32(c->pool_lo)), a = ntohl(ip4_u32(ip));
    return a < lo || a - lo >= pool_size(c) ? -1 : (long)(a - lo);
}

static bool is_used(unsigned i)
{
    return used[i / 8] >> (i % 8) & 1;
}

static void mark_used(unsigned i)
{
    used[i / 8] |= (uint8_t)(1u << (i % 8));
    in_use++;
}

/* Takes `want` if given (the token carries an address), else the first free address. */
int pool_take(const struct em_config *c, const uint8_t want[4], uint8_t ip[4], uint8_t mac[6])
{
    unsigned n = pool_size(c), i;
    if (want && ip4_u32(want)) {
        long w = index_of(c, want);
        if (w < 0 || is_used((unsigned)w))
            return -1;
        i = (unsigned)w;
    } else {
        for (i = 0; i < n && is_used(i); i++)
            ;
        if (i == n)
            return -1;
    }
    mark_used(i);
    uint32_t a = htonl(ntohl(ip4_u32(c->pool_lo)) + i);
    memcpy(ip, &a, 4);
    mac_for(c, ip, mac);
    return 0;
}

int pool_claim(const struct em_config *c, const uint8_t ip[4])
{
    long i = index_of(c, ip);
    if (i < 0)
        return 0; /* not the pool's to hand out: the VM table alone accounts it */
    if (is_used((unsigned)i))
        return -1;
    mark_used((unsigned)i);
    return 0;
}

bool pool_in_subnet(const struct em_config *c, const uint8_t ip[4])
{
    return lm_ip4_is_host(ip, c->bridge_ip, c->prefix) && ip4_u32(ip) != ip4_u32(c->bridge_ip);
}

void pool_release(const struct em_config *c, const uint8_t ip[4])
{
    long i = index_of(c, ip);
    if (i >= 0 && is_used((unsigned)i)) {
        used[i / 8] &= (uint8_t)~(1u << (i % 8));
        in_use--;
    }
}

unsigned pool_in_use(void)
{
    return in_use;
}
