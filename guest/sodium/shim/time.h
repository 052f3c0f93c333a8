/* Empty <time.h> for libsodium's sodium/core.c, which wants it only for nanosleep (unused). */
/*
 * core.c includes <time.h> unconditionally but calls nanosleep only under HAVE_NANOSLEEP, which
 * guest/sodium/config.h leaves undefined. The guest libc has no clock functions, so rather than
 * claim a <time.h> there, this shim is on the include path of libsodium's own sources only.
 */
