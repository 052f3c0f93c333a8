/*
 * Evil Man, the host agent: boots a VM for every valid magic ping, credits payments, warns
 * and then reclaims VMs whose payments stop. One thread, one epoll loop: the UDP socket, the
 * control socket, the accounting timer, signals, and each monitor's control socket.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backend/backend.h"
#include "evilman.h"
#include "laundromat/clock.h"
#include "laundromat/keys.h"
#include "laundromat/log.h"
#include "laundromat/netaddr.h"
#include "laundromat/util.h"

static const char usage[] =
    "usage: evilman --config FILE [-v | -q] [--check]\n"
    "Evil Man, the Laundromat host agent: boots a VM for each valid magic ping (UDP), takes\n"
    "hash-chain payments, and reclaims VMs whose payments stop. Runs as root.\n"
    "  -c, --config FILE  configuration (see docs/evilman.conf.example)\n"
    "      --check        load and check the configuration, then exit\n"
    "  -v, --verbose      debug logging\n"
    "  -q, --quiet        errors and warnings only\n"
    "  -h, --help         this text\n";

static struct em_config cfg;
static struct replay *replay;
static struct ratelimit *rl, *fair;
static int ep_fd;
static struct lm_keypair vouch_key; /* the operator's: vouches for checkpoint loaders */
static bool can_vouch;

/* Replies wait here and leave together (sendmmsg) at the end of each batch of datagrams. */
#define BATCH 32
static struct {
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    struct sockaddr_in to[BATCH];
    uint8_t b[BATCH][LM_PING_REPLY_MAX > LM_PAY_REPLY_SIZE ? LM_PING_REPLY_MAX : LM_PAY_REPLY_SIZE];
    unsigned n;
} outq;

static void flush_replies(void)
{
    if (outq.n)
        sendmmsg(em_udp.fd, outq.m, outq.n, MSG_DONTWAIT);
    outq.n = 0;
}

static void reply_to(const struct sockaddr_in *to, const uint8_t *b, size_t n)
{
    if (n > sizeof outq.b[0])
        return;
    if (outq.n == BATCH)
        flush_replies();
    unsigned i = outq.n++;
    memcpy(outq.b[i], b, n);
    outq.to[i] = *to;
    outq.iov[i] = (struct iovec){outq.b[i], n};
    outq.m[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &outq.to[i], .msg_namelen = sizeof *to,
                                             .msg_iov = &outq.iov[i], .msg_iovlen = 1}};
}

static void watch(int fd)
{
    struct epoll_event e = {.events = EPOLLIN, .data.fd = fd};
    epoll_ctl(ep_fd, EPOLL_CTL_ADD, fd, &e);
}

/* Refusals are logged, but a flood of them must not become a flood of log: at most
 * LOG_BURST a second, then one line saying how many were left out. */
#define LOG_BURST 20
static bool log_refusal_allowed(void)
{
    static uint64_t window;
    static unsigned logged, suppressed;
    uint64_t now = lm_now_ns() / 1000000000ull;
    if (now != window) {
        if (suppressed)
            lm_info("%u more refused pings in the last second not logged one by one", suppressed);
        window = now;
        logged = suppressed = 0;
    }
    if (logged < LOG_BURST) {
        logged++;
        return true;
    }
    suppressed++;
    return false;
}

/* Warm loaders up to warm_loaders while the host has room for them (vm_start with no token);
 * the buyer's ping then finds one booted. The next one boots WARM_AFTER_MS after one was taken,
 * not while the buyer's image streams in and boots (on 2 cores a loader's boot beside them made
 * the buyer's wait 1.4x as long), and a second after one failed to start or to stay up, so that
 * a broken loader costs one attempt and one line of log a second. */
#define WARM_AFTER_MS 50
static uint64_t warm_not_before_ns;

static void warm_later(uint64_t ms)
{
    uint64_t t = lm_now_ns() + ms * 1000000ull;
    if (t > warm_not_before_ns)
        warm_not_before_ns = t;
}

static void warm_refill(void)
{
    if (!cfg.warm_loaders || lm_now_ns() < warm_not_before_ns || evict_pressed())
        return;
    while (vm_warm_count() < cfg.warm_loaders && vm_count() < cfg.max_vms &&
           vm_mem_in_use() + cfg.warm_mem_mib <= cfg.total_mem_mib) {
        int status;
        struct lm_diag d;
        struct vm *v = vm_start(&cfg, NULL, 0, &status, &d);
        if (!v) {
            lm_warn("cannot start a warm loader (%s); the next try in a second", d.msg);
            warm_later(1000);
            return;
        }
        watch(em_backend->event_fd(v->be));
        lm_info("VM %llu: a warm loader of %u MiB on %s, waiting for a buyer",
                (unsigned long long)v->id, cfg.warm_mem_mib, v->tap);
    }
}

static void handle_ping(const uint8_t *b, size_t n, const struct sockaddr_in *from)
{
    struct admit_limits lim = {vm_count(), cfg.max_vms, vm_mem_in_use(), cfg.total_mem_mib,
                               can_vouch, vm_warm_count()};
    struct admit a;
    ping_admit(b, n, from->sin_addr.s_addr, lm_now(), lm_now_ns(), &cfg, &lim, replay, rl, &a);
    if (a.quiet)
        return; /* answered a moment ago: a flood of replays costs a lookup each, no more */
    if (a.resend) {
        reply_to(from, a.cached, a.cached_len);
        return;
    }
    char src[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &from->sin_addr, src, sizeof src);
    struct lm_ping_reply r = {.nonce = a.ping.nonce, .server_time = lm_now()};
    memcpy(r.token_id, a.token.id, LM_TOKEN_ID_BYTES);
    struct vm *v = NULL;
    struct vm *warm = NULL; /* the warm loader the token takes: its descriptor is watched */
    if (a.status == LM_OK) {
        warm = vm_warm_for(&cfg, &a.token);
        if (warm)
            warm_later(WARM_AFTER_MS); /* the next one waits */
        else
            vm_warm_make_room(&cfg, &a.token);
        v = vm_start(&cfg, &a.token, from->sin_addr.s_addr, &a.status, &a.why);
    }
    if (v && v != warm)
        watch(em_backend->event_fd(v->be)); /* its backend reports the hand-over here */
    if (v && a.ping.has_payment) { /* the first payment rides along */
        struct lm_diag pd;
        if (credit_pay(&cfg, v, a.ping.pay_index, a.ping.pay_link, &pd) != 0)
            lm_warn("VM %llu: first payment refused: %s", (unsigned long long)v->id, pd.msg);
    }
    if (v) {
        char id[33];
        lm_token_id_hex(a.token.id, id);
        r.vm_id = v->id;
        memcpy(r.loader_ip, v->ip, 4);
        r.loader_port = (uint16_t)cfg.loader_port;
        r.credit_ms = (uint64_t)(v->credit_ms > 0 ? v->credit_ms : 0);
        if (v->checkpoint) { /* the owner checks this before the guest sends its memory */
            memcpy(r.loader_pub, v->loader_pub, 32);
            lm_vouch_sign(&r, vouch_key.sk);
        }
        char ip[LM_IP4_STR];
        lm_info("ping from %s: token %s admitted: VM %llu, %u MiB, %s on %s, %lld ms prepaid",
                src, id, (unsigned long long)v->id, a.token.mem_mib, lm_ip4_format(v->ip, ip),
                v->tap, (long long)v->credit_ms);
    } else {
        r.status = (uint16_t)a.status;
        if (log_refusal_allowed())
            lm_info("ping from %s refused: %s (%s)", src, lm_status_name(a.status), a.why.msg);
    }
    uint8_t out[LM_PING_REPLY_MAX];
    int len = lm_ping_reply_encode(&r, out, sizeof out);
    if (v && replay_add(replay, a.token.id, a.token.expires_at, b, n, out, (size_t)len,
                        lm_now_ns()) != 0) {
        /* Full: better to refuse new tokens than to let a cached one boot twice. */
        vm_destroy(v, "replay cache full");
        r.status = LM_BUSY;
        r.flags = 0;
        len = lm_ping_reply_encode(&r, out, sizeof out);
    }
    reply_to(from, out, (size_t)len);
}

static void handle_payment(const uint8_t *b, size_t n, const struct sockaddr_in *from)
{
    struct lm_pay p;
    struct lm_diag d;
    struct lm_pay_reply r = {.server_time = lm_now()};
    int rc = lm_pay_decode(b, n, &p, &d);
    if (rc) { /* not worth an answer: it may not be a payment at all */
        lm_debug("dropped a malformed payment: %s", d.msg);
        return;
    }
    memcpy(r.token_id, p.token_id, LM_TOKEN_ID_BYTES);
    struct vm *v = vm_find_token(p.token_id);
    if (!v || v->state == VM_ENDED)
        rc = lm_fail(&d, LM_UNKNOWN_TOKEN, "no VM runs with this token here");
    else
        rc = credit_pay(&cfg, v, p.index, p.link, &d);
    r.status = (uint16_t)(rc < 0 ? -rc : 0);
    if (v) {
        r.accepted_index = v->chain.last_index;
        r.credit_ms = (uint64_t)(v->credit_ms > 0 ? v->credit_ms : 0);
    }
    if (rc && rc != -LM_CHAIN_DUPLICATE && rc != -LM_CHAIN_STALE && log_refusal_allowed()) {
        char src[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, &from->sin_addr, src, sizeof src);
        lm_info("payment from %s refused: %s", src, d.msg);
    }
    uint8_t out[LM_PAY_REPLY_SIZE];
    lm_pay_reply_encode(&r, out, sizeof out);
    reply_to(from, out, sizeof out);
}

#define BEHIND 8
/* Datagrams in batches (recvmmsg: one system call for up to BATCH), their replies out
 * together (sendmmsg); 8 batches, then the timer and the children get their turn. A read of
 * BEHIND or more means they arrive faster than the agent wakes for them: it is behind, and then
 * each source gets its fair share,
 * datagram_rate_per_source, and a flood's excess is dropped before any decoding (a hash and a
 * bucket each), so that the queue drains and the next source's ping waits behind little. */
static void handle_udp(void)
{
    static uint8_t b[BATCH][LM_WIRE_MAX + 1];
    static struct sockaddr_in from[BATCH];
    static struct iovec iov[BATCH];
    static struct mmsghdr m[BATCH];
    for (int burst = 0; burst < 8; burst++) {
        for (unsigned i = 0; i < BATCH; i++) {
            iov[i] = (struct iovec){b[i], sizeof b[i]};
            m[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &from[i], .msg_namelen = sizeof from[i],
                                                .msg_iov = &iov[i], .msg_iovlen = 1}};
        }
        int got = recvmmsg(em_udp.fd, m, BATCH, MSG_DONTWAIT, NULL);
        em_udp.received += got > 0 ? (unsigned)got : 0u;
        bool behind = got >= BEHIND;
        uint64_t now = behind ? lm_now_ns() : 0;
        for (int i = 0; i < got; i++) {
            size_t n = m[i].msg_len; /* a longer datagram is cut to LM_WIRE_MAX + 1: refused */
            if (m[i].msg_hdr.msg_namelen != sizeof from[i])
                continue;
            if (behind && !ratelimit_take(fair, from[i].sin_addr.s_addr, now)) {
                em_udp.shed++;
                continue;
            }
            if (n >= 4 && memcmp(b[i], LM_PING_MAGIC, 4) == 0)
                handle_ping(b[i], n, &from[i]);
            else if (n >= 4 && memcmp(b[i], LM_PAY_MAGIC, 4) == 0)
                handle_payment(b[i], n, &from[i]);
            /* anything else: silence, and no work */
        }
        flush_replies();
        if (got < BATCH)
            return;
    }
}

/* What a VM's backend reports: the hand-over, the guest's notices, its end. */
static void handle_vm_events(int fd)
{
    struct vm *v = vm_find_event_fd(fd);
    struct be_event e;
    while (v && em_backend->next_event(v->be, &e)) {
        if (e.kind == BE_ENDED) {
            epoll_ctl(ep_fd, EPOLL_CTL_DEL, fd, NULL);
            if (v->state == VM_WARM) { /* ended on its own, never taken: something is wrong */
                lm_warn("VM %llu: a warm loader ended by itself (its log is %s); the next one "
                        "in a second", (unsigned long long)v->id, v->log_path);
                warm_later(1000);
            }
            vm_reap(&cfg, v, e.status);
            return;
        }
        if (e.kind == BE_BOOTED && !v->booted_ns &&
            (v->state == VM_LOADING || v->state == VM_RECEIVING || v->state == VM_GRACE)) {
            v->booted_ns = lm_now_ns();
            if (v->checkpoint)
                vm_commit(&cfg, v);
            else if (v->state == VM_LOADING)
                vm_set_state(v, VM_RUNNING);
            lm_info("VM %llu: %s (%.1f ms after admission)%s", (unsigned long long)v->id,
                    v->checkpoint ? "checkpoint verified and resumed" : "image verified and booted",
                    (double)(v->booted_ns - v->started_ns) / 1e6,
                    v->state == VM_GRACE ? "; in grace until paid" : "");
            settle_report_location(&cfg, v);
        } else if (e.kind == BE_NOTICE) {
            vm_notice(v, e.notice);
        }
    }
}

static void destroy_one(struct vm *v, void *arg)
{
    vm_destroy(v, arg);
}


int main(int argc, char **argv)
{
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"check", no_argument, NULL, 'C'},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    /* Each VM's libvirt domain is started and destroyed on a short-lived thread, and glibc
     * gives threads arenas of their own, up to 8 per core, each keeping what it once held: two
     * arenas keep a long-running agent's memory at what it uses. */
    mallopt(M_ARENA_MAX, 2);
    const char *path = NULL;
    int check = 0, c;
    enum lm_log_level level = LM_LOG_INFO;
    while ((c = getopt_long(argc, argv, "c:vqh", opts, NULL)) != -1) {
        switch (c) {
        case 'c': path = optarg; break;
        case 'C': check = 1; break;
        case 'v': level = LM_LOG_DEBUG; break;
        case 'q': level = LM_LOG_WARN; break;
        case 'h': fputs(usage, stdout); return 0;
        default: fputs(usage, stderr); return 2;
        }
    }
    lm_log_init("evilman", level);
    if (!path || optind != argc) {
        fputs(usage, stderr);
        return 2;
    }
    struct lm_diag d;
    if (config_load(path, &cfg, &d) != 0) {
        lm_err("%s", d.msg);
        return 1;
    }
    if (!strcmp(cfg.backend, "libvirt") && cfg.libvirt_firmware[0] &&
        access(cfg.libvirt_firmware, R_OK) != 0) {
        lm_err("%s: libvirt_firmware = %s: %s (Debian's qemu-system-data has qboot; "
               "libvirt_firmware = qemu boots through QEMU's own SeaBIOS, ~3 s slower per VM "
               "on KVM-PVM)", path, cfg.libvirt_firmware, strerror(errno));
        return 1;
    }
    if (check) {
        printf("%s: ok (host %s, %zu broker keys, bridge %s)\n", path, cfg.host_name, cfg.nkeys,
               cfg.bridge);
        return 0;
    }
    if (cfg.operator_key[0]) {
        if (lm_key_load_secret(cfg.operator_key, &vouch_key, &d) != 0) {
            lm_err("operator_key: %s", d.msg);
            return 1;
        }
        can_vouch = true;
    }
    backend_kvm_set_vmm(cfg.vmm);
    em_backend = &backend_kvm;
    if (!strcmp(cfg.backend, "libvirt")) {
#ifdef LM_BACKEND_LIBVIRT
        char root[256], uri[300];
        snprintf(root, sizeof root, "%s/libvirt", cfg.state_dir);
        snprintf(uri, sizeof uri, "qemu:///embed?root=%s", root);
        backend_libvirt_setup(cfg.libvirt_uri[0] ? cfg.libvirt_uri : uri, root,
                              cfg.libvirt_firmware);
        em_backend = &backend_libvirt;
#else
        lm_err("%s: backend = libvirt, but this evilman was built without it (make "
               "BACKENDS=\"kvm libvirt\")", path);
        return 1;
#endif
    }
    mkdir(cfg.state_dir, 0700);
    if (overlay_up(&cfg) != 0) {
        overlay_down(&cfg);
        return 1;
    }
    replay = replay_new(cfg.replay_capacity);
    rl = ratelimit_new(cfg.verify_rate, cfg.verify_rate_per_source);
    fair = ratelimit_new(0, cfg.datagram_rate_per_source);
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGCHLD);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    int sig_fd = signalfd(-1, &sigs, SFD_CLOEXEC | SFD_NONBLOCK);
    int tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct itimerspec it = {{(time_t)(cfg.tick_ms / 1000), (long)(cfg.tick_ms % 1000) * 1000000},
                            {(time_t)(cfg.tick_ms / 1000), (long)(cfg.tick_ms % 1000) * 1000000}};
    timerfd_settime(tick_fd, 0, &it, NULL);
    int ctl_fd = control_open(&cfg);
    ep_fd = epoll_create1(EPOLL_CLOEXEC);
    if (!replay || !rl || !fair || sig_fd < 0 || tick_fd < 0 || ctl_fd < 0 || ep_fd < 0 ||
        udp_open(&cfg.listen) < 0)
        return 1;
    watch(em_udp.fd);
    watch(ctl_fd);
    watch(sig_fd);
    watch(tick_fd);
    char a[INET_ADDRSTRLEN];
    inet_ntop(AF_INET, &cfg.listen.sin_addr, a, sizeof a);
    lm_info("host %s%s%s listening on UDP %s:%u; bridge %s, %u VMs of at most %llu MiB",
            cfg.host_name, cfg.cluster[0] ? " in cluster " : "", cfg.cluster, a,
            ntohs(cfg.listen.sin_port), cfg.bridge, cfg.max_vms,
            (unsigned long long)cfg.max_mem_mib);
    if (cfg.evict_mem_below_mib || cfg.evict_load_above_centi)
        lm_info("a VM is evicted, one at a time, within %llu ms when the host needs the room: evict_mem_below = %llu MiB, evict_load_above = %llu.%02llu per CPU (0: not by that figure)",
                (unsigned long long)cfg.evict_grace_ms, (unsigned long long)cfg.evict_mem_below_mib,
                (unsigned long long)(cfg.evict_load_above_centi / 100), (unsigned long long)(cfg.evict_load_above_centi % 100));

    int stopping = 0;
    uint64_t last_expire = 0, last_settle = lm_now_ns();
    while (!stopping || vm_count() > 0 || settle_pending() > 0) {
        if (!stopping)
            warm_refill();
        struct epoll_event ev[32];
        int n = epoll_wait(ep_fd, ev, 32, stopping ? 100 : -1);
        for (int i = 0; i < n; i++) {
            int fd = ev[i].data.fd;
            if (fd == em_udp.fd) {
                handle_udp();
            } else if (fd == ctl_fd) {
                control_handle(&cfg, ctl_fd);
            } else if (fd == tick_fd) {
                uint64_t ticks;
                if (read(tick_fd, &ticks, sizeof ticks) > 0) {
                    credit_tick(&cfg, lm_now_ns());
                    evict_tick(lm_now_ns());
                    evict_auto_tick(&cfg, lm_now_ns());
                }
                if (cfg.settle_interval_s &&
                    lm_now_ns() - last_settle >= cfg.settle_interval_s * 1000000000ull) {
                    last_settle = lm_now_ns();
                    settle_tick(&cfg);
                }
                if (lm_now() != last_expire) {
                    last_expire = lm_now();
                    replay_expire(replay, last_expire);
                }
            } else if (fd == sig_fd) {
                struct signalfd_siginfo si;
                while (read(sig_fd, &si, sizeof si) == sizeof si) {
                    if (si.ssi_signo == SIGCHLD) {
                        settle_reap();
                    } else if (!stopping) {
                        lm_info("signal %u: destroying %u VMs and stopping", si.ssi_signo,
                                vm_count());
                        stopping = 1;
                        vm_foreach(destroy_one, "the host agent is stopping");
                    }
                }
            } else {
                handle_vm_events(fd);
            }
        }
    }
    unlink(cfg.control);
    overlay_down(&cfg);
    lm_info("stopped");
    return 0;
}
