/* Unit tests of eviction when the host needs the room: pressure.c's parsers of /proc/meminfo
 * and /proc/loadavg text (real, garbled and hostile, each refusal with its message), the
 * decision against the config's limits, and which VM evict.c picks to leave. */
#include <stdio.h>
#include <string.h>

#include "evilman.h"
#include "testlib.h"

static const char meminfo[] = "MemTotal:        8052960 kB\n"
                              "MemFree:          612340 kB\n"
                              "MemAvailable:     831872 kB\n"
                              "Buffers:          123456 kB\n"
                              "HugePages_Total:       0\n"
                              "Hugepagesize:       2048 kB\n";

/* Text without a NUL after it: the parsers must keep to len. */
static const char *unterminated(const char *s, size_t len)
{
    static char buf[256];
    assert_true(len <= sizeof buf - 16);
    memset(buf, '7', sizeof buf);
    memcpy(buf, s, len);
    return buf;
}

static void test_meminfo_good(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        uint64_t kib;
    } good[] = {
        {meminfo, 0, 831872},
        {"MemAvailable: 0 kB\n", 0, 0},
        {"MemAvailable:\t\t42\tkB\t \n", 0, 42},
        {"MemAvailable:42kB", 0, 42},                        /* no blanks, no newline at the end */
        {"MemTotal: 1 kB\nMemAvailable: 5 kB", 0, 5},        /* the last line */
        {"XMemAvailable: 9 kB\nMemAvailable: 6 kB\n", 0, 6}, /* a key only at a line's start */
        {"MemAvailableX: 9 kB\nMemAvailable: 6 kB\n", 0, 6},
        {"MemAvailable: 1125899906842624 kB\n", 0, 1125899906842624ull}, /* 2^50 */
        {"\0garbage\nMemAvailable: 7 kB\n", 28, 7},
        {"MemAvailable: 7 kB\nMemAvailable: 8 kB\n", 19, 7}, /* the second is past the end */
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t len = good[i].len ? good[i].len : strlen(good[i].text);
        uint64_t kib = 1;
        struct lm_diag d = {""};
        int rc = pressure_parse_meminfo(unterminated(good[i].text, len), len, &kib, &d);
        if (rc != 0 || kib != good[i].kib)
            fail_msg("meminfo case %zu: rc %d, %llu kB (want %llu): %s", i, rc,
                     (unsigned long long)kib, (unsigned long long)good[i].kib, d.msg);
    }
}

static void test_meminfo_bad(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        const char *want;
    } bad[] = {
        {"", 0, "/proc/meminfo: no MemAvailable line (kernels before 3.14 have none)"},
        {"MemTotal: 100 kB\nMemFree: 50 kB\n", 0, "no MemAvailable line"},
        {"memavailable: 5 kB\n", 0, "no MemAvailable line"},
        {" MemAvailable: 5 kB\n", 0, "no MemAvailable line"},
        {"MemAvailable 5 kB\n", 0, "no MemAvailable line"},
        {"MemAvailab", 0, "no MemAvailable line"},
        {"MemAvailable: 5 kB\nMemAvailable: 6 kB\n", 0, "/proc/meminfo: two MemAvailable lines"},
        {"MemAvailable:\n", 0, "MemAvailable \"\": expected a number of kB"},
        {"MemAvailable:", 0, "MemAvailable \"\": expected a number of kB"},
        {"MemAvailable: -5 kB\n", 0, "MemAvailable \" -5 kB\": expected a number of kB"},
        {"MemAvailable: kB\n", 0, "expected a number of kB"},
        {"MemAvailable: 5\n", 0, "MemAvailable \" 5\": expected the unit kB after the number"},
        {"MemAvailable: 5 MB\n", 0, "expected the unit kB"},
        {"MemAvailable: 5 k\n", 0, "expected the unit kB"},
        {"MemAvailable: 0x10 kB\n", 0, "expected the unit kB"},
        {"MemAvailable: 5 5 kB\n", 0, "expected the unit kB"},
        {"MemAvailable: 5 kBx\n", 0, "MemAvailable \" 5 kBx\": more after its kB"},
        {"MemAvailable: 5 kB 7\n", 0, "more after its kB"},
        {"MemAvailable: 1125899906842625 kB\n", 0, "more than 2^50 kB"},
        {"MemAvailable: 99999999999999999999999999 kB\n", 0, "more than 2^50 kB"},
        /* the length is the text's end, whatever follows it */
        {"MemAvailable: 123 kB\n", 17, "MemAvailable \" 123\": expected the unit kB"},
        {"MemAvailable: 5 kB\n", 12, "no MemAvailable line"},
        {"MemAvailable: 5\0 kB\n", 20, "MemAvailable \" 5? kB\": expected the unit kB"},
        /* what the log shows of hostile text is printable and short */
        {"MemAvailable: \x1b[31m5 kB\n", 0, "MemAvailable \" ?[31m5 kB\": expected a number"},
        {"MemAvailable: \"quoted\" kB\n", 0, "MemAvailable \" ?quoted? kB\""},
        {"MemAvailable: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n", 0,
         "MemAvailable \" xxxxxxxxxxxxxxxxxxxxxxx\": expected"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        uint64_t kib = 12345;
        struct lm_diag d = {""};
        int rc = pressure_parse_meminfo(unterminated(bad[i].text, len), len, &kib, &d);
        if (rc != -LM_INVAL || !strstr(d.msg, bad[i].want) || kib != 12345)
            fail_msg("meminfo bad case %zu: rc %d, %llu kB, message \"%s\", want \"%s\"", i, rc,
                     (unsigned long long)kib, d.msg, bad[i].want);
        for (const char *p = d.msg; *p; p++)
            if (*p < 0x20 || *p == 0x7f)
                fail_msg("meminfo bad case %zu: a control byte in the message \"%s\"", i, d.msg);
    }
}

static void test_loadavg(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        uint64_t centi;
    } good[] = {
        {"0.52 0.58 0.59 1/1234 5678\n", 0, 52},
        {"12.00 8.00 4.00 3/100 9\n", 0, 1200},
        {"3 2 1 1/1 1\n", 0, 300},
        {"0.5 0.5 0.5 1/1 1\n", 0, 50},
        {"7.25", 0, 725},
        {"2.50\n", 0, 250},
        {"1.25\t", 0, 125},
        {"9999999.99 0 0\n", 0, 999999999},
        {"1.25 0.00", 3, 120}, /* "1.2": the length ends the text */
        {"42", 1, 400},
    };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++) {
        size_t len = good[i].len ? good[i].len : strlen(good[i].text);
        uint64_t c = 1;
        struct lm_diag d = {""};
        int rc = pressure_parse_loadavg(unterminated(good[i].text, len), len, &c, &d);
        if (rc != 0 || c != good[i].centi)
            fail_msg("loadavg case %zu: rc %d, %llu (want %llu): %s", i, rc, (unsigned long long)c,
                     (unsigned long long)good[i].centi, d.msg);
    }
    static const struct {
        const char *text;
        size_t len;
        const char *want;
    } bad[] = {
        {"", 0, "/proc/loadavg \"\": expected the 1-minute load average first, such as 0.52"},
        {" 0.52 0.58\n", 0, "expected the 1-minute load average first"},
        {"-1.00 0 0\n", 0, "expected the 1-minute load average first"},
        {"abc", 0, "/proc/loadavg \"abc\": expected the 1-minute load average first"},
        {".52 0 0\n", 0, "expected the 1-minute load average first"},
        {"\0\0\0", 3, "/proc/loadavg \"???\": expected the 1-minute"},
        {"0.523 0 0\n", 0, "/proc/loadavg \"0.523 0 0\": more than two decimals"},
        {"1. 0 0\n", 0, "expected digits after the point"},
        {"1.", 0, "expected digits after the point"},
        {"12345678.00 0 0\n", 0, "a load average of more than 7 digits"},
        {"99999999999999999999999999", 0, "more than 7 digits"},
        {"0.52x 0 0\n", 0, "expected a space after the 1-minute load average"},
        {"0,52 0 0\n", 0, "expected a space after"},
        {"1e3 0 0\n", 0, "expected a space after"},
        {"1.2.3 0 0\n", 0, "expected a space after"},
        {"0.52\x1b[2J", 0, "/proc/loadavg \"0.52?[2J\": expected a space after"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        size_t len = bad[i].len ? bad[i].len : strlen(bad[i].text);
        uint64_t c = 777;
        struct lm_diag d = {""};
        int rc = pressure_parse_loadavg(unterminated(bad[i].text, len), len, &c, &d);
        if (rc != -LM_INVAL || !strstr(d.msg, bad[i].want) || c != 777)
            fail_msg("loadavg bad case %zu: rc %d, %llu, message \"%s\", want \"%s\"", i, rc,
                     (unsigned long long)c, d.msg, bad[i].want);
    }
}

static void test_check(void **state)
{
    (void)state;
    struct em_config c;
    memset(&c, 0, sizeof c);
    struct host_load l = {.has_mem = true, .mem_available_kib = 812 * 1024 + 1000};
    char why[200] = "";
    assert_false(pressure_check(&c, &l, why, sizeof why)); /* off by default */
    c.evict_mem_below_mib = 1024;
    assert_true(pressure_check(&c, &l, why, sizeof why));
    assert_string_equal(why, "host MemAvailable 812 MiB is below evict_mem_below = 1024 MiB");
    l.mem_available_kib = 1024 * 1024;
    assert_false(pressure_check(&c, &l, why, sizeof why)); /* exactly the limit: no need */
    l.mem_available_kib = 1024 * 1024 - 1;
    assert_true(pressure_check(&c, &l, why, sizeof why));
    assert_string_equal(why, "host MemAvailable 1023 MiB is below evict_mem_below = 1024 MiB");
    l.has_mem = false; /* unread: no figure, no eviction */
    assert_false(pressure_check(&c, &l, why, sizeof why));

    memset(&c, 0, sizeof c);
    c.evict_load_above_centi = 150;
    l = (struct host_load){.has_load = true, .load1_centi = 604, .cpus = 4};
    assert_true(pressure_check(&c, &l, why, sizeof why));
    assert_string_equal(
        why, "host load average 6.04 over 4 CPUs is 1.51 per CPU, above evict_load_above = 1.50");
    l.load1_centi = 603; /* 1.5075 per CPU: 1.50 as shown, not above */
    assert_false(pressure_check(&c, &l, why, sizeof why));
    l.load1_centi = 151, l.cpus = 0; /* no count of CPUs: one */
    assert_true(pressure_check(&c, &l, why, sizeof why));
    assert_string_equal(
        why, "host load average 1.51 over 1 CPUs is 1.51 per CPU, above evict_load_above = 1.50");
    l.has_load = false;
    assert_false(pressure_check(&c, &l, why, sizeof why));

    /* Both set: memory is named first when both hold. */
    c.evict_mem_below_mib = 2048;
    l = (struct host_load){
        .has_mem = true, .mem_available_kib = 0, .has_load = true, .load1_centi = 10000, .cpus = 1};
    assert_true(pressure_check(&c, &l, why, sizeof why));
    assert_string_equal(why, "host MemAvailable 0 MiB is below evict_mem_below = 2048 MiB");
    l.mem_available_kib = 4096 * 1024;
    assert_true(pressure_check(&c, &l, why, sizeof why));
    assert_non_null(strstr(why, "host load average 100.00 over 1 CPUs"));
}

static struct vm *pick(struct vm *vms, size_t n)
{
    struct vm *best = NULL;
    for (size_t i = 0; i < n; i++)
        if (evict_prefer(&vms[i], best))
            best = &vms[i];
    return best;
}

static void test_choice(void **state)
{
    (void)state;
    struct vm vms[6];
    memset(vms, 0, sizeof vms);
    for (int i = 0; i < 6; i++) {
        vms[i].id = (uint64_t)i + 1;
        vms[i].state = VM_RUNNING;
        vms[i].token.mem_mib = 64;
        vms[i].started_ns = 1000 + (uint64_t)i;
    }
    vms[1].token.mem_mib = 128;
    vms[4].token.mem_mib = 128;
    assert_ptr_equal(pick(vms, 6), &vms[4]); /* the largest, the newest of those */
    vms[4].state = VM_MIGRATING_OUT;         /* leaving already: never */
    assert_ptr_equal(pick(vms, 6), &vms[1]);
    vms[1].evict_deadline_ns = 5; /* evicted already (by the operator, or for the room) */
    assert_ptr_equal(pick(vms, 6), &vms[5]);
    vms[5].state = VM_GRACE; /* unpaid but still here: it may go */
    assert_ptr_equal(pick(vms, 6), &vms[5]);
    static const enum vm_state never[] = {VM_LOADING, VM_RECEIVING, VM_MIGRATED, VM_ENDED,
                                          VM_MIGRATING_OUT};
    for (size_t k = 0; k < sizeof never / sizeof never[0]; k++) {
        vms[5].state = never[k];
        assert_ptr_equal(pick(vms, 6), &vms[3]);
    }
    vms[2].started_ns = vms[3].started_ns; /* same instant: the higher id is the newer */
    assert_ptr_equal(pick(vms, 6), &vms[3]);
    for (int i = 0; i < 6; i++)
        vms[i].state = VM_LOADING;
    assert_null(pick(vms, 6));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_meminfo_good), cmocka_unit_test(test_meminfo_bad),
        cmocka_unit_test(test_loadavg),      cmocka_unit_test(test_check),
        cmocka_unit_test(test_choice),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
