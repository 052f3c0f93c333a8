/* Unit tests of checkpoint files: the header, the owner's file key, sealing and opening. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/ckptfile.h"
#include "laundromat/hash.h"
#include "laundromat/migrate.h"
#include "laundromat/payload.h"
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

#define NPAGES 64
#define MEM (NPAGES * 4096ull)
#define CREATED 1795315700ull
#define PREFIX 24
static const uint8_t IP[4] = {10, 0, 0, 42};

static void owner_seed(uint8_t seed[32])
{
    fill(seed, 32, 0x4f);
}

/* ---- the header --------------------------------------------------------------------------- */

static void good_header(struct lm_ckpt_header *h)
{
    memset(h, 0, sizeof *h);
    h->mem_size = MEM;
    h->created = CREATED;
    memcpy(h->ipv4, IP, 4);
    h->prefix = PREFIX;
    fill(h->salt, sizeof h->salt, 0x10);
    fill(h->key_check, sizeof h->key_check, 0x20);
    fill(h->ss_header, sizeof h->ss_header, 0x30);
}

/* Field by field: the struct has padding, which decode leaves alone. */
static void same_header(const struct lm_ckpt_header *a, const struct lm_ckpt_header *b)
{
    assert_int_equal(a->mem_size, b->mem_size);
    assert_int_equal(a->created, b->created);
    assert_memory_equal(a->ipv4, b->ipv4, 4);
    assert_int_equal(a->prefix, b->prefix);
    assert_memory_equal(a->salt, b->salt, sizeof a->salt);
    assert_memory_equal(a->key_check, b->key_check, sizeof a->key_check);
    assert_memory_equal(a->ss_header, b->ss_header, sizeof a->ss_header);
}

static void test_header_roundtrip(void **state)
{
    (void)state;
    struct lm_ckpt_header h, g;
    good_header(&h);
    uint8_t b[LM_CKPT_HEADER_SIZE + 1];
    memset(b, 0xee, sizeof b);
    lm_ckpt_header_encode(&h, b);
    assert_int_equal(b[LM_CKPT_HEADER_SIZE], 0xee); /* nothing past the header */
    assert_memory_equal(b, "LMCK\x01\x00\x00\x00", 8);
    assert_int_equal(lm_get64(b + 8), MEM);
    assert_int_equal(lm_get64(b + 16), CREATED);
    assert_memory_equal(b + 24, IP, 4);
    assert_int_equal(b[28], PREFIX);
    assert_true(lm_all_zero(b + 29, 3));
    assert_memory_equal(b + 32, h.salt, 16);
    assert_memory_equal(b + 48, h.key_check, 32);
    assert_true(lm_all_zero(b + 80, 8));
    assert_memory_equal(b + 88, h.ss_header, 24);
    assert_int_equal(LM_CKPT_AD_SIZE, 88);
    assert_int_equal(LM_CKPT_HEADER_SIZE, 88 + LM_MIG_SS_HEADER_BYTES);

    memset(&g, 0x55, sizeof g);
    assert_int_equal(lm_ckpt_header_decode(b, LM_CKPT_HEADER_SIZE, &g, NULL), 0);
    same_header(&g, &h);
    /* A whole file: the header is its first bytes. */
    memset(&g, 0x55, sizeof g);
    assert_int_equal(lm_ckpt_header_decode(b, sizeof b, &g, NULL), 0);
    same_header(&g, &h);

    /* Edges that must pass: one page, LM_CHECKPOINT_MAX, prefixes 0 and 32. */
    static const struct {
        uint64_t mem;
        uint8_t prefix;
    } ok[] = {{4096, 0}, {LM_CHECKPOINT_MAX, 32}, {LM_CHECKPOINT_MAX - 4096, 8}};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        good_header(&h);
        h.mem_size = ok[i].mem;
        h.prefix = ok[i].prefix;
        lm_ckpt_header_encode(&h, b);
        memset(&g, 0x55, sizeof g);
        assert_int_equal(lm_ckpt_header_decode(b, LM_CKPT_HEADER_SIZE, &g, NULL), 0);
        same_header(&g, &h);
    }
}

static void test_header_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        size_t len;
        int off, value; /* the byte at off set to value (off -1: none) */
        int set_mem;    /* mem_size set to mem */
        uint64_t mem;
        int want;
        const char *msg;
    } bad[] = {
        {"empty", 0, -1, 0, 0, 0, LM_TRUNCATED,
         "checkpoint file: 0 bytes, its header alone is 112"},
        {"one byte short", 111, -1, 0, 0, 0, LM_TRUNCATED, "111 bytes, its header alone is 112"},
        {"the migration magic", 112, 2, 'M', 0, 0, LM_BAD_MAGIC,
         "not a checkpoint file: magic 4c4d4d4b, expected \"LMCK\""},
        {"last magic byte", 112, 3, 'L', 0, 0, LM_BAD_MAGIC, "magic 4c4d434c"},
        {"version 0", 112, 4, 0, 0, 0, LM_BAD_VERSION,
         "checkpoint file version 0; this lmctl reads version 1"},
        {"version 2", 112, 4, 2, 0, 0, LM_BAD_VERSION,
         "checkpoint file version 2; this lmctl reads version 1"},
        {"version 257", 112, 5, 1, 0, 0, LM_BAD_VERSION, "version 257"},
        {"flags low bit", 112, 6, 1, 0, 0, LM_BAD_FLAGS,
         "checkpoint file: flags 0x0001, none defined"},
        {"flags high bit", 112, 7, 0x80, 0, 0, LM_BAD_FLAGS, "flags 0x8000"},
        {"reserved byte 29", 112, 29, 1, 0, 0, LM_RESERVED_NONZERO,
         "checkpoint file: reserved header bytes are not zero"},
        {"reserved byte 30", 112, 30, 0x40, 0, 0, LM_RESERVED_NONZERO, "reserved header bytes"},
        {"reserved byte 31", 112, 31, 0x80, 0, 0, LM_RESERVED_NONZERO, "reserved header bytes"},
        {"reserved byte 80", 112, 80, 1, 0, 0, LM_RESERVED_NONZERO, "reserved header bytes"},
        {"reserved byte 84", 112, 84, 0x10, 0, 0, LM_RESERVED_NONZERO, "reserved header bytes"},
        {"reserved byte 87", 112, 87, 0xff, 0, 0, LM_RESERVED_NONZERO, "reserved header bytes"},
        {"no RAM", 112, -1, 0, 1, 0, LM_BAD_RECORD,
         "checkpoint file: 0 bytes of RAM, expected a multiple of 4096 up to 1879048192"},
        {"RAM 4095", 112, -1, 0, 1, 4095, LM_BAD_RECORD, "4095 bytes of RAM, expected a multiple"},
        {"RAM 4097", 112, -1, 0, 1, 4097, LM_BAD_RECORD, "4097 bytes of RAM"},
        {"RAM half a page more", 112, -1, 0, 1, MEM + 2048, LM_BAD_RECORD, "264192 bytes of RAM"},
        {"RAM a page above the maximum", 112, -1, 0, 1, LM_CHECKPOINT_MAX + 4096, LM_BAD_RECORD,
         "1879052288 bytes of RAM"},
        {"RAM 2^63", 112, -1, 0, 1, 1ull << 63, LM_BAD_RECORD, "9223372036854775808 bytes"},
        {"RAM 2^64-4096", 112, -1, 0, 1, UINT64_MAX - 4095, LM_BAD_RECORD,
         "18446744073709547520 bytes of RAM"},
        {"prefix 33", 112, 28, 33, 0, 0, LM_BAD_NETID, "checkpoint file: prefix length 33"},
        {"prefix 255", 112, 28, 255, 0, 0, LM_BAD_NETID, "prefix length 255"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct lm_ckpt_header h, g;
        good_header(&h);
        uint8_t b[LM_CKPT_HEADER_SIZE];
        lm_ckpt_header_encode(&h, b);
        if (bad[i].off >= 0)
            b[bad[i].off] = (uint8_t)bad[i].value;
        if (bad[i].set_mem)
            lm_put64(b + 8, bad[i].mem);
        struct lm_diag d = {""};
        expect(bad[i].name, lm_ckpt_header_decode(b, bad[i].len, &g, &d), bad[i].want, &d,
               bad[i].msg);
        /* The reader refuses it alike, before any key is derived. */
        struct lm_ckpt_reader r;
        uint8_t seed[32];
        owner_seed(seed);
        memset(&d, 0, sizeof d);
        expect(bad[i].name, lm_ckpt_reader_open(&r, b, bad[i].len, seed, &d), bad[i].want, &d,
               bad[i].msg);
        assert_null(r.covered);
        lm_ckpt_reader_free(&r);
    }
}

/* ---- the file key ------------------------------------------------------------------------- */

static void test_key_derivation(void **state)
{
    (void)state;
    uint8_t seed[32], salt[LM_CKPT_SALT_BYTES], key[32], check[32];
    owner_seed(seed);
    fill(salt, sizeof salt, 0x5a);
    assert_int_equal(lm_ckpt_key(seed, salt, key, check), 0);

    /* Spelled out: K = BLAKE2b-256(key = seed, "laundromat/checkpoint/v1" || salt), the check
     * BLAKE2b-256(key = K, "laundromat/checkpoint/v1" || "check"). */
    uint8_t in[24 + 16], k[32], c[32];
    assert_int_equal(strlen(LM_DOMAIN_CHECKPOINT), 24);
    memcpy(in, "laundromat/checkpoint/v1", 24);
    memcpy(in + 24, salt, 16);
    assert_int_equal(crypto_generichash(k, 32, in, sizeof in, seed, 32), 0);
    assert_memory_equal(key, k, 32);
    memcpy(in + 24, "check", 5);
    assert_int_equal(crypto_generichash(c, 32, in, 24 + 5, k, 32), 0);
    assert_memory_equal(check, c, 32);
    assert_memory_not_equal(key, check, 32);

    /* Another salt or another seed: another key and another check. */
    uint8_t k2[32], c2[32];
    salt[15] ^= 1;
    assert_int_equal(lm_ckpt_key(seed, salt, k2, c2), 0);
    assert_memory_not_equal(k2, key, 32);
    assert_memory_not_equal(c2, check, 32);
    salt[15] ^= 1;
    seed[0] ^= 0x80;
    assert_int_equal(lm_ckpt_key(seed, salt, k2, c2), 0);
    assert_memory_not_equal(k2, key, 32);
    assert_memory_not_equal(c2, check, 32);
}

/* ---- files -------------------------------------------------------------------------------- */

/* The records of a valid checkpoint of 64 pages: round 0, pages 1 and 2 with their contents,
 * page 0 and pages 3..63 as zero, the context, END (2 data pages, 62 zero pages, 5 records). */
enum { R_ROUND, R_PAGES, R_ZERO0, R_ZERO_REST, R_CTX, R_END, NREC };
#define NREC_MAX (NREC + 2)
#define PMAX (LM_MIG_REC_HDR + 2 * LM_MIG_PAGE)
#define FILE_MAX (LM_CKPT_HEADER_SIZE + NREC_MAX * (4 + PMAX + LM_MIG_SS_ABYTES))

struct recs {
    uint8_t p[NREC_MAX][PMAX];
    size_t len[NREC_MAX];
    bool final[NREC_MAX];
    int n;
};

struct ckfile {
    uint8_t b[FILE_MAX];
    size_t len;
    size_t at[NREC_MAX + 1]; /* where each frame starts; at[n] = len */
    int n;
};

static struct lm_mig_context good_ctx(void)
{
    return (struct lm_mig_context){.mem_size = MEM,
                                   .kernel_start = 0x1000,
                                   .kernel_end = 0x8000,
                                   .resume_entry = 0x2345,
                                   .clock_ns = 0x0102030405060708ull,
                                   .wall_ns = CREATED * 1000000000ull};
}

/* Record i of rs: a header and body_len bytes of body (copied from body unless NULL). */
static void set_rec(struct recs *rs, int i, uint8_t type, uint32_t count, uint64_t arg,
                    const uint8_t *body, size_t body_len)
{
    assert_true(i < NREC_MAX && LM_MIG_REC_HDR + body_len <= PMAX);
    lm_mig_rec_header(rs->p[i], type, count, arg);
    if (body_len)
        memcpy(rs->p[i] + LM_MIG_REC_HDR, body, body_len);
    rs->len[i] = LM_MIG_REC_HDR + body_len;
    rs->final[i] = false;
}

static void set_end(struct recs *rs, int i, uint64_t data, uint64_t zero, uint64_t records)
{
    struct lm_mig_totals t = {data, zero, records};
    uint8_t b[LM_MIG_TOTALS_SIZE];
    lm_mig_totals_encode(&t, b);
    set_rec(rs, i, LM_MIG_END, 0, 0, b, sizeof b);
}

static void valid_recs(struct recs *rs)
{
    static uint8_t pages[2 * LM_MIG_PAGE];
    fill(pages, sizeof pages, 0xa7);
    memcpy(pages, "page one", 8);
    memcpy(pages + LM_MIG_PAGE, "page two", 8);
    uint8_t ctx[LM_MIG_CONTEXT_SIZE];
    struct lm_mig_context c = good_ctx();
    lm_mig_context_encode(&c, ctx);
    memset(rs, 0, sizeof *rs);
    set_rec(rs, R_ROUND, LM_MIG_ROUND, NPAGES, 0, NULL, 0);
    set_rec(rs, R_PAGES, LM_MIG_PAGES, 2, 1, pages, sizeof pages);
    set_rec(rs, R_ZERO0, LM_MIG_ZERO, 1, 0, NULL, 0);
    set_rec(rs, R_ZERO_REST, LM_MIG_ZERO, NPAGES - 3, 3, NULL, 0);
    set_rec(rs, R_CTX, LM_MIG_CONTEXT, 0, 0, ctx, sizeof ctx);
    set_end(rs, R_END, 2, NPAGES - 2, 5);
    rs->final[R_END] = true;
    rs->n = NREC;
}

/* Seals rs for the owner of seed into f, as lmctl checkpoint writes a file. */
static void seal_file(const struct recs *rs, const uint8_t seed[32], struct ckfile *f)
{
    struct lm_ckpt_writer w;
    memset(f, 0, sizeof *f);
    assert_int_equal(lm_ckpt_writer_init(&w, seed, MEM, CREATED, IP, PREFIX, f->b), 0);
    assert_memory_equal(w.ad, f->b, LM_CKPT_AD_SIZE);
    size_t off = LM_CKPT_HEADER_SIZE;
    for (int i = 0; i < rs->n; i++) {
        f->at[i] = off;
        size_t n = lm_ckpt_seal(&w, rs->p[i], rs->len[i], rs->final[i], f->b + off);
        assert_int_equal(n, 4 + rs->len[i] + LM_MIG_SS_ABYTES);
        assert_int_equal(lm_get32(f->b + off), rs->len[i] + LM_MIG_SS_ABYTES);
        off += n;
        assert_true(off <= sizeof f->b);
    }
    f->n = rs->n;
    f->at[rs->n] = off;
    f->len = off;
}

/* What reading a file came to: where it stopped, with what, after how many records. */
enum where { AT_END_OF_FILE, AT_DECODE, AT_OPEN, AT_FRAME, AT_NEXT };
struct outcome {
    enum where where;
    int rc; /* 0 or -status */
    int taken;
    bool done;
    struct lm_diag d;
};

static uint8_t plain[LM_MIG_REC_MAX];

/* Reads a file as lmctl restore does: the header, then frames (length u32, at most
 * LM_MIG_FRAME_MAX bytes and no more than the file holds) to the file's end. With want, every
 * record taken must be want's, byte for byte. */
static void read_file(const uint8_t *b, size_t len, const uint8_t seed[32], const struct recs *want,
                      struct outcome *o)
{
    memset(o, 0, sizeof *o);
    struct lm_ckpt_header h;
    o->rc = lm_ckpt_header_decode(b, len, &h, &o->d);
    if (o->rc) {
        o->where = AT_DECODE;
        return;
    }
    struct lm_ckpt_reader r;
    o->rc = lm_ckpt_reader_open(&r, b, len, seed, &o->d);
    if (o->rc) {
        o->where = AT_OPEN;
        assert_null(r.covered);
        return;
    }
    same_header(&r.h, &h);
    assert_false(r.done);
    size_t off = LM_CKPT_HEADER_SIZE;
    while (off < len) {
        uint32_t clen = len - off >= 4 ? lm_get32(b + off) : 0;
        if (len - off < 4 || clen > LM_MIG_FRAME_MAX || clen > len - off - 4) {
            o->where = AT_FRAME;
            o->rc = -LM_TRUNCATED;
            snprintf(o->d.msg, sizeof o->d.msg, "frame at byte %zu: %u bytes", off, clen);
            break;
        }
        size_t plen = 0;
        struct lm_mig_rec rec;
        memset(plain, 0x55, sizeof plain);
        o->rc = lm_ckpt_next(&r, b + off + 4, clen, plain, &plen, &rec, &o->d);
        if (o->rc) {
            o->where = AT_NEXT;
            break;
        }
        if (want) {
            assert_true(o->taken < want->n);
            assert_int_equal(plen, want->len[o->taken]);
            assert_memory_equal(plain, want->p[o->taken], plen);
            assert_int_equal(rec.type, plain[0]);
            assert_int_equal(rec.count, lm_get32(plain + 4));
            assert_int_equal(rec.arg, lm_get64(plain + 8));
            assert_ptr_equal(rec.body, plain + LM_MIG_REC_HDR);
            assert_int_equal(rec.body_len, plen - LM_MIG_REC_HDR);
        }
        o->taken++;
        off += 4 + clen;
    }
    o->done = r.done;
    lm_ckpt_reader_free(&r);
    assert_null(r.covered);
}

static struct ckfile file, other;
static struct recs recs;

static void expect_outcome(const char *what, const struct outcome *o, enum where where, int want,
                           int taken, const char *msg)
{
    if (o->where != where || o->taken != taken || o->done)
        fail_msg("%s: stopped at %d after %d records (done %d): %s; expected %d after %d", what,
                 o->where, o->taken, o->done, o->d.msg, where, taken);
    expect(what, o->rc, want, &o->d, msg);
}

static void test_file_roundtrip(void **state)
{
    (void)state;
    uint8_t seed[32];
    owner_seed(seed);
    valid_recs(&recs);
    seal_file(&recs, seed, &file);

    /* The header: the layout, the key check of the owner's key under the file's salt. */
    struct lm_ckpt_header h;
    assert_int_equal(lm_ckpt_header_decode(file.b, file.len, &h, NULL), 0);
    assert_int_equal(h.mem_size, MEM);
    assert_int_equal(h.created, CREATED);
    assert_memory_equal(h.ipv4, IP, 4);
    assert_int_equal(h.prefix, PREFIX);
    uint8_t key[32], check[32];
    assert_int_equal(lm_ckpt_key(seed, h.salt, key, check), 0);
    assert_memory_equal(h.key_check, check, 32);
    /* Nothing of the records in the clear. */
    assert_null(memmem(file.b, file.len, "page one", 8));

    /* Every record back as sealed, END last, done. */
    struct lm_ckpt_reader r;
    struct lm_diag d = {""};
    assert_int_equal(lm_ckpt_reader_open(&r, file.b, LM_CKPT_HEADER_SIZE, seed, &d), 0);
    assert_int_equal(r.rs.npages, NPAGES);
    assert_non_null(r.covered);
    for (int i = 0; i < NREC; i++) {
        size_t plen = 0;
        struct lm_mig_rec rec;
        assert_false(r.done);
        int rc = lm_ckpt_next(&r, file.b + file.at[i] + 4, lm_get32(file.b + file.at[i]), plain,
                              &plen, &rec, &d);
        if (rc != 0)
            fail_msg("record %d: %s", i, d.msg);
        assert_int_equal(plen, recs.len[i]);
        assert_memory_equal(plain, recs.p[i], plen);
        assert_int_equal(rec.type, recs.p[i][0]);
        assert_ptr_equal(rec.body, plain + LM_MIG_REC_HDR);
        if (i == R_PAGES) {
            assert_int_equal(rec.count, 2);
            assert_int_equal(rec.arg, 1);
            assert_memory_equal(rec.body, "page one", 8);
            assert_memory_equal(rec.body + LM_MIG_PAGE, "page two", 8);
        }
        if (i == R_CTX) {
            struct lm_mig_context c = good_ctx();
            assert_true(r.rs.have_ctx);
            assert_memory_equal(&r.rs.ctx, &c, sizeof c);
        }
    }
    assert_true(r.done);
    assert_int_equal(r.rs.got.data_pages, 2);
    assert_int_equal(r.rs.got.zero_pages, NPAGES - 2);
    assert_int_equal(r.rs.got.records, 5);
    assert_int_equal(r.covered[0], UINT64_MAX);

    /* After END: anything is trailing, even END again. */
    size_t plen = 0;
    struct lm_mig_rec rec;
    memset(&d, 0, sizeof d);
    expect("after END",
           lm_ckpt_next(&r, file.b + file.at[R_END] + 4, lm_get32(file.b + file.at[R_END]), plain,
                        &plen, &rec, &d),
           LM_TRAILING, &d, "checkpoint file: data after its END record");
    memset(&d, 0, sizeof d);
    expect("after END", lm_ckpt_next(&r, file.b, 1, plain, &plen, &rec, &d), LM_TRAILING, &d,
           "after its END record");
    assert_true(r.done);
    lm_ckpt_reader_free(&r);
    assert_null(r.covered);
    lm_ckpt_reader_free(&r); /* twice is harmless */

    /* The same through read_file, the plaintexts compared. */
    struct outcome o;
    read_file(file.b, file.len, seed, &recs, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.taken, NREC);
    assert_true(o.done);

    /* A second file of the same records: a fresh salt, key and stream; it reads alike. */
    seal_file(&recs, seed, &other);
    assert_int_equal(other.len, file.len);
    assert_memory_equal(other.b, file.b, 32); /* magic .. prefix, reserved */
    assert_memory_not_equal(other.b + 32, file.b + 32, 16);
    assert_memory_not_equal(other.b + 48, file.b + 48, 32);
    assert_memory_not_equal(other.b + 88, file.b + 88, 24);
    assert_memory_not_equal(other.b + file.at[0], file.b + file.at[0], 4 + 33);
    read_file(other.b, other.len, seed, &recs, &o);
    assert_int_equal(o.rc, 0);
    assert_true(o.done);
}

static void test_file_wrong_owner(void **state)
{
    (void)state;
    uint8_t seed[32], wrong[32];
    owner_seed(seed);
    valid_recs(&recs);
    seal_file(&recs, seed, &file);
    struct outcome o;
    for (int i = 0; i < 3; i++) {
        memcpy(wrong, seed, 32);
        if (i == 0)
            wrong[0] ^= 1;
        else if (i == 1)
            wrong[31] ^= 0x80;
        else
            memset(wrong, 0, 32);
        read_file(file.b, file.len, wrong, NULL, &o);
        expect_outcome("another owner", &o, AT_OPEN, LM_CKPT_KEY, 0,
                       "checkpoint file sealed for another owner key");
    }
    /* Its salt or its key check changed: the owner's key no longer checks either. */
    file.b[32] ^= 1;
    read_file(file.b, file.len, seed, NULL, &o);
    expect_outcome("salt changed", &o, AT_OPEN, LM_CKPT_KEY, 0, "another owner key");
    file.b[32] ^= 1;
    file.b[79] ^= 0x40;
    read_file(file.b, file.len, seed, NULL, &o);
    expect_outcome("key check changed", &o, AT_OPEN, LM_CKPT_KEY, 0, "another owner key");
    file.b[79] ^= 0x40;
    read_file(file.b, file.len, seed, &recs, &o);
    assert_true(o.rc == 0 && o.done);
}

/* What flipping the header byte at pos by mask must give. */
static void header_flip_expect(size_t pos, uint8_t mask, const struct outcome *o)
{
    char what[64];
    snprintf(what, sizeof what, "header byte %zu ^ 0x%02x", pos, mask);
    if (pos < 4) {
        expect_outcome(what, o, AT_DECODE, LM_BAD_MAGIC, 0, "magic");
    } else if (pos < 6) {
        expect_outcome(what, o, AT_DECODE, LM_BAD_VERSION, 0, "version");
    } else if (pos < 8) {
        expect_outcome(what, o, AT_DECODE, LM_BAD_FLAGS, 0, "flags");
    } else if (pos < 16) {
        uint64_t mem = MEM ^ (uint64_t)mask << 8 * (pos - 8);
        if (mem == 0 || mem % 4096 || mem > LM_CHECKPOINT_MAX)
            expect_outcome(what, o, AT_DECODE, LM_BAD_RECORD, 0, "bytes of RAM");
        else /* a RAM size it could have, but not the one sealed */
            expect_outcome(what, o, AT_NEXT, LM_STREAM_AUTH, 0, "its header or first record");
    } else if (pos == 28 && (PREFIX ^ mask) > 32) {
        expect_outcome(what, o, AT_DECODE, LM_BAD_NETID, 0, "prefix length");
    } else if ((pos >= 29 && pos < 32) || (pos >= 80 && pos < 88)) {
        expect_outcome(what, o, AT_DECODE, LM_RESERVED_NONZERO, 0, "reserved");
    } else if (pos >= 32 && pos < 80) {
        expect_outcome(what, o, AT_OPEN, LM_CKPT_KEY, 0, "another owner key");
    } else { /* created, address, prefix, the secretstream header */
        expect_outcome(what, o, AT_NEXT, LM_STREAM_AUTH, 0, "its header or first record");
    }
}

/* Any byte of the file changed: reading stops, never with END taken; in the header as its
 * field says, in a frame at that frame with the records before it taken. */
static void test_file_every_byte(void **state)
{
    (void)state;
    uint8_t seed[32];
    owner_seed(seed);
    valid_recs(&recs);
    seal_file(&recs, seed, &file);
    static const uint8_t masks[] = {0x01, 0x80, 0xff, 0x10};
    struct outcome o;
    unsigned tried = 0;
    for (size_t pos = 0; pos < file.len; pos++) {
        int k = -1; /* the frame holding pos */
        for (int i = 0; i < file.n; i++)
            if (pos >= file.at[i] && pos < file.at[i + 1])
                k = i;
        /* The header and the first and last frames with each mask; every byte once. */
        bool all = k <= 0 || k == file.n - 1 || pos < file.at[k] + 4;
        for (size_t m = 0; m < (all ? sizeof masks : 1); m++) {
            file.b[pos] ^= masks[m];
            read_file(file.b, file.len, seed, NULL, &o);
            file.b[pos] ^= masks[m];
            tried++;
            if (o.rc == 0 || o.done)
                fail_msg("byte %zu ^ 0x%02x: read to the end (done %d)", pos, masks[m], o.done);
            if (k < 0) {
                header_flip_expect(pos, masks[m], &o);
                continue;
            }
            char what[64];
            snprintf(what, sizeof what, "byte %zu ^ 0x%02x (frame %d)", pos, masks[m], k);
            if (pos >= file.at[k] + 4) { /* the ciphertext */
                expect_outcome(what, &o, AT_NEXT, LM_STREAM_AUTH, k,
                               k ? "was changed, reordered or replaced" : "first record");
                continue;
            }
            /* The length: past the file or LM_MIG_FRAME_MAX, below a record, or a ciphertext
             * cut short or run into the next frame. */
            uint32_t clen = lm_get32(file.b + file.at[k]) ^ (uint32_t)masks[m]
                                                                << 8 * (pos - file.at[k]);
            if (clen > LM_MIG_FRAME_MAX || clen > file.len - file.at[k] - 4)
                expect_outcome(what, &o, AT_FRAME, LM_TRUNCATED, k, "frame");
            else if (clen < LM_MIG_SS_ABYTES + LM_MIG_REC_HDR)
                expect_outcome(what, &o, AT_NEXT, LM_BAD_RECORD, k, "expected 33 to 65569");
            else
                expect_outcome(what, &o, AT_NEXT, LM_STREAM_AUTH, k, "authentication failed");
        }
    }
    /* Every byte once; the header, the first and last frames and the lengths with each mask. */
    size_t each = LM_CKPT_HEADER_SIZE + (file.at[1] - file.at[0]) +
                  (file.at[file.n] - file.at[file.n - 1]) + 4 * (size_t)(file.n - 2);
    assert_int_equal(tried, file.len + (sizeof masks - 1) * each);
    read_file(file.b, file.len, seed, &recs, &o);
    assert_true(o.rc == 0 && o.done);
}

static void test_file_truncated(void **state)
{
    (void)state;
    uint8_t seed[32];
    owner_seed(seed);
    valid_recs(&recs);
    seal_file(&recs, seed, &file);
    struct outcome o;

    /* The last frame dropped: every record there is fine, but END never comes. */
    read_file(file.b, file.at[R_END], seed, &recs, &o);
    assert_int_equal(o.rc, 0);
    assert_int_equal(o.where, AT_END_OF_FILE);
    assert_int_equal(o.taken, NREC - 1);
    assert_false(o.done);
    /* So at every frame boundary, the header alone included. */
    for (int k = 0; k < NREC; k++) {
        read_file(file.b, file.at[k], seed, &recs, &o);
        assert_int_equal(o.rc, 0);
        assert_int_equal(o.taken, k);
        assert_false(o.done);
    }
    /* Cut inside a frame: the walker sees it short (or the ciphertext fails). */
    static const size_t cuts[] = {1, 3, 4, 5, 20};
    for (size_t i = 0; i < sizeof cuts / sizeof cuts[0]; i++) {
        read_file(file.b, file.at[R_END] + cuts[i], seed, &recs, &o);
        expect_outcome("cut in END", &o, AT_FRAME, LM_TRUNCATED, NREC - 1, "frame");
        read_file(file.b, file.len - cuts[i], seed, &recs, &o);
        expect_outcome("END cut short", &o, AT_FRAME, LM_TRUNCATED, NREC - 1, "frame");
    }
    /* The header cut. */
    read_file(file.b, LM_CKPT_HEADER_SIZE - 1, seed, NULL, &o);
    expect_outcome("header cut", &o, AT_DECODE, LM_TRUNCATED, 0, "111 bytes");

    /* END sealed, then one record more (a sealed copy of END): trailing. */
    memcpy(recs.p[NREC], recs.p[R_END], recs.len[R_END]);
    recs.len[NREC] = recs.len[R_END];
    recs.final[NREC] = true;
    recs.n = NREC + 1;
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, NULL, &o);
    assert_int_equal(o.where, AT_NEXT);
    expect("sealed record after END", o.rc, LM_TRAILING, &o.d, "data after its END record");
    assert_int_equal(o.taken, NREC);
    assert_true(o.done);
}

/* The final tag on END alone: on any other record, or missing from END, the file is refused. */
static void test_file_final_tag(void **state)
{
    (void)state;
    uint8_t seed[32];
    owner_seed(seed);
    struct outcome o;
    char what[64];
    for (int i = 0; i < R_END; i++) {
        valid_recs(&recs);
        recs.final[i] = true;
        seal_file(&recs, seed, &file);
        read_file(file.b, file.len, seed, &recs, &o);
        snprintf(what, sizeof what, "the final tag on record %d", i);
        char msg[96];
        snprintf(msg, sizeof msg, "record %d (type %u) carries the final tag, which belongs to END",
                 i, recs.p[i][0]);
        expect_outcome(what, &o, AT_NEXT, LM_BAD_RECORD, i, msg);
    }
    valid_recs(&recs);
    recs.final[R_END] = false;
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("END without the final tag", &o, AT_NEXT, LM_BAD_RECORD, R_END,
                   "checkpoint file: END (record 5) without the final tag");

    /* GO has no place in a file, tagged or not; nor has the loader's READY. */
    static const uint8_t go[LM_MIG_GO_SIZE] = {1};
    valid_recs(&recs);
    set_rec(&recs, R_END, LM_MIG_GO, 0, 0, go, sizeof go);
    recs.final[R_END] = true;
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("GO tagged", &o, AT_NEXT, LM_BAD_RECORD, R_END,
                   "record 5 (type 6) carries the final tag");
    recs.final[R_END] = false;
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("GO untagged", &o, AT_NEXT, LM_BAD_RECORD, R_END,
                   "record 5 (type 6): the final tag belongs to GO alone");
    valid_recs(&recs);
    recs.p[R_END][0] = LM_MIG_READY;
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("READY tagged", &o, AT_NEXT, LM_BAD_RECORD, R_END,
                   "record 5 (type 129) carries the final tag");
}

/* The records are the loader's to check, as from a guest. */
static void test_file_loader_checks(void **state)
{
    (void)state;
    uint8_t seed[32];
    owner_seed(seed);
    struct outcome o;
    struct lm_mig_context c = good_ctx();
    uint8_t ctx[LM_MIG_CONTEXT_SIZE];

    /* A context for other RAM than the header says. */
    valid_recs(&recs);
    c.mem_size = 2 * MEM;
    c.kernel_end = 0x8000;
    lm_mig_context_encode(&c, ctx);
    set_rec(&recs, R_CTX, LM_MIG_CONTEXT, 0, 0, ctx, sizeof ctx);
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("context for 128 pages", &o, AT_NEXT, LM_MEM_MISMATCH, R_CTX,
                   "context: 524288 bytes of RAM, this VM has 262144");

    /* Page 63 never sent. */
    valid_recs(&recs);
    set_rec(&recs, R_ZERO_REST, LM_MIG_ZERO, NPAGES - 4, 3, NULL, 0);
    set_end(&recs, R_END, 2, NPAGES - 3, 5);
    recs.final[R_END] = true;
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("page 63 missing", &o, AT_NEXT, LM_INCOMPLETE, R_END,
                   "END with 1 pages never sent (the first: 63)");

    /* Totals that disagree. */
    valid_recs(&recs);
    set_end(&recs, R_END, 2, NPAGES - 2, 6);
    recs.final[R_END] = true;
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("END counts 6 records", &o, AT_NEXT, LM_INCOMPLETE, R_END,
                   "END counts 2 data pages, 62 zero pages, 6 records; received 2, 62, 5");

    /* Pages past RAM, page 0 with contents. */
    valid_recs(&recs);
    set_rec(&recs, R_ZERO_REST, LM_MIG_ZERO, NPAGES - 2, 3, NULL, 0);
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("pages past RAM", &o, AT_NEXT, LM_PAGE_RANGE, R_ZERO_REST,
                   "pages [3, +62) outside 64 pages of RAM");
    valid_recs(&recs);
    lm_mig_rec_header(recs.p[R_PAGES], LM_MIG_PAGES, 2, 0);
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("page 0", &o, AT_NEXT, LM_PAGE_RANGE, R_PAGES, "page 0 is the monitor's");

    /* A record that does not parse. */
    valid_recs(&recs);
    recs.len[R_PAGES] -= 1;
    seal_file(&recs, seed, &file);
    read_file(file.b, file.len, seed, &recs, &o);
    expect_outcome("PAGES one byte short", &o, AT_NEXT, LM_TRUNCATED, R_PAGES,
                   "body of 8191 bytes, expected 8192");

    /* Ciphertexts too short to hold a record, or longer than a frame: refused unopened, and
     * the stream goes on with the genuine frame. */
    valid_recs(&recs);
    seal_file(&recs, seed, &file);
    struct lm_ckpt_reader r;
    struct lm_diag d = {""};
    size_t plen;
    struct lm_mig_rec rec;
    assert_int_equal(lm_ckpt_reader_open(&r, file.b, file.len, seed, &d), 0);
    expect("32 bytes", lm_ckpt_next(&r, file.b + file.at[0] + 4, 32, plain, &plen, &rec, &d),
           LM_BAD_RECORD, &d, "checkpoint file: record 0 is 32 bytes, expected 33 to 65569");
    expect("a frame too long",
           lm_ckpt_next(&r, file.b + file.at[0] + 4, LM_MIG_FRAME_MAX + 1, plain, &plen, &rec, &d),
           LM_BAD_RECORD, &d, "record 0 is 65570 bytes");
    assert_int_equal(lm_ckpt_next(&r, file.b + file.at[0] + 4, lm_get32(file.b + file.at[0]), plain,
                                  &plen, &rec, &d),
                     0);
    assert_int_equal(rec.type, LM_MIG_ROUND);
    lm_ckpt_reader_free(&r);
}

/* Frames in another order, or one left out: authentication fails where the order breaks. */
static void test_file_reordered(void **state)
{
    (void)state;
    uint8_t seed[32];
    owner_seed(seed);
    valid_recs(&recs);
    seal_file(&recs, seed, &file);
    struct outcome o;
    static const struct {
        int a, b;
    } swaps[] = {{0, 1}, {1, 2}, {2, 3}, {3, 4}, {4, 5}, {0, 5}, {1, 4}};
    for (size_t s = 0; s < sizeof swaps / sizeof swaps[0]; s++) {
        /* The frames, a and b swapped, into other. */
        memcpy(other.b, file.b, LM_CKPT_HEADER_SIZE);
        size_t off = LM_CKPT_HEADER_SIZE;
        for (int i = 0; i < file.n; i++) {
            int j = i == swaps[s].a ? swaps[s].b : i == swaps[s].b ? swaps[s].a : i;
            size_t n = file.at[j + 1] - file.at[j];
            memcpy(other.b + off, file.b + file.at[j], n);
            off += n;
        }
        assert_int_equal(off, file.len);
        read_file(other.b, off, seed, NULL, &o);
        char what[48];
        snprintf(what, sizeof what, "frames %d and %d swapped", swaps[s].a, swaps[s].b);
        expect_outcome(what, &o, AT_NEXT, LM_STREAM_AUTH, swaps[s].a,
                       swaps[s].a ? "was changed, reordered or replaced" : "first record");
    }
    /* A frame dropped; a frame repeated. */
    for (int k = 0; k < NREC - 1; k++) {
        size_t n = file.at[k + 1] - file.at[k];
        memcpy(other.b, file.b, file.at[k]);
        memcpy(other.b + file.at[k], file.b + file.at[k + 1], file.len - file.at[k + 1]);
        read_file(other.b, file.len - n, seed, NULL, &o);
        expect_outcome("a frame dropped", &o, AT_NEXT, LM_STREAM_AUTH, k, "authentication failed");
        memcpy(other.b, file.b, file.at[k + 1]);
        memcpy(other.b + file.at[k + 1], file.b + file.at[k], file.len - file.at[k]);
        read_file(other.b, file.len + n, seed, NULL, &o);
        expect_outcome("a frame repeated", &o, AT_NEXT, LM_STREAM_AUTH, k + 1,
                       "was changed, reordered or replaced");
    }
    /* The frames of another file of the same owner, under this header. */
    seal_file(&recs, seed, &other);
    memcpy(other.b, file.b, LM_CKPT_HEADER_SIZE);
    read_file(other.b, other.len, seed, NULL, &o);
    expect_outcome("another file's frames", &o, AT_NEXT, LM_STREAM_AUTH, 0, "first record");
}

int main(void)
{
    static const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_header_roundtrip),   cmocka_unit_test(test_header_refusals),
        cmocka_unit_test(test_key_derivation),     cmocka_unit_test(test_file_roundtrip),
        cmocka_unit_test(test_file_wrong_owner),   cmocka_unit_test(test_file_every_byte),
        cmocka_unit_test(test_file_truncated),     cmocka_unit_test(test_file_final_tag),
        cmocka_unit_test(test_file_loader_checks), cmocka_unit_test(test_file_reordered),
    };
    if (lm_crypto_init() != 0)
        return 1;
    return cmocka_run_group_tests_name("ckptfile", tests, NULL, NULL);
}
