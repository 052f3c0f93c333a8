/* The host channel's frames (include/laundromat/hostchan.h): encoding and strict parsing. */
#include <string.h>

#include "laundromat/hostchan.h"
#include "lm.h"

/* Each type's one payload length, or -1 for a type that does not exist. */
static int payload_len(uint8_t type)
{
    switch (type) {
    case LM_HOSTCHAN_HELLO:
        return LM_HOSTCHAN_KEY_BYTES;
    case LM_HOSTCHAN_EVENTS:
        return 24;
    case LM_HOSTCHAN_NOTICE:
    case LM_HOSTCHAN_EXIT:
        return 4;
    case LM_HOSTCHAN_EXEC:
        return 0;
    default:
        return -1;
    }
}

size_t lm_hostchan_encode(const struct lm_hostchan_msg *m, uint8_t *out)
{
    int n = payload_len(m->type);
    if (n < 0)
        return 0;
    out[0] = LM_HOSTCHAN_MAGIC;
    out[1] = m->type;
    out[2] = (uint8_t)n;
    uint8_t *p = out + 3;
    switch (m->type) {
    case LM_HOSTCHAN_HELLO:
        memcpy(p, m->u.key, LM_HOSTCHAN_KEY_BYTES);
        break;
    case LM_HOSTCHAN_EVENTS:
        lm_put32(p, m->u.events.pending);
        lm_put32(p + 4, m->u.events.evict_ms);
        lm_put64(p + 8, m->u.events.credit_ms);
        lm_put64(p + 16, m->u.events.grace_ms);
        break;
    case LM_HOSTCHAN_NOTICE:
        lm_put32(p, m->u.notice);
        break;
    case LM_HOSTCHAN_EXIT:
        lm_put32(p, (uint32_t)m->u.status);
        break;
    }
    return 3 + (size_t)n;
}

int lm_hostchan_parse(const uint8_t *buf, size_t len, struct lm_hostchan_msg *m)
{
    if (len >= 1 && buf[0] != LM_HOSTCHAN_MAGIC)
        return -1;
    if (len < 3)
        return len >= 2 && payload_len(buf[1]) < 0 ? -1 : 0;
    int n = payload_len(buf[1]);
    if (n < 0 || buf[2] != n)
        return -1;
    if (len < 3 + (size_t)n)
        return 0;
    const uint8_t *p = buf + 3;
    memset(m, 0, sizeof *m);
    m->type = buf[1];
    switch (m->type) {
    case LM_HOSTCHAN_HELLO:
        memcpy(m->u.key, p, LM_HOSTCHAN_KEY_BYTES);
        break;
    case LM_HOSTCHAN_EVENTS:
        m->u.events.pending = lm_get32(p);
        m->u.events.evict_ms = lm_get32(p + 4);
        m->u.events.credit_ms = lm_get64(p + 8);
        m->u.events.grace_ms = lm_get64(p + 16);
        break;
    case LM_HOSTCHAN_NOTICE:
        m->u.notice = lm_get32(p);
        break;
    case LM_HOSTCHAN_EXIT:
        m->u.status = (int32_t)lm_get32(p);
        break;
    }
    return 3 + n;
}
