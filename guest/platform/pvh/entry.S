/*
 * Guest entries under PVH.
 * - From the firmware (QEMU's -kernel with this ELF, or libvirt's <kernel>): the 32-bit
 *   address in the Xen ELF note below, protected mode, paging off, EBX = the hvm_start_info.
 *   We map the first 4 GiB by 2 MiB pages (ring 3 may use them, as on our monitor), enter long
 *   mode, set up the ring-0 tables and fill the boot info from the start info (boot.c).
 * - From our in-VM loader (platform_exec): the ELF entry, _start, as on our monitor: 64-bit
 *   ring 0, identity paging, RDI = the boot info the loader wrote.
 * Either way we then drop to ring 3 for good and call kmain there: from here on the kernel
 * runs exactly as on our monitor.
 */

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define CR0_PE (1 << 0)
#define CR0_MP (1 << 1)
#define CR0_NE (1 << 5)
#define CR0_WP (1 << 16)
#define CR0_PG (1 << 31)
#define CR4_PAE (1 << 5)
#define MSR_EFER 0xc0000080
#define EFER_LME (1 << 8)
#define EFER_NXE (1 << 11)
#define PTE_PWU 7        /* present, writable, user */
#define PDE_LARGE 0x87   /* present, writable, user, 2 MiB */

    .section .note.Xen, "a"
    .p2align 2
    .long 4, 4, XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .long pvh_start32

    .section .text.entry, "ax"
    .code32
    .globl pvh_start32
pvh_start32:
    cli
    cld
    mov %ebx, %esi                  /* the start info, kept for boot.c */
    /* PML4[0] -> PDPT; PDPT[0..3] -> four page directories of 2 MiB pages: 0..4 GiB. */
    mov $pvh_pml4, %edi
    mov $pvh_pdpt + PTE_PWU, %eax
    mov %eax, (%edi)
    mov $pvh_pdpt, %edi
    mov $pvh_pd + PTE_PWU, %eax
    mov $4, %ecx
1:  mov %eax, (%edi)
    add $4096, %eax
    add $8, %edi
    loop 1b
    mov $pvh_pd, %edi
    mov $PDE_LARGE, %eax
    xor %edx, %edx                  /* high half of each entry: bits 32.. of the address */
    mov $2048, %ecx
2:  mov %eax, (%edi)
    mov %edx, 4(%edi)
    add $0x200000, %eax
    adc $0, %edx
    add $8, %edi
    loop 2b

    mov %cr4, %eax
    or $CR4_PAE, %eax
    mov %eax, %cr4
    mov $pvh_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $(EFER_LME | EFER_NXE), %eax
    wrmsr
    mov $(CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG), %eax
    mov %eax, %cr0
    lgdt pvh_gdtr
    ljmp $8, $pvh_start64

    .code64
pvh_start64:
    mov $16, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    lea boot_stack_top(%rip), %rsp
    mov %esi, %r12d                 /* the start info, below 4 GiB */
    call ring0_init                 /* our GDT, TSS and IDT replace the ones above */
    mov %r12, %rdi
    call pvh_boot                   /* the boot info, from the start info */
    jmp to_ring3

    .globl _start
_start:                             /* handed over by our loader: RDI = its boot info */
    cli
    lea boot_stack_top(%rip), %rsp
    mov %rdi, %r12
    call ring0_init
    mov %r12, %rdi
    call pvh_boot_loaded
to_ring3:                           /* RAX = the boot info */
    mov %rax, %rdi
    jmp enter_ring3

    .section .rodata
    .p2align 3
pvh_gdt:
    .quad 0
    .quad 0x00af9b000000ffff        /* 8: 64-bit code */
    .quad 0x00cf93000000ffff        /* 16: data */
pvh_gdt_end:
pvh_gdtr:
    .word pvh_gdt_end - pvh_gdt - 1
    .long pvh_gdt

    .section .bss
    .p2align 12
    .globl pvh_pml4                 /* a loader hands over on these tables (platform_exec) */
pvh_pml4:
    .skip 4096
pvh_pdpt:
    .skip 4096
pvh_pd:
    .skip 4 * 4096

    .section .note.GNU-stack, "", @progbits
