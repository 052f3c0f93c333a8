/* Physical page allocator: one bit per 4 KiB page of RAM, next-fit, contiguous runs. */
#include <string.h>

#include "kernel.h"

static uint64_t *bitmap; /* bit set: page in use */
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
    npages = boot_info->mem_size / PAGE_SIZE;
    /* The bitmap goes right after the kernel image. */
    uint64_t bm = PAGE_ROUND_UP((uint64_t)(uintptr_t)_kernel_end);
    size_t bm_bytes = PAGE_ROUND_UP((npages + 63) / 64 * 8);
    bitmap = (uint64_t *)(uintptr_t)bm;
    memset(bitmap, 0, bm_bytes);
    nfree = npages;
    /* Reserved: the monitor's low 1 MiB, the kernel, the bitmap. */
    size_t reserved = (bm + bm_bytes) / PAGE_SIZE;
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
    void *mem = (void *)(uintptr_t)(p * PAGE_SIZE);
    memset(mem, 0, n * PAGE_SIZE);
    return mem;
}

void page_free(void *mem, size_t n)
{
    size_t p = (size_t)((uintptr_t)mem / PAGE_SIZE);
    for (size_t i = 0; i < n; i++)
        if (!used(p + i))
            lm_panic("page_free: page 0x%llx is not allocated",
                     (unsigned long long)((p + i) * PAGE_SIZE));
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
