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
9:  addq $2, (%rsp) /* resume after the UD2 */
    iretq

    .section .note.GNU-stack, "", @progbits
