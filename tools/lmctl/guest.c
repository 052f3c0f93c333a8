/*
 * The owner's commands to a running guest (guestctl.h): owner-cmdline (what to inject so the
 * guest obeys you), migkey (a migration key pair), status; and what migrate.c shares.
 */
#include <arpa/inet.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "laundromat/clock.h"
#include "laundromat/guestctl.h"
#include "laundromat/keys.h"
#include "laundromat/migrate.h"
#include "laundromat/util.h"
#include "lmctl.h"

static int open_new_secret(const char *path)
{
    return open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
}

/* A file holding n bytes as hex (whitespace around ignored). */
int lmctl_read_hex_file(const char *path, uint8_t *out, size_t n)
{
    char buf[256];
    FILE *f = fopen(path, "r");
    size_t len = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    if (!f) {
        lmctl_err("%s: cannot read it", path);
        return -1;
    }
    buf[len] = '\0';
    char *p = buf;
    while (*p == ' ' || *p == '\n')
        p++;
    char *e = p + strlen(p);
    while (e > p && (e[-1] == '\n' || e[-1] == ' ' || e[-1] == '\r'))
        *--e = '\0';
    if (lm_hex_decode(p, out, n) != 0) {
        lmctl_err("%s: expected %zu bytes as %zu hex digits", path, n, 2 * n);
        return -1;
    }
    return 0;
}

int lmctl_owner_load(const char *path, struct lmctl_owner *o)
{
    struct lm_diag d;
    if (!path) {
        lmctl_err("--owner FILE is required: the secret key named owner= at injection");
        return -1;
    }
    if (lm_key_load_secret(path, &o->kp, &d) != 0) {
        lmctl_err("%s", d.msg);
        return -1;
    }
    lm_gc_ctl_key(o->kp.seed, o->ctl_key);
    return 0;
}

struct match_arg {
    uint16_t cmd;
    const uint8_t *nonce;
    const uint8_t *ctl_key;
};

static int match_reply(const uint8_t *b, size_t n, void *arg)
{
    struct match_arg *m = arg;
    uint16_t status;
    const uint8_t *body;
    size_t blen;
    return lm_gc_reply_open(b, n, m->cmd, m->nonce, m->ctl_key, &status, &body, &blen, NULL) == 0;
}

int lmctl_guest_command(const struct lmctl_owner *o, const struct sockaddr_in *vm, uint16_t cmd,
                   const uint8_t *body, size_t blen, unsigned timeout_ms, uint16_t *rstatus,
                   struct lm_gc_status *s)
{
    uint8_t nonce[LM_GC_NONCE_BYTES], req[LM_GC_CMD_MAX], ans[LM_GC_REPLY_MAX];
    randombytes_buf(nonce, sizeof nonce);
    size_t n = lm_gc_cmd_seal(cmd, lm_wall_ns(), nonce, body, blen, o->kp.sk, o->ctl_key, req);
    struct match_arg m = {cmd, nonce, o->ctl_key};
    int tries;
    int got = lmctl_udp_exchange(vm, req, n, ans, sizeof ans, match_reply, &m, timeout_ms, 200, &tries);
    if (got <= 0)
        return 1;
    const uint8_t *rb;
    size_t rlen;
    struct lm_diag d;
    lm_gc_reply_open(ans, (size_t)got, cmd, nonce, o->ctl_key, rstatus, &rb, &rlen, &d);
    if (lm_gc_status_decode(rb, rlen, s, &d) != 0) {
        lmctl_err("the guest's reply: %s", d.msg);
        return -1;
    }
    return 0;
}

void lmctl_print_status(const struct lm_gc_status *s, int json)
{
    const struct lm_gc_figures *f = &s->last;
    if (json) {
        printf("{\"phase\": \"%s\", \"round\": %u, \"pages_sent\": %llu, \"pages_round\": %llu, \"bytes\": %llu, \"dirty_pages_per_s\": %llu, \"ram_pages\": %llu, \"migrations\": %llu, \"uptime_ns\": %llu, \"status\": %u, \"evict_ms\": %u, \"error\": \"%s\", \"last\": {\"total_ns\": %llu, \"downtime_ns\": %llu, \"bytes\": %llu, \"data_pages\": %llu, \"zero_pages\": %llu, \"ram_pages\": %llu, \"rounds\": %llu, \"final_pages\": %llu, \"cow_faults\": %llu}}\n",
               lm_gc_phase_name(s->phase), s->round, (unsigned long long)s->pages_sent, (unsigned long long)s->pages_round, (unsigned long long)s->bytes, (unsigned long long)s->dirty_rate, (unsigned long long)s->ram_pages, (unsigned long long)s->migrations, (unsigned long long)s->uptime_ns, s->status, s->evict_ms, s->error,
               (unsigned long long)f->total_ns, (unsigned long long)f->downtime_ns, (unsigned long long)f->bytes, (unsigned long long)f->data_pages, (unsigned long long)f->zero_pages, (unsigned long long)f->ram_pages, (unsigned long long)f->rounds, (unsigned long long)f->final_pages, (unsigned long long)f->cow_faults);
        return;
    }
    printf("phase %s, up %.3f s, %llu MiB RAM, %llu migrations\n", lm_gc_phase_name(s->phase), s->uptime_ns / 1e9, (unsigned long long)(s->ram_pages >> 8), (unsigned long long)s->migrations);
    if (s->evict_ms)
        printf("evicted: its host reclaims it in %.1f s unless it leaves (lmctl migrate, lmctl checkpoint)\n", s->evict_ms / 1e3);
    if (s->status)
        printf("last failure: %s: %s\n", lm_status_name((int)s->status) ? lm_status_name((int)s->status) : "?", s->error);
    if (s->migrations)
        printf("last migration: %.1f ms total, downtime %.3f ms, %.1f MiB sent for %.1f MiB of RAM (%llu zero pages named, not sent), %llu rounds, %llu pages in the final phase, %llu copy-on-write faults\n", f->total_ns / 1e6, f->downtime_ns / 1e6, f->bytes / 1048576.0, f->ram_pages / 256.0, (unsigned long long)f->zero_pages, (unsigned long long)f->rounds, (unsigned long long)f->final_pages, (unsigned long long)f->cow_faults);
}

int cmd_status(int argc, char **argv)
{
    static const struct option opts[] = {{"owner", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"timeout", required_argument, NULL, 't'},
                                         LMCTL_BROKER_OPTIONS,
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *owner_path = getenv("LM_OWNER"), *url = NULL, *key = NULL;
    int json = 0, c;
    uint64_t timeout = 3000;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': owner_path = optarg; break;
        case 'j': json = 1; break;
        case 'B': url = optarg; break;
        case 'k': key = optarg; break;
        case 't':
            if (lmctl_u64("--timeout", optarg, 1, 600000, &timeout) < 0)
                return LMCTL_USAGE;
            break;
        case 'h':
            printf("usage: lmctl status --owner FILE [--json] [--timeout MS] VM[:PORT]|NAME\n  asks a guest you own (owner= at injection) how it is and how its last migration went;\n  a NAME is looked up at the broker (lmctl locate)\n  --owner FILE  your secret key (default $LM_OWNER)\n" LMCTL_BROKER_HELP);
            return LMCTL_OK;
        default: return LMCTL_USAGE;
        }
    }
    if (optind + 1 != argc) {
        lmctl_err("status: expected one VM address (see --help)");
        return LMCTL_USAGE;
    }
    struct lmctl_owner o;
    struct sockaddr_in vm;
    const char *name;
    if (lmctl_owner_load(owner_path, &o) < 0)
        return LMCTL_USAGE;
    int trc = lmctl_vm_target(argv[optind], LM_GC_PORT, url, key, &vm, &name);
    if (trc != LMCTL_OK)
        return trc;
    uint16_t st;
    struct lm_gc_status s;
    int rc = lmctl_guest_command(&o, &vm, LM_GC_STATUS, NULL, 0, (unsigned)timeout, &st, &s);
    if (rc) {
        if (rc > 0)
            lmctl_err("%s: no authenticated answer within %llu ms (not running, not yours, or owner= not given at injection)", argv[optind], (unsigned long long)timeout);
        return LMCTL_FAIL;
    }
    lmctl_print_status(&s, json);
    return LMCTL_OK;
}

int cmd_owner_cmdline(int argc, char **argv)
{
    if (argc != 3 || strcmp(argv[1], "--owner") != 0) {
        int help = argc == 2 && !strcmp(argv[1], "--help");
        fprintf(help ? stdout : stderr, "usage: lmctl owner-cmdline --owner FILE\n  prints owner=... ctl_key=... for a guest's command line: the guest then obeys commands signed by FILE's key\n");
        return help ? LMCTL_OK : LMCTL_USAGE;
    }
    struct lmctl_owner o;
    if (lmctl_owner_load(argv[2], &o) < 0)
        return LMCTL_FAIL;
    char pub[65], key[65];
    lm_hex_encode(o.kp.pub.pk, 32, pub);
    lm_hex_encode(o.ctl_key, 32, key);
    printf("owner=%s ctl_key=%s\n", pub, key);
    return LMCTL_OK;
}

/* A migration key pair: X25519, secret in FILE (hex, mode 0600), public key printed. */
int cmd_migkey(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "new") != 0 && strcmp(argv[1], "show") != 0)) {
        int help = argc == 2 && !strcmp(argv[1], "--help");
        fprintf(help ? stdout : stderr, "usage: lmctl migkey new FILE | lmctl migkey show FILE\n  a migration key pair (X25519): the public key is what a checkpoint token commits to\n");
        return help ? LMCTL_OK : LMCTL_USAGE;
    }
    argv++; /* argv[0] new|show, argv[1] FILE */
    uint8_t sk[32], pk[32];
    char hex[65];
    if (argv[0][0] == 'n') {
        randombytes_buf(sk, sizeof sk);
        lm_hex_encode(sk, 32, hex);
        FILE *f = NULL;
        int fd = open_new_secret(argv[1]);
        if (fd >= 0)
            f = fdopen(fd, "w");
        if (!f || fprintf(f, "%s\n", hex) < 0 || fclose(f) != 0) {
            lmctl_err("%s: cannot create it (it must not exist yet)", argv[1]);
            return LMCTL_FAIL;
        }
    } else if (lmctl_read_hex_file(argv[1], sk, 32) < 0) {
        return LMCTL_FAIL;
    }
    crypto_scalarmult_curve25519_base(pk, sk);
    lm_hex_encode(pk, 32, hex);
    printf("%s\n", hex);
    sodium_memzero(sk, sizeof sk);
    return LMCTL_OK;
}

