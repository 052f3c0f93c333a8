/* Test guest that breaks the hypercall ABI in the way its command line names ("bad=..."). */
#include "tiny.h"

static int has(const char *cmdline, const char *word)
{
    for (const char *c = cmdline; *c; c++) {
        const char *a = c, *b = word;
        while (*b && *a == *b)
            a++, b++;
        if (!*b)
            return 1;
    }
    return 0;
}

void tiny_main(struct lm_boot_info *bi)
{
    const char *c = bi->cmdline;
    tiny_puts("abi guest: ");
    tiny_puts(c);
    tiny_puts("\n");
    if (has(c, "bad=console-pointer")) { /* data beyond the end of RAM */
        struct lm_hc_console a = {(const char *)(uintptr_t)(bi->mem_size - 4), 64};
        tiny_hc(LM_HC_CONSOLE, &a);
    } else if (has(c, "bad=console-length")) {
        struct lm_hc_console a = {"x", LM_CONSOLE_MAX + 1};
        tiny_hc(LM_HC_CONSOLE, &a);
    } else if (has(c, "bad=args-outside")) { /* the argument block itself outside RAM */
        tiny_hc(LM_HC_CONSOLE, (void *)(uintptr_t)0xfffffff0u);
    } else if (has(c, "bad=args-misaligned")) {
        static uint64_t buf[4];
        tiny_hc(LM_HC_CLOCK, (uint8_t *)buf + 3);
    } else if (has(c, "bad=unknown-call")) {
        static uint64_t buf[4];
        tiny_hc(17, buf);
    } else if (has(c, "bad=notice-what")) { /* a notice no host knows */
        struct lm_hc_notice a = {7, 0};
        tiny_hc(LM_HC_NOTICE, &a);
    } else if (has(c, "bad=notice-reserved")) {
        struct lm_hc_notice a = {LM_NOTICE_MIGRATING, 1};
        tiny_hc(LM_HC_NOTICE, &a);
    } else if (has(c, "notice-ok")) { /* both notices, no agent to tell: the VM goes on */
        struct lm_hc_notice a = {LM_NOTICE_MIGRATING, 0}, b = {LM_NOTICE_STAYED, 0};
        tiny_hc(LM_HC_NOTICE, &a);
        tiny_hc(LM_HC_NOTICE, &b);
        tiny_puts("notices taken\n");
    } else if (has(c, "bad=port")) { /* an OUT to a port that is no hypercall */
        __asm__ volatile("outb %%al, $0x80" : : "a"(0));
    } else if (has(c, "bad=in")) {
        uint32_t v;
        __asm__ volatile("inl %%dx, %%eax" : "=a"(v) : "d"(LM_HC_PORT_BASE + LM_HC_CLOCK));
        (void)v;
    } else if (has(c, "bad=net-no-nic")) { /* net setup on a VM without a NIC */
        static struct lm_hc_net_setup a;
        tiny_hc(LM_HC_NET_SETUP, &a);
    } else if (has(c, "bad=mmio")) { /* a load from beyond RAM: not RAM, not a device */
        volatile uint32_t *p = (volatile uint32_t *)(uintptr_t)(bi->mem_size + 0x1000);
        (void)*p;
    } else if (has(c, "bad=triple-fault")) { /* no IDT: the first exception is fatal */
        __asm__ volatile("ud2");
    } else if (has(c, "bad=halt")) {
        __asm__ volatile("cli; hlt");
    }
    tiny_exit(0);
}
