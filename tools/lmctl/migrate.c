/*
 * lmctl migrate: moves a guest you own to another host. With --to HOST it does everything:
 * buys a checkpoint token for HOST committing to a fresh migration key, sends HOST the magic
 * ping, checks the host's signature on its loader's key against the operator key the broker
 * lists, then tells the guest where to go and follows it with a live progress line and a
 * summary. With --loader and --loader-pub it takes a loader started otherwise. Exit status:
 * 0 migrated; 4 failed, the guest runs where it was; 5 in doubt (no copy answers).
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "laundromat/chain.h"
#include "laundromat/clock.h"
#include "laundromat/guestctl.h"
#include "laundromat/payload.h"
#include "laundromat/migrate.h"
#include "laundromat/netaddr.h"
#include "laundromat/util.h"
#include "laundromat/wire.h"
#include "ckpt.h"
#include "lmctl.h"



static void progress(const struct lm_gc_status *s, uint64_t *last_bytes, uint64_t *last_ns,
                     int tty)
{
    uint64_t now = lm_now_ns();
    double mbs = *last_ns && now > *last_ns
                     ? (double)(s->bytes - *last_bytes) / ((now - *last_ns) / 1e9) / 1e6
                     : 0;
    if (s->bytes < *last_bytes)
        mbs = 0;
    *last_bytes = s->bytes;
    *last_ns = now;
    fprintf(stderr, "%s%-9s round %2u  %7llu / %-7llu pages  %7.1f MB/s  %8llu dirty pages/s  %6.1f MiB sent%s", tty ? "\r" : "", lm_gc_phase_name(s->phase), s->round, (unsigned long long)s->pages_sent, (unsigned long long)s->pages_round, mbs, (unsigned long long)s->dirty_rate, s->bytes / 1048576.0, tty ? "" : "\n");
}

static const char help[] =
    "usage: lmctl migrate --owner FILE --to HOST [--token FILE --mig-key FILE] [--prepaid N]\n"
    "                     [--broker URL] [--key FILE] [options] VM[:PORT]\n"
    "       lmctl migrate --owner FILE --loader ADDR[:PORT] --loader-pub HEX --mig-key FILE\n"
    "                     [options] VM[:PORT]\n"
    "       lmctl migrate --owner FILE --resolve [--loader ADDR[:PORT] --loader-pub HEX\n"
    "                     --mig-key FILE | --resume-source] [--timeout S] VM[:PORT]\n"
    "Moves a guest you own (owner= at injection) to another host while it runs: same address,\n"
    "same connections, same memory (to a host in another network that re-addresses guests:\n"
    "an address of that host's, the old connections reset). With --to, lmctl buys a checkpoint token for HOST (or takes\n"
    "--token), pings HOST, checks that HOST's operator vouched for the loader it started, then\n"
    "tells the guest to go there; a live line shows the phase, round, pages, MB/s and dirty\n"
    "pages/s, and a summary ends it. VM is the guest's address, or its name (lmctl locate).\n"
    "  --owner FILE      your secret key (default $LM_OWNER)\n"
    "  --to HOST         the destination, by its name in the broker's directory (lmctl hosts)\n"
    "  --token FILE      a checkpoint token for HOST bought before, committing to --mig-key\n"
    "  --mig-key FILE    the migration key (lmctl migkey new); default with --to: a fresh one\n"
    "  --prepaid N       units the new token prepays on HOST (default 60)\n"
    "  --pay-chain N     the new token also gets a chain of N links, whose seed the guest\n"
    "                    takes with the command: a self-paying guest pays HOST from it\n"
    "  --ttl S           the new token's lifetime (default 3600)\n"
    "  --prefix P        the guest's network prefix length, for the token (default 24)\n"
    "  --name NAME       the VM's name for the new token, so that lmctl locate follows it\n"
    "                    (default: VM, when VM is a name rather than an address)\n"
    LMCTL_BROKER_HELP
    "  --loader ADDR[:PORT], --loader-pub HEX\n"
    "                    a loader started otherwise, and its X25519 key as its host vouched\n"
    "  --max-rounds N    pre-copy rounds at most (default 30)\n"
    "  --zstd            the guest sends its pages zstd-compressed where that is smaller\n"
    "  --timeout S       silence from both copies after which the outcome is in doubt (20)\n"
    "  --resolve         after exit 5: which copy runs (the one that answers its owner);\n"
    "                    with --loader...: GO to that loader if it holds the paused checkpoint\n"
    "  --resume-source   with --resolve: the source, paused in doubt, resumes (only once the\n"
    "                    destination's host lists its loader as gone: else two copies run)\n"
    "  --quiet, --json   no progress line; the summary as JSON\n"
    "exit status: 0 migrated; 4 failed, the guest runs where it was; 5 in doubt (no copy\n"
    "answers, or the source sent GO unacknowledged and waits paused); 1 the destination could\n"
    "not be set up (nothing happened to the guest)\n";

/* The destination's entry in the broker's directory: where to ping, whose key vouches. */
static int find_host(struct lmctl_broker *b, const char *name, struct sockaddr_in *addr,
                     uint8_t opkey[32], char *operator, size_t oplen)
{
    int rc;
    json_t *reply = lmctl_broker_do(b, "GET", "/v1/hosts", NULL, &rc), *h;
    if (!reply)
        return -1;
    size_t i;
    json_t *found = NULL;
    json_array_foreach(json_object_get(reply, "hosts"), i, h)
        if (!strcmp(json_string_value(json_object_get(h, "name")) ?: "", name))
            found = h;
    rc = -1;
    if (!found) {
        lmctl_err("--to %s: no such host in the broker's directory (lmctl hosts lists them)", name);
    } else {
        char where[300];
        const char *key = json_string_value(json_object_get(found, "operator_key"));
        snprintf(where, sizeof where, "%s:%lld", json_string_value(json_object_get(found, "address")) ?: "",
                 (long long)json_integer_value(json_object_get(found, "port")));
        snprintf(operator, oplen, "%s", json_string_value(json_object_get(found, "operator")) ?: "?");
        if (!key || lm_hex_decode(key, opkey, 32) != 0)
            lmctl_err("--to %s: the broker lists no operator key for it (a broker too old?)", name);
        else if (lmctl_addr(where, LM_DEFAULT_PORT, addr) == 0)
            rc = 0;
    }
    json_decref(reply);
    return rc;
}

int lmctl_prepare_destination(const char *to, const char *token_path, const uint8_t mig_pub[32],
                              const char *ip, uint64_t mem_mib, uint64_t prepaid,
                              uint64_t pay_len, uint64_t ttl, const char *url, const char *key,
                              const char *name, int quiet, struct lm_gc_migrate *m)
{
    struct lmctl_broker b;
    struct sockaddr_in host;
    uint8_t opkey[32], tok[LM_TOKEN_SIZE + 1];
    char operator[64];
    if (lmctl_broker_open(&b, url, key) != LMCTL_OK)
        return -1;
    int rc = find_host(&b, to, &host, opkey, operator, sizeof operator);
    if (rc == 0 && token_path) {
        size_t len;
        struct lm_token t;
        struct lm_diag d;
        rc = -1;
        if (lmctl_read_token(token_path, tok, sizeof tok, &len) || len != LM_TOKEN_SIZE ||
            lm_token_decode(tok, LM_TOKEN_SIZE, &t, &d) != 0)
            lmctl_err("--token %s: not a token file", token_path);
        else if (t.payload_kind != LM_PAYLOAD_CHECKPOINT || memcmp(t.commitment, mig_pub, 32))
            lmctl_err("--token %s: not a checkpoint token committing to --mig-key's public key", token_path);
        else
            rc = 0;
    } else if (rc == 0) {
        struct lm_token t;
        memset(&t, 0, sizeof t);
        t.scope_kind = LM_SCOPE_HOST;
        snprintf(t.scope, sizeof t.scope, "%s", to);
        t.mem_mib = (uint32_t)mem_mib;
        t.vcpus = 1;
        t.payload_kind = LM_PAYLOAD_CHECKPOINT;
        memcpy(t.commitment, mig_pub, 32);
        t.prepaid_units = (uint32_t)prepaid;
        struct lm_chain_secret cs;
        if (pay_len) { /* the guest pays its new host from a chain of its own */
            if (lm_chain_new((uint32_t)pay_len, &cs) != 0) {
                lmctl_err("cannot make a payment chain of %llu links", (unsigned long long)pay_len);
                lmctl_broker_close(&b);
                return -1;
            }
            memcpy(t.anchor, cs.anchor, 32);
            t.chain_len = cs.length;
        }
        json_t *reply = NULL;
        rc = lmctl_buy_token(&b, &t, ttl, ip, NULL, NULL, name, tok, &reply) == LMCTL_OK ? 0 : -1;
        if (rc == 0 && pay_len) {
            memcpy(m->pay_token, tok + LM_TOK_OFF_ID, 16);
            memcpy(m->pay_seed, cs.seed, 32);
            m->pay_len = cs.length;
        }
        if (pay_len)
            sodium_memzero(&cs, sizeof cs);
        if (rc == 0 && !quiet)
            fprintf(stderr, "bought checkpoint token %s for %s: %lld credits, %llu units prepaid\n",
                    json_string_value(json_object_get(reply, "token_id")), to,
                    (long long)json_integer_value(json_object_get(reply, "cost")),
                    (unsigned long long)prepaid);
        json_decref(reply);
    }
    lmctl_broker_close(&b);
    if (rc)
        return -1;
    struct lm_ping_reply r;
    struct lm_diag d;
    double ms;
    int tries;
    if (lmctl_do_ping(&host, tok, NULL, 0, 10000, &r, &ms, &tries) != 0)
        return -1;
    if (r.status) {
        lmctl_err("%s refused the checkpoint token: %s (%s); its log says more%s", to,
                  lm_status_name(r.status) ?: "?", lm_status_text(r.status),
                  r.status == LM_BAD_NETID && ip ? " (a host in another network takes a guest "
                  "only with readdress = 1 in its config, giving it an address of its own)" : "");
        return -1;
    }
    if (memcmp(r.token_id, tok + LM_TOK_OFF_ID, LM_TOKEN_ID_BYTES) != 0) {
        lmctl_err("%s answered for another token; not sending the guest there", to);
        return -1;
    }
    if (lm_vouch_verify(&r, opkey, &d) != 0) {
        lmctl_err("%s: %s; not sending the guest there", to, d.msg);
        return -1;
    }
    memcpy(m->ip, r.loader_ip, 4);
    m->port = r.loader_port;
    memcpy(m->loader_pub, r.loader_pub, 32);
    char lip[LM_IP4_STR];
    if (!quiet)
        fprintf(stderr, "%s admitted it as VM %llu in %.1f ms: loader at %s:%u, its key "
                "vouched for by operator %s\n", to, (unsigned long long)r.vm_id, ms,
                lm_ip4_format(r.loader_ip, lip), r.loader_port, operator);
    return 0;
}

/*
 * GO to a paused loader over a fresh handshake: the hello with M and a new nonce, the
 * loader's answer, one sealed GO record with the final tag (migrate.h). Only the holder of m
 * can make the loader take it. 0 when sent and the loader let go of the connection.
 */
static int resolver_go(const struct sockaddr_in *loader, const uint8_t m[32], const uint8_t lpub[32])
{
    struct lm_mig_hello h;
    uint8_t kgl[32], klg[32];
    crypto_scalarmult_curve25519_base(h.mig_pub, m);
    randombytes_buf(h.nonce, sizeof h.nonce);
    if (lm_mig_keys(m, lpub, h.mig_pub, lpub, h.nonce, kgl, klg) != 0) {
        lmctl_err("X25519 with the loader's key failed (a low-order point?)");
        return -1;
    }
    uint8_t out[LM_MIG_HELLO_SIZE + LM_MIG_SS_HEADER_BYTES], in[4 + LM_MIG_SS_HEADER_BYTES];
    crypto_secretstream_xchacha20poly1305_state tx, rx;
    lm_mig_hello_encode(&h, out);
    crypto_secretstream_xchacha20poly1305_init_push(&tx, out + LM_MIG_HELLO_SIZE, kgl);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = -1;
    size_t got = 0;
    if (fd < 0 || connect(fd, (const struct sockaddr *)loader, sizeof *loader) != 0) {
        lmctl_err("cannot reach the loader at %s:%u: %m", inet_ntoa(loader->sin_addr), ntohs(loader->sin_port));
        goto out;
    }
    if (write(fd, out, sizeof out) != (ssize_t)sizeof out)
        goto broken;
    while (got < sizeof in) {
        ssize_t n = read(fd, in + got, sizeof in - got);
        if (n <= 0)
            goto broken;
        got += (size_t)n;
    }
    if (memcmp(in, LM_MIG_ANSWER_MAGIC, 4) != 0 ||
        crypto_secretstream_xchacha20poly1305_init_pull(&rx, in + 4, klg) != 0) {
        lmctl_err("the loader did not take the handshake (%.4s...): not paused, or another key", (char *)in);
        goto out;
    }
    uint8_t plain[LM_MIG_REC_HDR + LM_MIG_GO_SIZE] = {0}, frame[4 + sizeof plain + LM_MIG_SS_ABYTES];
    unsigned long long clen;
    lm_mig_rec_header(plain, LM_MIG_GO, 0, 0);
    crypto_secretstream_xchacha20poly1305_push(&tx, frame + 4, &clen, plain, sizeof plain, NULL, 0,
                                               crypto_secretstream_xchacha20poly1305_TAG_FINAL);
    for (int i = 0; i < 4; i++)
        frame[i] = (uint8_t)(clen >> (8 * i));
    if (write(fd, frame, 4 + (size_t)clen) != (ssize_t)(4 + clen))
        goto broken;
    rc = 0;
    goto out;
broken:
    lmctl_err("the loader at %s:%u broke the connection (not paused after READY, or it ended)", inet_ntoa(loader->sin_addr), ntohs(loader->sin_port));
out:
    if (fd >= 0)
        close(fd);
    sodium_memzero(kgl, sizeof kgl);
    sodium_memzero(klg, sizeof klg);
    return rc;
}

/* Asks VM until a copy answers that is not the source paused in doubt (up to 15 s): after GO
 * reached the paused loader, the child announces itself and the source ends. */
static int await_child(const struct lmctl_owner *o, const struct sockaddr_in *vm, struct lm_gc_status *s)
{
    uint16_t st;
    int rc = 1;
    for (uint64_t t0 = lm_now_ns(); lm_now_ns() - t0 < 15000000000ull;) {
        rc = lmctl_guest_command(o, vm, LM_GC_STATUS, NULL, 0, 1000, &st, s);
        if (rc < 0 || (rc == 0 && s->phase != LM_GC_PHASE_DOUBT))
            return rc;
        usleep(200000);
    }
    return rc;
}

/*
 * --resolve: after exit status 5, settle where the guest runs. The protocol never lets two
 * copies run: the source stops for good before it sends GO, and the destination resumes only
 * on GO. A source whose GO went unacknowledged waits paused, in doubt (phase "doubt"), until
 * the child announces itself; it answers its owner. So:
 * - a copy answers and is not in doubt: it is the one running copy;
 * - the source answers in doubt, or nobody answers (the source sent GO and ended, or is cut
 *   off): if a loader is named (--loader, --loader-pub, --mig-key) and holds the complete
 *   checkpoint, paused after READY, a fresh handshake with the migration key carries GO to
 *   it; the guest resumes there and the source, seeing it, ends;
 * - the source answers in doubt and the loader is gone: --resume-source resumes the source.
 */
static int resolve_doubt(const struct lmctl_owner *o, const struct sockaddr_in *vm,
                         const char *vm_arg, const struct sockaddr_in *loader,
                         const uint8_t m[32], const uint8_t lpub[32], uint64_t timeout_s,
                         int resume_source, int json)
{
    uint16_t st;
    struct lm_gc_status s;
    int rc = lmctl_guest_command(o, vm, LM_GC_STATUS, NULL, 0, (unsigned)(timeout_s * 1000), &st, &s);
    if (rc < 0)
        return LMCTL_FAIL;
    int in_doubt = rc == 0 && s.phase == LM_GC_PHASE_DOUBT;
    if (in_doubt && resume_source) {
        rc = lmctl_guest_command(o, vm, LM_GC_RESUME, NULL, 0, 10000, &st, &s);
        if (rc < 0)
            return LMCTL_FAIL;
        if (rc > 0 || st != 0) {
            lmctl_err("%s: the source did not resume: %s", vm_arg, rc ? "no answer" : lm_status_text(st));
            return LMCTL_MIG_DOUBT;
        }
        if (!json)
            printf("resolved: the source resumed, the destination given up\n");
        lmctl_print_status(&s, json);
        return LMCTL_OK;
    }
    if ((rc == 1 || in_doubt) && loader) {
        fprintf(stderr, "%s: %s: sending GO to the paused loader at %s:%u\n", vm_arg,
                in_doubt ? "the source waits paused in doubt" : "no copy answered",
                inet_ntoa(loader->sin_addr), ntohs(loader->sin_port));
        if (resolver_go(loader, m, lpub) == 0 && (rc = await_child(o, vm, &s)) == 0) {
            if (!json)
                printf("resolved: the paused destination took GO and resumed\n");
            lmctl_print_status(&s, json);
            return LMCTL_OK;
        }
        if (rc < 0)
            return LMCTL_FAIL;
        rc = lmctl_guest_command(o, vm, LM_GC_STATUS, NULL, 0, 2000, &st, &s);
        in_doubt = rc == 0 && s.phase == LM_GC_PHASE_DOUBT;
    }
    if (in_doubt) {
        lmctl_err("%s: the source waits paused: it sent GO, which was not acknowledged, and no new "
                  "copy has announced itself. If the destination's loader holds the checkpoint, "
                  "name it with --loader, --loader-pub and --mig-key to send it GO; if its host "
                  "lists it as gone (lmctl host ls), resume the source: lmctl migrate --resolve "
                  "--resume-source %s", vm_arg, vm_arg);
        return LMCTL_MIG_DOUBT;
    }
    if (rc > 0) {
        lmctl_err("%s: no copy answered in %llu s. If the source sent GO, its host lists it as "
                  "migrated and the destination's loader holds the complete checkpoint, paused "
                  "(its host lists it as receiving): name it with --loader, --loader-pub and "
                  "--mig-key to send it GO. If the source never got READY it resumed and "
                  "answers again once reachable.", vm_arg, (unsigned long long)timeout_s);
        return LMCTL_MIG_DOUBT;
    }
    if (resume_source)
        lmctl_err("%s: not in doubt (phase %s): --resume-source does nothing", vm_arg, lm_gc_phase_name(s.phase));
    if (json) {
        lmctl_print_status(&s, 1);
    } else {
        printf("resolved: %s answers its owner, the one running copy (phase %s, %llu migrations)\n",
               vm_arg, lm_gc_phase_name(s.phase), (unsigned long long)s.migrations);
        lmctl_print_status(&s, 0);
    }
    return LMCTL_OK;
}

struct doubt {
    const char *mig_key; /* the file, if the key came from one */
    uint8_t secret[32], ip[4], lpub[32];
    uint16_t port;
};

/* Exit 5: say how to settle it, keeping a fresh migration key in a file for --resolve. */
static void doubt_advice(struct doubt *dt, const char *vm)
{
    char path[64], lpub[65];
    const char *key = dt->mig_key;
    if (!key) {
        snprintf(path, sizeof path, "lmctl-mig-%llu.key", (unsigned long long)time(NULL));
        int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        char hex[65];
        lm_hex_encode(dt->secret, 32, hex);
        if (fd >= 0 && dprintf(fd, "%s\n", hex) == 65 && close(fd) == 0)
            key = path;
        sodium_memzero(hex, sizeof hex);
    }
    lm_hex_encode(dt->lpub, 32, lpub);
    char lip[LM_IP4_STR];
    fprintf(stderr, "to settle it: lmctl migrate --resolve --loader %s:%u --loader-pub %s "
            "--mig-key %s %s\n", lm_ip4_format(dt->ip, lip), dt->port, lpub,
            key ? key : "(the migration key could not be saved)", vm);
    sodium_memzero(dt, sizeof *dt);
}

int cmd_migrate(int argc, char **argv)
{
    enum { O_TO = 256, O_TOKEN, O_PREPAID, O_TTL, O_PREFIX, O_RESOLVE, O_PAYCHAIN, O_RESUME, O_NAME,
           O_ZSTD };
    static const struct option opts[] = {{"owner", required_argument, NULL, 'o'},
                                         {"to", required_argument, NULL, O_TO},
                                         {"resolve", no_argument, NULL, O_RESOLVE},
                                         {"resume-source", no_argument, NULL, O_RESUME},
                                         {"name", required_argument, NULL, O_NAME},
                                         {"zstd", no_argument, NULL, O_ZSTD},
                                         {"token", required_argument, NULL, O_TOKEN},
                                         {"prepaid", required_argument, NULL, O_PREPAID},
                                         {"pay-chain", required_argument, NULL, O_PAYCHAIN},
                                         {"ttl", required_argument, NULL, O_TTL},
                                         {"prefix", required_argument, NULL, O_PREFIX},
                                         LMCTL_BROKER_OPTIONS,
                                         {"loader", required_argument, NULL, 'l'},
                                         {"loader-pub", required_argument, NULL, 'L'},
                                         {"mig-key", required_argument, NULL, 'm'},
                                         {"max-rounds", required_argument, NULL, 'r'},
                                         {"timeout", required_argument, NULL, 't'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *owner_path = getenv("LM_OWNER"), *loader = NULL, *mig_key = NULL, *to = NULL;
    const char *token_path = NULL, *url = NULL, *key = NULL, *name = NULL;
    int have_lpub = 0, quiet = 0, json = 0, resolve = 0, resume_source = 0, readdressed = 0, c;
    uint64_t max_rounds = 0, timeout_s = 20, prepaid = 60, ttl = 3600, prefix = 24, pay_len = 0;
    struct lm_gc_migrate m = {0};
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'o': owner_path = optarg; break;
        case O_TO: to = optarg; break;
        case O_RESOLVE: resolve = 1; break;
        case O_RESUME: resume_source = 1; break;
        case O_ZSTD: m.flags |= LM_GC_MIGRATE_ZSTD; break;
        case O_NAME:
            name = optarg;
            if (!lmctl_name_ok(name)) {
                lmctl_err("--name %s: a VM name is 1 to %d of a-z, 0-9 and -, not starting with -", name, LMCTL_NAME_MAX);
                return LMCTL_USAGE;
            }
            break;
        case O_TOKEN: token_path = optarg; break;
        case O_PREPAID:
            if (lmctl_u64("--prepaid", optarg, 0, LM_MAX_PREPAID, &prepaid) < 0)
                return LMCTL_USAGE;
            break;
        case O_PAYCHAIN:
            if (lmctl_u64("--pay-chain", optarg, 1, LM_MAX_CHAIN_LEN, &pay_len) < 0)
                return LMCTL_USAGE;
            break;
        case O_TTL:
            if (lmctl_u64("--ttl", optarg, 60, LM_MAX_LIFETIME_S, &ttl) < 0)
                return LMCTL_USAGE;
            break;
        case O_PREFIX:
            if (lmctl_u64("--prefix", optarg, 1, 32, &prefix) < 0)
                return LMCTL_USAGE;
            break;
        case 'B': url = optarg; break;
        case 'k': key = optarg; break;
        case 'l': loader = optarg; break;
        case 'L':
            if (lmctl_hex("--loader-pub", optarg, m.loader_pub, 32) < 0)
                return LMCTL_USAGE;
            have_lpub = 1;
            break;
        case 'm': mig_key = optarg; break;
        case 'r':
            if (lmctl_u64("--max-rounds", optarg, 1, 1000, &max_rounds) < 0)
                return LMCTL_USAGE;
            break;
        case 't':
            if (lmctl_u64("--timeout", optarg, 1, 3600, &timeout_s) < 0)
                return LMCTL_USAGE;
            break;
        case 'q': quiet = 1; break;
        case 'j': json = 1; break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    const char *bad = optind + 1 != argc ? "one VM address"
                      : resolve ? (to ? "--resolve without --to"
                                   : loader && (!have_lpub || !mig_key) ? "--loader-pub and --mig-key with --loader"
                                   : loader && resume_source ? "either --loader or --resume-source"
                                   : NULL)
                      : resume_source ? "--resume-source with --resolve"
                      : !to == !loader ? "either --to HOST or --loader ADDR"
                      : loader && (!have_lpub || !mig_key) ? "--loader-pub and --mig-key with --loader"
                      : to && token_path && !mig_key ? "--mig-key with --token"
                      : NULL;
    if (bad) {
        lmctl_err("migrate: needs %s (see --help)", bad);
        return LMCTL_USAGE;
    }
    struct lmctl_owner o;
    struct sockaddr_in vm, dst;
    const char *vm_name = NULL;
    if (lmctl_owner_load(owner_path, &o) < 0 || (loader && lmctl_addr(loader, LM_LOADER_PORT, &dst) < 0))
        return LMCTL_USAGE;
    int trc = lmctl_vm_target(argv[optind], LM_GC_PORT, url, key, &vm, &vm_name);
    if (trc != LMCTL_OK)
        return trc;
    if (!name)
        name = vm_name; /* the new token keeps the name the guest was found by */
    if (mig_key ? lmctl_read_hex_file(mig_key, m.mig_secret, 32) < 0
                : (randombytes_buf(m.mig_secret, 32), 0))
        return LMCTL_USAGE;
    if (loader) {
        memcpy(m.ip, &dst.sin_addr.s_addr, 4);
        m.port = ntohs(dst.sin_port);
    }
    m.max_rounds = (uint32_t)max_rounds;

    uint16_t st;
    struct lm_gc_status s;
    int rc;
    if (resolve) {
        rc = resolve_doubt(&o, &vm, argv[optind], loader ? &dst : NULL, m.mig_secret, m.loader_pub, timeout_s,
                           resume_source, json);
        sodium_memzero(&m, sizeof m);
        return rc;
    }
    /* A guest under load may drop datagrams: retry for a while before giving up. */
    rc = lmctl_guest_command(&o, &vm, LM_GC_STATUS, NULL, 0, 10000, &st, &s);
    if (rc) {
        lmctl_err("%s: no authenticated answer (not running, not yours, or owner= not given at injection)", argv[optind]);
        return LMCTL_MIG_FAILED;
    }
    if (to) {
        uint8_t mig_pub[32];
        crypto_scalarmult_curve25519_base(mig_pub, m.mig_secret);
        char ip[32];
        snprintf(ip, sizeof ip, "%s/%llu", inet_ntoa(vm.sin_addr), (unsigned long long)prefix);
        if (lmctl_prepare_destination(to, token_path, mig_pub, ip, s.ram_pages >> 8, prepaid,
                                      pay_len, ttl, url, key, name, quiet, &m) != 0) {
            sodium_memzero(&m, sizeof m);
            return LMCTL_FAIL;
        }
    }
    uint64_t before = s.migrations, t0 = lm_now_ns();
    uint8_t body[LM_GC_MIGRATE_SIZE];
    lm_gc_migrate_encode(&m, body);
    /* Kept for a doubtful end: what --resolve needs to send a paused loader GO. */
    struct doubt dt = {.mig_key = mig_key, .port = m.port};
    memcpy(dt.secret, m.mig_secret, 32);
    memcpy(dt.ip, m.ip, 4);
    memcpy(dt.lpub, m.loader_pub, 32);
    sodium_memzero(&m, sizeof m);
    rc = lmctl_guest_command(&o, &vm, LM_GC_MIGRATE, body, sizeof body, 10000, &st, &s);
    sodium_memzero(body, sizeof body);
    if (rc || st != 0) {
        if (rc)
            lmctl_err("%s: no answer to migrate: the guest runs where it was (check with lmctl status)", argv[optind]);
        else
            lmctl_err("%s refused to migrate: %s%s%s", argv[optind], lm_status_text(st), s.error[0] ? ": " : "", s.error);
        sodium_memzero(&dt, sizeof dt);
        return LMCTL_MIG_FAILED;
    }
    /* A host in another network may re-address the guest (its readdress setting): then the
     * child answers at the loader's address, once the source is gone. */
    struct sockaddr_in child = vm;
    memcpy(&child.sin_addr.s_addr, dt.ip, 4);
    int tty = isatty(2) && !quiet;
    uint64_t last_bytes = 0, last_ns = 0, last_answer = lm_now_ns(), last_print = 0;
    for (;;) {
        usleep(100000);
        rc = lmctl_guest_command(&o, &vm, LM_GC_STATUS, NULL, 0, 400, &st, &s);
        if (rc == 1 && child.sin_addr.s_addr != vm.sin_addr.s_addr) {
            rc = lmctl_guest_command(&o, &child, LM_GC_STATUS, NULL, 0, 400, &st, &s);
            if (rc == 0 && s.migrations <= before)
                rc = 1; /* not the child (yet) */
            readdressed = rc == 0;
        }
        uint64_t now = lm_now_ns();
        if (rc == 0) {
            last_answer = now;
            if (s.migrations > before)
                break;
            if (s.phase == LM_GC_PHASE_DOUBT) {
                if (tty)
                    fputc('\n', stderr);
                lmctl_err("%s sent GO and got no acknowledgement: it waits paused, in doubt, until the new copy announces itself or you settle it", argv[optind]);
                doubt_advice(&dt, argv[optind]);
                return LMCTL_MIG_DOUBT;
            }
            if (s.phase == LM_GC_PHASE_FAILED || s.phase == LM_GC_PHASE_IDLE) {
                if (tty)
                    fputc('\n', stderr);
                lmctl_err("migration failed, the guest runs where it was: %s: %s", lm_status_name((int)s.status) ? lm_status_name((int)s.status) : "?", s.error);
                sodium_memzero(&dt, sizeof dt);
                return LMCTL_MIG_FAILED;
            }
            if (!quiet && (tty || now - last_print > 1000000000ull)) {
                progress(&s, &last_bytes, &last_ns, tty);
                last_print = now;
            }
        } else if (rc < 0) {
            sodium_memzero(&dt, sizeof dt);
            return LMCTL_FAIL;
        } else if (now - last_answer > timeout_s * 1000000000ull) {
            if (tty)
                fputc('\n', stderr);
            lmctl_err("no copy of %s has answered for %llu s: the outcome is in doubt", argv[optind], (unsigned long long)timeout_s);
            doubt_advice(&dt, argv[optind]);
            return LMCTL_MIG_DOUBT;
        }
    }
    if (tty)
        fputc('\n', stderr);
    const struct lm_gc_figures *f = &s.last;
    if (json) {
        lmctl_print_status(&s, 1);
    } else {
        if (readdressed)
            printf("re-addressed: the guest now answers at %s; its old connections were reset\n", inet_ntoa(child.sin_addr));
        printf("migrated in %.1f ms (%.1f ms as lmctl saw it): downtime %.3f ms as the guest measured it; %.1f MiB sent for %.1f MiB of RAM (%.2f of RAM), %llu zero pages named and not sent, %llu rounds, %llu pages in the final phase, %llu copy-on-write faults\n", f->total_ns / 1e6, (lm_now_ns() - t0) / 1e6, f->downtime_ns / 1e6, f->bytes / 1048576.0, f->ram_pages / 256.0, f->ram_pages ? (double)f->bytes / (f->ram_pages * 4096.0) : 0, (unsigned long long)f->zero_pages, (unsigned long long)f->rounds, (unsigned long long)f->final_pages, (unsigned long long)f->cow_faults);
    }
    sodium_memzero(&dt, sizeof dt);
    return LMCTL_OK;
}
