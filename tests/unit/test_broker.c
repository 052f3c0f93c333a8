/* Unit tests of the broker's pure parts: the price formula, names, the config parser, the
 * escaping of echoed client bytes, request deadlines; and the ledger's schema upgrades. */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "testlib.h"

static void test_unit_price(void **state)
{
    (void)state;
    /* price * ceil(mem / 64 MiB) * vcpus */
    assert_int_equal(broker_unit_price(3, 64, 1), 3);
    assert_int_equal(broker_unit_price(3, 1, 1), 3);
    assert_int_equal(broker_unit_price(3, 65, 1), 6);
    assert_int_equal(broker_unit_price(3, 100, 2), 12);
    assert_int_equal(broker_unit_price(3, 128, 4), 24);
    assert_int_equal(broker_unit_price(1, 1u << 20, 256), 16384 * 256);
    assert_int_equal(broker_unit_price((int64_t)1 << 40, 1u << 20, 256), (int64_t)1 << 62);
    assert_int_equal(broker_unit_price((int64_t)1 << 41, 1u << 20, 256), -1); /* overflow */
    assert_int_equal(broker_unit_price(-1, 64, 1), -1);
}

static void test_names(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "alpha", "host-1.eu_west",
                                       "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"};
    static const char *const bad[] = {
        "", "a b", "host/1", "h\xc3\xa9", "a?b", "a%20", "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true(name_ok(good[i]));
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(name_ok(bad[i]));
    assert_true(lower_hex_ok("00ff", 4));
    assert_false(lower_hex_ok("00FF", 4));
    assert_false(lower_hex_ok("00f", 4));
    assert_false(lower_hex_ok("00ff0", 4));
}

/* VM names (given at purchase, looked up by GET /v1/locations/NAME): [a-z0-9][a-z0-9-]{0,62}. */
static void test_vm_names(void **state)
{
    (void)state;
    static const char *const good[] = {"a", "9", "web-1", "9lives", "a-", "a--b"};
    static const char *const bad[] = {"",      "-a",       "-",     "Web",     "web_1", "web.1",
                                      "web 1", "w\u00e9b", "web/1", "web%2d1", "web\n", "a?b"};
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        if (!vm_name_ok(good[i]))
            fail_msg("\"%s\" refused", good[i]);
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        if (vm_name_ok(bad[i]))
            fail_msg("\"%s\" accepted", bad[i]);
    char longest[BROKER_VM_NAME_MAX + 2];
    memset(longest, 'a', sizeof longest - 1);
    longest[sizeof longest - 1] = '\0';
    assert_false(vm_name_ok(longest)); /* 64 */
    longest[BROKER_VM_NAME_MAX - 1] = '-';
    longest[BROKER_VM_NAME_MAX] = '\0';
    assert_true(vm_name_ok(longest)); /* 63, ending in '-' */
}

/*
 * The ledger schema of version 1, exactly as lm-broker created it before VM names and
 * locations (commit c15fc96, broker/ledger.c): a ledger made by that broker must open.
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

/* The ledger in dir/ledger.db under a broker with the admin key 0. */
static void ledger_broker(struct broker *b, const char *dir)
{
    memset(b, 0, sizeof *b);
    config_defaults(&b->cfg);
    snprintf(b->cfg.database, sizeof b->cfg.database, "%s/ledger.db", dir);
    struct lm_keypair kp;
    t_key(0, &kp);
    b->admin = kp.pub;
}

static int64_t one_int(sqlite3 *db, const char *sql)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) != SQLITE_OK)
        fail_msg("%s: %s", sql, sqlite3_errmsg(db));
    int64_t v = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    sqlite3_finalize(st);
    return v;
}

static void sql(sqlite3 *db, const char *text)
{
    char *err = NULL;
    if (sqlite3_exec(db, text, NULL, NULL, &err) != SQLITE_OK)
        fail_msg("%.60s: %s", text, err);
}

/* A version-1 ledger with an account, a host and a token is upgraded to version 2 in place:
 * its rows kept, tokens gain a nullable name, the locations table appears; opening it again
 * changes nothing; a ledger of a newer version is refused with a message naming both. */
static void test_ledger_upgrade(void **state)
{
    (void)state;
    char dir[] = "/tmp/lm-test-ledger-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    struct broker b;
    ledger_broker(&b, dir);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(b.cfg.database, &db), SQLITE_OK);
    sql(db, schema_v1);
    sql(db, "INSERT INTO accounts (id, name, role, key_id, public_key, balance, created_at) VALUES "
            "(2, 'alice', 'buyer', '0123456789abcdef', 'aa', 90, 1), (3, 'op1', 'operator', "
            "'1123456789abcdef', 'bb', 0, 1);"
            "INSERT INTO deposits (account_id, amount, time) VALUES (2, 100, 1);"
            "INSERT INTO hosts VALUES ('alpha', 3, NULL, '10.0.0.1', 7000, 1, 1000, 1, 1);"
            "INSERT INTO tokens (id, buyer_id, scope_kind, scope, key_id, issued_at, expires_at, "
            "mem_mib, vcpus, payload, anchor, chain_len, prepaid_units, link_value_ms, unit_price, "
            "cost, last_link, request_hash, token) VALUES ('0123456789abcdef0123456789abcdef', 2, "
            "'host', 'alpha', 'k', 10, 20, 64, 1, 'image', 'a', 0, 10, 1000, 1, 10, 'a', 'h', 't');"
            "PRAGMA user_version = 1;");
    sqlite3_close(db);

    struct lm_diag d;
    if (ledger_open(&b, &d) != 0)
        fail_msg("the version-1 ledger does not open: %s", d.msg);
    assert_int_equal(one_int(b.db, "PRAGMA user_version"), 2);
    assert_int_equal(one_int(b.db, "SELECT COUNT(*) FROM tokens WHERE name IS NULL AND cost = 10"),
                     1);
    assert_int_equal(one_int(b.db, "SELECT balance FROM accounts WHERE name = 'alice'"), 90);
    assert_int_equal(one_int(b.db, "SELECT COUNT(*) FROM accounts"), 3); /* and the admin */
    /* The new column and table work, with their constraints. */
    sql(b.db,
        "UPDATE tokens SET name = 'web-1'; INSERT INTO locations VALUES (2, 'web-1', 'alpha', "
        "'10.0.0.9', '0123456789abcdef0123456789abcdef', 30)");
    assert_int_not_equal(sqlite3_exec(b.db, "UPDATE tokens SET name = 'Web'", NULL, NULL, NULL),
                         SQLITE_OK);
    assert_int_not_equal(sqlite3_exec(b.db,
                                      "INSERT INTO locations VALUES (2, 'x', 'omega', "
                                      "'10.0.0.9', '0123456789abcdef0123456789abcdef', 30)",
                                      NULL, NULL, NULL),
                         SQLITE_OK); /* no host omega */
    ledger_close(&b);

    /* Opened again: nothing to upgrade, nothing lost. */
    if (ledger_open(&b, &d) != 0)
        fail_msg("the upgraded ledger does not open: %s", d.msg);
    assert_int_equal(one_int(b.db, "PRAGMA user_version"), 2);
    assert_int_equal(one_int(b.db, "SELECT COUNT(*) FROM locations WHERE name = 'web-1'"), 1);
    sql(b.db, "PRAGMA user_version = 3");
    ledger_close(&b);
    assert_int_equal(ledger_open(&b, &d), -LM_IO);
    assert_non_null(strstr(d.msg, "ledger schema version 3 is newer than this broker's (2)"));
    assert_non_null(strstr(d.msg, b.cfg.database));

    /* A new ledger gets the same schema as an upgraded one. */
    snprintf(path, sizeof path, "%s/ledger.db", dir);
    unlink(path);
    ledger_broker(&b, dir);
    if (ledger_open(&b, &d) != 0)
        fail_msg("a new ledger does not open: %s", d.msg);
    assert_int_equal(one_int(b.db, "PRAGMA user_version"), 2);
    assert_int_equal(one_int(b.db, "SELECT COUNT(*) FROM pragma_table_info('tokens') WHERE name = "
                                   "'name' AND \"notnull\" = 0"),
                     1);
    assert_int_equal(one_int(b.db, "SELECT COUNT(*) FROM pragma_table_info('locations')"), 6);
    ledger_close(&b);
    static const char *const files[] = {"ledger.db", "ledger.db-wal", "ledger.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

/* Writes text to a temporary config file and loads it. */
static int load(const char *text, struct broker_config *cfg, struct lm_diag *d, char *path)
{
    strcpy(path, "/tmp/lm-test-broker-XXXXXX.conf");
    int fd = mkstemps(path, 5);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
    close(fd);
    config_defaults(cfg);
    int rc = config_load(path, cfg, d);
    unlink(path);
    return rc;
}

static void test_config(void **state)
{
    (void)state;
    struct broker_config cfg;
    struct lm_diag d;
    char path[64];
    assert_int_equal(load("# a comment\n\n  listen = 0.0.0.0:9000  \ndatabase=/var/lib/l.db\n"
                          "signing_key = keys/broker.key\naccepted_key = old1.pub\n"
                          "accepted_key = /etc/old2.pub\nadmin_key = admin.pub\nmax_skew = 30\n"
                          "settlement_grace = 0\nsweep_interval = 5\nmax_body = 2048\n"
                          "max_ttl = 86400\nmax_connections = 10\nlog_level = debug\n"
                          "max_connections_per_address = 3\nrequest_timeout = 7\n",
                          &cfg, &d, path),
                     0);
    assert_string_equal(cfg.listen, "0.0.0.0:9000");
    assert_string_equal(cfg.database, "/var/lib/l.db");
    assert_string_equal(cfg.signing_key, "/tmp/keys/broker.key"); /* relative to the file */
    assert_int_equal(cfg.naccepted, 2);
    assert_string_equal(cfg.accepted_keys[0], "/tmp/old1.pub");
    assert_string_equal(cfg.accepted_keys[1], "/etc/old2.pub");
    assert_int_equal(cfg.max_skew_s, 30);
    assert_int_equal(cfg.settlement_grace_s, 0);
    assert_int_equal(cfg.sweep_interval_s, 5);
    assert_int_equal(cfg.max_body, 2048);
    assert_int_equal(cfg.max_ttl_s, 86400);
    assert_int_equal(cfg.max_connections, 10);
    assert_int_equal(cfg.max_per_address, 3);
    assert_int_equal(cfg.request_timeout_s, 7);
    assert_int_equal(cfg.log_level, LM_LOG_DEBUG);
    /* Defaults. */
    assert_int_equal(load("", &cfg, &d, path), 0);
    assert_string_equal(cfg.listen, "127.0.0.1:8480");
    assert_int_equal(cfg.max_skew_s, 300);
    assert_int_equal(cfg.settlement_grace_s, 3600);
    assert_int_equal(cfg.max_per_address, 32);
    assert_int_equal(cfg.request_timeout_s, 10);

    static const struct {
        const char *text, *msg;
    } bad[] = {
        {"listen 127.0.0.1:1\n", ":1: expected \"name = value\""},
        {"colour = red\n", ":1: unknown setting \"colour\""},
        {"\nmax_skew = 0\n", ":2: max_skew = \"0\": expected seconds, 1 to 86400"},
        {"max_skew = 10s\n", "max_skew = \"10s\""},
        {"max_skew = -1\n", "max_skew = \"-1\""},
        {"max_skew = 99999999999999999999\n", "max_skew"},
        {"max_body = 100\n", "max_body = \"100\": expected bytes, 1024 to 16777216"},
        {"max_ttl = 34560001\n", "max_ttl"},
        {"log_level = loud\n", "log_level = \"loud\": expected error, warn, info or debug"},
        {"max_skew = 1\nmax_skew = 2\n", ":2: max_skew given twice"},
        {"sweep_interval = \n", "sweep_interval = \"\""},
        {"max_connections_per_address = 0\n",
         "max_connections_per_address = \"0\": expected a number, 1 to 10000"},
        {"request_timeout = 3601\n", "request_timeout = \"3601\": expected seconds, 1 to 3600"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&d, 0, sizeof d);
        assert_int_equal(load(bad[i].text, &cfg, &d, path), -LM_INVAL);
        if (!strstr(d.msg, bad[i].msg))
            fail_msg("case %zu: \"%s\" lacks \"%s\"", i, d.msg, bad[i].msg);
        assert_non_null(strstr(d.msg, path)); /* names the file */
    }
    char many[4096] = "";
    for (int i = 0; i < BROKER_MAX_KEYS; i++)
        strcat(many, "accepted_key = k.pub\n");
    assert_int_equal(load(many, &cfg, &d, path), -LM_INVAL);
    assert_non_null(strstr(d.msg, "at most 15 accepted_key lines"));
    /* The documented example loads as it is. */
    const char *top = getenv("LM_TOP");
    if (top) {
        char ex[4096];
        snprintf(ex, sizeof ex, "%s/docs/broker.conf.example", top);
        config_defaults(&cfg);
        if (config_load(ex, &cfg, &d) != 0)
            fail_msg("%s", d.msg);
        assert_string_equal(cfg.signing_key, "/etc/laundromat/broker.key");
        assert_int_equal(cfg.max_ttl_s, 2592000);
    }
    assert_int_equal(config_load("/nonexistent/broker.conf", &cfg, &d), -LM_IO);
    assert_non_null(strstr(d.msg, "/nonexistent/broker.conf: No such file"));
}

/* Echoed client bytes: UTF-8 kept, anything else \xNN, never cut inside a character. */
static void test_echo_clean(void **state)
{
    (void)state;
    static const struct {
        const char *in, *out;
        size_t cap;
    } cases[] = {
        {"plain /v1/keys", "plain /v1/keys", 64},
        {"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80",
         64},
        {"/v1/\xff", "/v1/\\xff", 64},
        {"G\xffT", "G\\xffT", 64},
        {"cut \xc3", "cut \\xc3", 64},                    /* a sequence cut by %.Ns */
        {"cut \xe2\x82", "cut \\xe2\\x82", 64},           /* two of three bytes */
        {"\xc0\xaf", "\\xc0\\xaf", 64},                   /* overlong '/' */
        {"\xed\xa0\x80", "\\xed\\xa0\\x80", 64},          /* a surrogate, U+D800 */
        {"\xf4\x90\x80\x80", "\\xf4\\x90\\x80\\x80", 64}, /* above U+10FFFF */
        {"\x80x", "\\x80x", 64},                          /* a lone continuation byte */
        {"ab\xc3\xa9", "ab", 4},                          /* no room for all of é: cut before it */
        {"ab\xff", "ab", 6},                              /* no room for all of \xff */
        {"ab\xff", "ab\\xff", 7},
        {"", "", 1},
    };
    char out[64];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = echo_clean(out, cases[i].cap, cases[i].in);
        if (strcmp(out, cases[i].out) || n != strlen(out))
            fail_msg("case %zu: got \"%s\" (%zu), want \"%s\"", i, out, n, cases[i].out);
        json_t *j = json_string(out); /* jansson takes it */
        assert_non_null(j);
        json_decref(j);
    }
}

/* A watched connection that delivers no whole request is shut down after the deadline; one
 * answering a request (no request due) is left alone. */
static void test_deadline(void **state)
{
    (void)state;
    int late[2], busy[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, late), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, busy), 0);
    assert_int_equal(deadline_start(1), 0);
    struct watched *wl = deadline_watch(late[0], "late"), *wb = deadline_watch(busy[0], "busy");
    assert_non_null(wl);
    assert_non_null(wb);
    deadline_set(wb, 0);
    /* Generous: the deadline is 1 s, a loaded machine may be slow to run the thread. */
    struct pollfd p = {.fd = late[1], .events = POLLIN};
    assert_int_equal(poll(&p, 1, 20000), 1);
    char c;
    assert_int_equal(read(late[1], &c, 1), 0); /* end of stream: shut down */
    p.fd = busy[1];
    assert_int_equal(poll(&p, 1, 0), 0);
    deadline_forget(wl);
    deadline_forget(wb);
    deadline_stop();
    for (int i = 0; i < 2; i++) {
        close(late[i]);
        close(busy[i]);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unit_price),     cmocka_unit_test(test_names),
        cmocka_unit_test(test_config),         cmocka_unit_test(test_echo_clean),
        cmocka_unit_test(test_deadline),       cmocka_unit_test(test_vm_names),
        cmocka_unit_test(test_ledger_upgrade),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
