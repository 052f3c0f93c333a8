/* The owner's side of the control channel: sign and encrypt a command (host only). */
#include <sodium.h>
#include <string.h>

#include "laundromat/guestctl.h"
#include "laundromat/hash.h"
#include "lm.h"


size_t lm_gc_cmd_seal(uint16_t cmd, uint64_t time_ns, const uint8_t nonce[LM_GC_NONCE_BYTES],
                      const uint8_t *body, size_t body_len, const uint8_t owner_sk[64],
                      const uint8_t ctl_key[32], uint8_t out[LM_GC_CMD_MAX])
{
    if (body_len > LM_GC_BODY_MAX)
        return 0;
    memcpy(out, LM_GC_MAGIC, 4);
    lm_put16(out + 4, LM_GC_VERSION);
    lm_put16(out + 6, cmd);
    lm_put64(out + 8, time_ns);
    memcpy(out + 16, nonce, LM_GC_NONCE_BYTES);
    lm_put16(out + 32, (uint16_t)body_len);
    lm_put16(out + 34, 0);
    lm_gc_body_crypt(out, ctl_key, body, out + LM_GC_HDR_SIZE, body_len);
    size_t n = LM_GC_HDR_SIZE + body_len;
    crypto_sign_ed25519_detached(out + n, NULL, out, n, owner_sk);
    return n + LM_GC_SIG_BYTES;
}

void lm_gc_ctl_key(const uint8_t seed[32], uint8_t out[32])
{
    crypto_generichash_blake2b_state st;
    crypto_generichash_blake2b_init(&st, seed, 32, 32);
    crypto_generichash_blake2b_update(&st, (const uint8_t *)LM_DOMAIN_GUESTCTL, strlen(LM_DOMAIN_GUESTCTL));
    crypto_generichash_blake2b_update(&st, (const uint8_t *)"ctl-key", 7);
    crypto_generichash_blake2b_final(&st, out, 32);
}
