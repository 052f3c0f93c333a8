/* libFuzzer target: boot token decode, re-encode round trip and verification against a key. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/keys.h"
#include "laundromat/token.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lm_pubkey ring[1];
static struct lm_verify_ctx vctx;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[32];
    struct lm_keypair kp;
    fz_key_seed(seed);
    if (lm_key_from_seed(seed, &kp) != 0)
        abort();
    ring[0] = kp.pub;
    vctx.keys = ring;
    vctx.nkeys = 1;
    vctx.now = FZ_NOW;
    vctx.max_skew_s = FZ_SKEW;
    vctx.host_name = FZ_HOST;
    vctx.cluster_name = FZ_CLUSTER;
    return 0;
}

/* A failure must be a known status with a NUL-terminated reason. */
static void check_failure(int rc, const struct lm_diag *d)
{
    if (rc >= 0 || lm_status_name(rc) == NULL || !fz_diag_terminated(d))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lm_token t, tv;
    struct lm_diag d;

    memset(&d, 'x', sizeof d);
    int rc = lm_token_decode(data, size, &t, &d);
    if (rc != 0) {
        check_failure(rc, &d);
    } else {
        /* Decode accepted exactly one token's bytes, and encoding gives them back. */
        uint8_t out[LM_TOKEN_SIZE];
        if (size != LM_TOKEN_SIZE || lm_token_encode(&t, out) != 0 ||
            memcmp(out, data, LM_TOK_SIGNED_BYTES) != 0 ||
            memcmp(t.sig, data + LM_TOK_OFF_SIG, LM_SIG_BYTES) != 0)
            abort();
        if (strlen(t.scope) == 0 || strlen(t.scope) > LM_SCOPE_BYTES)
            abort();
        if (lm_token_value_ms(&t) < t.link_value_ms)
            abort();
    }

    memset(&d, 'x', sizeof d);
    int vrc = lm_token_verify(data, size, &vctx, &tv, &d);
    if (vrc != 0) {
        check_failure(vrc, &d);
        /* Verification decodes first: a structural failure is reported as such. */
        if (rc != 0 && vrc != rc)
            abort();
    } else {
        /* Only a structurally valid, current, in-scope token signed by our key passes. */
        if (rc != 0 || memcmp(&t, &tv, sizeof t) != 0 || tv.key_id != ring[0].key_id)
            abort();
        if (FZ_NOW >= tv.expires_at || (tv.issued_at > FZ_NOW && tv.issued_at - FZ_NOW > FZ_SKEW))
            abort();
        if (strcmp(tv.scope, tv.scope_kind == LM_SCOPE_HOST ? FZ_HOST : FZ_CLUSTER) != 0)
            abort();
    }
    return 0;
}
