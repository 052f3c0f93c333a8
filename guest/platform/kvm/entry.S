/*
 * Guest entry from lm-vmm: 64-bit ring 0, RDI = boot info. Set up our own stack and the
 * ring-0 tables, then drop to ring 3 for good and call kmain(boot_info) there.
 */
#include "../../arch/x86_64/priv.h"

    .section .text.entry, "ax"
    .globl _start
_start:
    cli
    lea boot_stack_top(%rip), %rsp
    mov %rdi, %r12
    call ring0_init
    lea boot_stack_top(%rip), %rax
    pushq $SEL_UDATA
    pushq %rax
    pushq $0x3202 /* IF, and IOPL 3: ring 3 makes the hypercalls (port I/O) */
    pushq $SEL_UCODE
    lea kmain(%rip), %rax
    pushq %rax
    mov %r12, %rdi
    xor %ebp, %ebp
    iretq

    .section .note.GNU-stack, "", @progbits
