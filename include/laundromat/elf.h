/* ELF64 image parsing for the monitor and the in-VM loader: checks before any byte is placed. */
#ifndef LAUNDROMAT_ELF_H
#define LAUNDROMAT_ELF_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/status.h"

#define LM_ELF_MAX_SEGMENTS 16

struct lm_elf_segment {
    uint64_t paddr;  /* where it goes, guest-physical */
    uint64_t offset; /* where its bytes start in the file */
    uint64_t filesz; /* bytes copied from the file; the rest up to memsz is zeroed */
    uint64_t memsz;
    uint32_t flags;  /* PF_X 1, PF_W 2, PF_R 4 */
};

struct lm_elf_image {
    uint64_t entry;
    uint64_t lo, hi; /* lowest and one past the highest byte of all segments */
    unsigned nseg;
    struct lm_elf_segment seg[LM_ELF_MAX_SEGMENTS];
};

/*
 * Parses an x86-64 ELF64 executable held in buf[0, len) that must load into the
 * guest-physical window [min, max). Refuses with -LM_BAD_IMAGE, -LM_IMAGE_PLACEMENT or
 * -LM_IMAGE_WX and a message
 * naming the segment and addresses: bad header, wrong class/machine/type, program headers
 * outside the file, a segment whose file bytes leave the file, memsz < filesz, a segment
 * outside the window or wrapping around, overlapping segments, a writable and executable
 * segment, an entry point outside every executable segment, no loadable segment.
 */
int lm_elf_parse(const uint8_t *buf, size_t len, uint64_t min, uint64_t max,
                 struct lm_elf_image *img, struct lm_diag *d);

#endif
