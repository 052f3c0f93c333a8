/* Status codes shared by the library, the wire replies and the tools; values are wire-stable. */
#ifndef LAUNDROMAT_STATUS_H
#define LAUNDROMAT_STATUS_H

/*
 * X(name, value, text). Values travel in ping and payment replies as u16 and never change
 * meaning; new codes take new numbers. Library functions return 0 or -value.
 */
#define LM_STATUS_TABLE(X)                                                                 \
    X(OK, 0, "ok")                                                                         \
    /* structure of a token (cheap checks, no crypto) */                                   \
    X(BAD_MAGIC, 1, "bad magic")                                                           \
    X(BAD_VERSION, 2, "unsupported version")                                               \
    X(TRUNCATED, 3, "truncated")                                                           \
    X(TRAILING, 4, "trailing bytes")                                                       \
    X(BAD_FLAGS, 5, "unknown flag bits set")                                               \
    X(RESERVED_NONZERO, 6, "reserved bytes not zero")                                      \
    X(BAD_LIFETIME, 7, "expiry not after issue time, or lifetime too long")                \
    X(BAD_SCOPE_KIND, 8, "unknown scope kind")                                             \
    X(BAD_SCOPE_NAME, 9, "scope name empty, not printable or not NUL-padded")              \
    X(ZERO_SHAPE, 10, "zero memory or zero vCPUs")                                         \
    X(OVERSIZED_SHAPE, 11, "memory or vCPUs above the protocol maximum")                   \
    X(BAD_PAYLOAD_KIND, 12, "unknown payload kind")                                        \
    X(ZERO_COMMITMENT, 13, "payload commitment is all zero")                               \
    X(CHAIN_ANCHOR, 14, "chain anchor and chain length disagree")                          \
    X(CHAIN_TOO_LONG, 15, "chain length above the protocol maximum")                       \
    X(ZERO_LINK_VALUE, 16, "value of one chain link is zero")                              \
    X(PREPAID_TOO_LARGE, 17, "prepaid units above the protocol maximum")                   \
    X(NO_VALUE, 18, "token carries neither prepaid units nor a chain")                     \
    X(BAD_NETID, 19, "malformed network identity")                                         \
    /* verification against keys, clock and scope */                                      \
    X(UNKNOWN_KEY, 20, "unknown broker key id")                                            \
    X(BAD_SIGNATURE, 21, "bad signature")                                                  \
    X(EXPIRED, 22, "expired")                                                              \
    X(NOT_YET_VALID, 23, "not yet valid")                                                  \
    X(WRONG_SCOPE, 24, "scope does not match this host")                                   \
    /* hash-chain payments */                                                              \
    X(CHAIN_DUPLICATE, 30, "link already accepted")                                        \
    X(CHAIN_STALE, 31, "link older than the last accepted one")                            \
    X(CHAIN_FORGED, 32, "link does not hash to the last accepted one")                     \
    X(CHAIN_BEYOND_END, 33, "link index beyond the chain length")                          \
    X(CHAIN_JUMP, 34, "link index jumps further than the limit")                           \
    /* host admission and payment handling */                                              \
    X(REPLAY, 40, "token already used on this host")                                       \
    X(HOST_FULL, 41, "host has no room for another VM")                                    \
    X(OVER_LIMIT, 42, "VM shape above this host's limits")                                 \
    X(UNKNOWN_TOKEN, 43, "no VM runs with this token here")                                \
    X(BUSY, 44, "host busy, try again")                                                    \
    X(INTERNAL, 45, "internal host error")                                                 \
    /* images (ELF kernels) */                                                             \
    X(BAD_IMAGE, 50, "malformed ELF image")                                                \
    X(IMAGE_PLACEMENT, 51, "ELF segment outside the allowed memory")                       \
    X(IMAGE_WX, 52, "ELF segment both writable and executable")                            \
    X(OVERSIZED, 53, "payload or field larger than allowed")                               \
    X(DIGEST_MISMATCH, 54, "payload does not match its commitment")                        \
    /* self-migration: the checkpoint stream (loader answers, guest status) */               \
    X(BAD_RECORD, 70, "malformed migration record")                                        \
    X(STREAM_AUTH, 71, "migration record failed authentication or came out of order")     \
    X(PAGE_RANGE, 72, "page number outside the VM's memory")                               \
    X(INCOMPLETE, 73, "checkpoint incomplete")                                             \
    X(WRONG_MIG_KEY, 74, "migration key differs from the token's commitment")              \
    X(MEM_MISMATCH, 75, "checkpoint memory size differs from the VM's")                    \
    X(MIG_ABORTED, 76, "migration aborted by the sender")                                  \
    X(MIG_TIMEOUT, 77, "migration peer silent past its deadline")                          \
    X(MIG_LINK, 78, "migration connection lost")                                           \
    X(CKPT_KEY, 79, "checkpoint file sealed for another owner key")                        \
    /* local errors (never on the wire) */                                                 \
    X(INVAL, 60, "invalid argument")                                                       \
    X(IO, 61, "input/output error")                                                        \
    X(KEY_PERMS, 62, "secret key file readable by others")                                 \
    X(KEY_FORMAT, 63, "malformed key file")                                                \
    X(NOMEM, 64, "out of memory")                                                          \
    X(CRYPTO, 65, "crypto library failure")

enum lm_status {
#define LM_STATUS_ENUM(name, value, text) LM_##name = value,
    LM_STATUS_TABLE(LM_STATUS_ENUM)
#undef LM_STATUS_ENUM
};

/* Short text ("expired"), or "unknown status" for a value not in the table. */
const char *lm_status_text(int status);
/* Symbolic name without prefix ("EXPIRED"), or NULL for a value not in the table. */
const char *lm_status_name(int status);

/*
 * A message buffer for the one-line reason behind a failure, naming the values that
 * matter ("token 3f2a...: expired at 2026-11-22T10:00:00Z (now 2026-11-22T10:04:11Z)").
 * Every function taking one accepts NULL.
 */
struct lm_diag {
    char msg[256];
};

/* Sets d->msg (if d is non-NULL) and returns -status, for `return lm_fail(d, ...)`. */
int lm_fail(struct lm_diag *d, int status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
