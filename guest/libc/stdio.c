/* Console output of the guest libc: printf and friends, written out with lm_console_write. */
#include <stdio.h>
#include <string.h>

#include "libc.h"

/*
 * Output is gathered in a stack buffer and written in chunks of up to this size, so that a
 * line costs one console hypercall (one VM exit) rather than one per character.
 */
#define CHUNK 256

static void console_flush(struct kc_sink *s)
{
    if (s->pos > 0)
        lm_console_write(s->buf, s->pos);
    s->pos = 0;
}

int vprintf(const char *restrict fmt, va_list ap)
{
    char buf[CHUNK];
    struct kc_sink s = {
        .buf = buf, .cap = sizeof(buf), .pos = 0, .total = 0, .flush = console_flush};
    int n = kc_format(&s, fmt, ap);

    console_flush(&s);
    return n;
}

int printf(const char *restrict fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vprintf(fmt, ap);
    va_end(ap);
    return n;
}

int puts(const char *str)
{
    char buf[CHUNK];
    struct kc_sink s = {
        .buf = buf, .cap = sizeof(buf), .pos = 0, .total = 0, .flush = console_flush};

    kc_emit(&s, str, strlen(str));
    kc_emit(&s, "\n", 1);
    console_flush(&s);
    return 0;
}

int putchar(int c)
{
    char ch = (char)c;

    lm_console_write(&ch, 1);
    return (unsigned char)ch;
}
