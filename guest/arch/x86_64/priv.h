/*
 * Ring transitions. The kernel runs its main path in ring 3: under PVM-style hosts only
 * ring 3 executes natively, and ring 0 is emulated one instruction at a time (about a
 * thousand times slower). Ring 0 keeps only what must be privileged: descriptor tables,
 * CR3 and TLB control, and exception entry. The way in is the one path such hosts deliver
 * to the guest's own IDT from ring 3, an exception: priv_trampoline executes UD2, and the
 * #UD handler recognises that one address, performs the operation and returns past it
 * with IRETQ. (SYSCALL and INT n are taken by the host.)
 */
#ifndef GUEST_PRIV_H
#define GUEST_PRIV_H

#ifndef __ASSEMBLER__
#include <stdint.h>
#endif

/* Selectors: the SYSCALL/SYSRET layout (STAR), the same values Linux uses. */
#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x2b /* 0x28 | RPL 3 */
#define SEL_UCODE 0x33 /* 0x30 | RPL 3 */
#define SEL_TSS 0x38

/* Privileged operations, the gate's op numbers (in RAX). */
#define PRIV_LOAD_CR3 1  /* arg: new CR3 */
#define PRIV_INVLPG 2    /* arg: virtual address */
#define PRIV_FLUSH_TLB 3 /* reload CR3 */
#define PRIV_RDMSR 4     /* arg: MSR; returns its value */
#define PRIV_WRMSR 5     /* arg: MSR, arg2: value */
/* Wait for an interrupt: unless one came since arch_irq_pending was last cleared, arm the
 * TSC-deadline timer at arg (0: no timer), enable interrupts and halt; disarm on waking. */
#define PRIV_HALT 6
/* Hand the VM over (a loader's last act): load CR3 = arg2, jump to arg with RDI = arg3,
 * interrupts off. Does not return. */
#define PRIV_EXEC 7
#define MSR_TSC_DEADLINE 0x6e0

#ifndef __ASSEMBLER__
static inline long priv_call(long op, uint64_t arg)
{
    long ret;
    __asm__ volatile("call priv_trampoline" : "=a"(ret) : "a"(op), "D"(arg) : "memory");
    return ret;
}

static inline long priv_call2(long op, uint64_t arg, uint64_t arg2)
{
    long ret;
    __asm__ volatile("call priv_trampoline" : "=a"(ret) : "a"(op), "D"(arg), "S"(arg2) : "memory");
    return ret;
}

static inline __attribute__((noreturn)) void priv_exec(uint64_t entry, uint64_t cr3, uint64_t rdi)
{
    __asm__ volatile("call priv_trampoline" : : "a"((long)PRIV_EXEC), "D"(entry), "S"(cr3), "d"(rdi)
                     : "memory");
    __builtin_unreachable();
}

/* Set by a platform's interrupt handler, cleared by whoever checks for work before PRIV_HALT. */
extern volatile uint8_t arch_irq_pending;
/* An interrupt gate (DPL 0) for vectors 32..255: the platform's device interrupts. */
void idt_set_irq(unsigned vector, void (*handler)(void));

/* Ring 0 set-up done once from _start: GDT and TSS, IDT with the gate. */
void ring0_init(void);

/* lgdt/lidt operands, kept for the resume path (resume.S), which reloads them with CR3. */
struct __attribute__((packed)) desc_ptr {
    uint16_t limit;
    uint64_t base;
};
extern struct desc_ptr arch_gdtr, arch_idtr;
extern uint64_t arch_cr3;
void arch_ring0_stacks(uint64_t range[4]); /* [lo, hi) of the RSP0 and IST1 stacks */
#endif

#endif
