/* lmctl pay: a paying loop, sending hash-chain links for a token to its host. */
#include <arpa/inet.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "laundromat/chain.h"
#include "laundromat/wire.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl pay [--from K] [--step S] [--every MS] [--count N] [--quiet]\n"
    "                 HOST[:PORT] TOKEN CHAIN\n"
    "Pays for the VM of TOKEN: sends link K of CHAIN (the chain file the token's anchor came\n"
    "from), then K+S, ... every MS milliseconds, printing what the host credited. Stops after\n"
    "N payments, at the chain's end, or when the host no longer runs the VM (exit status 1).\n"
    "  --from K     first link index (default 1)\n"
    "  --step S     links per payment (default 1)\n"
    "  --every MS   interval (default 1000)\n"
    "  --count N    payments to send (default: until the chain's end)\n"
    "  --quiet      print only problems and the last answer\n";

int lmctl_pay_match(const uint8_t *b, size_t n, void *arg)
{
    struct lmctl_pay_match *m = arg;
    return lm_pay_reply_decode(b, n, m->r, NULL) == 0 &&
           memcmp(m->r->token_id, m->id, LM_TOKEN_ID_BYTES) == 0;
}

int cmd_pay(int argc, char **argv)
{
    enum { O_FROM = 256, O_STEP, O_EVERY, O_COUNT };
    static const struct option opts[] = {
        {"from", required_argument, NULL, O_FROM},   {"step", required_argument, NULL, O_STEP},
        {"every", required_argument, NULL, O_EVERY}, {"count", required_argument, NULL, O_COUNT},
        {"quiet", no_argument, NULL, 'q'},           {"help", no_argument, NULL, 'h'},
        {0}};
    uint64_t from = 1, step = 1, every = 1000, count = UINT32_MAX;
    int quiet = 0, c;
    while ((c = getopt_long(argc, argv, "qh", opts, NULL)) != -1) {
        switch (c) {
        case O_FROM: if (lmctl_u64("--from", optarg, 1, LM_MAX_CHAIN_LEN, &from)) return LMCTL_USAGE; break;
        case O_STEP: if (lmctl_u64("--step", optarg, 1, LM_MAX_CHAIN_LEN, &step)) return LMCTL_USAGE; break;
        case O_EVERY: if (lmctl_u64("--every", optarg, 0, 3600000, &every)) return LMCTL_USAGE; break;
        case O_COUNT: if (lmctl_u64("--count", optarg, 1, UINT32_MAX, &count)) return LMCTL_USAGE; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind != argc - 3) {
        lmctl_err("pay: expected HOST, TOKEN and CHAIN");
        fputs(help, stderr);
        return LMCTL_USAGE;
    }
    struct sockaddr_in host;
    uint8_t tok[LM_TOKEN_SIZE + 1];
    size_t len;
    struct lm_token t;
    struct lm_diag d;
    if (lmctl_addr(argv[optind], LM_DEFAULT_PORT, &host) < 0)
        return LMCTL_USAGE;
    if (lmctl_read_token(argv[optind + 1], tok, sizeof tok, &len) ||
        lm_token_decode(tok, len, &t, &d) != 0) {
        lmctl_err("%s: not a valid token", argv[optind + 1]);
        return LMCTL_FAIL;
    }
    struct lm_chain_secret cs;
    if (lm_chainfile_load(argv[optind + 2], 0, &cs, &d) != 0) {
        lmctl_err("%s", d.msg);
        return LMCTL_FAIL;
    }
    if (cs.length != t.chain_len || memcmp(cs.anchor, t.anchor, LM_HASH_BYTES) != 0) {
        lmctl_err("%s is not the chain of this token (its anchor or length differs)",
                  argv[optind + 2]);
        return LMCTL_FAIL;
    }
    struct lm_chain_payer payer;
    if (lm_chain_payer_init(&payer, cs.seed, cs.length) != 0) {
        lmctl_err("out of memory for the chain");
        return LMCTL_FAIL;
    }
    sodium_memzero(&cs, sizeof cs);
    struct lm_pay_reply r;
    struct lmctl_pay_match m = {.r = &r};
    memcpy(m.id, t.id, LM_TOKEN_ID_BYTES);
    int rc = LMCTL_OK;
    uint64_t sent = 0;
    for (uint64_t k = from; k <= t.chain_len && sent < count; k += step, sent++) {
        struct lm_pay p = {.index = (uint32_t)k};
        memcpy(p.token_id, t.id, LM_TOKEN_ID_BYTES);
        lm_chain_payer_link(&payer, (uint32_t)k, p.link);
        uint8_t req[LM_PAY_SIZE], ans[128];
        lm_pay_encode(&p, req, sizeof req);
        int tries;
        int n = lmctl_udp_exchange(&host, req, sizeof req, ans, sizeof ans, lmctl_pay_match, &m, 2000, 250,
                                   &tries);
        if (n <= 0) {
            lmctl_err("link %llu: no answer from the host", (unsigned long long)k);
            rc = LMCTL_FAIL;
            break;
        }
        int last = sent + 1 == count || k + step > t.chain_len;
        if (!quiet || r.status || last)
            printf("link %llu: %s, paid through %u, %llu ms of credit\n", (unsigned long long)k,
                   r.status ? lm_status_name(r.status) : "accepted", r.accepted_index,
                   (unsigned long long)r.credit_ms);
        fflush(stdout);
        if (r.status == LM_UNKNOWN_TOKEN) {
            rc = LMCTL_FAIL;
            break;
        }
        if (!last && every)
            usleep((useconds_t)(every * 1000));
    }
    lm_chain_payer_free(&payer);
    return rc;
}
