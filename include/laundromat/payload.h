/* The payload stream a buyer sends to the in-VM loader over TCP, and the loader's answer. */
#ifndef LAUNDROMAT_PAYLOAD_H
#define LAUNDROMAT_PAYLOAD_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/status.h"
#include "laundromat/token.h"

#define LM_PAYLOAD_MAGIC "LMPL"
#define LM_PAYLOAD_VERSION 1
#define LM_PAYLOAD_HEADER_SIZE 24
#define LM_PAYLOAD_MAX (32u << 20)  /* largest image the loader stages */
#define LM_PAYLOAD_CMDLINE_MAX 1023 /* the loaded kernel's command line */
#define LM_LOADER_PORT 7700         /* default TCP port of the loader */

/*
 * Header, little-endian: magic "LMPL" (4), version u16 = 1, kind u16 (enum lm_payload_kind),
 * payload length u64, command line length u32, reserved u32 = 0. Then the command line
 * (not NUL-terminated), then the payload. The loader answers with one line: "OK ...\n" or
 * "ERR <NAME> <message>\n", then closes.
 */
struct lm_payload_header {
    uint16_t kind;
    uint64_t length;
    uint32_t cmdline_len;
};

/*
 * The payload kinds, one table for senders and the loader: each with its name, the hash
 * domain of its commitment, and its limits. An image is staged whole (at most
 * LM_PAYLOAD_MAX bytes) and checked against BLAKE2b-256(LM_DOMAIN_IMAGE || image); a
 * checkpoint streams straight into RAM (its length is the guest's RAM, at most
 * LM_CHECKPOINT_MAX), authenticated with keys under LM_DOMAIN_MIGRATE (migrate.h), and takes
 * no command line.
 */
#define LM_CHECKPOINT_MAX (1792ull << 20) /* RAM of a loader VM: below LM_LOADER_GPA */
struct lm_payload_kind_info {
    uint16_t kind;
    const char *name;
    const char *domain;
    uint64_t max_length;
    uint32_t max_cmdline;
};
/* The kind's entry, or NULL for an unknown kind. */
const struct lm_payload_kind_info *lm_payload_kind_info(uint16_t kind);

/* Checks exactly LM_PAYLOAD_HEADER_SIZE bytes: magic, version, kind, limits, reserved. */
int lm_payload_header_decode(const uint8_t *b, size_t len, struct lm_payload_header *h,
                             struct lm_diag *d);
void lm_payload_header_encode(const struct lm_payload_header *h,
                              uint8_t out[LM_PAYLOAD_HEADER_SIZE]);

#endif
