/*
 * Admission of a magic ping: the network-facing decision, fuzzed by tests/fuzz/fuzz_admit.c;
 * its only side effects are the rate limiter's buckets and the replay cache's answer stamp.
 * Cheapest checks first: framing, the token's structure, the replay cache (a token answered
 * in the last 100 ms: dropped unanswered), the host's limits; the signature check last, and
 * rate-limited.
 */
#include <stdio.h>
#include <string.h>

#include "evilman.h"

static void refuse(struct admit *a, int status)
{
    a->status = status < 0 ? -status : status;
}

void ping_admit(const uint8_t *dgram, size_t len, uint32_t source_ip, uint64_t now_s,
                uint64_t now_ns, const struct em_config *c, const struct admit_limits *lim,
                struct replay *replay, struct ratelimit *rl, struct admit *a)
{
    memset(a, 0, sizeof *a);
    int rc = lm_ping_decode(dgram, len, &a->ping, &a->why);
    if (rc)
        return refuse(a, rc);
    rc = lm_token_decode(a->ping.token, LM_TOKEN_SIZE, &a->token, &a->why);
    if (rc)
        return refuse(a, rc);

    char idh[33];
    lm_token_id_hex(a->token.id, idh);
    if (replay_gate(replay, a->token.id, now_ns) < 0) {
        a->quiet = true;
        lm_fail(&a->why, LM_REPLAY, "token %s: admitted here and answered within the last %llu ms: dropped", idh, REPLAY_ANSWER_GAP_NS / 1000000);
        return refuse(a, LM_REPLAY);
    }
    bool seen;
    a->cached = replay_lookup(replay, a->token.id, dgram, len, &seen, &a->cached_len);
    if (a->cached) {
        a->resend = true; /* the same datagram again: the same answer */
        return;
    }
    if (seen) {
        lm_fail(&a->why, LM_REPLAY, "token %s: already booted a VM here", idh);
        return refuse(a, LM_REPLAY);
    }

    /* Everything but the signature: this host's keys, clock and scope; its limits. */
    struct lm_verify_ctx ctx = {
        .keys = c->keys, .nkeys = c->nkeys, .now = now_s, .max_skew_s = c->max_skew_s,
        .host_name = c->host_name, .cluster_name = c->cluster[0] ? c->cluster : NULL,
    };
    const struct lm_pubkey *key;
    rc = lm_token_check_claims(&a->token, &ctx, &key, &a->why);
    if (rc)
        return refuse(a, rc);

    if (a->token.mem_mib > c->max_mem_mib || a->token.vcpus > 1)
        return refuse(a, lm_fail(&a->why, LM_OVER_LIMIT, "token %s: %u MiB, %u vCPUs; this "
                                 "host runs at most %llu MiB and 1 vCPU per VM", idh,
                                 a->token.mem_mib, a->token.vcpus,
                                 (unsigned long long)c->max_mem_mib));
    /* Warm loaders' room is the host's to take back: a token either takes one or has one
     * destroyed for its room (vm_warm_make_room). */
    unsigned vms = lim->vms_running > lim->warm_vms ? lim->vms_running - lim->warm_vms : 0;
    uint64_t warm_mem = (uint64_t)lim->warm_vms * c->warm_mem_mib;
    uint64_t mem = lim->mem_in_use_mib > warm_mem ? lim->mem_in_use_mib - warm_mem : 0;
    if (vms >= lim->max_vms || mem + a->token.mem_mib > lim->total_mem_mib)
        return refuse(a, lm_fail(&a->why, LM_HOST_FULL, "token %s: host full (%u of %u VMs, "
                                 "%llu of %llu MiB in use, %u MiB asked)", idh, vms,
                                 lim->max_vms, (unsigned long long)mem,
                                 (unsigned long long)lim->total_mem_mib, a->token.mem_mib));
    if (a->token.payload_kind == LM_PAYLOAD_CHECKPOINT && !lim->checkpoints)
        return refuse(a, lm_fail(&a->why, LM_BAD_PAYLOAD_KIND, "token %s: a checkpoint; this "
                                 "host has no operator key to vouch for a loader with, so it "
                                 "takes only images", idh));
    if (a->token.payload_kind != LM_PAYLOAD_IMAGE &&
        a->token.payload_kind != LM_PAYLOAD_CHECKPOINT)
        return refuse(a, lm_fail(&a->why, LM_BAD_PAYLOAD_KIND, "token %s: payload kind %u; "
                                 "this host's loader takes images and checkpoints", idh,
                                 a->token.payload_kind));
    if (!ratelimit_take(rl, source_ip, now_ns))
        return refuse(a, lm_fail(&a->why, LM_BUSY, "token %s: too many signature checks from "
                                 "this source or in all; try again", idh));
    rc = lm_token_check_signature(a->ping.token, key, &a->why);
    if (rc)
        return refuse(a, rc);
    a->status = LM_OK;
}
