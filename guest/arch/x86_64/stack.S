/* The kernel's stack from entry on (every platform's entry.S sets RSP to boot_stack_top). */
    .section .bss
    .align 16
    .globl boot_stack_bottom
boot_stack_bottom:
    .skip 65536
    .globl boot_stack_top
boot_stack_top:

    .section .note.GNU-stack, "", @progbits
