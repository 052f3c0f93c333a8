/* Domain-separated BLAKE2b-256 over libsodium's generichash. */
#include <sodium.h>
#include <string.h>

#include "laundromat/hash.h"
#include "laundromat/status.h"

int lm_crypto_init(void)
{
    static int done; /* benign race: sodium_init() is idempotent and thread-safe */
    if (!done && sodium_init() < 0)
        return -LM_CRYPTO;
    done = 1;
    return 0;
}

int lm_hash(const char *domain, const void *data, size_t len, uint8_t out[LM_HASH_BYTES])
{
    crypto_generichash_blake2b_state st;
    if (lm_crypto_init() != 0 || crypto_generichash_blake2b_init(&st, NULL, 0, LM_HASH_BYTES) != 0 ||
        crypto_generichash_blake2b_update(&st, (const unsigned char *)domain, strlen(domain)) != 0 ||
        crypto_generichash_blake2b_update(&st, data, len) != 0 ||
        crypto_generichash_blake2b_final(&st, out, LM_HASH_BYTES) != 0)
        return -LM_CRYPTO;
    return 0;
}
