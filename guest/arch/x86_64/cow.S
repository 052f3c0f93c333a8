/*
 * The ring-3 half of a copy-on-write fault. isr14 (isr.S) saw a write to a write-protected
 * page while arch_cow_active is set, stored the faulting RIP and address, and returned here
 * instead: the ring-0 part stays a dozen emulated instructions. Here, on the interrupted
 * stack (never write-protected), with every register and the flags kept: call
 * arch_cow_fault(addr), which copies the page and makes it writable again, then retry the
 * faulting instruction.
 */
    .data
    .globl arch_cow_active, arch_cow_rip, arch_cow_addr
    .align 8
arch_cow_rip:    .quad 0
arch_cow_addr:   .quad 0
arch_cow_active: .byte 0

    .text
    .globl arch_cow_upcall
arch_cow_upcall:
    sub $8, %rsp            /* the return slot: the faulting instruction */
    push %rax
    mov arch_cow_rip(%rip), %rax
    mov %rax, 8(%rsp)
    pop %rax
    pushfq
    push %rax
    push %rcx
    push %rdx
    push %rsi
    push %rdi
    push %r8
    push %r9
    push %r10
    push %r11
    push %rbx
    mov %rsp, %rbx
    and $-16, %rsp
    mov arch_cow_addr(%rip), %rdi
    call arch_cow_fault
    mov %rbx, %rsp
    pop %rbx
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rdi
    pop %rsi
    pop %rdx
    pop %rcx
    pop %rax
    popfq
    ret

    .section .note.GNU-stack, "", @progbits
