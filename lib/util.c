/* Time formatting shared by tools, host and broker (the clocks are in clock.c). */
#include <stdio.h>
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
