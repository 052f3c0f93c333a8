/* A host vouches for a loader VM: its Ed25519 signature over the loader's key and place. */
#include <sodium.h>
#include <string.h>

#include "laundromat/wire.h"
#include "lm.h"

size_t lm_vouch_message(const struct lm_ping_reply *r, uint8_t out[LM_VOUCH_MSG_MAX])
{
    size_t n = strlen(LM_DOMAIN_VOUCH);
    memcpy(out, LM_DOMAIN_VOUCH, n);
    memcpy(out + n, r->token_id, LM_TOKEN_ID_BYTES);
    lm_put64(out + n + 16, r->vm_id);
    memcpy(out + n + 24, r->loader_ip, 4);
    lm_put16(out + n + 28, r->loader_port);
    memcpy(out + n + 30, r->loader_pub, 32);
    return n + 62;
}

void lm_vouch_sign(struct lm_ping_reply *r, const uint8_t sk[64])
{
    uint8_t msg[LM_VOUCH_MSG_MAX];
    size_t n = lm_vouch_message(r, msg);
    crypto_sign_detached(r->vouch_sig, NULL, msg, n, sk);
    r->flags |= LM_PING_REPLY_FLAG_VOUCHED;
}

int lm_vouch_verify(const struct lm_ping_reply *r, const uint8_t pk[32], struct lm_diag *d)
{
    if (!(r->flags & LM_PING_REPLY_FLAG_VOUCHED))
        return lm_fail(d, LM_INVAL, "the host's reply vouches for no loader key (a host too old "
                       "for checkpoint tokens?)");
    if (sodium_init() < 0)
        return lm_fail(d, LM_CRYPTO, "libsodium failed to initialise");
    uint8_t msg[LM_VOUCH_MSG_MAX];
    size_t n = lm_vouch_message(r, msg);
    if (crypto_sign_verify_detached(r->vouch_sig, msg, n, pk) != 0)
        return lm_fail(d, LM_BAD_SIGNATURE, "the host's signature on the loader key does not "
                       "verify with the operator key the broker lists for it: not this host's "
                       "loader, or the reply was altered");
    return 0;
}
