/* The monotonic and wall clocks shared by host, broker and tools. */
#include <time.h>

#include "laundromat/clock.h"

static uint64_t read_ns(clockid_t id)
{
    struct timespec ts;
    clock_gettime(id, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t lm_now_ns(void)
{
    return read_ns(CLOCK_MONOTONIC);
}

uint64_t lm_wall_ns(void)
{
    return read_ns(CLOCK_REALTIME);
}

uint64_t lm_now(void)
{
    return lm_wall_ns() / 1000000000ull;
}
