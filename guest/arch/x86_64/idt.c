/* IDT: the 32 CPU exceptions (report vector, error code, RIP and CR2, then exit non-zero), and
 * the vectors a platform routes its device interrupts to. */
#include <stdio.h>

#include "../../kernel/kernel.h"
#include "priv.h"

struct __attribute__((packed)) idt_entry {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
};

/* What isr_common pushes, lowest address first. */
struct frame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error, rip, cs, rflags, rsp, ss;
};

extern const uint64_t isr_table[32];
static struct idt_entry idt[256] __attribute__((aligned(16)));

static struct idt_entry gate(uint64_t off, uint8_t ist, uint8_t type)
{
    return (struct idt_entry){
        .off_lo = (uint16_t)off, .sel = SEL_KCODE, .ist = ist, .type = type,
        .off_mid = (uint16_t)(off >> 16), .off_hi = (uint32_t)(off >> 32),
    };
}

static const char *const names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range",
    "invalid opcode", "device not available", "double fault", "coprocessor overrun",
    "invalid TSS", "segment not present", "stack fault", "general protection",
    "page fault", "reserved", "x87 error", "alignment check", "machine check",
    "SIMD error", "virtualization", "control protection",
};

void idt_init(void)
{
    for (int i = 0; i < 32; i++) /* interrupt gates, DPL 0; IST1 for double faults */
        idt[i] = gate(isr_table[i], i == 8 ? 1 : 0, 0x8e);
    struct desc_ptr idtr = {sizeof idt - 1, (uint64_t)(uintptr_t)idt};
    arch_idtr = idtr;
    __asm__ volatile("lidt %0" : : "m"(idtr));
}

void idt_set_irq(unsigned vector, void (*handler)(void))
{
    if (vector < 32 || vector > 255)
        lm_panic("interrupt vector %u: devices use 32..255", vector);
    idt[vector] = gate((uint64_t)(uintptr_t)handler, 0, 0x8e);
}

/* Exit status of a guest killed by a CPU exception. */
#define EXIT_EXCEPTION 3

void exception_handler(struct frame *f);
void exception_handler(struct frame *f)
{
    uint64_t cr2;
    __asm__ volatile("mov %%cr2, %0" : "=r"(cr2));
    const char *name = f->vector < 32 && names[f->vector] ? names[f->vector] : "reserved";
    printf("EXCEPTION: vector %llu (%s), error code 0x%llx, RIP 0x%llx, CR2 0x%llx, RSP 0x%llx\n",
           (unsigned long long)f->vector, name, (unsigned long long)f->error,
           (unsigned long long)f->rip, (unsigned long long)cr2, (unsigned long long)f->rsp);
    if (f->vector == 14)
        printf("  page fault: %s access, %s, %s mode%s\n", f->error & 2 ? "write" : "read",
               f->error & 1 ? "protection violation" : "page not present",
               f->error & 4 ? "user" : "kernel", f->error & 16 ? ", instruction fetch" : "");
    printf("  cs=%llx ss=%llx rflags=%llx\n", (unsigned long long)f->cs, (unsigned long long)f->ss,
           (unsigned long long)f->rflags);
    printf("  rax=%llx rbx=%llx rcx=%llx rdx=%llx rsi=%llx rdi=%llx rbp=%llx\n",
           (unsigned long long)f->rax, (unsigned long long)f->rbx, (unsigned long long)f->rcx,
           (unsigned long long)f->rdx, (unsigned long long)f->rsi, (unsigned long long)f->rdi,
           (unsigned long long)f->rbp);
    platform_exit(EXIT_EXCEPTION);
}
