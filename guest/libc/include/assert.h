/* assert() for the guest: a failed assertion panics the kernel, naming expression and place. */
/* No include guard: C lets a file re-include <assert.h> after changing NDEBUG. */
#undef assert
#ifdef NDEBUG
#define assert(e) ((void)0)
#else
#define assert(e)                                                                                  \
    ((e) ? (void)0 : lm_panic("assertion failed: %s (%s:%d, %s)", #e, __FILE__, __LINE__, __func__))
#endif

#ifndef static_assert
#define static_assert _Static_assert
#endif

/* Provided by the kernel, not by libc: prints the message and stops the guest. */
void lm_panic(const char *fmt, ...) __attribute__((__noreturn__, __format__(__printf__, 1, 2)));
