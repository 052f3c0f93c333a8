/* Redemption: an operator presents a token's newest link; the broker checks it against the
 * last redeemed link and pays each unit once. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "laundromat/chain.h"
#include "laundromat/util.h"

/*
 * Hashing a link forward can cost up to 2^24 steps (seconds), so it is done after
 * authentication but outside the ledger lock, against a snapshot of the token's state; the
 * transaction reuses the result when the state is unchanged and recomputes it otherwise.
 */
struct redeem_prep {
    uint64_t index;
    uint8_t link[LM_HASH_BYTES];
    char host[BROKER_NAME_MAX + 1];
    int have_snapshot; /* a snapshot was taken and hashed */
    int64_t snap_base; /* redeemed_index at the snapshot (0 when never redeemed) */
    int snap_redeemed; /* whether the token had been redeemed at the snapshot */
    int snap_match;    /* H^(index - base)(link) == last link */
};

/* Hashes link forward steps times and compares with want. */
static int hashes_to(const uint8_t link[LM_HASH_BYTES], uint64_t steps,
                     const uint8_t want[LM_HASH_BYTES])
{
    uint8_t h[LM_HASH_BYTES];
    memcpy(h, link, sizeof h);
    for (uint64_t i = 0; i < steps; i++)
        if (lm_chain_step(h, h) != 0)
            return 0;
    return memcmp(h, want, sizeof h) == 0;
}

/* The state of a token that redemption needs. */
struct tstate {
    int64_t buyer_id, chain_len, prepaid, unit_price, cost, paid, base;
    int redeemed, refunded, cluster;
    char scope[BROKER_NAME_MAX + 1];
    uint8_t last[LM_HASH_BYTES];
};

/* 0 found, 1 unknown, -1 ledger error. */
static int load_state(struct broker *b, const char *id, struct tstate *s)
{
    sqlite3_stmt *st = ledger_prep(b,
                                   "SELECT buyer_id, chain_len, prepaid_units, unit_price, cost, "
                                   "paid, redeemed_index, refunded_at, scope_kind, scope, "
                                   "last_link FROM tokens WHERE id = ?1",
                                   "t", id);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        s->buyer_id = sqlite3_column_int64(st, 0);
        s->chain_len = sqlite3_column_int64(st, 1);
        s->prepaid = sqlite3_column_int64(st, 2);
        s->unit_price = sqlite3_column_int64(st, 3);
        s->cost = sqlite3_column_int64(st, 4);
        s->paid = sqlite3_column_int64(st, 5);
        s->redeemed = sqlite3_column_type(st, 6) != SQLITE_NULL;
        s->base = s->redeemed ? sqlite3_column_int64(st, 6) : 0;
        s->refunded = sqlite3_column_type(st, 7) != SQLITE_NULL;
        s->cluster = !strcmp((const char *)sqlite3_column_text(st, 8), "cluster");
        snprintf(s->scope, sizeof s->scope, "%s", (const char *)sqlite3_column_text(st, 9));
        lm_hex_decode((const char *)sqlite3_column_text(st, 10), s->last, LM_HASH_BYTES);
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

int h_redeem_prepare(struct call *c)
{
    static const char *const known[] = {"index", "link", "host", NULL};
    if (!lower_hex_ok(c->arg, 32))
        return call_fail(c, 400, "BAD_FIELD",
                         "token id \"%.40s\" in the path is not 32 "
                         "lowercase hex digits",
                         c->arg);
    struct redeem_prep *p = calloc(1, sizeof *p);
    if (!p)
        return call_fail(c, 500, "INTERNAL", "out of memory");
    c->prep = p;
    if (f_known(c, known) || f_u64(c, "index", 1, 0, UINT32_MAX, &p->index) ||
        f_hex(c, "link", 1, p->link, LM_HASH_BYTES, NULL) || f_name(c, "host", 0, p->host))
        return -1;
    struct tstate s;
    ledger_lock(c->b);
    int rc = load_state(c->b, c->arg, &s);
    ledger_unlock(c->b);
    if (rc < 0)
        return call_db_fail(c);
    /* Only the hashing is done here; every decision is taken in the transaction. */
    if (rc == 0 && !s.refunded && (int64_t)p->index > s.base && (int64_t)p->index <= s.chain_len) {
        p->have_snapshot = 1;
        p->snap_base = s.base;
        p->snap_redeemed = s.redeemed;
        p->snap_match = hashes_to(p->link, p->index - (uint64_t)s.base, s.last);
    }
    return 0;
}

void h_redeem_free(struct call *c)
{
    free(c->prep);
    c->prep = NULL;
}

int h_redeem(struct call *c)
{
    struct redeem_prep *p = c->prep;
    const char *id = c->arg;
    struct tstate s;
    int rc = load_state(c->b, id, &s);
    if (rc < 0)
        return call_db_fail(c);
    if (rc > 0)
        return call_fail(c, 404, "UNKNOWN_TOKEN", "no token %s", id);

    /* The caller must operate the token's host, or a host of its cluster. */
    int64_t mine;
    if (ledger_int(c->b, &mine,
                   s.cluster ? "SELECT COUNT(*) FROM hosts WHERE cluster = ?1 AND "
                               "operator_id = ?2"
                             : "SELECT COUNT(*) FROM hosts WHERE name = ?1 AND "
                               "operator_id = ?2",
                   "ti", s.scope, c->who.id) != 0)
        return call_db_fail(c);
    if (!mine)
        return call_fail(c, 403, "NOT_YOUR_HOST",
                         "token %s is scoped to %s \"%s\", which has "
                         "no host of operator \"%s\"",
                         id, s.cluster ? "cluster" : "host", s.scope, c->who.name);
    if (p->host[0]) {
        int64_t ok;
        if (ledger_int(c->b, &ok,
                       "SELECT COUNT(*) FROM hosts WHERE name = ?1 AND operator_id = "
                       "?2 AND (name = ?3 OR cluster = ?3)",
                       "tit", p->host, c->who.id, s.scope) != 0)
            return call_db_fail(c);
        if (!ok)
            return call_fail(c, 403, "NOT_YOUR_HOST",
                             "host \"%s\" is not a host of operator "
                             "\"%s\" within the token's scope \"%s\"",
                             p->host, c->who.name, s.scope);
    }
    if (s.refunded)
        return call_fail(c, 410, "REFUNDED",
                         "token %s was refunded to its buyer after its "
                         "settlement deadline; nothing is left to redeem",
                         id);
    if ((int64_t)p->index > s.chain_len)
        return call_fail(c, 422, "BEYOND_CHAIN",
                         "index %" PRIu64 " is beyond the token's chain "
                         "of %" PRId64 " links",
                         p->index, s.chain_len);
    if (s.redeemed && (int64_t)p->index <= s.base) {
        int same = (int64_t)p->index == s.base;
        call_fail(c, 409, same ? "ALREADY_REDEEMED" : "OUT_OF_ORDER",
                  "index %" PRIu64 " of token %s: %s; the last redeemed index is %" PRId64
                  ", redeem a newer link",
                  p->index, id, same ? "already redeemed" : "older than the last redeemed link",
                  s.base);
        json_object_set_new(c->reply, "last_redeemed_index", json_integer(s.base));
        return -1;
    }
    /* Index 0 (never redeemed before) presents the anchor itself: prepaid units only. */
    int genuine;
    if (p->have_snapshot && p->snap_base == s.base && p->snap_redeemed == s.redeemed)
        genuine = p->snap_match;
    else
        genuine = hashes_to(p->link, p->index - (uint64_t)s.base, s.last);
    if (!genuine)
        return call_fail(c, 422, "FORGED_LINK",
                         "link %" PRIu64 " of token %s does not hash to "
                         "%s %" PRId64 " in %" PRIu64 " steps; it is not a link of this chain",
                         p->index, id, s.redeemed ? "the last redeemed link" : "the anchor, link",
                         s.base, p->index - (uint64_t)s.base);
    int64_t units = (s.redeemed ? 0 : s.prepaid) + ((int64_t)p->index - s.base);
    int64_t amount = units * s.unit_price;
    if (units == 0) /* index 0 of a token without prepaid units: nothing to pay */
        return call_fail(c, 409, "NOTHING_TO_REDEEM",
                         "index 0 of token %s carries no prepaid "
                         "units; redeem a chain link",
                         id);
    if (s.paid + amount > s.cost) {
        lm_err("redeem %s: paying %" PRId64 " would exceed the cost %" PRId64 " (paid %" PRId64 ")",
               id, amount, s.cost, s.paid);
        return call_fail(c, 500, "INTERNAL", "ledger inconsistency on token %s; nothing paid", id);
    }
    char link_hex[65];
    lm_hex_encode(p->link, LM_HASH_BYTES, link_hex);
    if (ledger_exec(c->b,
                    "UPDATE tokens SET redeemed_index = ?1, last_link = ?2, paid = paid + "
                    "?3 WHERE id = ?4",
                    "itit", (int64_t)p->index, link_hex, amount, id) != 0 ||
        ledger_exec(c->b,
                    "INSERT INTO redemptions (token_id, operator_id, host, from_index, "
                    "to_index, units, amount, time) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                    "tit"
                    "iiiii",
                    id, c->who.id, p->host[0] ? p->host : NULL, s.redeemed ? s.base : (int64_t)-1,
                    (int64_t)p->index, units, amount, c->now) != 0 ||
        ledger_move(c->b, c->who.id, "payment", amount, id, c->now) != 0)
        return call_db_fail(c);
    int64_t balance;
    if (ledger_int(c->b, &balance, "SELECT balance FROM accounts WHERE id = ?1", "i", c->who.id) !=
        0)
        return call_db_fail(c);
    json_t *j =
        json_pack("{s:s s:I s:I s:I s:I s:I s:I s:I}", "token_id", id, "index",
                  (json_int_t)p->index, "units", (json_int_t)units, "amount", (json_int_t)amount,
                  "paid", (json_int_t)(s.paid + amount), "cost", (json_int_t)s.cost, "remaining",
                  (json_int_t)(s.cost - s.paid - amount), "balance", (json_int_t)balance);
    json_object_set_new(j, "previous_index", s.redeemed ? json_integer(s.base) : json_null());
    return call_ok(c, 200, j);
}
