/*
 * The guest's own page tables: 4 KiB pages over all RAM, identity-mapped, text read-only
 * and executable, everything else non-executable, page 0 unmapped. 4 KiB granularity is
 * what self-migration's dirty tracking (PTE dirty bits) needs.
 */
#include <stdio.h>
#include <string.h>

#include "../../kernel/kernel.h"
#include "priv.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2) /* everything is user-accessible: the kernel runs in ring 3 */
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull

static uint64_t *pml4;

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

static int map_range(uint64_t lo, uint64_t hi)
{
    for (uint64_t va = lo; va < hi; va += PAGE_SIZE) {
        uint64_t *pdpt = next_level(pml4, (unsigned)(va >> 39) & 511);
        uint64_t *pd = pdpt ? next_level(pdpt, (unsigned)(va >> 30) & 511) : NULL;
        uint64_t *pt = pd ? next_level(pd, (unsigned)(va >> 21) & 511) : NULL;
        if (!pt)
            return -1;
        pt[(va >> 12) & 511] = va | leaf_flags(va);
    }
    return 0;
}

int paging_init(void)
{
    pml4 = page_alloc(1);
    if (!pml4 || map_range(PAGE_SIZE, boot_info->mem_size) < 0)
        return -1;
    if (boot_info->loader_base && map_range(boot_info->loader_base,
                                            boot_info->loader_base + boot_info->loader_size) < 0)
        return -1;
    return priv_call(PRIV_LOAD_CR3, (uint64_t)(uintptr_t)pml4) == 0 ? 0 : -1;
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

void paging_flush(uint64_t va)
{
    priv_call(PRIV_INVLPG, va);
}
