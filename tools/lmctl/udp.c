/* The UDP side of lmctl: a host's address, and request/answer with retries (UDP loses). */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laundromat/clock.h"
#include "laundromat/wire.h"
#include "lmctl.h"

int lmctl_addr(const char *s, uint16_t default_port, struct sockaddr_in *out)
{
    char host[256];
    const char *colon = strrchr(s, ':');
    unsigned long port = default_port;
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    if (n >= sizeof host)
        goto bad;
    memcpy(host, s, n);
    host[n] = '\0';
    if (colon) {
        char *end;
        port = strtoul(colon + 1, &end, 10);
        if (*end || port == 0 || port > 65535)
            goto bad;
    }
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &out->sin_addr) == 1)
        return 0;
    struct addrinfo hints = {.ai_family = AF_INET}, *res;
    if (getaddrinfo(host, NULL, &hints, &res) != 0)
        goto bad;
    out->sin_addr = ((struct sockaddr_in *)res->ai_addr)->sin_addr;
    freeaddrinfo(res);
    return 0;
bad:
    lmctl_err("\"%s\": expected HOST or HOST:PORT (an IPv4 address or a name)", s);
    return -1;
}

int lmctl_udp_exchange(const struct sockaddr_in *to, const uint8_t *req, size_t len,
                       uint8_t *ans, size_t cap, int (*match)(const uint8_t *, size_t, void *),
                       void *arg, unsigned timeout_ms, unsigned retry_ms, int *tries)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (const struct sockaddr *)to, sizeof *to) < 0) {
        lmctl_err("socket: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    uint64_t start = lm_now_ns(), deadline = start + timeout_ms * 1000000ull;
    *tries = 0;
    for (;;) {
        uint64_t now = lm_now_ns();
        if (now >= deadline)
            break;
        send(fd, req, len, 0); /* ECONNREFUSED from an earlier try is no reason to stop */
        (*tries)++;
        uint64_t next = now + retry_ms * 1000000ull;
        if (next > deadline)
            next = deadline;
        while ((now = lm_now_ns()) < next) {
            struct pollfd p = {.fd = fd, .events = POLLIN};
            if (poll(&p, 1, (int)((next - now + 999999) / 1000000)) <= 0)
                continue;
            ssize_t n = recv(fd, ans, cap, 0);
            if (n > 0 && match(ans, (size_t)n, arg)) {
                close(fd);
                return (int)n;
            }
        }
    }
    close(fd);
    return 0;
}
