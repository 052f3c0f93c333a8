/* lmctl run: ping, inject, and (optionally) wait for the new kernel to answer TCP; timed. */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laundromat/clock.h"
#include "laundromat/payload.h"
#include "laundromat/wire.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl run [--cmdline STR] [--pay CHAIN --index K] [--wait-tcp PORT]\n"
    "                 [--timeout MS] HOST[:PORT] TOKEN IMAGE\n"
    "Both steps of a boot: the magic ping, then the image to the loader it announces; with\n"
    "--wait-tcp, also until the new kernel accepts TCP on PORT. Prints each step's time.\n"
    "The ping spends the token, so first lmctl checks all it can: the token decodes and is\n"
    "for an image, IMAGE is a regular file, not empty, within the loader's size limit, an\n"
    "x86-64 ELF executable that fits the token's memory, and the image the token commits to.\n"
    "  --timeout MS   each step gives up after MS milliseconds (default 10000)\n";

/* Ping, inject, wait: once everything local has been checked. */
static int run(const struct sockaddr_in *host, const uint8_t tok[LM_TOKEN_SIZE],
               const struct lmctl_image *img, const char *chain, uint32_t index,
               const char *cmdline, unsigned timeout, uint16_t wait_port);

int cmd_run(int argc, char **argv)
{
    enum { O_CMDLINE = 256, O_PAY, O_INDEX, O_WAIT, O_TIMEOUT };
    static const struct option opts[] = {
        {"cmdline", required_argument, NULL, O_CMDLINE}, {"pay", required_argument, NULL, O_PAY},
        {"index", required_argument, NULL, O_INDEX},     {"wait-tcp", required_argument, NULL, O_WAIT},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"help", no_argument, NULL, 'h'},
        {0}};
    const char *cmdline = "", *chain = NULL;
    uint64_t index = 1, wait_port = 0, timeout = 10000;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_CMDLINE: cmdline = optarg; break;
        case O_PAY: chain = optarg; break;
        case O_INDEX: if (lmctl_u64("--index", optarg, 1, LM_MAX_CHAIN_LEN, &index)) return LMCTL_USAGE; break;
        case O_WAIT: if (lmctl_u64("--wait-tcp", optarg, 1, 65535, &wait_port)) return LMCTL_USAGE; break;
        case O_TIMEOUT: if (lmctl_u64("--timeout", optarg, 1, 600000, &timeout)) return LMCTL_USAGE; break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind != argc - 3) {
        lmctl_err("run: expected HOST, TOKEN and IMAGE");
        fputs(help, stderr);
        return LMCTL_USAGE;
    }
    struct sockaddr_in host;
    uint8_t tok[LM_TOKEN_SIZE + 1];
    size_t len;
    if (lmctl_addr(argv[optind], LM_DEFAULT_PORT, &host) < 0 || lmctl_cmdline_check(cmdline))
        return LMCTL_USAGE;
    /* The ping spends the token: everything that can be checked here is, before it. */
    struct lm_token t;
    struct lm_diag d;
    if (lmctl_read_token(argv[optind + 1], tok, sizeof tok, &len))
        return LMCTL_FAIL;
    if (lm_token_decode(tok, len, &t, &d) != 0) {
        lmctl_err("%s: not a token: %s", argv[optind + 1], d.msg);
        return LMCTL_FAIL;
    }
    struct lmctl_image img;
    if (lmctl_image_load(argv[optind + 2], &t, LMCTL_IMAGE_SEND, &img) != 0)
        return LMCTL_FAIL;
    int rc = run(&host, tok, &img, chain, (uint32_t)index, cmdline, (unsigned)timeout,
                 (uint16_t)wait_port);
    lmctl_image_free(&img);
    return rc;
}

static int run(const struct sockaddr_in *host, const uint8_t tok[LM_TOKEN_SIZE],
               const struct lmctl_image *img, const char *chain, uint32_t index,
               const char *cmdline, unsigned timeout, uint16_t wait_port)
{
    uint64_t t0 = lm_now_ns();
    struct lm_ping_reply r;
    double ping_ms, cms, tms;
    int tries;
    if (lmctl_do_ping(host, tok, chain, index, timeout, &r, &ping_ms, &tries))
        return LMCTL_FAIL;
    if (r.status) {
        printf("refused: %s (%s)\n", lm_status_name(r.status), lm_status_text(r.status));
        return LMCTL_FAIL;
    }
    char ip[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, r.loader_ip, ip, sizeof ip);
    printf("ping:    admitted as VM %llu in %.1f ms; loader %s:%u\n", (unsigned long long)r.vm_id,
           ping_ms, ip, r.loader_port);
    struct sockaddr_in loader = {.sin_family = AF_INET, .sin_port = htons(r.loader_port)};
    memcpy(&loader.sin_addr, r.loader_ip, 4);
    char answer[512];
    int rc = lmctl_do_inject(&loader, img, cmdline, timeout, answer, sizeof answer, &cms, &tms);
    if (rc < 0)
        return LMCTL_FAIL;
    printf("inject:  loader accepted the connection %.1f ms after the answer, took the image "
           "in %.1f ms: %s\n", cms, tms - cms, answer);
    if (rc)
        return LMCTL_FAIL;
    if (wait_port) {
        struct sockaddr_in svc = loader;
        svc.sin_port = htons((uint16_t)wait_port);
        uint64_t deadline = lm_now_ns() + timeout * 1000000ull;
        for (;;) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            int ok = fd >= 0 && connect(fd, (struct sockaddr *)&svc, sizeof svc) == 0;
            if (fd >= 0)
                close(fd);
            if (ok)
                break;
            if (lm_now_ns() > deadline) {
                lmctl_err("the new kernel did not accept TCP on port %llu",
                          (unsigned long long)wait_port);
                return LMCTL_FAIL;
            }
            usleep(1000);
        }
        printf("serve:   the new kernel accepts TCP on port %llu\n", (unsigned long long)wait_port);
    }
    printf("total:   %.1f ms from ping to %s\n", (double)(lm_now_ns() - t0) / 1e6,
           wait_port ? "the image answering TCP" : "the image running");
    return LMCTL_OK;
}
