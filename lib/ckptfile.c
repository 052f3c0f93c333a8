/* Checkpoint files (ckptfile.h): the header, the owner's file key, sealing and opening. */
#include <stdlib.h>
#include <string.h>

#include "laundromat/ckptfile.h"
#include "laundromat/hash.h"
#include "laundromat/payload.h"
#include "lm.h"

void lm_ckpt_header_encode(const struct lm_ckpt_header *h, uint8_t out[LM_CKPT_HEADER_SIZE])
{
    memset(out, 0, LM_CKPT_HEADER_SIZE);
    memcpy(out, LM_CKPT_MAGIC, 4);
    lm_put16(out + 4, LM_CKPT_VERSION);
    lm_put64(out + 8, h->mem_size);
    lm_put64(out + 16, h->created);
    memcpy(out + 24, h->ipv4, 4);
    out[28] = h->prefix;
    memcpy(out + 32, h->salt, LM_CKPT_SALT_BYTES);
    memcpy(out + 48, h->key_check, 32);
    memcpy(out + 88, h->ss_header, LM_MIG_SS_HEADER_BYTES);
}

int lm_ckpt_header_decode(const uint8_t *b, size_t len, struct lm_ckpt_header *h,
                          struct lm_diag *d)
{
    if (len < LM_CKPT_HEADER_SIZE)
        return lm_fail(d, LM_TRUNCATED, "checkpoint file: %zu bytes, its header alone is %d", len, LM_CKPT_HEADER_SIZE);
    if (memcmp(b, LM_CKPT_MAGIC, 4) != 0)
        return lm_fail(d, LM_BAD_MAGIC, "not a checkpoint file: magic %02x%02x%02x%02x, expected \"LMCK\"", b[0], b[1], b[2], b[3]);
    if (lm_get16(b + 4) != LM_CKPT_VERSION)
        return lm_fail(d, LM_BAD_VERSION, "checkpoint file version %u; this lmctl reads version %d", lm_get16(b + 4), LM_CKPT_VERSION);
    if (lm_get16(b + 6) != 0)
        return lm_fail(d, LM_BAD_FLAGS, "checkpoint file: flags 0x%04x, none defined", lm_get16(b + 6));
    if (!lm_all_zero(b + 29, 3) || !lm_all_zero(b + 80, 8))
        return lm_fail(d, LM_RESERVED_NONZERO, "checkpoint file: reserved header bytes are not zero");
    h->mem_size = lm_get64(b + 8);
    if (h->mem_size == 0 || h->mem_size % LM_MIG_PAGE || h->mem_size > LM_CHECKPOINT_MAX)
        return lm_fail(d, LM_BAD_RECORD, "checkpoint file: %llu bytes of RAM, expected a multiple of 4096 up to %llu", (unsigned long long)h->mem_size, (unsigned long long)LM_CHECKPOINT_MAX);
    h->created = lm_get64(b + 16);
    memcpy(h->ipv4, b + 24, 4);
    h->prefix = b[28];
    if (h->prefix > 32)
        return lm_fail(d, LM_BAD_NETID, "checkpoint file: prefix length %u", h->prefix);
    memcpy(h->salt, b + 32, LM_CKPT_SALT_BYTES);
    memcpy(h->key_check, b + 48, 32);
    memcpy(h->ss_header, b + 88, LM_MIG_SS_HEADER_BYTES);
    return 0;
}

int lm_ckpt_key(const uint8_t owner_seed[32], const uint8_t salt[LM_CKPT_SALT_BYTES],
                uint8_t key[32], uint8_t check[32])
{
    crypto_generichash_blake2b_state st;
    const size_t dl = strlen(LM_DOMAIN_CHECKPOINT);
    if (crypto_generichash_blake2b_init(&st, owner_seed, 32, 32) != 0 ||
        crypto_generichash_blake2b_update(&st, (const uint8_t *)LM_DOMAIN_CHECKPOINT, dl) != 0 ||
        crypto_generichash_blake2b_update(&st, salt, LM_CKPT_SALT_BYTES) != 0 ||
        crypto_generichash_blake2b_final(&st, key, 32) != 0 ||
        crypto_generichash_blake2b_init(&st, key, 32, 32) != 0 ||
        crypto_generichash_blake2b_update(&st, (const uint8_t *)LM_DOMAIN_CHECKPOINT, dl) != 0 ||
        crypto_generichash_blake2b_update(&st, (const uint8_t *)"check", 5) != 0 ||
        crypto_generichash_blake2b_final(&st, check, 32) != 0)
        return -LM_CRYPTO;
    return 0;
}

int lm_ckpt_writer_init(struct lm_ckpt_writer *w, const uint8_t owner_seed[32],
                        uint64_t mem_size, uint64_t created, const uint8_t ipv4[4],
                        uint8_t prefix, uint8_t out[LM_CKPT_HEADER_SIZE])
{
    struct lm_ckpt_header h;
    uint8_t key[32];
    if (lm_crypto_init() != 0)
        return -LM_CRYPTO;
    memset(&h, 0, sizeof h);
    h.mem_size = mem_size;
    h.created = created;
    memcpy(h.ipv4, ipv4, 4);
    h.prefix = prefix;
    randombytes_buf(h.salt, sizeof h.salt);
    if (lm_ckpt_key(owner_seed, h.salt, key, h.key_check) != 0)
        return -LM_CRYPTO;
    crypto_secretstream_xchacha20poly1305_init_push(&w->st, h.ss_header, key);
    sodium_memzero(key, sizeof key);
    lm_ckpt_header_encode(&h, out);
    memcpy(w->ad, out, LM_CKPT_AD_SIZE);
    w->first = true;
    return 0;
}

size_t lm_ckpt_seal(struct lm_ckpt_writer *w, const uint8_t *rec, size_t len, bool final,
                    uint8_t *out)
{
    unsigned long long clen;
    crypto_secretstream_xchacha20poly1305_push(
        &w->st, out + 4, &clen, rec, len, w->first ? w->ad : NULL, w->first ? LM_CKPT_AD_SIZE : 0,
        final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    w->first = false;
    lm_put32(out, (uint32_t)clen);
    return 4 + (size_t)clen;
}

int lm_ckpt_reader_open(struct lm_ckpt_reader *r, const uint8_t *hdr, size_t len,
                        const uint8_t owner_seed[32], struct lm_diag *d)
{
    memset(r, 0, sizeof *r);
    if (lm_crypto_init() != 0)
        return lm_fail(d, LM_CRYPTO, "checkpoint file: libsodium did not initialise");
    int rc = lm_ckpt_header_decode(hdr, len, &r->h, d);
    if (rc)
        return rc;
    uint8_t key[32], check[32];
    if (lm_ckpt_key(owner_seed, r->h.salt, key, check) != 0)
        return lm_fail(d, LM_CRYPTO, "checkpoint file: key derivation failed");
    if (sodium_memcmp(check, r->h.key_check, 32) != 0) {
        sodium_memzero(key, sizeof key);
        return lm_fail(d, LM_CKPT_KEY, "checkpoint file sealed for another owner key (or its salt or key check was changed): restore it with the owner key it was taken with");
    }
    rc = crypto_secretstream_xchacha20poly1305_init_pull(&r->st, r->h.ss_header, key);
    sodium_memzero(key, sizeof key);
    if (rc != 0)
        return lm_fail(d, LM_STREAM_AUTH, "checkpoint file: its stream header is damaged");
    uint64_t npages = r->h.mem_size / LM_MIG_PAGE;
    r->covered = calloc((npages + 63) / 64, sizeof *r->covered);
    if (!r->covered)
        return lm_fail(d, LM_NOMEM, "checkpoint file: no memory for a bitmap of %llu pages", (unsigned long long)npages);
    lm_mig_recv_init(&r->rs, r->h.mem_size, r->covered);
    memcpy(r->ad, hdr, LM_CKPT_AD_SIZE);
    r->first = true;
    return 0;
}

int lm_ckpt_next(struct lm_ckpt_reader *r, const uint8_t *cipher, size_t clen, uint8_t *plain,
                 size_t *plen, struct lm_mig_rec *rec, struct lm_diag *d)
{
    unsigned long long n = (unsigned long long)r->rs.got.records;
    if (r->done)
        return lm_fail(d, LM_TRAILING, "checkpoint file: data after its END record");
    if (clen < LM_MIG_SS_ABYTES + LM_MIG_REC_HDR || clen > LM_MIG_FRAME_MAX)
        return lm_fail(d, LM_BAD_RECORD, "checkpoint file: record %llu is %zu bytes, expected %d to %u", n, clen, LM_MIG_SS_ABYTES + LM_MIG_REC_HDR, (unsigned)LM_MIG_FRAME_MAX);
    unsigned long long pl;
    unsigned char tag;
    if (crypto_secretstream_xchacha20poly1305_pull(&r->st, plain, &pl, &tag, cipher, clen,
                                                   r->first ? r->ad : NULL,
                                                   r->first ? LM_CKPT_AD_SIZE : 0) != 0)
        return lm_fail(d, LM_STREAM_AUTH, r->first ? "checkpoint file: its header or first record was changed (authentication failed)" : "checkpoint file: record %llu was changed, reordered or replaced (authentication failed)", n);
    r->first = false;
    bool final = tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL;
    if (final) { /* END carries it in a file; the checks below want it on GO alone */
        int rc = lm_mig_rec_parse(plain, (size_t)pl, rec, d);
        if (rc)
            return rc;
        if (rec->type != LM_MIG_END)
            return lm_fail(d, LM_BAD_RECORD, "checkpoint file: record %llu (type %u) carries the final tag, which belongs to END", n, rec->type);
    }
    int act = lm_mig_recv_record(&r->rs, plain, (size_t)pl, false, rec, d);
    if (act < 0)
        return act;
    if (act == LM_MIG_ACT_INFLATE && lm_zpages_check(rec, d) != 0)
        return -LM_BAD_RECORD;
    if (act == LM_MIG_ACT_READY && !final)
        return lm_fail(d, LM_BAD_RECORD, "checkpoint file: END (record %llu) without the final tag", n);
    if (act == LM_MIG_ACT_GO)
        return lm_fail(d, LM_BAD_RECORD, "checkpoint file: record %llu is GO, which no file holds", n);
    r->done = act == LM_MIG_ACT_READY;
    *plen = (size_t)pl;
    return 0;
}

void lm_ckpt_reader_free(struct lm_ckpt_reader *r)
{
    free(r->covered);
    r->covered = NULL;
    sodium_memzero(&r->st, sizeof r->st);
}
