/* Token sales: pricing, the credit check and reservation, signing; the broker's public keys. */
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "laundromat/netaddr.h"
#include "laundromat/reqsig.h"
#include "laundromat/token.h"
#include "laundromat/util.h"

int h_keys(struct call *c)
{
    json_t *list = json_array();
    for (int i = 0; i < c->b->nkeys; i++) {
        char kid[17], pk[65];
        snprintf(kid, sizeof kid, "%016" PRIx64, c->b->keys[i].key_id);
        lm_hex_encode(c->b->keys[i].pk, 32, pk);
        json_array_append_new(
            list, json_pack("{s:s s:s s:b}", "key_id", kid, "public_key", pk, "current", i == 0));
    }
    return call_ok(c, 200, json_pack("{s:o}", "keys", list));
}

#define TOKEN_COLS                                                                                 \
    "t.id, t.token, t.key_id, t.scope_kind, t.scope, t.issued_at, t.expires_at, t.mem_mib, "       \
    "t.vcpus, t.payload, t.chain_len, t.prepaid_units, t.link_value_ms, t.unit_price, t.cost, "    \
    "t.paid, t.refunded, t.redeemed_index, t.refunded_at, a.name, t.buyer_id, t.request_hash, "    \
    "t.name "

/* A token row as JSON (columns TOKEN_COLS). */
static json_t *token_json(struct call *c, sqlite3_stmt *st)
{
    int64_t expires = sqlite3_column_int64(st, 6);
    json_t *j = json_pack(
        "{s:s s:s s:s s:s s:s s:I s:I s:I s:I s:s s:I s:I s:I s:I s:I s:I s:I s:I s:s s:s s:I}",
        "token_id", sqlite3_column_text(st, 0), "token", sqlite3_column_text(st, 1), "key_id",
        sqlite3_column_text(st, 2), "scope_kind", sqlite3_column_text(st, 3), "scope",
        sqlite3_column_text(st, 4), "issued_at", (json_int_t)sqlite3_column_int64(st, 5),
        "expires_at", (json_int_t)expires, "mem_mib", (json_int_t)sqlite3_column_int64(st, 7),
        "vcpus", (json_int_t)sqlite3_column_int64(st, 8), "payload", sqlite3_column_text(st, 9),
        "chain_len", (json_int_t)sqlite3_column_int64(st, 10), "prepaid_units",
        (json_int_t)sqlite3_column_int64(st, 11), "link_value_ms",
        (json_int_t)sqlite3_column_int64(st, 12), "unit_price",
        (json_int_t)sqlite3_column_int64(st, 13), "cost", (json_int_t)sqlite3_column_int64(st, 14),
        "paid", (json_int_t)sqlite3_column_int64(st, 15), "refunded",
        (json_int_t)sqlite3_column_int64(st, 16), "refundable_at",
        (json_int_t)(expires + (int64_t)c->b->cfg.settlement_grace_s), "state",
        sqlite3_column_type(st, 18) == SQLITE_NULL ? "open" : "refunded", "buyer",
        sqlite3_column_text(st, 19), "remaining",
        (json_int_t)(sqlite3_column_int64(st, 14) - sqlite3_column_int64(st, 15) -
                     sqlite3_column_int64(st, 16)));
    json_object_set_new(j, "redeemed_index",
                        sqlite3_column_type(st, 17) == SQLITE_NULL
                            ? json_null()
                            : json_integer(sqlite3_column_int64(st, 17)));
    if (sqlite3_column_type(st, 22) != SQLITE_NULL) /* a VM's name, when the buyer gave one */
        json_object_set_new(j, "name", json_string((const char *)sqlite3_column_text(st, 22)));
    return j;
}

static sqlite3_stmt *token_select(struct call *c, const char *id)
{
    return ledger_prep(c->b,
                       "SELECT " TOKEN_COLS "FROM tokens t JOIN accounts a ON a.id = "
                       "t.buyer_id WHERE t.id = ?1",
                       "t", id);
}

/* The reply to a purchase: the token's row and the buyer's balance after it. */
static int buy_reply(struct call *c, unsigned status, const char *id, int replayed)
{
    sqlite3_stmt *st = token_select(c, id);
    int64_t balance;
    if (!st || sqlite3_step(st) != SQLITE_ROW ||
        ledger_int(c->b, &balance, "SELECT balance FROM accounts WHERE id = ?1", "i", c->who.id) !=
            0) {
        sqlite3_finalize(st);
        return call_db_fail(c);
    }
    json_t *j = token_json(c, st);
    sqlite3_finalize(st);
    json_object_set_new(j, "balance", json_integer(balance));
    json_object_set_new(j, "replayed", json_boolean(replayed));
    return call_ok(c, status, j);
}

static int parse_netid(struct call *c, struct lm_token *t)
{
    const char *ip, *mac;
    if (f_str(c, "ip", 0, 32, &ip) || f_str(c, "mac", 0, 32, &mac))
        return -1;
    if (ip && lm_ip4_prefix_parse(ip, 1, 32, t->ipv4, &t->prefix) < 0)
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"ip\": \"%s\" is not A.B.C.D/PREFIX with a prefix from 1 to 32",
                         ip);
    if (mac && lm_mac_parse(mac, t->mac, 6) < 0)
        return call_fail(c, 400, "BAD_FIELD", "field \"mac\": \"%s\" is not XX:XX:XX:XX:XX:XX",
                         mac);
    return 0;
}

/* Price and link value of a scope: a host's own, or the cluster's (highest price; every host
 * must agree on unit_ms). 0, or -1 with the reply set. */
static int scope_price(struct call *c, int cluster, const char *scope, int64_t *price,
                       int64_t *unit_ms)
{
    if (!cluster) {
        sqlite3_stmt *st = ledger_prep(c->b,
                                       "SELECT price_per_unit, unit_ms FROM hosts WHERE "
                                       "name = ?1",
                                       "t", scope);
        if (!st)
            return call_db_fail(c);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *price = sqlite3_column_int64(st, 0);
            *unit_ms = sqlite3_column_int64(st, 1);
        }
        sqlite3_finalize(st);
        if (rc == SQLITE_DONE)
            return call_fail(c, 404, "UNKNOWN_HOST",
                             "no host named \"%s\" is registered "
                             "(lmctl hosts lists them)",
                             scope);
        return rc == SQLITE_ROW ? 0 : call_db_fail(c);
    }
    sqlite3_stmt *st = ledger_prep(c->b,
                                   "SELECT COUNT(*), MAX(price_per_unit), MIN(unit_ms), "
                                   "MAX(unit_ms) FROM hosts WHERE cluster = ?1",
                                   "t", scope);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return call_db_fail(c);
    }
    int64_t n = sqlite3_column_int64(st, 0), lo = sqlite3_column_int64(st, 2),
            hi = sqlite3_column_int64(st, 3);
    *price = sqlite3_column_int64(st, 1);
    *unit_ms = lo;
    sqlite3_finalize(st);
    if (n == 0)
        return call_fail(c, 404, "UNKNOWN_CLUSTER", "no host is registered in cluster \"%s\"",
                         scope);
    if (lo != hi) {
        char list[400] = "";
        st = ledger_prep(c->b, "SELECT name, unit_ms FROM hosts WHERE cluster = ?1 ORDER BY name",
                         "t", scope);
        while (st && sqlite3_step(st) == SQLITE_ROW && strlen(list) < sizeof list - 60)
            snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s %" PRId64 " ms",
                     list[0] ? ", " : "", sqlite3_column_text(st, 0),
                     (int64_t)sqlite3_column_int64(st, 1));
        sqlite3_finalize(st);
        return call_fail(c, 409, "CLUSTER_UNITS_DISAGREE",
                         "the hosts of cluster \"%s\" do not "
                         "agree on unit_ms (%s), so no link value fits them all; buy for one "
                         "host, or have the operators agree",
                         scope, list);
    }
    return 0;
}

int h_buy(struct call *c)
{
    static const char *const known[] = {"host",          "cluster",    "mem_mib", "vcpus",
                                        "payload",       "commitment", "anchor",  "chain_len",
                                        "prepaid_units", "ttl",        "ip",      "mac",
                                        "token_id",      "name",       NULL};
    struct lm_token t;
    memset(&t, 0, sizeof t);
    char host[BROKER_NAME_MAX + 1], cluster[BROKER_NAME_MAX + 1], name[BROKER_VM_NAME_MAX + 1];
    const char *payload;
    uint64_t mem = 64, vcpus = 1, chain_len = 0, prepaid = 0;
    uint64_t ttl = c->b->cfg.max_ttl_s < 3600 ? c->b->cfg.max_ttl_s : 3600;
    int have_anchor, have_id;
    if (f_known(c, known) || f_name(c, "host", 0, host) || f_name(c, "cluster", 0, cluster) ||
        f_u64(c, "mem_mib", 0, 1, LM_MAX_MEM_MIB, &mem) ||
        f_u64(c, "vcpus", 0, 1, LM_MAX_VCPUS, &vcpus) || f_str(c, "payload", 0, 16, &payload) ||
        f_hex(c, "commitment", 1, t.commitment, 32, NULL) ||
        f_hex(c, "anchor", 0, t.anchor, 32, &have_anchor) ||
        f_u64(c, "chain_len", 0, 0, LM_MAX_CHAIN_LEN, &chain_len) ||
        f_u64(c, "prepaid_units", 0, 0, LM_MAX_PREPAID, &prepaid) ||
        f_u64(c, "ttl", 0, 1, c->b->cfg.max_ttl_s, &ttl) ||
        f_hex(c, "token_id", 0, t.id, sizeof t.id, &have_id) || parse_netid(c, &t) ||
        f_vm_name(c, "name", 0, name))
        return -1;
    if (!host[0] == !cluster[0])
        return call_fail(c, 400, "BAD_FIELD",
                         "give exactly one of \"host\" (a host scope) and "
                         "\"cluster\" (a cluster scope)");
    if (payload && strcmp(payload, "image") && strcmp(payload, "checkpoint"))
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"payload\": \"%s\" is not \"image\" or "
                         "\"checkpoint\"",
                         payload);
    if (have_anchor != (chain_len > 0))
        return call_fail(c, 400, "BAD_FIELD",
                         "\"anchor\" and \"chain_len\" go together: a "
                         "chain of chain_len links ending in anchor (lmctl chain new)");
    if (prepaid + chain_len == 0)
        return call_fail(c, 400, "BAD_FIELD",
                         "the token would carry no value: give "
                         "\"prepaid_units\" or a chain (\"anchor\" and \"chain_len\")");

    uint8_t rh[LM_HASH_BYTES];
    char request_hash[65], id[33];
    if (lm_hash(LM_DOMAIN_REQUEST_BODY, c->body, c->body_len, rh) != 0)
        return call_fail(c, 500, "INTERNAL", "hashing the request failed");
    lm_hex_encode(rh, sizeof rh, request_hash);
    if (have_id) {
        /* A retried purchase (same token id, same body) gets the token bought the first
         * time, so a buyer who lost a reply can retry without paying twice. */
        lm_token_id_hex(t.id, id);
        sqlite3_stmt *st = token_select(c, id);
        if (!st)
            return call_db_fail(c);
        int rc = sqlite3_step(st);
        int same = rc == SQLITE_ROW && sqlite3_column_int64(st, 20) == c->who.id &&
                   !strcmp((const char *)sqlite3_column_text(st, 21), request_hash);
        sqlite3_finalize(st);
        if (rc == SQLITE_ROW && same)
            return buy_reply(c, 200, id, 1);
        if (rc == SQLITE_ROW)
            return call_fail(c, 409, "TOKEN_ID_TAKEN",
                             "token id %s is taken by another "
                             "purchase; a retry must repeat the same request, a new purchase "
                             "needs a new id",
                             id);
        if (rc != SQLITE_DONE)
            return call_db_fail(c);
    } else {
        randombytes_buf(t.id, sizeof t.id);
        lm_token_id_hex(t.id, id);
    }

    const char *scope = host[0] ? host : cluster;
    int64_t price = 0, unit_ms = 0;
    if (scope_price(c, !host[0], scope, &price, &unit_ms) != 0)
        return -1;
    int64_t unit_price = broker_unit_price(price, (uint32_t)mem, (uint32_t)vcpus), cost;
    uint64_t units = prepaid + chain_len;
    if (unit_price < 0 || __builtin_mul_overflow(unit_price, (int64_t)units, &cost))
        return call_fail(c, 402, "INSUFFICIENT_CREDIT",
                         "the cost of %" PRIu64 " units of %" PRIu64 " MiB x %" PRIu64
                         " vCPUs at %" PRId64 " credits per unit is "
                         "beyond 2^63 credits",
                         units, mem, vcpus, price);
    int64_t balance;
    if (ledger_int(c->b, &balance, "SELECT balance FROM accounts WHERE id = ?1", "i", c->who.id) !=
        0)
        return call_db_fail(c);
    if (cost > balance)
        return call_fail(c, 402, "INSUFFICIENT_CREDIT",
                         "cost %" PRId64 " credits (unit price %" PRId64 " x (%" PRIu64
                         " prepaid + %" PRIu64 " chain units)) exceeds the "
                         "available balance %" PRId64 " of account \"%s\"; deposit %" PRId64
                         " more or buy fewer units",
                         cost, unit_price, prepaid, chain_len, balance, c->who.name,
                         cost - balance);

    t.key_id = c->b->signer.pub.key_id;
    t.issued_at = (uint64_t)c->now;
    t.expires_at = t.issued_at + ttl;
    t.scope_kind = host[0] ? LM_SCOPE_HOST : LM_SCOPE_CLUSTER;
    t.payload_kind =
        payload && !strcmp(payload, "checkpoint") ? LM_PAYLOAD_CHECKPOINT : LM_PAYLOAD_IMAGE;
    t.vcpus = (uint16_t)vcpus;
    t.mem_mib = (uint32_t)mem;
    strcpy(t.scope, scope);
    t.chain_len = (uint32_t)chain_len;
    t.link_value_ms = (uint32_t)unit_ms;
    t.prepaid_units = (uint32_t)prepaid;
    uint8_t tok[LM_TOKEN_SIZE];
    struct lm_token check;
    struct lm_diag d;
    if (lm_token_encode(&t, tok) != 0 || lm_token_decode(tok, sizeof tok, &check, &d) != 0)
        return call_fail(c, 400, "BAD_TOKEN", "no valid token has these fields: %s", d.msg);
    if (lm_token_sign(tok, c->b->signer.sk) != 0)
        return call_fail(c, 500, "INTERNAL", "signing the token failed");
    char tokhex[2 * LM_TOKEN_SIZE + 1], kid[17], anchor[65];
    lm_hex_encode(tok, sizeof tok, tokhex);
    lm_hex_encode(t.anchor, 32, anchor);
    snprintf(kid, sizeof kid, "%016" PRIx64, t.key_id);
    if (ledger_exec(c->b,
                    "INSERT INTO tokens (id, buyer_id, scope_kind, scope, key_id, issued_at, "
                    "expires_at, mem_mib, vcpus, payload, anchor, chain_len, prepaid_units, "
                    "link_value_ms, unit_price, cost, last_link, request_hash, token, name) VALUES "
                    "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?11, "
                    "?17, ?18, ?19)",
                    "tittt"
                    "iiii"
                    "tt"
                    "iiiii"
                    "ttt",
                    id, c->who.id, host[0] ? "host" : "cluster", scope, kid, (int64_t)t.issued_at,
                    (int64_t)t.expires_at, (int64_t)mem, (int64_t)vcpus,
                    t.payload_kind == LM_PAYLOAD_IMAGE ? "image" : "checkpoint", anchor,
                    (int64_t)chain_len, (int64_t)prepaid, unit_ms, unit_price, cost, request_hash,
                    tokhex, name[0] ? name : NULL) != 0 ||
        ledger_move(c->b, c->who.id, "reserve", -cost, id, c->now) != 0)
        return call_db_fail(c);
    return buy_reply(c, 201, id, 0);
}

int h_token_get(struct call *c)
{
    if (!lower_hex_ok(c->arg, 32))
        return call_fail(c, 400, "BAD_FIELD",
                         "token id \"%.40s\" in the path is not 32 "
                         "lowercase hex digits",
                         c->arg);
    sqlite3_stmt *st = token_select(c, c->arg);
    if (!st)
        return call_db_fail(c);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? call_fail(c, 404, "UNKNOWN_TOKEN", "no token %s", c->arg)
                                 : call_db_fail(c);
    }
    int allowed = c->who.role == ROLE_ADMIN || sqlite3_column_int64(st, 20) == c->who.id;
    if (!allowed && c->who.role == ROLE_OPERATOR) {
        int64_t n;
        int cluster = !strcmp((const char *)sqlite3_column_text(st, 3), "cluster");
        if (ledger_int(c->b, &n,
                       cluster ? "SELECT COUNT(*) FROM hosts WHERE cluster = ?1 AND "
                                 "operator_id = ?2"
                               : "SELECT COUNT(*) FROM hosts WHERE name = ?1 AND "
                                 "operator_id = ?2",
                       "ti", (const char *)sqlite3_column_text(st, 4), c->who.id) != 0) {
            sqlite3_finalize(st);
            return call_db_fail(c);
        }
        allowed = n > 0;
    }
    if (!allowed) {
        sqlite3_finalize(st);
        return call_fail(c, 403, "NOT_YOUR_TOKEN",
                         "token %s belongs to another buyer and is "
                         "not scoped to a host of yours",
                         c->arg);
    }
    json_t *j = token_json(c, st);
    sqlite3_finalize(st);
    return call_ok(c, 200, j);
}
