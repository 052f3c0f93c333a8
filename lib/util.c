/* Time formatting and durations shared by tools, host and broker (the clocks are in clock.c). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "laundromat/status.h"
#include "laundromat/util.h"

char *lm_fmt_time(uint64_t t, char out[32])
{
    struct tm tm;
    time_t tt = (time_t)t;
    if (t > (uint64_t)253402300799ull || !gmtime_r(&tt, &tm)) /* past 9999-12-31 */
        snprintf(out, 32, "@%llu", (unsigned long long)t);
    else
        strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

int lm_parse_duration_ms(const char *s, uint64_t max_ms, uint64_t *ms)
{
    if (*s < '0' || *s > '9') /* strtoull would take a sign or spaces */
        return -LM_INVAL;
    char *end;
    errno = 0;
    unsigned long long n = strtoull(s, &end, 10);
    uint64_t scale = !strcmp(end, "ms")             ? 1
                     : !strcmp(end, "s") || !*end ? 1000
                     : !strcmp(end, "m")            ? 60000
                                                    : 0;
    if (errno || !scale || n > max_ms / scale)
        return -LM_INVAL;
    *ms = n * scale;
    return 0;
}
