/*
 * The guest's own page tables: 4 KiB pages over all RAM, identity-mapped, text read-only
 * and executable, everything else non-executable, page 0 unmapped. 4 KiB granularity is
 * what self-migration's dirty tracking (PTE dirty bits) needs.
 */
#include <stdio.h>
#include <string.h>

#include "../../kernel/kernel.h"
#include "priv.h"


static uint64_t *pml4;
uint64_t arch_cr3; /* the resume path loads it */

static uint64_t *table_at(uint64_t entry)
{
    return (uint64_t *)(uintptr_t)(entry & PTE_ADDR);
}

/* The entry of `table` at `index`, creating the next-level table if needed. */
static uint64_t *next_level(uint64_t *table, unsigned index)
{
    if (!(table[index] & PTE_P)) {
        uint64_t *t = page_alloc(1);
        if (!t)
            return NULL;
        table[index] = (uint64_t)(uintptr_t)t | PTE_P | PTE_W | PTE_U;
    }
    return table_at(table[index]);
}

static uint64_t leaf_flags(uint64_t va)
{
    uint64_t text_lo = (uint64_t)(uintptr_t)_kernel_start, text_hi = (uint64_t)(uintptr_t)_text_end;
    uint64_t ro_hi = (uint64_t)(uintptr_t)_rodata_end;
    if (va >= text_lo && va < text_hi)
        return PTE_P | PTE_U;                 /* text: read, execute */
    if (va >= text_hi && va < ro_hi)
        return PTE_P | PTE_U | PTE_NX;        /* rodata */
    return PTE_P | PTE_W | PTE_U | PTE_NX;    /* data, heap, everything else */
}

/* Maps [lo, hi) identity; flags 0: by leaf_flags (RAM), otherwise these. */
static int map_range(uint64_t lo, uint64_t hi, uint64_t flags)
{
    for (uint64_t va = lo; va < hi; va += PAGE_SIZE) {
        uint64_t *pdpt = next_level(pml4, (unsigned)(va >> 39) & 511);
        uint64_t *pd = pdpt ? next_level(pdpt, (unsigned)(va >> 30) & 511) : NULL;
        uint64_t *pt = pd ? next_level(pd, (unsigned)(va >> 21) & 511) : NULL;
        if (!pt)
            return -1;
        pt[(va >> 12) & 511] = va | (flags ? flags : leaf_flags(va));
    }
    return 0;
}

int paging_init(void)
{
    pml4 = page_alloc(1);
    if (!pml4 || map_range(PAGE_SIZE, boot_info->mem_size, 0) < 0)
        return -1;
    if (boot_info->loader_base && map_range(boot_info->loader_base,
                                            boot_info->loader_base + boot_info->loader_size, 0) < 0)
        return -1;
    arch_cr3 = (uint64_t)(uintptr_t)pml4;
    return priv_call(PRIV_LOAD_CR3, arch_cr3) == 0 ? 0 : -1;
}

int paging_map_io(uint64_t pa, uint64_t len)
{
    uint64_t lo = pa & ~(PAGE_SIZE - 1), hi = PAGE_ROUND_UP(pa + len);
    if (hi <= lo || hi > (1ull << 47) || (lo < boot_info->mem_size && hi > PAGE_SIZE))
        return -1; /* wraps, not canonical, or over RAM */
    if (map_range(lo, hi, PTE_P | PTE_W | PTE_U | PTE_NX | PTE_PWT | PTE_PCD) < 0)
        return -1;
    paging_flush_all();
    return 0;
}

uint64_t *paging_pte(uint64_t va)
{
    uint64_t *t = pml4;
    for (int shift = 39; shift >= 21; shift -= 9) {
        uint64_t e = t[(va >> shift) & 511];
        if (!(e & PTE_P))
            return NULL;
        t = table_at(e);
    }
    return &t[(va >> 12) & 511];
}

uint64_t *paging_pt(uint64_t va)
{
    uint64_t *t = pml4;
    for (int shift = 39; shift >= 21; shift -= 9) {
        uint64_t e = t[(va >> shift) & 511];
        if (!(e & PTE_P))
            return NULL;
        t = table_at(e);
    }
    return t;
}

/* Every table below `t` at `level` (3: a PML4 ... 0: a page table), depth first. */
static size_t collect(uint64_t *t, int level, uint64_t *out, size_t n, size_t max)
{
    if (n < max)
        out[n] = (uint64_t)(uintptr_t)t;
    n++;
    if (level > 0)
        for (unsigned i = 0; i < 512; i++)
            if (t[i] & PTE_P)
                n = collect(table_at(t[i]), level - 1, out, n, max);
    return n;
}

size_t paging_tables(uint64_t *out, size_t max)
{
    return collect(pml4, 3, out, 0, max);
}

void paging_flush_all(void)
{
    priv_call(PRIV_FLUSH_TLB, 0);
}

void paging_flush(uint64_t va)
{
    priv_call(PRIV_INVLPG, va);
}
