/* Internal header of the guest kernel: what its parts share. */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laundromat/abi.h"

#define PAGE_SIZE 4096ull
#define PAGE_ROUND_UP(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

extern struct lm_boot_info *boot_info; /* a copy owned by the kernel (see main.c) */

/* Linker symbols (guest.ld). */
extern char _kernel_start[], _text_end[], _rodata_end[], _kernel_end[];

/* platform: hypercall wrappers (platform/kvm/platform.c). */
void lm_console_write(const char *s, unsigned long n);
__attribute__((noreturn)) void platform_exit(int status);
uint32_t platform_poll(uint64_t timeout_ns);
uint64_t platform_wall_ns(void);

/* arch: descriptor tables, exceptions, paging (arch/x86_64/). */
void gdt_init(void);
void idt_init(void);
int paging_init(void); /* 4 KiB page tables over all RAM, W^X, page 0 unmapped */
uint64_t *paging_pte(uint64_t va); /* the leaf PTE mapping va, or NULL */
void paging_flush(uint64_t va);

/* mm.c: physical pages. */
void mm_init(void);
void *page_alloc(size_t npages);   /* contiguous, zeroed; NULL when out of memory */
void page_free(void *p, size_t npages);
size_t mm_free_pages(void);
size_t mm_total_pages(void);

/* heap.c: malloc and friends (declared in stdlib.h). */
void heap_init(void);

/* clock.c: monotonic time from the TSC, no exit per read. */
void clock_init(void);
uint64_t clock_ns(void);          /* since boot; never goes backwards */
uint64_t clock_wall_ns(void);     /* Unix ns */

/* panic.c */
__attribute__((noreturn, format(printf, 1, 2))) void lm_panic(const char *fmt, ...);
uint32_t lm_random(void);
void random_init(void);
void lm_entropy(void *buf, unsigned long len); /* random.c: for libsodium's randombytes */

/* events.c: what the host agent says about credit. */
struct host_state {
    bool known, in_grace;
    uint64_t credit_ms, grace_ms;
    unsigned warnings;
};
void events_fetch(void); /* after the poll hypercall reports LM_POLL_EVENT */
const struct host_state *events_state(void);

/* payagent.c: the guest pays its own host (pay_seed= ... on the command line). */
void payagent_init(void);
void payagent_poll(void);
void payagent_urgent(void);
uint64_t payagent_due_ms(void);

/* cmdline.c: "key=value key2=value2". */
const char *cmdline_get(const char *key); /* value (into a static buffer), or NULL */
unsigned long cmdline_ulong(const char *key, unsigned long dflt);

/* net/: the NIC driver and lwIP glue. */
bool net_init(void);      /* false when boot info gives no network */
void net_poll(void);      /* move frames in, run lwIP timers, kick TX */
uint32_t net_timeout_ms(void); /* until lwIP's next timer */
bool net_tx_pending(void);

/*
 * Workloads (apps/). init runs once: a server sets up its listeners and returns 0, then the
 * event loop runs (calling poll, if any, every iteration); any other app does its whole job
 * in init, whose return value becomes the VM's exit status.
 */
struct app {
    const char *name;
    bool server;
    int (*init)(void);  /* 0, or an exit status */
    bool (*poll)(void); /* true: did work, call again soon */
};
extern const struct app app_http, app_echo, app_compute, app_sink, app_source, app_clock;
/* The build's workloads, NULL-terminated, the first the default (apps/apps.c for the
 * kernel, bootloader/apps.c for the loader), and their names for messages. */
extern const struct app *const apps[];
extern const char app_names[];

#endif
