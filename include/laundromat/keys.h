/* Ed25519 key pairs and their files (format in docs/PROTOCOL.md, "Key files"). */
#ifndef LAUNDROMAT_KEYS_H
#define LAUNDROMAT_KEYS_H

#include <stdint.h>

#include "laundromat/status.h"
#include "laundromat/token.h"

#define LM_SECRET_KEY_TAG "laundromat-secret-key-v1"
#define LM_PUBLIC_KEY_TAG "laundromat-public-key-v1"

struct lm_keypair {
    struct lm_pubkey pub;
    uint8_t seed[32];
    uint8_t sk[64]; /* libsodium's expanded secret key */
};

/* Key id: the first 8 bytes, little-endian, of BLAKE2b-256(LM_DOMAIN_KEYID || pk). */
uint64_t lm_key_id(const uint8_t pk[32]);

/* A fresh key pair from the system's random source, or a deterministic one from a seed. */
int lm_key_generate(struct lm_keypair *kp);
int lm_key_from_seed(const uint8_t seed[32], struct lm_keypair *kp);

/* Writes a new file (never overwrites); the secret one with mode 0600. */
int lm_key_write_secret(const char *path, const struct lm_keypair *kp, struct lm_diag *d);
int lm_key_write_public(const char *path, const struct lm_pubkey *pub, struct lm_diag *d);

/*
 * Loads a secret key file, refusing one that group or others may read (-LM_KEY_PERMS) and
 * one whose key id line disagrees with its key (-LM_KEY_FORMAT).
 */
int lm_key_load_secret(const char *path, struct lm_keypair *kp, struct lm_diag *d);
/* Loads a public key file, or the public half of a secret key file. */
int lm_key_load_public(const char *path, struct lm_pubkey *pub, struct lm_diag *d);

#endif
