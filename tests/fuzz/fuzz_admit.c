/*
 * libFuzzer target: Evil Man's admission of a magic ping (host/ping.c), with the real replay
 * cache and rate limiter kept from one input to the next, as in the daemon. Input layout in
 * fixtures.h (FZ_ADMIT_*). Each answer is checked against an independent verdict built from
 * the library's decoders and lm_token_verify, and the replay cache against a copy kept here.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "evilman.h"
#include "fixtures.h"
#include "laundromat/keys.h"
#include "laundromat/payload.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct em_config cfg;
static struct lm_verify_ctx vctx;
static struct replay *replay;
static struct ratelimit *loose, *tight;
static uint64_t mono_ns = 1000000000ull; /* the rate limiters' clock; never 0 */
static uint64_t next_vm = 1;

/* What the cache should hold: every entry added, until replay_expire drops it. */
struct shadow {
    uint8_t id[LM_TOKEN_ID_BYTES];
    uint64_t expires_at;
    uint8_t dgram[LM_WIRE_MAX + 1];
    size_t len;
    uint8_t reply[LM_PING_REPLY_MAX];
    size_t reply_len;
    uint64_t answered_ns; /* the last answer about it: added, resent or refused as a replay */
};
static struct shadow shadow[FZ_ADMIT_REPLAY_CAP];
static unsigned nshadow;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[32];
    struct lm_keypair kp;
    fz_key_seed(seed);
    if (lm_key_from_seed(seed, &kp) != 0)
        abort();
    memset(&cfg, 0, sizeof cfg);
    strcpy(cfg.host_name, FZ_HOST);
    strcpy(cfg.cluster, FZ_CLUSTER);
    cfg.keys[0] = kp.pub;
    cfg.nkeys = 1;
    cfg.max_vms = FZ_ADMIT_MAX_VMS;
    cfg.max_mem_mib = FZ_ADMIT_MAX_MEM;
    cfg.total_mem_mib = FZ_ADMIT_TOTAL_MEM;
    cfg.max_skew_s = FZ_SKEW;
    cfg.warm_loaders = 1; /* a warm loader of 16 MiB, when the input's source says one runs */
    cfg.warm_mem_mib = 16;
    cfg.replay_capacity = FZ_ADMIT_REPLAY_CAP;
    cfg.loader_port = LM_LOADER_PORT;
    vctx = (struct lm_verify_ctx){.keys = cfg.keys,
                                  .nkeys = cfg.nkeys,
                                  .max_skew_s = FZ_SKEW,
                                  .host_name = FZ_HOST,
                                  .cluster_name = FZ_CLUSTER};
    replay = replay_new(cfg.replay_capacity);
    loose = ratelimit_new(1000000, 1000000);
    tight = ratelimit_new(FZ_TIGHT_GLOBAL, FZ_TIGHT_SOURCE);
    if (!replay || !loose || !tight)
        abort();
    return 0;
}

static struct shadow *shadow_find(const uint8_t id[LM_TOKEN_ID_BYTES])
{
    for (unsigned i = 0; i < nshadow; i++)
        if (memcmp(shadow[i].id, id, LM_TOKEN_ID_BYTES) == 0)
            return &shadow[i];
    return NULL;
}

/* replay_add, which must succeed exactly when the id is new and there is room; 1 if added. */
static int remember(const uint8_t id[LM_TOKEN_ID_BYTES], uint64_t expires_at, const uint8_t *dgram,
                    size_t len, const uint8_t *reply, size_t reply_len)
{
    int want = nshadow >= FZ_ADMIT_REPLAY_CAP || shadow_find(id) ? -1 : 0;
    if (replay_add(replay, id, expires_at, dgram, len, reply, reply_len, mono_ns) != want)
        abort();
    if (want == 0) {
        struct shadow *s = &shadow[nshadow++];
        memcpy(s->id, id, LM_TOKEN_ID_BYTES);
        s->expires_at = expires_at ? expires_at : 1;
        memcpy(s->dgram, dgram, len);
        s->len = len;
        memcpy(s->reply, reply, reply_len);
        s->reply_len = reply_len;
        s->answered_ns = mono_ns;
    }
    if (replay_count(replay) != nshadow)
        abort();
    return want == 0;
}

/*
 * replay_expire, then the cache against the copy: an entry still valid must be found with its
 * reply (else a token could boot twice); one that expired is forgotten once the cache no
 * longer knows it. An expired entry may outlive one pass: replay_expire re-places the rest of
 * a probe run behind the slot it empties, and an entry moved into that slot is not looked at
 * again in this pass. Harmless (a later pass drops it; keeping an id longer is safe), so the
 * copy keeps such an entry as long as the cache does.
 */
static void expire(uint64_t now)
{
    replay_expire(replay, now);
    for (unsigned i = 0; i < nshadow;) {
        struct shadow *s = &shadow[i];
        bool seen;
        size_t clen = 0;
        const uint8_t *cached = replay_lookup(replay, s->id, s->dgram, s->len, &seen, &clen);
        if (s->expires_at > now) {
            if (!seen || !cached || clen != s->reply_len || memcmp(cached, s->reply, clen) != 0)
                abort();
        } else if (!seen) {
            *s = shadow[--nshadow];
            continue;
        }
        i++;
    }
    if (replay_count(replay) != nshadow)
        abort();
}

static bool is_claims_status(int s)
{
    return s == LM_UNKNOWN_KEY || s == LM_EXPIRED || s == LM_NOT_YET_VALID || s == LM_WRONG_SCOPE;
}

/* The host's own refusal of a token, if any, in the order the host checks its limits. */
static int host_refusal(const struct lm_token *t, const struct admit_limits *lim)
{
    if (t->mem_mib > cfg.max_mem_mib || t->vcpus > 1)
        return LM_OVER_LIMIT;
    /* Warm loaders (16 MiB each here) are room the host takes back for any token. */
    uint64_t vms = lim->vms_running, mem = lim->mem_in_use_mib;
    for (unsigned i = 0; i < lim->warm_vms; i++) {
        vms -= vms > 0;
        mem -= mem >= 16 ? 16 : mem;
    }
    if (vms >= lim->max_vms || mem + t->mem_mib > lim->total_mem_mib)
        return LM_HOST_FULL;
    if (t->payload_kind == LM_PAYLOAD_CHECKPOINT && !lim->checkpoints)
        return LM_BAD_PAYLOAD_KIND; /* no key to vouch for a loader with */
    /* A checkpoint without an address is admitted: it takes a new identity (a restore). */
    if (t->payload_kind != LM_PAYLOAD_IMAGE && t->payload_kind != LM_PAYLOAD_CHECKPOINT)
        return LM_BAD_PAYLOAD_KIND;
    return 0;
}

static void check_answer(const struct admit *a, const uint8_t *dgram, size_t len, uint64_t now,
                         const struct admit_limits *lim)
{
    if (a->status < 0 || lm_status_name(a->status) == NULL || !fz_diag_terminated(&a->why))
        abort();
    if (a->resend != (a->cached != NULL) || (a->resend && a->status != 0) ||
        (a->quiet && (a->resend || a->status != LM_REPLAY)))
        abort();
    if (a->status != 0 && a->why.msg[0] == '\0') /* every refusal says why */
        abort();

    /* The verdict, step by step from the library's own checks. */
    struct lm_ping p;
    int rc = lm_ping_decode(dgram, len, &p, NULL);
    if (rc) {
        if (a->status != -rc || a->resend || a->quiet)
            abort();
        return;
    }
    struct lm_token t;
    rc = lm_token_decode(p.token, LM_TOKEN_SIZE, &t, NULL);
    if (rc) {
        if (a->status != -rc || a->resend || a->quiet)
            abort();
        return;
    }
    if (memcmp(&a->token, &t, sizeof t) != 0 || a->ping.nonce != p.nonce)
        abort();
    struct shadow *s = shadow_find(t.id);
    /* A token admitted here gets one answer per REPLAY_ANSWER_GAP_NS; the rest are dropped. */
    if (s && mono_ns - s->answered_ns < REPLAY_ANSWER_GAP_NS) {
        if (!a->quiet)
            abort();
        return;
    }
    if (a->quiet)
        abort();
    if (s)
        s->answered_ns = mono_ns;
    if (a->resend) {
        /* The very datagram that admitted the token: the reply sent then, byte for byte. */
        struct lm_ping_reply r;
        if (!s || s->len != len || memcmp(s->dgram, dgram, len) != 0 ||
            a->cached_len != s->reply_len || memcmp(a->cached, s->reply, s->reply_len) != 0 ||
            lm_ping_reply_decode(a->cached, a->cached_len, &r, NULL) != 0 ||
            memcmp(r.token_id, t.id, LM_TOKEN_ID_BYTES) != 0 || r.nonce != p.nonce)
            abort();
        return;
    }
    if (s) { /* known id, another datagram */
        if (a->status != LM_REPLAY)
            abort();
        return;
    }
    if (a->status == LM_REPLAY)
        abort();

    struct lm_verify_ctx c = vctx;
    c.now = now;
    struct lm_token tv;
    int vrc = lm_token_verify(p.token, LM_TOKEN_SIZE, &c, &tv, NULL);
    int policy = host_refusal(&t, lim);
    if (vrc != 0 && !is_claims_status(-vrc) && vrc != -LM_BAD_SIGNATURE)
        abort(); /* decode passed above: verify fails only on the claims or the signature */
    if (is_claims_status(-vrc)) {
        if (a->status != -vrc) /* claims come before the host's limits */
            abort();
    } else if (policy) {
        if (a->status != policy) /* the limits come before the signature */
            abort();
    } else if (a->status != LM_BUSY && a->status != -vrc) {
        abort(); /* then the rate limiter, then the signature */
    }
    if (a->status == 0) {
        /* Admitted: a genuine token, decoded alike, and nothing in the cache under its id. */
        bool seen;
        if (memcmp(&tv, &t, sizeof t) != 0 ||
            replay_lookup(replay, t.id, dgram, len, &seen, &(size_t){0}) != NULL || seen)
            abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < FZ_ADMIT_HEAD)
        return 0;
    uint8_t op = data[0], src = data[1], step = data[2], forge = data[3];
    const uint8_t *dgram = data + FZ_ADMIT_HEAD;
    size_t len = size - FZ_ADMIT_HEAD;
    if (len > LM_WIRE_MAX + 1) /* the daemon's receive buffer: longer datagrams are cut */
        len = LM_WIRE_MAX + 1;

    uint64_t now = (uint64_t)((int64_t)FZ_NOW + fz_admit_clock[(op >> FZ_ADMIT_CLOCK_SHIFT) & 7]);
    mono_ns += (uint64_t)step * step * 10000u;
    if (op & FZ_ADMIT_EXPIRE)
        expire(now);
    if (forge) {
        uint8_t id[LM_TOKEN_ID_BYTES] = {0}, reply[LM_PING_REPLY_MAX];
        size_t rlen = forge & 1 ? LM_PING_REPLY_VOUCHED_SIZE : LM_PING_REPLY_SIZE;
        if (len >= LM_PING_OFF_TOKEN + LM_TOK_OFF_ID + LM_TOKEN_ID_BYTES)
            memcpy(id, dgram + LM_PING_OFF_TOKEN + LM_TOK_OFF_ID, LM_TOKEN_ID_BYTES);
        id[0] ^= forge;
        fz_fill(reply, rlen, forge);
        remember(id, FZ_NOW + (uint64_t)(forge % 64) * 60, dgram, len, reply, rlen);
    }

    struct admit_limits lim = {0, FZ_ADMIT_MAX_VMS, 0, FZ_ADMIT_TOTAL_MEM, (src & 1) != 0, 0};
    switch ((op >> FZ_ADMIT_LIM_SHIFT) & 3) {
    case FZ_LIM_VMS_FULL:
        lim.vms_running = FZ_ADMIT_MAX_VMS;
        break;
    case FZ_LIM_MEM_FULL:
        lim.vms_running = 3;
        lim.mem_in_use_mib = FZ_ADMIT_TOTAL_MEM - 15;
        break;
    case FZ_LIM_LAST_SLOT:
        lim.vms_running = FZ_ADMIT_MAX_VMS - 1;
        lim.mem_in_use_mib = FZ_ADMIT_TOTAL_MEM - 16;
        break;
    }
    lim.warm_vms = (src & 2) ? (lim.vms_running < 2 ? lim.vms_running : 2) : 0;
    uint8_t ip[4] = {10, 9, 0, src};
    struct admit a;
    memset(&a, 'x', sizeof a);
    ping_admit(dgram, len, ip4_u32(ip), now, mono_ns, &cfg, &lim, replay,
               op & FZ_ADMIT_TIGHT ? tight : loose, &a);
    check_answer(&a, dgram, len, now, &lim);

    if (a.status == 0 && !a.resend && (op & FZ_ADMIT_REMEMBER)) {
        /* What the daemon does next: the reply it sends, remembered with the datagram. */
        struct lm_ping_reply r = {.nonce = a.ping.nonce,
                                  .vm_id = next_vm++,
                                  .server_time = now,
                                  .loader_port = LM_LOADER_PORT,
                                  .credit_ms = 1000};
        memcpy(r.token_id, a.token.id, LM_TOKEN_ID_BYTES);
        memcpy(r.loader_ip, ip, 4);
        if (a.token.payload_kind == LM_PAYLOAD_CHECKPOINT) { /* vouched: the longer reply */
            r.flags = LM_PING_REPLY_FLAG_VOUCHED;
            fz_fill(r.loader_pub, sizeof r.loader_pub, step);
            fz_fill(r.vouch_sig, sizeof r.vouch_sig, src);
        }
        uint8_t out[LM_PING_REPLY_MAX];
        int olen = lm_ping_reply_encode(&r, out, sizeof out);
        if (olen != (r.flags ? LM_PING_REPLY_VOUCHED_SIZE : LM_PING_REPLY_SIZE))
            abort();
        if (remember(a.token.id, a.token.expires_at, dgram, len, out, (size_t)olen)) {
            bool seen;
            size_t clen = 0;
            const uint8_t *c = replay_lookup(replay, a.token.id, dgram, len, &seen, &clen);
            if (!seen || !c || clen != (size_t)olen || memcmp(c, out, clen) != 0)
                abort();
        }
    }
    return 0;
}
