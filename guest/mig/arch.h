/* What the migration engine takes from the x86-64 layer (arch/x86_64/snapshot.S, cow.S). */
#ifndef GUEST_MIG_ARCH_H
#define GUEST_MIG_ARCH_H

#include <stdint.h>

struct arch_jmp {
    uint64_t rbx, rbp, r12, r13, r14, r15, rsp, rip;
};

/* Returns 0 after fn(arg) ran on stack_top; 1 when arch_longjmp(jb) resumes it. */
int arch_snapshot(struct arch_jmp *jb, void (*fn)(void *), void *arg, void *stack_top);
__attribute__((noreturn)) void arch_longjmp(struct arch_jmp *jb);
void arch_resume_entry(void); /* the loader hands the new VM over here */

extern volatile uint8_t arch_cow_active; /* isr14 diverts write faults to the upcall */
extern uint64_t arch_cow_rip, arch_cow_addr;
void arch_cow_fault(uint64_t addr);     /* the migration's copy-on-write (cow.c) */
void arch_ring0_stacks(uint64_t range[4]);
extern char boot_stack_bottom[], boot_stack_top[], resume_stack[], resume_stack_top[];

#endif
