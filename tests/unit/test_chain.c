/* Unit tests of hash chains: generation, bounded acceptance, every edge case, chain files. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "laundromat/chain.h"
#include "testlib.h"

static uint8_t seed[32];

static void link_at(uint32_t n, uint32_t k, uint8_t out[32])
{
    assert_int_equal(lm_chain_link(seed, n, k, out), 0);
}

static int setup(void **state)
{
    (void)state;
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    return 0;
}

static void test_links_hash_to_each_other(void **state)
{
    (void)state;
    uint8_t a[32], b[32], h[32];
    for (uint32_t k = 1; k <= 20; k++) {
        link_at(20, k, a);
        link_at(20, k - 1, b);
        assert_int_equal(lm_chain_step(a, h), 0);
        assert_memory_equal(h, b, 32); /* H(link k) = link k-1 */
    }
    link_at(20, 20, a);
    assert_memory_equal(a, seed, 32); /* link n is the seed itself */
    assert_int_equal(lm_chain_link(seed, 20, 21, a), -LM_CHAIN_BEYOND_END);
    /* Domain separation: a step is not plain BLAKE2b-256 of the link. */
    uint8_t plain[32];
    assert_int_equal(lm_hash("", seed, 32, plain), 0);
    assert_int_equal(lm_chain_step(seed, h), 0);
    assert_memory_not_equal(plain, h, 32);
}

static void test_walk_every_link(void **state)
{
    (void)state;
    uint8_t anchor[32], l[32];
    link_at(50, 0, anchor);
    struct lm_chain_state st;
    lm_chain_init(&st, anchor, 50, 0);
    assert_int_equal(st.jump_limit, LM_CHAIN_DEFAULT_JUMP);
    for (uint32_t k = 1; k <= 50; k++) {
        link_at(50, k, l);
        assert_int_equal(lm_chain_accept(&st, k, l, NULL), 0);
        assert_int_equal(st.last_index, k);
    }
    assert_memory_equal(st.last, seed, 32);
}

static void test_jump_within_and_beyond_limit(void **state)
{
    (void)state;
    uint8_t anchor[32], l[32];
    link_at(100, 0, anchor);
    struct lm_chain_state st;
    lm_chain_init(&st, anchor, 100, 10);
    struct lm_diag d;
    link_at(100, 11, l);
    assert_int_equal(lm_chain_accept(&st, 11, l, &d), -LM_CHAIN_JUMP);
    assert_non_null(strstr(d.msg, "11 past the accepted link 0, the limit is 10"));
    assert_int_equal(st.last_index, 0);
    link_at(100, 10, l); /* exactly the limit */
    assert_int_equal(lm_chain_accept(&st, 10, l, NULL), 0);
    link_at(100, 20, l);
    assert_int_equal(lm_chain_accept(&st, 20, l, NULL), 0);
}

static void test_duplicate_stale_and_out_of_order(void **state)
{
    (void)state;
    uint8_t anchor[32], l5[32], l3[32], l6[32], l7[32];
    link_at(10, 0, anchor);
    link_at(10, 5, l5);
    link_at(10, 3, l3);
    link_at(10, 6, l6);
    link_at(10, 7, l7);
    struct lm_chain_state st;
    lm_chain_init(&st, anchor, 10, 0);
    struct lm_diag d;
    assert_int_equal(lm_chain_accept(&st, 0, anchor, &d), -LM_CHAIN_DUPLICATE); /* the anchor */
    assert_int_equal(lm_chain_accept(&st, 5, l5, &d), 0);
    assert_int_equal(lm_chain_accept(&st, 5, l5, &d), -LM_CHAIN_DUPLICATE);
    assert_non_null(strstr(d.msg, "already accepted"));
    assert_int_equal(lm_chain_accept(&st, 3, l3, &d), -LM_CHAIN_STALE); /* arrived late */
    assert_non_null(strstr(d.msg, "older than the accepted link 5"));
    assert_int_equal(lm_chain_accept(&st, 5, l6, &d), -LM_CHAIN_STALE); /* other link at 5 */
    /* 7 before 6: 7 is accepted, 6 is then stale; both units are paid once. */
    assert_int_equal(lm_chain_accept(&st, 7, l7, &d), 0);
    assert_int_equal(lm_chain_accept(&st, 6, l6, &d), -LM_CHAIN_STALE);
    assert_int_equal(st.last_index, 7);
}

static void test_forged_and_wrong_anchor(void **state)
{
    (void)state;
    uint8_t anchor[32], l[32];
    link_at(10, 0, anchor);
    struct lm_chain_state st;
    lm_chain_init(&st, anchor, 10, 0);
    struct lm_diag d;
    link_at(10, 2, l);
    l[31] ^= 1;
    assert_int_equal(lm_chain_accept(&st, 2, l, &d), -LM_CHAIN_FORGED);
    assert_non_null(strstr(d.msg, "hashing it 2 times"));
    /* A genuine link presented at the wrong index is forged too. */
    link_at(10, 2, l);
    assert_int_equal(lm_chain_accept(&st, 3, l, &d), -LM_CHAIN_FORGED);
    /* A link of another chain (other anchor) is refused. */
    uint8_t other_anchor[32];
    memset(other_anchor, 0x77, 32);
    lm_chain_init(&st, other_anchor, 10, 0);
    assert_int_equal(lm_chain_accept(&st, 2, l, &d), -LM_CHAIN_FORGED);
    /* Same seed, other length: the anchor differs, so links do not carry over. */
    uint8_t l_len11[32];
    link_at(11, 2, l_len11);
    lm_chain_init(&st, anchor, 10, 0);
    assert_int_equal(lm_chain_accept(&st, 2, l_len11, &d), -LM_CHAIN_FORGED);
    assert_int_equal(st.last_index, 0);
    assert_memory_equal(st.last, anchor, 32); /* no state change on error */
}

static void test_index_overflow(void **state)
{
    (void)state;
    uint8_t anchor[32], l[32];
    link_at(10, 0, anchor);
    struct lm_chain_state st;
    lm_chain_init(&st, anchor, 10, UINT32_MAX);
    struct lm_diag d;
    memset(l, 0, 32);
    assert_int_equal(lm_chain_accept(&st, 11, l, &d), -LM_CHAIN_BEYOND_END);
    assert_non_null(strstr(d.msg, "the chain has 10 links"));
    assert_int_equal(lm_chain_accept(&st, UINT32_MAX, l, &d), -LM_CHAIN_BEYOND_END);
    /* A chain of maximal nominal length: huge index is bounded by the jump limit. */
    lm_chain_init(&st, anchor, UINT32_MAX, 16);
    assert_int_equal(lm_chain_accept(&st, UINT32_MAX, l, &d), -LM_CHAIN_JUMP);
    st.last_index = UINT32_MAX - 1; /* near the top: no wrap-around in k - last */
    assert_int_equal(lm_chain_accept(&st, UINT32_MAX, l, &d), -LM_CHAIN_FORGED);
    assert_int_equal(lm_chain_accept(&st, 0, l, &d), -LM_CHAIN_STALE);
}

static void test_chain_file_roundtrip(void **state)
{
    (void)state;
    char dir[] = "/tmp/lm-chain-XXXXXX", path[64];
    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/c", dir);
    struct lm_chain_secret c, r;
    assert_int_equal(lm_chain_new(25, &c), 0);
    struct lm_diag d;
    assert_int_equal(lm_chainfile_write(path, &c, &d), 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(lm_chainfile_write(path, &c, &d), -LM_IO); /* never overwritten */
    assert_non_null(strstr(d.msg, "refusing to overwrite"));
    assert_int_equal(lm_chainfile_load(path, 1, &r, &d), 0);
    assert_memory_equal(&r, &c, sizeof c);
    chmod(path, 0640);
    assert_int_equal(lm_chainfile_load(path, 0, &r, &d), -LM_KEY_PERMS);
    assert_non_null(strstr(d.msg, "chmod 600"));
    unlink(path);

    /* A corrupt anchor is caught by the check. */
    c.anchor[0] ^= 1;
    assert_int_equal(lm_chainfile_write(path, &c, &d), 0);
    assert_int_equal(lm_chainfile_load(path, 0, &r, &d), 0);
    assert_int_equal(lm_chainfile_load(path, 1, &r, &d), -LM_KEY_FORMAT);
    assert_non_null(strstr(d.msg, "anchor is not H^25(seed)"));
    unlink(path);
    rmdir(dir);
    assert_int_equal(lm_chain_new(0, &c), -LM_INVAL);
    assert_int_equal(lm_chain_new(LM_MAX_CHAIN_LEN + 1, &c), -LM_INVAL);
}

static void test_payer_matches_every_link(void **state)
{
    (void)state;
    uint32_t lengths[] = {1, 2, 3, 10, 99, 100, 101, 257};
    for (size_t i = 0; i < sizeof lengths / sizeof lengths[0]; i++) {
        uint32_t n = lengths[i];
        struct lm_chain_payer p;
        assert_int_equal(lm_chain_payer_init(&p, seed, n), 0);
        assert_true((uint64_t)p.stride * p.stride >= n);
        for (uint32_t k = 0; k <= n; k++) {
            uint8_t a[32], b[32];
            link_at(n, k, a);
            assert_int_equal(lm_chain_payer_link(&p, k, b), 0);
            assert_memory_equal(a, b, 32);
        }
        uint8_t x[32];
        assert_int_equal(lm_chain_payer_link(&p, n + 1, x), -LM_CHAIN_BEYOND_END);
        lm_chain_payer_free(&p);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_links_hash_to_each_other),
        cmocka_unit_test(test_walk_every_link),
        cmocka_unit_test(test_jump_within_and_beyond_limit),
        cmocka_unit_test(test_duplicate_stale_and_out_of_order),
        cmocka_unit_test(test_forged_and_wrong_anchor),
        cmocka_unit_test(test_index_overflow),
        cmocka_unit_test(test_chain_file_roundtrip),
        cmocka_unit_test(test_payer_matches_every_link),
    };
    return cmocka_run_group_tests_name("chain", tests, setup, NULL);
}
