/* Signed broker requests: canonical string, Ed25519 signing and strict header parsing. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/reqsig.h"
#include "laundromat/util.h"

static int method_ok(const char *m)
{
    size_t n = strlen(m);
    if (n == 0 || n > LM_REQSIG_MAX_METHOD)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (m[i] < 'A' || m[i] > 'Z')
            return 0;
    return 1;
}

static int target_ok(const char *t)
{
    size_t n = strlen(t);
    if (n == 0 || n > LM_REQSIG_MAX_TARGET || t[0] != '/')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (t[i] < 0x21 || t[i] > 0x7e)
            return 0;
    return 1;
}

int lm_reqsig_canonical(const char *method, const char *target, uint64_t time,
                        const uint8_t nonce[LM_REQSIG_NONCE_BYTES], const void *body,
                        size_t body_len, char *out, size_t cap, struct lm_diag *d)
{
    if (!method_ok(method))
        return lm_fail(d, LM_INVAL, "method \"%.20s\" is not 1 to %d uppercase letters", method,
                       LM_REQSIG_MAX_METHOD);
    if (!target_ok(target))
        return lm_fail(d, LM_INVAL,
                       "request target \"%.60s\" is not 1 to %d printable ASCII "
                       "bytes starting with '/'",
                       target, LM_REQSIG_MAX_TARGET);
    uint8_t h[LM_HASH_BYTES];
    if (lm_hash(LM_DOMAIN_REQUEST_BODY, body_len ? body : "", body_len, h) != 0)
        return lm_fail(d, LM_CRYPTO, "hashing the request body failed");
    char nh[2 * LM_REQSIG_NONCE_BYTES + 1], hh[2 * LM_HASH_BYTES + 1];
    lm_hex_encode(nonce, LM_REQSIG_NONCE_BYTES, nh);
    lm_hex_encode(h, sizeof h, hh);
    int n = snprintf(out, cap, "%s%s\n%s\n%" PRIu64 "\n%s\n%s", LM_REQSIG_PREFIX, method, target,
                     time, nh, hh);
    if (n < 0 || (size_t)n >= cap)
        return lm_fail(d, LM_INVAL, "canonical string longer than %zu bytes", cap);
    return n;
}

/* Room for the prefix, a method, a target, the time, the nonce and the hash. */
enum { CANON_CAP = sizeof LM_REQSIG_PREFIX + LM_REQSIG_MAX_METHOD + LM_REQSIG_MAX_TARGET + 160 };

int lm_reqsig_sign(const struct lm_keypair *kp, const char *method, const char *target,
                   uint64_t time, const uint8_t *nonce, const void *body, size_t body_len,
                   struct lm_reqsig *r, struct lm_reqsig_text *txt, struct lm_diag *d)
{
    if (lm_crypto_init() != 0)
        return lm_fail(d, LM_CRYPTO, "libsodium failed to initialise");
    if (time > INT64_MAX)
        return lm_fail(d, LM_INVAL, "time %" PRIu64 " is beyond 2^63", time);
    r->key_id = kp->pub.key_id;
    r->time = time;
    if (nonce)
        memcpy(r->nonce, nonce, LM_REQSIG_NONCE_BYTES);
    else
        randombytes_buf(r->nonce, LM_REQSIG_NONCE_BYTES);
    char canon[CANON_CAP];
    int n =
        lm_reqsig_canonical(method, target, time, r->nonce, body, body_len, canon, sizeof canon, d);
    if (n < 0)
        return n;
    if (crypto_sign_detached(r->sig, NULL, (const uint8_t *)canon, (size_t)n, kp->sk) != 0)
        return lm_fail(d, LM_CRYPTO, "signing failed");
    if (txt) {
        snprintf(txt->key, sizeof txt->key, "%016" PRIx64, r->key_id);
        snprintf(txt->time, sizeof txt->time, "%" PRIu64, r->time);
        lm_hex_encode(r->nonce, LM_REQSIG_NONCE_BYTES, txt->nonce);
        lm_hex_encode(r->sig, sizeof r->sig, txt->sig);
    }
    return 0;
}

/* Exactly 2n lowercase hex digits into out. */
static int lower_hex(const char *name, const char *s, uint8_t *out, size_t n, struct lm_diag *d)
{
    size_t len = strlen(s);
    for (size_t i = 0; i < len; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return lm_fail(d, LM_INVAL, "header %s: \"%.140s\" is not lowercase hex", name, s);
    if (len != 2 * n || lm_hex_decode(s, out, n) != 0)
        return lm_fail(d, LM_INVAL, "header %s: %zu hex digits, expected %zu", name, len, 2 * n);
    return 0;
}

int lm_reqsig_parse(const char *key, const char *time, const char *nonce, const char *sig,
                    struct lm_reqsig *r, struct lm_diag *d)
{
    const char *missing = !key     ? LM_REQSIG_HDR_KEY
                          : !time  ? LM_REQSIG_HDR_TIME
                          : !nonce ? LM_REQSIG_HDR_NONCE
                          : !sig   ? LM_REQSIG_HDR_SIG
                                   : NULL;
    if (missing)
        return lm_fail(d, LM_INVAL,
                       "header %s is missing: every request carries %s, %s, %s "
                       "and %s (docs/BROKER-API.md)",
                       missing, LM_REQSIG_HDR_KEY, LM_REQSIG_HDR_TIME, LM_REQSIG_HDR_NONCE,
                       LM_REQSIG_HDR_SIG);
    uint8_t kb[8];
    int rc = lower_hex(LM_REQSIG_HDR_KEY, key, kb, sizeof kb, d);
    if (rc)
        return rc;
    r->key_id = 0;
    for (int i = 0; i < 8; i++) /* printed most significant first */
        r->key_id = r->key_id << 8 | kb[i];
    size_t tl = strlen(time);
    int digits = tl > 0 && tl <= 19;
    for (size_t i = 0; digits && i < tl; i++)
        digits = time[i] >= '0' && time[i] <= '9';
    if (!digits || (tl > 1 && time[0] == '0'))
        return lm_fail(d, LM_INVAL,
                       "header %s: \"%.40s\" is not Unix seconds in decimal "
                       "(digits only, no leading zero)",
                       LM_REQSIG_HDR_TIME, time);
    r->time = 0;
    for (size_t i = 0; i < tl; i++)
        r->time = r->time * 10 + (uint64_t)(time[i] - '0');
    if (r->time > INT64_MAX)
        return lm_fail(d, LM_INVAL, "header %s: %s is beyond 2^63", LM_REQSIG_HDR_TIME, time);
    if ((rc = lower_hex(LM_REQSIG_HDR_NONCE, nonce, r->nonce, LM_REQSIG_NONCE_BYTES, d)) != 0)
        return rc;
    return lower_hex(LM_REQSIG_HDR_SIG, sig, r->sig, sizeof r->sig, d);
}

int lm_reqsig_verify(const struct lm_pubkey *pk, const struct lm_reqsig *r, const char *method,
                     const char *target, const void *body, size_t body_len, struct lm_diag *d)
{
    if (pk->key_id != r->key_id)
        return lm_fail(d, LM_UNKNOWN_KEY, "key id %016" PRIx64 " is not the key's (%016" PRIx64 ")",
                       r->key_id, pk->key_id);
    char canon[CANON_CAP];
    int n = lm_reqsig_canonical(method, target, r->time, r->nonce, body, body_len, canon,
                                sizeof canon, d);
    if (n < 0)
        return n;
    if (crypto_sign_verify_detached(r->sig, (const uint8_t *)canon, (size_t)n, pk->pk) != 0)
        return lm_fail(d, LM_BAD_SIGNATURE,
                       "signature of %s %.80s by key %016" PRIx64 " does "
                       "not verify (signed another method, target, time, nonce or body?)",
                       method, target, r->key_id);
    return 0;
}
