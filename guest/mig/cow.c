/*
 * The final phase: the workload stops, the firewall goes up, and the snapshot is taken. At
 * the snapshot (on the region's own stack, so the caller's stack stays as it was) the
 * page-table pages are copied whole, then every page dirtied since the last round is copied
 * to a shadow page while shadows last, and write-protected beyond that; a write to a
 * protected page first copies it (arch_cow_fault). So what goes out is exactly the memory of
 * the snapshot, although the sender keeps running (its stack, lwIP, these buffers). Shadows
 * are a ring: once a shadow's page is sent its slot can take a later fault's copy. Pages
 * ring 0 writes on every exception, and the stacks, are always copied, never protected: their
 * faults would nest. Copying is ~1 us a page here; a fault is an exit through emulated ring 0
 * on PVM hosts: so shadows first, faults only for what does not fit.
 */
#include <stdio.h>
#include <string.h>

#include "mig.h"

static bool cow_overflow;
static bool ctx_sent;
static uint64_t prot_cursor, prot_count;

/* Shadows form a ring: a slot is free again once its page is sent (stream_send has copied it
 * by then), so faults can take as many shadows as the sender frees, not only the reserve. */
static bool shadow_room(const struct mig_region *r)
{
    return r->nshadow - r->shadow_sent < r->shadow_cap;
}

static void shadow(struct mig_region *r, uint64_t pfn)
{
    size_t k = r->nshadow++ % r->shadow_cap;
    memcpy(r->shadow + k * PAGE_SIZE, (const void *)(uintptr_t)(pfn * PAGE_SIZE), PAGE_SIZE);
    r->shadow_pfn[k] = pfn;
}

static void shadow_range(struct mig_region *r, uint64_t lo, uint64_t hi)
{
    for (uint64_t pfn = lo / PAGE_SIZE; pfn < (hi + PAGE_SIZE - 1) / PAGE_SIZE && pfn < mig.npages; pfn++)
        if (BIT_TEST(r->dirty, pfn)) {
            BIT_CLEAR(r->dirty, pfn);
            shadow(r, pfn);
        }
}

/* At the snapshot, on the region's stack: writes only the region and page tables (copied
 * first). Everything else stays as it was at the snapshot until copied or protected. */
static void snap(void *arg)
{
    (void)arg;
    struct mig_region *r = mig.r;
    size_t bm = (mig.npages + 63) / 64;
    r->nshadow = r->shadow_sent = 0;
    for (size_t i = 0; i < r->ntables; i++)
        shadow(r, r->tables[i] / PAGE_SIZE);
    /* The final set: dirty since the last round. prot still marks the tables, left out. */
    memset(r->dirty, 0, bm * 8);
    for (uint64_t base = 0; base < mig.npages; base += 512) {
        uint64_t *pt = paging_pt(base * PAGE_SIZE);
        for (uint64_t i = 0; pt && i < 512 && base + i < mig.npages; i++)
            if ((pt[i] & PTE_D) && !in_region(base + i) && !BIT_TEST(r->prot, base + i)) {
                BIT_SET(r->dirty, base + i);
                pt[i] &= ~PTE_D;
            }
    }
    memset(r->prot, 0, bm * 8);
    /* Always copied: the stacks and what ring 0 writes. */
    uint64_t ring0[4];
    arch_ring0_stacks(ring0);
    shadow_range(r, ring0[0], ring0[1]);
    shadow_range(r, ring0[2], ring0[3]);
    shadow_range(r, (uint64_t)(uintptr_t)boot_stack_bottom, (uint64_t)(uintptr_t)boot_stack_top);
    shadow_range(r, (uint64_t)(uintptr_t)resume_stack, (uint64_t)(uintptr_t)resume_stack_top);
    shadow_range(r, (uint64_t)(uintptr_t)&arch_cow_rip, (uint64_t)(uintptr_t)&arch_cow_active + 1);
    /* The rest: copied while shadows last (a reserve kept for faults), then protected. The
     * kernel's own data first (lwIP's heap and pools, the drivers', ours): the sender keeps
     * writing it, so a page of it protected would fault soon; the workload's pages, stopped,
     * would not. */
    prot_count = 0;
    uint64_t data_lo = (uint64_t)(uintptr_t)_rodata_end / PAGE_SIZE;
    uint64_t data_hi = (uint64_t)(uintptr_t)_kernel_end / PAGE_SIZE;
    for (uint64_t pfn = data_lo; pfn < data_hi && pfn < mig.npages; pfn++)
        if (BIT_TEST(r->dirty, pfn) && r->nshadow + r->cow_reserve < r->shadow_cap) {
            BIT_CLEAR(r->dirty, pfn);
            shadow(r, pfn);
        }
    for (uint64_t pfn = 0; pfn < mig.npages; pfn++) {
        if (!BIT_TEST(r->dirty, pfn))
            continue;
        if (r->nshadow + r->cow_reserve < r->shadow_cap) {
            shadow(r, pfn);
        } else {
            uint64_t *pte = paging_pte(pfn * PAGE_SIZE);
            if (!pte)
                continue;
            *pte &= ~PTE_W;
            BIT_SET(r->prot, pfn);
            prot_count++;
        }
    }
    paging_flush_all();
    if (prot_count)
        arch_cow_active = 1;
}

/* A write to a page protected at the snapshot (isr14 -> cow.S upcall). Touches only the
 * region and the page tables: anything else might itself be protected. */
void arch_cow_fault(uint64_t addr)
{
    uint64_t t0 = rdtsc();
    struct mig_region *r = mig.r;
    uint64_t pfn = addr / PAGE_SIZE;
    uint64_t *pte = paging_pte(addr);
    if (r && pte && pfn < mig.npages && BIT_TEST(r->prot, pfn)) {
        if (shadow_room(r))
            shadow(r, pfn);
        else
            cow_overflow = true; /* every slot holds an unsent page: the migration must fail */
        BIT_CLEAR(r->prot, pfn);
        *pte |= PTE_W;
        paging_flush(addr);
        r->cow_faults++;
        r->cow_fault_ns += rdtsc() - t0; /* TSC ticks; converted when reported */
        return;
    }
    if (pte && (*pte & PTE_W)) { /* made writable since: a stale TLB entry */
        paging_flush(addr);
        return;
    }
    arch_cow_active = 0;
    printf("EXCEPTION: write to read-only address 0x%llx (page fault, RIP 0x%llx)\n", (unsigned long long)addr, (unsigned long long)arch_cow_rip);
    platform_exit(3);
}

void final_begin(void)
{
    struct mig_region *r = mig.r;
    firewall_up();
    mig.stop_ns = clock_ns();
    mig.stop_wall_ns = clock_wall_ns();
    mig.phase = MIG_FINAL;
    mig.cur.rounds = mig.round + 1; /* pre-copy rounds done; the child knows it from here */
    cow_overflow = false;
    ctx_sent = false;
    r->cow_faults = r->cow_fault_ns = 0;
    if (arch_snapshot(&mig.jb, snap, NULL, r->snap_stack_top)) {
        commit_child(); /* the second return: on the new host */
        return;
    }
    prot_cursor = 0;
    mig.cur.final_pages = r->nshadow + prot_count;
    mig.round_pages = mig.cur.final_pages;
    mig.round_sent = 0;
}

/* Restores what the snapshot protected: the guest carries on here. */
void final_undo(void)
{
    struct mig_region *r = mig.r;
    arch_cow_active = 0;
    if (!r)
        return;
    for (uint64_t pfn = 0; pfn < mig.npages; pfn++)
        if (BIT_TEST(r->prot, pfn)) {
            uint64_t *pte = paging_pte(pfn * PAGE_SIZE);
            if (pte)
                *pte |= PTE_W;
            BIT_CLEAR(r->prot, pfn);
        }
    paging_flush_all();
}

/* Next protected page at or after pfn, or npages. */
static uint64_t next_prot(uint64_t pfn)
{
    while (pfn < mig.npages && !BIT_TEST(mig.r->prot, pfn))
        pfn++;
    return pfn;
}

static void send_page(uint64_t pfn, const void *data)
{
    if (pfn == 0 || page_is_zero_mem(data)) {
        stream_send(LM_MIG_ZERO, 1, pfn, NULL, 0, false);
        mig.cur.zero_pages++;
    } else {
        stream_send_pages(1, pfn, data);
        mig.cur.data_pages++;
    }
    mig.round_sent++;
}

bool final_step(void)
{
    struct mig_region *r = mig.r;
    bool work = false;
    if (cow_overflow) {
        mig_fail(LM_NOMEM, "copy-on-write: all %zu shadows unsent (%llu faults, %zu sent)", r->shadow_cap, (unsigned long long)r->cow_faults, r->shadow_sent);
        return true;
    }
    for (int i = 0; i < 64 && mig.phase == MIG_FINAL && stream_room(LM_MIG_REC_MAX); i++) {
        work = true;
        if (!ctx_sent) {
            struct lm_mig_context c = {
                .mem_size = boot_info->mem_size, .kernel_start = boot_info->kernel_start,
                .kernel_end = boot_info->kernel_end,
                .resume_entry = (uint64_t)(uintptr_t)arch_resume_entry,
                .clock_ns = mig.stop_ns, .wall_ns = mig.stop_wall_ns,
                .platform = platform_mig_id,
            };
            uint8_t b[LM_MIG_CONTEXT_SIZE];
            lm_mig_context_encode(&c, b);
            stream_send(LM_MIG_CONTEXT, 0, 0, b, sizeof b, false);
            ctx_sent = true;
            continue;
        }
        if (r->shadow_sent < r->nshadow) {
            size_t k = r->shadow_sent % r->shadow_cap;
            send_page(r->shadow_pfn[k], r->shadow + k * PAGE_SIZE);
            r->shadow_sent++; /* only now: a fault while sending must not take this slot */
            continue;
        }
        prot_cursor = next_prot(prot_cursor);
        if (prot_cursor < mig.npages) {
            uint64_t pfn = prot_cursor++;
            send_page(pfn, (const void *)(uintptr_t)(pfn * PAGE_SIZE));
            /* Sent as it was: writable again (a stale read-only TLB entry faults once). */
            uint64_t *pte = paging_pte(pfn * PAGE_SIZE);
            BIT_CLEAR(r->prot, pfn);
            if (pte)
                *pte |= PTE_W;
            continue;
        }
        /* Everything sent (faults may have added shadows: the loop above took them). */
        arch_cow_active = 0;
        commit_end();
        break;
    }
    stream_flush();
    return work;
}
