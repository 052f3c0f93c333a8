/* MAC and IPv4 addresses as text, and IPv4 subnets: one parser each for host, broker and tools. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/netaddr.h"
#include "laundromat/status.h"
#include "laundromat/util.h"

int lm_mac_parse(const char *s, uint8_t *out, size_t n)
{
    uint8_t b[6];
    if (n < 1 || n > sizeof b)
        return -LM_INVAL;
    for (size_t i = 0; i < n; i++, s += 3) {
        /* Two digits, then ':' or, after the last, the end (nothing read past a NUL). */
        const char pair[3] = {s[0], s[0] ? s[1] : '\0', '\0'};
        if (lm_hex_decode(pair, &b[i], 1) != 0 || s[2] != (i + 1 < n ? ':' : '\0'))
            return -LM_INVAL;
    }
    memcpy(out, b, n);
    return 0;
}

int lm_ip4_prefix_parse(const char *s, unsigned min_prefix, unsigned max_prefix, uint8_t ip[4],
                        uint8_t *prefix)
{
    char addr[16]; /* "255.255.255.255" and its NUL */
    uint8_t a[4];
    const char *slash = strchr(s, '/'), *p = slash ? slash + 1 : NULL;
    if (!slash || (size_t)(slash - s) >= sizeof addr)
        return -LM_INVAL;
    memcpy(addr, s, (size_t)(slash - s));
    addr[slash - s] = '\0';
    if (inet_pton(AF_INET, addr, a) != 1)
        return -LM_INVAL;
    /* One or two digits, the first not 0 unless it stands alone. */
    if (p[0] < '0' || p[0] > '9' || (p[0] == '0' && p[1] != '\0'))
        return -LM_INVAL;
    unsigned v = (unsigned)(p[0] - '0');
    if (p[1] >= '0' && p[1] <= '9')
        v = v * 10 + (unsigned)(p[1] - '0');
    if (p[v >= 10 ? 2 : 1] != '\0' || v < min_prefix || v > max_prefix || v > 32)
        return -LM_INVAL;
    memcpy(ip, a, 4);
    *prefix = (uint8_t)v;
    return 0;
}

uint32_t lm_ip4_mask(unsigned prefix)
{
    return prefix == 0 ? 0 : htonl(prefix >= 32 ? 0xffffffffu : 0xffffffffu << (32 - prefix));
}

bool lm_ip4_is_host(const uint8_t ip[4], const uint8_t net[4], unsigned prefix)
{
    uint32_t a, s, mask = lm_ip4_mask(prefix);
    memcpy(&a, ip, 4);
    memcpy(&s, net, 4);
    return (a & mask) == (s & mask) && (a & ~mask) != 0 && (a | mask) != 0xffffffffu;
}
