/* Unit tests of the VM state machine: every transition against the table, and what is logged. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evilman.h"
#include "laundromat/boot.h"
#include "laundromat/log.h"
#include "testlib.h"

#define NSTATES (VM_WARM + 1)

/* The legal transitions as docs/EVILMAN.md lists them, written out again independently. */
static const char *const legal[] = {
    "loading>running",        "loading>receiving",
    "loading>grace",          "loading>ended",
    "running>grace",          "running>migrating-out",
    "running>ended",          "grace>loading",
    "grace>running",          "grace>ended",
    "grace>receiving",        "grace>migrating-out",
    "migrating-out>running",  "migrating-out>grace",
    "migrating-out>migrated", "migrating-out>ended",
    "receiving>running",      "receiving>grace",
    "receiving>ended",        "migrated>ended",
    "warm>loading",           "warm>ended",
};

static const char refused[] =
    "evilman: error: VM %d: illegal state change %s -> %s refused; it stays %s\n";

static int is_legal(enum vm_state from, enum vm_state to)
{
    char pair[64];
    snprintf(pair, sizeof pair, "%s>%s", vm_state_name(from), vm_state_name(to));
    for (size_t i = 0; i < sizeof legal / sizeof legal[0]; i++)
        if (!strcmp(legal[i], pair))
            return 1;
    return 0;
}

/* Runs vm_set_state with stderr captured into out; returns its result. */
static int set_captured(struct vm *v, enum vm_state to, char *out, size_t cap)
{
    int p[2], saved = dup(STDERR_FILENO);
    assert_int_equal(pipe(p), 0);
    dup2(p[1], STDERR_FILENO);
    int rc = vm_set_state(v, to);
    dup2(saved, STDERR_FILENO);
    close(saved);
    close(p[1]);
    ssize_t n = read(p[0], out, cap - 1);
    out[n > 0 ? n : 0] = '\0';
    close(p[0]);
    return rc;
}

static void test_names(void **state)
{
    (void)state;
    static const char *const want[NSTATES] = {"loading",   "running",  "grace", "migrating-out",
                                              "receiving", "migrated", "ended",   "warm"};
    for (int s = 0; s < NSTATES; s++)
        assert_string_equal(vm_state_name((enum vm_state)s), want[s]);
    assert_string_equal(vm_state_name((enum vm_state)NSTATES), "invalid");
}

static void test_every_transition(void **state)
{
    (void)state;
    lm_log_init("evilman", LM_LOG_DEBUG);
    unsigned accepted = 0;
    for (int from = 0; from < NSTATES; from++)
        for (int to = 0; to < NSTATES; to++) {
            struct vm v = {.id = 7, .state = (enum vm_state)from};
            char log[512], want[256];
            int rc = set_captured(&v, (enum vm_state)to, log, sizeof log);
            const char *f = vm_state_name((enum vm_state)from);
            const char *t = vm_state_name((enum vm_state)to);
            if (is_legal((enum vm_state)from, (enum vm_state)to)) {
                assert_int_equal(rc, 0);
                assert_int_equal(v.state, to);
                snprintf(want, sizeof want, "evilman: debug: VM 7: %s -> %s\n", f, t);
                accepted++;
            } else {
                assert_int_equal(rc, -LM_INVAL);
                assert_int_equal(v.state, from);
                snprintf(want, sizeof want, refused, 7, f, t, f);
            }
            assert_string_equal(log, want); /* one line, once */
        }
    assert_int_equal(accepted, sizeof legal / sizeof legal[0]);
}

static void test_out_of_range_refused(void **state)
{
    (void)state;
    lm_log_init("evilman", LM_LOG_DEBUG);
    struct vm v = {.id = 3, .state = VM_RUNNING};
    char log[512], want[256];
    assert_int_equal(set_captured(&v, (enum vm_state)99, log, sizeof log), -LM_INVAL);
    assert_int_equal(v.state, VM_RUNNING);
    snprintf(want, sizeof want, refused, 3, "running", "invalid", "running");
    assert_string_equal(log, want);
}

/* The guest's notices: out and back, from running and from grace; out of place, ignored. */
static void test_notices(void **state)
{
    (void)state;
    lm_log_init("evilman", LM_LOG_ERROR);
    struct vm v = {.id = 4, .state = VM_RUNNING};
    vm_notice(&v, LM_NOTICE_MIGRATING);
    assert_int_equal(v.state, VM_MIGRATING_OUT);
    vm_notice(&v, LM_NOTICE_MIGRATING); /* again: nothing changes */
    assert_int_equal(v.state, VM_MIGRATING_OUT);
    vm_notice(&v, LM_NOTICE_STAYED);
    assert_int_equal(v.state, VM_RUNNING);
    vm_notice(&v, LM_NOTICE_STAYED); /* not migrating: ignored */
    assert_int_equal(v.state, VM_RUNNING);
    v.state = VM_GRACE;
    vm_notice(&v, LM_NOTICE_MIGRATING);
    assert_int_equal(v.state, VM_MIGRATING_OUT);
    vm_notice(&v, LM_NOTICE_STAYED);
    assert_int_equal(v.state, VM_GRACE);
    v.state = VM_RECEIVING; /* a guest still arriving cannot leave */
    vm_notice(&v, LM_NOTICE_MIGRATING);
    assert_int_equal(v.state, VM_RECEIVING);
    vm_notice(&v, 77);
    assert_int_equal(v.state, VM_RECEIVING);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_names),
        cmocka_unit_test(test_every_transition),
        cmocka_unit_test(test_out_of_range_refused),
        cmocka_unit_test(test_notices),
    };
    return cmocka_run_group_tests_name("vm_state", tests, NULL, NULL);
}
