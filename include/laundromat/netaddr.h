/* Network addresses as people write them, MAC and IPv4, parsed and formatted in lib/netaddr.c. */
#ifndef LAUNDROMAT_NETADDR_H
#define LAUNDROMAT_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Room for a MAC as text, "xx:xx:xx:xx:xx:xx" and its NUL. */
#define LM_MAC_STR 18

/*
 * The parsers take one form only and nothing around it, so that one address has one spelling
 * (what a token, a log line or a config file shows is what they read back). They return 0, or
 * -LM_INVAL leaving the outputs alone; what a refusal means to the user is the caller's to say.
 */

/* n bytes (1 to 6), each two hex digits of either case, joined by ':': "02:4c:4d" (n = 3),
 * "02:4c:4d:00:00:01" (n = 6). Unicast or not is the caller's rule (bit 0 of out[0]). */
int lm_mac_parse(const char *s, uint8_t *out, size_t n);

/* "A.B.C.D/PREFIX": a dotted address as inet_pton takes it (each part 0 to 255 in decimal, no
 * leading zeros), '/', and a prefix length from min_prefix to max_prefix (at most 32) in
 * decimal without sign, spaces or leading zeros. */
int lm_ip4_prefix_parse(const char *s, unsigned min_prefix, unsigned max_prefix, uint8_t ip[4],
                        uint8_t *prefix);
/* The formatters (lib/netfmt.c, also in the guest) write what the parsers read and return out:
 * a MAC as "xx:xx:xx:xx:xx:xx" (lower case), an address as "A.B.C.D", with its prefix as
 * "A.B.C.D/PREFIX". Each fits its LM_*_STR, NUL included. */
#define LM_IP4_STR 16        /* "255.255.255.255" */
#define LM_IP4_PREFIX_STR 20 /* "255.255.255.255/255" */
char *lm_mac_format(const uint8_t mac[6], char out[LM_MAC_STR]);
char *lm_ip4_format(const uint8_t ip[4], char out[LM_IP4_STR]);
char *lm_ip4_prefix_format(const uint8_t ip[4], uint8_t prefix, char out[LM_IP4_PREFIX_STR]);

/* The netmask of a prefix length (0 to 32) as its bytes lie in memory (network order), so that
 * it masks an address read from its 4 bytes with memcpy: lm_ip4_mask(24) masks 10.1.2.3 to
 * 10.1.2.0. */
uint32_t lm_ip4_mask(unsigned prefix);
/* Whether ip is a host of the subnet net/prefix: inside it, and neither its network address
 * (host bits all 0) nor its broadcast address (all 1). */
bool lm_ip4_is_host(const uint8_t ip[4], const uint8_t net[4], unsigned prefix);

#endif
