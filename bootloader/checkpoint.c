/*
 * The checkpoint payload: a migrating guest streams its memory here (migrate.h). The hello
 * names the migration key M, which must be the token's commitment; the session keys come from
 * X25519 with this VM's own loader key (boot info, from the host). Every record is checked
 * (authenticated and in order by the secretstream, its layout by lm_mig_rec_parse, its pages
 * against RAM) and placed straight into RAM: nothing is staged, so the guest's size is not
 * limited by the loader's block. On END, with every page of RAM accounted for and the totals
 * agreeing, the loader answers READY and waits, paused, for GO; on GO it hands the VM to the
 * guest's resume entry with a fresh boot info for this host. Anything wrong ends this VM, and
 * only this VM, with a sealed ERROR to the sender (who then carries on where it is).
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* static contexts: ZSTD_initStaticDCtx */
#include <zstd.h>

#include "laundromat/migrate.h"
#include "lwip/priv/tcp_priv.h" /* tcp_ack_now */
#include "loader.h"

enum cp_stage { CP_HELLO, CP_FRAMES, CP_READY, CP_GO, CP_DONE };

struct checkpoint {
    enum cp_stage stage;
    uint8_t hello[LM_MIG_HELLO_SIZE + LM_MIG_SS_HEADER_BYTES];
    size_t hello_len;
    crypto_secretstream_xchacha20poly1305_state rx, tx;
    bool keyed;
    uint8_t *frame, *plain; /* one frame in, one record out */
    size_t frame_len, frame_want; /* bytes held; 0 want: reading the length */
    uint64_t npages;
    uint64_t *covered, *touched; /* bitmaps over RAM: sent at all; written by us */
    struct lm_mig_recv rs; /* the checks (lib/migstream.c) */
    ZSTD_DCtx *dctx;       /* ZPAGES: a static context in the loader block */
    struct lm_mig_go go;
    uint64_t bytes;
    bool resolving; /* paused after READY, the sender gone: waiting for a resolver's GO */
    bool drop;      /* the resolver's connection failed a check: drop it outside lwIP */
};

static struct checkpoint cp_state;

#define BIT_TEST(bm, i) ((bm)[(i) / 64] >> ((i) % 64) & 1)
#define BIT_SET(bm, i) ((bm)[(i) / 64] |= 1ull << ((i) % 64))
#define LOW_PAGES 256 /* the monitor wrote the low 1 MiB (boot info, tables): not zero */

static __attribute__((noreturn, format(printf, 3, 4))) void
cp_fail(struct loader *l, int status, const char *fmt, ...)
{
    char msg[200];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    loader_fail(l, EXIT_CHECKPOINT, lm_status_name(status) ? lm_status_name(status) : "CHECKPOINT", "%s", msg);
}

/* Writes all of it, waiting for lwIP as long as the sender is there. */
static bool cp_write(struct loader *l, const uint8_t *p, size_t n)
{
    uint64_t start = clock_ns();
    while (n > 0 && l->pcb && clock_ns() - start < 5000000000ull) {
        size_t k = n < tcp_sndbuf(l->pcb) ? n : tcp_sndbuf(l->pcb);
        if (k > 0xffff)
            k = 0xffff;
        if (k > 0 && tcp_write(l->pcb, p, (u16_t)k, TCP_WRITE_FLAG_COPY) == ERR_OK) {
            p += k;
            n -= k;
            tcp_output(l->pcb);
            continue;
        }
        net_flush_tx(); /* maybe inside lwIP's callback: flush, never net_poll */
        platform_poll(1000000ull);
    }
    if (l->pcb)
        tcp_output(l->pcb);
    net_flush_tx();
    return n == 0;
}

static bool seal_send(struct loader *l, uint8_t type, uint32_t count, const void *body,
                      size_t len)
{
    struct checkpoint *c = l->cp;
    uint8_t plain[LM_MIG_REC_HDR + LM_MIG_ERRMSG_MAX];
    uint8_t out[4 + sizeof plain + LM_MIG_SS_ABYTES];
    if (len > LM_MIG_ERRMSG_MAX)
        len = LM_MIG_ERRMSG_MAX;
    lm_mig_rec_header(plain, type, count, 0);
    memcpy(plain + LM_MIG_REC_HDR, body, len);
    unsigned long long clen;
    crypto_secretstream_xchacha20poly1305_push(&c->tx, out + 4, &clen, plain, LM_MIG_REC_HDR + len, NULL, 0, 0);
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(clen >> (8 * i));
    return cp_write(l, out, 4 + (size_t)clen);
}

bool checkpoint_refuse(struct loader *l, const char *name, const char *msg)
{
    struct checkpoint *c = l->cp;
    if (!c || !c->keyed)
        return false; /* no keys yet: the plain "ERR" line */
    char text[LM_MIG_ERRMSG_MAX];
    int n = snprintf(text, sizeof text, "%s %s", name, msg);
    int status = LM_BAD_RECORD;
    for (int s = 1; s < 128; s++)
        if (lm_status_name(s) && strcmp(lm_status_name(s), name) == 0)
            status = s;
    seal_send(l, LM_MIG_ERROR, (uint32_t)status, text, n < (int)sizeof text ? (size_t)n : sizeof text - 1);
    /* We are inside lwIP's input processing for this connection, where tcp_output sends
     * nothing (it waits for the end of input): this VM ends now, so say it first. */
    tcp_input_pcb = NULL;
    tcp_output(l->pcb);
    net_flush_tx();
    return true;
}

void checkpoint_begin(struct loader *l)
{
    struct checkpoint *c = &cp_state;
    memset(c, 0, sizeof *c);
    l->cp = c;
    if (l->h.length != boot_info->mem_size)
        cp_fail(l, LM_MEM_MISMATCH, "the guest has %llu bytes of RAM, this VM %llu: buy a token of the same shape", (unsigned long long)l->h.length, (unsigned long long)boot_info->mem_size);
    if (sodium_is_zero(boot_info->loader_key, 32))
        cp_fail(l, LM_WRONG_MIG_KEY, "this VM has no loader key: the host did not start it for a checkpoint");
    c->npages = boot_info->mem_size / PAGE_SIZE;
    size_t bm = PAGE_ROUND_UP((c->npages + 63) / 64 * 8) / PAGE_SIZE;
    c->covered = page_alloc(bm);
    c->touched = page_alloc(bm);
    c->frame = page_alloc(PAGE_ROUND_UP(LM_MIG_FRAME_MAX) / PAGE_SIZE);
    c->plain = page_alloc(PAGE_ROUND_UP(LM_MIG_FRAME_MAX) / PAGE_SIZE);
    size_t dsize = ZSTD_estimateDCtxSize();
    void *dmem = page_alloc(PAGE_ROUND_UP(dsize) / PAGE_SIZE);
    c->dctx = dmem ? ZSTD_initStaticDCtx(dmem, PAGE_ROUND_UP(dsize)) : NULL;
    if (!c->covered || !c->touched || !c->frame || !c->plain || !c->dctx)
        cp_fail(l, LM_NOMEM, "no room in the loader block for the bitmaps of %llu pages and a zstd context", (unsigned long long)c->npages);
    for (uint64_t p = 0; p < LOW_PAGES && p < c->npages; p++)
        BIT_SET(c->touched, p);
    lm_mig_recv_init(&c->rs, boot_info->mem_size, c->covered);
    printf("loader: receiving a checkpoint of %llu MiB\n", (unsigned long long)(boot_info->mem_size >> 20));
}

/* Keys from a checked hello (its M is the token's), then our answer: "LMML" and our
 * secretstream header. NULL, or why not (*status set). */
static const char *hello_keys(struct loader *l, const struct lm_mig_hello *h, int *status)
{
    struct checkpoint *c = l->cp;
    uint8_t lpub[32], kgl[32], klg[32], answer[4 + LM_MIG_SS_HEADER_BYTES];
    const char *why = NULL;
    crypto_scalarmult_curve25519_base(lpub, boot_info->loader_key);
    if (lm_mig_keys(boot_info->loader_key, h->mig_pub, h->mig_pub, lpub, h->nonce, kgl, klg) != 0)
        *status = LM_WRONG_MIG_KEY, why = "X25519 with the sender's migration key failed";
    else if (crypto_secretstream_xchacha20poly1305_init_pull(&c->rx, c->hello + LM_MIG_HELLO_SIZE, kgl) != 0)
        *status = LM_STREAM_AUTH, why = "bad secretstream header";
    if (!why) {
        memcpy(answer, LM_MIG_ANSWER_MAGIC, 4);
        crypto_secretstream_xchacha20poly1305_init_push(&c->tx, answer + 4, klg);
        if (!cp_write(l, answer, sizeof answer))
            *status = LM_MIG_LINK, why = "could not answer the hello";
    }
    sodium_memzero(kgl, sizeof kgl);
    sodium_memzero(klg, sizeof klg);
    return why;
}

static void hello_done(struct loader *l)
{
    struct checkpoint *c = l->cp;
    struct lm_mig_hello h;
    struct lm_diag d;
    int rc = lm_mig_hello_decode(c->hello, LM_MIG_HELLO_SIZE, &h, &d);
    if (rc)
        cp_fail(l, -rc, "%s", d.msg);
    if (sodium_memcmp(h.mig_pub, boot_info->commitment, 32) != 0)
        cp_fail(l, LM_WRONG_MIG_KEY, "the sender's migration key %02x%02x%02x%02x... is not the one the token commits to (%02x%02x%02x%02x...)", h.mig_pub[0], h.mig_pub[1], h.mig_pub[2], h.mig_pub[3], boot_info->commitment[0], boot_info->commitment[1], boot_info->commitment[2], boot_info->commitment[3]);
    int status;
    const char *why = hello_keys(l, &h, &status);
    if (why)
        cp_fail(l, status, "%s", why);
    c->keyed = true;
    c->stage = CP_FRAMES;
}

static __attribute__((noreturn)) void resume(struct loader *l)
{
    struct checkpoint *c = l->cp;
    /* Our GO's ACK on its way before this loader (and its lwIP) is gone. */
    if (l->pcb) {
        tcp_ack_now(l->pcb);
        tcp_output(l->pcb);
    }
    net_flush_tx();
    struct lm_boot_info *bi = (struct lm_boot_info *)(uintptr_t)LM_BOOTINFO_GPA;
    memset(bi, 0, sizeof *bi);
    bi->magic = LM_BOOTINFO_MAGIC;
    bi->abi_version = LM_ABI_VERSION;
    bi->mem_size = boot_info->mem_size;
    bi->kernel_start = c->rs.ctx.kernel_start;
    bi->kernel_end = c->rs.ctx.kernel_end;
    bi->clock.wall_ns = platform_wall_ns();
    memcpy(bi->commitment, boot_info->commitment, 32);
    bi->resume = (struct lm_boot_resume){
        .bytes = c->bytes, .data_pages = c->rs.got.data_pages, .zero_pages = c->rs.got.zero_pages,
        .final_pages = c->rs.final_pages, .fw_in = c->go.fw_in, .fw_out = c->go.fw_out,
        .cow_faults = c->go.cow_faults, .cow_ticks = c->go.cow_ticks,
    };
    bi->resume_flags = l->new_identity ? LM_RESUME_NEW_IDENTITY : 0;
    printf("loader: GO: resuming the guest at 0x%llx (%llu data pages, %llu zero pages, %llu records)\n", (unsigned long long)c->rs.ctx.resume_entry, (unsigned long long)c->rs.got.data_pages, (unsigned long long)c->rs.got.zero_pages, (unsigned long long)c->rs.got.records);
    c->stage = CP_DONE;
    platform_exec(c->rs.ctx.resume_entry);
}

static void record(struct loader *l, const uint8_t *b, size_t len, unsigned char tag)
{
    struct checkpoint *c = l->cp;
    struct lm_mig_rec r;
    struct lm_diag d;
    int act = lm_mig_recv_record(&c->rs, b, len, tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL, &r, &d);
    if (act < 0)
        cp_fail(l, -act, "%s", d.msg);
    switch (act) {
    case LM_MIG_ACT_PLACE:
        for (uint64_t i = 0; i < r.count; i++) {
            memcpy((uint8_t *)(uintptr_t)((r.arg + i) * PAGE_SIZE), r.body + i * PAGE_SIZE, PAGE_SIZE);
            BIT_SET(c->touched, r.arg + i);
        }
        break;
    case LM_MIG_ACT_INFLATE: {
        /* Straight into place: the pages are consecutive in RAM. Anything but exactly count
         * pages out ends this VM (whatever was written is its own memory, never ours). */
        size_t want = (size_t)r.count * PAGE_SIZE;
        size_t got = ZSTD_decompressDCtx(c->dctx, (void *)(uintptr_t)(r.arg * PAGE_SIZE), want, r.body, r.body_len);
        if (ZSTD_isError(got))
            cp_fail(l, LM_BAD_RECORD, "record %llu: ZPAGES for pages [%llu, +%u) do not inflate: %s", (unsigned long long)c->rs.got.records - 1, (unsigned long long)r.arg, r.count, ZSTD_getErrorName(got));
        if (got != want)
            cp_fail(l, LM_BAD_RECORD, "record %llu: ZPAGES for pages [%llu, +%u) inflate to %zu bytes, expected %zu", (unsigned long long)c->rs.got.records - 1, (unsigned long long)r.arg, r.count, got, want);
        for (uint64_t i = 0; i < r.count; i++)
            BIT_SET(c->touched, r.arg + i);
        break;
    }
    case LM_MIG_ACT_ZERO:
        for (uint64_t i = 0; i < r.count; i++) /* RAM is zero until written: only rewrites */
            if (r.arg + i != 0 && BIT_TEST(c->touched, r.arg + i))
                memset((uint8_t *)(uintptr_t)((r.arg + i) * PAGE_SIZE), 0, PAGE_SIZE);
        break;
    case LM_MIG_ACT_READY: {
        uint8_t body[LM_MIG_TOTALS_SIZE];
        lm_mig_totals_encode(&c->rs.got, body);
        c->stage = CP_READY;
        printf("loader: checkpoint complete and checked (%llu data pages, %llu zero pages, %llu records): READY, paused until GO\n", (unsigned long long)c->rs.got.data_pages, (unsigned long long)c->rs.got.zero_pages, (unsigned long long)c->rs.got.records);
        if (!seal_send(l, LM_MIG_READY, l->new_identity ? LM_MIG_READY_NEW_IDENTITY : 0, body, sizeof body))
            checkpoint_lost(l, "could not send READY");
        break;
    }
    case LM_MIG_ACT_GO:
        /* Not from here: inside lwIP's input processing, tcp_output would not send GO's ACK
         * (lwIP defers it to the end of input), so checkpoint_poll hands over. */
        lm_mig_go_decode(r.body, &c->go);
        c->stage = CP_GO;
        break;
    default:
        if (r.type == LM_MIG_CONTEXT) { /* the sender's snapshot: its final phase has begun */
            static const char *const names[] = {"our monitor (KVM backend)", "PVH (libvirt backend)"};
            if (c->rs.ctx.platform != platform_mig_id) /* decode took only 0 and 1 */
                cp_fail(l, LM_BAD_RECORD, "the guest's kernel is built for %s, this VM is %s: move it to a host of the same backend", names[c->rs.ctx.platform & 1], names[platform_mig_id & 1]);
            printf("loader: the sender's context: its final phase\n");
        }
        break;
    }
}

static void resolve_reject(struct loader *l, const char *why)
{
    struct checkpoint *c = l->cp;
    printf("loader: a resolver's connection refused: %s; still paused, holding the checkpoint\n", why);
    c->drop = true;
}

/* A resolver: hello, then one frame, which must be GO with the final tag. Its own checks,
 * none fatal: a stranger must not be able to destroy the paused image. */
static void resolve_take(struct loader *l, const uint8_t *p, size_t n)
{
    struct checkpoint *c = l->cp;
    while (n > 0 && !c->drop && c->stage != CP_GO) {
        if (c->stage == CP_HELLO) {
            size_t k = sizeof c->hello - c->hello_len < n ? sizeof c->hello - c->hello_len : n;
            memcpy(c->hello + c->hello_len, p, k);
            c->hello_len += k, p += k, n -= k;
            if (c->hello_len < sizeof c->hello)
                continue;
            struct lm_mig_hello h;
            int status;
            if (lm_mig_hello_decode(c->hello, LM_MIG_HELLO_SIZE, &h, NULL) != 0 ||
                sodium_memcmp(h.mig_pub, boot_info->commitment, 32) != 0)
                return resolve_reject(l, "its hello does not name the token's migration key");
            const char *why = hello_keys(l, &h, &status);
            if (why)
                return resolve_reject(l, why);
            c->stage = CP_FRAMES;
            continue;
        }
        size_t want = c->frame_want ? c->frame_want : 4;
        size_t k = want - c->frame_len < n ? want - c->frame_len : n;
        memcpy(c->frame + c->frame_len, p, k);
        c->frame_len += k, p += k, n -= k;
        if (c->frame_len < want)
            continue;
        if (!c->frame_want) {
            uint32_t clen = (uint32_t)c->frame[0] | (uint32_t)c->frame[1] << 8 | (uint32_t)c->frame[2] << 16 | (uint32_t)c->frame[3] << 24;
            if (clen != LM_MIG_SS_ABYTES + LM_MIG_REC_HDR + LM_MIG_GO_SIZE)
                return resolve_reject(l, "its frame is not the size of a GO");
            c->frame_want = clen;
            c->frame_len = 0;
            continue;
        }
        unsigned long long plen;
        unsigned char tag;
        struct lm_mig_rec r;
        if (crypto_secretstream_xchacha20poly1305_pull(&c->rx, c->plain, &plen, &tag, c->frame, c->frame_len, NULL, 0) != 0)
            return resolve_reject(l, "its frame failed authentication (not the holder of the migration key)");
        if (lm_mig_rec_parse(c->plain, (size_t)plen, &r, NULL) != 0 || r.type != LM_MIG_GO ||
            tag != crypto_secretstream_xchacha20poly1305_TAG_FINAL)
            return resolve_reject(l, "its record is not GO with the final tag");
        lm_mig_go_decode(r.body, &c->go);
        printf("loader: GO from a resolver holding the migration key\n");
        c->stage = CP_GO; /* checkpoint_poll hands over, outside lwIP's input processing */
    }
}

bool checkpoint_resolving(const struct loader *l)
{
    return l->cp && l->cp->resolving;
}

void checkpoint_take(struct loader *l, const uint8_t *p, size_t n)
{
    struct checkpoint *c = l->cp;
    if (c->resolving) {
        resolve_take(l, p, n);
        return;
    }
    c->bytes += n;
    while (n > 0) {
        if (c->stage == CP_HELLO) {
            size_t k = sizeof c->hello - c->hello_len < n ? sizeof c->hello - c->hello_len : n;
            memcpy(c->hello + c->hello_len, p, k);
            c->hello_len += k;
            p += k;
            n -= k;
            if (c->hello_len == sizeof c->hello)
                hello_done(l);
            continue;
        }
        if (c->stage >= CP_GO)
            return; /* nothing counts after GO */
        size_t want = c->frame_want ? c->frame_want : 4;
        size_t k = want - c->frame_len < n ? want - c->frame_len : n;
        memcpy(c->frame + c->frame_len, p, k);
        c->frame_len += k;
        p += k;
        n -= k;
        if (c->frame_len < want)
            continue;
        if (!c->frame_want) {
            uint32_t clen = (uint32_t)c->frame[0] | (uint32_t)c->frame[1] << 8 | (uint32_t)c->frame[2] << 16 | (uint32_t)c->frame[3] << 24;
            if (clen < LM_MIG_SS_ABYTES + LM_MIG_REC_HDR || clen > LM_MIG_FRAME_MAX)
                cp_fail(l, LM_BAD_RECORD, "record %llu: frame of %u bytes, expected %d to %u", (unsigned long long)c->rs.got.records, clen, LM_MIG_SS_ABYTES + LM_MIG_REC_HDR, LM_MIG_FRAME_MAX);
            c->frame_want = clen;
            c->frame_len = 0;
            continue;
        }
        unsigned long long plen;
        unsigned char tag;
        if (crypto_secretstream_xchacha20poly1305_pull(&c->rx, c->plain, &plen, &tag, c->frame, c->frame_len, NULL, 0) != 0)
            cp_fail(l, LM_STREAM_AUTH, "record %llu failed authentication (tampered, reordered, replayed or another key)", (unsigned long long)c->rs.got.records);
        c->frame_want = c->frame_len = 0;
        record(l, c->plain, (size_t)plen, tag);
    }
}

/* Ready for the next resolver: a fresh handshake on a fresh connection. */
static void resolve_reset(struct loader *l)
{
    struct checkpoint *c = l->cp;
    c->resolving = true;
    c->drop = false;
    c->stage = CP_HELLO;
    c->hello_len = c->frame_len = c->frame_want = 0;
    l->peer_fin = false; /* the listener never closed: the next resolver finds it */
}

void checkpoint_lost(struct loader *l, const char *why)
{
    struct checkpoint *c = l->cp;
    if (c && c->stage == CP_GO) { /* GO came, then the FIN: checkpoint_poll hands over */
        if (l->pcb) {
            tcp_arg(l->pcb, NULL);
            tcp_recv(l->pcb, NULL);
            tcp_err(l->pcb, NULL);
        }
        l->pcb = NULL;
        return;
    }
    if (c && (c->stage == CP_READY || c->resolving)) {
        if (l->pcb) { /* the peer closed its side: close ours */
            tcp_arg(l->pcb, NULL);
            tcp_recv(l->pcb, NULL);
            tcp_err(l->pcb, NULL);
            if (tcp_close(l->pcb) != ERR_OK)
                tcp_abort(l->pcb);
        }
        if (!c->resolving)
            printf("loader: %s after READY: paused with a complete checkpoint; waiting for GO from a resolver holding the migration key (lmctl migrate --resolve)\n", why);
        l->pcb = NULL;
        resolve_reset(l);
        return;
    }
    l->pcb = NULL;
    loader_fail(l, EXIT_TRUNCATED, "TRUNCATED", "%s after %llu checkpoint records", why, (unsigned long long)(c ? c->rs.got.records : 0));
}

bool checkpoint_poll(struct loader *l)
{
    struct checkpoint *c = l->cp;
    if (c && c->stage == CP_GO)
        resume(l); /* GO's ACK went out at the end of input processing */
    if (c && c->drop && l->pcb) { /* a failed resolver: drop it, wait for the next */
        struct tcp_pcb *pcb = l->pcb;
        tcp_arg(pcb, NULL);
        tcp_recv(pcb, NULL);
        tcp_err(pcb, NULL);
        tcp_abort(pcb);
        l->pcb = NULL;
        resolve_reset(l);
    }
    /* paused: no idle timeout while we hold the image */
    return c && (c->stage == CP_READY || c->resolving);
}
