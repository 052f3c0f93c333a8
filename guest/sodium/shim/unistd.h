/* Empty <unistd.h> for libsodium's sodium/utils.c, which wants it only for sysconf (unused). */
/*
 * utils.c includes <unistd.h> on every non-Windows system but calls sysconf(_SC_PAGESIZE) only
 * when sodium_malloc uses guard pages, which guest/sodium/config.h leaves off. The guest has no
 * POSIX layer; this shim is on the include path of libsodium's own sources only.
 */
