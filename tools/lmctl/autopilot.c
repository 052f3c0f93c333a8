/*
 * lmctl autopilot: keeps a named VM alive on its owner's behalf. Every interval it finds the
 * VM (the broker's location), asks the guest its status (the owner's key), and reads the
 * broker's directory; it pays the host from the buyer's chain (--token, --chain) whenever the
 * credit left falls under a few intervals' worth; and it moves the VM (`lmctl migrate`, with a
 * payment chain so that the guest pays its new host itself) when its host evicts it, or when
 * another host costs less by the margin. Every decision is logged with its reason; --dry-run
 * logs what it would do and does nothing.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "laundromat/chain.h"
#include "laundromat/clock.h"
#include "laundromat/guestctl.h"
#include "laundromat/spawn.h"
#include "laundromat/wire.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl autopilot --owner FILE [--token FILE --chain FILE] [--margin PCT]\n"
    "                       [--interval MS] [--pay-chain N] [--prepaid N] [--duration S]\n"
    "                       [--dry-run] [--broker URL] [--key FILE] NAME\n"
    "Keeps the VM NAME (a name given at purchase) alive for its owner: pays its host from the\n"
    "buyer's chain when its credit runs low, and moves it when its host evicts it or another\n"
    "host costs less by the margin. Every decision is logged to stderr with its reason.\n"
    "  --owner FILE     the owner key the guest obeys (default $LM_OWNER)\n"
    "  --token FILE, --chain FILE\n"
    "                   the VM's token and its payment chain: autopilot pays from it (after a\n"
    "                   move the guest pays its new host from a chain of its own)\n"
    "  --margin PCT     move when another host is at least PCT %% cheaper (default 20)\n"
    "  --interval MS    how often it looks (default 1000)\n"
    "  --pay-chain N    links of the chain a move buys for the guest (default 3600)\n"
    "  --prepaid N      units a move's token prepays (default 10)\n"
    "  --duration S     stop after S seconds (default: run until interrupted)\n"
    "  --dry-run        log what it would do, do nothing\n"
    LMCTL_BROKER_HELP
    "exit status: 0 when --duration ran out; 1 when the VM cannot be found or a move left it\n"
    "in doubt (lmctl migrate --resolve)\n";

struct pilot {
    const char *name, *owner_path, *url, *key, *self;
    struct lmctl_owner o;
    int dry_run;
    uint64_t margin, interval_ms, pay_chain, prepaid;
    /* paying: the token it pays for, its host's address, the chain */
    int paying, have_payer;
    struct lm_token t;
    struct lm_chain_payer payer;
    uint32_t next_link;
    uint64_t credit_ms; /* as of the last payment's reply; 0: not known yet */
};

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
    char when[16];
    time_t now = time(NULL);
    strftime(when, sizeof when, "%H:%M:%S", gmtime(&now));
    fprintf(stderr, "autopilot %s: ", when);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
}

/* Links enough for `target` ms of credit, in one payment (the newest link pays for all before
 * it); updates credit_ms. 0, or -1 (said). */
static int pay_once(struct pilot *p, const struct sockaddr_in *host, uint64_t target)
{
    uint64_t lv = p->t.link_value_ms ? p->t.link_value_ms : 1000;
    uint64_t want = p->credit_ms < target ? (target - p->credit_ms + lv - 1) / lv : 1;
    uint64_t index = p->next_link - 1 + (want ? want : 1);
    if (index > p->t.chain_len)
        index = p->t.chain_len;
    if (p->next_link > p->t.chain_len) {
        say("decision: cannot pay: the chain's %u links are spent", p->t.chain_len);
        return -1;
    }
    struct lm_pay pay = {.index = (uint32_t)index};
    memcpy(pay.token_id, p->t.id, LM_TOKEN_ID_BYTES);
    lm_chain_payer_link(&p->payer, (uint32_t)index, pay.link);
    uint8_t req[LM_PAY_SIZE], ans[128];
    lm_pay_encode(&pay, req, sizeof req);
    struct lm_pay_reply r;
    struct lmctl_pay_match m = {.r = &r};
    memcpy(m.id, p->t.id, LM_TOKEN_ID_BYTES);
    int tries, n = lmctl_udp_exchange(host, req, sizeof req, ans, sizeof ans, lmctl_pay_match, &m, 2000, 250, &tries);
    if (n <= 0) {
        say("pay: link %llu: no answer from %s", (unsigned long long)index, inet_ntoa(host->sin_addr));
        return -1;
    }
    if (r.status == LM_UNKNOWN_TOKEN) {
        say("pay: the host no longer runs this token's VM (after a move its guest pays its host); autopilot stops paying");
        p->paying = 0;
        return -1;
    }
    if ((r.status == LM_CHAIN_STALE || r.status == LM_CHAIN_DUPLICATE) && r.accepted_index >= p->next_link) {
        /* Links were paid before this run (another autopilot, lmctl pay): go on after them. */
        say("pay: the host has links up to %u already: going on from there", r.accepted_index);
        p->next_link = r.accepted_index + 1;
        p->credit_ms = r.credit_ms;
        return pay_once(p, host, target);
    }
    say("pay: link %llu %s: %llu ms of credit", (unsigned long long)index, r.status ? lm_status_name(r.status) : "accepted", (unsigned long long)r.credit_ms);
    p->credit_ms = r.credit_ms;
    p->next_link = r.accepted_index + 1 > index + 1 ? r.accepted_index + 1 : (uint32_t)index + 1;
    return 0;
}

/* Runs `lmctl migrate` (this binary) to move the VM; its exit status. */
static int move(struct pilot *p, const char *to)
{
    char pc[24], pp[24];
    snprintf(pc, sizeof pc, "%llu", (unsigned long long)p->pay_chain);
    snprintf(pp, sizeof pp, "%llu", (unsigned long long)p->prepaid);
    char *argv[20];
    int i = 0;
    argv[i++] = "lmctl";
    argv[i++] = "migrate";
    argv[i++] = "--owner";
    argv[i++] = (char *)p->owner_path;
    argv[i++] = "--to";
    argv[i++] = (char *)to;
    argv[i++] = "--pay-chain";
    argv[i++] = pc;
    argv[i++] = "--prepaid";
    argv[i++] = pp;
    argv[i++] = "--quiet";
    if (p->url) {
        argv[i++] = "--broker";
        argv[i++] = (char *)p->url;
    }
    if (p->key) {
        argv[i++] = "--key";
        argv[i++] = (char *)p->key;
    }
    argv[i++] = (char *)p->name;
    argv[i] = NULL;
    fflush(stdout);
    int status = lm_run(p->self, argv, false);
    if (status < 0) {
        say("cannot run %s migrate", p->self);
        return 1;
    }
    return WIFEXITED(status) ? WEXITSTATUS(status) : 1;
}

/* The cheapest host other than `here` (price per second, as listed); NULL if none. */
static const char *cheapest_other(json_t *hosts, const char *here, double *price_here, double *price)
{
    const char *best = NULL;
    size_t i;
    json_t *h;
    *price_here = -1;
    json_array_foreach(hosts, i, h)
    {
        const char *name = json_string_value(json_object_get(h, "name"));
        json_int_t unit = json_integer_value(json_object_get(h, "unit_ms"));
        if (!name || unit <= 0)
            continue;
        double per_s = (double)json_integer_value(json_object_get(h, "price_per_unit")) * 1000.0 / (double)unit;
        if (!strcmp(name, here))
            *price_here = per_s;
        else if (!best || per_s < *price) {
            best = name;
            *price = per_s;
        }
    }
    return best;
}

static int step(struct pilot *p)
{
    int rc;
    json_t *loc = lmctl_locate(p->url, p->key, p->name, &rc);
    if (!loc) {
        say("cannot locate %s at the broker (above): looking again", p->name);
        return 0;
    }
    char host[64], addr[64], token[40];
    snprintf(host, sizeof host, "%s", json_string_value(json_object_get(loc, "host")) ?: "");
    snprintf(addr, sizeof addr, "%s", json_string_value(json_object_get(loc, "address")) ?: "");
    snprintf(token, sizeof token, "%s", json_string_value(json_object_get(loc, "token_id")) ?: "");
    json_decref(loc);
    struct sockaddr_in vm;
    if (lmctl_addr(addr, LM_GC_PORT, &vm) < 0)
        return 0;
    uint16_t st;
    struct lm_gc_status s;
    int answered = lmctl_guest_command(&p->o, &vm, LM_GC_STATUS, NULL, 0, 2000, &st, &s) == 0;
    json_t *dir = lmctl_broker_once(p->url, p->key, "GET", "/v1/hosts", NULL, &rc);
    json_t *hosts = dir ? json_object_get(dir, "hosts") : NULL;

    /* Paying: for the buyer's token, while that token's VM is this one. */
    char tid[33];
    lm_token_id_hex(p->t.id, tid);
    if (p->paying && strcmp(tid, token) != 0) {
        say("%s now runs under token %s (a move's): its guest pays its host; autopilot stops paying", p->name, token);
        p->paying = 0;
    }
    if (p->paying && hosts) {
        size_t i;
        json_t *h;
        json_array_foreach(hosts, i, h)
        {
            if (strcmp(json_string_value(json_object_get(h, "name")) ?: "", host) != 0)
                continue;
            char where[100];
            snprintf(where, sizeof where, "%s:%lld", json_string_value(json_object_get(h, "address")) ?: "",
                     (long long)json_integer_value(json_object_get(h, "port")));
            struct sockaddr_in agent;
            /* Low: less than three intervals and three seconds of credit left. */
            uint64_t low = 3 * p->interval_ms + 3000;
            if (lmctl_addr(where, LM_DEFAULT_PORT, &agent) == 0 && (!p->credit_ms || p->credit_ms < low)) {
                if (p->credit_ms)
                    say("decision: pay %s: %llu ms of credit left, under %llu ms", host, (unsigned long long)p->credit_ms, (unsigned long long)low);
                if (!p->dry_run)
                    pay_once(p, &agent, 2 * low);
            }
        }
        if (p->credit_ms > p->interval_ms)
            p->credit_ms -= p->interval_ms; /* it runs down between payments */
    }

    /* Moving: evicted, or another host cheaper by the margin. */
    const char *to = NULL;
    char reason[200] = "";
    double here_price = -1, price = 0;
    const char *other = hosts ? cheapest_other(hosts, host, &here_price, &price) : NULL;
    if (answered && s.evict_ms && other) {
        to = other;
        snprintf(reason, sizeof reason, "%s evicts it within %.1f s; %s is the cheapest other host", host, s.evict_ms / 1e3, other);
    } else if (answered && other && here_price > 0 &&
               price <= here_price * (100.0 - (double)p->margin) / 100.0) {
        to = other;
        snprintf(reason, sizeof reason, "%s costs %.2f credits/s, %s %.2f credits/s: cheaper by %.0f %% (margin %llu %%)", host, here_price, other, price, 100.0 * (here_price - price) / here_price, (unsigned long long)p->margin);
    } else if (answered && s.evict_ms) {
        say("%s evicts %s within %.1f s, and no other host is listed: nowhere to go", host, p->name, s.evict_ms / 1e3);
    }
    int result = 0;
    if (to && s.phase != LM_GC_PHASE_IDLE && s.phase != LM_GC_PHASE_FAILED) {
        say("%s is moving already (phase %s): waiting", p->name, lm_gc_phase_name(s.phase));
    } else if (to && p->dry_run) {
        say("decision (dry run, not acting): would move %s from %s to %s: %s", p->name, host, to, reason);
    } else if (to) {
        say("decision: move %s from %s to %s: %s", p->name, host, to, reason);
        int m = move(p, to);
        if (m == 0) {
            /* The new host tells the broker as the VM starts there: wait for that, so that
             * the next look does not act on where the VM was. */
            int seen = 0;
            for (int i = 0; i < 100 && !seen; i++) {
                json_t *l = lmctl_locate(p->url, p->key, p->name, &rc);
                seen = l && !strcmp(json_string_value(json_object_get(l, "host")) ?: "", to);
                json_decref(l);
                if (!seen)
                    usleep(100000);
            }
            say("moved %s to %s%s", p->name, to, seen ? "" : " (the broker does not list it there yet)");
        }
        else if (m == 5) {
            say("the move of %s left it in doubt: settle it with lmctl migrate --resolve %s; stopping", p->name, p->name);
            result = -1;
        } else
            say("the move of %s to %s failed (lmctl migrate exit %d): it runs on %s; trying again later", p->name, to, m, host);
    }
    json_decref(dir);
    return result;
}

int cmd_autopilot(int argc, char **argv)
{
    enum { O_TOKEN = 256, O_CHAIN, O_MARGIN, O_INTERVAL, O_PAYCHAIN, O_PREPAID, O_DURATION, O_DRY };
    static const struct option opts[] = {{"owner", required_argument, NULL, 'o'},
                                         {"token", required_argument, NULL, O_TOKEN},
                                         {"chain", required_argument, NULL, O_CHAIN},
                                         {"margin", required_argument, NULL, O_MARGIN},
                                         {"interval", required_argument, NULL, O_INTERVAL},
                                         {"pay-chain", required_argument, NULL, O_PAYCHAIN},
                                         {"prepaid", required_argument, NULL, O_PREPAID},
                                         {"duration", required_argument, NULL, O_DURATION},
                                         {"dry-run", no_argument, NULL, O_DRY},
                                         LMCTL_BROKER_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    struct pilot p = {.owner_path = getenv("LM_OWNER"), .margin = 20, .interval_ms = 1000,
                      .pay_chain = 3600, .prepaid = 10, .next_link = 1};
    const char *token_path = NULL, *chain_path = NULL;
    uint64_t duration = 0;
    int c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': p.owner_path = optarg; break;
        case O_TOKEN: token_path = optarg; break;
        case O_CHAIN: chain_path = optarg; break;
        case O_MARGIN: if (lmctl_u64("--margin", optarg, 0, 99, &p.margin)) return LMCTL_USAGE; break;
        case O_INTERVAL: if (lmctl_u64("--interval", optarg, 100, 600000, &p.interval_ms)) return LMCTL_USAGE; break;
        case O_PAYCHAIN: if (lmctl_u64("--pay-chain", optarg, 1, LM_MAX_CHAIN_LEN, &p.pay_chain)) return LMCTL_USAGE; break;
        case O_PREPAID: if (lmctl_u64("--prepaid", optarg, 0, LM_MAX_PREPAID, &p.prepaid)) return LMCTL_USAGE; break;
        case O_DURATION: if (lmctl_u64("--duration", optarg, 1, 31536000, &duration)) return LMCTL_USAGE; break;
        case O_DRY: p.dry_run = 1; break;
        case 'B': p.url = optarg; break;
        case 'k': p.key = optarg; break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind + 1 != argc || !token_path != !chain_path) {
        lmctl_err("autopilot: needs %s (see --help)", optind + 1 != argc ? "one VM name" : "--token and --chain together");
        return LMCTL_USAGE;
    }
    p.name = argv[optind];
    if (!lmctl_name_ok(p.name)) {
        lmctl_err("autopilot: %s: a VM name (given with lmctl buy --name), which it follows from host to host", p.name);
        return LMCTL_USAGE;
    }
    if (lmctl_owner_load(p.owner_path, &p.o) < 0)
        return LMCTL_USAGE;
    if (!p.owner_path) { /* lmctl_owner_load said so already */
        return LMCTL_USAGE;
    }
    char self[4096];
    ssize_t sl = readlink("/proc/self/exe", self, sizeof self - 1);
    if (sl <= 0) {
        lmctl_err("autopilot: cannot find its own binary (/proc/self/exe) to run migrate with");
        return LMCTL_FAIL;
    }
    self[sl] = '\0';
    p.self = self;
    if (token_path) {
        uint8_t tok[LM_TOKEN_SIZE + 1];
        size_t len;
        struct lm_diag d;
        struct lm_chain_secret cs;
        if (lmctl_read_token(token_path, tok, sizeof tok, &len) || lm_token_decode(tok, len, &p.t, &d) != 0) {
            lmctl_err("%s: not a valid token", token_path);
            return LMCTL_FAIL;
        }
        if (lm_chainfile_load(chain_path, 0, &cs, &d) != 0) {
            lmctl_err("%s", d.msg);
            return LMCTL_FAIL;
        }
        if (cs.length != p.t.chain_len || memcmp(cs.anchor, p.t.anchor, LM_HASH_BYTES) != 0 ||
            lm_chain_payer_init(&p.payer, cs.seed, cs.length) != 0) {
            sodium_memzero(&cs, sizeof cs);
            lmctl_err("%s is not the chain of %s (its anchor or length differs)", chain_path, token_path);
            return LMCTL_FAIL;
        }
        sodium_memzero(&cs, sizeof cs);
        p.paying = p.have_payer = 1;
    }
    say("flying %s: margin %llu %%, every %llu ms%s%s", p.name, (unsigned long long)p.margin, (unsigned long long)p.interval_ms, p.paying ? ", paying from " : "", p.paying ? chain_path : "");
    uint64_t t0 = lm_now_ns();
    int rc = LMCTL_OK;
    while (!duration || lm_now_ns() - t0 < duration * 1000000000ull) {
        if (step(&p) < 0) {
            rc = LMCTL_FAIL;
            break;
        }
        usleep((useconds_t)(p.interval_ms * 1000));
    }
    if (p.have_payer)
        lm_chain_payer_free(&p.payer);
    say("done");
    return rc;
}
