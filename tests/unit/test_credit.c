/* Unit tests of Evil Man's accounting: credit_decide() at chosen instants, and a real payment. */
#include <string.h>

#include "backend/backend.h"
#include "evilman.h"
#include "laundromat/boot.h"
#include "laundromat/log.h"
#include "testlib.h"

#define MS 1000000ull
#define T0 (1000000 * MS) /* an arbitrary monotonic instant: 1000 s after boot */

static const struct em_config cfg = {.grace_ms = 1500, .low_credit_ms = 1200, .tick_ms = 100};

/* A booted VM accounted up to T0, with credit_ms left and not yet warned. */
static struct vm vm_with(enum vm_state s, int64_t credit_ms)
{
    struct vm v;
    memset(&v, 0, sizeof v);
    v.id = 7;
    v.state = s;
    v.credit_ms = credit_ms;
    v.started_ns = T0 - 500 * MS;
    v.booted_ns = T0 - 400 * MS;
    v.last_tick_ns = T0;
    return v;
}

/* A backend that keeps what the agent tells the guest, for the test to read. */
static struct {
    int calls;
    uint32_t events;
    uint64_t credit_ms, grace_ms;
} told;
static void keep_credit(struct be_vm *b, uint32_t events, uint64_t credit_ms, uint64_t grace_ms)
{
    (void)b;
    told.calls++;
    told.events = events;
    told.credit_ms = credit_ms;
    told.grace_ms = grace_ms;
}
static const struct backend keeper = {.name = "keeper", .credit = keep_credit};

/* What the tick does with a decision, short of logging and notifying. */
static void take(struct vm *v, const struct credit_decision *d)
{
    v->credit_ms = d->credit_ms;
    v->last_tick_ns = d->last_tick_ns;
    v->grace_deadline_ns = d->grace_deadline_ns;
    v->warned |= d->action == CREDIT_WARN;
    v->state = d->state;
}

static void test_fresh_credit(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_LOADING, 5000);
    struct credit_decision d = credit_decide(&cfg, &v, T0);
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.state, VM_LOADING);
    assert_int_equal(d.credit_ms, 5000);
    assert_int_equal(d.last_tick_ns, T0);
    assert_int_equal(d.deadline_ns, T0 + 3800 * MS); /* when 1200 ms are left */

    /* A second and a half later: drained by whole milliseconds, the rest kept for next time;
     * the deadline stays where it was. */
    d = credit_decide(&cfg, &v, T0 + 1000 * MS + 500000);
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.credit_ms, 4000);
    assert_int_equal(d.last_tick_ns, T0 + 1000 * MS);
    assert_int_equal(d.deadline_ns, T0 + 3800 * MS);
}

static void test_sub_millisecond_rest_is_never_lost(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_RUNNING, 5000);
    uint64_t now = T0;
    for (int i = 0; i < 10; i++) { /* ten ticks of 100.3 ms */
        now += 100 * MS + 300000;
        struct credit_decision d = credit_decide(&cfg, &v, now);
        take(&v, &d);
    }
    assert_int_equal(v.credit_ms, 5000 - 1003);
    assert_int_equal(v.last_tick_ns, T0 + 1003 * MS);
}

static void test_draining_to_the_low_mark_warns_once(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_RUNNING, 5000);
    struct credit_decision d = credit_decide(&cfg, &v, T0 + 3800 * MS - 1);
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.credit_ms, 1201);

    d = credit_decide(&cfg, &v, T0 + 3800 * MS); /* exactly at the deadline */
    assert_int_equal(d.action, CREDIT_WARN);
    assert_int_equal(d.state, VM_RUNNING);
    assert_int_equal(d.credit_ms, 1200);
    assert_int_equal(d.deadline_ns, T0 + 5000 * MS); /* next: credit gone */
    take(&v, &d);
    assert_true(v.warned);

    d = credit_decide(&cfg, &v, T0 + 4000 * MS); /* warned already: nothing new */
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.credit_ms, 1000);
    assert_int_equal(d.deadline_ns, T0 + 5000 * MS);

    /* Prepaid credit below the mark: warned at the first look. */
    v = vm_with(VM_LOADING, 1000);
    d = credit_decide(&cfg, &v, T0);
    assert_int_equal(d.action, CREDIT_WARN);
    assert_int_equal(d.deadline_ns, T0 + 1000 * MS);
}

static void test_credit_gone_starts_grace(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_RUNNING, 1200);
    v.warned = true;
    struct credit_decision d = credit_decide(&cfg, &v, T0 + 1200 * MS - 1);
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.credit_ms, 1);

    uint64_t now = T0 + 1200 * MS; /* exactly when the credit reaches 0 */
    d = credit_decide(&cfg, &v, now);
    assert_int_equal(d.action, CREDIT_GRACE);
    assert_int_equal(d.state, VM_GRACE);
    assert_int_equal(d.credit_ms, 0);
    assert_int_equal(d.grace_deadline_ns, now + 1500 * MS);
    assert_int_equal(d.deadline_ns, now + 1500 * MS);

    /* Credit that runs out between two looks skips the warning; a loading VM pays too. */
    v = vm_with(VM_LOADING, 300);
    d = credit_decide(&cfg, &v, T0 + 10000 * MS);
    assert_int_equal(d.action, CREDIT_GRACE);
    assert_int_equal(d.credit_ms, 300 - 10000);
}

static void test_grace_expired_reclaims(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_GRACE, 0);
    v.grace_deadline_ns = T0 + 1500 * MS;
    struct credit_decision d = credit_decide(&cfg, &v, T0 + 1500 * MS - 1);
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.state, VM_GRACE);
    assert_int_equal(d.credit_ms, -1499); /* the debt keeps growing */
    assert_int_equal(d.deadline_ns, T0 + 1500 * MS);

    d = credit_decide(&cfg, &v, T0 + 1500 * MS); /* exactly at the deadline */
    assert_int_equal(d.action, CREDIT_RECLAIM);
    assert_int_equal(d.state, VM_ENDED);
    assert_int_equal(d.deadline_ns, 0);

    d = credit_decide(&cfg, &v, T0 + 60000 * MS); /* a late tick reclaims as well */
    assert_int_equal(d.action, CREDIT_RECLAIM);
}

static void test_grace_of_zero_ends_at_once(void **state)
{
    (void)state;
    struct em_config c = cfg;
    c.grace_ms = 0;
    struct vm v = vm_with(VM_RUNNING, 100);
    struct credit_decision d = credit_decide(&c, &v, T0 + 100 * MS);
    assert_int_equal(d.action, CREDIT_GRACE);
    assert_int_equal(d.grace_deadline_ns, T0 + 100 * MS);
    take(&v, &d);
    d = credit_decide(&c, &v, T0 + 100 * MS); /* the tick decides again at the same instant */
    assert_int_equal(d.action, CREDIT_RECLAIM);
}

static void test_payment_during_grace_resumes(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_GRACE, -300 + 1000); /* a link of 1000 ms paid 300 ms into grace */
    v.grace_deadline_ns = T0 + 1200 * MS;
    struct credit_decision d = credit_decide(&cfg, &v, T0);
    assert_int_equal(d.action, CREDIT_RESUME);
    assert_int_equal(d.state, VM_RUNNING);
    assert_int_equal(d.credit_ms, 700);
    assert_int_equal(d.deadline_ns, T0); /* below the mark, not warned: the warning is due now */

    v.booted_ns = 0; /* the loader never handed over: back to loading */
    d = credit_decide(&cfg, &v, T0);
    assert_int_equal(d.action, CREDIT_RESUME);
    assert_int_equal(d.state, VM_LOADING);

    /* Not enough: exactly 0 ms of credit is none; the grace period runs on. */
    v = vm_with(VM_GRACE, -1000 + 1000);
    v.grace_deadline_ns = T0 + 500 * MS;
    d = credit_decide(&cfg, &v, T0);
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.state, VM_GRACE);
    assert_int_equal(d.deadline_ns, T0 + 500 * MS);
}

/* The same through credit_pay(): a real link of the token's chain, the monitor's message. */
static void test_credit_pay_during_grace(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_GRACE, -300);
    v.grace_deadline_ns = T0 + 1200 * MS;
    v.warned = true;
    t_base_token(&v.token);
    lm_chain_init(&v.chain, v.token.anchor, v.token.chain_len, 4096);
    const struct backend *real = em_backend;
    em_backend = &keeper;
    memset(&told, 0, sizeof told);
    v.be = (struct be_vm *)&told; /* the keeper's: any VM of its own */

    uint8_t seed[32], link[32];
    memset(seed, 0x5e, sizeof seed); /* t_base_token's chain */
    assert_int_equal(lm_chain_link(seed, 100, 2, link), 0);
    struct lm_diag d;
    assert_int_equal(credit_pay(&cfg, &v, 2, link, &d), 0);
    assert_int_equal(v.state, VM_RUNNING);
    assert_int_equal(v.credit_ms, 1700);
    assert_false(v.warned); /* above the low mark again: the next fall warns again */
    assert_int_equal(v.earned_units, 2);
    assert_int_equal(v.last_tick_ns, T0); /* draining is the tick's */

    assert_int_equal(told.calls, 1); /* the guest hears of it, through its backend */
    assert_int_equal(told.events, LM_EVENT_CREDIT);
    assert_int_equal(told.credit_ms, 1700);
    assert_int_equal(told.grace_ms, 0);

    /* A link that does not cover the debt leaves the VM in grace. */
    v.state = VM_GRACE;
    v.credit_ms = -1500;
    assert_int_equal(lm_chain_link(seed, 100, 3, link), 0);
    assert_int_equal(credit_pay(&cfg, &v, 3, link, &d), 0);
    assert_int_equal(v.state, VM_GRACE);
    assert_int_equal(v.credit_ms, -500);
    em_backend = real;
}

/* Following each decision's deadline walks a VM through its whole life, exactly on time. */
static void test_deadlines_are_exact(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_RUNNING, 4000);
    static const enum credit_action expect[] = {CREDIT_WARN, CREDIT_GRACE, CREDIT_RECLAIM};
    static const uint64_t at[] = {T0 + 2800 * MS, T0 + 4000 * MS, T0 + 5500 * MS};
    struct credit_decision d = credit_decide(&cfg, &v, T0);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(d.deadline_ns, at[i]);
        struct credit_decision early = credit_decide(&cfg, &v, d.deadline_ns - 1);
        assert_int_equal(early.action, CREDIT_NONE);
        d = credit_decide(&cfg, &v, d.deadline_ns);
        assert_int_equal(d.action, expect[i]);
        take(&v, &d);
    }
    assert_int_equal(v.state, VM_ENDED);
    assert_int_equal(d.deadline_ns, 0);
}

static void test_migrated_is_never_charged_or_reclaimed(void **state)
{
    (void)state;
    static const int64_t credits[] = {5000, 1000, 0, -100000};
    for (size_t i = 0; i < sizeof credits / sizeof credits[0]; i++) {
        struct vm v = vm_with(VM_MIGRATED, credits[i]);
        v.grace_deadline_ns = T0 + 1 * MS; /* even one that was in grace before it left */
        for (uint64_t later = 0; later <= 86400000; later += 3600000) {
            struct credit_decision d = credit_decide(&cfg, &v, T0 + later * MS);
            assert_int_equal(d.action, CREDIT_NONE);
            assert_int_equal(d.state, VM_MIGRATED);
            assert_int_equal(d.credit_ms, credits[i]);
            assert_int_equal(d.last_tick_ns, T0);
            assert_int_equal(d.deadline_ns, 0);
        }
    }
    struct vm v = vm_with(VM_ENDED, 0);
    struct credit_decision d = credit_decide(&cfg, &v, T0 + 10000 * MS);
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.credit_ms, 0);
}

static void test_migrating_and_receiving_are_charged(void **state)
{
    (void)state;
    static const enum vm_state states[] = {VM_MIGRATING_OUT, VM_RECEIVING};
    for (int i = 0; i < 2; i++) {
        struct vm v = vm_with(states[i], 2000);
        v.warned = true;
        struct credit_decision d = credit_decide(&cfg, &v, T0 + 1500 * MS);
        assert_int_equal(d.action, CREDIT_NONE);
        assert_int_equal(d.credit_ms, 500);
        d = credit_decide(&cfg, &v, T0 + 2000 * MS);
        assert_int_equal(d.action, CREDIT_GRACE);
        assert_int_equal(d.state, VM_GRACE);
    }
}

static void test_time_going_back_drains_nothing(void **state)
{
    (void)state;
    struct vm v = vm_with(VM_RUNNING, 3000);
    struct credit_decision d = credit_decide(&cfg, &v, T0 - 5000 * MS);
    assert_int_equal(d.action, CREDIT_NONE);
    assert_int_equal(d.credit_ms, 3000);
    assert_int_equal(d.last_tick_ns, T0);
}

int main(void)
{
    lm_log_init("test_credit", LM_LOG_WARN);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_credit),
        cmocka_unit_test(test_sub_millisecond_rest_is_never_lost),
        cmocka_unit_test(test_draining_to_the_low_mark_warns_once),
        cmocka_unit_test(test_credit_gone_starts_grace),
        cmocka_unit_test(test_grace_expired_reclaims),
        cmocka_unit_test(test_grace_of_zero_ends_at_once),
        cmocka_unit_test(test_payment_during_grace_resumes),
        cmocka_unit_test(test_credit_pay_during_grace),
        cmocka_unit_test(test_deadlines_are_exact),
        cmocka_unit_test(test_migrated_is_never_charged_or_reclaimed),
        cmocka_unit_test(test_migrating_and_receiving_are_charged),
        cmocka_unit_test(test_time_going_back_drains_nothing),
    };
    return cmocka_run_group_tests_name("credit", tests, NULL, NULL);
}
