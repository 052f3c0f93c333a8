/* Unit tests of Evil Man's address pool: taking, claiming a guest's own address, the subnet. */
#include <arpa/inet.h>
#include <string.h>

#include "evilman.h"
#include "testlib.h"

static struct em_config cfg;

static const uint8_t *ip(const char *s)
{
    static uint8_t b[4][4];
    static int k;
    uint8_t *o = b[k++ % 4];
    assert_int_equal(inet_pton(AF_INET, s, o), 1);
    return o;
}

static int setup(void **state)
{
    (void)state;
    memset(&cfg, 0, sizeof cfg);
    memcpy(cfg.bridge_ip, ip("10.9.0.1"), 4);
    cfg.prefix = 24;
    memcpy(cfg.pool_lo, ip("10.9.0.10"), 4);
    memcpy(cfg.pool_hi, ip("10.9.0.11"), 4);
    return 0;
}

static void test_take_claim_release(void **state)
{
    (void)state;
    uint8_t a[4], m[6];
    unsigned base = pool_in_use();
    /* A guest's address inside the pool is claimed: the pool hands it to nobody else. */
    assert_int_equal(pool_claim(&cfg, ip("10.9.0.10")), 0);
    assert_int_equal(pool_claim(&cfg, ip("10.9.0.10")), -1);
    assert_int_equal(pool_take(&cfg, ip("10.9.0.10"), a, m), -1);
    assert_int_equal(pool_take(&cfg, NULL, a, m), 0);
    assert_memory_equal(a, ip("10.9.0.11"), 4);
    assert_int_equal(pool_take(&cfg, NULL, a, m), -1); /* full */
    assert_int_equal(pool_in_use(), base + 2);
    /* Outside the pool's range the VM table alone accounts it. */
    assert_int_equal(pool_claim(&cfg, ip("10.9.0.200")), 0);
    assert_int_equal(pool_in_use(), base + 2);
    pool_release(&cfg, ip("10.9.0.200")); /* not the pool's: nothing changes */
    assert_int_equal(pool_in_use(), base + 2);
    pool_release(&cfg, ip("10.9.0.10"));
    pool_release(&cfg, ip("10.9.0.10")); /* twice: once counted */
    assert_int_equal(pool_in_use(), base + 1);
    assert_int_equal(pool_take(&cfg, NULL, a, m), 0);
    assert_memory_equal(a, ip("10.9.0.10"), 4);
    pool_release(&cfg, ip("10.9.0.10"));
    pool_release(&cfg, ip("10.9.0.11"));
    assert_int_equal(pool_in_use(), base);
}

static void test_subnet(void **state)
{
    (void)state;
    assert_true(pool_in_subnet(&cfg, ip("10.9.0.10")));
    assert_true(pool_in_subnet(&cfg, ip("10.9.0.254")));
    assert_false(pool_in_subnet(&cfg, ip("10.9.0.1")));   /* the gateway */
    assert_false(pool_in_subnet(&cfg, ip("10.9.0.0")));   /* the network */
    assert_false(pool_in_subnet(&cfg, ip("10.9.0.255"))); /* broadcast */
    assert_false(pool_in_subnet(&cfg, ip("10.9.1.10")));  /* another subnet */
    assert_false(pool_in_subnet(&cfg, ip("0.0.0.0")));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_take_claim_release, setup),
        cmocka_unit_test_setup(test_subnet, setup),
    };
    return cmocka_run_group_tests_name("pool", tests, NULL, NULL);
}
