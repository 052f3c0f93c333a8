/* Unit tests of Evil Man's config: the cluster settings (overlay, readdress) and their errors,
 * and which addresses an overlay lets a guest keep. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "evilman.h"
#include "laundromat/keys.h"
#include "testlib.h"

static char dir[64], keyfile[96], conf[96];

static int setup(void **state)
{
    (void)state;
    strcpy(dir, "/tmp/lm-test-config-XXXXXX");
    assert_non_null(mkdtemp(dir));
    snprintf(keyfile, sizeof keyfile, "%s/broker.key.pub", dir);
    snprintf(conf, sizeof conf, "%s/em.conf", dir);
    struct lm_keypair kp;
    struct lm_diag d;
    assert_int_equal(lm_key_generate(&kp), 0);
    assert_int_equal(lm_key_write_public(keyfile, &kp.pub, &d), 0);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    unlink(keyfile);
    unlink(conf);
    rmdir(dir);
    return 0;
}

/* Loads a minimal config plus extra lines; the status, the message in d. */
static int load(const char *extra, struct em_config *c, struct lm_diag *d)
{
    FILE *f = fopen(conf, "w");
    assert_non_null(f);
    fprintf(f, "host_name = alpha\nbroker_key = %s\nbridge = br0\nbridge_ip = 10.61.0.1/24\n"
               "pool = 10.61.0.10-10.61.0.49\nloader = /x/loader.elf\n%s",
            keyfile, extra);
    fclose(f);
    memset(c, 0, sizeof *c);
    return config_load(conf, c, d);
}

static const uint8_t *ip(const char *s)
{
    static uint8_t b[4][4];
    static int k;
    uint8_t *o = b[k++ % 4];
    assert_int_equal(inet_pton(AF_INET, s, o), 1);
    return o;
}

static void test_defaults(void **state)
{
    (void)state;
    struct em_config c;
    struct lm_diag d = {""};
    assert_int_equal(load("", &c, &d), 0);
    assert_int_equal(c.readdress, 0);
    assert_int_equal(c.noverlays, 0);
    assert_false(overlay_has(&c, ip("10.62.0.10")));
}

static void test_overlays(void **state)
{
    (void)state;
    struct em_config c;
    struct lm_diag d = {""};
    assert_int_equal(load("readdress = 1\noverlay = 42 10.60.0.2 10.62.0.0/24\n"
                          "overlay = 16777215 192.0.2.7 10.63.0.0/16\n", &c, &d), 0);
    assert_int_equal(c.readdress, 1);
    assert_int_equal(c.noverlays, 2);
    assert_int_equal(c.overlays[0].vni, 42);
    assert_memory_equal(c.overlays[0].remote, ip("10.60.0.2"), 4);
    assert_memory_equal(c.overlays[0].subnet, ip("10.62.0.0"), 4);
    assert_int_equal(c.overlays[0].prefix, 24);
    assert_int_equal(c.overlays[1].vni, 16777215);
    /* Guests of an overlay's subnet keep their address here; its network and broadcast
     * addresses, and addresses outside, are not guests'. */
    assert_true(overlay_has(&c, ip("10.62.0.10")));
    assert_true(overlay_has(&c, ip("10.63.200.1")));
    assert_false(overlay_has(&c, ip("10.62.0.0")));
    assert_false(overlay_has(&c, ip("10.62.0.255")));
    assert_false(overlay_has(&c, ip("10.64.0.10")));
    assert_false(overlay_has(&c, ip("10.61.0.10"))); /* its own network is not an overlay's */
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"readdress = 2\n", "readdress = \"2\": expected a number from 0 to 1"},
        {"overlay = 0 10.60.0.2 10.62.0.0/24\n", "VNI (1 to 16777215)"},
        {"overlay = 16777216 10.60.0.2 10.62.0.0/24\n", "VNI (1 to 16777215)"},
        {"overlay = 42 10.60.0.2\n", "its guests' subnet"},
        {"overlay = 42 10.60.0.256 10.62.0.0/24\n", "underlay address"},
        {"overlay = 42 10.60.0.2 10.62.0.0/31\n", "e.g. 42 192.0.2.7 10.62.0.0/24"},
        {"overlay = 42 10.60.0.2 10.62.0.0/24 extra\n", "expected VNI"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct em_config c;
        struct lm_diag d = {""};
        int rc = load(bad[i].line, &c, &d);
        if (rc == 0 || !strstr(d.msg, bad[i].want))
            fail_msg("%s: rc %d, message \"%s\", want \"%s\"", bad[i].line, rc, d.msg, bad[i].want);
        assert_non_null(strstr(d.msg, ":7: ")); /* the line named */
    }
    char many[1024] = "";
    for (int i = 0; i < EM_MAX_OVERLAYS + 1; i++)
        snprintf(many + strlen(many), sizeof many - strlen(many), "overlay = %d 10.60.0.2 10.62.0.0/24\n", i + 1);
    struct em_config c;
    struct lm_diag d = {""};
    assert_int_not_equal(load(many, &c, &d), 0);
    assert_non_null(strstr(d.msg, "more than 8 overlays"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_overlays),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
