/* Host events: what the host agent tells the guest about its credit. */
#include <stdio.h>

#include "kernel.h"

static struct host_state state;

void events_fetch(void)
{
    struct platform_events a;
    platform_events(&a);
    state.credit_ms = a.credit_ms;
    state.grace_ms = a.grace_ms;
    state.known = true;
    if (a.pending & PLATFORM_EVENT_CREDIT_LOW) {
        state.warnings++;
        printf("host: credit low, %llu ms left: pay soon\n", (unsigned long long)a.credit_ms);
    }
    if (a.pending & PLATFORM_EVENT_GRACE) {
        state.in_grace = true;
        printf("host: credit gone, %llu ms of grace before the VM is reclaimed\n",
               (unsigned long long)a.grace_ms);
    }
    if (a.pending & PLATFORM_EVENT_EVICT) {
        state.evict_deadline_ns = clock_ns() + (uint64_t)a.evict_ms * 1000000ull;
        printf("host: evicted: the host reclaims this VM in %u ms unless it leaves (its owner "
               "sees it in status)\n", a.evict_ms);
    }
    if (a.pending & PLATFORM_EVENT_ASSIGNED)
        state.assigned = true;
    if ((a.pending & PLATFORM_EVENT_CREDIT) && a.credit_ms > 0)
        state.in_grace = false;
    if (a.pending & (PLATFORM_EVENT_CREDIT_LOW | PLATFORM_EVENT_GRACE))
        payagent_urgent();
}

void events_moved(void)
{
    struct host_state fresh = {0}; /* the old host's word about credit and eviction */
    state = fresh;
}

const struct host_state *events_state(void)
{
    return &state;
}
