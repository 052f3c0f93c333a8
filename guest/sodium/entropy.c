/* libsodium's randombytes for the guest: every random byte comes from the kernel's lm_entropy. */
#include <stddef.h>
#include <stdint.h>

#include "entropy.h"
#include "randombytes.h"

static const char *lm_randombytes_name(void)
{
    return "lm_entropy";
}

static uint32_t lm_randombytes_random(void)
{
    uint32_t r;

    lm_entropy(&r, sizeof(r));
    return r;
}

static void lm_randombytes_buf(void *const buf, const size_t size)
{
    lm_entropy(buf, size);
}

/*
 * No stir (the kernel's source reseeds itself) and no close; uniform is left to randombytes.c's
 * rejection sampling over randombytes_random. Installed as the default by config.h.
 */
const randombytes_implementation lm_sodium_randombytes = {
    .implementation_name = lm_randombytes_name,
    .random = lm_randombytes_random,
    .stir = NULL,
    .uniform = NULL,
    .buf = lm_randombytes_buf,
    .close = NULL,
};
