/*
 * A checkpoint file (lmctl checkpoint, lmctl restore): the records of one migration stream
 * (migrate.h) exactly as the guest sent them, sealed for the guest's owner. One contract for
 * the writer, the reader, the tests and the fuzzer; docs/PROTOCOL.md has the same table.
 *
 * Header, LM_CKPT_HEADER_SIZE bytes, little-endian:
 *    0  magic "LMCK"
 *    4  version u16 = 1
 *    6  flags u16 = 0
 *    8  mem_size u64        the guest's RAM in bytes (4 KiB pages, at most LM_CHECKPOINT_MAX)
 *   16  created u64         Unix seconds when the checkpoint was taken
 *   24  ipv4[4] | prefix u8 | reserved[3] = 0: the guest's address when it was taken
 *   32  salt[16]            fresh per file
 *   48  key_check[32]       BLAKE2b-256(key = K, LM_DOMAIN_CHECKPOINT || "check")
 *   80  reserved[8] = 0
 *   88  secretstream header[24]
 * then frames as on the migration wire: the ciphertext's length u32, one secretstream message
 * (XChaCha20-Poly1305) holding one record. The first message's additional data is header
 * bytes [0, 88), so no header field can change unseen. The records are checked as a loader
 * checks them (lm_mig_recv_record); the last one is END, tagged FINAL, and nothing follows.
 *
 * K = BLAKE2b-256(key = the owner's Ed25519 seed, LM_DOMAIN_CHECKPOINT || salt): only the
 * owner's secret key opens the file, and the key check tells a wrong key from a damaged file.
 */
#ifndef LAUNDROMAT_CKPTFILE_H
#define LAUNDROMAT_CKPTFILE_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "laundromat/migrate.h"
#include "laundromat/status.h"

#define LM_CKPT_MAGIC "LMCK"
#define LM_CKPT_VERSION 1
#define LM_CKPT_HEADER_SIZE 112
#define LM_CKPT_AD_SIZE 88 /* header bytes the first record authenticates */
#define LM_CKPT_SALT_BYTES 16

struct lm_ckpt_header {
    uint64_t mem_size;
    uint64_t created;
    uint8_t ipv4[4];
    uint8_t prefix;
    uint8_t salt[LM_CKPT_SALT_BYTES];
    uint8_t key_check[32];
    uint8_t ss_header[LM_MIG_SS_HEADER_BYTES];
};

void lm_ckpt_header_encode(const struct lm_ckpt_header *h, uint8_t out[LM_CKPT_HEADER_SIZE]);
/* Layout only (magic, version, flags, reserved bytes, mem_size in range); the key check is
 * lm_ckpt_reader_open's. */
int lm_ckpt_header_decode(const uint8_t *b, size_t len, struct lm_ckpt_header *h,
                          struct lm_diag *d);

/* K and its check value from the owner's seed and the file's salt. 0 or -LM_CRYPTO. */
int lm_ckpt_key(const uint8_t owner_seed[32], const uint8_t salt[LM_CKPT_SALT_BYTES],
                uint8_t key[32], uint8_t check[32]);

/* Writing: fills the header (fresh salt, key check, secretstream header) for a guest of
 * mem_size bytes at ipv4/prefix; then one lm_ckpt_seal per record, final for END. */
struct lm_ckpt_writer {
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t ad[LM_CKPT_AD_SIZE];
    bool first;
};
int lm_ckpt_writer_init(struct lm_ckpt_writer *w, const uint8_t owner_seed[32],
                        uint64_t mem_size, uint64_t created, const uint8_t ipv4[4],
                        uint8_t prefix, uint8_t out[LM_CKPT_HEADER_SIZE]);
/* One record into out (at least 4 + len + LM_MIG_SS_ABYTES bytes): the frame's length then
 * its ciphertext. Returns the frame's size. */
size_t lm_ckpt_seal(struct lm_ckpt_writer *w, const uint8_t *rec, size_t len, bool final,
                    uint8_t *out);

/* Reading: open with the header's bytes and the owner's seed, then one lm_ckpt_next per
 * frame's ciphertext, until r->done (END taken: anything after it is trailing). */
struct lm_ckpt_reader {
    struct lm_ckpt_header h;
    crypto_secretstream_xchacha20poly1305_state st;
    uint8_t ad[LM_CKPT_AD_SIZE];
    bool first, done;
    uint64_t *covered; /* the loader's coverage bitmap, malloc'd: lm_ckpt_reader_free */
    struct lm_mig_recv rs;
};
int lm_ckpt_reader_open(struct lm_ckpt_reader *r, const uint8_t *hdr, size_t len,
                        const uint8_t owner_seed[32], struct lm_diag *d);
/* Opens one frame's ciphertext (cipher, clen) into plain (LM_MIG_REC_MAX bytes); *plen and
 * *rec describe the record. 0, or -status with d naming the record and the cause. */
int lm_ckpt_next(struct lm_ckpt_reader *r, const uint8_t *cipher, size_t clen, uint8_t *plain,
                 size_t *plen, struct lm_mig_rec *rec, struct lm_diag *d);
void lm_ckpt_reader_free(struct lm_ckpt_reader *r);

#endif
