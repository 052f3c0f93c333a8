/* The host directory: operators register hosts with their price; everyone lists them. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"

int64_t broker_unit_price(int64_t price_per_unit, uint32_t mem_mib, uint32_t vcpus)
{
    int64_t blocks = ((int64_t)mem_mib + 63) / 64, p;
    if (price_per_unit < 0 || __builtin_mul_overflow(price_per_unit, blocks, &p) ||
        __builtin_mul_overflow(p, (int64_t)vcpus, &p))
        return -1;
    return p;
}

/* An IPv4 or IPv6 literal, or a DNS name. */
static int address_ok(const char *s)
{
    uint8_t buf[16];
    if (inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1)
        return 1;
    size_t n = strlen(s);
    if (n == 0 || n > 253 || s[0] == '-' || s[0] == '.')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= 'A' && s[i] <= 'Z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '.'))
            return 0;
    return 1;
}

static json_t *host_json(sqlite3_stmt *st)
{
    const char *cluster = (const char *)sqlite3_column_text(st, 1);
    return json_pack("{s:s s:s? s:s s:I s:I s:I s:s s:s s:I}", "name", sqlite3_column_text(st, 0),
                     "cluster", cluster, "address", sqlite3_column_text(st, 2), "port",
                     (json_int_t)sqlite3_column_int64(st, 3), "price_per_unit",
                     (json_int_t)sqlite3_column_int64(st, 4), "unit_ms",
                     (json_int_t)sqlite3_column_int64(st, 5), "operator",
                     sqlite3_column_text(st, 6), "operator_key", sqlite3_column_text(st, 8),
                     "updated_at", (json_int_t)sqlite3_column_int64(st, 7));
}

#define HOST_SELECT                                                                                \
    "SELECT h.name, h.cluster, h.address, h.port, h.price_per_unit, h.unit_ms, a.name, "           \
    "h.updated_at, a.public_key FROM hosts h JOIN accounts a ON a.id = h.operator_id "

int h_host_register(struct call *c)
{
    static const char *const known[] = {"name",           "cluster", "address", "port",
                                        "price_per_unit", "unit_ms", NULL};
    char name[BROKER_NAME_MAX + 1], cluster[BROKER_NAME_MAX + 1];
    const char *address;
    uint64_t port = 0, price = 0, unit_ms = 0;
    if (f_known(c, known) || f_name(c, "name", 1, name) || f_name(c, "cluster", 0, cluster) ||
        f_str(c, "address", 1, 253, &address) || f_u64(c, "port", 1, 1, 65535, &port) ||
        f_u64(c, "price_per_unit", 1, 1, (uint64_t)1 << 40, &price) ||
        f_u64(c, "unit_ms", 1, 1, UINT32_MAX, &unit_ms))
        return -1;
    if (!address_ok(address))
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"address\": \"%.80s\" is not an IPv4 or "
                         "IPv6 address or a DNS name",
                         address);
    sqlite3_stmt *st = ledger_prep(c->b,
                                   "SELECT a.id, a.name FROM hosts h JOIN accounts a ON "
                                   "a.id = h.operator_id WHERE h.name = ?1",
                                   "t", name);
    if (!st)
        return call_db_fail(c);
    int rc = sqlite3_step(st), exists = rc == SQLITE_ROW;
    if (exists && sqlite3_column_int64(st, 0) != c->who.id) {
        call_fail(c, 403, "NOT_YOUR_HOST",
                  "host \"%s\" is registered by operator \"%s\"; "
                  "choose another name",
                  name, sqlite3_column_text(st, 1));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return call_db_fail(c);
    if (ledger_exec(c->b,
                    "INSERT INTO hosts (name, operator_id, cluster, address, port, "
                    "price_per_unit, unit_ms, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, "
                    "?5, ?6, ?7, ?8, ?8) ON CONFLICT (name) DO UPDATE SET cluster = ?3, "
                    "address = ?4, port = ?5, price_per_unit = ?6, unit_ms = ?7, updated_at = ?8",
                    "tittiiii", name, c->who.id, cluster[0] ? cluster : NULL, address,
                    (int64_t)port, (int64_t)price, (int64_t)unit_ms, c->now) != 0)
        return call_db_fail(c);
    st = ledger_prep(c->b, HOST_SELECT "WHERE h.name = ?1", "t", name);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return call_db_fail(c);
    }
    json_t *j = host_json(st);
    sqlite3_finalize(st);
    json_object_set_new(j, "created", json_boolean(!exists));
    return call_ok(c, exists ? 200 : 201, j);
}

int h_host_list(struct call *c)
{
    /* Optional filters: ?cluster=NAME, ?operator=NAME (names need no escaping). */
    char cluster[BROKER_NAME_MAX + 1] = "", operator[BROKER_NAME_MAX + 1] = "";
    const char *q = c->query;
    while (*q) {
        size_t n = strcspn(q, "&");
        char kv[128];
        if (n >= sizeof kv)
            return call_fail(c, 400, "BAD_QUERY", "query parameter too long");
        memcpy(kv, q, n);
        kv[n] = '\0';
        char *eq = strchr(kv, '=');
        if (eq)
            *eq++ = '\0';
        char *dst = !strcmp(kv, "cluster") ? cluster : !strcmp(kv, "operator") ? operator: NULL;
        if (!dst)
            return call_fail(c, 400, "BAD_QUERY",
                             "unknown query parameter \"%.40s\"; known: "
                             "cluster, operator",
                             kv);
        if (!eq || !name_ok(eq))
            return call_fail(c, 400, "BAD_QUERY",
                             "%s=: expected a name of 1 to %d letters, "
                             "digits, '.', '_' or '-'",
                             kv, BROKER_NAME_MAX);
        strcpy(dst, eq);
        q += n + (q[n] == '&');
    }
    sqlite3_stmt *st = ledger_prep(c->b,
                                   HOST_SELECT "WHERE (?1 IS NULL OR h.cluster = ?1) AND "
                                   "(?2 IS NULL OR a.name = ?2) ORDER BY h.name",
                                   "tt", cluster[0] ? cluster : NULL,
                                   operator[0] ? operator : NULL);
    if (!st)
        return call_db_fail(c);
    json_t *list = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        json_array_append_new(list, host_json(st));
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return call_db_fail(c);
    }
    return call_ok(c, 200, json_pack("{s:o}", "hosts", list));
}
