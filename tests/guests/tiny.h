/* Minimal freestanding helpers for the monitor's test guests: hypercalls and console only. */
#ifndef LM_TINY_H
#define LM_TINY_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/abi.h"

static inline void tiny_hc(unsigned call, void *args)
{
    __asm__ volatile("outl %0, %1"
                     :
                     : "a"((uint32_t)(uintptr_t)args), "Nd"((uint16_t)(LM_HC_PORT_BASE + call))
                     : "memory");
}

static inline size_t tiny_strlen(const char *s)
{
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

static inline void tiny_puts(const char *s)
{
    struct lm_hc_console a = {s, tiny_strlen(s)};
    tiny_hc(LM_HC_CONSOLE, &a);
}

static inline __attribute__((noreturn)) void tiny_exit(uint64_t status)
{
    struct lm_hc_exit a = {status};
    tiny_hc(LM_HC_EXIT, &a);
    for (;;)
        __asm__ volatile("hlt");
}

/* Each test guest defines tiny_main; the monitor enters _start with RDI = boot info. */
void tiny_main(struct lm_boot_info *bi);
__attribute__((section(".text.start"), used)) void _start(struct lm_boot_info *bi)
{
    tiny_main(bi);
    tiny_exit(0);
}

#endif
