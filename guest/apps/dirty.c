/*
 * app=dirty: rewrites a working set of mib= MiB (default 8) at rate= MiB/s (default 16; 0: as
 * fast as it can), one page at a time in a fixed stride: the workload that shows whether a
 * migration's rounds converge.
 */
#include <stdio.h>

#include "../kernel/kernel.h"

static uint8_t *set;
static uint64_t npages, rate, written, start_ns, next;

static int dirty_init(void)
{
    uint64_t mib = cmdline_ulong("mib", 8);
    rate = cmdline_ulong("rate", 16);
    npages = mib * 256;
    set = npages ? page_alloc(npages) : NULL;
    if (!set) {
        printf("dirty: cannot allocate %llu MiB\n", (unsigned long long)mib);
        return 1;
    }
    start_ns = clock_ns();
    printf("dirty: rewriting %llu MiB at %llu MiB/s\n", (unsigned long long)mib, (unsigned long long)rate);
    return 0;
}

static bool dirty_poll(void)
{
    uint64_t due = rate ? (clock_ns() - start_ns) / 1000 * rate * 256 / 1000000 : written + 256;
    if (written >= due)
        return false;
    for (int i = 0; i < 64 && written < due; i++) {
        uint64_t *p = (uint64_t *)(set + next * PAGE_SIZE);
        uint64_t v = written * 0x9e3779b97f4a7c15ull;
        for (size_t k = 0; k < PAGE_SIZE / 8; k += 64)
            p[k] = v + k;
        written++;
        next = (next + 97) % npages; /* a stride, so neighbours are not written together */
    }
    return true;
}

const struct app app_dirty = {"dirty", true, dirty_init, dirty_poll};
