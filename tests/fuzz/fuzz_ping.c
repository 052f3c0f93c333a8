/* libFuzzer target: magic ping and ping reply decode, with a byte-exact re-encode round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/token.h"
#include "laundromat/wire.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_failure(int rc, const struct lm_diag *d)
{
    if (rc >= 0 || lm_status_name(rc) == NULL || !fz_diag_terminated(d))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint8_t out[LM_WIRE_MAX];
    struct lm_diag d;

    struct lm_ping p;
    memset(&d, 'x', sizeof d);
    int rc = lm_ping_decode(data, size, &p, &d);
    if (rc != 0) {
        check_failure(rc, &d);
    } else {
        size_t want = p.has_payment ? LM_PING_SIZE_PAID : LM_PING_SIZE;
        if (size != want || lm_ping_encode(&p, out, sizeof out) != (int)want ||
            memcmp(out, data, size) != 0 || lm_ping_encode(&p, out, want - 1) != -LM_INVAL)
            abort();
        /* What a host does next: the token inside must decode or fail cleanly. */
        struct lm_token t;
        memset(&d, 'x', sizeof d);
        rc = lm_token_decode(p.token, sizeof p.token, &t, &d);
        if (rc != 0)
            check_failure(rc, &d);
    }

    struct lm_ping_reply r;
    memset(&d, 'x', sizeof d);
    rc = lm_ping_reply_decode(data, size, &r, &d);
    if (rc != 0) {
        check_failure(rc, &d);
    } else {
        size_t want = r.flags & LM_PING_REPLY_FLAG_VOUCHED ? LM_PING_REPLY_VOUCHED_SIZE
                                                           : LM_PING_REPLY_SIZE;
        if (size != want || lm_ping_reply_encode(&r, out, sizeof out) != (int)want ||
            memcmp(out, data, size) != 0 || lm_ping_reply_encode(&r, out, want - 1) != -LM_INVAL)
            abort();
    }
    return 0;
}
