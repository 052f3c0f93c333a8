/* Unit tests of lib/hostchan.c: the host channel's frames, round trips, the exact bytes, and
 * how the parser answers partial and broken streams (the host reads them from a hostile guest). */
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "laundromat/hostchan.h"
#include "testlib.h"

/* One message of each type, with values that show byte order and sign. */
static void all_msgs(struct lm_hostchan_msg m[5])
{
    memset(m, 0, 5 * sizeof *m);
    m[0].type = LM_HOSTCHAN_HELLO;
    for (int i = 0; i < LM_HOSTCHAN_KEY_BYTES; i++)
        m[0].u.key[i] = (uint8_t)(0xc0 + i);
    m[1].type = LM_HOSTCHAN_EVENTS;
    m[1].u.events.pending = 0x80000001u;
    m[1].u.events.evict_ms = 0xfedcba98u;
    m[1].u.events.credit_ms = 0xfedcba9876543210ull; /* above 2^63: no signed slip */
    m[1].u.events.grace_ms = UINT64_MAX;
    m[2].type = LM_HOSTCHAN_NOTICE;
    m[2].u.notice = 0xdeadbeefu;
    m[3].type = LM_HOSTCHAN_EXEC;
    m[4].type = LM_HOSTCHAN_EXIT;
    m[4].u.status = -2;
}

/* Each type's whole frame length (header and its one payload length). */
static const size_t frame_len[5] = {3 + LM_HOSTCHAN_KEY_BYTES, 3 + 24, 3 + 4, 3, 3 + 4};

/*
 * A buffer whose last byte is the last readable one: a page's end followed by a PROT_NONE page.
 * Bytes put at its end make any read past them fault, which ASan-less builds would not see in
 * a plain malloc'd buffer.
 */
static uint8_t *fence_page;
static size_t page_size;

static int fence_setup(void **state)
{
    (void)state;
    page_size = (size_t)sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, 2 * page_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED || mprotect((uint8_t *)p + page_size, page_size, PROT_NONE) != 0)
        return -1;
    fence_page = p;
    return 0;
}

static int fence_teardown(void **state)
{
    (void)state;
    munmap(fence_page, 2 * page_size);
    return 0;
}

/* buf[0..len) copied to the end of the fenced page: the copy's address. */
static const uint8_t *fenced(const uint8_t *buf, size_t len)
{
    uint8_t *at = fence_page + page_size - len;
    memcpy(at, buf, len);
    return at;
}

static void test_round_trip(void **state)
{
    (void)state;
    struct lm_hostchan_msg m[5];
    all_msgs(m);
    for (size_t i = 0; i < 5; i++) {
        uint8_t f[LM_HOSTCHAN_FRAME_MAX];
        size_t n = lm_hostchan_encode(&m[i], f);
        assert_int_equal(n, frame_len[i]);
        assert_int_equal(f[0], LM_HOSTCHAN_MAGIC);
        assert_int_equal(f[1], m[i].type);
        assert_int_equal(f[2], n - 3);
        struct lm_hostchan_msg back;
        memset(&back, 0xa5, sizeof back);
        assert_int_equal(lm_hostchan_parse(fenced(f, n), n, &back), (int)n);
        assert_int_equal(back.type, m[i].type);
        switch (m[i].type) {
        case LM_HOSTCHAN_HELLO:
            assert_memory_equal(back.u.key, m[i].u.key, LM_HOSTCHAN_KEY_BYTES);
            break;
        case LM_HOSTCHAN_EVENTS:
            assert_int_equal(back.u.events.pending, m[i].u.events.pending);
            assert_int_equal(back.u.events.evict_ms, m[i].u.events.evict_ms);
            assert_true(back.u.events.credit_ms == m[i].u.events.credit_ms);
            assert_true(back.u.events.grace_ms == m[i].u.events.grace_ms);
            break;
        case LM_HOSTCHAN_NOTICE:
            assert_int_equal(back.u.notice, m[i].u.notice);
            break;
        case LM_HOSTCHAN_EXIT:
            assert_int_equal(back.u.status, -2);
            break;
        }
    }
}

/* The layout pinned byte by byte: both sides (the guest's freestanding build and the host)
 * must agree whatever their own byte order. */
static void test_events_bytes(void **state)
{
    (void)state;
    struct lm_hostchan_msg m = {.type = LM_HOSTCHAN_EVENTS};
    m.u.events.pending = 0x04030201u;
    m.u.events.evict_ms = 0x08070605u;
    m.u.events.credit_ms = 0x100f0e0d0c0b0a09ull;
    m.u.events.grace_ms = 0x1817161514131211ull;
    static const uint8_t want[] = {
        0xa7, 0x02, 0x18,                               /* magic, EVENTS, 24 */
        0x01, 0x02, 0x03, 0x04,                         /* pending */
        0x05, 0x06, 0x07, 0x08,                         /* evict_ms */
        0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, /* credit_ms */
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, /* grace_ms */
    };
    uint8_t f[LM_HOSTCHAN_FRAME_MAX];
    assert_int_equal(lm_hostchan_encode(&m, f), sizeof want);
    assert_memory_equal(f, want, sizeof want);
    struct lm_hostchan_msg back;
    assert_int_equal(lm_hostchan_parse(fenced(want, sizeof want), sizeof want, &back),
                     (int)sizeof want);
    assert_int_equal(back.u.events.pending, 0x04030201u);
    assert_true(back.u.events.grace_ms == 0x1817161514131211ull);
}

/* A short read leaves part of a frame: "read more", never "broken", or the host would drop a
 * well-behaved guest's channel. The prefix sits at the fence, so a peek past it faults. */
static void test_prefixes(void **state)
{
    (void)state;
    struct lm_hostchan_msg m[5], out;
    all_msgs(m);
    assert_int_equal(lm_hostchan_parse(NULL, 0, &out), 0);
    for (size_t i = 0; i < 5; i++) {
        uint8_t f[LM_HOSTCHAN_FRAME_MAX];
        size_t n = lm_hostchan_encode(&m[i], f);
        for (size_t k = 0; k < n; k++)
            if (lm_hostchan_parse(fenced(f, k), k, &out) != 0)
                fail_msg("type %u: %zu of %zu bytes not taken as a partial frame", m[i].type, k, n);
    }
}

static void test_broken(void **state)
{
    (void)state;
    struct lm_hostchan_msg out;
    /* A wrong magic is known from the first byte. */
    static const uint8_t magic[][3] = {{0x00, 1, 32}, {0xa6, 16, 4}, {0xff, 17, 0}};
    for (size_t i = 0; i < sizeof magic / sizeof magic[0]; i++)
        for (size_t k = 1; k <= 3; k++)
            assert_int_equal(lm_hostchan_parse(fenced(magic[i], k), k, &out), -1);
    /* An unknown type is known from the second byte, with or without a plausible length. */
    static const uint8_t types[] = {0, 3, 15, 19, 0xa7, 0xff};
    for (size_t i = 0; i < sizeof types; i++) {
        uint8_t f[LM_HOSTCHAN_FRAME_MAX] = {LM_HOSTCHAN_MAGIC, types[i], 4};
        assert_int_equal(lm_hostchan_parse(fenced(f, 2), 2, &out), -1);
        assert_int_equal(lm_hostchan_parse(fenced(f, 3), 3, &out), -1);
        assert_int_equal(lm_hostchan_parse(fenced(f, sizeof f), sizeof f, &out), -1);
    }
    /* A known type with any other length: refused from the header alone, before its
     * (claimed) payload arrives, and with it. */
    struct lm_hostchan_msg m[5];
    all_msgs(m);
    for (size_t i = 0; i < 5; i++) {
        uint8_t f[LM_HOSTCHAN_FRAME_MAX];
        size_t n = lm_hostchan_encode(&m[i], f);
        const uint8_t good = f[2];
        const uint8_t wrong[] = {(uint8_t)(good + 1), (uint8_t)(good - 1), 0xff, 4, 0};
        for (size_t w = 0; w < sizeof wrong; w++) {
            if (wrong[w] == good)
                continue;
            f[2] = wrong[w];
            assert_int_equal(lm_hostchan_parse(fenced(f, 3), 3, &out), -1);
            assert_int_equal(lm_hostchan_parse(fenced(f, n), n, &out), -1);
        }
    }
}

static void test_encode_unknown(void **state)
{
    (void)state;
    static const uint8_t types[] = {0, 3, 15, 19, 0xff};
    for (size_t i = 0; i < sizeof types; i++) {
        struct lm_hostchan_msg m = {.type = types[i]};
        uint8_t f[LM_HOSTCHAN_FRAME_MAX];
        assert_int_equal(lm_hostchan_encode(&m, f), 0);
    }
}

/* Frames follow each other in the stream: each parse takes exactly its own bytes. */
static void test_back_to_back(void **state)
{
    (void)state;
    struct lm_hostchan_msg m[5], out;
    all_msgs(m);
    uint8_t s[5 * LM_HOSTCHAN_FRAME_MAX];
    size_t len = 0;
    for (size_t i = 0; i < 5; i++)
        len += lm_hostchan_encode(&m[4 - i], s + len); /* EXIT, EXEC (empty), ... HELLO */
    const uint8_t *p = fenced(s, len);
    size_t off = 0;
    for (size_t i = 0; i < 5; i++) {
        int n = lm_hostchan_parse(p + off, len - off, &out);
        assert_int_equal(n, frame_len[4 - i]);
        assert_int_equal(out.type, m[4 - i].type);
        off += (size_t)n;
    }
    assert_int_equal(off, len);
    assert_int_equal(out.u.key[31], 0xc0 + 31);
    assert_int_equal(lm_hostchan_parse(p + off, 0, &out), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),     cmocka_unit_test(test_events_bytes),
        cmocka_unit_test(test_prefixes),       cmocka_unit_test(test_broken),
        cmocka_unit_test(test_encode_unknown), cmocka_unit_test(test_back_to_back),
    };
    return cmocka_run_group_tests_name("hostchan", tests, fence_setup, fence_teardown);
}
