/* Unit tests of Evil Man's config: the cluster settings (overlay, readdress), eviction when the
 * host needs the room (evict_*), their errors, and which addresses an overlay lets a guest keep. */
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
    assert_int_equal(c.evict_mem_below_mib, 0); /* no eviction by load unless asked */
    assert_int_equal(c.evict_load_above_centi, 0);
    assert_int_equal(c.evict_grace_ms, 30000);
}

/* The addresses of the host's own network: bridge_ip, mac_prefix, and an overlay's words
 * however they are spaced (lib/netaddr.c reads them). */
static void test_addresses(void **state)
{
    (void)state;
    struct em_config c;
    struct lm_diag d = {""};
    assert_int_equal(load("bridge_ip = 10.61.0.1/16\nmac_prefix = 0a:Bc:de\n"
                          "overlay = 7\t10.60.0.2   10.62.0.0/30\n",
                          &c, &d),
                     0);
    assert_memory_equal(c.bridge_ip, ip("10.61.0.1"), 4);
    assert_int_equal(c.prefix, 16);
    assert_memory_equal(c.mac_prefix, "\x0a\xbc\xde", 3);
    assert_int_equal(c.noverlays, 1);
    assert_int_equal(c.overlays[0].vni, 7);
    assert_memory_equal(c.overlays[0].remote, ip("10.60.0.2"), 4);
    assert_memory_equal(c.overlays[0].subnet, ip("10.62.0.0"), 4);
    assert_int_equal(c.overlays[0].prefix, 30);
    assert_true(pool_in_subnet(&c, ip("10.61.200.7")));
    assert_false(pool_in_subnet(&c, ip("10.61.0.1"))); /* the bridge itself */
    assert_false(pool_in_subnet(&c, ip("10.61.255.255")));
    assert_false(pool_in_subnet(&c, ip("10.62.0.1")));
}

static void test_evict_keys(void **state)
{
    (void)state;
    static const struct {
        const char *lines;
        uint64_t mem_mib, load_centi, grace_ms;
    } good[] = {
        {"evict_mem_below = 1024\nevict_load_above = 1.5\nevict_grace = 20s\n", 1024, 150, 20000},
        {"evict_mem_below = 0\nevict_load_above = 0\n", 0, 0, 30000},
        {"evict_load_above = 0.75\nevict_grace = 1500ms\n", 0, 75, 1500},
        {"evict_load_above = 2\nevict_grace = 2m\n", 0, 200, 120000},
        {"evict_load_above = 1000.00\nevict_grace = 45\n", 0, 100000, 45000},
        {"evict_mem_below = 1073741824\nevict_grace = 0s\n", 1073741824, 0, 0},
        {"evict_load_above = 0.05\nevict_grace = 1440m\n", 0, 5, 86400000},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        struct em_config c;
        struct lm_diag d = {""};
        if (load(good[i].lines, &c, &d) != 0)
            fail_msg("%s: refused: %s", good[i].lines, d.msg);
        if (c.evict_mem_below_mib != good[i].mem_mib || c.evict_load_above_centi != good[i].load_centi || c.evict_grace_ms != good[i].grace_ms)
            fail_msg("%s: %llu MiB, %llu/100, %llu ms", good[i].lines, (unsigned long long)c.evict_mem_below_mib, (unsigned long long)c.evict_load_above_centi, (unsigned long long)c.evict_grace_ms);
    }
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
        {"overlay = 42 10.60.0.2 10.62.0.0/24x\n", "expected VNI"},
        {"overlay = 42 010.60.0.2 10.62.0.0/24\n", "expected VNI"},
        {"overlay = 42 10.60.0.2 10.62.0.300/24\n", "expected VNI"},
        {"overlay = 42 10.60.0.2/24 10.62.0.0/24\n", "expected VNI"},
        {"overlay = 42 10.60.0.2 10.62.0/24\n", "expected VNI"},
        {"overlay = -1 10.60.0.2 10.62.0.0/24\n", "expected VNI"},
        {"bridge_ip = 10.61.0.300/24\n", "bridge_ip = \"10.61.0.300/24\": expected A.B.C.D/PREFIX (prefix 8 to 30)"},
        {"bridge_ip = 10.61.0.1/31\n", "bridge_ip = \"10.61.0.1/31\": expected A.B.C.D/PREFIX (prefix 8 to 30)"},
        {"bridge_ip = 10.61.0.1/7\n", "bridge_ip = \"10.61.0.1/7\": expected"},
        {"bridge_ip = 10.61.0.1/24 x\n", "bridge_ip = \"10.61.0.1/24 x\": expected"},
        {"bridge_ip = 10.61.0.1\n", "bridge_ip = \"10.61.0.1\": expected"},
        {"bridge_ip = 1.2.3/24\n", "bridge_ip = \"1.2.3/24\": expected"},
        {"mac_prefix = 03:4c:4d\n", "mac_prefix = \"03:4c:4d\": expected three unicast bytes XX:XX:XX"},
        {"mac_prefix = 02:4c\n", "mac_prefix = \"02:4c\": expected three unicast bytes XX:XX:XX"},
        {"mac_prefix = 02:4c:4d:00\n", "mac_prefix = \"02:4c:4d:00\": expected"},
        {"mac_prefix = 2:4c:4d\n", "mac_prefix = \"2:4c:4d\": expected"},
        {"mac_prefix = 02:4c:4g\n", "mac_prefix = \"02:4c:4g\": expected"},
        {"evict_mem_below = lots\n", "evict_mem_below = \"lots\": expected the MiB of MemAvailable under which a VM is evicted, such as 1024 (0: never)"},
        {"evict_mem_below = -1\n", "evict_mem_below = \"-1\": expected the MiB"},
        {"evict_mem_below = 1024M\n", "evict_mem_below = \"1024M\": expected the MiB"},
        {"evict_mem_below = 1073741825\n", "evict_mem_below = \"1073741825\": expected"},
        {"evict_load_above = 1.555\n", "evict_load_above = \"1.555\": expected the 1-minute load average per CPU above which a VM is evicted, such as 1.5 (at most two decimals, at most 1000; 0: never)"},
        {"evict_load_above = 1000.01\n", "evict_load_above = \"1000.01\": expected"},
        {"evict_load_above = 99999999999999999999999\n", "evict_load_above = \"99999999999999999999999\": expected"},
        {"evict_load_above = .5\n", "evict_load_above = \".5\": expected"},
        {"evict_load_above = 1,5\n", "evict_load_above = \"1,5\": expected"},
        {"evict_load_above = 1.\n", "evict_load_above = \"1.\": expected"},
        {"evict_load_above = -1\n", "evict_load_above = \"-1\": expected"},
        {"evict_grace = soon\n", "evict_grace = \"soon\": expected the time an evicted VM has to leave, such as 30s, 2m or 1500ms (at most a day)"},
        {"evict_grace = 1441m\n", "evict_grace = \"1441m\": expected"},
        {"evict_grace = 2h\n", "evict_grace = \"2h\": expected"},
        {"evict_grace = -1s\n", "evict_grace = \"-1s\": expected"},
        {"evict_grace = 99999999999999999999s\n", "evict_grace = \"99999999999999999999s\": expected"},
        {"datagram_rate_per_source = 0\n", "datagram_rate_per_source = \"0\": expected"},
        {"warm_loaders = 17\n", "warm_loaders = \"17\": expected"},
        {"warm_mem_mib = 1\n", "warm_mem_mib = \"1\": expected"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct em_config c;
        struct lm_diag d = {""};
        int rc = load(bad[i].line, &c, &d);
        if (rc == 0 || !strstr(d.msg, bad[i].want))
            fail_msg("%s: rc %d, message \"%s\", want \"%s\"", bad[i].line, rc, d.msg, bad[i].want);
        assert_non_null(strstr(d.msg, ":7: ")); /* the line named */
    }
    /* Warm loaders that no token could use, or that leave no room for other buyers. */
    static const struct {
        const char *lines, *want;
    } whole[] = {
        {"warm_loaders = 1\nwarm_mem_mib = 2048\n",
         "warm_mem_mib = 2048 is above max_mem_mib = 1024: no token could use such a loader"},
        {"warm_loaders = 8\nmax_vms = 8\n",
         "warm_loaders = 8 leaves no room of max_vms = 8 for a buyer's VM of another size"},
    };
    for (size_t i = 0; i < sizeof whole / sizeof whole[0]; i++) {
        struct em_config c;
        struct lm_diag d = {""};
        int rc = load(whole[i].lines, &c, &d);
        if (rc == 0 || !strstr(d.msg, whole[i].want))
            fail_msg("%s: rc %d, message \"%s\", want \"%s\"", whole[i].lines, rc, d.msg, whole[i].want);
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
        cmocka_unit_test(test_addresses),
        cmocka_unit_test(test_evict_keys),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
