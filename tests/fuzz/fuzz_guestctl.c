/*
 * libFuzzer target: the owner's control channel. The whole input is one datagram, handed to
 * lm_gc_cmd_open (the guest's side, with the fixtures' owner key, control key and clock),
 * lm_gc_reply_open (lmctl's side, answering FZ_GC_REPLY_CMD with fz_reply_nonce()), and to the
 * body decoders lm_gc_migrate_decode and lm_gc_status_decode. Nothing but what the owner
 * signed (or, for a reply, what the control key's holder sealed) is accepted: an accepted
 * input is byte for byte what the sealing side makes of the decoded values.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fixtures.h"
#include "laundromat/guestctl.h"
#include "laundromat/keys.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct lm_keypair own;
static uint8_t ctl[32], rnonce[LM_GC_NONCE_BYTES];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    uint8_t seed[32];
    fz_owner_seed(seed);
    if (lm_key_from_seed(seed, &own) != 0)
        abort();
    lm_gc_ctl_key(seed, ctl);
    fz_reply_nonce(rnonce);
    return 0;
}

static bool diag_ok(const struct lm_diag *d)
{
    return fz_diag_terminated(d) && d->msg[0] != '\0';
}

static void check_migrate(const uint8_t *b, size_t len)
{
    struct lm_gc_migrate m;
    struct lm_diag d;
    memset(&d, 'x', sizeof d);
    int rc = lm_gc_migrate_decode(b, len, &m, &d);
    if (rc != 0) {
        if ((rc != -LM_TRUNCATED && rc != -LM_TRAILING && rc != -LM_RESERVED_NONZERO &&
             rc != -LM_INVAL) ||
            !diag_ok(&d))
            abort();
        return;
    }
    uint8_t out[LM_GC_MIGRATE_SIZE];
    lm_gc_migrate_encode(&m, out);
    if (len != LM_GC_MIGRATE_SIZE || memcmp(out, b, len) != 0 || m.port == 0 ||
        (m.ip[0] | m.ip[1] | m.ip[2] | m.ip[3]) == 0 || m.max_rounds > 1000)
        abort();
}

static void check_status(const uint8_t *b, size_t len)
{
    struct lm_gc_status s;
    struct lm_diag d;
    memset(&d, 'x', sizeof d);
    memset(&s, 'x', sizeof s);
    int rc = lm_gc_status_decode(b, len, &s, &d);
    if (rc != 0) {
        if ((rc != -LM_TRUNCATED && rc != -LM_TRAILING && rc != -LM_RESERVED_NONZERO) ||
            !diag_ok(&d))
            abort();
        return;
    }
    if (len != LM_GC_STATUS_SIZE)
        abort();
    /* The text: NUL-terminated in its buffer, printable, the sender's bytes or '?'. */
    size_t n = strnlen(s.error, sizeof s.error);
    if (n >= sizeof s.error)
        abort();
    for (size_t i = 0; i < n; i++) {
        uint8_t in = b[168 + i], c = (uint8_t)s.error[i];
        if (c < 0x20 || c > 0x7e || in == 0 || (c != in && c != '?') ||
            (c == '?' && in != '?' && in >= 0x20 && in <= 0x7e))
            abort();
    }
    if (n < sizeof s.error - 1 && b[168 + n] != 0)
        abort();
    /* Every number re-encodes to the bytes it came from. */
    uint8_t out[LM_GC_STATUS_SIZE];
    lm_gc_status_encode(&s, out);
    if (memcmp(out, b, 168) != 0)
        abort();
}

static void check_reply(const uint8_t *b, size_t len)
{
    uint16_t status;
    const uint8_t *body;
    size_t blen;
    struct lm_diag d;
    memset(&d, 'x', sizeof d);
    int rc = lm_gc_reply_open(b, len, FZ_GC_REPLY_CMD, rnonce, ctl, &status, &body, &blen, &d);
    if (rc != 0 && ((rc != -LM_BAD_MAGIC && rc != -LM_TRUNCATED && rc != -LM_TRAILING &&
                     rc != -LM_BAD_SIGNATURE && rc != -LM_REPLAY) ||
                    !diag_ok(&d)))
        abort();
    if (rc != 0 && rc != -LM_REPLAY)
        return;
    /* The MAC held: the input is what sealing its own fields gives. */
    static uint8_t out[LM_GC_REPLY_MAX];
    size_t n = len - LM_GC_REPLY_HDR_SIZE - LM_GC_MAC_BYTES;
    if (len < LM_GC_REPLY_HDR_SIZE + LM_GC_MAC_BYTES || len > LM_GC_REPLY_MAX)
        abort(); /* nothing else was ever sealed */
    uint16_t cmd = (uint16_t)(b[6] | b[7] << 8);
    if (lm_gc_reply_seal(cmd, b + 8, (uint16_t)(b[24] | b[25] << 8), b + LM_GC_REPLY_HDR_SIZE, n,
                         ctl, out) != len ||
        memcmp(out, b, len) != 0)
        abort();
    bool ours = cmd == FZ_GC_REPLY_CMD && memcmp(b + 8, rnonce, LM_GC_NONCE_BYTES) == 0;
    if (ours != (rc == 0))
        abort();
    if (rc == 0 &&
        (body != b + LM_GC_REPLY_HDR_SIZE || blen != n || status != (uint16_t)(b[24] | b[25] << 8)))
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct lm_gc_cmd c;
    struct lm_diag d;
    uint8_t body[LM_GC_BODY_MAX];
    memset(&d, 'x', sizeof d);
    int rc = lm_gc_cmd_open(data, size, own.pub.pk, ctl, FZ_GC_NOW, &c, body, &d);
    if (rc != 0) {
        if (lm_status_name(rc) == NULL || !diag_ok(&d))
            abort();
        if (rc != -LM_TRUNCATED && rc != -LM_TRAILING && rc != -LM_BAD_MAGIC &&
            rc != -LM_BAD_VERSION && rc != -LM_RESERVED_NONZERO && rc != -LM_OVERSIZED &&
            rc != -LM_BAD_SIGNATURE && rc != -LM_EXPIRED && rc != -LM_NOT_YET_VALID)
            abort();
        /* Refused for the time: the signature was the owner's all the same. */
        if ((rc == -LM_EXPIRED || rc == -LM_NOT_YET_VALID) &&
            crypto_sign_verify_detached(data + size - LM_GC_SIG_BYTES, data, size - LM_GC_SIG_BYTES,
                                        own.pub.pk) != 0)
            abort();
    } else {
        /* Accepted: the owner's signature, inside the window, and the very bytes the owner
         * seals for these values (Ed25519 and the body cipher are deterministic). */
        uint64_t skew = FZ_GC_NOW > c.time_ns ? FZ_GC_NOW - c.time_ns : c.time_ns - FZ_GC_NOW;
        static uint8_t out[LM_GC_CMD_MAX];
        if (size != (size_t)LM_GC_HDR_SIZE + c.body_len + LM_GC_SIG_BYTES ||
            c.body_len > LM_GC_BODY_MAX || skew > LM_GC_WINDOW_NS ||
            crypto_sign_verify_detached(data + size - LM_GC_SIG_BYTES, data, size - LM_GC_SIG_BYTES,
                                        own.pub.pk) != 0 ||
            lm_gc_cmd_seal(c.cmd, c.time_ns, c.nonce, body, c.body_len, own.sk, ctl, out) != size ||
            memcmp(out, data, size) != 0)
            abort();
        if (c.cmd == LM_GC_MIGRATE)
            check_migrate(body, c.body_len);
    }
    check_migrate(data, size);
    check_status(data, size);
    check_reply(data, size);
    return 0;
}
