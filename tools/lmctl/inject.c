/* lmctl inject: send an image to a VM's loader; print the loader's answer. */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "laundromat/clock.h"
#include "laundromat/payload.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl inject [--cmdline STR] [--timeout MS] ADDR[:PORT] IMAGE\n"
    "Sends IMAGE (an ELF kernel) to the loader of a freshly booted VM (default port 7700),\n"
    "retrying the connection while the loader comes up, and prints the loader's answer. The\n"
    "loader checks the image against the token's commitment before it runs it. lmctl first\n"
    "checks what it can: a regular file, not empty, within the loader's size limit, an x86-64\n"
    "ELF executable. Exit status 0 when the loader took the image.\n"
    "  --cmdline STR  the kernel's command line (e.g. \"app=http\")\n"
    "  --timeout MS   give up after MS milliseconds (default 10000)\n";

/* The socket's sends (and connect) give up at the deadline: a peer that stops reading must
 * not hold lmctl. */
static void send_deadline(int fd, uint64_t deadline)
{
    uint64_t now = lm_now_ns(), left = deadline > now ? (deadline - now) / 1000 : 1;
    struct timeval tv = {(time_t)(left / 1000000), (suseconds_t)(left % 1000000)};
    if (!tv.tv_sec && !tv.tv_usec)
        tv.tv_usec = 1;
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

/* Connects, retrying refusals and unreachable hosts until the deadline. */
static int connect_retry(const struct sockaddr_in *to, uint64_t deadline)
{
    for (;;) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0)
            send_deadline(fd, deadline);
        if (fd >= 0 && connect(fd, (const struct sockaddr *)to, sizeof *to) == 0)
            return fd;
        int err = errno;
        if (fd >= 0)
            close(fd);
        if (lm_now_ns() >= deadline) {
            lmctl_err("cannot connect to the loader at %s:%u: %s", inet_ntoa(to->sin_addr),
                      ntohs(to->sin_port), strerror(err));
            return -1;
        }
        usleep(2000);
    }
}

static int send_all(int fd, const void *p, size_t n)
{
    for (const char *c = p; n > 0;) {
        ssize_t w = send(fd, c, n, MSG_NOSIGNAL);
        if (w <= 0)
            return -1;
        c += w;
        n -= (size_t)w;
    }
    return 0;
}

int lmctl_cmdline_check(const char *cmdline)
{
    size_t clen = strlen(cmdline);
    if (clen <= LM_PAYLOAD_CMDLINE_MAX)
        return 0;
    lmctl_err("--cmdline: %zu bytes; the loader takes at most %d", clen, LM_PAYLOAD_CMDLINE_MAX);
    return -1;
}

int lmctl_do_inject(const struct sockaddr_in *to, const struct lmctl_image *img,
                    const char *cmdline, unsigned timeout_ms, char *answer, size_t cap,
                    double *connect_ms, double *total_ms)
{
    uint64_t t0 = lm_now_ns(), deadline = t0 + timeout_ms * 1000000ull;
    size_t clen = strlen(cmdline);
    int fd = connect_retry(to, deadline);
    *connect_ms = (double)(lm_now_ns() - t0) / 1e6;
    if (fd < 0)
        return -1;
    struct lm_payload_header h = {
        .kind = LM_PAYLOAD_IMAGE, .length = img->len, .cmdline_len = (uint32_t)clen};
    uint8_t hb[LM_PAYLOAD_HEADER_SIZE];
    lm_payload_header_encode(&h, hb);
    int rc = send_all(fd, hb, sizeof hb) || send_all(fd, cmdline, clen) ||
             send_all(fd, img->buf, img->len);
    /* Read the answer line; only then close (the loader waits for that before it hands over). */
    size_t got = 0;
    while (got < cap - 1) {
        uint64_t now = lm_now_ns();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (now >= deadline || poll(&p, 1, (int)((deadline - now) / 1000000 + 1)) <= 0)
            break;
        ssize_t n = recv(fd, answer + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(answer, '\n', got))
            break;
    }
    answer[got] = '\0';
    answer[strcspn(answer, "\n")] = '\0';
    close(fd);
    *total_ms = (double)(lm_now_ns() - t0) / 1e6;
    if (!got) {
        lmctl_err("the loader at %s:%u sent no answer within %u ms%s", inet_ntoa(to->sin_addr),
                  ntohs(to->sin_port), timeout_ms,
                  rc ? " (sending the image failed or timed out)" : "");
        return -1;
    }
    return strncmp(answer, "OK", 2) == 0 ? 0 : 1;
}

int cmd_inject(int argc, char **argv)
{
    enum { O_CMDLINE = 256, O_TIMEOUT };
    static const struct option opts[] = {{"cmdline", required_argument, NULL, O_CMDLINE},
                                         {"timeout", required_argument, NULL, O_TIMEOUT},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *cmdline = "";
    uint64_t timeout = 10000;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_CMDLINE: cmdline = optarg; break;
        case O_TIMEOUT: if (lmctl_u64("--timeout", optarg, 1, 600000, &timeout)) return LMCTL_USAGE; break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind != argc - 2) {
        lmctl_err("inject: expected ADDR and IMAGE");
        fputs(help, stderr);
        return LMCTL_USAGE;
    }
    struct sockaddr_in to;
    if (lmctl_addr(argv[optind], LM_LOADER_PORT, &to) < 0 || lmctl_cmdline_check(cmdline))
        return LMCTL_USAGE;
    struct lmctl_image img;
    if (lmctl_image_load(argv[optind + 1], NULL, LMCTL_IMAGE_SEND, &img) != 0)
        return LMCTL_FAIL;
    char answer[512];
    double cms, tms;
    int rc =
        lmctl_do_inject(&to, &img, cmdline, (unsigned)timeout, answer, sizeof answer, &cms, &tms);
    lmctl_image_free(&img);
    if (rc < 0)
        return LMCTL_FAIL;
    printf("loader: %s\n", answer);
    printf("inject: connected in %.1f ms, answered in %.1f ms\n", cms, tms);
    return rc == 0 ? LMCTL_OK : LMCTL_FAIL;
}
