/* Accounts and credit: the admin creates buyers and operators and deposits credit. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "laundromat/util.h"

/* An account as JSON, with what is reserved (buyers) and earned (operators). */
static json_t *account_json(struct call *c, sqlite3_stmt *st)
{
    int64_t id = sqlite3_column_int64(st, 0), reserved = 0, earned = 0, open = 0;
    if (ledger_int(c->b, &reserved,
                   "SELECT COALESCE(SUM(cost - paid - refunded), 0) FROM tokens WHERE buyer_id = "
                   "?1 AND refunded_at IS NULL",
                   "i", id) != 0 ||
        ledger_int(c->b, &open,
                   "SELECT COUNT(*) FROM tokens WHERE buyer_id = ?1 AND "
                   "refunded_at IS NULL",
                   "i", id) != 0 ||
        ledger_int(c->b, &earned,
                   "SELECT COALESCE(SUM(amount), 0) FROM journal WHERE "
                   "account_id = ?1 AND kind = 'payment'",
                   "i", id) != 0)
        return NULL;
    return json_pack("{s:s s:s s:s s:I s:I s:I s:I s:I}", "name", sqlite3_column_text(st, 1),
                     "role", sqlite3_column_text(st, 2), "key_id", sqlite3_column_text(st, 3),
                     "balance", (json_int_t)sqlite3_column_int64(st, 4), "reserved",
                     (json_int_t)reserved, "open_tokens", (json_int_t)open, "earned",
                     (json_int_t)earned, "created_at", (json_int_t)sqlite3_column_int64(st, 5));
}

#define ACCOUNT_COLS "id, name, role, key_id, balance, created_at"

int h_account_self(struct call *c)
{
    sqlite3_stmt *st =
        ledger_prep(c->b, "SELECT " ACCOUNT_COLS " FROM accounts WHERE id = ?1", "i", c->who.id);
    if (!st || sqlite3_step(st) != SQLITE_ROW) {
        sqlite3_finalize(st);
        return call_db_fail(c);
    }
    json_t *j = account_json(c, st);
    sqlite3_finalize(st);
    return j ? call_ok(c, 200, j) : call_db_fail(c);
}

int h_account_list(struct call *c)
{
    sqlite3_stmt *st = ledger_prep(c->b, "SELECT " ACCOUNT_COLS " FROM accounts ORDER BY id", "");
    if (!st)
        return call_db_fail(c);
    json_t *list = json_array();
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        json_t *j = account_json(c, st);
        if (!j)
            break;
        json_array_append_new(list, j);
    }
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE) {
        json_decref(list);
        return call_db_fail(c);
    }
    return call_ok(c, 200, json_pack("{s:o}", "accounts", list));
}

int h_account_create(struct call *c)
{
    static const char *const known[] = {"name", "role", "public_key", NULL};
    char name[BROKER_NAME_MAX + 1];
    const char *role_s;
    uint8_t pk[32];
    enum role role;
    if (f_known(c, known) || f_name(c, "name", 1, name) || f_str(c, "role", 1, 16, &role_s) ||
        f_hex(c, "public_key", 1, pk, 32, NULL))
        return -1;
    if (role_parse(role_s, &role) != 0 || role == ROLE_ADMIN)
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"role\": \"%s\" is not \"buyer\" or "
                         "\"operator\" (the admin is the configured admin_key)",
                         role_s);
    char kid[17], pkh[65];
    snprintf(kid, sizeof kid, "%016" PRIx64, lm_key_id(pk));
    lm_hex_encode(pk, 32, pkh);
    int64_t n;
    if (ledger_int(c->b, &n, "SELECT COUNT(*) FROM accounts WHERE name = ?1", "t", name) != 0)
        return call_db_fail(c);
    if (n)
        return call_fail(c, 409, "ACCOUNT_EXISTS",
                         "an account named \"%s\" exists already; "
                         "choose another name",
                         name);
    sqlite3_stmt *st = ledger_prep(c->b, "SELECT name FROM accounts WHERE key_id = ?1", "t", kid);
    if (!st)
        return call_db_fail(c);
    if (sqlite3_step(st) == SQLITE_ROW) {
        call_fail(c, 409, "KEY_IN_USE",
                  "key %s is already the key of account \"%s\"; every "
                  "account needs its own key (lmctl keygen)",
                  kid, sqlite3_column_text(st, 0));
        sqlite3_finalize(st);
        return -1;
    }
    sqlite3_finalize(st);
    if (ledger_exec(c->b,
                    "INSERT INTO accounts (name, role, key_id, public_key, created_at) VALUES "
                    "(?1, ?2, ?3, ?4, ?5)",
                    "tttti", name, role_name(role), kid, pkh, c->now) != 0)
        return call_db_fail(c);
    return call_ok(c, 201,
                   json_pack("{s:s s:s s:s s:I}", "name", name, "role", role_name(role), "key_id",
                             kid, "balance", (json_int_t)0));
}

int h_deposit(struct call *c)
{
    static const char *const known[] = {"account", "amount", "note", NULL};
    char name[BROKER_NAME_MAX + 1];
    uint64_t amount = 0;
    const char *note;
    if (f_known(c, known) || f_name(c, "account", 1, name) ||
        f_u64(c, "amount", 1, 1, BROKER_MAX_DEPOSIT, &amount) || f_str(c, "note", 0, 200, &note))
        return -1;
    sqlite3_stmt *st =
        ledger_prep(c->b, "SELECT id, role FROM accounts WHERE name = ?1", "t", name);
    if (!st)
        return call_db_fail(c);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    int admin = rc == SQLITE_ROW && !strcmp((const char *)sqlite3_column_text(st, 1), "admin");
    sqlite3_finalize(st);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return call_db_fail(c);
    if (rc == SQLITE_DONE)
        return call_fail(c, 404, "UNKNOWN_ACCOUNT", "no account named \"%s\"", name);
    if (admin)
        return call_fail(c, 400, "BAD_FIELD",
                         "the admin account holds no credit; deposit to a "
                         "buyer or an operator");
    /* Every balance and reservation is part of the deposits: bounding their total keeps all
     * sums in 63 bits. */
    int64_t total;
    if (ledger_int(c->b, &total, "SELECT COALESCE(SUM(amount), 0) FROM deposits", "") != 0)
        return call_db_fail(c);
    if (total > INT64_MAX / 2 - (int64_t)amount)
        return call_fail(c, 400, "BAD_FIELD",
                         "a deposit of %" PRIu64 " would bring the total "
                         "deposits (%" PRId64 ") beyond 2^62 credits",
                         amount, total);
    if (ledger_exec(c->b,
                    "INSERT INTO deposits (account_id, amount, note, time) VALUES (?1, ?2, "
                    "?3, ?4)",
                    "iiti", id, (int64_t)amount, note, c->now) != 0)
        return call_db_fail(c);
    int64_t deposit_id = sqlite3_last_insert_rowid(c->b->db), balance;
    if (ledger_move(c->b, id, "deposit", (int64_t)amount, NULL, c->now) != 0 ||
        ledger_int(c->b, &balance, "SELECT balance FROM accounts WHERE id = ?1", "i", id) != 0)
        return call_db_fail(c);
    return call_ok(c, 200,
                   json_pack("{s:I s:s s:I s:I}", "deposit_id", (json_int_t)deposit_id, "account",
                             name, "amount", (json_int_t)amount, "balance", (json_int_t)balance));
}
