/* Internal header of liblaundromat: little-endian helpers and small shared routines. */
#ifndef LM_LIB_INTERNAL_H
#define LM_LIB_INTERNAL_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

static inline void lm_put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}
static inline void lm_put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline void lm_put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint16_t lm_get16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t lm_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline uint64_t lm_get64(const uint8_t *p)
{
    return (uint64_t)lm_get32(p) | (uint64_t)lm_get32(p + 4) << 32;
}
static inline int lm_all_zero(const uint8_t *p, size_t n)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < n; i++)
        acc |= p[i];
    return acc == 0;
}

#endif

/* Text record files (key files, chain files): a tag line, then "name value" lines. */
#include <sys/types.h>

#include "laundromat/status.h"

enum lm_field_kind { LM_F_HEX, LM_F_U32 };
struct lm_field {
    const char *name;
    enum lm_field_kind kind;
    void *dst;    /* LM_F_HEX: len bytes; LM_F_U32: a uint32_t */
    size_t len;
    int seen;     /* set by the reader */
};

/* Creates path (never overwrites) with mode and writes text, fsynced; removes it on failure. */
int lm_textfile_write(const char *path, mode_t mode, const char *text, struct lm_diag *d);

/*
 * Reads path: the first non-comment line must be one of tags[0..] (NULL-terminated; its
 * index goes to *tag); every other line "name value" must name one of f[] once. Comments
 * (#) and blank lines are skipped. *mode gets the file's permission bits.
 */
int lm_textfile_read(const char *path, const char *const *tags, int *tag, struct lm_field *f,
                     size_t nf, unsigned *mode, struct lm_diag *d);
