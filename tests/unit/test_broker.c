/* Unit tests of the broker's pure parts: the price formula, names, the config parser, the
 * escaping of echoed client bytes, and request deadlines. */
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
        cmocka_unit_test(test_unit_price), cmocka_unit_test(test_names),
        cmocka_unit_test(test_config),     cmocka_unit_test(test_echo_clean),
        cmocka_unit_test(test_deadline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
