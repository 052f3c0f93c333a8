/* libFuzzer target: the broker's request-signature headers and canonical string. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/reqsig.h"
#include "laundromat/util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * Input: NUL-separated fields "key\0time\0nonce\0signature\0method\0target\0body"; missing
 * trailing fields are NULL headers (or empty method, target, body). The signing key is the
 * fixtures' broker key (mkseeds signs its seeds with it).
 */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct lm_keypair kp;
    static int ready;
    if (!ready) {
        uint8_t seed[32];
        fz_key_seed(seed);
        if (lm_key_from_seed(seed, &kp) != 0)
            abort();
        ready = 1;
    }
    char *buf = malloc(size + 1);
    if (!buf)
        return 0;
    memcpy(buf, data, size);
    buf[size] = '\0';
    const char *f[7] = {NULL, NULL, NULL, NULL, "", "", ""};
    size_t off = 0, body_len = 0;
    for (int i = 0; i < 7 && off <= size; i++) {
        f[i] = buf + off;
        size_t n = i < 6 ? strlen(buf + off) : size - off; /* the body may hold NULs */
        if (i == 6)
            body_len = n;
        off += n + 1;
    }

    struct lm_reqsig r;
    struct lm_diag d;
    memset(&d, 'x', sizeof d);
    int rc = lm_reqsig_parse(f[0], f[1], f[2], f[3], &r, &d);
    if (rc != 0 && (rc != -LM_INVAL || !fz_diag_terminated(&d)))
        abort();
    if (rc == 0) {
        /* Strict parsing: the headers are the canonical text of what was parsed. */
        struct lm_reqsig_text tx;
        snprintf(tx.key, sizeof tx.key, "%016llx", (unsigned long long)r.key_id);
        snprintf(tx.time, sizeof tx.time, "%llu", (unsigned long long)r.time);
        lm_hex_encode(r.nonce, sizeof r.nonce, tx.nonce);
        lm_hex_encode(r.sig, sizeof r.sig, tx.sig);
        if (strcmp(tx.key, f[0]) || strcmp(tx.time, f[1]) || strcmp(tx.nonce, f[2]) ||
            strcmp(tx.sig, f[3]))
            abort();
        memset(&d, 'x', sizeof d);
        struct lm_pubkey pub = kp.pub;
        pub.key_id = r.key_id; /* reach the signature check whatever the key id */
        int v = lm_reqsig_verify(&pub, &r, f[4], f[5], f[6], body_len, &d);
        if (v != 0 && ((v != -LM_BAD_SIGNATURE && v != -LM_INVAL) || !fz_diag_terminated(&d)))
            abort();
        if (v == 0) {
            /* Ed25519 is deterministic: an accepted signature is the one we would make. */
            struct lm_reqsig again;
            if (lm_reqsig_sign(&kp, f[4], f[5], r.time, r.nonce, f[6], body_len, &again, NULL,
                               NULL) != 0 ||
                memcmp(again.sig, r.sig, sizeof r.sig) != 0)
                abort();
        }
    }
    /* The canonical string: refused with a message, or exactly its six lines. */
    char canon[LM_REQSIG_MAX_TARGET + 256];
    uint8_t nonce[LM_REQSIG_NONCE_BYTES] = {0};
    memset(&d, 'x', sizeof d);
    int n = lm_reqsig_canonical(f[4], f[5], 1, nonce, f[6], body_len, canon, sizeof canon, &d);
    if (n < 0 && (n != -LM_INVAL || !fz_diag_terminated(&d)))
        abort();
    if (n >= 0) {
        int lines = 0;
        for (int i = 0; i < n; i++)
            lines += canon[i] == '\n';
        if (lines != 5 || (size_t)n != strlen(canon) ||
            strncmp(canon, LM_REQSIG_PREFIX, strlen(LM_REQSIG_PREFIX)) != 0)
            abort();
    }
    free(buf);
    return 0;
}
