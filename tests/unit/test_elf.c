/* Unit tests of the ELF64 parser: images built in memory, a table of bad ones and edge cases. */
#include <elf.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/elf.h"
#include "lm.h"
#include "testlib.h"

/* The window the monitor loads kernels into: 1 MiB up to 64 MiB. */
#define MIN 0x100000ull
#define MAX 0x4000000ull

/*
 * The base image every case starts from, 12 KiB:
 *   0x0000  ELF header, then 2 program headers at 64
 *   0x1000  text: 4 KiB at 0x100000, R+X, entry 0x100010
 *   0x2000  data: 4 KiB at 0x101000, R+W, ending exactly at the end of the file
 */
#define BASE_LEN 0x3000u
#define TEXT_OFF 0x1000u
#define TEXT_ADDR 0x100000ull
#define DATA_OFF 0x2000u
#define DATA_ADDR 0x101000ull
#define SEG_SIZE 0x1000u
#define ENTRY 0x100010ull

#define MAX_PH 72
#define BUF_SIZE 0x4000u

/* The program header fields the builder writes (p_align is always 4 KiB). */
struct ph {
    uint32_t type, flags;
    uint64_t offset, vaddr, paddr, filesz, memsz;
};

struct spec {
    uint8_t ident[EI_NIDENT];
    uint16_t type, machine, phentsize, phnum;
    uint32_t version;
    int phnum_set; /* phnum overrides the count of headers written */
    uint64_t entry, phoff;
    size_t len;
    unsigned nph;
    struct ph ph[MAX_PH];
};

/*
 * One change to the base image: H_* the ELF header or the file's length, S_* a field of
 * program header i, ADD appends v headers of type i.
 */
enum field {
    END = 0,
    H_LEN,   /* file length */
    H_IDENT, /* e_ident[i] */
    H_TYPE,
    H_MACHINE,
    H_PHENTSIZE,
    H_PHNUM, /* e_phnum, whatever the number of headers written */
    H_PHOFF,
    H_ENTRY,
    H_VERSION, /* e_version */
    S_TYPE,
    S_FLAGS,
    S_OFFSET,
    S_ADDR,  /* p_vaddr and p_paddr together */
    S_VADDR, /* p_vaddr alone */
    S_FILESZ,
    S_MEMSZ,
    S_SIZE, /* p_filesz and p_memsz together */
    ADD,
};

struct patch {
    enum field f;
    unsigned i;
    uint64_t v;
};

#define MAX_PATCH 4

static void base_spec(struct spec *s)
{
    memset(s, 0, sizeof *s);
    memcpy(s->ident, ELFMAG, SELFMAG);
    s->ident[EI_CLASS] = ELFCLASS64;
    s->ident[EI_DATA] = ELFDATA2LSB;
    s->ident[EI_VERSION] = EV_CURRENT;
    s->ident[EI_OSABI] = ELFOSABI_SYSV;
    s->type = ET_EXEC;
    s->version = EV_CURRENT;
    s->machine = EM_X86_64;
    s->phentsize = sizeof(Elf64_Phdr);
    s->entry = ENTRY;
    s->phoff = sizeof(Elf64_Ehdr);
    s->len = BASE_LEN;
    s->nph = 2;
    s->ph[0] =
        (struct ph){PT_LOAD, PF_R | PF_X, TEXT_OFF, TEXT_ADDR, TEXT_ADDR, SEG_SIZE, SEG_SIZE};
    s->ph[1] =
        (struct ph){PT_LOAD, PF_R | PF_W, DATA_OFF, DATA_ADDR, DATA_ADDR, SEG_SIZE, SEG_SIZE};
}

/* Appends n headers of the given type: loads are 4 KiB of bss from 2 MiB up, the others junk. */
static void add_headers(struct spec *s, uint32_t type, uint64_t n)
{
    for (uint64_t k = 0; k < n; k++) {
        assert_true(s->nph < MAX_PH);
        uint64_t a = 0x200000 + s->nph * SEG_SIZE;
        if (type == PT_LOAD)
            s->ph[s->nph] = (struct ph){PT_LOAD, PF_R, 0, a, a, 0, SEG_SIZE};
        else /* fields that would fail every check if the parser looked at them */
            s->ph[s->nph] = (struct ph){type, PF_R | PF_W | PF_X, UINT64_MAX, 1, 2, UINT64_MAX, 1};
        s->nph++;
    }
}

/* Applies p[0..MAX_PATCH), stopping at the first END. */
static void apply(struct spec *s, const struct patch *p)
{
    for (const struct patch *stop = p + MAX_PATCH; p < stop && p->f != END; p++) {
        struct ph *h = &s->ph[p->i < MAX_PH ? p->i : 0];
        switch (p->f) {
        case END:
            break;
        case H_LEN:
            s->len = (size_t)p->v;
            break;
        case H_IDENT:
            s->ident[p->i] = (uint8_t)p->v;
            break;
        case H_TYPE:
            s->type = (uint16_t)p->v;
            break;
        case H_MACHINE:
            s->machine = (uint16_t)p->v;
            break;
        case H_PHENTSIZE:
            s->phentsize = (uint16_t)p->v;
            break;
        case H_PHNUM:
            s->phnum = (uint16_t)p->v;
            s->phnum_set = 1;
            break;
        case H_PHOFF:
            s->phoff = p->v;
            break;
        case H_ENTRY:
            s->entry = p->v;
            break;
        case H_VERSION:
            s->version = (uint32_t)p->v;
            break;
        case S_TYPE:
            h->type = (uint32_t)p->v;
            break;
        case S_FLAGS:
            h->flags = (uint32_t)p->v;
            break;
        case S_OFFSET:
            h->offset = p->v;
            break;
        case S_ADDR:
            h->vaddr = h->paddr = p->v;
            break;
        case S_VADDR:
            h->vaddr = p->v;
            break;
        case S_FILESZ:
            h->filesz = p->v;
            break;
        case S_MEMSZ:
            h->memsz = p->v;
            break;
        case S_SIZE:
            h->filesz = h->memsz = p->v;
            break;
        case ADD:
            add_headers(s, p->i, p->v);
            break;
        }
    }
}

/* Writes the image of s into buf[0, BUF_SIZE), little-endian field by field; returns s->len. */
static size_t build(const struct spec *s, uint8_t *buf)
{
    assert_true(s->len <= BUF_SIZE);
    memset(buf, 0, BUF_SIZE);
    /* Segment bytes first, so that headers win where a bad case makes them overlap. */
    for (unsigned k = 0; k < s->nph; k++) {
        const struct ph *h = &s->ph[k];
        if (h->type == PT_LOAD && h->offset <= BUF_SIZE && h->filesz <= BUF_SIZE - h->offset)
            for (uint64_t j = 0; j < h->filesz; j++)
                buf[h->offset + j] = (uint8_t)(k * 0x40 + j * 7 + 1);
    }

    memcpy(buf, s->ident, EI_NIDENT);
    lm_put16(buf + offsetof(Elf64_Ehdr, e_type), s->type);
    lm_put16(buf + offsetof(Elf64_Ehdr, e_machine), s->machine);
    lm_put32(buf + offsetof(Elf64_Ehdr, e_version), s->version);
    lm_put64(buf + offsetof(Elf64_Ehdr, e_entry), s->entry);
    lm_put64(buf + offsetof(Elf64_Ehdr, e_phoff), s->phoff);
    lm_put64(buf + offsetof(Elf64_Ehdr, e_shoff), 0);
    lm_put32(buf + offsetof(Elf64_Ehdr, e_flags), 0);
    lm_put16(buf + offsetof(Elf64_Ehdr, e_ehsize), sizeof(Elf64_Ehdr));
    lm_put16(buf + offsetof(Elf64_Ehdr, e_phentsize), s->phentsize);
    lm_put16(buf + offsetof(Elf64_Ehdr, e_phnum), s->phnum_set ? s->phnum : (uint16_t)s->nph);
    lm_put16(buf + offsetof(Elf64_Ehdr, e_shentsize), sizeof(Elf64_Shdr));
    lm_put16(buf + offsetof(Elf64_Ehdr, e_shnum), 0);
    lm_put16(buf + offsetof(Elf64_Ehdr, e_shstrndx), SHN_UNDEF);

    for (unsigned k = 0; k < s->nph; k++) {
        const struct ph *h = &s->ph[k];
        uint64_t at = s->phoff + (uint64_t)k * sizeof(Elf64_Phdr);
        if (s->phoff > BUF_SIZE || at > BUF_SIZE - sizeof(Elf64_Phdr))
            break; /* a case placing the headers outside the file: nothing to write */
        uint8_t *p = buf + at;
        lm_put32(p + offsetof(Elf64_Phdr, p_type), h->type);
        lm_put32(p + offsetof(Elf64_Phdr, p_flags), h->flags);
        lm_put64(p + offsetof(Elf64_Phdr, p_offset), h->offset);
        lm_put64(p + offsetof(Elf64_Phdr, p_vaddr), h->vaddr);
        lm_put64(p + offsetof(Elf64_Phdr, p_paddr), h->paddr);
        lm_put64(p + offsetof(Elf64_Phdr, p_filesz), h->filesz);
        lm_put64(p + offsetof(Elf64_Phdr, p_memsz), h->memsz);
        lm_put64(p + offsetof(Elf64_Phdr, p_align), 0x1000);
    }
    return s->len;
}

/*
 * Parses the image of s from a heap copy of exactly its length, so that a read past the
 * end is an out-of-bounds read a sanitizer can see.
 */
static int parse(const struct spec *s, struct lm_elf_image *img, struct lm_diag *d)
{
    static uint8_t buf[BUF_SIZE];
    size_t len = build(s, buf);
    uint8_t *copy = malloc(len ? len : 1);
    assert_non_null(copy);
    memcpy(copy, buf, len);
    int rc = lm_elf_parse(copy, len, MIN, MAX, img, d);
    free(copy);
    return rc;
}

static void test_valid_two_segments(void **state)
{
    (void)state;
    struct spec s;
    base_spec(&s);
    uint8_t buf[BUF_SIZE];
    size_t len = build(&s, buf);
    /* The builder against readelf's view of the same bytes, spot-checked. */
    assert_int_equal(len, 0x3000);
    assert_memory_equal(buf, "\177ELF\x02\x01\x01", 7);
    assert_memory_equal(buf + 16, "\x02\x00\x3e\x00", 4);
    assert_memory_equal(buf + 24, "\x10\x00\x10\x00\x00\x00\x00\x00", 8);
    assert_memory_equal(buf + 54, "\x38\x00\x02\x00", 4);
    assert_memory_equal(buf + 64, "\x01\x00\x00\x00\x05\x00\x00\x00\x00\x10", 10);
    assert_memory_equal(buf + 120, "\x01\x00\x00\x00\x06\x00\x00\x00\x00\x20", 10);

    struct lm_elf_image img;
    struct lm_diag d = {"untouched"};
    memset(&img, 0xa5, sizeof img);
    assert_int_equal(lm_elf_parse(buf, len, MIN, MAX, &img, &d), 0);
    assert_int_equal(img.entry, 0x100010);
    assert_int_equal(img.lo, 0x100000);
    assert_int_equal(img.hi, 0x102000);
    assert_int_equal(img.nseg, 2);
    assert_int_equal(img.seg[0].paddr, 0x100000);
    assert_int_equal(img.seg[0].offset, 0x1000);
    assert_int_equal(img.seg[0].filesz, 0x1000);
    assert_int_equal(img.seg[0].memsz, 0x1000);
    assert_int_equal(img.seg[0].flags, PF_R | PF_X);
    assert_int_equal(img.seg[1].paddr, 0x101000);
    assert_int_equal(img.seg[1].offset, 0x2000);
    assert_int_equal(img.seg[1].filesz, 0x1000);
    assert_int_equal(img.seg[1].memsz, 0x1000);
    assert_int_equal(img.seg[1].flags, PF_R | PF_W);
    for (unsigned k = 2; k < LM_ELF_MAX_SEGMENTS; k++) {
        assert_int_equal(img.seg[k].paddr, 0);
        assert_int_equal(img.seg[k].memsz, 0);
    }
    assert_string_equal(d.msg, "untouched");

    /* The diag is optional. */
    assert_int_equal(lm_elf_parse(buf, len, MIN, MAX, &img, NULL), 0);
    assert_int_equal(lm_elf_parse(buf, 10, MIN, MAX, &img, NULL), -LM_BAD_IMAGE);
}

struct bad {
    const char *name;
    struct patch p[MAX_PATCH];
    int want;
    const char *msg;
};

#define U64 UINT64_MAX

static const struct bad bad_images[] = {
    /* header */
    {"empty file", {{H_LEN, 0, 0}}, LM_BAD_IMAGE, "ELF: 0 bytes, shorter than an ELF header"},
    {"63 bytes, one short of a header",
     {{H_LEN, 0, 63}},
     LM_BAD_IMAGE,
     "63 bytes, shorter than an ELF header"},
    {"bad magic", {{H_IDENT, EI_MAG0, 0x7e}}, LM_BAD_IMAGE, "no ELF magic (starts 7e 45 4c 46)"},
    {"lowercase elf magic", {{H_IDENT, EI_MAG1, 'e'}}, LM_BAD_IMAGE, "(starts 7f 65 4c 46)"},
    {"32-bit class",
     {{H_IDENT, EI_CLASS, ELFCLASS32}},
     LM_BAD_IMAGE,
     "class 1, data 1, version 1/1; need 64-bit little-endian version 1"},
    {"no class", {{H_IDENT, EI_CLASS, ELFCLASSNONE}}, LM_BAD_IMAGE, "class 0, data 1, version 1"},
    {"big-endian", {{H_IDENT, EI_DATA, ELFDATA2MSB}}, LM_BAD_IMAGE, "class 2, data 2, version 1"},
    {"ident version 0",
     {{H_IDENT, EI_VERSION, EV_NONE}},
     LM_BAD_IMAGE,
     "class 2, data 1, version 0"},
    {"ident version 2", {{H_IDENT, EI_VERSION, 2}}, LM_BAD_IMAGE, "class 2, data 1, version 2"},
    {"e_version 0", {{H_VERSION, 0, EV_NONE}}, LM_BAD_IMAGE, "version 1/0; need 64-bit"},
    {"ET_DYN (PIE)",
     {{H_TYPE, 0, ET_DYN}},
     LM_BAD_IMAGE,
     "type 3, machine 62; need an x86-64 executable (type 2, machine 62)"},
    {"ET_REL (object file)", {{H_TYPE, 0, ET_REL}}, LM_BAD_IMAGE, "type 1, machine 62"},
    {"EM_386", {{H_MACHINE, 0, EM_386}}, LM_BAD_IMAGE, "type 2, machine 3;"},
    {"EM_AARCH64", {{H_MACHINE, 0, EM_AARCH64}}, LM_BAD_IMAGE, "type 2, machine 183;"},
    {"phentsize 32 (ELF32's)",
     {{H_PHENTSIZE, 0, sizeof(Elf32_Phdr)}},
     LM_BAD_IMAGE,
     "program header size 32, expected 56"},
    {"phentsize 57", {{H_PHENTSIZE, 0, 57}}, LM_BAD_IMAGE, "program header size 57, expected 56"},
    {"phnum 0", {{H_PHNUM, 0, 0}}, LM_BAD_IMAGE, "0 program headers, expected 1 to 64"},
    {"phnum 65, all present",
     {{ADD, PT_NOTE, 63}},
     LM_BAD_IMAGE,
     "65 program headers, expected 1 to 64"},
    {"phnum 0xffff (PN_XNUM)", {{H_PHNUM, 0, PN_XNUM}}, LM_BAD_IMAGE, "65535 program headers"},

    /* program header table */
    {"phdrs start at EOF",
     {{H_PHOFF, 0, BASE_LEN}},
     LM_BAD_IMAGE,
     "program headers at 12288 (2 of them) run past the end of the 12288-byte file"},
    {"phdrs start past EOF",
     {{H_PHOFF, 0, BASE_LEN + 1}},
     LM_BAD_IMAGE,
     "program headers at 12289 (2 of them)"},
    {"second phdr cut by one byte",
     {{H_PHOFF, 0, BASE_LEN - 2 * 56 + 1}},
     LM_BAD_IMAGE,
     "program headers at 12177 (2 of them) run past the end of the 12288-byte file"},
    {"phnum 64 past EOF",
     {{H_PHNUM, 0, 64}, {H_PHOFF, 0, BASE_LEN - 63 * 56}},
     LM_BAD_IMAGE,
     "program headers at 8760 (64 of them) run past the end of the 12288-byte file"},
    {"phoff near UINT64_MAX, sum wraps",
     {{H_PHOFF, 0, U64 - 55}},
     LM_BAD_IMAGE,
     "program headers at 18446744073709551560 (2 of them)"},
    {"phoff UINT64_MAX",
     {{H_PHOFF, 0, U64}},
     LM_BAD_IMAGE,
     "program headers at 18446744073709551615 (2 of them)"},

    /* segment file bytes */
    {"filesz > memsz",
     {{S_FILESZ, 1, SEG_SIZE + 1}},
     LM_BAD_IMAGE,
     "segment 1 has 4097 file bytes but only 4096 in memory"},
    {"filesz > memsz 0",
     {{S_MEMSZ, 0, 0}},
     LM_BAD_IMAGE,
     "segment 0 has 4096 file bytes but only 0 in memory"},
    {"segment bytes one past EOF",
     {{S_OFFSET, 1, DATA_OFF + 1}},
     LM_BAD_IMAGE,
     "segment 1's bytes [8193, +4096) run past the end of the 12288-byte file"},
    {"segment offset past EOF",
     {{S_OFFSET, 1, BASE_LEN + 1}, {S_FILESZ, 1, 0}},
     LM_BAD_IMAGE,
     "segment 1's bytes [12289, +0) run past"},
    {"segment offset + filesz wraps",
     {{S_FILESZ, 1, 0 - (uint64_t)SEG_SIZE}, {S_MEMSZ, 1, U64}},
     LM_BAD_IMAGE,
     "segment 1's bytes [8192, +18446744073709547520) run past"},
    {"segment offset UINT64_MAX",
     {{S_OFFSET, 0, U64}, {S_FILESZ, 0, 1}},
     LM_BAD_IMAGE,
     "segment 0's bytes [18446744073709551615, +1) run past the end of the 12288-byte file"},

    /* placement */
    {"vaddr != paddr (higher-half link)",
     {{S_VADDR, 1, 0xffffffff80101000ull}},
     LM_BAD_IMAGE,
     "segment 1 has virtual address 0xffffffff80101000 but physical 0x101000"},
    {"segment below the window",
     {{S_ADDR, 0, MIN - SEG_SIZE}, {H_ENTRY, 0, MIN - SEG_SIZE}},
     LM_IMAGE_PLACEMENT,
     "segment 0 at [0xff000, +0x1000) lies outside the allowed [0x100000, 0x4000000)"},
    {"segment one byte below the window",
     {{S_ADDR, 0, MIN - 1}},
     LM_IMAGE_PLACEMENT,
     "segment 0 at [0xfffff, +0x1000) lies outside"},
    {"segment at address 0",
     {{S_ADDR, 0, 0}},
     LM_IMAGE_PLACEMENT,
     "segment 0 at [0x0, +0x1000) lies outside"},
    {"segment past max by one byte",
     {{S_ADDR, 1, MAX - SEG_SIZE + 1}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0x3fff001, +0x1000) lies outside the allowed [0x100000, 0x4000000)"},
    {"segment starting at max",
     {{S_ADDR, 1, MAX}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0x4000000, +0x1000) lies outside"},
    {"segment far above max",
     {{S_ADDR, 1, 0xffffffff80000000ull}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0xffffffff80000000, +0x1000) lies outside"},
    {"paddr + memsz wraps to inside the window",
     {{S_MEMSZ, 1, 0 - (uint64_t)SEG_SIZE}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0x101000, +0xfffffffffffff000) lies outside"},
    {"paddr near UINT64_MAX, end wraps to 0",
     {{S_ADDR, 1, U64 - 0xfff}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0xfffffffffffff000, +0x1000) lies outside"},
    {"overlap: data starts inside text",
     {{S_ADDR, 1, TEXT_ADDR + 0x800}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0x100800, +0x1000) overlaps [0x100000, +0x1000)"},
    {"overlap: last byte shared",
     {{S_ADDR, 1, DATA_ADDR - 1}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0x100fff, +0x1000) overlaps [0x100000, +0x1000)"},
    {"overlap: identical segments",
     {{S_ADDR, 1, TEXT_ADDR}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0x100000, +0x1000) overlaps [0x100000, +0x1000)"},
    {"overlap: data encloses text",
     {{S_ADDR, 1, TEXT_ADDR}, {S_MEMSZ, 1, 0x3000}},
     LM_IMAGE_PLACEMENT,
     "segment 1 at [0x100000, +0x3000) overlaps [0x100000, +0x1000)"},
    {"overlap: with a third segment",
     {{ADD, PT_LOAD, 1}, {S_ADDR, 2, DATA_ADDR + 0xfff}},
     LM_IMAGE_PLACEMENT,
     "segment 2 at [0x101fff, +0x1000) overlaps [0x101000, +0x1000)"},

    /* protection and entry */
    {"writable and executable data",
     {{S_FLAGS, 1, PF_R | PF_W | PF_X}},
     LM_IMAGE_WX,
     "segment 1 at 0x101000 is writable and executable"},
    {"writable and executable text, no R",
     {{S_FLAGS, 0, PF_W | PF_X}},
     LM_IMAGE_WX,
     "segment 0 at 0x100000 is writable and executable"},
    {"entry in the data segment",
     {{H_ENTRY, 0, DATA_ADDR + 0x10}},
     LM_BAD_IMAGE,
     "entry point 0x101010 is not in an executable segment"},
    {"entry one past the text",
     {{H_ENTRY, 0, DATA_ADDR}},
     LM_BAD_IMAGE,
     "entry point 0x101000 is not"},
    {"entry one below the text",
     {{H_ENTRY, 0, TEXT_ADDR - 1}},
     LM_BAD_IMAGE,
     "entry point 0xfffff is not"},
    {"entry past every segment",
     {{H_ENTRY, 0, 0x3000000}},
     LM_BAD_IMAGE,
     "entry point 0x3000000 is not in an executable segment"},
    {"entry 0", {{H_ENTRY, 0, 0}}, LM_BAD_IMAGE, "entry point 0x0 is not"},
    {"no executable segment", {{S_FLAGS, 0, PF_R}}, LM_BAD_IMAGE, "entry point 0x100010 is not"},

    /* segment count */
    {"no PT_LOAD at all",
     {{S_TYPE, 0, PT_NOTE}, {S_TYPE, 1, PT_GNU_STACK}},
     LM_BAD_IMAGE,
     "ELF: no loadable segment"},
    {"only empty PT_LOADs",
     {{S_SIZE, 0, 0}, {S_SIZE, 1, 0}},
     LM_BAD_IMAGE,
     "ELF: no loadable segment"},
    {"17 loadable segments", {{ADD, PT_LOAD, 15}}, LM_BAD_IMAGE, "more than 16 loadable segments"},
};
#define N_BAD (sizeof bad_images / sizeof bad_images[0])

static void test_bad_image(void **state)
{
    const struct bad *c = *state;
    struct spec s;
    base_spec(&s);
    apply(&s, c->p);
    struct lm_elf_image img;
    struct lm_diag d = {""};
    int rc = parse(&s, &img, &d);
    if (rc != -c->want || !strstr(d.msg, c->msg)) {
        print_error("case \"%s\": got %s \"%s\"; want %s containing \"%s\"\n", c->name,
                    rc ? lm_status_name(rc) : "OK", d.msg, lm_status_name(c->want), c->msg);
        fail();
    }
}

/* Accepted images: the parser must return exactly the PT_LOADs with memsz > 0, in order. */
struct good {
    const char *name;
    struct patch p[MAX_PATCH];
    uint64_t lo, hi;
};

static const struct good good_images[] = {
    {"ok: segment ends exactly at max", {{S_ADDR, 1, MAX - SEG_SIZE}}, TEXT_ADDR, MAX},
    {"ok: segment fills the whole window",
     {{S_ADDR, 0, MIN}, {S_MEMSZ, 0, MAX - MIN}, {S_TYPE, 1, PT_NULL}},
     MIN,
     MAX},
    {"ok: empty PT_LOAD outside the window skipped",
     {{ADD, PT_LOAD, 1}, {S_ADDR, 2, 0}, {S_SIZE, 2, 0}, {S_VADDR, 2, 0xdead}},
     TEXT_ADDR,
     DATA_ADDR + SEG_SIZE},
    {"ok: PT_NOTE and PT_GNU_STACK ignored",
     {{ADD, PT_NOTE, 1}, {ADD, PT_GNU_STACK, 1}},
     TEXT_ADDR,
     DATA_ADDR + SEG_SIZE},
    {"ok: bss tail (memsz > filesz)",
     {{S_FILESZ, 1, 0x10}, {S_MEMSZ, 1, 0x100000}},
     TEXT_ADDR,
     DATA_ADDR + 0x100000},
    {"ok: bss-only segment", {{ADD, PT_LOAD, 1}}, TEXT_ADDR, 0x203000},
    {"ok: exactly 16 loadable segments", {{ADD, PT_LOAD, 14}}, TEXT_ADDR, 0x210000},
    {"ok: 16 loadable segments and an empty one",
     {{ADD, PT_LOAD, 15}, {S_ADDR, 16, 0}, {S_SIZE, 16, 0}},
     TEXT_ADDR,
     0x210000},
    {"ok: 64 program headers", {{ADD, PT_NOTE, 62}}, TEXT_ADDR, DATA_ADDR + SEG_SIZE},
    {"ok: entry on the last byte of text",
     {{H_ENTRY, 0, DATA_ADDR - 1}},
     TEXT_ADDR,
     DATA_ADDR + SEG_SIZE},
    {"ok: data below text", {{S_ADDR, 0, 0x200000}, {H_ENTRY, 0, 0x200000}}, DATA_ADDR, 0x201000},
    {"ok: phdrs end exactly at EOF",
     {{H_PHOFF, 0, BASE_LEN}, {H_LEN, 0, BASE_LEN + 2 * 56}},
     TEXT_ADDR,
     DATA_ADDR + SEG_SIZE},
    {"ok: execute-only text", {{S_FLAGS, 0, PF_X}}, TEXT_ADDR, DATA_ADDR + SEG_SIZE},
};
#define N_GOOD (sizeof good_images / sizeof good_images[0])

static void test_good_image(void **state)
{
    const struct good *c = *state;
    struct spec s;
    base_spec(&s);
    apply(&s, c->p);
    struct lm_elf_image img;
    struct lm_diag d = {""};
    int rc = parse(&s, &img, &d);
    if (rc != 0) {
        print_error("case \"%s\": got %s \"%s\"; want OK\n", c->name, lm_status_name(rc), d.msg);
        fail();
    }
    assert_int_equal(img.entry, s.entry);
    assert_int_equal(img.lo, c->lo);
    assert_int_equal(img.hi, c->hi);
    unsigned n = 0;
    for (unsigned k = 0; k < s.nph; k++) {
        const struct ph *h = &s.ph[k];
        if (h->type != PT_LOAD || h->memsz == 0)
            continue;
        assert_true(n < img.nseg);
        assert_int_equal(img.seg[n].paddr, h->paddr);
        assert_int_equal(img.seg[n].offset, h->offset);
        assert_int_equal(img.seg[n].filesz, h->filesz);
        assert_int_equal(img.seg[n].memsz, h->memsz);
        assert_int_equal(img.seg[n].flags, h->flags);
        n++;
    }
    assert_int_equal(img.nseg, n);
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_valid_two_segments),
    };
    enum { NF = sizeof fixed / sizeof fixed[0] };
    struct CMUnitTest tests[NF + N_BAD + N_GOOD];
    memcpy(tests, fixed, sizeof fixed);
    size_t n = NF;
    for (size_t i = 0; i < N_BAD; i++)
        tests[n++] = (struct CMUnitTest){bad_images[i].name, test_bad_image, NULL, NULL,
                                         (void *)&bad_images[i]};
    for (size_t i = 0; i < N_GOOD; i++)
        tests[n++] = (struct CMUnitTest){good_images[i].name, test_good_image, NULL, NULL,
                                         (void *)&good_images[i]};
    return _cmocka_run_group_tests("elf", tests, n, NULL, NULL);
}
