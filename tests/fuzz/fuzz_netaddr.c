/* libFuzzer target: the address parsers of lib/netaddr.c (a token's "ip" and "mac" from the
 * broker's buyers, lmctl's and lm-vmm's options, Evil Man's config). The input is the text. An
 * accepted address is the one spelling of its value (formatting it gives the input back); a
 * refusal leaves the outputs alone; lm_ip4_is_host agrees with plain arithmetic. */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/netaddr.h"
#include "laundromat/status.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_mac(const char *s, size_t len)
{
    for (size_t n = 1; n <= 6; n++) {
        uint8_t m[6];
        memset(m, 0xa5, sizeof m);
        int rc = lm_mac_parse(s, m, n);
        if (rc != 0) {
            if (rc != -LM_INVAL)
                abort();
            for (size_t i = 0; i < 6; i++)
                if (m[i] != 0xa5)
                    abort();
            continue;
        }
        if (len != 3 * n - 1)
            abort();
        char text[LM_MAC_STR];
        uint8_t full[6] = {0};
        memcpy(full, m, n);
        lm_mac_format(full, text);
        for (size_t i = 0; i < len; i++)
            if (tolower((unsigned char)s[i]) != text[i])
                abort();
    }
}

static void check_ip4(const char *s)
{
    uint8_t ip[4] = {0xa5, 0xa5, 0xa5, 0xa5}, p = 0xa5;
    int rc = lm_ip4_prefix_parse(s, 0, 32, ip, &p);
    uint8_t ip2[4], p2;
    int narrow = lm_ip4_prefix_parse(s, 8, 30, ip2, &p2);
    if (rc != 0) {
        if (rc != -LM_INVAL || narrow == 0 || memcmp(ip, "\xa5\xa5\xa5\xa5", 4) || p != 0xa5)
            abort();
        return;
    }
    if (p > 32 || (narrow == 0) != (p >= 8 && p <= 30))
        abort();
    /* One spelling: the formatters write back exactly what was parsed. */
    char text[LM_IP4_PREFIX_STR], addr[LM_IP4_STR];
    if (lm_ip4_prefix_format(ip, p, text) != text || strcmp(text, s) != 0 ||
        strncmp(lm_ip4_format(ip, addr), s, strlen(addr)) != 0 || s[strlen(addr)] != '/')
        abort();
    /* The address as a host of its own subnet: host bits neither all 0 nor all 1. */
    uint32_t a;
    memcpy(&a, ip, 4);
    uint64_t hostmask = (1ull << (32 - p)) - 1, host = ntohl(a) & hostmask;
    if (lm_ip4_is_host(ip, ip, p) != (host != 0 && host != hostmask))
        abort();
    if ((ntohl(lm_ip4_mask(p)) ^ 0xffffffffu) != (uint32_t)hostmask)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The parsers take C strings: the input up to its first NUL, copied so ASan sees its end. */
    char *s = malloc(size + 1);
    if (!s)
        return 0;
    memcpy(s, data, size);
    s[size] = '\0';
    size_t len = strlen(s);
    check_mac(s, len);
    check_ip4(s);
    free(s);
    return 0;
}
