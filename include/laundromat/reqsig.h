/* Signed broker requests: the canonical string, its Ed25519 signature and the four headers. */
#ifndef LAUNDROMAT_REQSIG_H
#define LAUNDROMAT_REQSIG_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/hash.h"
#include "laundromat/keys.h"
#include "laundromat/status.h"

/*
 * A request to the broker carries four headers (docs/BROKER-API.md, "Signing requests"):
 *
 *   X-LM-Key        the account's key id, 16 lowercase hex digits (as lmctl keygen prints it)
 *   X-LM-Time       Unix seconds, decimal, no sign, no leading zero
 *   X-LM-Nonce      16 random bytes, 32 lowercase hex digits, never reused with this key
 *   X-LM-Signature  Ed25519 over the canonical string, 128 lowercase hex digits
 *
 * The canonical string is the bytes
 *
 *   "laundromat-request-v1\n" METHOD "\n" TARGET "\n" TIME "\n" NONCE "\n" BODY_HASH
 *
 * with METHOD as sent ("GET", "POST"), TARGET the request target exactly as sent (path and
 * query, e.g. "/v1/hosts?cluster=blue"), TIME and NONCE as in the headers, and BODY_HASH the
 * 64 lowercase hex digits of BLAKE2b-256(LM_DOMAIN_REQUEST_BODY || body) (the empty body
 * too). No terminating newline.
 */
#define LM_REQSIG_PREFIX "laundromat-request-v1\n"
#define LM_DOMAIN_REQUEST_BODY "laundromat/request-body/v1"

#define LM_REQSIG_HDR_KEY "X-LM-Key"
#define LM_REQSIG_HDR_TIME "X-LM-Time"
#define LM_REQSIG_HDR_NONCE "X-LM-Nonce"
#define LM_REQSIG_HDR_SIG "X-LM-Signature"

#define LM_REQSIG_NONCE_BYTES 16
#define LM_REQSIG_MAX_METHOD 16   /* bytes of METHOD: uppercase letters only */
#define LM_REQSIG_MAX_TARGET 2048 /* bytes of TARGET: printable ASCII, starts with '/' */

/* The four header values, parsed (lm_reqsig_parse) or made (lm_reqsig_sign). */
struct lm_reqsig {
    uint64_t key_id;
    uint64_t time;
    uint8_t nonce[LM_REQSIG_NONCE_BYTES];
    uint8_t sig[64];
};

/* The headers as text, NUL-terminated, ready to send. */
struct lm_reqsig_text {
    char key[17];
    char time[21];
    char nonce[2 * LM_REQSIG_NONCE_BYTES + 1];
    char sig[129];
};

/*
 * Writes the canonical string into out (capacity cap, NUL-terminated) and returns its
 * length, or -LM_INVAL (method not 1..16 uppercase letters, target not printable ASCII
 * starting with '/', at most 2048 bytes; out too small) or -LM_CRYPTO.
 */
int lm_reqsig_canonical(const char *method, const char *target, uint64_t time,
                        const uint8_t nonce[LM_REQSIG_NONCE_BYTES], const void *body,
                        size_t body_len, char *out, size_t cap, struct lm_diag *d);

/*
 * Signs a request with kp at time with nonce (NULL: 16 fresh random bytes). Fills r and,
 * when txt is non-NULL, the header texts. Returns 0 or -LM_INVAL / -LM_CRYPTO.
 */
int lm_reqsig_sign(const struct lm_keypair *kp, const char *method, const char *target,
                   uint64_t time, const uint8_t *nonce, const void *body, size_t body_len,
                   struct lm_reqsig *r, struct lm_reqsig_text *txt, struct lm_diag *d);

/*
 * Parses the four header values strictly (any may be NULL: missing). Hex must be lowercase
 * and exactly as long as stated above; time decimal without sign or leading zero and below
 * 2^63. Returns 0 or -LM_INVAL with d naming the header and what is wrong.
 */
int lm_reqsig_parse(const char *key, const char *time, const char *nonce, const char *sig,
                    struct lm_reqsig *r, struct lm_diag *d);

/*
 * Checks r's signature over the canonical string under pk (whose key id must be
 * r->key_id). Returns 0, -LM_UNKNOWN_KEY (key id mismatch), -LM_BAD_SIGNATURE, or
 * -LM_INVAL (method or target not canonical). Clock and nonce checks are the caller's.
 */
int lm_reqsig_verify(const struct lm_pubkey *pk, const struct lm_reqsig *r, const char *method,
                     const char *target, const void *body, size_t body_len, struct lm_diag *d);

#endif
