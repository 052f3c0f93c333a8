/* libFuzzer target: the loader's payload header decode, its limits and a byte-exact round trip. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A refusal is a known status with a NUL-terminated, non-empty reason. */
static void check_failure(int rc, const struct lm_diag *d)
{
    if (rc >= 0 || lm_status_name(rc) == NULL || !fz_diag_terminated(d) || d->msg[0] == '\0')
        abort();
}

/* An accepted header keeps every promise of payload.h and encodes back to the same bytes. */
static void check_accepted(const uint8_t *b, const struct lm_payload_header *h)
{
    const struct lm_payload_kind_info *k = lm_payload_kind_info(h->kind);
    if (!k || (h->kind != LM_PAYLOAD_IMAGE && h->kind != LM_PAYLOAD_CHECKPOINT))
        abort();
    if (h->length < 1 || h->length > (h->kind == LM_PAYLOAD_IMAGE ? LM_PAYLOAD_MAX : LM_CHECKPOINT_MAX))
        abort();
    if (h->cmdline_len > (h->kind == LM_PAYLOAD_IMAGE ? LM_PAYLOAD_CMDLINE_MAX : 0))
        abort();
    uint8_t out[LM_PAYLOAD_HEADER_SIZE];
    memset(out, 0xa5, sizeof out);
    lm_payload_header_encode(h, out);
    if (memcmp(out, b, LM_PAYLOAD_HEADER_SIZE) != 0)
        abort();
}

/* Decodes exactly len bytes; returns the status. */
static int decode(const uint8_t *b, size_t len)
{
    struct lm_payload_header h;
    struct lm_diag d;
    memset(&h, 0x5a, sizeof h);
    memset(&d, 'x', sizeof d);
    int rc = lm_payload_header_decode(b, len, &h, &d);
    if (rc != 0)
        check_failure(rc, &d);
    else if (len != LM_PAYLOAD_HEADER_SIZE)
        abort();
    else
        check_accepted(b, &h);
    return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* The whole input, as one header: exercises the exact-length rule. */
    int whole = decode(data, size);
    if (size < LM_PAYLOAD_HEADER_SIZE && whole != -LM_TRUNCATED)
        abort();
    if (size > LM_PAYLOAD_HEADER_SIZE && whole != -LM_TRAILING)
        abort();
    /* Its first 24 bytes, as the loader reads them off the stream (the command line and the
     * payload follow): exercises every field whatever the input's length. */
    if (size > LM_PAYLOAD_HEADER_SIZE)
        decode(data, LM_PAYLOAD_HEADER_SIZE);
    return 0;
}
