/* Unit tests of the control socket's command lines (lib/hostctl.c): each command written and
 * read back, and the lines the agent refuses, each with its reason. */
#include <string.h>

#include "laundromat/hostctl.h"
#include "testlib.h"

static void test_round_trip(void **state)
{
    (void)state;
    const struct lm_hostctl_cmd cmds[] = {{LM_HOSTCTL_STATUS, 0, 0}, {LM_HOSTCTL_LS, 0, 0},
                                          {LM_HOSTCTL_KILL, 7, 0},
                                          {LM_HOSTCTL_EVICT, UINT64_MAX, 30000}};
    const char *lines[] = {"status\n", "ls\n", "kill 7\n", "evict 18446744073709551615 30000\n"};
    for (size_t i = 0; i < 4; i++) {
        char out[LM_HOSTCTL_LINE_MAX];
        assert_int_equal(lm_hostctl_format(&cmds[i], out, sizeof out), (int)strlen(lines[i]));
        assert_string_equal(out, lines[i]);
        struct lm_hostctl_cmd c;
        assert_int_equal(lm_hostctl_parse(out, strlen(out), &c, NULL), 0);
        assert_int_equal(c.op, cmds[i].op);
        assert_int_equal(c.vm, cmds[i].vm);
        assert_int_equal(c.within_ms, cmds[i].within_ms);
    }
    struct lm_hostctl_cmd c;
    assert_int_equal(lm_hostctl_parse("evict 3 500\r\n", 13, &c, NULL), 0); /* \r\n, no \n */
    assert_int_equal(c.within_ms, 500);
    assert_int_equal(lm_hostctl_parse("kill 0", 6, &c, NULL), 0);
    assert_int_equal(c.vm, 0);
    char small[6];
    assert_int_equal(lm_hostctl_format(&cmds[3], small, sizeof small), -LM_INVAL);
}

static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *line, *why;
    } bad[] = {
        {"evict 1", "evict: expected evict ID MS"},
        {"kill", "kill: expected kill ID"},
        {"kill x", "kill: expected kill ID"},
        {"kill 01", "kill: expected kill ID"},
        {"kill  1", "kill: expected kill ID"},
        {"kill 1 ", "kill: expected kill ID"},
        {"kill -1", "kill: expected kill ID"},
        {"kill 18446744073709551616", "kill: expected kill ID"},
        {"ls 1", "ls: expected ls alone"},
        {"statusx", "unknown command (status, ls, kill ID, evict ID MS)"},
        {"", "unknown command (status, ls, kill ID, evict ID MS)"},
        {"ls\n\n", "unknown command (status, ls, kill ID, evict ID MS)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lm_hostctl_cmd c = {LM_HOSTCTL_LS, 5, 6}, before = c;
        struct lm_diag d;
        assert_int_equal(lm_hostctl_parse(bad[i].line, strlen(bad[i].line), &c, &d), -LM_INVAL);
        assert_string_equal(d.msg, bad[i].why);
        /* nothing written on a refusal */
        assert_true(c.op == before.op && c.vm == before.vm && c.within_ms == before.within_ms);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refusals),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
