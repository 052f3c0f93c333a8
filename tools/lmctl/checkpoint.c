/*
 * lmctl checkpoint: records a running guest into a file, sealed for its owner, while it keeps
 * running. lmctl plays the destination loader: it listens, tells the guest (the owner's signed
 * `migrate` command) to migrate to itself with a fresh loader key, takes the stream and checks
 * every record as a loader does (lm_mig_recv_record), seals each into the file (ckptfile.h)
 * and, once END checks out and the file is on disk, answers SAVED instead of READY: the guest
 * ends its final phase and carries on where it is, and no GO is ever sent.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "laundromat/ckptfile.h"
#include "laundromat/clock.h"
#include "laundromat/guestctl.h"
#include "laundromat/payload.h"
#include "laundromat/util.h"
#include "ckpt.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl checkpoint --owner FILE -o FILE [--listen ADDR[:PORT]] [--max-rounds N]\n"
    "                        [--prefix P] [--zstd] [--quiet] [--on-evict [--wait-max D]]\n"
    "                        VM[:PORT]\n"
    "Records a guest you own (owner= at injection) into FILE while it keeps running: lmctl\n"
    "takes the guest's migration stream itself, checks every record as a loader would, and\n"
    "seals it for your owner key (only that key restores it); the guest pauses for its final\n"
    "phase, then carries on where it is. lmctl restore starts the checkpoint on a host.\n"
    "  --owner FILE        your secret key (default $LM_OWNER); it also seals the file\n"
    "  -o, --output FILE   the checkpoint file (created, never overwritten)\n"
    "  --listen ADDR[:PORT] where the guest connects to (default: this machine's address\n"
    "                      toward the guest, a free port)\n"
    "  --max-rounds N      pre-copy rounds at most (default: the guest's, 30)\n"
    "  --prefix P          the guest's network prefix length, kept for --replace (default 24)\n"
    "  --zstd              the guest sends its pages zstd-compressed where that is smaller:\n"
    "                      a smaller file (restore inflates them in the loader)\n"
    "  --quiet             no progress lines\n"
    "  --on-evict          wait until the guest's host evicts it (its status asked every\n"
    "                      second), then checkpoint it at once, before the deadline\n"
    "  --wait-max D        with --on-evict, give up after D: 90s, 10m, 1500ms (default: never)\n"
    "exit status: 0 saved; 4 not saved, the guest runs on as before; 1, 2 nothing was asked\n"
    "(with --on-evict, 1 also when the guest went silent for 30 s or --wait-max passed)\n";

/* The address of this machine that the guest would reach: the source of a route to it. */
static int local_toward(const struct sockaddr_in *vm, struct sockaddr_in *out)
{
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    socklen_t len = sizeof *out;
    int rc = fd >= 0 && connect(fd, (const struct sockaddr *)vm, sizeof *vm) == 0 &&
                     getsockname(fd, (struct sockaddr *)out, &len) == 0
                 ? 0
                 : -1;
    if (fd >= 0)
        close(fd);
    if (rc)
        lmctl_err("no route to %s from here: %m (name the address with --listen)", inet_ntoa(vm->sin_addr));
    out->sin_port = 0;
    return rc;
}

struct recorder {
    int fd, out;
    const char *path;
    char part[4096];
    crypto_secretstream_xchacha20poly1305_state rx, tx;
    struct lm_ckpt_writer w;
    struct lm_mig_recv rs;
    uint64_t *covered;
    uint64_t file_bytes, wire_bytes;
    uint8_t *frame, *plain, *sealed;
};

/* A sealed ERROR to the guest, so that it carries on at once rather than at its deadline. */
static void refuse(struct recorder *r, int status, const char *msg)
{
    uint8_t plain[LM_MIG_REC_HDR + LM_MIG_ERRMSG_MAX], frame[4 + sizeof plain + LM_MIG_SS_ABYTES];
    size_t n = strlen(msg) < LM_MIG_ERRMSG_MAX ? strlen(msg) : LM_MIG_ERRMSG_MAX;
    lm_mig_rec_header(plain, LM_MIG_ERROR, (uint32_t)status, 0);
    memcpy(plain + LM_MIG_REC_HDR, msg, n ? n : 1);
    size_t len = lmctl_ckpt_frame(&r->tx, plain, LM_MIG_REC_HDR + (n ? n : 1), false, frame);
    lmctl_write_all(r->fd, frame, len);
}

/* Takes the stream into r->out; 0 when END checked out (the file still to be completed). */
static int record(struct recorder *r, uint64_t mem_size, int quiet)
{
    struct lm_diag d;
    uint64_t last = lm_now_ns(), records = 0;
    for (;;) {
        uint8_t lenb[4];
        if (lmctl_read_full(r->fd, lenb, 4, "the guest's stream") != 0)
            return -1;
        uint32_t clen = (uint32_t)lenb[0] | (uint32_t)lenb[1] << 8 | (uint32_t)lenb[2] << 16 |
                        (uint32_t)lenb[3] << 24;
        if (clen < LM_MIG_SS_ABYTES + LM_MIG_REC_HDR || clen > LM_MIG_FRAME_MAX) {
            lmctl_err("the guest sent a frame of %u bytes (record %llu); expected %d to %u", clen, (unsigned long long)records, LM_MIG_SS_ABYTES + LM_MIG_REC_HDR, (unsigned)LM_MIG_FRAME_MAX);
            refuse(r, LM_BAD_RECORD, "frame length out of range");
            return -1;
        }
        if (lmctl_read_full(r->fd, r->frame, clen, "the guest's stream") != 0)
            return -1;
        r->wire_bytes += 4 + clen;
        unsigned long long plen;
        unsigned char tag;
        if (crypto_secretstream_xchacha20poly1305_pull(&r->rx, r->plain, &plen, &tag, r->frame,
                                                       clen, NULL, 0) != 0) {
            lmctl_err("record %llu from the guest failed authentication", (unsigned long long)records);
            refuse(r, LM_STREAM_AUTH, "a record failed authentication");
            return -1;
        }
        struct lm_mig_rec rec;
        int act = lm_mig_recv_record(&r->rs, r->plain, (size_t)plen,
                                     tag == crypto_secretstream_xchacha20poly1305_TAG_FINAL, &rec, &d);
        if (act == LM_MIG_ACT_INFLATE && lm_zpages_check(&rec, &d) != 0)
            act = -LM_BAD_RECORD;
        if (act < 0 || act == LM_MIG_ACT_GO) {
            if (act >= 0)
                snprintf(d.msg, sizeof d.msg, "GO before SAVED");
            lmctl_err("the guest's stream: %s", d.msg);
            refuse(r, act < 0 ? -act : LM_BAD_RECORD, d.msg);
            return -1;
        }
        size_t n = lm_ckpt_seal(&r->w, r->plain, (size_t)plen, act == LM_MIG_ACT_READY, r->sealed);
        if (lmctl_write_all(r->out, r->sealed, n) != 0) {
            lmctl_err("%s: %m", r->part);
            refuse(r, LM_IO, "the recorder could not write its file");
            return -1;
        }
        r->file_bytes += n;
        records++;
        if (act == LM_MIG_ACT_READY)
            return 0;
        uint64_t now = lm_now_ns();
        if (!quiet && now - last > 1000000000ull) {
            fprintf(stderr, "checkpoint: round %u, %llu of %llu pages covered, %.1f MiB written\n", r->rs.round, (unsigned long long)(r->rs.got.data_pages + r->rs.got.zero_pages), (unsigned long long)(mem_size / LM_MIG_PAGE), r->file_bytes / 1048576.0);
            last = now;
        }
    }
}

/* The loader's side of the handshake: payload header, hello, keys, our answer. */
static int handshake(struct recorder *r, const uint8_t l[32], const uint8_t lpub[32],
                     const uint8_t mig_pub[32], uint64_t mem_size)
{
    uint8_t in[LM_PAYLOAD_HEADER_SIZE + LM_MIG_HELLO_SIZE + LM_MIG_SS_HEADER_BYTES];
    struct lm_payload_header ph;
    struct lm_mig_hello h;
    struct lm_diag d;
    if (lmctl_read_full(r->fd, in, sizeof in, "the guest's hello") != 0)
        return -1;
    if (lm_payload_header_decode(in, LM_PAYLOAD_HEADER_SIZE, &ph, &d) != 0 ||
        lm_mig_hello_decode(in + LM_PAYLOAD_HEADER_SIZE, LM_MIG_HELLO_SIZE, &h, &d) != 0) {
        lmctl_err("the guest's hello: %s", d.msg);
        return -1;
    }
    if (ph.kind != LM_PAYLOAD_CHECKPOINT || ph.length != mem_size ||
        sodium_memcmp(h.mig_pub, mig_pub, 32) != 0) {
        lmctl_err("the connection is not this guest's checkpoint (kind %u, %llu bytes, another migration key)", ph.kind, (unsigned long long)ph.length);
        return -1;
    }
    uint8_t kgl[32], klg[32], out[4 + LM_MIG_SS_HEADER_BYTES];
    int rc = lm_mig_keys(l, h.mig_pub, h.mig_pub, lpub, h.nonce, kgl, klg);
    if (rc == 0 && crypto_secretstream_xchacha20poly1305_init_pull(
                       &r->rx, in + LM_PAYLOAD_HEADER_SIZE + LM_MIG_HELLO_SIZE, kgl) != 0)
        rc = -1;
    if (rc == 0) {
        memcpy(out, LM_MIG_ANSWER_MAGIC, 4);
        crypto_secretstream_xchacha20poly1305_init_push(&r->tx, out + 4, klg);
        rc = lmctl_write_all(r->fd, out, sizeof out);
    }
    sodium_memzero(kgl, sizeof kgl);
    sodium_memzero(klg, sizeof klg);
    if (rc)
        lmctl_err("the handshake with the guest failed");
    return rc;
}

/* Waits for the guest's connection (from its own address) for up to 15 s. */
static int accept_guest(int lfd, const struct sockaddr_in *vm)
{
    uint64_t t0 = lm_now_ns();
    while (lm_now_ns() - t0 < 15000000000ull) {
        struct pollfd p = {.fd = lfd, .events = POLLIN};
        if (poll(&p, 1, 500) <= 0)
            continue;
        struct sockaddr_in from;
        socklen_t fl = sizeof from;
        int fd = accept4(lfd, (struct sockaddr *)&from, &fl, SOCK_CLOEXEC);
        if (fd < 0)
            continue;
        if (from.sin_addr.s_addr == vm->sin_addr.s_addr)
            return fd;
        fprintf(stderr, "checkpoint: closed a connection from %s: not the guest\n", inet_ntoa(from.sin_addr));
        close(fd);
    }
    lmctl_err("the guest did not connect within 15 s (can it reach this address? --listen names another)");
    return -1;
}

/* --on-evict: asks the guest's status every second until its host evicts it (LMCTL_OK); gives
 * up (LMCTL_FAIL) when it has not answered for EVICT_GONE_S, or after wait_max_ms (0: never). */
#define EVICT_GONE_S 30
static int wait_for_eviction(const struct lmctl_owner *o, const struct sockaddr_in *vm,
                             const char *name, uint64_t wait_max_ms)
{
    printf("checkpoint: waiting for %s's host to evict it (its status asked every second)\n", name);
    fflush(stdout);
    uint64_t t0 = lm_now_ns(), answered = t0;
    for (;;) {
        uint64_t asked = lm_now_ns();
        uint16_t st;
        struct lm_gc_status s;
        if (lmctl_guest_command(o, vm, LM_GC_STATUS, NULL, 0, 1000, &st, &s) == 0) {
            answered = lm_now_ns();
            if (s.evict_ms) {
                printf("checkpoint: %s is evicted, its host reclaims it in %.1f s: checkpointing it now because of the eviction\n", name, s.evict_ms / 1e3);
                fflush(stdout);
                return LMCTL_OK;
            }
        }
        uint64_t now = lm_now_ns();
        if (now - answered >= EVICT_GONE_S * 1000000000ull) {
            lmctl_err("%s: no answer for %d s while waiting for its eviction: it has gone (ended, or moved away); nothing was checkpointed", name, EVICT_GONE_S);
            return LMCTL_FAIL;
        }
        if (wait_max_ms && now - t0 >= wait_max_ms * 1000000ull) {
            lmctl_err("%s: not evicted within --wait-max (%.1f s); nothing was checkpointed", name, wait_max_ms / 1e3);
            return LMCTL_FAIL;
        }
        if (now - asked < 1000000000ull)
            usleep((useconds_t)((1000000000ull - (now - asked)) / 1000));
    }
}

int cmd_checkpoint(int argc, char **argv)
{
    static const struct option opts[] = {{"owner", required_argument, NULL, 'w'},
                                         {"output", required_argument, NULL, 'o'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"max-rounds", required_argument, NULL, 'r'},
                                         {"prefix", required_argument, NULL, 'p'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"on-evict", no_argument, NULL, 'E'},
                                         {"zstd", no_argument, NULL, 'Z'},
                                         {"wait-max", required_argument, NULL, 'W'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *owner_path = getenv("LM_OWNER"), *out_path = NULL, *listen_at = NULL;
    uint64_t max_rounds = 0, prefix = 24, wait_max_ms = 0;
    int quiet = 0, on_evict = 0, zstd = 0, c;
    while ((c = getopt_long(argc, argv, "ho:q", opts, NULL)) != -1) {
        switch (c) {
        case 'w': owner_path = optarg; break;
        case 'o': out_path = optarg; break;
        case 'l': listen_at = optarg; break;
        case 'r':
            if (lmctl_u64("--max-rounds", optarg, 1, 1000, &max_rounds) < 0)
                return LMCTL_USAGE;
            break;
        case 'p':
            if (lmctl_u64("--prefix", optarg, 1, 32, &prefix) < 0)
                return LMCTL_USAGE;
            break;
        case 'q': quiet = 1; break;
        case 'E': on_evict = 1; break;
        case 'Z': zstd = 1; break;
        case 'W':
            if (lm_parse_duration_ms(optarg, 31536000000ull, &wait_max_ms) != 0 || !wait_max_ms) {
                lmctl_err("--wait-max %s: a duration such as 90s, 10m or 1500ms, at most a year", optarg);
                return LMCTL_USAGE;
            }
            break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind + 1 != argc || !out_path) {
        lmctl_err("checkpoint: needs %s (see --help)", out_path ? "one VM" : "-o FILE");
        return LMCTL_USAGE;
    }
    if (wait_max_ms && !on_evict) {
        lmctl_err("checkpoint: --wait-max goes with --on-evict");
        return LMCTL_USAGE;
    }
    struct lmctl_owner o;
    struct sockaddr_in vm, at;
    const char *vm_name = NULL;
    if (lmctl_owner_load(owner_path, &o) < 0)
        return LMCTL_USAGE;
    int rc = lmctl_vm_target(argv[optind], LM_GC_PORT, NULL, NULL, &vm, &vm_name);
    if (rc != LMCTL_OK)
        return rc;
    if (access(out_path, F_OK) == 0) {
        lmctl_err("%s exists: a checkpoint is never written over another file", out_path);
        return LMCTL_USAGE;
    }
    if (listen_at ? lmctl_addr(listen_at, 0, &at) < 0 : local_toward(&vm, &at) < 0)
        return LMCTL_USAGE;
    if (on_evict && (rc = wait_for_eviction(&o, &vm, argv[optind], wait_max_ms)) != LMCTL_OK)
        return rc;
    if (on_evict && access(out_path, F_OK) == 0) {
        lmctl_err("%s appeared while waiting: a checkpoint is never written over another file", out_path);
        return LMCTL_FAIL;
    }
    uint16_t st;
    struct lm_gc_status s;
    rc = lmctl_guest_command(&o, &vm, LM_GC_STATUS, NULL, 0, 10000, &st, &s);
    if (rc) {
        lmctl_err("%s: no authenticated answer (not running, not yours, or owner= not given at injection)", argv[optind]);
        return LMCTL_MIG_FAILED;
    }
    uint64_t mem_size = s.ram_pages * LM_MIG_PAGE;

    struct recorder r = {.fd = -1, .out = -1, .path = out_path};
    uint8_t l[32], lpub[32], mig_pub[32];
    int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    socklen_t al = sizeof at;
    if (lfd < 0 || bind(lfd, (struct sockaddr *)&at, sizeof at) != 0 || listen(lfd, 4) != 0 ||
        getsockname(lfd, (struct sockaddr *)&at, &al) != 0) {
        lmctl_err("cannot listen on %s:%u: %m", inet_ntoa(at.sin_addr), ntohs(at.sin_port));
        if (lfd >= 0)
            close(lfd);
        return LMCTL_FAIL;
    }
    snprintf(r.part, sizeof r.part, "%s.part", out_path);
    r.out = open(r.part, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    r.frame = malloc(LM_MIG_FRAME_MAX);
    r.plain = malloc(LM_MIG_REC_MAX);
    r.sealed = malloc(4 + LM_MIG_FRAME_MAX);
    r.covered = calloc((s.ram_pages + 63) / 64, sizeof *r.covered);
    if (r.out < 0) {
        lmctl_err("%s: %m (a .part file is left by a checkpoint that did not finish: remove it)", r.part);
        close(lfd);
        free(r.frame), free(r.plain), free(r.sealed), free(r.covered);
        return LMCTL_FAIL;
    }
    lm_mig_recv_init(&r.rs, mem_size, r.covered);
    uint8_t hdr[LM_CKPT_HEADER_SIZE];
    uint8_t ip[4];
    memcpy(ip, &vm.sin_addr.s_addr, 4);
    rc = LMCTL_MIG_FAILED;
    if (!r.frame || !r.plain || !r.sealed || !r.covered ||
        lm_ckpt_writer_init(&r.w, o.kp.seed, mem_size, (uint64_t)time(NULL), ip, (uint8_t)prefix, hdr) != 0 ||
        lmctl_write_all(r.out, hdr, sizeof hdr) != 0) {
        lmctl_err("%s: cannot start the file: %m", r.part);
        goto out;
    }
    r.file_bytes = sizeof hdr;

    /* The guest migrates to us: a loader key and a migration key of our own. */
    struct lm_gc_migrate m = {0};
    randombytes_buf(l, sizeof l);
    crypto_scalarmult_curve25519_base(lpub, l);
    randombytes_buf(m.mig_secret, 32);
    crypto_scalarmult_curve25519_base(mig_pub, m.mig_secret);
    memcpy(m.ip, &at.sin_addr.s_addr, 4);
    m.port = ntohs(at.sin_port);
    memcpy(m.loader_pub, lpub, 32);
    m.max_rounds = (uint32_t)max_rounds;
    m.flags = zstd ? LM_GC_MIGRATE_ZSTD : 0;
    uint8_t body[LM_GC_MIGRATE_SIZE];
    lm_gc_migrate_encode(&m, body);
    sodium_memzero(&m, sizeof m);
    uint64_t t0 = lm_now_ns();
    if (!quiet)
        fprintf(stderr, "checkpoint: %s (%llu MiB) streams to %s:%u\n", argv[optind], (unsigned long long)(mem_size >> 20), inet_ntoa(at.sin_addr), ntohs(at.sin_port));
    int grc = lmctl_guest_command(&o, &vm, LM_GC_MIGRATE, body, sizeof body, 10000, &st, &s);
    sodium_memzero(body, sizeof body);
    if (grc || st != 0) {
        if (grc)
            lmctl_err("%s: no answer to the checkpoint request: the guest runs as before", argv[optind]);
        else
            lmctl_err("%s refused: %s%s%s", argv[optind], lm_status_text(st), s.error[0] ? ": " : "", s.error);
        goto out;
    }
    r.fd = accept_guest(lfd, &vm);
    if (r.fd >= 0)
        lmctl_ckpt_timeouts(r.fd);
    if (r.fd < 0 || handshake(&r, l, lpub, mig_pub, mem_size) != 0 || record(&r, mem_size, quiet) != 0)
        goto out;
    /* The file first, then SAVED: the guest lets go of its final phase only once it is kept. */
    if (fsync(r.out) != 0 || close(r.out) != 0 || rename(r.part, out_path) != 0) {
        r.out = -1;
        lmctl_err("%s: %m", out_path);
        refuse(&r, LM_IO, "the recorder could not keep its file");
        goto out;
    }
    r.out = -1;
    uint8_t plain[LM_MIG_REC_HDR + LM_MIG_TOTALS_SIZE], frame[4 + sizeof plain + LM_MIG_SS_ABYTES];
    lm_mig_rec_header(plain, LM_MIG_SAVED, 0, 0);
    lm_mig_totals_encode(&r.rs.got, plain + LM_MIG_REC_HDR);
    size_t n = lmctl_ckpt_frame(&r.tx, plain, sizeof plain, false, frame);
    if (lmctl_write_all(r.fd, frame, n) != 0)
        fprintf(stderr, "checkpoint: the guest's connection broke before SAVED: it carries on when its deadline passes\n");
    double secs = (lm_now_ns() - t0) / 1e9;
    /* The guest's own account of its pause, once it has carried on. */
    double pause_ms = -1;
    for (int i = 0; i < 20; i++) {
        usleep(100000);
        if (lmctl_guest_command(&o, &vm, LM_GC_STATUS, NULL, 0, 1000, &st, &s) == 0 &&
            s.phase == LM_GC_PHASE_IDLE) {
            pause_ms = s.last.downtime_ns / 1e6;
            break;
        }
    }
    printf("checkpoint of %s written to %s in %.2f s: %.1f MiB for %llu MiB of RAM (%llu data pages, %llu zero pages named, %u rounds, %llu pages in the final phase)", argv[optind], out_path, secs, r.file_bytes / 1048576.0, (unsigned long long)(mem_size >> 20), (unsigned long long)r.rs.got.data_pages, (unsigned long long)r.rs.got.zero_pages, r.rs.round + 1, (unsigned long long)r.rs.final_pages);
    if (pause_ms >= 0)
        printf("; the guest paused %.1f ms and runs on", pause_ms);
    printf("\n");
    rc = LMCTL_OK;
out:
    sodium_memzero(l, sizeof l);
    sodium_memzero(&r.w, sizeof r.w);
    if (r.out >= 0) {
        close(r.out);
        unlink(r.part);
    }
    if (r.fd >= 0)
        close(r.fd);
    close(lfd);
    free(r.frame), free(r.plain), free(r.sealed), free(r.covered);
    sodium_memzero(&r.rx, sizeof r.rx);
    sodium_memzero(&r.tx, sizeof r.tx);
    return rc;
}
