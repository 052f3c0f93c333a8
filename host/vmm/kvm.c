/* KVM: the VM, its memory, one vCPU entering in 64-bit mode, and the run loop. */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include "laundromat/log.h"
#include "vmm.h"

#define CR0_PE (1ull << 0)
#define CR0_MP (1ull << 1)
#define CR0_ET (1ull << 4)
#define CR0_NE (1ull << 5)
#define CR0_WP (1ull << 16)
#define CR0_PG (1ull << 31)
#define CR4_PAE (1ull << 5)
#define EFER_LME (1ull << 8)
#define EFER_LMA (1ull << 10)
#define EFER_NXE (1ull << 11)
#define PTE_P 1ull
#define PTE_W 2ull
#define PTE_U 4ull /* the guest kernel runs its main path in ring 3: see docs/ABI.md */
#define PTE_PS 0x80ull

static int add_slot(struct vm *vm, uint32_t slot, uint64_t gpa, uint64_t size, void *host)
{
    struct kvm_userspace_memory_region region = {
        .slot = slot, .guest_phys_addr = gpa, .memory_size = size,
        .userspace_addr = (uint64_t)(uintptr_t)host,
    };
    if (ioctl(vm->vm_fd, KVM_SET_USER_MEMORY_REGION, &region) < 0) {
        lm_err("KVM_SET_USER_MEMORY_REGION slot %u: %s", slot, strerror(errno));
        return -1;
    }
    return 0;
}

static void *map_guest(uint64_t size)
{
    void *p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    if (p == MAP_FAILED) {
        lm_err("cannot map %llu MiB of guest memory: %s", (unsigned long long)(size >> 20),
               strerror(errno));
        return NULL;
    }
    return p;
}

int vm_create(struct vm *vm, uint64_t mem_size, uint64_t loader_size)
{
    vm->kvm_fd = open("/dev/kvm", O_RDWR | O_CLOEXEC);
    if (vm->kvm_fd < 0) {
        lm_err("cannot open /dev/kvm: %s; is KVM available and are you root or in group kvm?",
               strerror(errno));
        return -1;
    }
    int api = ioctl(vm->kvm_fd, KVM_GET_API_VERSION, 0);
    if (api != KVM_API_VERSION) {
        lm_err("KVM API version %d, this monitor needs %d", api, KVM_API_VERSION);
        return -1;
    }
    vm->vm_fd = ioctl(vm->kvm_fd, KVM_CREATE_VM, 0);
    if (vm->vm_fd < 0) {
        lm_err("KVM_CREATE_VM: %s", strerror(errno));
        return -1;
    }
    vm->mem_size = mem_size;
    if (!(vm->mem = map_guest(mem_size)) || add_slot(vm, 0, 0, mem_size, vm->mem) < 0)
        return -1;
    if (loader_size) {
        vm->loader_size = loader_size;
        if (!(vm->loader_mem = map_guest(loader_size)) ||
            add_slot(vm, 1, LM_LOADER_GPA, loader_size, vm->loader_mem) < 0)
            return -1;
    }
    vm->vcpu_fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, 0);
    if (vm->vcpu_fd < 0) {
        lm_err("KVM_CREATE_VCPU: %s", strerror(errno));
        return -1;
    }
    int run_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
    if (run_size < (int)sizeof(struct kvm_run)) {
        lm_err("KVM_GET_VCPU_MMAP_SIZE: %s", strerror(errno));
        return -1;
    }
    vm->run_size = (size_t)run_size;
    vm->run = mmap(NULL, vm->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vm->vcpu_fd, 0);
    if (vm->run == MAP_FAILED) {
        lm_err("mmap kvm_run: %s", strerror(errno));
        return -1;
    }
    int khz = ioctl(vm->vcpu_fd, KVM_GET_TSC_KHZ, 0);
    if (khz <= 0) {
        lm_err("KVM_GET_TSC_KHZ: %s; the guest clock needs a known TSC rate", strerror(errno));
        return -1;
    }
    vm->tsc_hz = (uint64_t)khz * 1000;
    return 0;
}

/* The guest sees the host CPU's features that KVM supports. */
static int setup_cpuid(struct vm *vm)
{
    int n = 128;
    struct kvm_cpuid2 *c = calloc(1, sizeof *c + (size_t)n * sizeof(struct kvm_cpuid_entry2));
    if (!c)
        return -1;
    c->nent = (uint32_t)n;
    int rc = ioctl(vm->kvm_fd, KVM_GET_SUPPORTED_CPUID, c);
    if (rc == 0)
        rc = ioctl(vm->vcpu_fd, KVM_SET_CPUID2, c);
    if (rc < 0)
        lm_err("CPUID setup: %s", strerror(errno));
    free(c);
    return rc;
}

/* GDT and identity-mapping page tables (2 MiB user-accessible pages over all RAM and the
 * loader block) in the low 64 KiB: PML4, PDPT, then one page directory per GiB. */
static int setup_tables(struct vm *vm)
{
    uint64_t *gdt = vm_gpa(vm, LM_GDT_GPA, 24);
    gdt[0] = 0;
    gdt[1] = 0x00af9b000000ffffull; /* 64-bit code, DPL 0 */
    gdt[2] = 0x00cf93000000ffffull; /* data, DPL 0 */

    uint64_t loader_end = vm->loader_mem ? LM_LOADER_GPA + vm->loader_size : 0;
    uint64_t top = vm->mem_size > loader_end ? vm->mem_size : loader_end;
    uint64_t gib = (top + (1ull << 30) - 1) >> 30;
    uint64_t *pml4 = vm_gpa(vm, LM_PML4_GPA, 4096);
    uint64_t *pdpt = vm_gpa(vm, LM_PML4_GPA + 0x1000, 4096);
    if (!pml4 || !pdpt || LM_PML4_GPA + 0x2000 + gib * 0x1000 > 0x10000) {
        lm_err("memory up to %llu MiB needs more page directories than the monitor's area holds",
               (unsigned long long)(top >> 20));
        return -1;
    }
    memset(pml4, 0, 4096);
    memset(pdpt, 0, 4096);
    pml4[0] = (LM_PML4_GPA + 0x1000) | PTE_P | PTE_W | PTE_U;
    for (uint64_t g = 0; g < gib; g++) {
        uint64_t pd_gpa = LM_PML4_GPA + 0x2000 + g * 0x1000;
        uint64_t *pd = vm_gpa(vm, pd_gpa, 4096);
        memset(pd, 0, 4096);
        pdpt[g] = pd_gpa | PTE_P | PTE_W | PTE_U;
        for (uint64_t i = 0; i < 512; i++) {
            uint64_t pa = (g << 30) + (i << 21);
            if (pa < vm->mem_size || (pa >= LM_LOADER_GPA && pa < loader_end))
                pd[i] = pa | PTE_P | PTE_W | PTE_U | PTE_PS;
        }
    }
    return 0;
}

/*
 * MTRRs enabled with write-back as the default type. KVM resets them to "disabled", which
 * makes all guest memory uncacheable where the MTRRs are honoured (nested here): code then
 * runs about a thousand times slower.
 */
static int setup_msrs(struct vm *vm)
{
    struct {
        struct kvm_msrs hdr;
        struct kvm_msr_entry e[1];
    } m = {.hdr = {.nmsrs = 1}, .e = {{.index = 0x2ff, .data = (1u << 11) | 6}}};
    if (ioctl(vm->vcpu_fd, KVM_SET_MSRS, &m) != 1) {
        lm_err("KVM_SET_MSRS (MTRRdefType): %s", strerror(errno));
        return -1;
    }
    return 0;
}

int vm_init_vcpu(struct vm *vm)
{
    return setup_cpuid(vm) < 0 || setup_msrs(vm) < 0 ? -1 : 0;
}

int vm_drop_loader(struct vm *vm)
{
    if (!vm->loader_mem)
        return 0;
    if (add_slot(vm, 1, LM_LOADER_GPA, 0, vm->loader_mem) < 0) /* size 0 deletes the slot */
        return -1;
    munmap(vm->loader_mem, vm->loader_size);
    vm->loader_mem = NULL;
    vm->loader_size = 0;
    return 0;
}

int vm_reset_vcpu(struct vm *vm, uint64_t entry)
{
    if (setup_tables(vm) < 0)
        return -1;
    struct kvm_sregs s;
    if (ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
        lm_err("KVM_GET_SREGS: %s", strerror(errno));
        return -1;
    }
    struct kvm_segment code = {
        .base = 0, .limit = 0xffffffff, .selector = LM_GDT_CODE, .type = 11, .present = 1,
        .dpl = 0, .db = 0, .s = 1, .l = 1, .g = 1,
    };
    struct kvm_segment data = code;
    data.selector = LM_GDT_DATA;
    data.type = 3;
    data.l = 0;
    data.db = 1;
    s.cs = code;
    s.ds = s.es = s.fs = s.gs = s.ss = data;
    s.gdt.base = LM_GDT_GPA;
    s.gdt.limit = 23;
    s.idt.base = 0;
    s.idt.limit = 0;
    s.cr0 = CR0_PE | CR0_MP | CR0_ET | CR0_NE | CR0_WP | CR0_PG;
    s.cr3 = LM_PML4_GPA;
    s.cr4 = CR4_PAE;
    s.efer = EFER_LME | EFER_LMA | EFER_NXE;
    if (ioctl(vm->vcpu_fd, KVM_SET_SREGS, &s) < 0) {
        lm_err("KVM_SET_SREGS: %s", strerror(errno));
        return -1;
    }
    struct kvm_regs r = {
        .rip = entry, .rdi = LM_BOOTINFO_GPA, .rsp = LM_STACK_TOP_GPA, .rflags = 0x2,
    };
    if (ioctl(vm->vcpu_fd, KVM_SET_REGS, &r) < 0) {
        lm_err("KVM_SET_REGS: %s", strerror(errno));
        return -1;
    }
    return 0;
}

void vm_dump_regs(struct vm *vm)
{
    struct kvm_regs r;
    struct kvm_sregs s;
    if (ioctl(vm->vcpu_fd, KVM_GET_REGS, &r) < 0 || ioctl(vm->vcpu_fd, KVM_GET_SREGS, &s) < 0) {
        lm_err("cannot read the vCPU's registers");
        return;
    }
    lm_err("  rip=%016llx rsp=%016llx rflags=%08llx cr2=%016llx cr3=%016llx",
           r.rip, r.rsp, r.rflags, s.cr2, s.cr3);
    lm_err("  rax=%016llx rbx=%016llx rcx=%016llx rdx=%016llx", r.rax, r.rbx, r.rcx, r.rdx);
    lm_err("  rsi=%016llx rdi=%016llx rbp=%016llx", r.rsi, r.rdi, r.rbp);
}

static void guest_fault(struct vm *vm, const char *what)
{
    lm_err("guest fault: %s", what);
    vm_dump_regs(vm);
    vm->exited = true;
    vm->exit_code = LM_EXIT_GUEST_FAULT;
}

void vm_request_stop(struct vm *vm)
{
    vm->stop = 1;
    vm->run->immediate_exit = 1;
}

/*
 * Finishes the OUT that caused the current exit without running the guest: KVM completes a
 * pending I/O instruction (moving RIP past it) on the next KVM_RUN, which immediate_exit
 * makes return at once. Needed before replacing the registers, or KVM would step the new RIP.
 */
int vm_complete_io(struct vm *vm)
{
    vm->run->immediate_exit = 1;
    int rc = ioctl(vm->vcpu_fd, KVM_RUN, 0);
    vm->run->immediate_exit = vm->stop;
    if (rc == 0 || errno != EINTR) {
        lm_err("completing the pending I/O: KVM_RUN returned %d (%s)", rc, strerror(errno));
        return -1;
    }
    return 0;
}

int vm_run(struct vm *vm)
{
    while (!vm->exited) {
        if (ioctl(vm->vcpu_fd, KVM_RUN, 0) < 0) {
            if (errno == EINTR || errno == EAGAIN) {
                if (vm->stop) {
                    lm_info("stopped by signal");
                    vm->exit_code = LM_EXIT_MONITOR;
                    vm->exited = true;
                }
                continue;
            }
            lm_err("KVM_RUN: %s", strerror(errno));
            return LM_EXIT_MONITOR;
        }
        struct kvm_run *run = vm->run;
        switch (run->exit_reason) {
        case KVM_EXIT_IO: {
            if (run->io.direction != KVM_EXIT_IO_OUT || run->io.size != 4 ||
                run->io.count != 1 || run->io.port < LM_HC_PORT_BASE ||
                run->io.port >= LM_HC_PORT_BASE + LM_HC_MAX) {
                vm_abi_violation(vm, "%s of %u bytes x%u at port 0x%x: not a hypercall",
                                 run->io.direction == KVM_EXIT_IO_OUT ? "OUT" : "IN",
                                 run->io.size, run->io.count, run->io.port);
                break;
            }
            uint32_t arg;
            memcpy(&arg, (uint8_t *)run + run->io.data_offset, 4);
            hc_dispatch(vm, run->io.port, arg);
            break;
        }
        case KVM_EXIT_HLT:
            guest_fault(vm, "HLT with interrupts off: the guest stopped for good");
            break;
        case KVM_EXIT_SHUTDOWN:
            guest_fault(vm, "triple fault (an exception the guest could not handle)");
            break;
        case KVM_EXIT_MMIO:
            lm_err("guest fault: access to guest-physical 0x%llx, outside RAM (%llu MiB)",
                   (unsigned long long)run->mmio.phys_addr,
                   (unsigned long long)(vm->mem_size >> 20));
            guest_fault(vm, "memory access outside RAM");
            break;
        case KVM_EXIT_FAIL_ENTRY:
            lm_err("KVM entry failed: hardware reason 0x%llx",
                   (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
            guest_fault(vm, "vCPU entry failed");
            break;
        case KVM_EXIT_INTERNAL_ERROR:
            lm_err("KVM internal error, suberror %u", run->internal.suberror);
            guest_fault(vm, "KVM internal error");
            break;
        default:
            lm_err("unexpected KVM exit reason %u", run->exit_reason);
            guest_fault(vm, "unexpected exit");
            break;
        }
    }
    return vm->exit_code;
}
