/* ELF64 executable parsing with every bound checked; shared by the monitor and the loader. */
#include <string.h>

#include "laundromat/elf.h"
#include "lm.h"

/* The few ELF constants we need (System V gABI, x86-64 psABI). */
enum {
    EH_SIZE = 64, PH_SIZE = 56,
    ELFCLASS64 = 2, ELFDATA2LSB = 1, EV_CURRENT = 1, ET_EXEC = 2, EM_X86_64 = 62,
    PT_LOAD = 1, PF_X = 1, PF_W = 2,
};

int lm_elf_parse(const uint8_t *b, size_t len, uint64_t min, uint64_t max,
                 struct lm_elf_image *img, struct lm_diag *d)
{
    memset(img, 0, sizeof *img);
    if (len < EH_SIZE)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: %zu bytes, shorter than an ELF header", len);
    if (memcmp(b, "\x7f" "ELF", 4) != 0)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: no ELF magic (starts %02x %02x %02x %02x)", b[0],
                       b[1], b[2], b[3]);
    if (b[4] != ELFCLASS64 || b[5] != ELFDATA2LSB || b[6] != EV_CURRENT ||
        lm_get32(b + 20) != EV_CURRENT)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: class %u, data %u, version %u/%u; need 64-bit "
                       "little-endian version 1", b[4], b[5], b[6], lm_get32(b + 20));
    uint16_t type = lm_get16(b + 16), machine = lm_get16(b + 18);
    if (type != ET_EXEC || machine != EM_X86_64)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: type %u, machine %u; need an x86-64 executable "
                       "(type 2, machine 62)", type, machine);
    img->entry = lm_get64(b + 24);
    uint64_t phoff = lm_get64(b + 32);
    uint16_t phentsize = lm_get16(b + 54), phnum = lm_get16(b + 56);
    if (phentsize != PH_SIZE)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: program header size %u, expected %d", phentsize,
                       PH_SIZE);
    if (phnum == 0 || phnum > 64)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: %u program headers, expected 1 to 64", phnum);
    if (phoff > len || (uint64_t)phnum * PH_SIZE > len - phoff)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: program headers at %llu (%u of them) run past the "
                       "end of the %zu-byte file", (unsigned long long)phoff, phnum, len);

    int entry_ok = 0;
    img->lo = UINT64_MAX;
    for (unsigned i = 0; i < phnum; i++) {
        const uint8_t *ph = b + phoff + (uint64_t)i * PH_SIZE;
        if (lm_get32(ph) != PT_LOAD)
            continue;
        struct lm_elf_segment s = {
            .flags = lm_get32(ph + 4),
            .offset = lm_get64(ph + 8),
            .paddr = lm_get64(ph + 24),
            .filesz = lm_get64(ph + 32),
            .memsz = lm_get64(ph + 40),
        };
        unsigned long long pa = s.paddr, ms = s.memsz;
        if (s.filesz > s.memsz)
            return lm_fail(d, LM_BAD_IMAGE, "ELF: segment %u has %llu file bytes but only %llu "
                           "in memory", i, (unsigned long long)s.filesz, ms);
        if (s.offset > len || s.filesz > len - s.offset)
            return lm_fail(d, LM_BAD_IMAGE, "ELF: segment %u's bytes [%llu, +%llu) run past the "
                           "end of the %zu-byte file", i, (unsigned long long)s.offset,
                           (unsigned long long)s.filesz, len);
        if (s.memsz == 0) /* places nothing */
            continue;
        if (img->nseg == LM_ELF_MAX_SEGMENTS)
            return lm_fail(d, LM_BAD_IMAGE, "ELF: more than %d loadable segments",
                           LM_ELF_MAX_SEGMENTS);
        if (lm_get64(ph + 16) != s.paddr)
            return lm_fail(d, LM_BAD_IMAGE, "ELF: segment %u has virtual address 0x%llx but "
                           "physical 0x%llx; memory is identity-mapped, link them equal", i,
                           (unsigned long long)lm_get64(ph + 16), pa);
        if (s.paddr < min || s.paddr > max || s.memsz > max - s.paddr)
            return lm_fail(d, LM_IMAGE_PLACEMENT, "ELF: segment %u at [0x%llx, +0x%llx) lies "
                           "outside the allowed [0x%llx, 0x%llx)", i, pa, ms,
                           (unsigned long long)min, (unsigned long long)max);
        if ((s.flags & (PF_W | PF_X)) == (PF_W | PF_X))
            return lm_fail(d, LM_IMAGE_WX, "ELF: segment %u at 0x%llx is writable and "
                           "executable; link with separate text and data segments", i, pa);
        for (unsigned j = 0; j < img->nseg; j++) {
            const struct lm_elf_segment *o = &img->seg[j];
            if (s.paddr < o->paddr + o->memsz && o->paddr < s.paddr + s.memsz)
                return lm_fail(d, LM_IMAGE_PLACEMENT, "ELF: segment %u at [0x%llx, +0x%llx) "
                               "overlaps [0x%llx, +0x%llx)", i, pa, ms,
                               (unsigned long long)o->paddr, (unsigned long long)o->memsz);
        }
        if ((s.flags & PF_X) && img->entry >= s.paddr && img->entry < s.paddr + s.memsz)
            entry_ok = 1;
        if (s.paddr < img->lo)
            img->lo = s.paddr;
        if (s.paddr + s.memsz > img->hi)
            img->hi = s.paddr + s.memsz;
        img->seg[img->nseg++] = s;
    }
    if (img->nseg == 0)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: no loadable segment");
    if (!entry_ok)
        return lm_fail(d, LM_BAD_IMAGE, "ELF: entry point 0x%llx is not in an executable "
                       "segment", (unsigned long long)img->entry);
    return 0;
}
