/* Exception entry stubs: push a uniform frame and call exception_handler(frame). */
    .text
.macro ISR_NOERR n
    .globl isr\n
isr\n:
    pushq $0
    pushq $\n
    jmp isr_common
.endm
.macro ISR_ERR n
    .globl isr\n
isr\n:
    pushq $\n
    jmp isr_common
.endm

ISR_NOERR 0
ISR_NOERR 1
ISR_NOERR 2
ISR_NOERR 3
ISR_NOERR 4
ISR_NOERR 5
    .globl isr6
isr6:                       /* #UD: the privilege gate, or a real invalid opcode */
    push %rax
    lea priv_trampoline(%rip), %rax
    cmp %rax, 8(%rsp)
    pop %rax
    je priv_gate
    pushq $0
    pushq $6
    jmp isr_common
ISR_NOERR 7
ISR_ERR   8
ISR_NOERR 9
ISR_ERR   10
ISR_ERR   11
ISR_ERR   12
ISR_ERR   13
    .globl isr14
isr14:                      /* #PF: a copy-on-write fault of a migration, or a real fault */
    testb $1, arch_cow_active(%rip)
    jz 1f
    cmpq $7, (%rsp)         /* present, write, from ring 3: nothing else is ours */
    jne 1f
    push %rax               /* frame: rax, error, rip, cs, rflags, rsp, ss */
    mov 16(%rsp), %rax
    mov %rax, arch_cow_rip(%rip)
    mov %cr2, %rax
    mov %rax, arch_cow_addr(%rip)
    lea arch_cow_upcall(%rip), %rax
    mov %rax, 16(%rsp)      /* return to ring 3 in the upcall, which copies and retries */
    pop %rax
    add $8, %rsp
    iretq
1:  pushq $14
    jmp isr_common
ISR_NOERR 15
ISR_NOERR 16
ISR_ERR   17
ISR_NOERR 18
ISR_NOERR 19
ISR_NOERR 20
ISR_ERR   21
ISR_NOERR 22
ISR_NOERR 23
ISR_NOERR 24
ISR_NOERR 25
ISR_NOERR 26
ISR_NOERR 27
ISR_NOERR 28
ISR_ERR   29
ISR_ERR   30
ISR_NOERR 31

isr_common:
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    mov %rsp, %rdi
    and $-16, %rsp
    call exception_handler
1:  hlt
    jmp 1b

    .section .rodata
    .globl isr_table
    .align 8
isr_table:
    .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
    .quad isr\n
    .endr

    .section .note.GNU-stack, "", @progbits
