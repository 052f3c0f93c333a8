/* Formatted output of the guest's libc: snprintf into buffers, printf to the monitor console. */
#ifndef KC_STDIO_H
#define KC_STDIO_H

#include <stdarg.h>
#include <stddef.h>

#define EOF (-1)

/*
 * Conversions: d i u x X o c s p %, flags - 0 space + #, width and precision (also *),
 * length modifiers hh h l ll z j t. No floating point (the guest has no FPU state) and no %n.
 * %s of NULL prints "(null)", %p of NULL prints "(nil)", as glibc does.
 */
int snprintf(char *restrict buf, size_t size, const char *restrict fmt, ...)
    __attribute__((__format__(__printf__, 3, 4)));
int vsnprintf(char *restrict buf, size_t size, const char *restrict fmt, va_list ap)
    __attribute__((__format__(__printf__, 3, 0)));

/* Console output: formatted in chunks on the stack, each chunk sent with lm_console_write. */
int printf(const char *restrict fmt, ...) __attribute__((__format__(__printf__, 1, 2)));
int vprintf(const char *restrict fmt, va_list ap) __attribute__((__format__(__printf__, 1, 0)));
int puts(const char *s);
int putchar(int c);

/* Provided by the kernel, not by libc: writes n bytes to the monitor's console. */
void lm_console_write(const char *s, unsigned long n);

#endif
