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

/* Sizes and offsets; every message is little-endian and of exact length. */
enum {
    LM_PING_OFF_TOKEN = 16,
    LM_PING_SIZE = LM_PING_OFF_TOKEN + LM_TOKEN_SIZE, /* 264 */
    LM_PING_SIZE_PAID = LM_PING_SIZE + 4 + LM_HASH_BYTES, /* 300 */
    LM_PING_REPLY_SIZE = 64,
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
