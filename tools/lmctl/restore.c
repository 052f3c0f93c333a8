/*
 * lmctl restore: starts a checkpoint file on a host. The file is opened with the owner's key
 * and every record checked to its END before anything is bought; then lmctl buys a checkpoint
 * token for the host (a fresh migration key), pings it, checks the host's word for its loader,
 * and plays the migrating guest: the hello, the file's records sealed anew for this loader,
 * READY, GO. The guest continues from the checkpoint there. Without --replace it takes a new
 * identity from the host's pool (the original may still run); with it, the address it had.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "laundromat/ckptfile.h"
#include "laundromat/clock.h"
#include "laundromat/guestctl.h"
#include "laundromat/netaddr.h"
#include "laundromat/payload.h"
#include "laundromat/util.h"
#include "ckpt.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl restore --owner FILE --to HOST [--replace] [--prepaid N] [--ttl S]\n"
    "                     [--name NAME] [--broker URL] [--key FILE] [--check] [--quiet] FILE\n"
    "Starts the guest a checkpoint file holds (lmctl checkpoint) on HOST: the file is opened\n"
    "with your owner key and checked to its end first; then lmctl buys a checkpoint token for\n"
    "HOST, pings it, checks its operator's word for the loader, and streams the checkpoint into\n"
    "it. The guest continues from the checkpoint: its memory, its computation, its owner key.\n"
    "  --owner FILE   the owner key the checkpoint was sealed with (default $LM_OWNER)\n"
    "  --to HOST      the host, by its name in the broker's directory (lmctl hosts)\n"
    "  --replace      the guest keeps the address it had (the original must be gone);\n"
    "                 default: a new address and MAC from HOST's pool, its old TCP\n"
    "                 connections dropped\n"
    "  --prepaid N    units the token prepays on HOST (default 60)\n"
    "  --ttl S        the token's lifetime (default 3600)\n"
    "  --name NAME    the VM's name for the token, so that lmctl locate follows it\n"
    LMCTL_BROKER_HELP
    "  --check        only open and check the file (no host, nothing bought)\n"
    "  --quiet        no progress lines\n"
    "exit status: 0 restored (or checked); 1 the file was refused or the host could not take\n"
    "it; 2 usage; 4 the stream into the loader failed (the token is spent, nothing runs)\n";

struct ckpt_in {
    FILE *f;
    const char *path;
    uint8_t hdr[LM_CKPT_HEADER_SIZE];
    struct lm_ckpt_reader r;
    uint8_t *frame, *plain;
    uint64_t off, records;
};

/* Opens path with the owner's seed (the key check, the header). 0 or -1, said. */
static int in_open(struct ckpt_in *c, const char *path, const uint8_t seed[32])
{
    struct lm_diag d;
    c->path = path;
    c->f = fopen(path, "rb");
    if (!c->f) {
        lmctl_err("%s: %m", path);
        return -1;
    }
    size_t n = fread(c->hdr, 1, sizeof c->hdr, c->f);
    if (lm_ckpt_reader_open(&c->r, c->hdr, n, seed, &d) != 0) {
        lmctl_err("%s: %s", path, d.msg);
        return -1;
    }
    c->off = n;
    c->records = 0;
    return 0;
}

/* The next record into c->plain: 1 with *plen set, 0 after END at the file's end, -1 said. */
static int in_next(struct ckpt_in *c, size_t *plen, struct lm_mig_rec *rec)
{
    struct lm_diag d;
    uint8_t lenb[4];
    size_t n = fread(lenb, 1, 4, c->f);
    if (n == 0 && feof(c->f)) {
        if (c->r.done)
            return 0;
        lmctl_err("%s: truncated: the file ends after %llu records (%llu bytes) without its END record", c->path, (unsigned long long)c->records, (unsigned long long)c->off);
        return -1;
    }
    if (c->r.done) {
        lmctl_err("%s: %llu bytes after its END record (at byte %llu): not a checkpoint as written", c->path, (unsigned long long)n, (unsigned long long)c->off);
        return -1;
    }
    if (n < 4) {
        lmctl_err("%s: truncated: %zu bytes of record %llu's length at byte %llu", c->path, n, (unsigned long long)c->records, (unsigned long long)c->off);
        return -1;
    }
    uint32_t clen = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8 | (uint32_t)lenb[2] << 16 | (uint32_t)lenb[3] << 24;
    if (clen > LM_MIG_FRAME_MAX) {
        lmctl_err("%s: record %llu at byte %llu claims %u bytes, at most %u: the file is damaged", c->path, (unsigned long long)c->records, (unsigned long long)c->off, clen, (unsigned)LM_MIG_FRAME_MAX);
        return -1;
    }
    size_t got = fread(c->frame, 1, clen, c->f);
    if (got != clen) {
        lmctl_err("%s: truncated: record %llu at byte %llu has %zu of its %u bytes", c->path, (unsigned long long)c->records, (unsigned long long)c->off, got, clen);
        return -1;
    }
    if (lm_ckpt_next(&c->r, c->frame, clen, c->plain, plen, rec, &d) != 0) {
        lmctl_err("%s: %s (at byte %llu)", c->path, d.msg, (unsigned long long)c->off);
        return -1;
    }
    c->off += 4 + clen;
    c->records++;
    return 1;
}

static void in_close(struct ckpt_in *c)
{
    if (c->f)
        fclose(c->f);
    c->f = NULL;
    lm_ckpt_reader_free(&c->r);
}

/* The first pass: every record authenticated and checked to END, nothing after it. */
static int verify(struct ckpt_in *c, const char *path, const uint8_t seed[32])
{
    size_t plen;
    struct lm_mig_rec rec;
    int rc = in_open(c, path, seed);
    while (rc == 0 && (rc = in_next(c, &plen, &rec)) == 1)
        rc = 0;
    in_close(c);
    return rc;
}

/* Reads the loader's next sealed record into plain; its type, or -1 said. */
static int loader_reply(int fd, crypto_secretstream_xchacha20poly1305_state *rx, uint8_t *frame,
                        uint8_t *plain, struct lm_mig_rec *rec)
{
    struct lm_diag d;
    uint8_t lenb[4];
    if (lmctl_read_full(fd, lenb, 4, "the loader's answer") != 0)
        return -1;
    uint32_t clen = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8 | (uint32_t)lenb[2] << 16 | (uint32_t)lenb[3] << 24;
    unsigned long long plen;
    unsigned char tag;
    if (clen < LM_MIG_SS_ABYTES || clen > LM_MIG_REC_HDR + LM_MIG_ERRMSG_MAX + LM_MIG_SS_ABYTES ||
        lmctl_read_full(fd, frame, clen, "the loader's answer") != 0 ||
        crypto_secretstream_xchacha20poly1305_pull(rx, plain, &plen, &tag, frame, clen, NULL, 0) != 0 ||
        lm_mig_rec_parse(plain, (size_t)plen, rec, &d) != 0) {
        lmctl_err("the loader's answer does not open as a record of this stream");
        return -1;
    }
    if (rec->type == LM_MIG_ERROR) {
        lmctl_err("the loader refused the checkpoint: %s: %.*s", lm_status_name((int)rec->count) ?: "?", (int)rec->body_len, (const char *)rec->body);
        return -1;
    }
    return rec->type;
}

/* The second pass, as the guest would send it: payload header, hello, records, READY, GO. */
static int stream_into(struct ckpt_in *c, const char *path, const uint8_t seed[32],
                       const struct lm_gc_migrate *m, const uint8_t mig_secret[32], int quiet)
{
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons(m->port)};
    memcpy(&to.sin_addr.s_addr, m->ip, 4);
    struct lm_mig_hello h;
    uint8_t kgl[32], klg[32];
    crypto_scalarmult_curve25519_base(h.mig_pub, mig_secret);
    randombytes_buf(h.nonce, sizeof h.nonce);
    if (lm_mig_keys(mig_secret, m->loader_pub, h.mig_pub, m->loader_pub, h.nonce, kgl, klg) != 0) {
        lmctl_err("X25519 with the loader's key failed (a low-order point?)");
        return -1;
    }
    uint8_t out[LM_PAYLOAD_HEADER_SIZE + LM_MIG_HELLO_SIZE + LM_MIG_SS_HEADER_BYTES];
    struct lm_payload_header ph = {.kind = LM_PAYLOAD_CHECKPOINT, .length = c->r.h.mem_size};
    crypto_secretstream_xchacha20poly1305_state tx, rx;
    lm_payload_header_encode(&ph, out);
    lm_mig_hello_encode(&h, out + LM_PAYLOAD_HEADER_SIZE);
    crypto_secretstream_xchacha20poly1305_init_push(&tx, out + LM_PAYLOAD_HEADER_SIZE + LM_MIG_HELLO_SIZE, kgl);
    int fd = -1, rc = -1;
    uint8_t *sealed = malloc(4 + LM_MIG_FRAME_MAX);
    uint8_t ans[4 + LM_MIG_SS_HEADER_BYTES];
    /* The loader may still be starting: try to connect for a few seconds. */
    for (uint64_t t0 = lm_now_ns(); lm_now_ns() - t0 < 10000000000ull; usleep(200000)) {
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&to, sizeof to) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    if (fd < 0 || !sealed) {
        lmctl_err("cannot reach the loader at %s:%u: %m", inet_ntoa(to.sin_addr), m->port);
        goto out;
    }
    lmctl_ckpt_timeouts(fd);
    if (lmctl_write_all(fd, out, sizeof out) != 0 || lmctl_read_full(fd, ans, 4, "the loader's answer") != 0)
        goto broken;
    if (memcmp(ans, LM_MIG_ANSWER_MAGIC, 4) != 0) {
        char line[200] = {0};
        memcpy(line, ans, 4);
        ssize_t k = read(fd, line + 4, sizeof line - 5);
        if (k > 0)
            line[4 + k] = '\0';
        line[strcspn(line, "\n")] = '\0';
        lmctl_err("the loader refused the hello: %s", line);
        goto out;
    }
    if (lmctl_read_full(fd, ans + 4, LM_MIG_SS_HEADER_BYTES, "the loader's answer") != 0)
        goto broken;
    if (crypto_secretstream_xchacha20poly1305_init_pull(&rx, ans + 4, klg) != 0) {
        lmctl_err("the loader's answer does not start its stream");
        goto out;
    }
    if (in_open(c, path, seed) != 0)
        goto out;
    size_t plen;
    struct lm_mig_rec rec;
    int more;
    uint64_t sent = 0, last = lm_now_ns();
    while ((more = in_next(c, &plen, &rec)) == 1) {
        size_t n = lmctl_ckpt_frame(&tx, c->plain, plen, false, sealed);
        if (lmctl_write_all(fd, sealed, n) != 0)
            goto broken;
        sent += n;
        if (!quiet && lm_now_ns() - last > 1000000000ull) {
            fprintf(stderr, "restore: %.1f MiB of %.1f streamed\n", sent / 1048576.0, c->off / 1048576.0);
            last = lm_now_ns();
        }
    }
    if (more < 0)
        goto out; /* the file changed since it was checked */
    int type = loader_reply(fd, &rx, c->frame, c->plain, &rec);
    if (type < 0)
        goto out;
    if (type != LM_MIG_READY) {
        lmctl_err("the loader answered END with record type %d, not READY", type);
        goto out;
    }
    uint8_t go[LM_MIG_REC_HDR + LM_MIG_GO_SIZE] = {0}; /* no firewall, no copy-on-write here */
    lm_mig_rec_header(go, LM_MIG_GO, 0, 0);
    size_t n = lmctl_ckpt_frame(&tx, go, sizeof go, true, sealed);
    if (lmctl_write_all(fd, sealed, n) != 0)
        goto broken;
    /* GO is taken when the loader has acknowledged it; the loader then hands over, and its
     * end of this connection vanishes with it. */
    for (uint64_t t1 = lm_now_ns(); lm_now_ns() - t1 < 5000000000ull; usleep(10000)) {
        int unacked = 0;
        if (ioctl(fd, SIOCOUTQ, &unacked) != 0 || unacked == 0)
            break;
    }
    rc = 0;
    goto out;
broken:
    lmctl_err("the loader at %s:%u broke the connection: %m", inet_ntoa(to.sin_addr), m->port);
out:
    if (fd >= 0)
        close(fd);
    free(sealed);
    sodium_memzero(kgl, sizeof kgl);
    sodium_memzero(klg, sizeof klg);
    sodium_memzero(&tx, sizeof tx);
    return rc;
}

int cmd_restore(int argc, char **argv)
{
    enum { O_TO = 256, O_REPLACE, O_PREPAID, O_TTL, O_NAME, O_CHECK };
    static const struct option opts[] = {{"owner", required_argument, NULL, 'o'},
                                         {"to", required_argument, NULL, O_TO},
                                         {"replace", no_argument, NULL, O_REPLACE},
                                         {"prepaid", required_argument, NULL, O_PREPAID},
                                         {"ttl", required_argument, NULL, O_TTL},
                                         {"name", required_argument, NULL, O_NAME},
                                         {"check", no_argument, NULL, O_CHECK},
                                         LMCTL_BROKER_OPTIONS,
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *owner_path = getenv("LM_OWNER"), *to = NULL, *url = NULL, *key = NULL;
    const char *name = NULL;
    int replace = 0, check = 0, quiet = 0, c;
    uint64_t prepaid = 60, ttl = 3600;
    while ((c = getopt_long(argc, argv, "hq", opts, NULL)) != -1) {
        switch (c) {
        case 'o': owner_path = optarg; break;
        case O_TO: to = optarg; break;
        case O_REPLACE: replace = 1; break;
        case O_CHECK: check = 1; break;
        case O_NAME:
            name = optarg;
            if (!lmctl_name_ok(name)) {
                lmctl_err("--name %s: a VM name is 1 to %d of a-z, 0-9 and -, not starting with -", name, LMCTL_NAME_MAX);
                return LMCTL_USAGE;
            }
            break;
        case O_PREPAID:
            if (lmctl_u64("--prepaid", optarg, 0, LM_MAX_PREPAID, &prepaid) < 0)
                return LMCTL_USAGE;
            break;
        case O_TTL:
            if (lmctl_u64("--ttl", optarg, 60, LM_MAX_LIFETIME_S, &ttl) < 0)
                return LMCTL_USAGE;
            break;
        case 'B': url = optarg; break;
        case 'k': key = optarg; break;
        case 'q': quiet = 1; break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind + 1 != argc || (!to && !check)) {
        lmctl_err("restore: needs %s (see --help)", optind + 1 != argc ? "one checkpoint file" : "--to HOST");
        return LMCTL_USAGE;
    }
    const char *path = argv[optind];
    struct lmctl_owner o;
    if (lmctl_owner_load(owner_path, &o) < 0)
        return LMCTL_USAGE;
    struct ckpt_in in = {0};
    in.frame = malloc(LM_MIG_FRAME_MAX);
    in.plain = malloc(LM_MIG_REC_MAX);
    int rc = LMCTL_FAIL;
    if (!in.frame || !in.plain || verify(&in, path, o.kp.seed) != 0)
        goto out;
    const struct lm_ckpt_header *h = &in.r.h;
    char when[32], ip[LM_IP4_PREFIX_STR];
    time_t t = (time_t)h->created;
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&t));
    lm_ip4_prefix_format(h->ipv4, h->prefix, ip);
    if (!quiet || check)
        fprintf(check ? stdout : stderr, "%s: checkpoint of a %llu MiB guest at %s taken %s: %llu records checked (%llu data pages, %llu zero pages named, %u rounds)\n", path, (unsigned long long)(h->mem_size >> 20), ip, when, (unsigned long long)in.records, (unsigned long long)in.r.rs.got.data_pages, (unsigned long long)in.r.rs.got.zero_pages, in.r.rs.round + 1);
    if (check) {
        rc = LMCTL_OK;
        goto out;
    }
    if (replace && !h->prefix) {
        lmctl_err("%s: the checkpoint records no address to keep: restore it without --replace", path);
        goto out;
    }
    struct lm_gc_migrate m = {0};
    uint8_t mig_secret[32], mig_pub[32];
    randombytes_buf(mig_secret, sizeof mig_secret);
    crypto_scalarmult_curve25519_base(mig_pub, mig_secret);
    uint64_t t0 = lm_now_ns();
    struct lm_ckpt_header hc = *h;
    if (lmctl_prepare_destination(to, NULL, mig_pub, replace ? ip : NULL, hc.mem_size >> 20, prepaid, 0, ttl, url, key, name, quiet, &m) != 0)
        goto wipe;
    rc = LMCTL_MIG_FAILED;
    if (stream_into(&in, path, o.kp.seed, &m, mig_secret, quiet) != 0)
        goto wipe;
    struct sockaddr_in vm = {.sin_family = AF_INET, .sin_port = htons(LM_GC_PORT)};
    memcpy(&vm.sin_addr.s_addr, replace ? hc.ipv4 : m.ip, 4);
    /* The restored guest answers its owner once it has re-bound on the new host. */
    uint16_t st;
    struct lm_gc_status s;
    int answered = lmctl_guest_command(&o, &vm, LM_GC_STATUS, NULL, 0, 10000, &st, &s) == 0;
    printf("restored %s on %s in %.1f ms at %s%s: %.1f MiB streamed%s\n", path, to, (lm_now_ns() - t0) / 1e6, inet_ntoa(vm.sin_addr), replace ? " (its own address)" : " (a new identity)", in.off / 1048576.0, answered ? "; it answers its owner" : "; it has not answered its owner yet");
    rc = LMCTL_OK;
wipe:
    sodium_memzero(mig_secret, sizeof mig_secret);
    sodium_memzero(&m, sizeof m);
out:
    in_close(&in);
    free(in.frame);
    free(in.plain);
    return rc;
}
