/* MAC and IPv4 addresses as text: the formatters, with nothing but snprintf, so that the guest
 * and the loader compile them too (the parsers, in netaddr.c, use the host's inet_pton). */
#include <stdio.h>

#include "laundromat/netaddr.h"

char *lm_mac_format(const uint8_t mac[6], char out[LM_MAC_STR])
{
    snprintf(out, LM_MAC_STR, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3],
             mac[4], mac[5]);
    return out;
}

char *lm_ip4_format(const uint8_t ip[4], char out[LM_IP4_STR])
{
    snprintf(out, LM_IP4_STR, "%u.%u.%u.%u", ip[0], ip[1], ip[2], ip[3]);
    return out;
}

char *lm_ip4_prefix_format(const uint8_t ip[4], uint8_t prefix, char out[LM_IP4_PREFIX_STR])
{
    snprintf(out, LM_IP4_PREFIX_STR, "%u.%u.%u.%u/%u", ip[0], ip[1], ip[2], ip[3], prefix);
    return out;
}
