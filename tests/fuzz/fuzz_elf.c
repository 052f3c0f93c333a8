/* libFuzzer target: ELF64 image parsing, with every promise of an accepted image checked. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/elf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The monitor's window; mkseeds builds its valid image for the same one. */
#define WIN_MIN 0x100000ull
#define WIN_MAX (64ull << 20)

enum { SEG_X = 1, SEG_W = 2 };

static void check_image(const struct lm_elf_image *img, size_t size)
{
    if (img->nseg < 1 || img->nseg > LM_ELF_MAX_SEGMENTS)
        abort();
    uint64_t lo = UINT64_MAX, hi = 0;
    int entry_ok = 0;
    for (unsigned i = 0; i < img->nseg; i++) {
        const struct lm_elf_segment *s = &img->seg[i];
        /* Inside the window, written so that no sum can wrap. */
        if (s->memsz == 0 || s->paddr < WIN_MIN || s->paddr >= WIN_MAX ||
            s->memsz > WIN_MAX - s->paddr)
            abort();
        if (s->filesz > s->memsz || s->offset > size || s->filesz > size - s->offset)
            abort();
        if ((s->flags & (SEG_W | SEG_X)) == (SEG_W | SEG_X))
            abort();
        for (unsigned j = 0; j < i; j++) {
            const struct lm_elf_segment *o = &img->seg[j];
            if (s->paddr < o->paddr + o->memsz && o->paddr < s->paddr + s->memsz)
                abort();
        }
        if ((s->flags & SEG_X) && img->entry >= s->paddr && img->entry - s->paddr < s->memsz)
            entry_ok = 1;
        if (s->paddr < lo)
            lo = s->paddr;
        if (s->paddr + s->memsz > hi)
            hi = s->paddr + s->memsz;
    }
    if (!entry_ok || img->lo != lo || img->hi != hi)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lm_elf_image img;
    struct lm_diag d;
    memset(&d, 'x', sizeof d);
    int rc = lm_elf_parse(data, size, WIN_MIN, WIN_MAX, &img, &d);
    if (rc == 0) {
        check_image(&img, size);
    } else if ((rc != -LM_BAD_IMAGE && rc != -LM_IMAGE_PLACEMENT && rc != -LM_IMAGE_WX) ||
               !fz_diag_terminated(&d) || strncmp(d.msg, "ELF: ", 5) != 0) {
        abort();
    }
    return 0;
}
