/*
 * The migration connection: our own lwIP TCP to the destination loader. The hello in the
 * clear, then records sealed one per secretstream message (migrate.h); the loader's READY or
 * ERROR back. A sealed frame that lwIP cannot take yet waits whole in the region's buffer:
 * the secretstream has already counted it, so it must go out exactly as sealed.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#define ZSTD_STATIC_LINKING_ONLY /* static contexts: ZSTD_initStaticCCtx */
#include <zstd.h>
#include <zstd_errors.h>

#include "laundromat/payload.h"
#include "laundromat/util.h"
#include "lwip/priv/tcp_priv.h" /* tcp_abandon: drop a connection without a word */
#include "mig.h"

#define STALL_NS (10ull * 1000000000ull) /* sent data unacknowledged this long: a dead link */

static size_t pending; /* bytes of the sealed frame in r->frame not yet taken by lwIP */

static void lost(int status, const char *what)
{
    mig.pcb = NULL;
    if (mig.go_sent)
        return; /* the child owns the future; the parent is done either way */
    mig_fail(status, "%s", what);
}

static void take_record(const uint8_t *plain, size_t len)
{
    struct lm_mig_rec rec;
    struct lm_diag d;
    if (lm_mig_rec_parse(plain, len, &rec, &d) != 0) {
        mig_fail(LM_BAD_RECORD, "from the loader: %s", d.msg);
        return;
    }
    if (rec.type == LM_MIG_ERROR) {
        char msg[LM_MIG_ERRMSG_MAX + 1];
        memcpy(msg, rec.body, rec.body_len);
        msg[rec.body_len] = '\0';
        mig_fail((int)rec.count, "the loader refused: %s", msg);
    } else if (rec.type == LM_MIG_READY && mig.end_sent && !mig.ready) {
        mig.ready = true;
        mig.readdress = rec.count & LM_MIG_READY_NEW_IDENTITY;
    } else if (rec.type == LM_MIG_SAVED && mig.end_sent && !mig.ready) {
        mig_saved(); /* a recorder kept the stream: no GO, this copy carries on */
    } else {
        mig_fail(LM_BAD_RECORD, "from the loader: record type %u out of place", rec.type);
    }
}

/* The loader's direction: "LMML" + secretstream header, or "ERR ...\n"; then frames. */
static void parse_rx(void)
{
    for (;;) {
        if (!mig.rx_keyed) {
            if (mig.rx_len >= 4 && memcmp(mig.rxbuf, "ERR ", 4) == 0) {
                uint8_t *nl = memchr(mig.rxbuf, '\n', mig.rx_len);
                if (!nl && mig.rx_len < sizeof mig.rxbuf)
                    return;
                size_t n = nl ? (size_t)(nl - mig.rxbuf) : mig.rx_len;
                mig.rxbuf[n < sizeof mig.rxbuf ? n : sizeof mig.rxbuf - 1] = '\0';
                for (size_t i = 0; i < n; i++)
                    if (mig.rxbuf[i] < 0x20 || mig.rxbuf[i] > 0x7e)
                        mig.rxbuf[i] = '?';
                mig_fail(LM_WRONG_MIG_KEY, "the loader refused: %s", (char *)mig.rxbuf + 4);
                return;
            }
            if (mig.rx_len < 4 + LM_MIG_SS_HEADER_BYTES)
                return;
            if (memcmp(mig.rxbuf, LM_MIG_ANSWER_MAGIC, 4) != 0 ||
                crypto_secretstream_xchacha20poly1305_init_pull(&mig.rx, mig.rxbuf + 4, mig.key_lg) != 0) {
                mig_fail(LM_BAD_MAGIC, "the loader's answer does not start with LMML");
                return;
            }
            mig.rx_keyed = true;
            mig.rx_len -= 4 + LM_MIG_SS_HEADER_BYTES;
            memmove(mig.rxbuf, mig.rxbuf + 4 + LM_MIG_SS_HEADER_BYTES, mig.rx_len);
            continue;
        }
        if (mig.rx_len < 4)
            return;
        uint32_t clen = le32_get(mig.rxbuf);
        if (clen < LM_MIG_SS_ABYTES + LM_MIG_REC_HDR || clen > sizeof mig.rxbuf - 4) {
            mig_fail(LM_BAD_RECORD, "the loader sent a frame of %u bytes", clen);
            return;
        }
        if (mig.rx_len < 4 + clen)
            return;
        uint8_t plain[sizeof mig.rxbuf];
        unsigned long long plen;
        unsigned char tag;
        if (crypto_secretstream_xchacha20poly1305_pull(&mig.rx, plain, &plen, &tag, mig.rxbuf + 4, clen, NULL, 0) != 0) {
            mig_fail(LM_STREAM_AUTH, "a frame from the loader failed authentication");
            return;
        }
        mig.rx_len -= 4 + clen;
        memmove(mig.rxbuf, mig.rxbuf + 4 + clen, mig.rx_len);
        take_record(plain, (size_t)plen);
        if (mig.phase == MIG_FAILED || mig.phase == MIG_IDLE)
            return;
    }
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    (void)arg;
    (void)err;
    if (!p) {
        if (mig.go_sent || !mig.pcb)
            return ERR_OK;
        mig_fail(LM_MIG_LINK, "the loader closed the connection");
        return ERR_ABRT; /* mig_fail aborted this pcb: lwIP must not touch it again */
    }
    for (struct pbuf *q = p; q; q = q->next) {
        size_t n = q->len;
        if (n > sizeof mig.rxbuf - mig.rx_len) {
            pbuf_free(p);
            mig_fail(LM_BAD_RECORD, "the loader sent more than %zu bytes unread", sizeof mig.rxbuf);
            return ERR_ABRT; /* mig_fail closed the connection (aborted it if it had to) */
        }
        memcpy(mig.rxbuf + mig.rx_len, q->payload, n);
        mig.rx_len += n;
    }
    tcp_recved(pcb, p->tot_len);
    pbuf_free(p);
    struct tcp_pcb *before = mig.pcb;
    parse_rx();
    return mig.pcb == before ? ERR_OK : ERR_ABRT;
}

#define RETRY_NS 100000000ull /* a loader just started may not listen yet: try again soon */

static void on_err(void *arg, err_t err)
{
    (void)arg;
    if (mig.phase == MIG_CONNECTING && !mig.connected && err == ERR_RST &&
        clock_ns() + RETRY_NS < mig.deadline_ns) {
        mig.pcb = NULL; /* lwIP freed it */
        mig.retry_ns = clock_ns() + RETRY_NS;
        if (mig.refused++ == 0)
            printf("mig: the loader refused the connection (not listening yet?); retrying\n");
        return;
    }
    char msg[64];
    snprintf(msg, sizeof msg, "the connection to the loader broke (lwIP error %d)", err);
    lost(LM_MIG_LINK, msg);
}

static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)arg;
    (void)pcb;
    (void)len;
    mig.progress_ns = clock_ns(); /* the loader took more: not stalled */
    return ERR_OK;
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK)
        return ERR_OK;
    uint8_t key_gl[32];
    struct lm_mig_hello h;
    memcpy(h.mig_pub, mig.mig_pub, 32);
    randombytes_buf(h.nonce, sizeof h.nonce);
    if (lm_mig_keys(mig.mig_secret, mig.loader_pub, mig.mig_pub, mig.loader_pub, h.nonce, key_gl,
                    mig.key_lg) != 0) {
        mig_fail(LM_CRYPTO, "X25519 with the loader's key failed (a low-order point?)");
        return ERR_ABRT;
    }
    uint8_t out[LM_PAYLOAD_HEADER_SIZE + LM_MIG_HELLO_SIZE + LM_MIG_SS_HEADER_BYTES];
    struct lm_payload_header ph = {.kind = LM_PAYLOAD_CHECKPOINT, .length = boot_info->mem_size};
    lm_payload_header_encode(&ph, out);
    lm_mig_hello_encode(&h, out + LM_PAYLOAD_HEADER_SIZE);
    crypto_secretstream_xchacha20poly1305_init_push(&mig.tx, out + LM_PAYLOAD_HEADER_SIZE + LM_MIG_HELLO_SIZE, key_gl);
    sodium_memzero(key_gl, sizeof key_gl);
    if (tcp_write(pcb, out, sizeof out, TCP_WRITE_FLAG_COPY) != ERR_OK) {
        mig_fail(LM_NOMEM, "lwIP would not take the hello");
        return ERR_ABRT;
    }
    mig.cur.bytes += sizeof out;
    mig.connected = true;
    mig.progress_ns = clock_ns();
    tcp_sent(pcb, on_sent);
    mig.phase = MIG_PRECOPY;
    precopy_begin();
    return ERR_OK;
}

int stream_open(void)
{
    mig.retry_ns = 0;
    pending = 0;
    mig.records = 0;
    mig.rx_len = 0;
    mig.rx_keyed = false;
    mig.connected = false;
    mig.pcb = tcp_new();
    if (!mig.pcb) {
        mig_fail(LM_NOMEM, "no TCP control block for the migration connection");
        return -1;
    }
    tcp_arg(mig.pcb, NULL);
    tcp_recv(mig.pcb, on_recv);
    tcp_err(mig.pcb, on_err);
    tcp_nagle_disable(mig.pcb);
    if (tcp_connect(mig.pcb, &mig.peer, mig.peer_port, on_connected) != ERR_OK) {
        mig_fail(LM_IO, "tcp_connect to the loader failed");
        return -1;
    }
    return 0;
}

/* Hands lwIP the rest of a sealed frame, as much as it takes. */
static void push_pending(void)
{
    while (pending > 0 && mig.pcb) {
        size_t off = (size_t)(le32_get(mig.r->frame) + 4) - pending;
        size_t n = pending;
        if (n > mig.pcb->snd_buf)
            n = mig.pcb->snd_buf;
        if (n > 0xffff)
            n = 0xffff;
        if (n == 0 || tcp_write(mig.pcb, mig.r->frame + off, (u16_t)n, TCP_WRITE_FLAG_COPY) != ERR_OK)
            return;
        pending -= n;
    }
}

bool stream_room(size_t plain_len)
{
    if (!mig.pcb || !mig.connected)
        return false;
    push_pending();
    if (pending > 0)
        return false;
    /* snd_buf itself: tcp_sndbuf() clamps to 16 bits, less than one full frame */
    size_t need = plain_len + 4 + LM_MIG_SS_ABYTES;
    return mig.pcb->snd_buf >= need &&
           tcp_sndqueuelen(mig.pcb) + need / TCP_MSS + 4 < TCP_SND_QUEUELEN;
}

/* Seals the record in r->plain (its body already there) into r->frame and starts it out. */
static void seal(uint8_t type, uint32_t count, uint64_t arg, size_t len, bool final)
{
    struct mig_region *r = mig.r;
    lm_mig_rec_header(r->plain, type, count, arg);
    unsigned long long clen;
    crypto_secretstream_xchacha20poly1305_push(&mig.tx, r->frame + 4, &clen, r->plain, LM_MIG_REC_HDR + len, NULL, 0, final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    le32_put(r->frame, (uint32_t)clen);
    pending = (size_t)clen + 4;
    mig.cur.bytes += pending;
    mig.records++;
    push_pending();
}

int stream_send(uint8_t type, uint32_t count, uint64_t arg, const void *body, size_t len,
                bool final)
{
    if (len)
        memcpy(mig.r->plain + LM_MIG_REC_HDR, body, len);
    seal(type, count, arg, len, final);
    return 0;
}

/*
 * zstd at level 1 (its fast strategy: memory moves at a few hundred MB/s per core, about the
 * guest's TCP rate) over one record's pages, LM_MIG_PAGES_MAX at most: the context's tables
 * are sized for that (about 300 KiB) and live in the region, like everything else written
 * while the guest's memory is being tracked.
 */
#define ZSTD_LEVEL 1

static size_t cctx_size(void)
{
    return ZSTD_estimateCCtxSize_usingCParams(ZSTD_getCParams(ZSTD_LEVEL, LM_MIG_PAGES_MAX * LM_MIG_PAGE, 0));
}

size_t stream_zstd_size(void)
{
    return PAGE_ROUND_UP(cctx_size()) + LM_MIG_PAGES_MAX * LM_MIG_PAGE;
}

struct ZSTD_CCtx_s *stream_zstd_init(struct mig_region *r, void *mem, size_t size)
{
    size_t c = PAGE_ROUND_UP(cctx_size());
    if (size < c + LM_MIG_PAGES_MAX * LM_MIG_PAGE)
        return NULL;
    r->stage = (uint8_t *)mem + c;
    return ZSTD_initStaticCCtx(mem, c);
}

void stream_send_pages(uint32_t n, uint64_t pfn, const void *data)
{
    struct mig_region *r = mig.r;
    size_t raw = (size_t)n * PAGE_SIZE;
    if (!r->cctx) {
        stream_send(LM_MIG_PAGES, n, pfn, data, raw, false);
        return;
    }
    /* From a still copy: the host writes received frames into guest memory whenever it likes,
     * and zstd reads its input more than once (a byte that changed between its histogram and
     * its encoding would make a corrupt frame). */
    memcpy(r->stage, data, raw);
    size_t z = ZSTD_compressCCtx(r->cctx, r->plain + LM_MIG_REC_HDR, raw - 1, r->stage, raw, ZSTD_LEVEL);
    if (!ZSTD_isError(z)) {
        mig.cur.zpages += n;
        mig.cur.zbytes += z;
        seal(LM_MIG_ZPAGES, n, pfn, z, false);
        return;
    }
    if (ZSTD_getErrorCode(z) != ZSTD_error_dstSize_tooSmall) { /* never expected: say so once */
        printf("mig: zstd failed (%s): pages go uncompressed from here\n", ZSTD_getErrorName(z));
        r->cctx = NULL;
    }
    stream_send(LM_MIG_PAGES, n, pfn, r->stage, raw, false); /* incompressible: as it is */
}

void stream_flush(void)
{
    push_pending();
    if (mig.pcb)
        tcp_output(mig.pcb);
}

bool stream_stalled(uint64_t now)
{
    /* unsent counts too: a loader that stops reading closes its window, its ACKs of our
     * zero-window probes acknowledge no data, and nothing sits in unacked */
    return mig.pcb && mig.connected && (mig.pcb->unacked || mig.pcb->unsent || pending) &&
           now - mig.progress_ns > STALL_NS;
}

bool stream_drained(void)
{
    return mig.pcb && pending == 0 && !mig.pcb->unsent && !mig.pcb->unacked;
}

void stream_close(bool quietly)
{
    struct tcp_pcb *pcb = mig.pcb;
    mig.pcb = NULL;
    pending = 0;
    if (!pcb)
        return;
    tcp_arg(pcb, NULL);
    tcp_recv(pcb, NULL);
    tcp_err(pcb, NULL);
    tcp_sent(pcb, NULL);
    /* A failed migration resets the loader's connection (its VM ends anyway; and we may be
     * inside one of this pcb's callbacks, where abort is the one safe way out). Quietly, in
     * the child: no RST, the connection is the parent's and its peer is gone. */
    tcp_abandon(pcb, quietly ? 0 : 1);
}
