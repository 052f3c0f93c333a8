/* Device and timer interrupts: note that one came (the idle loop looks for work), EOI. */
#define MSR_X2APIC_EOI 0x80b

    .text
    .globl pvh_irq_entry
pvh_irq_entry:
    movb $1, arch_irq_pending(%rip)
    push %rax
    push %rcx
    push %rdx
    mov $MSR_X2APIC_EOI, %ecx
    xor %eax, %eax
    xor %edx, %edx
    wrmsr
    pop %rdx
    pop %rcx
    pop %rax
    iretq

    .globl pvh_chan_entry
pvh_chan_entry:                 /* the host channel's UART: also say which */
    movb $1, pvh_chan_irq(%rip)
    jmp pvh_irq_entry

    .globl pvh_spurious_entry
pvh_spurious_entry:             /* a spurious interrupt takes no EOI */
    iretq

    .section .note.GNU-stack, "", @progbits
