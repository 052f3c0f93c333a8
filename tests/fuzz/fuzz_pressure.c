/* libFuzzer target: the parsers of the host's own load (host/pressure.c), each given the whole
 * input with its exact length: MemAvailable of /proc/meminfo, the 1-minute load average of
 * /proc/loadavg. An accepted figure is in range; a refusal leaves the output alone and says
 * why in one printable line (it goes to the log). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evilman.h"
#include "fixtures.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define UNTOUCHED 0xa5a5a5a5a5a5a5a5ull

static void check_refusal(int rc, const struct lm_diag *d, uint64_t out)
{
    if (rc != -LM_INVAL || out != UNTOUCHED || !fz_diag_terminated(d) || !d->msg[0])
        abort();
    for (const char *p = d->msg; *p; p++)
        if (*p < 0x20 || *p > 0x7e)
            abort();
}

/* Some line of text starts with MemAvailable: (what the parser must have found). */
static int has_key_line(const char *t, size_t n)
{
    static const char key[] = "MemAvailable:";
    for (size_t at = 0; at + sizeof key - 1 <= n; at++)
        if ((at == 0 || t[at - 1] == '\n') && memcmp(t + at, key, sizeof key - 1) == 0)
            return 1;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *text = (const char *)data; /* no NUL after it: ASan sees a read past its end */
    struct lm_diag d;
    uint64_t v = UNTOUCHED;
    memset(&d, 'x', sizeof d);
    int rc = pressure_parse_meminfo(text, size, &v, &d);
    if (rc == 0 && (v > (1ull << 50) || !has_key_line(text, size)))
        abort();
    if (rc != 0)
        check_refusal(rc, &d, v);

    v = UNTOUCHED;
    memset(&d, 'x', sizeof d);
    rc = pressure_parse_loadavg(text, size, &v, &d);
    if (rc == 0 && (v > 999999999ull || size == 0 || text[0] < '0' || text[0] > '9'))
        abort();
    if (rc != 0)
        check_refusal(rc, &d, v);
    return 0;
}
