/* lwIP's platform header for the Laundromat guest: byte order, libc, diagnostics, randomness. */
#ifndef LM_LWIP_ARCH_CC_H
#define LM_LWIP_ARCH_CC_H

#include <assert.h> /* lm_panic */
#include <stdint.h>
#include <stdio.h>     /* printf, for LWIP_PLATFORM_DIAG */
#include <sys/types.h> /* ssize_t and SSIZE_MAX, so arch.h does not typedef ssize_t as int */

#define BYTE_ORDER LITTLE_ENDIAN

/* ssize_t came from <sys/types.h> above; there is no <unistd.h> in the guest. */
#define LWIP_NO_UNISTD_H 1
/* Should lwip/errno.h ever be pulled in (only the sockets API does), use the guest's errno.h. */
#define LWIP_ERRNO_STDINCLUDE 1

/* Diagnostics (LWIP_DEBUGF, only with LWIP_DEBUG) go to the console. */
#define LWIP_PLATFORM_DIAG(x)                                                                      \
    do {                                                                                           \
        printf x;                                                                                  \
    } while (0)
/* A failed LWIP_ASSERT is a kernel bug: stop the guest with the message and the place. */
#define LWIP_PLATFORM_ASSERT(x)                                                                    \
    lm_panic("lwIP assertion \"%s\" failed at %s:%d", x, __FILE__, __LINE__)

/* Provided by the kernel: unpredictable 32-bit values (ephemeral ports, the ISN key). */
uint32_t lm_random(void);
#define LWIP_RAND() ((u32_t)lm_random())

/* lwIP's byte swaps are out-of-line calls into def.c; gcc's builtins are one inline bswap/rol. */
#define lwip_htons(x) ((u16_t)__builtin_bswap16(x))
#define lwip_htonl(x) ((u32_t)__builtin_bswap32(x))

#endif
