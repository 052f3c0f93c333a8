/*
 * The snapshot that returns twice, and the resume entry on a new host.
 *
 * arch_snapshot(jb, fn, arg, stack_top): saves the callee-saved registers, the stack pointer
 * and the return address in jb (struct arch_jmp, arch.h), switches to stack_top and calls
 * fn(arg) there, so that fn can copy memory while the caller's stack stays exactly as it was
 * at the snapshot; then returns 0. On the new host, arch_longjmp(jb) makes the same call
 * return 1.
 */
#include "priv.h"

    .text
    .globl arch_snapshot
arch_snapshot:
    mov (%rsp), %rax
    mov %rbx, 0(%rdi)
    mov %rbp, 8(%rdi)
    mov %r12, 16(%rdi)
    mov %r13, 24(%rdi)
    mov %r14, 32(%rdi)
    mov %r15, 40(%rdi)
    lea 8(%rsp), %r8
    mov %r8, 48(%rdi)
    mov %rax, 56(%rdi)
    mov %rsp, %r8
    mov %rcx, %rsp          /* 16-byte aligned: two pushes keep it so for the call */
    push %r8
    push %r8
    mov %rdx, %rdi
    call *%rsi
    pop %r8
    pop %rsp
    xor %eax, %eax
    ret

    .globl arch_longjmp
arch_longjmp:
    mov 0(%rdi), %rbx
    mov 8(%rdi), %rbp
    mov 16(%rdi), %r12
    mov 24(%rdi), %r13
    mov 32(%rdi), %r14
    mov 40(%rdi), %r15
    mov 48(%rdi), %rsp
    mov $1, %eax
    jmp *56(%rdi)

/*
 * The VM's first instruction on the new host (the loader hands over here): ring 0, the
 * monitor's page tables and GDT, RDI = the new boot info. Every instruction here is emulated
 * on PVM hosts, so it does only what must be privileged: our GDT (the TSS descriptor's busy
 * bit cleared, or LTR faults), segments, TSS, IDT, our page tables; then ring 3, kresume(bi).
 */
    .globl arch_resume_entry
arch_resume_entry:
    cli
    mov %rdi, %r12
    lea resume_stack_top(%rip), %rsp
    lgdt arch_gdtr(%rip)
    mov arch_gdtr+2(%rip), %rax
    andb $0xfd, SEL_TSS+5(%rax)
    mov $SEL_KDATA, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    xor %eax, %eax
    mov %ax, %fs
    mov %ax, %gs
    pushq $SEL_KCODE
    lea 1f(%rip), %rax
    pushq %rax
    lretq
1:  mov $SEL_TSS, %ax
    ltr %ax
    lidt arch_idtr(%rip)
    mov arch_cr3(%rip), %rax
    mov %rax, %cr3
    lea resume_stack_top(%rip), %rax
    pushq $SEL_UDATA
    pushq %rax
    pushq $0x3202 /* IF, IOPL 3, as _start */
    pushq $SEL_UCODE
    lea kresume(%rip), %rax
    pushq %rax
    mov %r12, %rdi
    xor %ebp, %ebp
    iretq

    .section .bss
    .align 16
    .globl resume_stack, resume_stack_top
resume_stack:
    .skip 16384
resume_stack_top:

    .section .note.GNU-stack, "", @progbits
