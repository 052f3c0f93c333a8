/*
 * Physical page allocator: one bit per 4 KiB page, next-fit, contiguous runs. A kernel owns
 * RAM; the in-VM loader owns only its own block above RAM (boot info's loader_base/size),
 * leaving RAM untouched for what it loads.
 */
#include <string.h>

#include "kernel.h"

static uint64_t *bitmap; /* bit set: page in use */
static uint64_t base;    /* physical address of page 0 of the bitmap */
static size_t npages, nfree, hint;

static bool used(size_t p)
{
    return bitmap[p / 64] >> (p % 64) & 1;
}

static void mark(size_t first, size_t n, bool in_use)
{
    for (size_t p = first; p < first + n; p++) {
        if (in_use)
            bitmap[p / 64] |= 1ull << (p % 64);
        else
            bitmap[p / 64] &= ~(1ull << (p % 64));
    }
}

void mm_init(void)
{
    bool loader = boot_info->loader_base != 0;
    base = loader ? boot_info->loader_base : 0;
    npages = (loader ? boot_info->loader_size : boot_info->mem_size) / PAGE_SIZE;
    /* The bitmap goes right after the kernel image. */
    uint64_t bm = PAGE_ROUND_UP((uint64_t)(uintptr_t)_kernel_end);
    size_t bm_bytes = PAGE_ROUND_UP((npages + 63) / 64 * 8);
    bitmap = (uint64_t *)(uintptr_t)bm;
    memset(bitmap, 0, bm_bytes);
    nfree = npages;
    /* Reserved: the monitor's low 1 MiB (for a kernel), the image, the bitmap. */
    size_t reserved = (bm + bm_bytes - base) / PAGE_SIZE;
    mark(0, reserved, true);
    nfree -= reserved;
    hint = reserved;
}

/* First run of n free pages at or after `from`, or npages. */
static size_t find_run(size_t from, size_t n)
{
    for (size_t p = from; p + n <= npages;) {
        size_t run = 0;
        while (run < n && !used(p + run))
            run++;
        if (run == n)
            return p;
        p += run + 1; /* the page at p + run is used: restart past it */
    }
    return npages;
}

void *page_alloc(size_t n)
{
    if (n == 0 || n > nfree)
        return NULL;
    size_t p = find_run(hint, n);
    if (p == npages)
        p = find_run(0, n);
    if (p == npages)
        return NULL;
    mark(p, n, true);
    nfree -= n;
    hint = p + n;
    void *mem = (void *)(uintptr_t)(base + p * PAGE_SIZE);
    memset(mem, 0, n * PAGE_SIZE);
    return mem;
}

void page_free(void *mem, size_t n)
{
    size_t p = (size_t)(((uintptr_t)mem - base) / PAGE_SIZE);
    if ((uintptr_t)mem < base || p + n > npages)
        lm_panic("page_free: %p is not in the allocator's memory", mem);
    for (size_t i = 0; i < n; i++)
        if (!used(p + i))
            lm_panic("page_free: page 0x%llx is not allocated",
                     (unsigned long long)(base + (p + i) * PAGE_SIZE));
    mark(p, n, false);
    nfree += n;
}

size_t mm_free_pages(void)
{
    return nfree;
}

size_t mm_total_pages(void)
{
    return npages;
}
