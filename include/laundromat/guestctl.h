/*
 * The owner's control channel to a running guest (UDP, LM_GC_PORT): commands signed by the
 * owner's Ed25519 key (owner= on the guest's command line, covered by the image commitment),
 * their bodies encrypted under the owner's control key (ctl_key=), fresh and once each; the
 * guest's replies authenticated with that key. docs/PROTOCOL.md has the layouts.
 */
#ifndef LAUNDROMAT_GUESTCTL_H
#define LAUNDROMAT_GUESTCTL_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/status.h"

#define LM_GC_PORT 7701
#define LM_GC_MAGIC "LMGC"
#define LM_GC_REPLY_MAGIC "LMGR"
#define LM_GC_VERSION 1
#define LM_GC_NONCE_BYTES 16
#define LM_GC_KEY_BYTES 32
/*
 * Command: "LMGC" | version u16 | cmd u16 | time u64 (Unix ns) | nonce[16] | body_len u16 |
 * reserved u16 = 0 | body (encrypted) | Ed25519 signature[64] over everything before it.
 * Body encryption: ChaCha20 (IETF-free original, nonce 0) under
 * BLAKE2b-256(key = ctl_key, LM_DOMAIN_GUESTCTL || "cmd" || the 36 header bytes).
 */
#define LM_GC_HDR_SIZE 36
#define LM_GC_SIG_BYTES 64
#define LM_GC_BODY_MAX 256
#define LM_GC_CMD_MAX (LM_GC_HDR_SIZE + LM_GC_BODY_MAX + LM_GC_SIG_BYTES)
#define LM_GC_WINDOW_NS (120ull * 1000000000ull) /* |now - time| allowed */
/*
 * Reply: "LMGR" | version u16 | cmd u16 | nonce[16] (the command's) | status u16 |
 * body_len u16 | body | MAC[32] = BLAKE2b-256(key = ctl_key, LM_DOMAIN_GUESTCTL || "reply" ||
 * everything before it).
 */
#define LM_GC_REPLY_HDR_SIZE 28
#define LM_GC_MAC_BYTES 32
#define LM_GC_REPLY_MAX (LM_GC_REPLY_HDR_SIZE + LM_GC_BODY_MAX + 64 + LM_GC_MAC_BYTES)

enum lm_gc_cmd_type {
    LM_GC_STATUS = 1,  /* no body; reply: struct lm_gc_status */
    LM_GC_MIGRATE = 2, /* body struct lm_gc_migrate; reply: status (the migration started) */
    LM_GC_ABORT = 3,   /* no body: stop a migration before its final phase */
    LM_GC_RESUME = 4,  /* no body: in doubt (GO unconfirmed), resume this copy: the owner
                        * gives up the destination (it is gone; else two copies would run) */
};

/* MIGRATE body, 136 bytes: ip[4] | port u16 | flags u16 | max_rounds u32 | reserved u32 |
 * loader_pub[32] | mig_secret[32] | pay_token[16] | pay_seed[32] | pay_len u32 | reserved u32.
 * pay_len 0: the guest does not pay its new host. Flags: LM_GC_MIGRATE_*, others zero. */
#define LM_GC_MIGRATE_SIZE 136
#define LM_GC_MIGRATE_ZSTD 1u /* send pages zstd-compressed (ZPAGES) where that is smaller */
#define LM_GC_MIGRATE_FLAGS LM_GC_MIGRATE_ZSTD
struct lm_gc_migrate {
    uint8_t ip[4];
    uint16_t port;
    uint16_t flags;
    uint32_t max_rounds; /* 0: the guest's default */
    uint8_t loader_pub[32], mig_secret[32];
    uint8_t pay_token[16], pay_seed[32];
    uint32_t pay_len;
};

enum lm_gc_phase {
    LM_GC_PHASE_IDLE = 0,
    LM_GC_PHASE_CONNECTING = 1,
    LM_GC_PHASE_PRECOPY = 2,
    LM_GC_PHASE_FINAL = 3,
    LM_GC_PHASE_COMMIT = 4,
    LM_GC_PHASE_FAILED = 5,
    LM_GC_PHASE_DOUBT = 6, /* GO sent, neither acknowledged nor the new copy seen: paused */
};
const char *lm_gc_phase_name(uint32_t phase);

/* STATUS reply body: u64 fields little-endian in this order, then status u32, reserved u32,
 * error[96] (NUL-padded). */
#define LM_GC_ERROR_MAX 96
struct lm_gc_figures {
    uint64_t total_ns, downtime_ns, bytes, data_pages, zero_pages, ram_pages, rounds;
    uint64_t final_pages, cow_faults, fw_in, fw_out;
};
struct lm_gc_status {
    uint32_t phase, round;
    uint64_t pages_sent, pages_round, bytes, elapsed_ns, dirty_rate, ram_pages;
    uint64_t migrations, uptime_ns;
    struct lm_gc_figures last; /* the last completed migration (the child's view) */
    uint32_t status;           /* LM_* of the last failure, 0 if none */
    uint32_t evict_ms;         /* its host evicted it: time left to leave; 0 if not */
    char error[LM_GC_ERROR_MAX];
};
#define LM_GC_STATUS_SIZE (8 + 8 * 8 + 11 * 8 + 8 + LM_GC_ERROR_MAX)

struct lm_gc_cmd {
    uint16_t cmd;
    uint64_t time_ns;
    uint8_t nonce[LM_GC_NONCE_BYTES];
    uint16_t body_len;
};

/*
 * The guest's side: checks length, magic, version, reserved, the owner's signature and the
 * time window, then decrypts the body into body_out (LM_GC_BODY_MAX bytes). Replays within
 * the window are the caller's to refuse (by nonce).
 */
int lm_gc_cmd_open(const uint8_t *b, size_t len, const uint8_t owner_pub[32],
                   const uint8_t ctl_key[32], uint64_t now_ns, struct lm_gc_cmd *c,
                   uint8_t *body_out, struct lm_diag *d);
/* The owner's side (lib/guestctl_seal.c, host only: signing). Returns the length. */
size_t lm_gc_cmd_seal(uint16_t cmd, uint64_t time_ns, const uint8_t nonce[LM_GC_NONCE_BYTES],
                      const uint8_t *body, size_t body_len, const uint8_t owner_sk[64],
                      const uint8_t ctl_key[32], uint8_t out[LM_GC_CMD_MAX]);

/* The control key an owner's guests get (ctl_key=): BLAKE2b-256(key = the owner's Ed25519
 * seed, LM_DOMAIN_GUESTCTL || "ctl-key"). Host only. */
void lm_gc_ctl_key(const uint8_t seed[32], uint8_t out[32]);
/* Encrypts or decrypts a command body in place or from in to out (the cipher is its own
 * inverse), under the key the header derives. */
void lm_gc_body_crypt(const uint8_t hdr[LM_GC_HDR_SIZE], const uint8_t ctl_key[32],
                      const uint8_t *in, uint8_t *out, size_t len);

/* Returns the length, or 0 for a body longer than fits (LM_GC_REPLY_MAX). */
size_t lm_gc_reply_seal(uint16_t cmd, const uint8_t nonce[LM_GC_NONCE_BYTES], uint16_t status,
                        const uint8_t *body, size_t body_len, const uint8_t ctl_key[32],
                        uint8_t out[LM_GC_REPLY_MAX]);
/* Checks the MAC, that it answers (cmd, nonce); body points into b. */
int lm_gc_reply_open(const uint8_t *b, size_t len, uint16_t cmd,
                     const uint8_t nonce[LM_GC_NONCE_BYTES], const uint8_t ctl_key[32],
                     uint16_t *status, const uint8_t **body, size_t *body_len, struct lm_diag *d);

void lm_gc_migrate_encode(const struct lm_gc_migrate *m, uint8_t out[LM_GC_MIGRATE_SIZE]);
int lm_gc_migrate_decode(const uint8_t *b, size_t len, struct lm_gc_migrate *m,
                         struct lm_diag *d);
void lm_gc_status_encode(const struct lm_gc_status *s, uint8_t out[LM_GC_STATUS_SIZE]);
int lm_gc_status_decode(const uint8_t *b, size_t len, struct lm_gc_status *s, struct lm_diag *d);

#endif
