/* What the guest libc's files share: the output sink behind vsnprintf and printf. */
#ifndef KC_LIBC_H
#define KC_LIBC_H

#include <stdarg.h>
#include <stddef.h>

/*
 * Formatted output goes to a sink: a buffer of cap bytes, emptied by flush when full.
 * Without flush (vsnprintf), what does not fit is counted in total but dropped.
 */
struct kc_sink {
    char *buf;
    size_t cap;
    size_t pos;   /* bytes in buf */
    size_t total; /* bytes produced so far, stored or not */
    void (*flush)(struct kc_sink *s);
};

void kc_emit(struct kc_sink *s, const char *p, size_t n);
/* Formats into s; returns s->total, or -1 when that does not fit in an int. */
int kc_format(struct kc_sink *s, const char *fmt, va_list ap);

#endif
