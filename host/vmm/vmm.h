/* Internal header of lm-vmm, the per-VM KVM monitor: what its files share. */
#ifndef LM_VMM_H
#define LM_VMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LM_ABI_HOST
#include "laundromat/abi.h"
#include "laundromat/elf.h"
#include "../tap.h"

struct vmm_net {
    int tap_fd;            /* -1: no NIC */
    uint8_t mac[6];
    bool ready;            /* the guest has set up its rings */
    struct lm_ring_hdr *rx, *tx; /* in guest memory, checked at setup */
    uint32_t rx_size, tx_size;   /* the host's own copies, fixed at setup */
    uint32_t rx_head, tx_tail;   /* the host's own indices: never read back from the guest */
    uint64_t tx_frames, rx_frames, rx_dropped, tx_errors;
    uint64_t kicks, polls; /* the guest's exits for its NIC: LM_HC_NET_KICK, LM_HC_POLL */
};

struct vm {
    int kvm_fd, vm_fd, vcpu_fd;
    uint8_t *mem;
    uint64_t mem_size;
    uint8_t *loader_mem;     /* the loader block at LM_LOADER_GPA, or NULL */
    uint64_t loader_size;
    struct lm_boot_net boot_net; /* what the NIC is: boot info after LM_HC_EXEC gets this */
    int ctl_fd;              /* the agent's control socket, or -1 */
    uint32_t events;         /* LM_EVENT_* bits not yet read by the guest */
    uint64_t credit_ms, grace_ms;
    uint32_t evict_ms; /* evicted: time left when the agent said so (0: not evicted) */
    bool warm;         /* a loader booted without a commitment: the agent may assign it once */
    bool assigned;
    uint8_t assign_commitment[32], assign_sender[4];
    struct kvm_run *run;
    size_t run_size;
    uint64_t tsc_hz;
    struct vmm_net net;
    bool exited;
    int exit_code;
    volatile int stop; /* set by a signal handler */
};

/* Returns a host pointer to guest-physical [gpa, gpa + len), or NULL unless every byte lies
 * in guest RAM or in the loader block. The only way host code reaches guest memory. */
static inline void *vm_gpa(struct vm *vm, uint64_t gpa, uint64_t len)
{
    if (gpa <= vm->mem_size && len <= vm->mem_size - gpa)
        return vm->mem + gpa;
    if (vm->loader_mem && gpa >= LM_LOADER_GPA) {
        uint64_t off = gpa - LM_LOADER_GPA;
        if (off <= vm->loader_size && len <= vm->loader_size - off)
            return vm->loader_mem + off;
    }
    return NULL;
}

/* kvm.c: VM, memory, vCPU in long mode, the run loop. */
int vm_create(struct vm *vm, uint64_t mem_size, uint64_t loader_size);
int vm_init_vcpu(struct vm *vm);                 /* CPUID and MSRs, once */
int vm_reset_vcpu(struct vm *vm, uint64_t entry); /* tables, registers: the entry state */
int vm_drop_loader(struct vm *vm);               /* remove the loader block */
int vm_run(struct vm *vm);            /* until the guest exits; returns the exit code */
void vm_dump_regs(struct vm *vm);     /* registers to the log, for faults */
void vm_request_stop(struct vm *vm);  /* async-signal-safe: makes vm_run return */
int vm_complete_io(struct vm *vm);    /* finish the exit's OUT without running the guest */

/* loader.c: the ELF kernel and the boot-info page. */
int vm_load_elf(struct vm *vm, const char *path, struct lm_elf_image *img);
void vm_write_bootinfo(struct vm *vm, const struct lm_elf_image *img, const char *cmdline,
                       const uint8_t commitment[32]);

/* ctl.c: the agent's control socket. */
void ctl_drain(struct vm *vm);                   /* read every waiting message */
void ctl_send_booted(struct vm *vm, uint64_t entry);
void ctl_send_notice(struct vm *vm, uint32_t what); /* the guest's LM_HC_NOTICE */

/* hypercall.c: dispatches one guest OUT to the hypercall ports. */
void hc_dispatch(struct vm *vm, uint16_t port, uint32_t arg_gpa);
/* Ends the VM for an ABI violation with a message naming it. */
void vm_abi_violation(struct vm *vm, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* net_tap.c: the tap device and the shared rings. */
int net_tap_offload(int fd); /* IFF_VNET_HDR checked, offloads on */
int net_setup(struct vm *vm, uint64_t rx_gpa, uint64_t tx_gpa);
void net_tx(struct vm *vm, uint32_t *sent);  /* drain the TX ring to the tap */
void net_rx(struct vm *vm, uint32_t *added); /* fill the RX ring from the tap */
bool net_rx_pending(struct vm *vm);          /* frames wait in the RX ring */

/* sandbox.c: seccomp after setup. */
int sandbox_enter(struct vm *vm);

#endif
