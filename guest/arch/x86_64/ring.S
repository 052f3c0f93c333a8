/*
 * The gate into ring 0 for privileged operations: ring 3 calls priv_trampoline, whose UD2
 * raises #UD; the #UD entry (isr6 in isr.S) sees the trampoline's address and jumps to
 * priv_gate, on the TSS RSP0 stack with the CPU's 5-word frame, no error code.
 */
#include "priv.h"

    .text
    .globl priv_trampoline
priv_trampoline:
    ud2
    ret

    .globl priv_gate
priv_gate:
    cmp $PRIV_LOAD_CR3, %rax
    je 1f
    cmp $PRIV_INVLPG, %rax
    je 2f
    cmp $PRIV_FLUSH_TLB, %rax
    je 3f
    cmp $PRIV_RDMSR, %rax
    je 4f
    cmp $PRIV_WRMSR, %rax
    je 5f
    cmp $PRIV_HALT, %rax
    je 6f
    cmp $PRIV_EXEC, %rax
    je 8f
    mov $-1, %rax
    jmp 9f
1:  mov %rdi, %cr3
    xor %eax, %eax
    jmp 9f
2:  invlpg (%rdi)
    xor %eax, %eax
    jmp 9f
3:  mov %cr3, %rax
    mov %rax, %cr3
    xor %eax, %eax
    jmp 9f
4:  push %rcx
    push %rdx
    mov %edi, %ecx
    rdmsr
    shl $32, %rdx
    or %rdx, %rax
    pop %rdx
    pop %rcx
    jmp 9f
5:  push %rcx
    push %rdx
    mov %edi, %ecx
    mov %esi, %eax
    mov %rsi, %rdx
    shr $32, %rdx
    wrmsr
    pop %rdx
    pop %rcx
    xor %eax, %eax
    jmp 9f
    /* Interrupts are off here (the #UD gate is an interrupt gate): checking the flag and then
     * STI; HLT (no interrupt between those two) cannot miss a wake-up. */
6:  xor %eax, %eax
    testb $1, arch_irq_pending(%rip)
    jnz 9f
    push %rcx
    push %rdx
    mov $MSR_TSC_DEADLINE, %ecx
    mov %edi, %eax
    mov %rdi, %rdx
    shr $32, %rdx
    test %rdi, %rdi
    jz 7f
    wrmsr
7:  sti
    hlt
    cli
    xor %eax, %eax
    xor %edx, %edx
    wrmsr                   /* disarm: a timer for a wait that is over would only wake us */
    pop %rdx
    pop %rcx
    jmp 9f
8:  mov %rsi, %cr3
    mov %rdi, %rax
    mov %rdx, %rdi
    xor %ebp, %ebp
    jmp *%rax
9:  addq $2, (%rsp) /* resume after the UD2 */
    iretq

    .data
    .globl arch_irq_pending
arch_irq_pending:
    .byte 0

    .section .note.GNU-stack, "", @progbits
