/*
 * libFuzzer target: the loader's checks of a migration stream (lm_mig_recv_record) over a small
 * RAM, records as they come out of the secretstream (input layout in fixtures.h, FZ_MIG_*);
 * the hello and context decoders on the same records. The receiver is checked against a model
 * kept here: an accepted PAGES or ZERO lies inside RAM, READY comes only once every page is
 * covered and the totals agree, GO only after READY, and a refused record changes nothing.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/migrate.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t rec[LM_MIG_REC_MAX + 1];

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32;
}

static bool diag_ok(const struct lm_diag *d)
{
    return fz_diag_terminated(d) && d->msg[0] != '\0';
}

/* The hello and context decoders on a record's bytes: accepted means re-encoded alike. */
static void side_decoders(const uint8_t *b, size_t len)
{
    struct lm_mig_hello h;
    struct lm_diag d;
    memset(&d, 'x', sizeof d);
    int rc = lm_mig_hello_decode(b, len, &h, &d);
    if (rc == 0) {
        uint8_t out[LM_MIG_HELLO_SIZE];
        lm_mig_hello_encode(&h, out);
        if (len != LM_MIG_HELLO_SIZE || memcmp(out, b, len) != 0)
            abort();
    } else if ((rc != -LM_TRUNCATED && rc != -LM_TRAILING && rc != -LM_BAD_MAGIC &&
                rc != -LM_BAD_VERSION && rc != -LM_RESERVED_NONZERO) ||
               !diag_ok(&d)) {
        abort();
    }

    struct lm_mig_context c;
    memset(&d, 'x', sizeof d);
    rc = lm_mig_context_decode(b, len, &c, &d);
    if (rc == 0) {
        uint8_t out[LM_MIG_CONTEXT_SIZE];
        lm_mig_context_encode(&c, out);
        if (len != LM_MIG_CONTEXT_SIZE || memcmp(out, b, len) != 0 ||
            !(c.kernel_start <= c.resume_entry && c.resume_entry < c.kernel_end &&
              c.kernel_end <= c.mem_size))
            abort();
    } else if ((rc != -LM_BAD_RECORD && rc != -LM_RESERVED_NONZERO) || !diag_ok(&d)) {
        abort();
    }
}

/* lm_mig_rec_parse alone: what it accepts re-encodes to the same header and has exactly the
 * body its type and count fix. Returns its status. */
static int parse_alone(const uint8_t *b, size_t len, struct lm_diag *d)
{
    struct lm_mig_rec r;
    memset(d, 'x', sizeof *d);
    int rc = lm_mig_rec_parse(b, len, &r, d);
    if (rc != 0) {
        if ((rc != -LM_TRUNCATED && rc != -LM_TRAILING && rc != -LM_RESERVED_NONZERO &&
             rc != -LM_BAD_RECORD) ||
            !diag_ok(d))
            abort();
        return rc;
    }
    uint8_t hdr[LM_MIG_REC_HDR];
    lm_mig_rec_header(hdr, r.type, r.count, r.arg);
    if (len < LM_MIG_REC_HDR || memcmp(hdr, b, LM_MIG_REC_HDR) != 0 ||
        r.body != b + LM_MIG_REC_HDR || r.body_len != len - LM_MIG_REC_HDR)
        abort();
    size_t want;
    switch (r.type) {
    case LM_MIG_PAGES:
        if (r.count < 1 || r.count > LM_MIG_PAGES_MAX)
            abort();
        want = (size_t)r.count * LM_MIG_PAGE;
        break;
    case LM_MIG_ZPAGES:
        if (r.count < 1 || r.count > LM_MIG_PAGES_MAX || r.body_len < 1 ||
            r.body_len > (size_t)r.count * LM_MIG_PAGE)
            abort();
        want = r.body_len;
        break;
    case LM_MIG_ZERO:
        if (r.count < 1)
            abort();
        want = 0;
        break;
    case LM_MIG_ROUND:
        want = 0;
        break;
    case LM_MIG_CONTEXT:
        want = LM_MIG_CONTEXT_SIZE;
        break;
    case LM_MIG_GO:
        want = LM_MIG_GO_SIZE;
        break;
    case LM_MIG_END:
    case LM_MIG_READY:
    case LM_MIG_SAVED:
        want = LM_MIG_TOTALS_SIZE;
        break;
    case LM_MIG_ERROR:
        if (r.arg != 0 || r.body_len < 1 || r.body_len > LM_MIG_ERRMSG_MAX)
            abort();
        return 0;
    default:
        abort();
    }
    /* READY's count carries its flags (LM_MIG_READY_FLAGS); the others' is 0. */
    uint32_t count_ok = r.type == LM_MIG_READY ? LM_MIG_READY_FLAGS : 0;
    if (r.body_len != want || (r.type >= LM_MIG_CONTEXT && r.type != LM_MIG_ZPAGES &&
                               ((r.count & ~count_ok) != 0 || r.arg != 0)))
        abort();
    return 0;
}

/* What the receiver should hold, kept independently. */
struct model {
    uint64_t npages, covered, final_pages;
    struct lm_mig_totals got;
    int stage;
    bool have_ctx;
    uint32_t round;
};

static void same_state(const struct model *m, const struct lm_mig_recv *s, uint64_t covered)
{
    if (s->npages != m->npages || covered != m->covered || s->stage != m->stage ||
        s->have_ctx != m->have_ctx || s->round != m->round || s->final_pages != m->final_pages ||
        memcmp(&s->got, &m->got, sizeof m->got) != 0)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    struct model m;
    memset(&m, 0, sizeof m);
    m.npages = 1 + data[0] % FZ_MIG_MAX_PAGES;
    uint64_t mem = m.npages * LM_MIG_PAGE;
    uint64_t all = (1ull << m.npages) - 1; /* at most 16 pages: one word of the bitmap */
    uint64_t covered[1] = {0};
    struct lm_mig_recv s;
    lm_mig_recv_init(&s, mem, covered);
    same_state(&m, &s, covered[0]);

    size_t off = 1;
    while (off < size) {
        uint8_t op = data[off++];
        size_t len = 0;
        if (size - off >= 2) {
            len = (size_t)data[off] | (size_t)data[off + 1] << 8;
            off += 2;
        } else {
            off = size;
        }
        if (len > size - off)
            len = size - off;
        memcpy(rec, data + off, len);
        off += len;
        if ((op & FZ_MIG_GROW) && len >= LM_MIG_REC_HDR && rec[0] == LM_MIG_PAGES) {
            uint32_t count = get32(rec + 4);
            size_t want = LM_MIG_REC_HDR + (size_t)count * LM_MIG_PAGE;
            if (count >= 1 && count <= LM_MIG_PAGES_MAX && len < want) {
                memset(rec + len, 0xa5, want - len); /* the receiver never reads it */
                len = want;
            }
        }
        bool final = op & FZ_MIG_FINAL;
        side_decoders(rec, len);

        struct lm_diag pd, d;
        int prc = parse_alone(rec, len, &pd);
        struct lm_mig_rec r;
        memset(&d, 'x', sizeof d);
        int rc = lm_mig_recv_record(&s, rec, len, final, &r, &d);
        if (prc != 0) { /* a malformed record is refused for that, with the same words */
            if (rc != prc || strcmp(d.msg, pd.msg) != 0)
                abort();
        }
        if (rc < 0) {
            if (lm_status_name(rc) == NULL || !diag_ok(&d))
                abort();
            if (rc != -LM_BAD_RECORD && rc != -LM_TRUNCATED && rc != -LM_TRAILING &&
                rc != -LM_RESERVED_NONZERO && rc != -LM_PAGE_RANGE && rc != -LM_INCOMPLETE &&
                rc != -LM_MEM_MISMATCH)
                abort();
            same_state(&m, &s, covered[0]); /* a refused record changes nothing */
            continue;
        }
        if (m.stage == 2) /* nothing after GO */
            abort();
        uint64_t range;
        switch (rc) {
        case LM_MIG_ACT_PLACE:
        case LM_MIG_ACT_INFLATE:
        case LM_MIG_ACT_ZERO:
            if (m.stage != 0 ||
                r.type != (rc == LM_MIG_ACT_PLACE     ? LM_MIG_PAGES
                           : rc == LM_MIG_ACT_INFLATE ? LM_MIG_ZPAGES
                                                      : LM_MIG_ZERO) ||
                final || r.count < 1 || r.arg >= m.npages || r.count > m.npages - r.arg)
                abort();
            if (rc == LM_MIG_ACT_PLACE &&
                (r.arg == 0 || r.count > LM_MIG_PAGES_MAX ||
                 r.body_len != (size_t)r.count * LM_MIG_PAGE || r.body != rec + LM_MIG_REC_HDR))
                abort();
            if (rc == LM_MIG_ACT_INFLATE &&
                (r.arg == 0 || r.count > LM_MIG_PAGES_MAX || r.body_len < 1 ||
                 r.body_len > (size_t)r.count * LM_MIG_PAGE || r.body != rec + LM_MIG_REC_HDR))
                abort();
            if (rc == LM_MIG_ACT_INFLATE) { /* the host-side inflation: taken or BAD_RECORD */
                int zrc = lm_zpages_check(&r, NULL);
                if (zrc != 0 && zrc != -LM_BAD_RECORD)
                    abort();
            }
            range = ((1ull << r.count) - 1) << r.arg;
            m.covered |= range;
            if (rc != LM_MIG_ACT_ZERO)
                m.got.data_pages += r.count;
            else
                m.got.zero_pages += r.count;
            if (m.have_ctx)
                m.final_pages += r.count;
            m.got.records++;
            break;
        case LM_MIG_ACT_NONE:
            if (m.stage != 0 || final)
                abort();
            if (r.type == LM_MIG_ROUND) {
                if (r.arg < m.round || r.arg > UINT32_MAX)
                    abort();
                m.round = (uint32_t)r.arg;
            } else if (r.type == LM_MIG_CONTEXT) {
                struct lm_mig_context c;
                if (m.have_ctx || lm_mig_context_decode(r.body, r.body_len, &c, NULL) != 0 ||
                    memcmp(&c, &s.ctx, sizeof c) != 0 || c.mem_size != mem)
                    abort();
                m.have_ctx = true;
            } else {
                abort();
            }
            m.got.records++;
            break;
        case LM_MIG_ACT_READY: {
            /* Every page covered, a context, and the sender's totals are ours. */
            struct lm_mig_totals t;
            if (m.stage != 0 || r.type != LM_MIG_END || final || !m.have_ctx || m.covered != all ||
                r.body_len != LM_MIG_TOTALS_SIZE)
                abort();
            lm_mig_totals_decode(r.body, &t);
            if (t.data_pages != m.got.data_pages || t.zero_pages != m.got.zero_pages ||
                t.records != m.got.records || get64(r.body + 16) != m.got.records)
                abort();
            m.stage = 1;
            break;
        }
        case LM_MIG_ACT_GO:
            if (m.stage != 1 || r.type != LM_MIG_GO || !final || r.body_len != LM_MIG_GO_SIZE)
                abort();
            m.stage = 2;
            break;
        default:
            abort();
        }
        same_state(&m, &s, covered[0]);
    }
    return 0;
}
