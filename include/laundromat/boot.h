/*
 * What a guest kernel and the host mean the same way on every platform (our monitor's
 * hypercalls in abi.h, PVH under QEMU with hostchan.h): the boot description a platform fills
 * and a loader writes for what it loads, the host's events, the guest's notices and the exit
 * statuses a host reads. Guest code outside guest/platform/ includes this, never abi.h.
 */
#ifndef LAUNDROMAT_BOOT_H
#define LAUNDROMAT_BOOT_H

#include <stddef.h>
#include <stdint.h>

#define LM_ABI_VERSION 2

/*
 * Guest-physical memory map at entry. RAM starts at 0 and is mem_size bytes; the monitor
 * owns the low 1 MiB (boot info, GDT, initial page tables, initial stack) and loads the
 * kernel's ELF segments at their physical addresses, which must lie in [1 MiB, mem_size).
 */
#define LM_BOOTINFO_GPA 0x1000ull
#define LM_GDT_GPA 0x3000ull
#define LM_PML4_GPA 0x4000ull /* then the PDPT and page directories, to 0xffff */
#define LM_STACK_TOP_GPA 0x90000ull
#define LM_KERNEL_MIN_GPA 0x100000ull
#define LM_GDT_CODE 0x08 /* selectors of the monitor's GDT */

/*
 * A loader VM has a second block of memory above RAM for the in-VM loader, so that what it
 * loads into RAM never overlaps it. RAM is then at most LM_LOADER_GPA bytes (1792 MiB; the
 * block stays below 2 GiB, where the guest's small code model can address it). The loader
 * hands over with LM_HC_EXEC, after which the block is gone.
 */
#define LM_LOADER_GPA 0x70000000ull
#define LM_LOADER_SIZE (48ull << 20) /* loader image, its heap, the staged payload */
#define LM_GDT_DATA 0x10

/*
 * Entry: 64-bit ring 0, paging on with RAM identity-mapped by 2 MiB pages that ring 3 may
 * use too (U/S set), interrupts off, RIP = ELF entry, RDI = LM_BOOTINFO_GPA,
 * RSP = LM_STACK_TOP_GPA. No FPU/SSE state is promised: guests build with
 * -mgeneral-regs-only. Guest pointers in hypercalls are guest-physical addresses (a guest
 * that identity-maps, as ours does, passes its pointers unchanged).
 */
#define LM_BOOTINFO_MAGIC 0x49424d4cu /* "LMBI" */
#define LM_CMDLINE_MAX 1024

struct lm_boot_net {
    uint8_t mac[6];
    uint8_t prefix; /* IPv4 prefix length; 0: no network */
    uint8_t reserved;
    uint8_t ip[4], gateway[4];
    uint32_t mtu;
};

struct lm_boot_clock {
    uint64_t tsc_hz;       /* guest TSC frequency, from KVM */
    uint64_t wall_ns;      /* wall clock (Unix ns) when the monitor built this page */
};

/* A migrated guest's figures of its own move, as the loader counted them and as the source
 * reported them in its GO record: the child has no other way to know what happened after its
 * snapshot. */
struct lm_boot_resume {
    uint64_t bytes;                         /* stream bytes received, framing included */
    uint64_t data_pages, zero_pages;        /* pages received with contents, named zero */
    uint64_t final_pages;                   /* of those, after the snapshot */
    uint64_t fw_in, fw_out;                 /* frames the source's firewall dropped */
    uint64_t cow_faults, cow_ticks;         /* the source's copy-on-write faults, TSC ticks */
};

struct lm_boot_info {
    uint32_t magic;
    uint32_t abi_version;
    uint64_t mem_size;     /* bytes of RAM at guest-physical 0 */
    uint64_t kernel_start; /* lowest and one past the highest byte of the loaded image */
    uint64_t kernel_end;
    char cmdline[LM_CMDLINE_MAX];
    struct lm_boot_net net;
    struct lm_boot_clock clock;
    uint8_t commitment[32]; /* payload commitment copied from the boot token (or zero) */
    uint64_t loader_base;   /* the loader block (0 when none): only a loader sees one */
    uint64_t loader_size;
    uint8_t loader_key[32]; /* a loader's X25519 secret for checkpoint streams (or zero) */
    struct lm_boot_resume resume; /* after a migration: what the loader received (or zero) */
    uint64_t resume_flags;        /* after a migration: LM_RESUME_* (or zero) */
    uint64_t boot_flags;          /* LM_BOOT_*: what the platform promises about this VM */
};
/* RAM from LM_KERNEL_MIN_GPA to mem_size holds only zero bytes (a loader VM's fresh RAM, which
 * the loader has not written): a loader need not clear an image's bss there, and must not
 * write zeros it would pay a first-touch fault for each page of. */
#define LM_BOOT_RAM_ZERO 1ull
/* The resumed guest takes this boot info's address and MAC as its own (a checkpoint restored
 * with a new identity); without it, it keeps the ones it had. */
#define LM_RESUME_NEW_IDENTITY 1ull
_Static_assert(sizeof(struct lm_boot_info) <= 4096, "boot info fits its page");
/* The layout is ABI (docs/ABI.md has the same table): pin every offset. */
_Static_assert(offsetof(struct lm_boot_info, mem_size) == 8, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, kernel_start) == 16, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, cmdline) == 32, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, net) == 1056, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, clock) == 1080, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, commitment) == 1096, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, loader_base) == 1128, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, loader_key) == 1144, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, resume) == 1176 && sizeof(struct lm_boot_resume) == 64,
               "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, resume_flags) == 1240, "boot info layout");
_Static_assert(offsetof(struct lm_boot_info, boot_flags) == 1248, "boot info layout");
_Static_assert(sizeof(struct lm_boot_net) == 20 && offsetof(struct lm_boot_net, ip) == 8,
               "boot net layout");

/* Host events (credit), as bits of a pending word cleared by reading. */
#define LM_EVENT_CREDIT_LOW 1u /* pay soon */
#define LM_EVENT_GRACE 2u      /* credit is gone: pay or migrate within grace_ms */
#define LM_EVENT_CREDIT 4u     /* credit changed (a payment arrived) */
#define LM_EVENT_EVICT 8u      /* the host wants the VM gone: leave (migrate) within evict_ms */
#define LM_EVENT_ASSIGNED 16u  /* a warm loader was given its buyer: fetch the assignment */

/* What the guest is doing, for its host's accounting and listing. */
#define LM_NOTICE_MIGRATING 1u /* it started copying itself to another host */
#define LM_NOTICE_STAYED 2u    /* that migration failed: it runs here as before */

/* Guest exit statuses with a meaning for the host: a migration's source after GO. */
#define LM_EXIT_MIGRATED 120 /* GO acknowledged: the VM lives on elsewhere */
/* GO unacknowledged, but the new copy announced our address (gratuitous ARP): it runs. */
#define LM_EXIT_MIGRATED_UNCONFIRMED 121

#endif
