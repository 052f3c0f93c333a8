/* The one thing libsodium needs from the guest kernel beyond libc and the heap: random bytes. */
#ifndef LM_SODIUM_ENTROPY_H
#define LM_SODIUM_ENTROPY_H

/*
 * Provided by the kernel: fills buf with len unpredictable bytes, suitable for keys and nonces.
 * It cannot fail: without entropy the kernel must panic rather than return. libsodium's
 * randombytes_buf, randombytes_random and randombytes_uniform all end here
 * (guest/sodium/entropy.c), and sodium_init() already draws 16 bytes (its canary), so the source
 * must work by then.
 */
void lm_entropy(void *buf, unsigned long len);

#endif
