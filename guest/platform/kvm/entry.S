/*
 * Guest entry from lm-vmm: 64-bit ring 0, RDI = boot info. Set up our own stack and the
 * ring-0 tables, then drop to ring 3 for good and call kmain(boot_info) there.
 */

    .section .text.entry, "ax"
    .globl _start
_start:
    cli
    lea boot_stack_top(%rip), %rsp
    mov %rdi, %r12
    call ring0_init
    mov %r12, %rdi
    jmp enter_ring3

    .section .note.GNU-stack, "", @progbits
