/* Sealed frames and blocking I/O for checkpoint and restore (ckpt.h). */
#include <errno.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "laundromat/migrate.h"
#include "ckpt.h"
#include "lmctl.h"

size_t lmctl_ckpt_frame(crypto_secretstream_xchacha20poly1305_state *st, const uint8_t *plain,
                        size_t len, bool final, uint8_t *out)
{
    unsigned long long clen;
    crypto_secretstream_xchacha20poly1305_push(st, out + 4, &clen, plain, len, NULL, 0,
                                               final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0);
    for (int i = 0; i < 4; i++)
        out[i] = (uint8_t)(clen >> (8 * i));
    return 4 + (size_t)clen;
}

void lmctl_ckpt_timeouts(int fd)
{
    struct timeval tv = {LMCTL_CKPT_IO_TIMEOUT_S, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int lmctl_read_full(int fd, uint8_t *b, size_t n, const char *what)
{
    size_t got = 0;
    while (got < n) {
        ssize_t k = read(fd, b + got, n - got);
        if (k > 0) {
            got += (size_t)k;
            continue;
        }
        if (k < 0 && errno == EINTR)
            continue;
        if (k == 0)
            lmctl_err("%s ended early (%zu of %zu bytes of the next piece)", what, got, n);
        else if (errno == EAGAIN || errno == EWOULDBLOCK)
            lmctl_err("%s: silent for %d s", what, LMCTL_CKPT_IO_TIMEOUT_S);
        else
            lmctl_err("%s: %m", what);
        return -1;
    }
    return 0;
}

int lmctl_write_all(int fd, const uint8_t *b, size_t n)
{
    while (n > 0) {
        /* A socket whose peer is gone must give EPIPE, not SIGPIPE: lmctl says what broke. */
        ssize_t k = send(fd, b, n, MSG_NOSIGNAL);
        if (k < 0 && errno == ENOTSOCK)
            k = write(fd, b, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k <= 0)
            return -1;
        b += k;
        n -= (size_t)k;
    }
    return 0;
}
