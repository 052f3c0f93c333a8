/*
 * The kernel's own GDT (kernel and user segments in SYSCALL/SYSRET order, and a TSS whose
 * RSP0 stack takes exceptions and gate calls from ring 3 and whose IST1 stack takes double
 * faults).
 */
#include <stddef.h>
#include <string.h>

#include "../../kernel/kernel.h"
#include "priv.h"

#define IOMAP_PORTS 0x1000 /* ports 0..0xfff: the platforms' ports are all below */

struct __attribute__((packed)) tss64 {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
    /* I/O permission bitmap: ring 3 may use the platform's ports and no others. Needed
     * because IOPL does not survive exception round trips on hosts that run ring 3 natively
     * (the saved RFLAGS holds the hardware's IOPL 0). Ports past its end are refused. */
    uint8_t iomap[IOMAP_PORTS / 8 + 1];
};

/* Built with every port refused (.data), so that ring 0, where each instruction is emulated
 * on PVM hosts, only clears the platform's few ports: clearing the whole TSS and filling the
 * bitmap there took 0.9 ms of every boot. */
static struct tss64 tss = {.iomap = {[0 ... IOMAP_PORTS / 8] = 0xff}};
static uint8_t ring0_stack[16384] __attribute__((aligned(16)));
static uint8_t df_stack[16384] __attribute__((aligned(16)));
static uint64_t gdt[9] __attribute__((aligned(16)));
struct desc_ptr arch_gdtr, arch_idtr; /* what lgdt/lidt took, for the resume path */

void gdt_init(void)
{
    gdt[SEL_KCODE / 8] = 0x00af9b000000ffffull;       /* 64-bit code, DPL 0 */
    gdt[SEL_KDATA / 8] = 0x00cf93000000ffffull;       /* data, DPL 0 */
    gdt[(SEL_UDATA & ~3) / 8] = 0x00cff3000000ffffull; /* data, DPL 3 */
    gdt[(SEL_UCODE & ~3) / 8] = 0x00affb000000ffffull; /* 64-bit code, DPL 3 */
    tss.rsp[0] = (uint64_t)(uintptr_t)(ring0_stack + sizeof ring0_stack);
    tss.ist[0] = (uint64_t)(uintptr_t)(df_stack + sizeof df_stack);
    tss.iomap_base = offsetof(struct tss64, iomap);
    for (unsigned i = 0; platform_io_ports[i][1] != 0; i++)
        for (unsigned port = platform_io_ports[i][0];
             port <= platform_io_ports[i][1] && port < IOMAP_PORTS; port++)
            tss.iomap[port / 8] &= (uint8_t)~(1u << (port % 8));
    uint64_t base = (uint64_t)(uintptr_t)&tss, limit = sizeof tss - 1;
    gdt[SEL_TSS / 8] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
                       ((limit >> 16 & 0xf) << 48) | ((base >> 24 & 0xff) << 56);
    gdt[SEL_TSS / 8 + 1] = base >> 32;
    struct desc_ptr gdtr = {sizeof gdt - 1, (uint64_t)(uintptr_t)gdt};
    arch_gdtr = gdtr;
    __asm__ volatile("lgdt %0\n\t"
                     "mov %1, %%ax\n\t"
                     "mov %%ax, %%ds\n\t"
                     "mov %%ax, %%es\n\t"
                     "mov %%ax, %%ss\n\t"
                     "xor %%eax, %%eax\n\t"
                     "mov %%ax, %%fs\n\t"
                     "mov %%ax, %%gs\n\t"
                     "pushq %2\n\t"
                     "lea 1f(%%rip), %%rax\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "mov %3, %%ax\n\t"
                     "ltr %%ax"
                     :
                     : "m"(gdtr), "i"(SEL_KDATA), "i"(SEL_KCODE), "i"(SEL_TSS)
                     : "rax", "memory");
}

/* Memory that ring 0 writes on every exception: a migration never write-protects it. */
void arch_ring0_stacks(uint64_t range[4])
{
    range[0] = (uint64_t)(uintptr_t)ring0_stack;
    range[1] = range[0] + sizeof ring0_stack;
    range[2] = (uint64_t)(uintptr_t)df_stack;
    range[3] = range[2] + sizeof df_stack;
}

void ring0_init(void)
{
    gdt_init();
    idt_init();
}
