/* Number parsing and abort() of the guest libc, and the kernel's allocator prototypes. */
#ifndef KC_STDLIB_H
#define KC_STDLIB_H

#include <stddef.h>

/* C11 semantics: base 0 or 2..36, optional sign and 0x prefix, ERANGE and clamping on overflow. */
unsigned long strtoul(const char *restrict nptr, char **restrict endptr, int base);
long strtol(const char *restrict nptr, char **restrict endptr, int base);
int atoi(const char *s);
int abs(int x);

/* Stops the guest with a panic naming the caller (guest/libc/abort.c). */
void abort(void) __attribute__((__noreturn__));

/* Provided by the kernel, not by libc. */
void *malloc(size_t size);
void free(void *p);
void *calloc(size_t n, size_t size);
void *realloc(void *p, size_t size);

#endif
