/* Internal header of the guest kernel: what its parts share. */
#ifndef GUEST_KERNEL_H
#define GUEST_KERNEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laundromat/boot.h"

#define PAGE_SIZE 4096ull
#define PAGE_ROUND_UP(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))

extern struct lm_boot_info *boot_info; /* a copy owned by the kernel (see main.c) */

/* Linker symbols (guest.ld). */
extern char _kernel_start[], _text_end[], _rodata_end[], _kernel_end[];

#include "../platform/platform.h"

/* arch: descriptor tables, exceptions, paging (arch/x86_64/). */
void gdt_init(void);
void idt_init(void);
int paging_init(void); /* 4 KiB page tables over all RAM, W^X, page 0 unmapped */
uint64_t *paging_pte(uint64_t va); /* the leaf PTE mapping va, or NULL */
uint64_t *paging_pt(uint64_t va);  /* the page table (512 PTEs) of va's 2 MiB, or NULL */
size_t paging_tables(uint64_t *out, size_t max); /* addresses of every table page; the count */
void paging_flush(uint64_t va);
int paging_map_io(uint64_t pa, uint64_t len); /* device memory, uncached; not over RAM */
void paging_flush_all(void);
#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2) /* everything is user-accessible: the kernel runs in ring 3 */
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_A (1ull << 5)
#define PTE_D (1ull << 6)
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

/* mm.c: physical pages. */
void mm_init(void);
void *page_alloc(size_t npages);   /* contiguous, zeroed; NULL when out of memory */
void page_free(void *p, size_t npages);
size_t mm_free_pages(void);
size_t mm_total_pages(void);

/* heap.c: malloc and friends (declared in stdlib.h). */
void heap_init(void);

/* Big-endian (network order) fields of frames. */
static inline uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static inline void put_be16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static inline uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline void put_be32(uint8_t *p, uint32_t v)
{
    put_be16(p, (uint16_t)(v >> 16));
    put_be16(p + 2, (uint16_t)v);
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

/* clock.c: monotonic time from the TSC, no exit per read. */
void clock_init(void);
uint64_t clock_ns(void);          /* since boot; never goes backwards */
uint64_t clock_wall_ns(void);     /* Unix ns */
void clock_resume(uint64_t ns, uint64_t tsc_hz, uint64_t wall_ns); /* after a migration */

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
    uint64_t evict_deadline_ns; /* evicted: leave before this (clock_ns); 0 when not */
    bool assigned; /* a warm loader's buyer is known (platform_assignment) */
};
void events_fetch(void); /* after platform_poll reports PLATFORM_READY_EVENT */
const struct host_state *events_state(void);
void events_moved(void); /* on a new host: what the old one said no longer holds */

/* payagent.c: the guest pays its own host (pay_seed= ... on the command line). */
void payagent_init(void);
void payagent_poll(void);
void payagent_urgent(void);
uint64_t payagent_due_ms(void);
uint16_t payagent_port(void); /* the UDP port it pays its host on; 0 when not paying */
/* On a new host (a migration's child): pay the new token from its own chain, to the agent
 * at `host` (the new host's gateway); len 0 stops paying. */
void payagent_rebind(const uint8_t token[16], const uint8_t seed[32], uint32_t len,
                     const uint8_t host[4]);

/* cmdline.c: "key=value key2=value2". */
const char *cmdline_get(const char *key); /* value (into a static buffer), or NULL */
unsigned long cmdline_ulong(const char *key, unsigned long dflt);

/* net/: the NIC driver and lwIP glue. */
bool net_init(void);      /* false when boot info gives no network */
void net_poll(void);      /* move frames in, run lwIP timers, kick TX */
/* Until lwIP's next timer (1000 ms at most), or quiet_ms when the network is quiet (net.c). */
uint32_t net_timeout_ms(uint32_t quiet_ms);
bool net_tx_pending(void);
/* Hands the host what the TX ring holds, without taking anything in (safe inside lwIP's
 * callbacks, unlike net_poll). */
void net_flush_tx(void);
/* After a migration: rings reset and handed to the new host, our address announced. */
void net_resume(bool new_identity);
/* A frame filter (the migration firewall): false drops the frame, in or out. */
struct netif;
typedef bool (*net_filter_fn)(const uint8_t *frame, size_t len, bool out);
void net_set_filter(net_filter_fn f);
struct netif *net_netif(void);

/*
 * Self-migration (mig/). mig_init after the network, when the command line names an owner;
 * mig_poll from the event loop (true: did work); while mig_workload_stopped() the loop runs
 * only the network and the migration (the final phase). kernel_yield() lets a long
 * computation keep the network and a migration going.
 */
void mig_init(void);
bool mig_poll(void);
bool mig_workload_stopped(void);
uint64_t mig_timeout_ms(void);
void kernel_yield(void);
/* Entered in ring 3 on a new host (arch resume path), with the new boot info. */
extern void (*kernel_resume_hook)(struct lm_boot_info *bi);

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
extern const struct app app_http, app_echo, app_compute, app_sink, app_source, app_clock,
    app_dirty;
/* The build's workloads, NULL-terminated, the first the default (apps/apps.c for the
 * kernel, bootloader/apps.c for the loader), and their names for messages. */
extern const struct app *const apps[];
extern const char app_names[];

#endif
