/* The loader's payload header: encode for senders, strict decode for the loader. */
#include <string.h>

#include "laundromat/payload.h"
#include "lm.h"

void lm_payload_header_encode(const struct lm_payload_header *h,
                              uint8_t out[LM_PAYLOAD_HEADER_SIZE])
{
    memset(out, 0, LM_PAYLOAD_HEADER_SIZE);
    memcpy(out, LM_PAYLOAD_MAGIC, 4);
    lm_put16(out + 4, LM_PAYLOAD_VERSION);
    lm_put16(out + 6, h->kind);
    lm_put64(out + 8, h->length);
    lm_put32(out + 16, h->cmdline_len);
}

int lm_payload_header_decode(const uint8_t *b, size_t len, struct lm_payload_header *h,
                             struct lm_diag *d)
{
    if (len < LM_PAYLOAD_HEADER_SIZE)
        return lm_fail(d, LM_TRUNCATED, "payload header: %zu bytes, expected %d", len,
                       LM_PAYLOAD_HEADER_SIZE);
    if (len > LM_PAYLOAD_HEADER_SIZE)
        return lm_fail(d, LM_TRAILING, "payload header: %zu bytes, expected %d", len,
                       LM_PAYLOAD_HEADER_SIZE);
    if (memcmp(b, LM_PAYLOAD_MAGIC, 4) != 0)
        return lm_fail(d, LM_BAD_MAGIC, "payload header: magic %02x%02x%02x%02x, expected "
                       "\"LMPL\"", b[0], b[1], b[2], b[3]);
    if (lm_get16(b + 4) != LM_PAYLOAD_VERSION)
        return lm_fail(d, LM_BAD_VERSION, "payload header: version %u, this loader reads %d",
                       lm_get16(b + 4), LM_PAYLOAD_VERSION);
    h->kind = lm_get16(b + 6);
    h->length = lm_get64(b + 8);
    h->cmdline_len = lm_get32(b + 16);
    if (lm_get32(b + 20) != 0)
        return lm_fail(d, LM_RESERVED_NONZERO, "payload header: reserved bytes are not zero");
    if (h->kind != LM_PAYLOAD_IMAGE && h->kind != LM_PAYLOAD_CHECKPOINT)
        return lm_fail(d, LM_BAD_PAYLOAD_KIND, "payload header: kind %u, expected 1 (image) or "
                       "2 (checkpoint)", h->kind);
    if (h->length == 0 || h->length > LM_PAYLOAD_MAX)
        return lm_fail(d, LM_OVERSIZED, "payload header: %llu bytes of payload, the loader "
                       "takes 1 to %u", (unsigned long long)h->length, LM_PAYLOAD_MAX);
    if (h->cmdline_len > LM_PAYLOAD_CMDLINE_MAX)
        return lm_fail(d, LM_OVERSIZED, "payload header: command line of %u bytes, at most %d",
                       h->cmdline_len, LM_PAYLOAD_CMDLINE_MAX);
    return 0;
}
