/* Monotonic clock from the TSC scaled by the rate KVM reports: no exit per read. */
#include "kernel.h"

static uint64_t tsc0, mult; /* ns = base_ns + (tsc - tsc0) * mult >> 32 */
static uint64_t base_ns;    /* clock_ns() at tsc0: 0 at boot, carried over by a migration */
static uint64_t wall0_ns;   /* wall clock at clock_ns() == 0 */
static uint64_t last_ns;

void clock_init(void)
{
    uint64_t hz = boot_info->clock.tsc_hz;
    if (hz == 0)
        lm_panic("boot info gives no TSC rate");
    mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / hz);
    tsc0 = rdtsc();
    wall0_ns = boot_info->clock.wall_ns;
}

uint64_t clock_ns(void)
{
    uint64_t d = rdtsc() - tsc0;
    uint64_t ns = base_ns + (uint64_t)(((unsigned __int128)d * mult) >> 32);
    if (ns < last_ns) /* never backwards, whatever the TSC does */
        ns = last_ns;
    last_ns = ns;
    return ns;
}

/*
 * On a new host (another TSC, another rate): carry on from `ns`, the monotonic time the
 * caller computed (the snapshot's time plus the wall-clock time the move took), with the
 * new host's rate and wall clock. Never goes back: last_ns stays the floor.
 */
void clock_resume(uint64_t ns, uint64_t tsc_hz, uint64_t wall_ns)
{
    if (tsc_hz == 0)
        lm_panic("boot info gives no TSC rate");
    if (ns < last_ns)
        ns = last_ns;
    mult = (uint64_t)(((unsigned __int128)1000000000u << 32) / tsc_hz);
    tsc0 = rdtsc();
    base_ns = ns;
    wall0_ns = wall_ns - ns;
}

uint64_t clock_wall_ns(void)
{
    return wall0_ns + clock_ns();
}

/* lwIP's time base (NO_SYS=1). */
uint32_t sys_now(void);
uint32_t sys_now(void)
{
    return (uint32_t)(clock_ns() / 1000000u);
}
