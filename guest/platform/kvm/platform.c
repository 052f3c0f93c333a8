/* Hypercall wrappers: console, exit, poll, wall clock, host events, notices, exec, assignment. */
#include <string.h>

#include "laundromat/migrate.h"

#include "../../kernel/kernel.h"
#include "hypercall.h"

_Static_assert(PLATFORM_READY_NET == LM_POLL_NET_RX && PLATFORM_READY_EVENT == LM_POLL_EVENT,
               "poll bits pass through");
_Static_assert(PLATFORM_EVENT_CREDIT_LOW == LM_EVENT_CREDIT_LOW &&
                   PLATFORM_EVENT_GRACE == LM_EVENT_GRACE &&
                   PLATFORM_EVENT_CREDIT == LM_EVENT_CREDIT && PLATFORM_EVENT_EVICT == LM_EVENT_EVICT &&
                   PLATFORM_EVENT_ASSIGNED == LM_EVENT_ASSIGNED,
               "event bits pass through");

const uint32_t platform_mig_id = LM_MIG_PLATFORM_MONITOR;

/* Ring 3 makes the hypercalls, one OUT each: their ports and no others. */
const uint16_t platform_io_ports[][2] = {
    {LM_HC_PORT_BASE, LM_HC_PORT_BASE + LM_HC_MAX - 1},
    {0, 0},
};

void lm_console_write(const char *s, unsigned long n)
{
    while (n > 0) {
        unsigned long chunk = n > LM_CONSOLE_MAX ? LM_CONSOLE_MAX : n;
        struct lm_hc_console a = {s, chunk};
        hypercall(LM_HC_CONSOLE, &a);
        s += chunk;
        n -= chunk;
    }
}

void platform_exit(int status)
{
    struct lm_hc_exit a = {(uint64_t)status};
    for (;;)
        hypercall(LM_HC_EXIT, &a);
}

uint32_t platform_poll(uint64_t timeout_ns)
{
    struct lm_hc_poll a = {.timeout_ns = timeout_ns};
    hypercall(LM_HC_POLL, &a);
    return a.ready;
}

void platform_notice(uint32_t what)
{
    struct lm_hc_notice a = {what, 0};
    hypercall(LM_HC_NOTICE, &a);
}

uint64_t platform_wall_ns(void)
{
    struct lm_hc_clock a = {0};
    hypercall(LM_HC_CLOCK, &a);
    return a.wall_ns;
}

void platform_events(struct platform_events *ev)
{
    struct lm_hc_events a = {0};
    hypercall(LM_HC_EVENTS, &a);
    *ev = (struct platform_events){a.pending, a.evict_ms, a.credit_ms, a.grace_ms};
}

bool platform_assignment(uint8_t commitment[32], uint8_t sender[4])
{
    struct lm_hc_assign a = {0};
    hypercall(LM_HC_ASSIGN, &a);
    if (!a.assigned)
        return false;
    memcpy(commitment, a.commitment, 32);
    memcpy(sender, a.sender, 4);
    return true;
}

void platform_resume(void)
{
    /* Nothing kept: the new monitor's events start afresh (events_moved drops the old word). */
}

void platform_exec(uint64_t entry)
{
    struct lm_hc_exec a = {entry};
    hypercall(LM_HC_EXEC, &a);
    lm_panic("the monitor refused the hand-over to 0x%llx", (unsigned long long)entry);
}
