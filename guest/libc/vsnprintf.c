/* The guest libc's printf engine (kc_format) and vsnprintf/snprintf on top of it. */
#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libc.h"

_Static_assert(sizeof(size_t) == sizeof(long) && sizeof(ptrdiff_t) == sizeof(long),
               "%z and %t are read as long");
_Static_assert(sizeof(intmax_t) == sizeof(long long), "%j is read as long long");

enum {
    F_MINUS = 1, /* left-justify */
    F_ZERO = 2,  /* pad numbers with zeros */
    F_SPACE = 4, /* ' ' before non-negative signed numbers */
    F_PLUS = 8,  /* '+' before non-negative signed numbers */
    F_HASH = 16, /* 0x before hex, a leading 0 for octal */
};

enum length { LEN_NONE, LEN_HH, LEN_H, LEN_L, LEN_LL, LEN_Z, LEN_J, LEN_T };

struct spec {
    unsigned flags;
    int width;
    int prec; /* -1: none given */
    enum length len;
    char conv;
};

void kc_emit(struct kc_sink *s, const char *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s->pos == s->cap && s->flush != NULL)
            s->flush(s);
        if (s->pos < s->cap)
            s->buf[s->pos++] = p[i];
    }
    s->total += n;
}

static void pad(struct kc_sink *s, char c, int n)
{
    for (; n > 0; n--)
        kc_emit(s, &c, 1);
}

/* A string of len bytes, padded to the width with spaces (right-justified unless '-'). */
static void put_padded(struct kc_sink *s, const struct spec *sp, const char *str, size_t len)
{
    int fill = sp->width > 0 && (size_t)sp->width > len ? sp->width - (int)len : 0;

    if (!(sp->flags & F_MINUS))
        pad(s, ' ', fill);
    kc_emit(s, str, len);
    if (sp->flags & F_MINUS)
        pad(s, ' ', fill);
}

/*
 * An integer conversion: [spaces][sign or 0x][zeros][digits][spaces]. mag is the absolute
 * value; negative says whether a '-' belongs before it.
 */
static void put_int(struct kc_sink *s, const struct spec *sp, unsigned long long mag, int negative)
{
    static const char lower[] = "0123456789abcdef", upper[] = "0123456789ABCDEF";
    const char *digit_chars = sp->conv == 'X' ? upper : lower;
    unsigned base = sp->conv == 'o'                                           ? 8
                    : (sp->conv == 'x' || sp->conv == 'X' || sp->conv == 'p') ? 16
                                                                              : 10;
    char digits[24]; /* 22 octal digits of 2^64 - 1, filled from the end */
    int ndigits = 0, zeros, fill;
    char prefix[2];
    int nprefix = 0;

    for (unsigned long long v = mag; v != 0; v /= base)
        digits[sizeof(digits) - 1 - ndigits++] = digit_chars[v % base];
    /* No precision means at least one digit; precision 0 with value 0 prints no digit. */
    if (mag == 0 && sp->prec != 0)
        digits[sizeof(digits) - 1 - ndigits++] = '0';
    zeros = sp->prec > ndigits ? sp->prec - ndigits : 0;
    /* '#' with o raises the precision just enough to make the first digit a 0. */
    if (sp->conv == 'o' && (sp->flags & F_HASH) && zeros == 0 && (ndigits == 0 || mag != 0))
        zeros = 1;

    if (sp->conv == 'd' || sp->conv == 'i') {
        if (negative)
            prefix[nprefix++] = '-';
        else if (sp->flags & F_PLUS)
            prefix[nprefix++] = '+';
        else if (sp->flags & F_SPACE)
            prefix[nprefix++] = ' ';
    } else if (sp->conv == 'p' || ((sp->flags & F_HASH) && mag != 0 && base == 16)) {
        prefix[nprefix++] = '0';
        prefix[nprefix++] = sp->conv == 'X' ? 'X' : 'x';
    }

    /* In long long: a precision near INT_MAX plus a sign would overflow an int. */
    long long used = (long long)nprefix + zeros + ndigits;
    fill = sp->width > used ? (int)(sp->width - used) : 0;
    /* '0' pads with zeros after the sign, unless '-' or a precision overrides it. */
    if ((sp->flags & F_ZERO) && !(sp->flags & F_MINUS) && sp->prec < 0) {
        zeros += fill;
        fill = 0;
    }
    if (!(sp->flags & F_MINUS))
        pad(s, ' ', fill);
    kc_emit(s, prefix, (size_t)nprefix);
    pad(s, '0', zeros);
    kc_emit(s, digits + sizeof(digits) - ndigits, (size_t)ndigits);
    if (sp->flags & F_MINUS)
        pad(s, ' ', fill);
}

/* Reads a decimal number at *p (capped at INT_MAX) and advances *p past it. */
static int read_number(const char **p)
{
    int n = 0;

    while (**p >= '0' && **p <= '9') {
        int d = *(*p)++ - '0';
        n = n > (INT_MAX - d) / 10 ? INT_MAX : n * 10 + d;
    }
    return n;
}

int kc_format(struct kc_sink *s, const char *fmt, va_list ap)
{
    while (*fmt != '\0') {
        const char *start = fmt;
        struct spec sp = {.flags = 0, .width = 0, .prec = -1, .len = LEN_NONE, .conv = 0};
        unsigned long long mag;
        long long sv;

        if (*fmt != '%') {
            const char *pct = strchr(fmt, '%');
            size_t n = pct != NULL ? (size_t)(pct - fmt) : strlen(fmt);
            kc_emit(s, fmt, n);
            fmt += n;
            continue;
        }
        fmt++;
        for (;; fmt++) {
            unsigned f = *fmt == '-'   ? F_MINUS
                         : *fmt == '0' ? F_ZERO
                         : *fmt == ' ' ? F_SPACE
                         : *fmt == '+' ? F_PLUS
                         : *fmt == '#' ? F_HASH
                                       : 0;
            if (f == 0)
                break;
            sp.flags |= f;
        }
        if (*fmt == '*') {
            fmt++;
            sp.width = va_arg(ap, int);
            /* A negative width argument is a '-' flag and a positive width. */
            if (sp.width < 0) {
                sp.flags |= F_MINUS;
                sp.width = sp.width == INT_MIN ? INT_MAX : -sp.width;
            }
        } else {
            sp.width = read_number(&fmt);
        }
        if (*fmt == '.') {
            fmt++;
            if (*fmt == '*') {
                fmt++;
                sp.prec = va_arg(ap, int);
                if (sp.prec < 0) /* a negative precision argument counts as none */
                    sp.prec = -1;
            } else {
                sp.prec = read_number(&fmt);
            }
        }
        switch (*fmt) {
        case 'h':
            sp.len = fmt[1] == 'h' ? LEN_HH : LEN_H;
            fmt += sp.len == LEN_HH ? 2 : 1;
            break;
        case 'l':
            sp.len = fmt[1] == 'l' ? LEN_LL : LEN_L;
            fmt += sp.len == LEN_LL ? 2 : 1;
            break;
        case 'z':
            sp.len = LEN_Z;
            fmt++;
            break;
        case 'j':
            sp.len = LEN_J;
            fmt++;
            break;
        case 't':
            sp.len = LEN_T;
            fmt++;
            break;
        default:
            break;
        }
        sp.conv = *fmt;
        if (sp.conv != '\0')
            fmt++;

        switch (sp.conv) {
        case 'd':
        case 'i':
            switch (sp.len) {
            case LEN_HH:
                sv = (signed char)va_arg(ap, int);
                break;
            case LEN_H:
                sv = (short)va_arg(ap, int);
                break;
            case LEN_L:
            case LEN_Z:
            case LEN_T:
                sv = va_arg(ap, long);
                break;
            case LEN_LL:
            case LEN_J:
                sv = va_arg(ap, long long);
                break;
            default:
                sv = va_arg(ap, int);
                break;
            }
            /* 0 - (unsigned) keeps LLONG_MIN's magnitude without signed overflow. */
            mag = sv < 0 ? 0 - (unsigned long long)sv : (unsigned long long)sv;
            put_int(s, &sp, mag, sv < 0);
            break;
        case 'u':
        case 'x':
        case 'X':
        case 'o':
            switch (sp.len) {
            case LEN_HH:
                mag = (unsigned char)va_arg(ap, unsigned);
                break;
            case LEN_H:
                mag = (unsigned short)va_arg(ap, unsigned);
                break;
            case LEN_L:
            case LEN_Z:
            case LEN_T:
                mag = va_arg(ap, unsigned long);
                break;
            case LEN_LL:
            case LEN_J:
                mag = va_arg(ap, unsigned long long);
                break;
            default:
                mag = va_arg(ap, unsigned);
                break;
            }
            put_int(s, &sp, mag, 0);
            break;
        case 'p': {
            void *p = va_arg(ap, void *);
            if (p == NULL) {
                put_padded(s, &sp, "(nil)", 5);
            } else {
                put_int(s, &sp, (uintptr_t)p, 0);
            }
            break;
        }
        case 'c': {
            char c = (char)va_arg(ap, int);
            put_padded(s, &sp, &c, 1);
            break;
        }
        case 's': {
            const char *str = va_arg(ap, const char *);
            /* glibc's choice, kept so the two read alike: "(null)" only if it fits whole. */
            if (str == NULL)
                str = sp.prec < 0 || sp.prec >= 6 ? "(null)" : "";
            /* With a precision, str need not be NUL-terminated: read no further than that. */
            put_padded(s, &sp, str, sp.prec >= 0 ? strnlen(str, (size_t)sp.prec) : strlen(str));
            break;
        }
        case '%':
            kc_emit(s, "%", 1);
            break;
        default:
            /* Unknown or missing conversion (no floating point, no %n): print it as written. */
            kc_emit(s, start, (size_t)(fmt - start));
            break;
        }
    }
    return s->total > INT_MAX ? -1 : (int)s->total;
}

int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
{
    struct kc_sink s = {
        .buf = buf, .cap = size > 0 ? size - 1 : 0, .pos = 0, .total = 0, .flush = NULL};
    int n = kc_format(&s, fmt, ap);

    if (size > 0)
        buf[s.pos] = '\0';
    return n;
}

int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
{
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}
