/* app=clock: checks the exit-free clock: monotonic, and in step with the host's wall clock. */
#include <stdio.h>

#include "../kernel/kernel.h"

static int clock_init_app(void)
{
    uint64_t reads = cmdline_ulong("reads", 1000000), backwards = 0, prev = clock_ns();
    uint64_t t0 = clock_ns(), w0 = platform_wall_ns();
    for (uint64_t i = 0; i < reads; i++) {
        uint64_t now = clock_ns();
        backwards += now < prev;
        prev = now;
    }
    uint64_t per_read = (clock_ns() - t0) / (reads ? reads : 1);
    /* Let some time pass in the poll hypercall, then compare both clocks' progress. */
    platform_poll(cmdline_ulong("sleep_ms", 200) * 1000000ull);
    uint64_t dt = clock_ns() - t0, dw = platform_wall_ns() - w0;
    int64_t skew = (int64_t)dt - (int64_t)dw;
    printf("clock: %llu reads, %llu backwards, guest %llu us vs host %llu us, skew %lld us, "
           "about %llu ns per read\n",
           (unsigned long long)reads, (unsigned long long)backwards,
           (unsigned long long)(dt / 1000), (unsigned long long)(dw / 1000),
           (long long)(skew / 1000), (unsigned long long)per_read);
    int ok = backwards == 0 && (skew < 0 ? -skew : skew) < 20000000; /* 20 ms */
    printf("clock: %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

const struct app app_clock = {"clock", false, clock_init_app, NULL};
