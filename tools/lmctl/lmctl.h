/* lmctl internal header: command entry points and the helpers they share. */
#ifndef LMCTL_H
#define LMCTL_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/token.h"

/* Exit codes: 0 success, 1 failure (invalid token, I/O, ...), 2 usage error. */
enum { LMCTL_OK = 0, LMCTL_FAIL = 1, LMCTL_USAGE = 2 };

int cmd_keygen(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_chain(int argc, char **argv);

/* Logs "lmctl: error: ..." to stderr. */
void lmctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses a decimal number in [min, max]; on failure prints why (naming opt) and returns -1. */
int lmctl_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parses exactly n bytes of hex; on failure prints why and returns -1. */
int lmctl_hex(const char *opt, const char *s, uint8_t *out, size_t n);
/*
 * Reads a token from path ("-": stdin): LM_TOKEN_SIZE raw bytes, or hex (whitespace
 * ignored). Up to cap bytes land in buf; *len is the decoded length (may differ from
 * LM_TOKEN_SIZE: the decoder reports that). Returns 0 or -1 with a message printed.
 */
int lmctl_read_token(const char *path, uint8_t *buf, size_t cap, size_t *len);

#endif
