/* The ledger: one SQLite database (WAL, foreign keys, synchronous=FULL), schema and helpers. */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "broker.h"
#include "laundromat/clock.h"
#include "laundromat/util.h"

/*
 * Money moves only through ledger_move(): every change of a balance has its journal line,
 * so the audit can check each balance against its journal and the totals against the
 * deposits. Amounts are integer credits; CHECK constraints refuse a negative balance and a
 * token paid or refunded beyond its cost, whatever a handler gets wrong.
 */
static const char schema_v1[] =
    "CREATE TABLE IF NOT EXISTS accounts ("
    "  id INTEGER PRIMARY KEY,"
    "  name TEXT NOT NULL UNIQUE,"
    "  role TEXT NOT NULL CHECK (role IN ('admin', 'buyer', 'operator')),"
    "  key_id TEXT NOT NULL UNIQUE,"
    "  public_key TEXT NOT NULL,"
    "  balance INTEGER NOT NULL DEFAULT 0 CHECK (typeof(balance) = 'integer' AND balance >= 0),"
    "  created_at INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS nonces ("
    "  key_id TEXT NOT NULL,"
    "  nonce TEXT NOT NULL,"
    "  time INTEGER NOT NULL,"
    "  PRIMARY KEY (key_id, nonce)) WITHOUT ROWID;"
    "CREATE INDEX IF NOT EXISTS nonces_time ON nonces (time);"
    "CREATE TABLE IF NOT EXISTS deposits ("
    "  id INTEGER PRIMARY KEY,"
    "  account_id INTEGER NOT NULL REFERENCES accounts (id),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  note TEXT,"
    "  time INTEGER NOT NULL);"
    "CREATE TABLE IF NOT EXISTS hosts ("
    "  name TEXT PRIMARY KEY,"
    "  operator_id INTEGER NOT NULL REFERENCES accounts (id),"
    "  cluster TEXT,"
    "  address TEXT NOT NULL,"
    "  port INTEGER NOT NULL CHECK (port BETWEEN 1 AND 65535),"
    "  price_per_unit INTEGER NOT NULL CHECK (price_per_unit >= 1),"
    "  unit_ms INTEGER NOT NULL CHECK (unit_ms BETWEEN 1 AND 4294967295),"
    "  created_at INTEGER NOT NULL,"
    "  updated_at INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS hosts_cluster ON hosts (cluster);"
    "CREATE TABLE IF NOT EXISTS tokens ("
    "  id TEXT PRIMARY KEY,"
    "  buyer_id INTEGER NOT NULL REFERENCES accounts (id),"
    "  scope_kind TEXT NOT NULL CHECK (scope_kind IN ('host', 'cluster')),"
    "  scope TEXT NOT NULL,"
    "  key_id TEXT NOT NULL,"
    "  issued_at INTEGER NOT NULL,"
    "  expires_at INTEGER NOT NULL,"
    "  mem_mib INTEGER NOT NULL,"
    "  vcpus INTEGER NOT NULL,"
    "  payload TEXT NOT NULL,"
    "  anchor TEXT NOT NULL,"
    "  chain_len INTEGER NOT NULL,"
    "  prepaid_units INTEGER NOT NULL,"
    "  link_value_ms INTEGER NOT NULL,"
    "  unit_price INTEGER NOT NULL CHECK (unit_price >= 1),"
    "  cost INTEGER NOT NULL CHECK (cost = unit_price * (prepaid_units + chain_len)),"
    "  paid INTEGER NOT NULL DEFAULT 0,"
    "  refunded INTEGER NOT NULL DEFAULT 0,"
    "  redeemed_index INTEGER CHECK (redeemed_index BETWEEN 0 AND chain_len),"
    "  last_link TEXT NOT NULL,"
    "  refunded_at INTEGER,"
    "  request_hash TEXT NOT NULL,"
    "  token TEXT NOT NULL,"
    "  CHECK (paid >= 0 AND refunded >= 0 AND paid + refunded <= cost));"
    "CREATE INDEX IF NOT EXISTS tokens_open ON tokens (expires_at) WHERE refunded_at IS NULL;"
    "CREATE INDEX IF NOT EXISTS tokens_buyer ON tokens (buyer_id);"
    "CREATE TABLE IF NOT EXISTS redemptions ("
    "  id INTEGER PRIMARY KEY,"
    "  token_id TEXT NOT NULL REFERENCES tokens (id),"
    "  operator_id INTEGER NOT NULL REFERENCES accounts (id),"
    "  host TEXT,"
    "  from_index INTEGER,"
    "  to_index INTEGER NOT NULL,"
    "  units INTEGER NOT NULL CHECK (units > 0),"
    "  amount INTEGER NOT NULL CHECK (amount > 0),"
    "  time INTEGER NOT NULL);"
    "CREATE INDEX IF NOT EXISTS redemptions_token ON redemptions (token_id);"
    "CREATE TABLE IF NOT EXISTS journal ("
    "  id INTEGER PRIMARY KEY,"
    "  time INTEGER NOT NULL,"
    "  account_id INTEGER NOT NULL REFERENCES accounts (id),"
    "  kind TEXT NOT NULL CHECK (kind IN ('deposit', 'reserve', 'payment', 'refund')),"
    "  amount INTEGER NOT NULL,"
    "  token_id TEXT REFERENCES tokens (id));"
    "CREATE INDEX IF NOT EXISTS journal_account ON journal (account_id);";

/*
 * Upgrades, in order: upgrades[i] takes a ledger from version i + 1 to i + 2. A new ledger
 * gets schema_v1 and then every upgrade, so the path an existing ledger takes is the one every
 * new ledger takes too. Append an upgrade; never edit one that has shipped.
 */
static const char *const upgrades[] = {
    /* 2: a VM's name, given at purchase, and where each named VM runs now (locate). */
    "ALTER TABLE tokens ADD COLUMN name TEXT CHECK (name IS NULL OR (length(name) BETWEEN 1 AND "
    "63 AND name NOT GLOB '*[^a-z0-9-]*' AND name NOT GLOB '-*'));"
    "CREATE TABLE locations ("
    "  buyer_id INTEGER NOT NULL REFERENCES accounts (id),"
    "  name TEXT NOT NULL,"
    "  host TEXT NOT NULL REFERENCES hosts (name),"
    "  address TEXT NOT NULL,"
    "  token_id TEXT NOT NULL REFERENCES tokens (id),"
    "  updated_at INTEGER NOT NULL,"
    "  PRIMARY KEY (buyer_id, name)) WITHOUT ROWID;",
};

enum { SCHEMA_VERSION = 1 + (int)(sizeof upgrades / sizeof upgrades[0]) };

void ledger_lock(struct broker *b)
{
    pthread_mutex_lock(&b->lock);
}

void ledger_unlock(struct broker *b)
{
    pthread_mutex_unlock(&b->lock);
}

const char *ledger_errmsg(struct broker *b)
{
    return sqlite3_errmsg(b->db);
}

int ledger_sql(struct broker *b, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(b->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        lm_err("ledger: %.60s...: %s", sql, err ? err : sqlite3_errmsg(b->db));
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static sqlite3_stmt *vprep(struct broker *b, const char *sql, const char *fmt, va_list ap)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(b->db, sql, -1, &st, NULL) != SQLITE_OK) {
        lm_err("ledger: prepare %.60s: %s", sql, sqlite3_errmsg(b->db));
        return NULL;
    }
    int rc = SQLITE_OK;
    for (int i = 0; fmt[i] && rc == SQLITE_OK; i++) {
        if (fmt[i] == 'i') {
            rc = sqlite3_bind_int64(st, i + 1, va_arg(ap, int64_t));
        } else {
            const char *s = va_arg(ap, const char *);
            rc = s ? sqlite3_bind_text(st, i + 1, s, -1, SQLITE_TRANSIENT)
                   : sqlite3_bind_null(st, i + 1);
        }
    }
    if (rc != SQLITE_OK) {
        lm_err("ledger: bind %.60s: %s", sql, sqlite3_errmsg(b->db));
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

sqlite3_stmt *ledger_prep(struct broker *b, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vprep(b, sql, fmt, ap);
    va_end(ap);
    return st;
}

int ledger_exec(struct broker *b, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vprep(b, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return -1;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        ;
    if (rc != SQLITE_DONE)
        lm_err("ledger: %.60s: %s", sql, sqlite3_errmsg(b->db));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? 0 : -1;
}

int ledger_int(struct broker *b, int64_t *out, const char *sql, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    sqlite3_stmt *st = vprep(b, sql, fmt, ap);
    va_end(ap);
    if (!st)
        return -1;
    int rc = sqlite3_step(st);
    *out = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        lm_err("ledger: %.60s: %s", sql, sqlite3_errmsg(b->db));
    sqlite3_finalize(st);
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : -1;
}

int ledger_move(struct broker *b, int64_t account, const char *kind, int64_t amount,
                const char *token_id, int64_t now)
{
    if (ledger_exec(b, "UPDATE accounts SET balance = balance + ?1 WHERE id = ?2", "ii", amount,
                    account) != 0)
        return -1;
    if (sqlite3_changes(b->db) != 1) {
        lm_err("ledger: %s of %" PRId64 " credits: no account %" PRId64, kind, amount, account);
        return -1;
    }
    return ledger_exec(b,
                       "INSERT INTO journal (time, account_id, kind, amount, token_id) "
                       "VALUES (?1, ?2, ?3, ?4, ?5)",
                       "iitit", now, account, kind, amount, token_id);
}

/* Makes the admin account hold the configured admin key (created on first start). */
static int ensure_admin(struct broker *b, struct lm_diag *d)
{
    char kid[17], pk[65];
    snprintf(kid, sizeof kid, "%016" PRIx64, b->admin.key_id);
    lm_hex_encode(b->admin.pk, 32, pk);
    int64_t other;
    if (ledger_int(b, &other, "SELECT COUNT(*) FROM accounts WHERE key_id = ?1 AND name <> 'admin'",
                   "t", kid) != 0)
        return lm_fail(d, LM_IO, "ledger: %s", sqlite3_errmsg(b->db));
    if (other)
        return lm_fail(d, LM_INVAL,
                       "admin key %s is already the key of another account; give "
                       "the admin a key of its own",
                       kid);
    if (ledger_exec(b,
                    "INSERT INTO accounts (name, role, key_id, public_key, created_at) "
                    "VALUES ('admin', 'admin', ?1, ?2, ?3) ON CONFLICT (name) DO UPDATE SET "
                    "key_id = excluded.key_id, public_key = excluded.public_key",
                    "tti", kid, pk, (int64_t)lm_now()) != 0)
        return lm_fail(d, LM_IO, "ledger: cannot record the admin key: %s", sqlite3_errmsg(b->db));
    return 0;
}

int ledger_open(struct broker *b, struct lm_diag *d)
{
    if (sqlite3_open_v2(b->cfg.database, &b->db,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
                        NULL) != SQLITE_OK) {
        int rc = lm_fail(d, LM_IO, "%s: cannot open the ledger: %s", b->cfg.database,
                         b->db ? sqlite3_errmsg(b->db) : "out of memory");
        sqlite3_close(b->db);
        b->db = NULL;
        return rc;
    }
    sqlite3_busy_timeout(b->db, 5000);
    sqlite3_extended_result_codes(b->db, 1);
    int64_t version = 0;
    char mode[16] = "";
    sqlite3_stmt *st = ledger_prep(b, "PRAGMA journal_mode = WAL", "");
    if (st && sqlite3_step(st) == SQLITE_ROW)
        snprintf(mode, sizeof mode, "%s", (const char *)sqlite3_column_text(st, 0));
    sqlite3_finalize(st);
    if (strcmp(mode, "wal") != 0) {
        lm_fail(d, LM_IO, "%s: cannot switch the ledger to WAL mode (got \"%s\"): %s",
                b->cfg.database, mode, sqlite3_errmsg(b->db));
        goto fail;
    }
    if (ledger_sql(b, "PRAGMA foreign_keys = ON; PRAGMA synchronous = FULL;") != 0 ||
        ledger_int(b, &version, "PRAGMA user_version", "") != 0) {
        lm_fail(d, LM_IO, "%s: %s", b->cfg.database, sqlite3_errmsg(b->db));
        goto fail;
    }
    if (version > SCHEMA_VERSION) {
        lm_fail(d, LM_INVAL,
                "%s: ledger schema version %" PRId64 " is newer than this broker's "
                "(%d); run a newer lm-broker",
                b->cfg.database, version, SCHEMA_VERSION);
        goto fail;
    }
    if (ledger_sql(b, "BEGIN IMMEDIATE") != 0) {
        lm_fail(d, LM_IO, "%s: %s", b->cfg.database, sqlite3_errmsg(b->db));
        goto fail;
    }
    if (ledger_sql(b, schema_v1) != 0 ||
        (version < 1 && ledger_sql(b, "PRAGMA user_version = 1") != 0)) {
        lm_fail(d, LM_IO, "%s: cannot create the schema: %s", b->cfg.database,
                sqlite3_errmsg(b->db));
        ledger_sql(b, "ROLLBACK");
        goto fail;
    }
    for (int64_t v = version < 1 ? 1 : version; v < SCHEMA_VERSION; v++) {
        char setver[64];
        snprintf(setver, sizeof setver, "PRAGMA user_version = %" PRId64, v + 1);
        if (ledger_sql(b, upgrades[v - 1]) != 0 || ledger_sql(b, setver) != 0) {
            lm_fail(d, LM_IO,
                    "%s: cannot upgrade the ledger from schema version %" PRId64 " to %" PRId64
                    ": %s; the ledger is unchanged",
                    b->cfg.database, v, v + 1, sqlite3_errmsg(b->db));
            ledger_sql(b, "ROLLBACK");
            goto fail;
        }
        if (version > 0)
            lm_info("%s: ledger upgraded from schema version %" PRId64 " to %" PRId64,
                    b->cfg.database, v, v + 1);
    }
    if (ensure_admin(b, d) != 0) {
        ledger_sql(b, "ROLLBACK");
        goto fail;
    }
    if (ledger_sql(b, "COMMIT") != 0) {
        lm_fail(d, LM_IO, "%s: %s", b->cfg.database, sqlite3_errmsg(b->db));
        goto fail;
    }
    return 0;
fail:
    sqlite3_close(b->db);
    b->db = NULL;
    return -LM_IO;
}

void ledger_close(struct broker *b)
{
    if (b->db)
        sqlite3_close(b->db);
    b->db = NULL;
}
