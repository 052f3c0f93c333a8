/*
 * The self-migration stream between a migrating guest and a destination loader: handshake,
 * record layout and key derivation. One contract for the guest (sender), the loader
 * (receiver), lmctl and the tests; docs/PROTOCOL.md has the same tables and tests/vectors/
 * the vectors.
 */
#ifndef LAUNDROMAT_MIGRATE_H
#define LAUNDROMAT_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laundromat/status.h"

/*
 * Guest -> loader, in the clear: the loader's payload header (payload.h, kind checkpoint,
 * length = the guest's RAM in bytes, no command line), then the hello:
 *   "LMMG" | version u16 = 1 | reserved u16 = 0 | M[32] | nonce[32]
 * where M is the migration public key (X25519) the destination token commits to, and the
 * nonce is fresh per attempt. Then the 24-byte secretstream header of the guest's direction,
 * then frames. The loader answers "LMML" and the secretstream header of its direction, then
 * frames; or, before any key exists, one line "ERR <NAME> <message>\n".
 *
 * Keys: K[64] = BLAKE2b-512(key = X25519(m, L), LM_DOMAIN_MIGRATE || M || L || nonce);
 * guest -> loader uses K[0..32), loader -> guest K[32..64). L is the loader's X25519 key,
 * fresh per loader VM and vouched for by its host; only the holder of m (the owner, through
 * the guest) can fill that loader, and only that loader can read the guest's memory.
 */
#define LM_MIG_HELLO_MAGIC "LMMG"
#define LM_MIG_ANSWER_MAGIC "LMML"
#define LM_MIG_VERSION 1
#define LM_MIG_HELLO_SIZE 72
#define LM_MIG_KEY_BYTES 32
#define LM_MIG_NONCE_BYTES 32
#define LM_MIG_SS_HEADER_BYTES 24 /* crypto_secretstream_xchacha20poly1305_HEADERBYTES */
#define LM_MIG_SS_ABYTES 17       /* crypto_secretstream_xchacha20poly1305_ABYTES */

/*
 * A frame: ciphertext length u32 (little-endian, in the clear), then one secretstream
 * message holding one record. A record: a 16-byte header
 *   type u8 | flags u8 = 0 | reserved u16 = 0 | count u32 | arg u64
 * then a body whose length the type and count fix exactly.
 */
#define LM_MIG_REC_HDR 16
#define LM_MIG_PAGE 4096u
#define LM_MIG_PAGES_MAX 16u /* pages in one PAGES record */
#define LM_MIG_REC_MAX (LM_MIG_REC_HDR + LM_MIG_PAGES_MAX * LM_MIG_PAGE)
#define LM_MIG_FRAME_MAX (LM_MIG_REC_MAX + LM_MIG_SS_ABYTES)
#define LM_MIG_ERRMSG_MAX 200

enum lm_mig_rec_type {
    /* guest -> loader */
    LM_MIG_PAGES = 1,   /* arg first page number, count 1..16 pages, body count * 4096 bytes */
    LM_MIG_ZERO = 2,    /* arg first page number, count >= 1 pages that are all zero; no body */
    LM_MIG_ROUND = 3,   /* arg round number, count pages the round sends; no body */
    LM_MIG_CONTEXT = 4, /* count 0, arg 0, body struct lm_mig_context (LM_MIG_CONTEXT_SIZE) */
    LM_MIG_END = 5,     /* count 0, arg 0, body struct lm_mig_totals (24 bytes) */
    LM_MIG_GO = 6,      /* count 0, arg 0, body struct lm_mig_go; secretstream tag FINAL */
    LM_MIG_ZPAGES = 7,  /* as PAGES, the body zstd-compressed: 1..count * 4096 bytes holding
                         * zstd frames that inflate to exactly count * 4096 bytes */
    /* loader -> guest */
    LM_MIG_READY = 0x81, /* count flags (LM_MIG_READY_*), arg 0, body struct lm_mig_totals:
                          * all checked, paused */
    LM_MIG_ERROR = 0x82, /* count = status code, arg 0, body: message (1..200 bytes) */
    LM_MIG_SAVED = 0x83, /* as READY, from a recorder (lmctl checkpoint): the stream is
                          * saved; the sender ends its final phase and carries on, no GO */
};

/* READY's flags (its count): the guest resumes with a new identity, the destination's address
 * and MAC (a re-addressing move: its source ends its own TCP connections with a reset). */
#define LM_MIG_READY_NEW_IDENTITY 1u
#define LM_MIG_READY_FLAGS LM_MIG_READY_NEW_IDENTITY

/*
 * The snapshot's context: what the loader needs to hand the VM back to the guest. The CPU
 * registers themselves are in guest memory (the snapshot's jump buffer), sent with it.
 * Little-endian: magic "LMCX" u32, version u32 = 1, mem_size, kernel_start, kernel_end,
 * resume_entry, clock_ns and wall_ns at the snapshot (u64 each), platform u32 (the platform
 * the guest's kernel is built for: a loader resumes only its own), 12 reserved zero bytes.
 */
#define LM_MIG_PLATFORM_MONITOR 0 /* our monitor (guest/platform/kvm) */
#define LM_MIG_PLATFORM_PVH 1     /* standard virtual hardware (guest/platform/pvh) */
#define LM_MIG_CONTEXT_MAGIC 0x58434d4cu /* "LMCX" */
#define LM_MIG_CONTEXT_SIZE 72
struct lm_mig_context {
    uint64_t mem_size;
    uint64_t kernel_start, kernel_end; /* the resume entry lies in [start, end) */
    uint64_t resume_entry;
    uint64_t clock_ns, wall_ns; /* the guest's monotonic and wall clocks at the snapshot */
    uint64_t platform;          /* LM_MIG_PLATFORM_* (a u32 on the wire) */
};

/* END and READY: what was sent (and, in READY, what the loader counted). */
#define LM_MIG_TOTALS_SIZE 24
struct lm_mig_totals {
    uint64_t data_pages; /* pages sent with contents (PAGES and ZPAGES), counting resends */
    uint64_t zero_pages; /* pages named as zero */
    uint64_t records;    /* records before END */
};

/* GO: the sender's last word, its own figures of the final phase (for the child to report):
 * frames its firewall dropped in and out, copy-on-write faults and their total time in TSC
 * ticks. Four u64, little-endian. */
#define LM_MIG_GO_SIZE 32
struct lm_mig_go {
    uint64_t fw_in, fw_out, cow_faults, cow_ticks;
};
void lm_mig_go_encode(const struct lm_mig_go *g, uint8_t out[LM_MIG_GO_SIZE]);
void lm_mig_go_decode(const uint8_t b[LM_MIG_GO_SIZE], struct lm_mig_go *g);

struct lm_mig_rec {
    uint8_t type;
    uint32_t count;
    uint64_t arg;
    const uint8_t *body;
    size_t body_len;
};

struct lm_mig_hello {
    uint8_t mig_pub[LM_MIG_KEY_BYTES];
    uint8_t nonce[LM_MIG_NONCE_BYTES];
};

void lm_mig_hello_encode(const struct lm_mig_hello *h, uint8_t out[LM_MIG_HELLO_SIZE]);
int lm_mig_hello_decode(const uint8_t *b, size_t len, struct lm_mig_hello *h, struct lm_diag *d);

void lm_mig_rec_header(uint8_t out[LM_MIG_REC_HDR], uint8_t type, uint32_t count, uint64_t arg);
/* Structure only (type, zero fields, body length for the type and count); the receiver
 * checks page numbers against its RAM. */
int lm_mig_rec_parse(const uint8_t *b, size_t len, struct lm_mig_rec *r, struct lm_diag *d);

void lm_mig_context_encode(const struct lm_mig_context *c, uint8_t out[LM_MIG_CONTEXT_SIZE]);
int lm_mig_context_decode(const uint8_t *b, size_t len, struct lm_mig_context *c,
                          struct lm_diag *d);
void lm_mig_totals_encode(const struct lm_mig_totals *t, uint8_t out[LM_MIG_TOTALS_SIZE]);
void lm_mig_totals_decode(const uint8_t b[LM_MIG_TOTALS_SIZE], struct lm_mig_totals *t);

/*
 * The receiver's checks, as a pure function of the records so far (the loader places the
 * pages; this decides whether it may). Feed each authenticated record with whether its
 * secretstream tag was FINAL; the result is an action, or -status with d->msg naming the
 * record and the values. The caller provides the coverage bitmap (npages bits, zeroed).
 */
enum lm_mig_action {
    LM_MIG_ACT_NONE = 0,  /* ROUND, CONTEXT: nothing to do */
    LM_MIG_ACT_PLACE = 1, /* PAGES: copy count pages of body to page arg.. */
    LM_MIG_ACT_INFLATE = 5, /* ZPAGES: inflate body into count pages at page arg..; anything
                             * but exactly count * 4096 bytes out refuses the stream */
    LM_MIG_ACT_ZERO = 2,  /* ZERO: pages arg.. must read as zero */
    LM_MIG_ACT_READY = 3, /* END checked: answer READY (body: totals), wait for GO */
    LM_MIG_ACT_GO = 4,    /* GO: hand the VM over to ctx.resume_entry */
};
struct lm_mig_recv {
    uint64_t npages, mem_size;
    uint64_t *covered;
    int stage; /* 0 records, 1 READY answered, 2 GO taken */
    bool have_ctx;
    struct lm_mig_context ctx;
    struct lm_mig_totals got;
    uint64_t final_pages; /* pages after the CONTEXT record: the final phase's */
    uint32_t round;
};
void lm_mig_recv_init(struct lm_mig_recv *s, uint64_t mem_size, uint64_t *covered);
int lm_mig_recv_record(struct lm_mig_recv *s, const uint8_t *b, size_t len, bool final,
                       struct lm_mig_rec *r, struct lm_diag *d);

/* Host side only (lib/zpages.c, the system's libzstd): does a ZPAGES record inflate to exactly
 * its count pages? 0, or -LM_BAD_RECORD with d->msg naming the pages and zstd's reason. */
int lm_zpages_check(const struct lm_mig_rec *rec, struct lm_diag *d);

/*
 * Session keys from a shared secret already computed (X25519(m, L) = X25519(l, M)), for
 * both sides: out_gl guest -> loader, out_lg loader -> guest. Returns 0 or -LM_CRYPTO.
 */
int lm_mig_kdf(const uint8_t shared[32], const uint8_t mig_pub[32], const uint8_t loader_pub[32],
               const uint8_t nonce[LM_MIG_NONCE_BYTES], uint8_t out_gl[32], uint8_t out_lg[32]);
/* X25519 then lm_mig_kdf: `secret` is m (guest) or l (loader), `peer` the other public key. */
int lm_mig_keys(const uint8_t secret[32], const uint8_t peer[32], const uint8_t mig_pub[32],
                const uint8_t loader_pub[32], const uint8_t nonce[LM_MIG_NONCE_BYTES],
                uint8_t out_gl[32], uint8_t out_lg[32]);

#endif
