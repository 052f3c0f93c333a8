/* Unit tests of the clocks: the monotonic one never goes back, the wall ones agree with time(). */
#include <time.h>

#include "laundromat/clock.h"
#include "testlib.h"

static void test_monotonic_never_goes_back(void **state)
{
    (void)state;
    uint64_t prev = lm_now_ns();
    for (int i = 0; i < 100000; i++) {
        uint64_t t = lm_now_ns();
        assert_true(t >= prev);
        prev = t;
    }
    struct timespec pause = {0, 2000000};
    uint64_t t0 = lm_now_ns();
    nanosleep(&pause, NULL);
    assert_true(lm_now_ns() - t0 >= 2000000); /* nanoseconds, not some other unit */
}

static void test_wall_clocks_agree(void **state)
{
    (void)state;
    uint64_t before = (uint64_t)time(NULL), s = lm_now(), ns = lm_wall_ns(),
             after = (uint64_t)time(NULL);
    /* time() may read a coarser copy of the same clock, a tick behind: allow a second. */
    assert_true(s >= before && s <= after + 1);
    assert_true(ns / 1000000000ull >= before && ns / 1000000000ull <= after + 1);
    assert_true(before > 1767225600ull); /* 2026-01-01: seconds since the epoch, not boot */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_monotonic_never_goes_back),
        cmocka_unit_test(test_wall_clocks_agree),
    };
    return cmocka_run_group_tests_name("clock", tests, NULL, NULL);
}
