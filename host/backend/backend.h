/*
 * The boundary Evil Man drives VMs through. A backend creates a VM from a vm_spec and hands
 * back an opaque struct be_vm; Evil Man then tells it the guest's credit news, watches one
 * descriptor per VM and reads that VM's events from it (booted, a notice from the guest,
 * ended), and destroys it. How a VM runs (a process, a domain) and how its guest is spoken to
 * is the backend's own business: nothing outside host/backend/ knows. The built-in KVM
 * backend (kvm.c: one lm-vmm per VM and its control socket, vmmctl.h) is the first.
 */
#ifndef LM_BACKEND_H
#define LM_BACKEND_H

#include <stdbool.h>
#include <stdint.h>

#include "laundromat/status.h"

struct vm_spec {
    const char *kernel;      /* ELF to boot (Evil Man: the loader) */
    int loader;              /* the kernel is the in-VM loader */
    uint64_t mem_mib;
    unsigned vcpus;
    const char *cmdline;
    int tap_fd;              /* the NIC: an open tap, already on the bridge; create takes it
                              * (the backend closes it, at once or at release, failed or not) */
    const char *tap_name;    /* its name */
    uint8_t ip[4], prefix, gateway[4], mac[6];
    uint8_t commitment[32];
    const uint8_t *loader_key; /* a checkpoint loader's X25519 secret (32 bytes), or NULL */
    const char *log_path;    /* console and monitor log */
};

struct be_vm;

enum be_event_kind {
    BE_BOOTED = 1, /* the loader handed over to what it loaded */
    BE_NOTICE,     /* the guest said what it does: notice = LM_NOTICE_* */
    BE_ENDED,      /* the VM is gone: status as waitpid gives it (exit code or signal) */
};
struct be_event {
    enum be_event_kind kind;
    uint32_t notice;
    int status;
};

struct backend {
    const char *name;
    /* A running VM, or NULL with d saying why (nothing is left behind). */
    struct be_vm *(*create)(const struct vm_spec *spec, struct lm_diag *d);
    /* News for the guest, best effort: LM_EVENT_* bits with the credit state, or an eviction
     * that it must leave within within_ms. */
    void (*credit)(struct be_vm *b, uint32_t events, uint64_t credit_ms, uint64_t grace_ms);
    void (*evict)(struct be_vm *b, uint64_t within_ms);
    /* A warm loader (created with a zero commitment) gets its buyer: the token's commitment
     * and the address (network order) its payload may come from; 0, or -1 when its monitor
     * could not be told (the caller destroys it). NULL: no warm loaders. */
    int (*assign)(struct be_vm *b, const uint8_t commitment[32], uint32_t sender);
    /* Readable while next_event has something to say. */
    int (*event_fd)(const struct be_vm *b);
    /* The next event, in order (BE_ENDED is the last); false when there is none now. */
    bool (*next_event)(struct be_vm *b, struct be_event *ev);
    /* Forcibly, now; BE_ENDED follows. */
    void (*destroy)(struct be_vm *b);
    /* After BE_ENDED: frees what is left. */
    void (*release)(struct be_vm *b);
    /* For the operator: the process that runs the VM, or -1. */
    long (*pid)(const struct be_vm *b);
};

extern const struct backend backend_kvm;
/* The monitor binary the KVM backend runs (from the configuration). */
void backend_kvm_set_vmm(const char *path);

#ifdef LM_BACKEND_LIBVIRT
extern const struct backend backend_libvirt;
/* The connection (e.g. qemu:///system), and the embedded driver's root for qemu:///embed. */
void backend_libvirt_setup(const char *uri, const char *embed_root, const char *firmware);
#endif

#endif
