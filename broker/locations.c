/* Locate: where each named VM runs now, reported by its host's operator, asked by its owner. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "laundromat/util.h"

/*
 * A VM is named by its buyer at purchase, and every token bought for it (one per migration)
 * carries the name; a location is keyed by (buyer, name), so one buyer's names are nobody
 * else's. The host a VM starts on reports it with the token it started with. Reports can
 * arrive out of order (a source host that reports late, after the destination already did),
 * so a report stands only if its token is not older than the one that placed the VM last:
 * tokens are ordered by issued_at, ties by their row (the order of purchase).
 */

/* A dotted IPv4 address, A.B.C.D: inet_pton takes exactly that (no leading zeros, no short
 * forms, nothing around it). */
static int ipv4_ok(const char *s)
{
    uint8_t a[4];
    return strlen(s) <= 15 && inet_pton(AF_INET, s, a) == 1;
}

/* What a report needs of its token. */
struct rtoken {
    int64_t buyer_id, issued_at, row;
    int cluster, named;
    char scope[BROKER_NAME_MAX + 1], name[BROKER_VM_NAME_MAX + 1], buyer[BROKER_NAME_MAX + 1];
};

/* 0 found, 1 unknown, -1 ledger error. */
static int load_token(struct broker *b, const char *id, struct rtoken *t)
{
    sqlite3_stmt *st = ledger_prep(b,
                                   "SELECT t.buyer_id, t.issued_at, t.rowid, t.scope_kind, "
                                   "t.scope, t.name, a.name FROM tokens t JOIN accounts a ON "
                                   "a.id = t.buyer_id WHERE t.id = ?1",
                                   "t", id);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        t->buyer_id = sqlite3_column_int64(st, 0);
        t->issued_at = sqlite3_column_int64(st, 1);
        t->row = sqlite3_column_int64(st, 2);
        t->cluster = !strcmp((const char *)sqlite3_column_text(st, 3), "cluster");
        snprintf(t->scope, sizeof t->scope, "%s", (const char *)sqlite3_column_text(st, 4));
        t->named = sqlite3_column_type(st, 5) != SQLITE_NULL;
        snprintf(t->name, sizeof t->name, "%s",
                 t->named ? (const char *)sqlite3_column_text(st, 5) : "");
        snprintf(t->buyer, sizeof t->buyer, "%s", (const char *)sqlite3_column_text(st, 6));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* The host's operator and cluster; 0 found, 1 unknown, -1 ledger error. */
static int load_host(struct broker *b, const char *name, int64_t *operator_id,
                     char operator[BROKER_NAME_MAX + 1], char cluster[BROKER_NAME_MAX + 1])
{
    sqlite3_stmt *st = ledger_prep(b,
                                   "SELECT h.operator_id, a.name, h.cluster FROM hosts h JOIN "
                                   "accounts a ON a.id = h.operator_id WHERE h.name = ?1",
                                   "t", name);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        *operator_id = sqlite3_column_int64(st, 0);
        snprintf(operator, BROKER_NAME_MAX + 1, "%s", (const char *)sqlite3_column_text(st, 1));
        snprintf(cluster, BROKER_NAME_MAX + 1, "%s",
                 sqlite3_column_type(st, 2) == SQLITE_NULL
                     ? ""
                     : (const char *)sqlite3_column_text(st, 2));
    }
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* Refuses a report whose token is older than the one that placed the VM last. 0 when the
 * report may stand, else -1 with the reply set (409, or 500). */
static int check_newer(struct call *c, const char *id, const struct rtoken *t)
{
    sqlite3_stmt *st = ledger_prep(c->b,
                                   "SELECT l.token_id, t.issued_at, t.rowid FROM locations l "
                                   "JOIN tokens t ON t.id = l.token_id WHERE l.buyer_id = ?1 AND "
                                   "l.name = ?2",
                                   "it", t->buyer_id, t->name);
    if (!st)
        return call_db_fail(c);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        return rc == SQLITE_DONE ? 0 : call_db_fail(c);
    }
    char cur[33];
    snprintf(cur, sizeof cur, "%s", (const char *)sqlite3_column_text(st, 0));
    int64_t cur_issued = sqlite3_column_int64(st, 1), cur_row = sqlite3_column_int64(st, 2);
    sqlite3_finalize(st);
    if (cur_issued < t->issued_at || (cur_issued == t->issued_at && cur_row <= t->row))
        return 0;
    call_fail(c, 409, "STALE_LOCATION",
              "VM \"%s\" of account \"%s\" was last located by token %s (issued at %" PRId64
              "), which is newer than token %s (issued at %" PRId64
              "): a late report from a host the VM has left; the location is unchanged",
              t->name, t->buyer, cur, cur_issued, id, t->issued_at);
    json_object_set_new(c->reply, "current_token_id", json_string(cur));
    return -1;
}

int h_location_report(struct call *c)
{
    static const char *const known[] = {"token_id", "host", "address", NULL};
    uint8_t tid[16];
    char id[33], host[BROKER_NAME_MAX + 1];
    const char *address;
    if (f_known(c, known) || f_hex(c, "token_id", 1, tid, sizeof tid, NULL) ||
        f_name(c, "host", 1, host) || f_str(c, "address", 1, 64, &address))
        return -1;
    if (!ipv4_ok(address))
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"address\": \"%s\" is not a dotted IPv4 address (A.B.C.D, each "
                         "0 to 255 without leading zeros)",
                         address);
    lm_hex_encode(tid, sizeof tid, id);

    struct rtoken t;
    int rc = load_token(c->b, id, &t);
    if (rc < 0)
        return call_db_fail(c);
    if (rc > 0)
        return call_fail(c, 404, "UNKNOWN_TOKEN", "no token %s", id);
    int64_t operator_id = 0;
    char operator[BROKER_NAME_MAX + 1], cluster[BROKER_NAME_MAX + 1];
    rc = load_host(c->b, host, &operator_id, operator, cluster);
    if (rc < 0)
        return call_db_fail(c);
    if (rc > 0)
        return call_fail(c, 404, "UNKNOWN_HOST",
                         "no host named \"%s\" is registered (lmctl hosts lists them)", host);
    if (operator_id != c->who.id)
        return call_fail(c, 403, "NOT_YOUR_HOST",
                         "host \"%s\" is operated by \"%s\", not by \"%s\": a host reports the "
                         "VMs it runs with its own operator's key",
                         host, operator, c->who.name);
    if (t.cluster ? strcmp(cluster, t.scope) != 0 : strcmp(host, t.scope) != 0) {
        if (t.cluster)
            return call_fail(c, 403, "WRONG_SCOPE",
                             "token %s is scoped to cluster \"%s\", and host \"%s\" is %s%s%s: "
                             "the token cannot run there",
                             id, t.scope, host, cluster[0] ? "in cluster \"" : "in no cluster",
                             cluster, cluster[0] ? "\"" : "");
        return call_fail(c, 403, "WRONG_SCOPE",
                         "token %s is scoped to host \"%s\", not \"%s\": the token cannot run "
                         "there",
                         id, t.scope, host);
    }
    if (!t.named) /* nothing to locate: the buyer gave the VM no name */
        return call_ok(c, 200, json_pack("{s:b s:s}", "recorded", 0, "token_id", id));
    if (check_newer(c, id, &t) != 0)
        return -1;
    if (ledger_exec(c->b,
                    "INSERT INTO locations (buyer_id, name, host, address, token_id, updated_at) "
                    "VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (buyer_id, name) DO UPDATE SET "
                    "host = excluded.host, address = excluded.address, token_id = "
                    "excluded.token_id, updated_at = excluded.updated_at",
                    "itttti", t.buyer_id, t.name, host, address, id, c->now) != 0)
        return call_db_fail(c);
    return call_ok(c, 200,
                   json_pack("{s:b s:s s:s s:s s:s s:I}", "recorded", 1, "name", t.name, "host",
                             host, "address", address, "token_id", id, "updated_at",
                             (json_int_t)c->now));
}

int h_location_get(struct call *c)
{
    if (c->query[0])
        return call_fail(c, 400, "BAD_QUERY",
                         "GET /v1/locations/NAME takes no query (got \"%.40s\")", c->query);
    if (!vm_name_ok(c->arg))
        return call_fail(c, 400, "BAD_FIELD",
                         "\"%.80s\" in the path is not a VM name: " BROKER_VM_NAME_RULE, c->arg);
    sqlite3_stmt *st = ledger_prep(c->b,
                                   "SELECT l.name, l.host, l.address, l.token_id, l.updated_at, "
                                   "h.address, h.port FROM locations l JOIN hosts h ON h.name = "
                                   "l.host WHERE l.buyer_id = ?1 AND l.name = ?2",
                                   "it", c->who.id, c->arg);
    if (!st)
        return call_db_fail(c);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return call_db_fail(c);
        /* Another account's VM of this name is unknown to this one, as if there were none. */
        return call_fail(c, 404, "UNKNOWN_NAME", "no VM named \"%s\" located for account \"%s\"",
                         c->arg, c->who.name);
    }
    json_t *j =
        json_pack("{s:s s:s s:s s:s s:I s:s s:I}", "name", sqlite3_column_text(st, 0), "host",
                  sqlite3_column_text(st, 1), "address", sqlite3_column_text(st, 2), "token_id",
                  sqlite3_column_text(st, 3), "updated_at", (json_int_t)sqlite3_column_int64(st, 4),
                  "host_address", sqlite3_column_text(st, 5), "host_port",
                  (json_int_t)sqlite3_column_int64(st, 6));
    sqlite3_finalize(st);
    return call_ok(c, 200, j);
}
