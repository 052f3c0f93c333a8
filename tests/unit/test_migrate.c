/* Unit tests of the self-migration stream: layouts, tables of bad input, receiver, keys. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <zstd.h>

#include "laundromat/hash.h"
#include "laundromat/migrate.h"
#include "lm.h"
#include "testlib.h"

static void fill(uint8_t *p, size_t n, uint8_t base)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(base + i * 7);
}

/* A failed call must give exactly this status and a message holding this text. */
static void expect(const char *what, int rc, int want, const struct lm_diag *d, const char *msg)
{
    if (rc != -want || !memchr(d->msg, '\0', sizeof d->msg) || !strstr(d->msg, msg)) {
        print_error("%s: got %d (%s) \"%s\"; want %d (%s) containing \"%s\"\n", what, -rc,
                    rc ? lm_status_name(rc) : "OK", d->msg, want, lm_status_name(want), msg);
        fail();
    }
}

/* ---- hello ---------------------------------------------------------------------------- */

static void test_hello_roundtrip(void **state)
{
    (void)state;
    struct lm_mig_hello h, g;
    fill(h.mig_pub, 32, 0x10);
    fill(h.nonce, 32, 0x80);
    uint8_t b[LM_MIG_HELLO_SIZE];
    lm_mig_hello_encode(&h, b);
    assert_memory_equal(b, "LMMG\x01\x00\x00\x00", 8);
    assert_memory_equal(b + 8, h.mig_pub, 32);
    assert_memory_equal(b + 40, h.nonce, 32);
    memset(&g, 0x55, sizeof g);
    assert_int_equal(lm_mig_hello_decode(b, sizeof b, &g, NULL), 0);
    assert_memory_equal(&g, &h, sizeof h);
}

static void test_hello_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t len;
        int off, value; /* the byte at off set to value (off -1: none) */
        int want;
        const char *msg;
    } bad[] = {
        {"empty", 0, -1, 0, LM_TRUNCATED, "0 bytes, expected 72"},
        {"one byte short", 71, -1, 0, LM_TRUNCATED, "71 bytes, expected 72"},
        {"one byte long", 73, -1, 0, LM_TRAILING, "73 bytes, expected 72"},
        {"the loader's magic", 72, 3, 'L', LM_BAD_MAGIC, "magic 4c4d4d4c, expected \"LMMG\""},
        {"lower-case magic", 72, 0, 'l', LM_BAD_MAGIC, "magic 6c4d4d47"},
        {"version 0", 72, 4, 0, LM_BAD_VERSION, "version 0, this loader reads 1"},
        {"version 2", 72, 4, 2, LM_BAD_VERSION, "version 2, this loader reads 1"},
        {"version 257", 72, 5, 1, LM_BAD_VERSION, "version 257"},
        {"reserved low byte", 72, 6, 1, LM_RESERVED_NONZERO, "reserved bytes are not zero"},
        {"reserved high byte", 72, 7, 0x80, LM_RESERVED_NONZERO, "reserved bytes are not zero"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lm_mig_hello h, g;
        fill(h.mig_pub, 32, 1);
        fill(h.nonce, 32, 2);
        uint8_t b[LM_MIG_HELLO_SIZE + 1] = {0};
        lm_mig_hello_encode(&h, b);
        if (bad[i].off >= 0)
            b[bad[i].off] = (uint8_t)bad[i].value;
        struct lm_diag d = {""};
        expect(bad[i].name, lm_mig_hello_decode(b, bad[i].len, &g, &d), bad[i].want, &d,
               bad[i].msg);
    }
}

/* ---- record headers and bodies -------------------------------------------------------- */

static uint8_t rbuf[LM_MIG_REC_MAX + 2];

/* A record in rbuf: the header fields as given, then body_len bytes of filler; its length. */
static size_t build(uint8_t type, uint8_t flags, uint16_t reserved, uint32_t count, uint64_t arg,
                    size_t body_len)
{
    assert_true(LM_MIG_REC_HDR + body_len <= sizeof rbuf);
    lm_mig_rec_header(rbuf, type, count, arg);
    rbuf[1] = flags;
    lm_put16(rbuf + 2, reserved);
    fill(rbuf + LM_MIG_REC_HDR, body_len, type);
    return LM_MIG_REC_HDR + body_len;
}

static void test_rec_header_layout(void **state)
{
    (void)state;
    uint8_t b[LM_MIG_REC_HDR];
    memset(b, 0xee, sizeof b);
    lm_mig_rec_header(b, LM_MIG_PAGES, 0x01020304, 0x1112131415161718ull);
    assert_memory_equal(b, "\x01\x00\x00\x00\x04\x03\x02\x01\x18\x17\x16\x15\x14\x13\x12\x11", 16);
    assert_int_equal(LM_MIG_REC_MAX, 16 + 16 * 4096);
    assert_int_equal(LM_MIG_FRAME_MAX, LM_MIG_REC_MAX + 17);
    assert_int_equal(LM_MIG_SS_HEADER_BYTES, crypto_secretstream_xchacha20poly1305_HEADERBYTES);
    assert_int_equal(LM_MIG_SS_ABYTES, crypto_secretstream_xchacha20poly1305_ABYTES);
}

/* Every type parses back with its fields and exactly the body the type and count fix. */
static void test_rec_parse_accepts(void **state)
{
    (void)state;
    static const struct {
        uint8_t type;
        uint32_t count;
        uint64_t arg;
        size_t body;
    } ok[] = {
        {LM_MIG_PAGES, 1, 1, 4096},
        {LM_MIG_PAGES, 16, 0xfffffffffffull, 16 * 4096},
        {LM_MIG_ZPAGES, 1, 1, 1},
        {LM_MIG_ZPAGES, 1, 1, 4096},
        {LM_MIG_ZPAGES, 16, 7, 16 * 4096},
        {LM_MIG_ZERO, 1, 0, 0},
        {LM_MIG_ZERO, UINT32_MAX, UINT64_MAX, 0}, /* the receiver checks the range */
        {LM_MIG_ROUND, 0, 0, 0},
        {LM_MIG_ROUND, 123456, 7, 0},
        {LM_MIG_CONTEXT, 0, 0, LM_MIG_CONTEXT_SIZE},
        {LM_MIG_END, 0, 0, LM_MIG_TOTALS_SIZE},
        {LM_MIG_GO, 0, 0, LM_MIG_GO_SIZE},
        {LM_MIG_READY, 0, 0, LM_MIG_TOTALS_SIZE},
        {LM_MIG_READY, LM_MIG_READY_NEW_IDENTITY, 0, LM_MIG_TOTALS_SIZE},
        {LM_MIG_SAVED, 0, 0, LM_MIG_TOTALS_SIZE},
        {LM_MIG_ERROR, LM_PAGE_RANGE, 0, 1},
        {LM_MIG_ERROR, 0xffffffffu, 0, LM_MIG_ERRMSG_MAX},
    };
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        size_t n = build(ok[i].type, 0, 0, ok[i].count, ok[i].arg, ok[i].body);
        struct lm_mig_rec r;
        struct lm_diag d = {""};
        memset(&r, 0x55, sizeof r);
        int rc = lm_mig_rec_parse(rbuf, n, &r, &d);
        if (rc != 0)
            fail_msg("type %u count %u body %zu: %s", ok[i].type, ok[i].count, ok[i].body, d.msg);
        assert_int_equal(r.type, ok[i].type);
        assert_int_equal(r.count, ok[i].count);
        assert_int_equal(r.arg, ok[i].arg);
        assert_ptr_equal(r.body, rbuf + LM_MIG_REC_HDR);
        assert_int_equal(r.body_len, ok[i].body);
    }
}

struct bad_rec {
    const char *name;
    uint8_t type, flags;
    uint16_t reserved;
    uint32_t count;
    uint64_t arg;
    long body; /* body bytes after the header; -1: only part of the header (hdr_len) */
    size_t hdr_len;
    int want;
    const char *msg;
};

#define PG 4096
static const struct bad_rec bad_recs[] = {
    {"empty", 0, 0, 0, 0, 0, -1, 0, LM_TRUNCATED, "0 bytes, the header alone is 16"},
    {"header cut", LM_MIG_ROUND, 0, 0, 0, 0, -1, 15, LM_TRUNCATED, "15 bytes, the header alone"},
    {"flags set", LM_MIG_ROUND, 1, 0, 0, 0, 0, 0, LM_RESERVED_NONZERO,
     "record type 3: flags or reserved bytes not zero"},
    {"high flag set", LM_MIG_PAGES, 0x80, 0, 1, 1, PG, 0, LM_RESERVED_NONZERO, "type 1: flags"},
    {"reserved low byte", LM_MIG_END, 0, 1, 0, 0, 24, 0, LM_RESERVED_NONZERO, "reserved"},
    {"reserved high byte", LM_MIG_GO, 0, 0x100, 0, 0, 32, 0, LM_RESERVED_NONZERO, "reserved"},
    {"PAGES count 0", LM_MIG_PAGES, 0, 0, 0, 1, 0, 0, LM_BAD_RECORD,
     "PAGES record: count 0, expected 1 to 16"},
    {"PAGES count 17", LM_MIG_PAGES, 0, 0, 17, 1, 16 * PG, 0, LM_BAD_RECORD,
     "PAGES record: count 17, expected 1 to 16"},
    {"PAGES count 2^32-1", LM_MIG_PAGES, 0, 0, UINT32_MAX, 1, PG, 0, LM_BAD_RECORD,
     "count 4294967295"},
    {"PAGES body one byte short", LM_MIG_PAGES, 0, 0, 1, 1, PG - 1, 0, LM_TRUNCATED,
     "record type 1: body of 4095 bytes, expected 4096"},
    {"PAGES body one byte long", LM_MIG_PAGES, 0, 0, 1, 1, PG + 1, 0, LM_TRAILING,
     "body of 4097 bytes, expected 4096"},
    {"PAGES count 2, one page", LM_MIG_PAGES, 0, 0, 2, 1, PG, 0, LM_TRUNCATED,
     "body of 4096 bytes, expected 8192"},
    {"PAGES count 16, one byte more", LM_MIG_PAGES, 0, 0, 16, 1, 16 * PG + 1, 0, LM_TRAILING,
     "body of 65537 bytes, expected 65536"},
    {"PAGES without a body", LM_MIG_PAGES, 0, 0, 1, 1, 0, 0, LM_TRUNCATED,
     "body of 0 bytes, expected 4096"},
    {"ZPAGES count 0", LM_MIG_ZPAGES, 0, 0, 0, 1, 10, 0, LM_BAD_RECORD,
     "ZPAGES record: count 0, expected 1 to 16"},
    {"ZPAGES count 17", LM_MIG_ZPAGES, 0, 0, 17, 1, 10, 0, LM_BAD_RECORD,
     "ZPAGES record: count 17, expected 1 to 16"},
    {"ZPAGES without a body", LM_MIG_ZPAGES, 0, 0, 1, 1, 0, 0, LM_TRUNCATED,
     "ZPAGES record: 0 compressed bytes for 1 pages, expected 1 to 4096"},
    {"ZPAGES larger than its pages", LM_MIG_ZPAGES, 0, 0, 1, 1, PG + 1, 0, LM_TRAILING,
     "ZPAGES record: 4097 compressed bytes for 1 pages"},
    {"ZPAGES flags set", LM_MIG_ZPAGES, 2, 0, 1, 1, 10, 0, LM_RESERVED_NONZERO,
     "record type 7: flags or reserved bytes not zero"},
    {"ZERO count 0", LM_MIG_ZERO, 0, 0, 0, 1, 0, 0, LM_BAD_RECORD, "ZERO record: count 0"},
    {"ZERO with a body", LM_MIG_ZERO, 0, 0, 1, 1, 1, 0, LM_TRAILING,
     "record type 2: body of 1 bytes, expected 0"},
    {"ZERO with a page", LM_MIG_ZERO, 0, 0, 1, 1, PG, 0, LM_TRAILING, "expected 0"},
    {"ROUND with a body", LM_MIG_ROUND, 0, 0, 5, 1, 8, 0, LM_TRAILING,
     "record type 3: body of 8 bytes, expected 0"},
    {"CONTEXT count 1", LM_MIG_CONTEXT, 0, 0, 1, 0, 72, 0, LM_BAD_RECORD,
     "record type 4: count 1 and arg 0, expected 0"},
    {"CONTEXT arg 1", LM_MIG_CONTEXT, 0, 0, 0, 1, 72, 0, LM_BAD_RECORD,
     "record type 4: count 0 and arg 1, expected 0"},
    {"CONTEXT body 71", LM_MIG_CONTEXT, 0, 0, 0, 0, 71, 0, LM_TRUNCATED,
     "record type 4: body of 71 bytes, expected 72"},
    {"CONTEXT body 73", LM_MIG_CONTEXT, 0, 0, 0, 0, 73, 0, LM_TRAILING, "body of 73 bytes"},
    {"CONTEXT without a body", LM_MIG_CONTEXT, 0, 0, 0, 0, 0, 0, LM_TRUNCATED, "expected 72"},
    {"END count 1", LM_MIG_END, 0, 0, 1, 0, 24, 0, LM_BAD_RECORD, "record type 5: count 1"},
    {"END arg 2^64-1", LM_MIG_END, 0, 0, 0, UINT64_MAX, 24, 0, LM_BAD_RECORD,
     "arg 18446744073709551615, expected 0"},
    {"END body 23", LM_MIG_END, 0, 0, 0, 0, 23, 0, LM_TRUNCATED,
     "record type 5: body of 23 bytes, expected 24"},
    {"END body 25", LM_MIG_END, 0, 0, 0, 0, 25, 0, LM_TRAILING, "body of 25 bytes, expected 24"},
    {"GO arg 1", LM_MIG_GO, 0, 0, 0, 1, 32, 0, LM_BAD_RECORD, "record type 6: count 0 and arg 1"},
    {"GO body 31", LM_MIG_GO, 0, 0, 0, 0, 31, 0, LM_TRUNCATED,
     "record type 6: body of 31 bytes, expected 32"},
    {"GO body 33", LM_MIG_GO, 0, 0, 0, 0, 33, 0, LM_TRAILING, "body of 33 bytes, expected 32"},
    {"GO with END's body", LM_MIG_GO, 0, 0, 0, 0, 24, 0, LM_TRUNCATED, "expected 32"},
    {"READY count 2 (an unknown flag)", LM_MIG_READY, 0, 0, 2, 0, 24, 0, LM_BAD_RECORD, "record type 129: count 2"},
    {"READY body 23", LM_MIG_READY, 0, 0, 0, 0, 23, 0, LM_TRUNCATED,
     "record type 129: body of 23 bytes, expected 24"},
    {"READY body 32", LM_MIG_READY, 0, 0, 0, 0, 32, 0, LM_TRAILING, "expected 24"},
    {"ERROR without a message", LM_MIG_ERROR, 0, 0, 70, 0, 0, 0, LM_BAD_RECORD,
     "ERROR record: message of 0 bytes, expected 1 to 200"},
    {"ERROR message 201", LM_MIG_ERROR, 0, 0, 70, 0, 201, 0, LM_BAD_RECORD, "message of 201 bytes"},
    {"ERROR arg 1", LM_MIG_ERROR, 0, 0, 70, 1, 10, 0, LM_BAD_RECORD,
     "ERROR record: arg 1, expected 0"},
    {"type 0", 0, 0, 0, 0, 0, 0, 0, LM_BAD_RECORD, "migration record: unknown type 0"},
    {"type 8", 8, 0, 0, 0, 0, 0, 0, LM_BAD_RECORD, "unknown type 8"},
    {"type 0x80", 0x80, 0, 0, 0, 0, 24, 0, LM_BAD_RECORD, "unknown type 128"},
    {"SAVED body 23", LM_MIG_SAVED, 0, 0, 0, 0, 23, 0, LM_TRUNCATED,
     "record type 131: body of 23 bytes, expected 24"},
    {"SAVED arg 1", LM_MIG_SAVED, 0, 0, 0, 1, 24, 0, LM_BAD_RECORD, "record type 131: count 0 and arg 1"},
    {"type 0x84", 0x84, 0, 0, 0, 0, 0, 0, LM_BAD_RECORD, "unknown type 132"},
    {"type 0xff", 0xff, 0, 0, 1, 1, PG, 0, LM_BAD_RECORD, "unknown type 255"},
};
#undef PG
#define N_BAD_RECS (sizeof bad_recs / sizeof bad_recs[0])

static void test_bad_rec(void **state)
{
    const struct bad_rec *c = *state;
    size_t n =
        build(c->type, c->flags, c->reserved, c->count, c->arg, c->body < 0 ? 0 : (size_t)c->body);
    if (c->body < 0)
        n = c->hdr_len;
    struct lm_mig_rec r;
    struct lm_diag d = {""};
    expect(c->name, lm_mig_rec_parse(rbuf, n, &r, &d), c->want, &d, c->msg);
}

/* ---- context, totals, GO -------------------------------------------------------------- */

#define RAM_PAGES 8
#define RAM (RAM_PAGES * 4096ull)

static struct lm_mig_context good_ctx(void)
{
    return (struct lm_mig_context){.mem_size = RAM,
                                   .kernel_start = 0x1000,
                                   .kernel_end = 0x4000,
                                   .resume_entry = 0x2345,
                                   .clock_ns = 0x0102030405060708ull,
                                   .wall_ns = 1795315750000000000ull,
                                   .platform = LM_MIG_PLATFORM_PVH};
}

static void test_context_roundtrip(void **state)
{
    (void)state;
    struct lm_mig_context c = good_ctx(), g;
    uint8_t b[LM_MIG_CONTEXT_SIZE];
    memset(b, 0xee, sizeof b);
    lm_mig_context_encode(&c, b);
    assert_memory_equal(b, "LMCX\x01\x00\x00\x00", 8);
    assert_int_equal(lm_get64(b + 8), RAM);
    assert_int_equal(lm_get64(b + 16), 0x1000);
    assert_int_equal(lm_get64(b + 24), 0x4000);
    assert_int_equal(lm_get64(b + 32), 0x2345);
    assert_memory_equal(b + 40, "\x08\x07\x06\x05\x04\x03\x02\x01", 8);
    assert_int_equal(lm_get64(b + 48), c.wall_ns);
    assert_int_equal(lm_get32(b + 56), LM_MIG_PLATFORM_PVH);
    assert_true(lm_all_zero(b + 60, 12));
    memset(&g, 0x55, sizeof g);
    assert_int_equal(lm_mig_context_decode(b, sizeof b, &g, NULL), 0);
    assert_memory_equal(&g, &c, sizeof c);

    /* Edges that must pass: entry at the kernel's first and last byte, kernel up to RAM's end. */
    c.resume_entry = c.kernel_start;
    lm_mig_context_encode(&c, b);
    assert_int_equal(lm_mig_context_decode(b, sizeof b, &g, NULL), 0);
    c.resume_entry = c.kernel_end - 1;
    c.kernel_end = RAM;
    c.kernel_start = 0;
    lm_mig_context_encode(&c, b);
    assert_int_equal(lm_mig_context_decode(b, sizeof b, &g, NULL), 0);
    assert_memory_equal(&g, &c, sizeof c);
}

static void test_context_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t len;
        int field; /* -1: none; 0..3: mem_size, kernel_start, kernel_end, resume_entry set to
                    * value; 6: the byte at off set to value */
        int off;
        uint64_t value;
        int want;
        const char *msg;
    } bad[] = {
        {"empty", 0, -1, 0, 0, LM_BAD_RECORD, "context: 0 bytes, expected 72"},
        {"one byte short", 71, -1, 0, 0, LM_BAD_RECORD, "context: 71 bytes, expected 72"},
        {"one byte long", 73, -1, 0, 0, LM_BAD_RECORD, "context: 73 bytes, expected 72"},
        {"bad magic", 72, 6, 0, 'l', LM_BAD_RECORD, "magic 58434d6c version 1, expected 58434d4c"},
        {"version 0", 72, 6, 4, 0, LM_BAD_RECORD, "version 0, expected 58434d4c version 1"},
        {"version 2", 72, 6, 4, 2, LM_BAD_RECORD, "version 2"},
        {"version 2^24+1", 72, 6, 7, 1, LM_BAD_RECORD, "version 16777217"},
        {"platform 2", 72, 6, 56, 2, LM_BAD_RECORD, "context: platform 2, known are 0 (our monitor) and 1 (PVH)"},
        {"platform 2^24+1", 72, 6, 59, 1, LM_BAD_RECORD, "context: platform 16777217"},
        {"first reserved byte", 72, 6, 60, 1, LM_RESERVED_NONZERO, "context: reserved bytes"},
        {"last reserved byte", 72, 6, 71, 0x80, LM_RESERVED_NONZERO, "context: reserved bytes"},
        {"entry at the kernel's end", 72, 3, 0, 0x4000, LM_BAD_RECORD,
         "resume entry 0x4000 outside the kernel [0x1000, 0x4000) or the kernel outside 32768 "
         "bytes of RAM"},
        {"entry below the kernel", 72, 3, 0, 0xfff, LM_BAD_RECORD, "resume entry 0xfff outside"},
        {"entry far outside", 72, 3, 0, UINT64_MAX, LM_BAD_RECORD,
         "resume entry 0xffffffffffffffff"},
        {"empty kernel", 72, 2, 0, 0x1000, LM_BAD_RECORD, "the kernel [0x1000, 0x1000)"},
        {"kernel end before start", 72, 2, 0, 0x800, LM_BAD_RECORD, "[0x1000, 0x800)"},
        {"kernel past RAM", 72, 2, 0, RAM + 1, LM_BAD_RECORD,
         "[0x1000, 0x8001) or the kernel outside 32768 bytes of RAM"},
        {"kernel end 2^64-1", 72, 2, 0, UINT64_MAX, LM_BAD_RECORD, "outside 32768 bytes"},
        {"no RAM", 72, 0, 0, 0, LM_BAD_RECORD, "outside 0 bytes of RAM"},
        {"RAM smaller than the kernel", 72, 0, 0, 0x3fff, LM_BAD_RECORD, "outside 16383 bytes"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lm_mig_context c = good_ctx(), g;
        uint64_t *f[] = {&c.mem_size, &c.kernel_start, &c.kernel_end, &c.resume_entry};
        if (bad[i].field >= 0 && bad[i].field < 4)
            *f[bad[i].field] = bad[i].value;
        uint8_t b[LM_MIG_CONTEXT_SIZE + 1] = {0};
        lm_mig_context_encode(&c, b);
        if (bad[i].field == 6)
            b[bad[i].off] = (uint8_t)bad[i].value;
        struct lm_diag d = {""};
        expect(bad[i].name, lm_mig_context_decode(b, bad[i].len, &g, &d), bad[i].want, &d,
               bad[i].msg);
    }
}

static void test_totals_and_go_roundtrip(void **state)
{
    (void)state;
    struct lm_mig_totals t = {0x0102030405060708ull, 2, UINT64_MAX}, u;
    uint8_t b[LM_MIG_GO_SIZE];
    lm_mig_totals_encode(&t, b);
    assert_memory_equal(b, "\x08\x07\x06\x05\x04\x03\x02\x01\x02\0\0\0\0\0\0\0", 16);
    assert_true(lm_get64(b + 16) == UINT64_MAX);
    memset(&u, 0x55, sizeof u);
    lm_mig_totals_decode(b, &u);
    assert_memory_equal(&u, &t, sizeof t);

    struct lm_mig_go g = {1, 0x100, 0x10000, 0xfedcba9876543210ull}, h;
    lm_mig_go_encode(&g, b);
    assert_int_equal(lm_get64(b), 1);
    assert_int_equal(lm_get64(b + 8), 0x100);
    assert_int_equal(lm_get64(b + 16), 0x10000);
    assert_memory_equal(b + 24, "\x10\x32\x54\x76\x98\xba\xdc\xfe", 8);
    memset(&h, 0x55, sizeof h);
    lm_mig_go_decode(b, &h);
    assert_memory_equal(&h, &g, sizeof g);
}

/* ---- the receiver ----------------------------------------------------------------------- */

/* Bodies a step can carry. */
enum body {
    B_NONE,
    B_PAGES,     /* count pages of filler */
    B_CTX,       /* good_ctx() */
    B_CTX_MEM,   /* good_ctx() for 64 KiB of RAM */
    B_CTX_ENTRY, /* good_ctx() with the entry at the kernel's end */
    B_CTX_RESV,  /* good_ctx() with a reserved byte set */
    B_END,       /* the totals of the valid stream */
    B_END_DATA,  /* ... with one data page more */
    B_END_ZERO,  /* ... with one zero page more */
    B_END_RECS,  /* ... with one record more (END itself counted) */
    B_GO,
    B_TEXT, /* "x" */
};

struct step {
    uint8_t type;
    uint32_t count;
    uint64_t arg;
    enum body body;
    bool final;
    int want; /* an action (>= 0) or a status (< 0, as returned) */
};

/* 8 pages of RAM: round 0 sends pages 0..5 (0 and 4, 5 as zero), round 1 pages 6 and 7, the
 * final phase resends page 2 after the context; the totals: 6 data pages, 3 zero, 8 records. */
enum {
    S_ROUND0,
    S_ZERO0,
    S_PAGES1,
    S_ZERO4,
    S_ROUND1,
    S_PAGES6,
    S_CTX,
    S_FINAL2,
    S_END,
    S_GO,
    S_COUNT
};
static const struct step valid[S_COUNT] = {
    [S_ROUND0] = {LM_MIG_ROUND, 7, 0, B_NONE, false, LM_MIG_ACT_NONE},
    [S_ZERO0] = {LM_MIG_ZERO, 1, 0, B_NONE, false, LM_MIG_ACT_ZERO},
    [S_PAGES1] = {LM_MIG_PAGES, 3, 1, B_PAGES, false, LM_MIG_ACT_PLACE},
    [S_ZERO4] = {LM_MIG_ZERO, 2, 4, B_NONE, false, LM_MIG_ACT_ZERO},
    [S_ROUND1] = {LM_MIG_ROUND, 1, 1, B_NONE, false, LM_MIG_ACT_NONE},
    [S_PAGES6] = {LM_MIG_ZPAGES, 2, 6, B_TEXT, false, LM_MIG_ACT_INFLATE}, /* inflated by the
                                                                          * caller */
    [S_CTX] = {LM_MIG_CONTEXT, 0, 0, B_CTX, false, LM_MIG_ACT_NONE},
    [S_FINAL2] = {LM_MIG_PAGES, 1, 2, B_PAGES, false, LM_MIG_ACT_PLACE},
    [S_END] = {LM_MIG_END, 0, 0, B_END, false, LM_MIG_ACT_READY},
    [S_GO] = {LM_MIG_GO, 0, 0, B_GO, true, LM_MIG_ACT_GO},
};

struct rx {
    struct lm_mig_recv s;
    uint64_t covered[1];
};

/* The record of a step in rbuf; its length. */
static size_t step_record(const struct step *st)
{
    uint8_t *body = rbuf + LM_MIG_REC_HDR;
    size_t n = 0;
    struct lm_mig_context c = good_ctx();
    struct lm_mig_totals t = {6, 3, 8};
    struct lm_mig_go g = {1, 2, 3, 4};
    switch (st->body) {
    case B_NONE:
        break;
    case B_PAGES:
        n = (size_t)st->count * LM_MIG_PAGE;
        fill(body, n, (uint8_t)st->arg);
        break;
    case B_CTX_MEM:
        c.mem_size = 2 * RAM;
        /* fall through */
    case B_CTX:
    case B_CTX_ENTRY:
    case B_CTX_RESV:
        if (st->body == B_CTX_ENTRY)
            c.resume_entry = c.kernel_end;
        lm_mig_context_encode(&c, body);
        if (st->body == B_CTX_RESV)
            body[60] = 1;
        n = LM_MIG_CONTEXT_SIZE;
        break;
    case B_END_DATA:
    case B_END_ZERO:
    case B_END_RECS:
    case B_END:
        t.data_pages += st->body == B_END_DATA;
        t.zero_pages += st->body == B_END_ZERO;
        t.records += st->body == B_END_RECS;
        lm_mig_totals_encode(&t, body);
        n = LM_MIG_TOTALS_SIZE;
        break;
    case B_GO:
        lm_mig_go_encode(&g, body);
        n = LM_MIG_GO_SIZE;
        break;
    case B_TEXT:
        body[0] = 'x';
        n = 1;
        break;
    }
    lm_mig_rec_header(rbuf, st->type, st->count, st->arg);
    return LM_MIG_REC_HDR + n;
}

static void rx_init(struct rx *x)
{
    memset(x, 0, sizeof *x);
    lm_mig_recv_init(&x->s, RAM, x->covered);
}

/* Feeds one step; fails the test unless it gives the step's result. */
static int feed(struct rx *x, const struct step *st, struct lm_diag *d, const char *what)
{
    size_t n = step_record(st);
    struct lm_mig_rec r;
    memset(d, 0, sizeof *d);
    int rc = lm_mig_recv_record(&x->s, rbuf, n, st->final, &r, d);
    if (rc != st->want)
        fail_msg("%s: record type %u gave %d (%s: %s), expected %d", what, st->type, rc,
                 rc < 0 ? lm_status_name(rc) : "action", d->msg, st->want);
    if (rc >= 0) {
        assert_int_equal(r.type, st->type);
        assert_int_equal(r.count, st->count);
        assert_int_equal(r.arg, st->arg);
        assert_int_equal(r.body_len, n - LM_MIG_REC_HDR);
    }
    return rc;
}

static void test_recv_valid_stream(void **state)
{
    (void)state;
    struct rx x;
    struct lm_diag d;
    rx_init(&x);
    assert_int_equal(x.s.npages, RAM_PAGES);
    assert_int_equal(x.s.mem_size, RAM);
    for (int i = 0; i < S_COUNT; i++) {
        feed(&x, &valid[i], &d, "valid stream");
        if (i == S_PAGES1)
            assert_int_equal(x.covered[0], 0x0f);
        if (i == S_CTX) {
            assert_true(x.s.have_ctx);
            struct lm_mig_context c = good_ctx();
            assert_memory_equal(&x.s.ctx, &c, sizeof c);
            assert_int_equal(x.s.final_pages, 0);
        }
        if (i == S_END) {
            assert_int_equal(x.s.stage, 1);
            assert_int_equal(x.covered[0], 0xff);
        }
    }
    assert_int_equal(x.s.stage, 2);
    assert_int_equal(x.s.round, 1);
    assert_int_equal(x.s.got.data_pages, 6);
    assert_int_equal(x.s.got.zero_pages, 3);
    assert_int_equal(x.s.got.records, 8);
    assert_int_equal(x.s.final_pages, 1);
}

/* Variations the receiver must accept. */
static void test_recv_accepted_edges(void **state)
{
    (void)state;
    struct rx x;
    struct lm_diag d;
    rx_init(&x);
    /* No ROUND before the first pages; one round number repeated, then the largest; pages
     * sent twice (as zero, then with contents); the last page alone; ZERO over all of RAM. */
    const struct step s[] = {
        {LM_MIG_ZERO, 8, 0, B_NONE, false, LM_MIG_ACT_ZERO},
        {LM_MIG_ZERO, 1, 0, B_NONE, false, LM_MIG_ACT_ZERO},
        {LM_MIG_ROUND, 0, 3, B_NONE, false, LM_MIG_ACT_NONE},
        {LM_MIG_ROUND, 0, 3, B_NONE, false, LM_MIG_ACT_NONE},
        {LM_MIG_PAGES, 1, 7, B_PAGES, false, LM_MIG_ACT_PLACE},
        {LM_MIG_PAGES, 7, 1, B_PAGES, false, LM_MIG_ACT_PLACE},
        {LM_MIG_ROUND, 0, UINT32_MAX, B_NONE, false, LM_MIG_ACT_NONE},
        {LM_MIG_CONTEXT, 0, 0, B_CTX, false, LM_MIG_ACT_NONE},
        {LM_MIG_ZERO, 8, 0, B_NONE, false, LM_MIG_ACT_ZERO},
    };
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
        feed(&x, &s[i], &d, "accepted edges");
    assert_int_equal(x.s.round, UINT32_MAX);
    assert_int_equal(x.s.final_pages, 8);
    /* The totals of this stream: 8 data pages, 17 zero pages, 9 records. */
    uint8_t *body = rbuf + LM_MIG_REC_HDR;
    lm_mig_rec_header(rbuf, LM_MIG_END, 0, 0);
    struct lm_mig_totals t = {8, 17, 9};
    lm_mig_totals_encode(&t, body);
    struct lm_mig_rec r;
    assert_int_equal(lm_mig_recv_record(&x.s, rbuf, LM_MIG_REC_HDR + 24, false, &r, &d),
                     LM_MIG_ACT_READY);
    feed(&x, &valid[S_GO], &d, "GO");
}

/* A broken stream: the valid one up to `upto` (without the steps in `skip`), then `bad`. */
struct bad_stream {
    const char *name;
    int upto;
    unsigned skip; /* bit per step of valid[] */
    struct step bad;
    const char *msg;
};

#define BAD(type, count, arg, body, final, status)                                                 \
    {                                                                                              \
        type, count, arg, body, final, -status                                                     \
    }
static const struct bad_stream bad_streams[] = {
    {"PAGES past the end of RAM", S_ZERO0, 0,
     BAD(LM_MIG_PAGES, 2, 7, B_PAGES, false, LM_PAGE_RANGE),
     "record 1: pages [7, +2) outside 8 pages of RAM"},
    {"PAGES starting past RAM", S_ZERO0, 0, BAD(LM_MIG_PAGES, 1, 8, B_PAGES, false, LM_PAGE_RANGE),
     "pages [8, +1) outside 8 pages"},
    {"ZERO past the end of RAM", S_PAGES6, 0, BAD(LM_MIG_ZERO, 4, 5, B_NONE, false, LM_PAGE_RANGE),
     "record 5: pages [5, +4) outside 8 pages of RAM"},
    {"ZERO at page 2^64-1", S_ZERO0, 0,
     BAD(LM_MIG_ZERO, 1, UINT64_MAX, B_NONE, false, LM_PAGE_RANGE),
     "pages [18446744073709551615, +1)"},
    {"ZERO of 2^32-1 pages", S_ZERO0, 0,
     BAD(LM_MIG_ZERO, UINT32_MAX, 1, B_NONE, false, LM_PAGE_RANGE), "pages [1, +4294967295)"},
    {"PAGES for page 0", S_ZERO0, 0, BAD(LM_MIG_PAGES, 1, 0, B_PAGES, false, LM_PAGE_RANGE),
     "record 1: page 0 is the monitor's and always zero"},
    {"PAGES for pages 0 and 1", S_PAGES1, 0, BAD(LM_MIG_PAGES, 2, 0, B_PAGES, false, LM_PAGE_RANGE),
     "page 0 is the monitor's"},
    {"ZPAGES for page 0", S_ZERO0, 0, BAD(LM_MIG_ZPAGES, 1, 0, B_TEXT, false, LM_PAGE_RANGE),
     "record 1: page 0 is the monitor's and always zero"},
    {"ZPAGES past the end of RAM", S_ZERO0, 0,
     BAD(LM_MIG_ZPAGES, 2, 7, B_TEXT, false, LM_PAGE_RANGE), "pages [7, +2) outside 8 pages"},
    {"PAGES count 17 mid-stream", S_PAGES1, 0,
     BAD(LM_MIG_PAGES, 17, 1, B_NONE, false, LM_BAD_RECORD), "PAGES record: count 17"},
    {"END before CONTEXT", S_CTX, 0, BAD(LM_MIG_END, 0, 0, B_END, false, LM_INCOMPLETE),
     "END without a CONTEXT record"},
    {"END with two pages never sent", S_END, 1u << S_ZERO4,
     BAD(LM_MIG_END, 0, 0, B_END, false, LM_INCOMPLETE),
     "END with 2 pages never sent (the first: 4)"},
    {"END with page 0 never sent", S_END, 1u << S_ZERO0,
     BAD(LM_MIG_END, 0, 0, B_END, false, LM_INCOMPLETE),
     "END with 1 pages never sent (the first: 0)"},
    {"END with the last round missing", S_END, 1u << S_PAGES6,
     BAD(LM_MIG_END, 0, 0, B_END, false, LM_INCOMPLETE), "2 pages never sent (the first: 6)"},
    {"END counting a data page too many", S_END, 0,
     BAD(LM_MIG_END, 0, 0, B_END_DATA, false, LM_INCOMPLETE),
     "END counts 7 data pages, 3 zero pages, 8 records; received 6, 3, 8"},
    {"END counting a zero page too many", S_END, 0,
     BAD(LM_MIG_END, 0, 0, B_END_ZERO, false, LM_INCOMPLETE),
     "END counts 6 data pages, 4 zero pages, 8 records; received 6, 3, 8"},
    {"END counting itself", S_END, 0, BAD(LM_MIG_END, 0, 0, B_END_RECS, false, LM_INCOMPLETE),
     "END counts 6 data pages, 3 zero pages, 9 records; received 6, 3, 8"},
    {"END after a record was skipped", S_END, 1u << S_ROUND1,
     BAD(LM_MIG_END, 0, 0, B_END, false, LM_INCOMPLETE), "8 records; received 6, 3, 7"},
    {"a second CONTEXT", S_FINAL2, 0, BAD(LM_MIG_CONTEXT, 0, 0, B_CTX, false, LM_BAD_RECORD),
     "record 7: a second CONTEXT"},
    {"CONTEXT for another RAM size", S_CTX, 0,
     BAD(LM_MIG_CONTEXT, 0, 0, B_CTX_MEM, false, LM_MEM_MISMATCH),
     "context: 65536 bytes of RAM, this VM has 32768"},
    {"CONTEXT with the entry outside the kernel", S_CTX, 0,
     BAD(LM_MIG_CONTEXT, 0, 0, B_CTX_ENTRY, false, LM_BAD_RECORD),
     "context: resume entry 0x4000 outside the kernel [0x1000, 0x4000)"},
    {"CONTEXT with reserved bytes", S_CTX, 0,
     BAD(LM_MIG_CONTEXT, 0, 0, B_CTX_RESV, false, LM_RESERVED_NONZERO),
     "context: reserved bytes are not zero"},
    {"PAGES after READY", S_GO, 0, BAD(LM_MIG_PAGES, 1, 1, B_PAGES, false, LM_BAD_RECORD),
     "record 8: after READY only GO may come, not type 1"},
    {"END after READY", S_GO, 0, BAD(LM_MIG_END, 0, 0, B_END, false, LM_BAD_RECORD),
     "after READY only GO may come, not type 5"},
    {"ROUND after READY", S_GO, 0, BAD(LM_MIG_ROUND, 0, 2, B_NONE, false, LM_BAD_RECORD),
     "after READY only GO may come, not type 3"},
    {"CONTEXT after READY", S_GO, 0, BAD(LM_MIG_CONTEXT, 0, 0, B_CTX, false, LM_BAD_RECORD),
     "not type 4"},
    {"the final tag on ROUND", S_ROUND0, 0, BAD(LM_MIG_ROUND, 7, 0, B_NONE, true, LM_BAD_RECORD),
     "record 0 (type 3): the final tag belongs to GO alone"},
    {"the final tag on PAGES", S_PAGES1, 0, BAD(LM_MIG_PAGES, 3, 1, B_PAGES, true, LM_BAD_RECORD),
     "record 2 (type 1): the final tag belongs to GO alone"},
    {"the final tag on END", S_END, 0, BAD(LM_MIG_END, 0, 0, B_END, true, LM_BAD_RECORD),
     "(type 5): the final tag belongs to GO alone"},
    {"the final tag on a record after READY", S_GO, 0,
     BAD(LM_MIG_PAGES, 1, 1, B_PAGES, true, LM_BAD_RECORD), "the final tag belongs to GO alone"},
    {"GO without the final tag", S_GO, 0, BAD(LM_MIG_GO, 0, 0, B_GO, false, LM_BAD_RECORD),
     "record 8 (type 6): the final tag belongs to GO alone"},
    {"GO before END", S_END, 0, BAD(LM_MIG_GO, 0, 0, B_GO, true, LM_BAD_RECORD),
     "record 8: type 6 does not go to a loader"},
    {"GO first", S_ROUND0, 0, BAD(LM_MIG_GO, 0, 0, B_GO, true, LM_BAD_RECORD),
     "record 0: type 6 does not go to a loader"},
    {"round going backwards", S_PAGES6, 0, BAD(LM_MIG_ROUND, 0, 0, B_NONE, false, LM_BAD_RECORD),
     "record 5: round 0 after round 1"},
    {"round beyond 2^32-1", S_PAGES6, 0,
     BAD(LM_MIG_ROUND, 0, 1ull << 32, B_NONE, false, LM_BAD_RECORD),
     "round 4294967296 after round 1"},
    {"GO after GO", S_COUNT, 0, BAD(LM_MIG_GO, 0, 0, B_GO, true, LM_BAD_RECORD),
     "record 8 (type 6) after GO"},
    {"PAGES after GO", S_COUNT, 0, BAD(LM_MIG_PAGES, 1, 1, B_PAGES, false, LM_BAD_RECORD),
     "record 8 (type 1) after GO"},
    {"END after GO", S_COUNT, 0, BAD(LM_MIG_END, 0, 0, B_END, false, LM_BAD_RECORD), "after GO"},
    {"READY from the guest", S_ZERO0, 0, BAD(LM_MIG_READY, 0, 0, B_END, false, LM_BAD_RECORD),
     "record 1: type 129 does not go to a loader"},
    {"ERROR from the guest", S_ZERO0, 0, BAD(LM_MIG_ERROR, 70, 0, B_TEXT, false, LM_BAD_RECORD),
     "type 130 does not go to a loader"},
    {"an unknown type mid-stream", S_CTX, 0, BAD(9, 0, 0, B_NONE, false, LM_BAD_RECORD),
     "migration record: unknown type 9"},
};
#undef BAD
#define N_BAD_STREAMS (sizeof bad_streams / sizeof bad_streams[0])

/* The receiver's state but its context (written, not taken, by a refused CONTEXT). */
struct snap {
    uint64_t covered, final_pages;
    int stage;
    bool have_ctx;
    struct lm_mig_totals got;
    uint32_t round;
};

static struct snap snap(const struct rx *x)
{
    struct snap s;
    memset(&s, 0, sizeof s);
    s.covered = x->covered[0];
    s.final_pages = x->s.final_pages;
    s.stage = x->s.stage;
    s.have_ctx = x->s.have_ctx;
    s.got = x->s.got;
    s.round = x->s.round;
    return s;
}

static void test_bad_stream(void **state)
{
    const struct bad_stream *c = *state;
    struct rx x;
    struct lm_diag d;
    rx_init(&x);
    for (int i = 0; i < c->upto; i++)
        if (!(c->skip & 1u << i))
            feed(&x, &valid[i], &d, c->name);
    struct snap before = snap(&x);
    size_t n = step_record(&c->bad);
    struct lm_mig_rec r;
    memset(&d, 0, sizeof d);
    int rc = lm_mig_recv_record(&x.s, rbuf, n, c->bad.final, &r, &d);
    expect(c->name, rc, -c->bad.want, &d, c->msg);
    /* A refused record changes nothing. */
    struct snap after = snap(&x);
    assert_memory_equal(&after, &before, sizeof before);
}

/* ---- keys and the secretstream ---------------------------------------------------------- */

struct parties {
    uint8_t m[32], M[32], l[32], L[32], nonce[LM_MIG_NONCE_BYTES];
};

static void parties(struct parties *p)
{
    fill(p->m, 32, 0x21);
    fill(p->l, 32, 0x9c);
    fill(p->nonce, sizeof p->nonce, 0x33);
    assert_int_equal(crypto_scalarmult_curve25519_base(p->M, p->m), 0);
    assert_int_equal(crypto_scalarmult_curve25519_base(p->L, p->l), 0);
}

static void test_keys_agree(void **state)
{
    (void)state;
    struct parties p;
    parties(&p);
    uint8_t g_gl[32], g_lg[32], l_gl[32], l_lg[32];
    assert_int_equal(lm_mig_keys(p.m, p.L, p.M, p.L, p.nonce, g_gl, g_lg), 0);
    assert_int_equal(lm_mig_keys(p.l, p.M, p.M, p.L, p.nonce, l_gl, l_lg), 0);
    assert_memory_equal(g_gl, l_gl, 32);
    assert_memory_equal(g_lg, l_lg, 32);
    assert_memory_not_equal(g_gl, g_lg, 32);

    /* The derivation, spelled out: BLAKE2b-512 keyed with X25519(m, L) over
     * "laundromat/migrate/v1" || M || L || nonce, split in two. */
    uint8_t shared[32], in[21 + 96], k[64];
    assert_int_equal(crypto_scalarmult(shared, p.m, p.L), 0);
    memcpy(in, "laundromat/migrate/v1", 21);
    memcpy(in + 21, p.M, 32);
    memcpy(in + 53, p.L, 32);
    memcpy(in + 85, p.nonce, 32);
    assert_int_equal(crypto_generichash(k, 64, in, sizeof in, shared, 32), 0);
    assert_memory_equal(g_gl, k, 32);
    assert_memory_equal(g_lg, k + 32, 32);
    uint8_t a[32], b[32];
    assert_int_equal(lm_mig_kdf(shared, p.M, p.L, p.nonce, a, b), 0);
    assert_memory_equal(a, k, 32);
    assert_memory_equal(b, k + 32, 32);
}

/* Each input of the derivation changes both keys. */
static void test_keys_change(void **state)
{
    (void)state;
    struct parties p;
    parties(&p);
    uint8_t gl[32], lg[32], x_gl[32], x_lg[32];
    assert_int_equal(lm_mig_keys(p.m, p.L, p.M, p.L, p.nonce, gl, lg), 0);
    for (int which = 0; which < 5; which++) {
        struct parties q = p;
        switch (which) {
        case 0: /* another nonce */
            q.nonce[31] ^= 1;
            break;
        case 1: /* another migration key: another M (and shared secret) */
            q.m[0] ^= 0x08;
            assert_int_equal(crypto_scalarmult_curve25519_base(q.M, q.m), 0);
            break;
        case 2: /* another loader */
            q.l[5] ^= 0x40;
            assert_int_equal(crypto_scalarmult_curve25519_base(q.L, q.l), 0);
            break;
        case 3: /* the same secret, M claimed otherwise in the hash */
            q.M[0] ^= 1;
            break;
        case 4: /* the same secret, L claimed otherwise in the hash */
            q.L[31] ^= 0x20;
            break;
        }
        if (which == 1)
            assert_int_equal(lm_mig_keys(q.m, q.L, q.M, q.L, q.nonce, x_gl, x_lg), 0);
        else if (which == 2)
            assert_int_equal(lm_mig_keys(q.l, q.M, q.M, q.L, q.nonce, x_gl, x_lg), 0);
        else
            assert_int_equal(lm_mig_keys(p.m, p.L, q.M, q.L, q.nonce, x_gl, x_lg), 0);
        if (memcmp(gl, x_gl, 32) == 0 || memcmp(lg, x_lg, 32) == 0)
            fail_msg("case %d: a key did not change", which);
    }
    /* A low-order peer key (here 0) gives an all-zero secret: refused. */
    uint8_t zero[32] = {0};
    assert_int_equal(lm_mig_keys(p.m, zero, p.M, zero, p.nonce, x_gl, x_lg), -LM_CRYPTO);
}

/* One frame: the ciphertext length u32 little-endian, then the secretstream message. */
static size_t frame_push(crypto_secretstream_xchacha20poly1305_state *st, const uint8_t *plain,
                         size_t len, uint8_t tag, uint8_t *out)
{
    unsigned long long clen;
    assert_int_equal(
        crypto_secretstream_xchacha20poly1305_push(st, out + 4, &clen, plain, len, NULL, 0, tag),
        0);
    assert_int_equal(clen, len + LM_MIG_SS_ABYTES);
    lm_put32(out, (uint32_t)clen);
    return 4 + (size_t)clen;
}

/* Pulls one frame at b; its plaintext into rbuf. Returns the plaintext length or -1. */
static long frame_pull(crypto_secretstream_xchacha20poly1305_state *st, const uint8_t *b,
                       size_t avail, uint8_t *tag, size_t *used)
{
    assert_true(avail >= 4);
    uint32_t clen = lm_get32(b);
    assert_true(clen >= LM_MIG_SS_ABYTES && clen <= LM_MIG_FRAME_MAX && 4 + clen <= avail);
    *used = 4 + clen;
    unsigned long long mlen;
    if (crypto_secretstream_xchacha20poly1305_pull(st, rbuf, &mlen, tag, b + 4, clen, NULL, 0) != 0)
        return -1;
    return (long)mlen;
}

static uint8_t wire[S_COUNT * (4 + LM_MIG_FRAME_MAX)];

/* The valid stream, pushed by the guest under its key into wire; the byte length. */
static size_t push_stream(const uint8_t key[32], uint8_t header[LM_MIG_SS_HEADER_BYTES])
{
    crypto_secretstream_xchacha20poly1305_state st;
    assert_int_equal(crypto_secretstream_xchacha20poly1305_init_push(&st, header, key), 0);
    static uint8_t plain[LM_MIG_REC_MAX];
    size_t off = 0;
    for (int i = 0; i < S_COUNT; i++) {
        size_t n = step_record(&valid[i]);
        memcpy(plain, rbuf, n);
        off += frame_push(&st, plain, n,
                          valid[i].final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0,
                          wire + off);
    }
    return off;
}

/* The loader's side: pulls every frame and feeds the receiver; the number of records taken,
 * stopping at the first that fails to authenticate. */
static int pull_stream(const uint8_t key[32], const uint8_t header[LM_MIG_SS_HEADER_BYTES],
                       size_t len, struct rx *x)
{
    crypto_secretstream_xchacha20poly1305_state st;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&st, header, key) != 0)
        return 0;
    size_t off = 0;
    int taken = 0;
    while (off < len) {
        uint8_t tag;
        size_t used;
        long n = frame_pull(&st, wire + off, len - off, &tag, &used);
        if (n < 0)
            return taken;
        off += used;
        struct lm_mig_rec r;
        struct lm_diag d;
        int rc = lm_mig_recv_record(&x->s, rbuf, (size_t)n,
                                    tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL, &r, &d);
        if (rc != valid[taken].want)
            fail_msg("record %d: %d (%s)", taken, rc, d.msg);
        taken++;
    }
    return taken;
}

static void test_secretstream_end_to_end(void **state)
{
    (void)state;
    struct parties p;
    parties(&p);
    uint8_t g_gl[32], g_lg[32], l_gl[32], l_lg[32], hdr[LM_MIG_SS_HEADER_BYTES];
    assert_int_equal(lm_mig_keys(p.m, p.L, p.M, p.L, p.nonce, g_gl, g_lg), 0);
    assert_int_equal(lm_mig_keys(p.l, p.M, p.M, p.L, p.nonce, l_gl, l_lg), 0);

    /* Guest -> loader: the whole valid stream, READY and GO included. */
    size_t len = push_stream(g_gl, hdr);
    struct rx x;
    rx_init(&x);
    assert_int_equal(pull_stream(l_gl, hdr, len, &x), S_COUNT);
    assert_int_equal(x.s.stage, 2);

    /* Loader -> guest: READY under the other key. */
    crypto_secretstream_xchacha20poly1305_state lt, gt;
    uint8_t lhdr[LM_MIG_SS_HEADER_BYTES], out[4 + 64 + LM_MIG_SS_ABYTES], plain[64];
    assert_int_equal(crypto_secretstream_xchacha20poly1305_init_push(&lt, lhdr, l_lg), 0);
    lm_mig_rec_header(plain, LM_MIG_READY, 0, 0);
    lm_mig_totals_encode(&x.s.got, plain + LM_MIG_REC_HDR);
    size_t fl = frame_push(&lt, plain, LM_MIG_REC_HDR + LM_MIG_TOTALS_SIZE, 0, out);
    assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(&gt, lhdr, g_lg), 0);
    uint8_t tag;
    size_t used;
    assert_int_equal(frame_pull(&gt, out, fl, &tag, &used), LM_MIG_REC_HDR + LM_MIG_TOTALS_SIZE);
    struct lm_mig_rec r;
    assert_int_equal(lm_mig_rec_parse(rbuf, LM_MIG_REC_HDR + LM_MIG_TOTALS_SIZE, &r, NULL), 0);
    assert_int_equal(r.type, LM_MIG_READY);
    /* The guest's own key does not open the loader's direction. */
    assert_int_equal(crypto_secretstream_xchacha20poly1305_init_pull(&gt, lhdr, g_gl), 0);
    assert_int_equal(frame_pull(&gt, out, fl, &tag, &used), -1);
}

/* A flipped byte anywhere in a frame's ciphertext, a wrong key, a reordered or dropped frame:
 * the loader takes nothing from that frame on. */
static void test_secretstream_tampering(void **state)
{
    (void)state;
    struct parties p;
    parties(&p);
    uint8_t gl[32], lg[32], hdr[LM_MIG_SS_HEADER_BYTES];
    assert_int_equal(lm_mig_keys(p.m, p.L, p.M, p.L, p.nonce, gl, lg), 0);
    size_t len = push_stream(gl, hdr);
    struct rx x;

    /* Offsets of the frames. */
    size_t at[S_COUNT + 1], off = 0;
    for (int i = 0; i <= S_COUNT; i++) {
        at[i] = off;
        if (i < S_COUNT)
            off += 4 + lm_get32(wire + off);
    }
    assert_int_equal(off, len);

    static const struct {
        int frame;
        size_t pos; /* within the frame's ciphertext */
    } flips[] = {
        {0, 0},  {0, 16}, {2, 100}, {2, 16 + 3 * 4096},
        {6, 40}, {8, 20}, {9, 0},   {9, LM_MIG_REC_HDR + LM_MIG_GO_SIZE + LM_MIG_SS_ABYTES - 1}};
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        size_t pos = at[flips[i].frame] + 4 + flips[i].pos;
        assert_true(pos < at[flips[i].frame + 1]);
        wire[pos] ^= 0x01;
        rx_init(&x);
        assert_int_equal(pull_stream(gl, hdr, len, &x), flips[i].frame);
        wire[pos] ^= 0x01;
    }
    rx_init(&x);
    assert_int_equal(pull_stream(gl, hdr, len, &x), S_COUNT);

    /* The other direction's key, a flipped header byte. */
    rx_init(&x);
    assert_int_equal(pull_stream(lg, hdr, len, &x), 0);
    hdr[0] ^= 0x80;
    rx_init(&x);
    assert_int_equal(pull_stream(gl, hdr, len, &x), 0);
    hdr[0] ^= 0x80;

    /* Frame 1 dropped: frame 2 does not authenticate in its place. */
    static uint8_t copy[sizeof wire];
    memcpy(copy, wire, len);
    size_t gap = at[2] - at[1];
    memmove(wire + at[1], wire + at[2], len - at[2]);
    rx_init(&x);
    assert_int_equal(pull_stream(gl, hdr, len - gap, &x), 1);
    memcpy(wire, copy, len);
}

/* lm_zpages_check inflates as the loader does: exactly count pages, else refused. */
static void test_zpages_check(void **state)
{
    (void)state;
    static uint8_t pages[3 * LM_MIG_PAGE], z[3 * LM_MIG_PAGE + 1024];
    for (size_t i = 0; i < sizeof pages; i++)
        pages[i] = (uint8_t)(i % 251 < 200 ? 'a' + i % 7 : i);
    size_t zn = ZSTD_compress(z, sizeof z, pages, sizeof pages, 1);
    assert_false(ZSTD_isError(zn));
    assert_true(zn < sizeof pages);
    struct lm_mig_rec r = {.type = LM_MIG_ZPAGES, .count = 3, .arg = 5, .body = z, .body_len = zn};
    struct lm_diag d = {""};
    assert_int_equal(lm_zpages_check(&r, &d), 0);
    /* one page fewer than the frame holds */
    r.count = 2;
    expect("ZPAGES naming 2 of 3 pages", lm_zpages_check(&r, &d), LM_BAD_RECORD, &d,
           "ZPAGES for pages [5, +2) do not inflate");
    /* one page more than the frame holds */
    r.count = 4;
    expect("ZPAGES naming 4 of 3 pages", lm_zpages_check(&r, &d), LM_BAD_RECORD, &d,
           "inflate to 12288 bytes, expected 16384");
    r.count = 3;
    r.body_len = zn - 1;
    expect("a cut frame", lm_zpages_check(&r, &d), LM_BAD_RECORD, &d, "do not inflate");
    r.body_len = zn;
    z[zn / 2] ^= 0x40; /* zstd's frames carry a checksum only if asked: any result will do
                        * but a crash or the wrong size */
    int rc = lm_zpages_check(&r, &d);
    assert_true(rc == 0 || rc == -LM_BAD_RECORD);
    z[zn / 2] ^= 0x40;
    memcpy(z, "LMZZ", 4); /* not a zstd frame */
    expect("not zstd", lm_zpages_check(&r, &d), LM_BAD_RECORD, &d, "do not inflate");
    r.type = LM_MIG_PAGES;
    expect("not ZPAGES", lm_zpages_check(&r, &d), LM_BAD_RECORD, &d, "not a ZPAGES record");
}

int main(void)
{
    static const struct CMUnitTest fixed[] = {
        cmocka_unit_test(test_zpages_check),
        cmocka_unit_test(test_hello_roundtrip),
        cmocka_unit_test(test_hello_refusals),
        cmocka_unit_test(test_rec_header_layout),
        cmocka_unit_test(test_rec_parse_accepts),
        cmocka_unit_test(test_context_roundtrip),
        cmocka_unit_test(test_context_refusals),
        cmocka_unit_test(test_totals_and_go_roundtrip),
        cmocka_unit_test(test_recv_valid_stream),
        cmocka_unit_test(test_recv_accepted_edges),
        cmocka_unit_test(test_keys_agree),
        cmocka_unit_test(test_keys_change),
        cmocka_unit_test(test_secretstream_end_to_end),
        cmocka_unit_test(test_secretstream_tampering),
    };
    enum { NF = sizeof fixed / sizeof fixed[0], NT = NF + N_BAD_RECS + N_BAD_STREAMS };
    struct CMUnitTest tests[NT];
    static char names[N_BAD_RECS + N_BAD_STREAMS][112];
    memcpy(tests, fixed, sizeof fixed);
    size_t k = NF;
    for (size_t i = 0; i < N_BAD_RECS; i++, k++) {
        snprintf(names[k - NF], sizeof names[0], "bad record: %s -> %s", bad_recs[i].name,
                 lm_status_name(bad_recs[i].want));
        tests[k] =
            (struct CMUnitTest){names[k - NF], test_bad_rec, NULL, NULL, (void *)&bad_recs[i]};
    }
    for (size_t i = 0; i < N_BAD_STREAMS; i++, k++) {
        snprintf(names[k - NF], sizeof names[0], "bad stream: %s -> %s", bad_streams[i].name,
                 lm_status_name(bad_streams[i].bad.want));
        tests[k] = (struct CMUnitTest){names[k - NF], test_bad_stream, NULL, NULL,
                                       (void *)&bad_streams[i]};
    }
    if (lm_crypto_init() != 0)
        return 1;
    return _cmocka_run_group_tests("migrate", tests, NT, NULL, NULL);
}
