/* UDP wire messages between buyer, guest and Evil Man: magic ping, payment, their replies. */
#ifndef LAUNDROMAT_WIRE_H
#define LAUNDROMAT_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/hash.h"
#include "laundromat/status.h"
#include "laundromat/token.h"

#define LM_WIRE_VERSION 1
#define LM_PING_MAGIC "LMPG"
#define LM_PING_REPLY_MAGIC "LMPR"
#define LM_PAY_MAGIC "LMPY"
#define LM_PAY_REPLY_MAGIC "LMPA"
#define LM_DEFAULT_PORT 7777

#define LM_PING_FLAG_PAYMENT 0x0001u /* a first payment follows the token */
#define LM_PING_REPLY_FLAG_VOUCHED 0x0001u /* a loader key and the host's signature follow */

/* Sizes and offsets; every message is little-endian and of exact length. */
enum {
    LM_PING_OFF_TOKEN = 16,
    LM_PING_SIZE = LM_PING_OFF_TOKEN + LM_TOKEN_SIZE, /* 264 */
    LM_PING_SIZE_PAID = LM_PING_SIZE + 4 + LM_HASH_BYTES, /* 300 */
    LM_PING_REPLY_SIZE = 64,
    LM_PING_REPLY_VOUCHED_SIZE = LM_PING_REPLY_SIZE + 32 + 64, /* 160 */
    LM_PING_REPLY_MAX = LM_PING_REPLY_VOUCHED_SIZE,
    LM_PAY_SIZE = 64,
    LM_PAY_REPLY_SIZE = 48,
    LM_WIRE_MAX = LM_PING_SIZE_PAID, /* the largest datagram any side accepts */
};
_Static_assert(LM_PING_SIZE == 264 && LM_PING_SIZE_PAID == 300, "ping sizes");

struct lm_ping {
    uint64_t nonce; /* chosen by the sender, echoed in the reply */
    uint8_t token[LM_TOKEN_SIZE]; /* still to be verified with lm_token_verify() */
    int has_payment;
    uint32_t pay_index;
    uint8_t pay_link[LM_HASH_BYTES];
};

struct lm_ping_reply {
    uint16_t status; /* enum lm_status */
    uint64_t nonce;
    uint8_t token_id[LM_TOKEN_ID_BYTES];
    uint64_t vm_id;
    uint64_t server_time;  /* the host's clock, Unix seconds: shows skew on EXPIRED etc. */
    uint8_t loader_ip[4];  /* where to inject the payload */
    uint16_t loader_port;
    uint64_t credit_ms;    /* VM time left (credited minus used), as in a payment reply */
    uint16_t flags;        /* LM_PING_REPLY_FLAG_VOUCHED: the two fields below are present */
    /* Checkpoint tokens: the loader VM's X25519 public key, and the host's Ed25519 signature
     * over lm_vouch_message(): the guest sends its memory only to this key. */
    uint8_t loader_pub[32];
    uint8_t vouch_sig[64];
};

struct lm_pay {
    uint8_t token_id[LM_TOKEN_ID_BYTES];
    uint32_t index;
    uint8_t link[LM_HASH_BYTES];
};

struct lm_pay_reply {
    uint16_t status;
    uint8_t token_id[LM_TOKEN_ID_BYTES];
    uint32_t accepted_index; /* newest link accepted for this token */
    uint64_t credit_ms;      /* VM time left */
    uint64_t server_time;
};

/*
 * The message a host signs to vouch for a loader VM: LM_DOMAIN_VOUCH || token_id[16] ||
 * vm_id u64 || loader_ip[4] || loader_port u16 || loader_pub[32] (little-endian). The key is
 * the operator's, as the broker's host directory lists it.
 */
enum { LM_VOUCH_MSG_MAX = 96 };
size_t lm_vouch_message(const struct lm_ping_reply *r, uint8_t out[LM_VOUCH_MSG_MAX]);
/* Sets the VOUCHED flag and vouch_sig (sk: Ed25519 secret key, 64 bytes). */
void lm_vouch_sign(struct lm_ping_reply *r, const uint8_t sk[64]);
/* 0 when r is vouched for by pk; else -LM_BAD_SIGNATURE (or -LM_INVAL unvouched) with d. */
int lm_vouch_verify(const struct lm_ping_reply *r, const uint8_t pk[32], struct lm_diag *d);

/* Encoders write exactly the message size and return it (or -LM_INVAL on a bad buffer). */
int lm_ping_encode(const struct lm_ping *m, uint8_t *buf, size_t cap);
int lm_ping_reply_encode(const struct lm_ping_reply *m, uint8_t *buf, size_t cap);
int lm_pay_encode(const struct lm_pay *m, uint8_t *buf, size_t cap);
int lm_pay_reply_encode(const struct lm_pay_reply *m, uint8_t *buf, size_t cap);

/* Decoders take one whole datagram; 0 or -status (BAD_MAGIC, BAD_VERSION, TRUNCATED, ...). */
int lm_ping_decode(const uint8_t *buf, size_t len, struct lm_ping *m, struct lm_diag *d);
int lm_ping_reply_decode(const uint8_t *buf, size_t len, struct lm_ping_reply *m,
                         struct lm_diag *d);
int lm_pay_decode(const uint8_t *buf, size_t len, struct lm_pay *m, struct lm_diag *d);
int lm_pay_reply_decode(const uint8_t *buf, size_t len, struct lm_pay_reply *m,
                        struct lm_diag *d);

#endif
