/*
 * Token buckets: one for all sources together (none when its rate is 0) and one per source
 * address (a fixed table, hashed; colliding sources share a bucket). For signature checks, a
 * flood of well-formed tokens with bad signatures then costs at most verify_rate checks a
 * second, and one source cannot take the whole budget from the others; for datagrams while the
 * agent is behind, one source's flood is shed before any decoding (main.c).
 */
#include <stdlib.h>

#include "evilman.h"

#define SOURCES 4096

struct bucket {
    uint64_t last_ns;
    double tokens;
};

struct ratelimit {
    unsigned global_rate, source_rate;
    struct bucket global;
    struct bucket source[SOURCES];
};

struct ratelimit *ratelimit_new(unsigned global_per_s, unsigned per_source_per_s)
{
    struct ratelimit *r = calloc(1, sizeof *r);
    if (r) {
        r->global_rate = global_per_s;
        r->source_rate = per_source_per_s;
    }
    return r;
}

void ratelimit_free(struct ratelimit *r)
{
    free(r);
}

/* Refills b at rate per second up to one second's worth; takes one token if there is one. */
static bool take(struct bucket *b, unsigned rate, uint64_t now_ns)
{
    if (b->last_ns == 0 || now_ns < b->last_ns)
        b->tokens = rate;
    else
        b->tokens += (double)(now_ns - b->last_ns) * rate / 1e9;
    if (b->tokens > rate)
        b->tokens = rate;
    b->last_ns = now_ns;
    if (b->tokens < 1)
        return false;
    b->tokens -= 1;
    return true;
}

bool ratelimit_take(struct ratelimit *r, uint32_t source_ip, uint64_t now_ns)
{
    uint32_t h = source_ip * 2654435761u;
    struct bucket *s = &r->source[h >> 20]; /* top 12 bits */
    if (!take(s, r->source_rate, now_ns))
        return false;
    return r->global_rate == 0 || take(&r->global, r->global_rate, now_ns);
}
