/*
 * The kernel's stack from entry on, and the one way from a platform's entry into ring 3:
 * every entry.S sets RSP to boot_stack_top, sets up ring 0, then jumps to enter_ring3 with
 * RDI = the boot info, which irets into kmain(boot info) in ring 3 on that same stack.
 */
#include "priv.h"

    .text
    .globl enter_ring3
enter_ring3:
    lea boot_stack_top(%rip), %rax
    pushq $SEL_UDATA
    pushq %rax
    pushq $0x3202 /* IF, and IOPL 3 (ring 3 does its port I/O; see the TSS bitmap too) */
    pushq $SEL_UCODE
    lea kmain(%rip), %rax
    pushq %rax
    xor %ebp, %ebp
    iretq

    .section .bss
    .align 16
    .globl boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .globl boot_stack_top
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
