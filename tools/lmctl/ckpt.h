/* What lmctl checkpoint and lmctl restore share (ckptio.c): one sealed record as a frame of
 * the migration wire, and blocking socket I/O with a deadline per call. */
#ifndef LMCTL_CKPT_H
#define LMCTL_CKPT_H

#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum { LMCTL_MIG_FAILED = 4, LMCTL_MIG_DOUBT = 5 };

#define LMCTL_CKPT_IO_TIMEOUT_S 10 /* a peer silent this long is gone */

/* Seals len bytes of plain into out (4 + len + LM_MIG_SS_ABYTES): length u32, ciphertext. */
size_t lmctl_ckpt_frame(crypto_secretstream_xchacha20poly1305_state *st, const uint8_t *plain,
                        size_t len, bool final, uint8_t *out);
/* Sets fd's send and receive timeouts to LMCTL_CKPT_IO_TIMEOUT_S. */
void lmctl_ckpt_timeouts(int fd);
/* Exactly n bytes; on EOF, error or timeout prints what broke, naming `what`, and returns -1. */
int lmctl_read_full(int fd, uint8_t *b, size_t n, const char *what);
/* All n bytes (a socket or a file); -1 with errno set. */
int lmctl_write_all(int fd, const uint8_t *b, size_t n);

#endif
