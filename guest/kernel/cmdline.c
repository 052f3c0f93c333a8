/* Command line lookup: space-separated key=value words from boot info. */
#include <stdlib.h>
#include <string.h>

#include "kernel.h"

const char *cmdline_get(const char *key)
{
    static char value[256];
    size_t klen = strlen(key);
    const char *p = boot_info->cmdline;
    while (*p) {
        while (*p == ' ')
            p++;
        const char *end = p;
        while (*end && *end != ' ')
            end++;
        if ((size_t)(end - p) > klen && strncmp(p, key, klen) == 0 && p[klen] == '=') {
            size_t n = (size_t)(end - p) - klen - 1;
            if (n >= sizeof value)
                n = sizeof value - 1;
            memcpy(value, p + klen + 1, n);
            value[n] = '\0';
            return value;
        }
        p = end;
    }
    return NULL;
}

unsigned long cmdline_ulong(const char *key, unsigned long dflt)
{
    const char *v = cmdline_get(key);
    if (!v)
        return dflt;
    char *end;
    unsigned long x = strtoul(v, &end, 0);
    if (*end || end == v)
        lm_panic("command line: %s=%s is not a number", key, v);
    return x;
}
