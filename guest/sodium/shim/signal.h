/* Empty <signal.h> for libsodium's sodium/utils.c, which needs it only for guarded-page malloc. */
/*
 * utils.c includes <signal.h> unconditionally but calls raise() only when sodium_malloc uses
 * guard pages (HAVE_MMAP/HAVE_POSIX_MEMALIGN, left undefined by guest/sodium/config.h). The guest
 * has no signals; this shim is on the include path of libsodium's own sources only.
 */
