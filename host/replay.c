/*
 * The replay cache: every token admitted here, until it expires, with the datagram that
 * admitted it and the reply sent. Fixed capacity, open addressing; lookups cost one hash of
 * the datagram and no signature check, so replays are cheap to answer.
 */
#include <stdlib.h>
#include <string.h>

#include "evilman.h"
#include "laundromat/hash.h"

#define DOMAIN_DGRAM "laundromat/replay-datagram/v1" /* host-local, never on the wire */

struct entry {
    uint8_t id[LM_TOKEN_ID_BYTES];
    uint8_t digest[LM_HASH_BYTES];   /* of the admitting datagram */
    uint8_t reply[LM_PING_REPLY_MAX];
    uint8_t reply_len;
    uint64_t expires_at;             /* 0: free slot */
    uint64_t answered_ns;            /* the last answer about this token (monotonic) */
};

struct replay {
    struct entry *slots;
    unsigned mask, capacity, count;
};

struct replay *replay_new(unsigned capacity)
{
    struct replay *r = calloc(1, sizeof *r);
    unsigned size = 16;
    while (size < 2 * capacity) /* at most half full: probes stay short */
        size *= 2;
    if (r)
        r->slots = calloc(size, sizeof *r->slots);
    if (!r || !r->slots) {
        free(r);
        return NULL;
    }
    r->mask = size - 1;
    r->capacity = capacity;
    return r;
}

void replay_free(struct replay *r)
{
    if (r)
        free(r->slots);
    free(r);
}

static unsigned slot_of(const struct replay *r, const uint8_t id[LM_TOKEN_ID_BYTES])
{
    uint64_t h; /* token ids are random: their bytes are hash enough */
    memcpy(&h, id, sizeof h);
    return (unsigned)(h ^ (h >> 29)) & r->mask;
}

static struct entry *find(struct replay *r, const uint8_t id[LM_TOKEN_ID_BYTES])
{
    for (unsigned i = slot_of(r, id);; i = (i + 1) & r->mask) {
        struct entry *e = &r->slots[i];
        if (!e->expires_at)
            return NULL;
        if (memcmp(e->id, id, LM_TOKEN_ID_BYTES) == 0)
            return e;
    }
}

const uint8_t *replay_lookup(struct replay *r, const uint8_t id[LM_TOKEN_ID_BYTES],
                             const uint8_t *dgram, size_t len, bool *seen, size_t *reply_len)
{
    struct entry *e = find(r, id);
    *seen = e != NULL;
    if (!e)
        return NULL;
    uint8_t digest[LM_HASH_BYTES];
    if (lm_hash(DOMAIN_DGRAM, dgram, len, digest) != 0)
        return NULL;
    if (memcmp(digest, e->digest, LM_HASH_BYTES) != 0)
        return NULL;
    *reply_len = e->reply_len;
    return e->reply;
}

int replay_gate(struct replay *r, const uint8_t id[LM_TOKEN_ID_BYTES], uint64_t now_ns)
{
    struct entry *e = find(r, id);
    if (!e)
        return 0;
    if (now_ns - e->answered_ns < REPLAY_ANSWER_GAP_NS)
        return -1;
    e->answered_ns = now_ns;
    return 1;
}

int replay_add(struct replay *r, const uint8_t id[LM_TOKEN_ID_BYTES], uint64_t expires_at,
               const uint8_t *dgram, size_t len, const uint8_t *reply, size_t reply_len,
               uint64_t now_ns)
{
    if (r->count >= r->capacity || find(r, id) || reply_len > LM_PING_REPLY_MAX)
        return -1;
    unsigned i = slot_of(r, id);
    while (r->slots[i].expires_at)
        i = (i + 1) & r->mask;
    struct entry *e = &r->slots[i];
    memcpy(e->id, id, LM_TOKEN_ID_BYTES);
    if (lm_hash(DOMAIN_DGRAM, dgram, len, e->digest) != 0)
        return -1;
    memcpy(e->reply, reply, reply_len);
    e->reply_len = (uint8_t)reply_len;
    e->expires_at = expires_at ? expires_at : 1;
    e->answered_ns = now_ns; /* the admission's own reply */
    r->count++;
    return 0;
}

/* Drops expired entries, re-placing the rest of each probe run (no tombstones). */
void replay_expire(struct replay *r, uint64_t now)
{
    for (unsigned i = 0; i <= r->mask;) {
        struct entry *e = &r->slots[i];
        if (!e->expires_at || e->expires_at > now) {
            i++;
            continue;
        }
        e->expires_at = 0;
        r->count--;
        for (unsigned j = (i + 1) & r->mask; r->slots[j].expires_at; j = (j + 1) & r->mask) {
            struct entry moved = r->slots[j];
            r->slots[j].expires_at = 0;
            unsigned k = slot_of(r, moved.id);
            while (r->slots[k].expires_at)
                k = (k + 1) & r->mask;
            r->slots[k] = moved;
        }
        /* slot i may have taken an entry of the run: look at it again */
    }
}

unsigned replay_count(const struct replay *r)
{
    return r->count;
}
