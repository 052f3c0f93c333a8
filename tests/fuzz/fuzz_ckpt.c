/*
 * libFuzzer target: a checkpoint file (ckptfile.h) as lmctl restore reads it, opened with the
 * fixtures' owner seed (fz_owner_seed): the header, the key check, then frames (length u32
 * little-endian, then that many bytes of ciphertext) through lm_ckpt_next until one fails, the
 * input ends or END is taken. Seeds (mkseeds) are files sealed with the same seed, so the
 * fuzzer starts past authentication. Checked: every refusal has a known status and a message;
 * an accepted header re-encodes to the same bytes; an accepted record is what its frame held;
 * done comes with END alone, with every page covered and the totals agreed; after it, only
 * LM_TRAILING.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/ckptfile.h"
#include "laundromat/hash.h"
#include "laundromat/migrate.h"
#include "laundromat/payload.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_CKPT_MAX_MEM (64ull << 20) /* larger RAM sizes: the header alone is fuzzed */

static uint8_t plain[LM_MIG_REC_MAX];

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static bool diag_ok(const struct lm_diag *d)
{
    return fz_diag_terminated(d) && d->msg[0] != '\0';
}

static bool same_header(const struct lm_ckpt_header *a, const struct lm_ckpt_header *b)
{
    return a->mem_size == b->mem_size && a->created == b->created &&
           memcmp(a->ipv4, b->ipv4, 4) == 0 && a->prefix == b->prefix &&
           memcmp(a->salt, b->salt, sizeof a->salt) == 0 &&
           memcmp(a->key_check, b->key_check, sizeof a->key_check) == 0 &&
           memcmp(a->ss_header, b->ss_header, sizeof a->ss_header) == 0;
}

/* The header alone: refused with a layout status, or accepted and re-encoded alike. */
static int header(const uint8_t *data, size_t size, struct lm_ckpt_header *h)
{
    struct lm_diag d;
    memset(&d, 'x', sizeof d);
    int rc = lm_ckpt_header_decode(data, size, h, &d);
    if (rc != 0) {
        if ((rc != -LM_TRUNCATED && rc != -LM_BAD_MAGIC && rc != -LM_BAD_VERSION &&
             rc != -LM_BAD_FLAGS && rc != -LM_RESERVED_NONZERO && rc != -LM_BAD_RECORD &&
             rc != -LM_BAD_NETID) ||
            !diag_ok(&d) || (rc == -LM_TRUNCATED) != (size < LM_CKPT_HEADER_SIZE))
            abort();
        return rc;
    }
    uint8_t out[LM_CKPT_HEADER_SIZE];
    lm_ckpt_header_encode(h, out);
    if (size < LM_CKPT_HEADER_SIZE || memcmp(out, data, LM_CKPT_HEADER_SIZE) != 0 ||
        h->mem_size == 0 || h->mem_size % LM_MIG_PAGE != 0 || h->mem_size > LM_CHECKPOINT_MAX ||
        h->prefix > 32)
        abort();
    return 0;
}

/* After END: every page covered, the totals those of the records before it. */
static void check_done(const struct lm_ckpt_reader *r, const struct lm_mig_rec *rec)
{
    if (rec->type != LM_MIG_END || rec->body_len != LM_MIG_TOTALS_SIZE || r->rs.stage != 1 ||
        !r->rs.have_ctx || r->rs.ctx.mem_size != r->h.mem_size)
        abort();
    for (uint64_t p = 0; p < r->rs.npages; p++)
        if (!(r->covered[p / 64] >> (p % 64) & 1))
            abort();
    struct lm_mig_totals t;
    lm_mig_totals_decode(rec->body, &t);
    if (memcmp(&t, &r->rs.got, sizeof t) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t seed[32];
    static bool ready;
    if (!ready) {
        if (lm_crypto_init() != 0)
            abort();
        fz_owner_seed(seed);
        ready = true;
    }
    struct lm_ckpt_header h;
    if (header(data, size, &h) != 0 || h.mem_size > FZ_CKPT_MAX_MEM)
        return 0;

    struct lm_ckpt_reader r;
    struct lm_diag d;
    memset(&d, 'x', sizeof d);
    int rc = lm_ckpt_reader_open(&r, data, size, seed, &d);
    if (rc != 0) {
        /* The layout passed above: only the key check (or the library) can refuse it. */
        if ((rc != -LM_CKPT_KEY && rc != -LM_STREAM_AUTH && rc != -LM_NOMEM && rc != -LM_CRYPTO) ||
            !diag_ok(&d) || r.covered != NULL)
            abort();
        lm_ckpt_reader_free(&r);
        return 0;
    }
    if (!same_header(&r.h, &h) || r.done || r.covered == NULL ||
        r.rs.npages * LM_MIG_PAGE != h.mem_size)
        abort();

    size_t off = LM_CKPT_HEADER_SIZE;
    while (off < size && size - off >= 4) {
        uint32_t clen = get32(data + off);
        if (clen > LM_MIG_FRAME_MAX || clen > size - off - 4)
            break; /* the file's framing is the reader's: lmctl restore stops here */
        /* The ciphertext in a buffer of its own size, so that ASan sees any read past it. */
        uint8_t *cipher = malloc(clen ? clen : 1);
        if (!cipher)
            abort();
        memcpy(cipher, data + off + 4, clen);
        bool was_done = r.done;
        uint64_t records = r.rs.got.records;
        size_t plen = 0;
        struct lm_mig_rec rec;
        memset(&d, 'x', sizeof d);
        rc = lm_ckpt_next(&r, cipher, clen, plain, &plen, &rec, &d);
        free(cipher);
        if (rc != 0) {
            if (!diag_ok(&d) || lm_status_name(rc) == NULL)
                abort();
            if (was_done ? rc != -LM_TRAILING
                         : (rc != -LM_BAD_RECORD && rc != -LM_STREAM_AUTH && rc != -LM_TRUNCATED &&
                            rc != -LM_TRAILING && rc != -LM_RESERVED_NONZERO &&
                            rc != -LM_PAGE_RANGE && rc != -LM_INCOMPLETE && rc != -LM_MEM_MISMATCH))
                abort();
            break;
        }
        /* Taken: the whole plaintext, one record of a guest's stream, END alone ending it. */
        if (was_done || plen != (size_t)clen - LM_MIG_SS_ABYTES || plen < LM_MIG_REC_HDR ||
            rec.type != plain[0] || rec.body != plain + LM_MIG_REC_HDR ||
            rec.body_len != plen - LM_MIG_REC_HDR)
            abort();
        switch (rec.type) {
        case LM_MIG_PAGES:
        case LM_MIG_ZPAGES:
        case LM_MIG_ZERO:
            if (rec.arg >= r.rs.npages || rec.count > r.rs.npages - rec.arg ||
                (rec.type != LM_MIG_ZERO && rec.arg == 0))
                abort();
            /* a ZPAGES record taken inflated to exactly its pages */
            if (rec.type == LM_MIG_ZPAGES && lm_zpages_check(&rec, NULL) != 0)
                abort();
            /* fall through */
        case LM_MIG_ROUND:
        case LM_MIG_CONTEXT:
            if (r.done || r.rs.got.records != records + 1)
                abort();
            break;
        case LM_MIG_END:
            if (!r.done || r.rs.got.records != records)
                abort();
            check_done(&r, &rec);
            break;
        default:
            abort();
        }
        off += 4 + (size_t)clen;
    }
    lm_ckpt_reader_free(&r);
    if (r.covered != NULL)
        abort();
    return 0;
}
