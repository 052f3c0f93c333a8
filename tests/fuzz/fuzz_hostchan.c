/*
 * libFuzzer target: the host channel's frames (lib/hostchan.c), which Evil Man reads from a
 * guest it does not trust (host/backend/libvirt.c, chan_read). The input is the guest's byte
 * stream, parsed frame after frame the way the host does until it needs more or finds it
 * broken. A frame taken is byte for byte what encoding its message gives back (one spelling
 * per message: nothing unread or unchecked rides along); every shorter prefix of it asks for
 * more rather than breaking (the host sees frames split across reads); "need more" comes only
 * while less than the longest frame remains; no answer claims more than it was given.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/hostchan.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Each prefix of the frame data[0..n) copied to the end of an n-byte heap block, so that ASan
 * sees any read past the prefix (within the input it would go unnoticed). */
static void check_prefixes(const uint8_t *data, size_t n)
{
    uint8_t *buf = malloc(n);
    if (!buf)
        abort();
    for (size_t k = 0; k < n; k++) {
        struct lm_hostchan_msg m;
        memcpy(buf + n - k, data, k);
        if (lm_hostchan_parse(buf + n - k, k, &m) != 0)
            abort();
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t off = 0;
    for (;;) {
        size_t left = size - off;
        struct lm_hostchan_msg m;
        int n = lm_hostchan_parse(data + off, left, &m);
        if (n < 0) {
            if (n != -1)
                abort();
            return 0;
        }
        if (n == 0) {
            if (left >= LM_HOSTCHAN_FRAME_MAX)
                abort();
            return 0;
        }
        if ((size_t)n > left)
            abort();
        uint8_t f[LM_HOSTCHAN_FRAME_MAX];
        if (lm_hostchan_encode(&m, f) != (size_t)n || memcmp(f, data + off, (size_t)n) != 0)
            abort();
        check_prefixes(data + off, (size_t)n);
        off += (size_t)n;
    }
}
