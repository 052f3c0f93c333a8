/* Boot token: fixed, versioned, little-endian layout, Ed25519-signed by the broker. */
#ifndef LAUNDROMAT_TOKEN_H
#define LAUNDROMAT_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/hash.h"
#include "laundromat/status.h"

#define LM_TOKEN_MAGIC "LMTK"
#define LM_TOKEN_VERSION 1
#define LM_TOKEN_ID_BYTES 16
#define LM_SCOPE_BYTES 32 /* scope name, NUL-padded, at least one printable byte */
#define LM_SIG_BYTES 64

/* Byte offsets of version 1 (docs/PROTOCOL.md has the same table). */
enum {
    LM_TOK_OFF_MAGIC = 0,       /* 4  "LMTK" */
    LM_TOK_OFF_VERSION = 4,     /* u16 = 1 */
    LM_TOK_OFF_FLAGS = 6,       /* u16, no flags defined: must be 0 */
    LM_TOK_OFF_ID = 8,          /* 16 random bytes */
    LM_TOK_OFF_KEY_ID = 24,     /* u64 broker key id */
    LM_TOK_OFF_ISSUED = 32,     /* u64 Unix seconds; also "not before" */
    LM_TOK_OFF_EXPIRES = 40,    /* u64 Unix seconds */
    LM_TOK_OFF_SCOPE_KIND = 48, /* u8 enum lm_scope_kind */
    LM_TOK_OFF_PAYLOAD = 49,    /* u8 enum lm_payload_kind */
    LM_TOK_OFF_VCPUS = 50,      /* u16 */
    LM_TOK_OFF_MEM_MIB = 52,    /* u32 */
    LM_TOK_OFF_SCOPE = 56,      /* 32 scope name */
    LM_TOK_OFF_COMMIT = 88,     /* 32 payload commitment */
    LM_TOK_OFF_ANCHOR = 120,    /* 32 chain anchor H^n(seed) */
    LM_TOK_OFF_CHAIN_LEN = 152, /* u32 n */
    LM_TOK_OFF_LINK_MS = 156,   /* u32 ms of VM time one link buys */
    LM_TOK_OFF_PREPAID = 160,   /* u32 units granted at admission, without a link */
    LM_TOK_OFF_RESERVED = 164,  /* u32 must be 0 */
    LM_TOK_OFF_MAC = 168,       /* 6 MAC; all zero: the host assigns */
    LM_TOK_OFF_PREFIX = 174,    /* u8 IPv4 prefix length */
    LM_TOK_OFF_RESERVED2 = 175, /* u8 must be 0 */
    LM_TOK_OFF_IPV4 = 176,      /* 4 IPv4 address, network order; all zero: host assigns */
    LM_TOK_OFF_RESERVED3 = 180, /* u32 must be 0 */
    LM_TOK_SIGNED_BYTES = 184,  /* the signature covers bytes [0, 184) */
    LM_TOK_OFF_SIG = 184,       /* 64 Ed25519 signature */
    LM_TOKEN_SIZE = 248,
};
_Static_assert(LM_TOK_OFF_SCOPE + LM_SCOPE_BYTES == LM_TOK_OFF_COMMIT, "scope size");
_Static_assert(LM_TOK_OFF_COMMIT + LM_HASH_BYTES == LM_TOK_OFF_ANCHOR, "commitment size");
_Static_assert(LM_TOK_OFF_ANCHOR + LM_HASH_BYTES == LM_TOK_OFF_CHAIN_LEN, "anchor size");
_Static_assert(LM_TOK_OFF_MAC + 6 == LM_TOK_OFF_PREFIX, "mac size");
_Static_assert(LM_TOK_OFF_SIG + LM_SIG_BYTES == LM_TOKEN_SIZE, "token size");

/* Protocol maxima: a token beyond them is malformed whatever the host's own limits. */
#define LM_MAX_MEM_MIB (1u << 20)       /* 1 TiB */
#define LM_MAX_VCPUS 256u
#define LM_MAX_CHAIN_LEN (1u << 24)     /* 16 Mi links */
#define LM_MAX_PREPAID (1u << 24)
#define LM_MAX_LIFETIME_S (400ull * 86400) /* issue to expiry */

enum lm_scope_kind { LM_SCOPE_HOST = 1, LM_SCOPE_CLUSTER = 2 };
enum lm_payload_kind { LM_PAYLOAD_IMAGE = 1, LM_PAYLOAD_CHECKPOINT = 2 };

/* A decoded token; only lm_token_decode() and lm_token_verify() fill one from bytes. */
struct lm_token {
    uint8_t id[LM_TOKEN_ID_BYTES];
    uint64_t key_id;
    uint64_t issued_at, expires_at;
    uint8_t scope_kind, payload_kind;
    uint16_t vcpus;
    uint32_t mem_mib;
    char scope[LM_SCOPE_BYTES + 1]; /* NUL-terminated */
    uint8_t commitment[LM_HASH_BYTES];
    uint8_t anchor[LM_HASH_BYTES];
    uint32_t chain_len, link_value_ms, prepaid_units;
    uint8_t mac[6];
    uint8_t prefix;
    uint8_t ipv4[4];
    uint8_t sig[LM_SIG_BYTES];
};

/* One trusted broker public key. */
struct lm_pubkey {
    uint64_t key_id;
    uint8_t pk[32];
};

/* What a verifier checks a token against. */
struct lm_verify_ctx {
    const struct lm_pubkey *keys; /* trusted broker keys */
    size_t nkeys;
    uint64_t now;             /* Unix seconds */
    uint32_t max_skew_s;      /* tolerated clock difference for "not yet valid" */
    const char *host_name;    /* a token with host scope must name this; NULL: any */
    const char *cluster_name; /* a token with cluster scope must name this; NULL: none */
};

/*
 * Serialises the signed part of t into out[0, LM_TOK_SIGNED_BYTES) and zeroes the
 * signature. Refuses (-LM_INVAL) a struct whose fields would not decode back (a scope
 * longer than 32 bytes). Structural validity is checked on decode, not here, so tests can
 * build bad tokens.
 */
int lm_token_encode(const struct lm_token *t, uint8_t out[LM_TOKEN_SIZE]);

/* Signs out[0, LM_TOK_SIGNED_BYTES) with an Ed25519 secret key (libsodium's 64-byte form). */
int lm_token_sign(uint8_t tok[LM_TOKEN_SIZE], const uint8_t sk[64]);

/*
 * Structural decode: exact length, magic, version, flags, reserved bytes and every field's
 * range. No key, clock or signature is consulted. Returns 0 or -status with d set.
 */
int lm_token_decode(const uint8_t *buf, size_t len, struct lm_token *t, struct lm_diag *d);

/*
 * The claims of a decoded token against a verifier: key id known (*key gets it, if key is
 * non-NULL), lifetime against now, scope. Everything but the signature; no crypto.
 */
int lm_token_check_claims(const struct lm_token *t, const struct lm_verify_ctx *ctx,
                          const struct lm_pubkey **key, struct lm_diag *d);
/* The Ed25519 signature of an encoded token under key: 0 or -LM_BAD_SIGNATURE. */
int lm_token_check_signature(const uint8_t tok[LM_TOKEN_SIZE], const struct lm_pubkey *key,
                             struct lm_diag *d);

/*
 * Full verification, cheapest checks first: decode, key id, lifetime against now, scope,
 * then the Ed25519 signature. Returns 0 or -status with d set.
 */
int lm_token_verify(const uint8_t *buf, size_t len, const struct lm_verify_ctx *ctx,
                    struct lm_token *t, struct lm_diag *d);

/* Total VM time the token is worth: (prepaid_units + chain_len) * link_value_ms. */
uint64_t lm_token_value_ms(const struct lm_token *t);

/* Writes the token id as 32 hex digits plus NUL. */
void lm_token_id_hex(const uint8_t id[LM_TOKEN_ID_BYTES], char out[2 * LM_TOKEN_ID_BYTES + 1]);

#endif
