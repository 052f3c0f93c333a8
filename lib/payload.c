/* The loader's payload header: encode for senders, strict decode for the loader. */
#include <string.h>

#include "laundromat/hash.h"
#include "laundromat/payload.h"
#include "lm.h"

static const struct lm_payload_kind_info kinds[] = {
    {LM_PAYLOAD_IMAGE, "image", LM_DOMAIN_IMAGE, LM_PAYLOAD_MAX, LM_PAYLOAD_CMDLINE_MAX},
    {LM_PAYLOAD_CHECKPOINT, "checkpoint", LM_DOMAIN_MIGRATE, LM_CHECKPOINT_MAX, 0},
};

const struct lm_payload_kind_info *lm_payload_kind_info(uint16_t kind)
{
    for (size_t i = 0; i < sizeof kinds / sizeof kinds[0]; i++)
        if (kinds[i].kind == kind)
            return &kinds[i];
    return NULL;
}

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
    const struct lm_payload_kind_info *k = lm_payload_kind_info(h->kind);
    if (!k)
        return lm_fail(d, LM_BAD_PAYLOAD_KIND, "payload header: kind %u, expected 1 (image) or 2 (checkpoint)", h->kind);
    if (h->length == 0 || h->length > k->max_length)
        return lm_fail(d, LM_OVERSIZED, "payload header: %llu bytes of %s, the loader takes 1 to %llu", (unsigned long long)h->length, k->name, (unsigned long long)k->max_length);
    if (h->cmdline_len > k->max_cmdline)
        return lm_fail(d, LM_OVERSIZED, "payload header: command line of %u bytes, a%s %s takes at most %u", h->cmdline_len, k->kind == LM_PAYLOAD_IMAGE ? "n" : "", k->name, k->max_cmdline);
    return 0;
}
