/* Unit tests of lib/netaddr.c: MAC and A.B.C.D/PREFIX text, good and every kind of bad, and
 * subnets. */
#include <arpa/inet.h>
#include <string.h>

#include "laundromat/netaddr.h"
#include "laundromat/status.h"
#include "testlib.h"

static void test_mac_parse(void **state)
{
    (void)state;
    uint8_t m[6];
    assert_int_equal(lm_mac_parse("02:4c:4d:00:00:01", m, 6), 0);
    assert_memory_equal(m, "\x02\x4c\x4d\x00\x00\x01", 6);
    assert_int_equal(lm_mac_parse("FE:dc:BA:98:76:54", m, 6), 0); /* either case */
    assert_memory_equal(m, "\xfe\xdc\xba\x98\x76\x54", 6);
    /* The parser does not judge unicast: a multicast MAC is read; callers refuse it. */
    assert_int_equal(lm_mac_parse("01:00:5e:00:00:01", m, 6), 0);
    assert_int_equal(m[0] & 1, 1);
    /* Three bytes: Evil Man's mac_prefix. */
    uint8_t p[3] = {0};
    assert_int_equal(lm_mac_parse("02:4c:4d", p, 3), 0);
    assert_memory_equal(p, "\x02\x4c\x4d", 3);
    assert_int_equal(lm_mac_parse("aa", p, 1), 0);
    assert_int_equal(p[0], 0xaa);
}

static void test_mac_refusals(void **state)
{
    (void)state;
    static const char *const bad6[] = {
        "",
        "02:4c:4d:00:00",       /* five bytes */
        "02:4c:4d:00:00:01:02", /* seven */
        "02:4c:4d:00:00:01:",   /* trailing colon */
        "02:4c:4d:00:00:01 ",   /* trailing space */
        "02:4c:4d:00:00:01x",   /* trailing junk */
        " 02:4c:4d:00:00:01",   /* leading space */
        "2:4c:4d:0:0:1",        /* short groups */
        "002:4c:4d:00:00:01",   /* long group */
        "02-4c-4d-00-00-01",    /* other separator */
        "024c4d000001",         /* none */
        "02:4c:4d:00:00:0g",    /* not hex */
        "02:4c:4d:00: 0:01",    /* a space inside a group (sscanf's %2x took it) */
        "02:4c:4d:00:+0:01",    /* a sign (likewise) */
        "0x:4c:4d:00:00:01",
        "02::4c:4d:00:00",
    };
    for (size_t i = 0; i < sizeof bad6 / sizeof bad6[0]; i++) {
        uint8_t m[6] = {0xa5, 0xa5, 0xa5, 0xa5, 0xa5, 0xa5};
        if (lm_mac_parse(bad6[i], m, 6) != -LM_INVAL)
            fail_msg("\"%s\" was taken as a MAC", bad6[i]);
        assert_memory_equal(m, "\xa5\xa5\xa5\xa5\xa5\xa5", 6); /* left alone */
    }
    uint8_t m[6];
    assert_int_equal(lm_mac_parse("02:4c:4d:00:00:01", m, 3), -LM_INVAL); /* 6 bytes for 3 */
    assert_int_equal(lm_mac_parse("02:4c:4d", m, 6), -LM_INVAL);
    assert_int_equal(lm_mac_parse("", m, 0), -LM_INVAL); /* sizes out of range */
    assert_int_equal(lm_mac_parse("02:4c:4d:00:00:01:02", m, 7), -LM_INVAL);
}

static void test_mac_format(void **state)
{
    (void)state;
    char s[LM_MAC_STR];
    uint8_t m[6] = {0x02, 0x4c, 0x4d, 0x00, 0x0a, 0xff}, back[6];
    assert_ptr_equal(lm_mac_format(m, s), s);
    assert_string_equal(s, "02:4c:4d:00:0a:ff");
    assert_int_equal(lm_mac_parse(s, back, 6), 0);
    assert_memory_equal(back, m, 6);
}

/* The formatters write what the parsers read, at the widest values their buffers are sized for. */
static void test_ip4_format(void **state)
{
    (void)state;
    char a[LM_IP4_STR], p[LM_IP4_PREFIX_STR];
    const uint8_t wide[4] = {255, 255, 255, 255}, low[4] = {10, 0, 7, 1};
    assert_ptr_equal(lm_ip4_format(wide, a), a);
    assert_string_equal(a, "255.255.255.255");
    assert_string_equal(lm_ip4_format(low, a), "10.0.7.1");
    assert_ptr_equal(lm_ip4_prefix_format(wide, 255, p), p);
    assert_string_equal(p, "255.255.255.255/255");
    assert_string_equal(lm_ip4_prefix_format(low, 24, p), "10.0.7.1/24");
    uint8_t ip[4], prefix;
    assert_int_equal(lm_ip4_prefix_parse(p, 0, 32, ip, &prefix), 0);
    assert_memory_equal(ip, low, 4);
    assert_int_equal(prefix, 24);
}

static void test_ip4_prefix_parse(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        uint8_t ip[4], prefix;
    } good[] = {
        {"10.0.0.1/24", {10, 0, 0, 1}, 24}, {"192.168.255.254/16", {192, 168, 255, 254}, 16},
        {"0.0.0.0/1", {0, 0, 0, 0}, 1},     {"255.255.255.255/32", {255, 255, 255, 255}, 32},
        {"10.62.0.0/9", {10, 62, 0, 0}, 9},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        uint8_t ip[4], p = 0;
        if (lm_ip4_prefix_parse(good[i].s, 1, 32, ip, &p) != 0)
            fail_msg("\"%s\" was refused", good[i].s);
        assert_memory_equal(ip, good[i].ip, 4);
        assert_int_equal(p, good[i].prefix);
    }
    uint8_t ip[4], p = 99;
    assert_int_equal(lm_ip4_prefix_parse("10.0.0.0/0", 0, 32, ip, &p), 0); /* when allowed */
    assert_int_equal(p, 0);
    assert_int_equal(lm_ip4_prefix_parse("10.0.0.1/8", 8, 30, ip, &p), 0); /* the bounds */
    assert_int_equal(lm_ip4_prefix_parse("10.0.0.1/30", 8, 30, ip, &p), 0);
    assert_int_equal(p, 30);
}

static void test_ip4_prefix_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        unsigned lo, hi;
    } bad[] = {
        {"10.0.0.300/24", 1, 32}, /* a part above 255 */
        {"10.0.0.256/24", 1, 32},
        {"10.0.0.1/33", 1, 32}, /* prefix above 32 */
        {"10.0.0.1/33", 0, 40}, /* ... whatever the caller allows */
        {"10.0.0.1/100", 1, 32},
        {"10.0.0.1/0", 1, 32}, /* below the caller's least */
        {"10.0.0.1/7", 8, 30},
        {"10.0.0.1/31", 8, 30},
        {"1.2.3", 1, 32},        /* no slash */
        {"1.2.3/24", 1, 32},     /* three parts */
        {"1.2.3.4.5/24", 1, 32}, /* five */
        {"10.0.0.1", 1, 32},
        {"10.0.0.1/", 1, 32}, /* empty prefix */
        {"/24", 1, 32},       /* empty address */
        {"", 1, 32},
        {"10.0.0.1/24x", 1, 32}, /* trailing junk */
        {"10.0.0.1/24 ", 1, 32},
        {"10.0.0.1/24/8", 1, 32},
        {"10.0.0.1/2x", 1, 32},
        {"10.0.0.1 /24", 1, 32}, /* spaces */
        {" 10.0.0.1/24", 1, 32},
        {"10.0.0.1/ 24", 1, 32},
        {"10.0.0.1/+24", 1, 32}, /* a sign */
        {"10.0.0.1/-1", 0, 32},
        {"10.0.0.1/024", 1, 32}, /* leading zeros */
        {"10.0.0.1/00", 0, 32},
        {"010.0.0.1/24", 1, 32},
        {"10.0.0.01/24", 1, 32},
        {"0x0a.0.0.1/24", 1, 32}, /* other bases */
        {"10.0.0.1/0x18", 1, 32},
        {"10..0.1/24", 1, 32},
        {"10.0.0.1.1.1.1.1.1.1.1/24", 1, 32}, /* longer than any address */
        {"::1/128", 1, 32},                   /* IPv6 */
        {"a.b.c.d/24", 1, 32},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        uint8_t ip[4] = {0xa5, 0xa5, 0xa5, 0xa5}, p = 0xa5;
        if (lm_ip4_prefix_parse(bad[i].s, bad[i].lo, bad[i].hi, ip, &p) != -LM_INVAL)
            fail_msg("\"%s\" (prefix %u to %u) was taken", bad[i].s, bad[i].lo, bad[i].hi);
        assert_memory_equal(ip, "\xa5\xa5\xa5\xa5", 4); /* left alone */
        assert_int_equal(p, 0xa5);
    }
}

static uint32_t mask_of(const char *dotted)
{
    uint32_t m;
    assert_int_equal(inet_pton(AF_INET, dotted, &m), 1);
    return m;
}

static void test_ip4_mask(void **state)
{
    (void)state;
    assert_int_equal(lm_ip4_mask(0), 0);
    assert_int_equal(lm_ip4_mask(1), mask_of("128.0.0.0"));
    assert_int_equal(lm_ip4_mask(8), mask_of("255.0.0.0"));
    assert_int_equal(lm_ip4_mask(24), mask_of("255.255.255.0"));
    assert_int_equal(lm_ip4_mask(30), mask_of("255.255.255.252"));
    assert_int_equal(lm_ip4_mask(32), mask_of("255.255.255.255"));
}

static void test_ip4_is_host(void **state)
{
    (void)state;
    static const struct {
        uint8_t ip[4], net[4];
        unsigned prefix;
        bool host;
    } cases[] = {
        {{10, 62, 0, 10}, {10, 62, 0, 0}, 24, true},
        {{10, 62, 0, 1}, {10, 62, 0, 77}, 24, true}, /* net's host bits do not matter */
        {{10, 62, 0, 254}, {10, 62, 0, 0}, 24, true},
        {{10, 62, 0, 0}, {10, 62, 0, 0}, 24, false},   /* the network address */
        {{10, 62, 0, 255}, {10, 62, 0, 0}, 24, false}, /* the broadcast */
        {{10, 62, 1, 10}, {10, 62, 0, 0}, 24, false},  /* outside */
        {{10, 63, 200, 1}, {10, 63, 0, 0}, 16, true},
        {{10, 64, 0, 10}, {10, 63, 0, 0}, 16, false},
        {{10, 0, 0, 1}, {10, 0, 0, 0}, 30, true},
        {{10, 0, 0, 3}, {10, 0, 0, 0}, 30, false},
        {{1, 2, 3, 4}, {0, 0, 0, 0}, 0, true}, /* prefix 0: everything but 0 and ~0 */
        {{0, 0, 0, 0}, {0, 0, 0, 0}, 0, false},
        {{255, 255, 255, 255}, {9, 9, 9, 9}, 0, false},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        if (lm_ip4_is_host(cases[i].ip, cases[i].net, cases[i].prefix) != cases[i].host)
            fail_msg("case %zu: %u.%u.%u.%u in %u.%u.%u.%u/%u: want %d", i, cases[i].ip[0],
                     cases[i].ip[1], cases[i].ip[2], cases[i].ip[3], cases[i].net[0],
                     cases[i].net[1], cases[i].net[2], cases[i].net[3], cases[i].prefix,
                     cases[i].host);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mac_parse),           cmocka_unit_test(test_mac_refusals),
        cmocka_unit_test(test_mac_format),          cmocka_unit_test(test_ip4_prefix_parse),
        cmocka_unit_test(test_ip4_prefix_refusals), cmocka_unit_test(test_ip4_mask),
        cmocka_unit_test(test_ip4_is_host),         cmocka_unit_test(test_ip4_format),
    };
    return cmocka_run_group_tests_name("netaddr", tests, NULL, NULL);
}
