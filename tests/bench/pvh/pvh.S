/* Minimal PVH guest for the QEMU peer benchmark: prints one line on COM1 and exits QEMU. */

/* PVH boot: QEMU finds the 32-bit entry in this ELF note (XEN_ELFNOTE_PHYS32_ENTRY = 18) and
 * enters it in flat 32-bit protected mode, paging off, with %ebx = start_info. */
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define COM1 0x3f8
#define DEBUG_EXIT 0xf4 /* -device isa-debug-exit,iobase=0xf4: QEMU exits (v << 1) | 1 */
#define EXIT_VALUE 0x21 /* QEMU's exit status: 0x43 = 67 */

    .section .note.Xen, "a"
    .p2align 2
    .long 4                        /* namesz: "Xen\0" */
    .long 4                        /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .p2align 2
    .long _start

    .section .text.start, "ax"
    .code32
    .globl _start
_start:
    cli
    mov $msg, %esi
    mov $COM1, %dx
1:  lodsb
    test %al, %al
    jz 2f
    out %al, %dx                   /* QEMU's UART takes a byte at once: no LSR polling needed */
    jmp 1b
2:
#ifdef PVH_IDLE
    /* Idle peer: stay halted with interrupts off, so the vCPU sleeps until QEMU is killed. */
3:  hlt
    jmp 3b
#else
    mov $EXIT_VALUE, %eax
    out %eax, $DEBUG_EXIT
    /* Not reached under QEMU with isa-debug-exit; elsewhere, halt for good. */
3:  hlt
    jmp 3b
#endif

    .section .rodata
msg:
    .asciz "hello from the pvh guest\n"
