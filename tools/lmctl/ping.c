/* lmctl ping: send a magic ping with a boot token; print the host's answer. */
#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/clock.h"
#include "laundromat/wire.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl ping [--pay CHAIN --index K] [--timeout MS] [--json] HOST[:PORT] TOKEN\n"
    "Sends the token to the host agent in a magic ping (UDP, default port 7777), resending\n"
    "until an answer comes. Prints the VM id and the loader's address, or the refusal. Exit\n"
    "status 0 when admitted, 1 when refused or unanswered.\n"
    "  --pay CHAIN    carry a first payment: link K of this chain file\n"
    "  --index K      the link index for --pay (default 1)\n"
    "  --timeout MS   give up after MS milliseconds (default 3000)\n"
    "  --json         print one JSON object\n";

static int match_reply(const uint8_t *b, size_t n, void *arg)
{
    struct lm_ping_reply *r = arg;
    uint64_t nonce = r->nonce;
    return lm_ping_reply_decode(b, n, r, NULL) == 0 && r->nonce == nonce;
}

int lmctl_do_ping(const struct sockaddr_in *host, const uint8_t token[LM_TOKEN_SIZE],
                  const char *chain_path, uint32_t index, unsigned timeout_ms,
                  struct lm_ping_reply *r, double *ms, int *tries)
{
    struct lm_ping p;
    memset(&p, 0, sizeof p);
    randombytes_buf(&p.nonce, sizeof p.nonce);
    memcpy(p.token, token, LM_TOKEN_SIZE);
    if (chain_path) {
        struct lm_chain_secret cs;
        struct lm_diag d;
        if (lm_chainfile_load(chain_path, 0, &cs, &d) != 0) {
            lmctl_err("--pay: %s", d.msg);
            return -1;
        }
        if (lm_chain_link(cs.seed, cs.length, index, p.pay_link) != 0) {
            lmctl_err("--index %u: the chain has %u links", index, cs.length);
            return -1;
        }
        sodium_memzero(&cs, sizeof cs);
        p.has_payment = 1;
        p.pay_index = index;
    }
    uint8_t req[LM_WIRE_MAX], ans[256];
    int n = lm_ping_encode(&p, req, sizeof req);
    memset(r, 0, sizeof *r);
    r->nonce = p.nonce;
    uint64_t t0 = lm_now_ns();
    int got = lmctl_udp_exchange(host, req, (size_t)n, ans, sizeof ans, match_reply, r,
                                 timeout_ms, 200, tries);
    *ms = (double)(lm_now_ns() - t0) / 1e6;
    if (got <= 0) {
        if (got == 0)
            lmctl_err("no answer from %s:%u in %u ms (%d pings sent); is the host agent "
                      "running and the address right?", inet_ntoa(host->sin_addr),
                      ntohs(host->sin_port), timeout_ms, *tries);
        return -1;
    }
    return 0;
}

int cmd_ping(int argc, char **argv)
{
    enum { O_PAY = 256, O_INDEX, O_TIMEOUT, O_JSON };
    static const struct option opts[] = {
        {"pay", required_argument, NULL, O_PAY},         {"index", required_argument, NULL, O_INDEX},
        {"timeout", required_argument, NULL, O_TIMEOUT}, {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},                {0}};
    const char *chain = NULL;
    uint64_t index = 1, timeout = 3000;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_PAY: chain = optarg; break;
        case O_INDEX: if (lmctl_u64("--index", optarg, 1, LM_MAX_CHAIN_LEN, &index)) return LMCTL_USAGE; break;
        case O_TIMEOUT: if (lmctl_u64("--timeout", optarg, 1, 600000, &timeout)) return LMCTL_USAGE; break;
        case O_JSON: json = 1; break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind != argc - 2) {
        lmctl_err("ping: expected HOST and TOKEN");
        fputs(help, stderr);
        return LMCTL_USAGE;
    }
    struct sockaddr_in host;
    uint8_t tok[LM_TOKEN_SIZE + 1];
    size_t len;
    if (lmctl_addr(argv[optind], LM_DEFAULT_PORT, &host) < 0)
        return LMCTL_USAGE;
    if (lmctl_read_token(argv[optind + 1], tok, sizeof tok, &len))
        return LMCTL_FAIL;
    if (len != LM_TOKEN_SIZE) {
        lmctl_err("%s: %zu bytes, a token has %d", argv[optind + 1], len, LM_TOKEN_SIZE);
        return LMCTL_FAIL;
    }
    struct lm_ping_reply r;
    double ms;
    int tries;
    if (lmctl_do_ping(&host, tok, chain, (uint32_t)index, (unsigned)timeout, &r, &ms, &tries))
        return LMCTL_FAIL;
    char loader[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, r.loader_ip, loader, sizeof loader);
    if (json) {
        json_t *o = json_pack("{s:b s:s s:i s:f s:i}", "admitted", r.status == 0, "status",
                              lm_status_name(r.status) ? lm_status_name(r.status) : "?",
                              "status_code", r.status, "ms", ms, "tries", tries);
        if (r.status == 0) {
            json_object_set_new(o, "vm", json_integer((json_int_t)r.vm_id));
            json_object_set_new(o, "loader", json_string(loader));
            json_object_set_new(o, "loader_port", json_integer(r.loader_port));
            json_object_set_new(o, "credit_ms", json_integer((json_int_t)r.credit_ms));
        }
        lmctl_print_json(o);
        json_decref(o);
    } else if (r.status == 0) {
        printf("admitted: VM %llu, loader %s:%u, %llu ms of credit (answer in %.1f ms, %d "
               "ping%s)\n", (unsigned long long)r.vm_id, loader, r.loader_port,
               (unsigned long long)r.credit_ms, ms, tries, tries == 1 ? "" : "s");
    } else {
        printf("refused: %s (%s)\n", lm_status_name(r.status) ? lm_status_name(r.status) : "?",
               lm_status_text(r.status));
    }
    return r.status == 0 ? LMCTL_OK : LMCTL_FAIL;
}
