/* Hypercall wrappers: console, exit, poll, wall clock, notices to the host. */
#include "../../kernel/kernel.h"
#include "hypercall.h"

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
