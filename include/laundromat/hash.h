/* BLAKE2b-256 with domain separation: the one hash of tokens, chains, keys and images. */
#ifndef LAUNDROMAT_HASH_H
#define LAUNDROMAT_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LM_HASH_BYTES 32

/*
 * Domain strings. A hash is BLAKE2b-256(domain || data): the domain's bytes without its
 * terminating NUL, then the data. Documented in docs/PROTOCOL.md; never reuse one string
 * for two purposes.
 */
#define LM_DOMAIN_CHAIN "laundromat/chain/v1"  /* one hash-chain step */
#define LM_DOMAIN_KEYID "laundromat/keyid/v1"  /* key id of an Ed25519 public key */
#define LM_DOMAIN_IMAGE "laundromat/image/v1"  /* payload commitment of an ELF image */
#define LM_DOMAIN_MIGRATE "laundromat/migrate/v1" /* migration session keys (migrate.h) */
#define LM_DOMAIN_VOUCH "laundromat/loader-vouch/v1" /* a host vouches for a loader (wire.h) */
#define LM_DOMAIN_GUESTCTL "laundromat/guestctl/v1" /* owner command keys (guestctl.h) */
#define LM_DOMAIN_CHECKPOINT "laundromat/checkpoint/v1" /* checkpoint file keys (ckptfile.h) */

/* Initialises libsodium once; every library entry point that uses it calls this first. */
int lm_crypto_init(void);

/* out = BLAKE2b-256(domain || data). Returns 0, or -LM_CRYPTO. */
int lm_hash(const char *domain, const void *data, size_t len, uint8_t out[LM_HASH_BYTES]);

#endif
