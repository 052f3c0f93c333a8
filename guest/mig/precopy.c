/*
 * Pre-copy: round 0 sends every page (zero pages named, not sent); each later round sends
 * the pages whose PTE dirty bit the hardware set since the last round (clear, flush, resend),
 * until the dirty set is small, stops shrinking, or the round limit is reached; then the
 * final phase (cow.c). Page-table pages are left out: the snapshot copies them whole.
 */
#include <stdio.h>
#include <string.h>

#include "mig.h"

#define FINAL_THRESHOLD 256 /* pages: about 1 MiB, a few milliseconds on the wire */
#define RECORDS_PER_STEP 32  /* then the workload and the network get their turn */

static bool round_announced;

bool in_region(uint64_t pfn)
{
    return pfn >= mig.r->first_pfn && pfn < mig.r->first_pfn + mig.r->npages;
}

bool page_is_zero_mem(const void *page)
{
    const uint64_t *p = page;
    uint64_t acc = 0;
    for (size_t i = 0; i < PAGE_SIZE / 8; i++)
        acc |= p[i];
    return acc == 0;
}

bool page_is_zero(uint64_t pfn)
{
    /* Page 0 is unmapped, and nobody's: the monitor's. */
    return pfn == 0 || page_is_zero_mem((const void *)(uintptr_t)(pfn * PAGE_SIZE));
}

/* Pages whose dirty bit is set (tables and the region left out), optionally clearing the bits
 * and recording the pages in r->dirty. */
static uint64_t scan(bool clear, bool record)
{
    struct mig_region *r = mig.r;
    uint64_t n = 0;
    for (uint64_t base = 0; base < mig.npages; base += 512) {
        uint64_t *pt = paging_pt(base * PAGE_SIZE);
        if (!pt)
            continue;
        for (uint64_t i = 0; i < 512 && base + i < mig.npages; i++) {
            uint64_t pte = pt[i];
            if (!(pte & PTE_D))
                continue;
            uint64_t pfn = base + i;
            if (in_region(pfn) || BIT_TEST(r->prot, pfn)) /* prot: here, the table bitmap */
                continue;
            n++;
            if (record)
                BIT_SET(r->dirty, pfn);
            if (clear)
                pt[i] = pte & ~PTE_D;
        }
    }
    if (clear)
        paging_flush_all();
    return n;
}

uint64_t dirty_count(bool clear)
{
    return scan(clear, false);
}

void precopy_begin(void)
{
    struct mig_region *r = mig.r;
    size_t cap = (mig.npages / 512 + 16);
    r->ntables = paging_tables(r->tables, cap);
    if (r->ntables > cap) {
        mig_fail(LM_NOMEM, "%zu page-table pages, room for %zu", r->ntables, cap);
        return;
    }
    size_t bm = (mig.npages + 63) / 64;
    memset(r->dirty, 0, bm * 8);
    memset(r->prot, 0, bm * 8);
    /* Until the final phase, prot marks the page-table pages: left out of every round. */
    for (size_t i = 0; i < r->ntables; i++)
        BIT_SET(r->prot, r->tables[i] / PAGE_SIZE);
    scan(true, false);
    uint64_t n = 0;
    for (uint64_t pfn = 0; pfn < mig.npages; pfn++)
        if (!BIT_TEST(r->prot, pfn)) {
            BIT_SET(r->dirty, pfn);
            n++;
        }
    mig.round = 0;
    mig.round_pages = n;
    mig.round_sent = 0;
    mig.cursor = 0;
    mig.round_start_ns = clock_ns();
    round_announced = false;
}

/* Next page at or after pfn in r->dirty, or npages. */
static uint64_t next_dirty(uint64_t pfn)
{
    const uint64_t *bm = mig.r->dirty;
    while (pfn < mig.npages) {
        uint64_t w = bm[pfn / 64] >> (pfn % 64);
        if (w)
            return pfn + (uint64_t)__builtin_ctzll(w) < mig.npages ? pfn + (uint64_t)__builtin_ctzll(w) : mig.npages;
        pfn = (pfn / 64 + 1) * 64;
    }
    return mig.npages;
}

/* Sends the run of pages starting at pfn: zero pages as one ZERO record, others up to 16 in
 * one PAGES record. Returns the pages covered. The region goes as zero pages. */
static uint64_t send_run(uint64_t pfn)
{
    struct mig_region *r = mig.r;
    bool zero = in_region(pfn) || page_is_zero(pfn);
    uint64_t n = 1, max = zero ? 65536 : LM_MIG_PAGES_MAX;
    while (n < max && pfn + n < mig.npages && BIT_TEST(r->dirty, pfn + n) &&
           (in_region(pfn + n) || page_is_zero(pfn + n)) == zero)
        n++;
    if (zero) {
        stream_send(LM_MIG_ZERO, (uint32_t)n, pfn, NULL, 0, false);
        mig.cur.zero_pages += n;
    } else {
        stream_send_pages((uint32_t)n, pfn, (const void *)(uintptr_t)(pfn * PAGE_SIZE));
        mig.cur.data_pages += n;
    }
    for (uint64_t i = 0; i < n; i++)
        BIT_CLEAR(r->dirty, pfn + i);
    return n;
}

static void round_end(void)
{
    uint64_t now = clock_ns(), took = now - mig.round_start_ns;
    uint64_t dirty = dirty_count(false);
    uint64_t scanned = clock_ns();
    mig.dirty_rate = took ? dirty * 1000000000ull / took : 0;
    bool small = dirty <= FINAL_THRESHOLD;
    bool stuck = mig.round >= 2 && dirty * 10 >= mig.prev_dirty * 9;
    bool limit = mig.round + 1 >= mig.max_rounds;
    printf("mig: round %u sent %llu pages in %llu ms; %llu dirty since (%llu/s)%s\n", mig.round, (unsigned long long)mig.round_sent, (unsigned long long)(took / 1000000), (unsigned long long)dirty, (unsigned long long)mig.dirty_rate, small ? ": small enough" : stuck ? ": not shrinking" : limit ? ": round limit" : "");
    mig.prev_dirty = dirty;
    if (small || stuck || limit) {
        final_begin();
        return;
    }
    mig.round++;
    uint64_t t0 = clock_ns();
    mig.round_pages = scan(true, true);
    /* The cost of a dirty round's bookkeeping: scan, record and clear every PTE, one flush. */
    printf("mig: dirty scan of %llu pages (%llu dirty) took %llu us (count-only scan %llu us)\n", (unsigned long long)mig.npages, (unsigned long long)mig.round_pages, (unsigned long long)((clock_ns() - t0) / 1000), (unsigned long long)((scanned - now) / 1000));
    mig.round_sent = 0;
    mig.cursor = 0;
    mig.round_start_ns = now;
    round_announced = false;
}

bool precopy_step(void)
{
    bool work = false;
    for (int i = 0; i < RECORDS_PER_STEP && mig.phase == MIG_PRECOPY; i++) {
        if (!stream_room(LM_MIG_REC_MAX))
            break;
        work = true;
        if (!round_announced) {
            stream_send(LM_MIG_ROUND, (uint32_t)mig.round_pages, mig.round, NULL, 0, false);
            round_announced = true;
            continue;
        }
        uint64_t pfn = next_dirty(mig.cursor);
        if (pfn >= mig.npages) {
            round_end();
            break;
        }
        uint64_t n = send_run(pfn);
        mig.round_sent += n;
        mig.cursor = pfn + n;
    }
    if (mig.phase == MIG_PRECOPY || mig.phase == MIG_FINAL)
        stream_flush();
    return work;
}
