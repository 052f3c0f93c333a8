/*
 * The narrow interface Evil Man starts VMs through. The built-in KVM monitor (kvm.c) is the
 * first implementation; libvirt and Xen backends will follow behind the same calls.
 */
#ifndef LM_BACKEND_H
#define LM_BACKEND_H

#include <stdint.h>

#include "laundromat/status.h"

struct vm_spec {
    const char *kernel;      /* ELF to boot (Evil Man: the loader) */
    int loader;              /* the kernel is the in-VM loader */
    uint64_t mem_mib;
    unsigned vcpus;
    const char *cmdline;
    int tap_fd;              /* the NIC: an open tap, already on the bridge */
    uint8_t ip[4], prefix, gateway[4], mac[6];
    uint8_t commitment[32];
    const uint8_t *loader_key; /* a checkpoint loader's X25519 secret (32 bytes), or NULL */
    int ctl_fd;              /* the agent's end stays with the agent; this one goes */
    const char *log_path;    /* console and monitor log */
};

struct vm_handle {
    int pid;
};

struct backend {
    const char *name;
    int (*create)(const struct vm_spec *spec, struct vm_handle *h, struct lm_diag *d);
    int (*signal)(struct vm_handle *h, int sig);
    int (*destroy)(struct vm_handle *h); /* forcibly; wait() reaps */
    /* 1 and *status when the VM has ended, 0 while it runs (non-blocking), -1 on error. */
    int (*wait)(struct vm_handle *h, int *status);
};

extern const struct backend backend_kvm;
/* The monitor binary the KVM backend runs (from the configuration). */
void backend_kvm_set_vmm(const char *path);

#endif
