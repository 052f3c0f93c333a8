/*
 * Benchmark probe for Evil Man (tests/bench/bench_host.sh): mints boot tokens, times a magic
 * ping through to a guest answering TCP, loads the admission path with one kind of datagram
 * at a time, floods it, and samples the idle cost of the agent and its monitors.
 * One subcommand per job, options as key=value; results as one "key=value ..." line on stdout.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "laundromat/clock.h"
#include "laundromat/hash.h"
#include "laundromat/hostctl.h"
#include "laundromat/keys.h"
#include "laundromat/netaddr.h"
#include "laundromat/payload.h"
#include "laundromat/token.h"
#include "laundromat/util.h"
#include "laundromat/wire.h"

#define MAX_RUNS 2000
#define TICK_S 0.0005     /* a refused connection is retried after 0.5 ms */
#define SYN_WAIT_S 0.002  /* an unanswered SYN: a new connection after 2 ms (a guest just up
                           * answers the next; SYN retransmission would wait 1 s) */
#define DEADLINE_S 10.0   /* a VM that does not answer by then has failed */
#define PING_RESEND_S 0.2 /* as lmctl: an unanswered ping is sent again after 200 ms */

static const char usage[] =
    "usage: emprobe COMMAND KEY=VALUE... [-- CMD ARG...]\n"
    "  mint key=SECRET out=FILE n=N host=NAME image=ELF [mem=16] [prepaid=600] [link_ms=1000]\n"
    "       [ip=A.B.C.D/P] [badsig=1]   N tokens with fresh ids, concatenated, to FILE\n"
    "  boot agent=IP:PORT src=IP tokens=FILE [first=0] runs=N image=ELF [cmdline=STR]\n"
    "       [port=80] state=DIR control=SOCK [inject=1] [keep=0] [warm=1]\n"
    "       ping, the loader's first console line, its TCP port, the image, the image's port;\n"
    "       medians in ms from the ping; keep=0 kills each VM after its run; warm=1 waits\n"
    "       before each ping for a warm loader the agent has booted\n"
    "  direct runs=N ip=IP port=P -- CMD...   spawn to first console line and to TCP on P\n"
    "  verify [seconds=1]    raw crypto_sign_verify_detached per CPU second, this thread\n"
    "  load agent=IP:PORT src=IP kind=valid|badsig|replay|malformed|garbage tokens=FILE\n"
    "       pid=AGENT [seconds=2] [window=32] [admit=0]   datagrams through the agent\n"
    "  flood agent=IP:PORT src=IP tokens=FILE [admit=0] [rate=0] [seconds=60] [mix=replay]\n"
    "       garbage and replays (mix=malformed: pings whose token is noise) alternately, at\n"
    "       rate a second (0: as fast as one sender goes) until SIGTERM\n"
    "  rtt agent=IP:PORT src=IP tokens=FILE [runs=200]   pings one at a time: median and\n"
    "       slowest time to the agent's answer (refusals count)\n"
    "  idle pid=AGENT [seconds=5]   CPU of the agent and its monitors, the monitors' RSS\n"
    "load (replay, garbage) and flood first admit token number admit= of the file for real (a VM\n"
    "boots and waits for an image); that datagram, sent again, is answered from the replay "
    "cache.\n";

/* ---- options, errors, clocks -------------------------------------------------------------- */

static int g_nopt;
static char **g_opt;
static volatile pid_t g_child = -1;
static volatile sig_atomic_t g_stop;

static __attribute__((noreturn, format(printf, 1, 2))) void die(const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "emprobe: ");
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (g_child > 0) {
        kill(g_child, SIGKILL);
        waitpid(g_child, NULL, 0);
    }
    exit(1);
}

/* The value of key=... among the options, def when absent (NULL: required). */
static const char *opt(const char *key, const char *def)
{
    size_t k = strlen(key);
    for (int i = 0; i < g_nopt; i++)
        if (strncmp(g_opt[i], key, k) == 0 && g_opt[i][k] == '=')
            return g_opt[i] + k + 1;
    if (!def)
        die("missing %s=", key);
    return def;
}

static long opt_num(const char *key, const char *def, long lo, long hi)
{
    const char *v = opt(key, def);
    char *end;
    errno = 0;
    long x = strtol(v, &end, 10);
    if (errno || end == v || *end || x < lo || x > hi)
        die("%s=%s: expected a number from %ld to %ld", key, v, lo, hi);
    return x;
}

static double now_s(void)
{
    return (double)lm_now_ns() / 1e9;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
        ;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of v[0..n) (sorted in place); -1 when n is 0. */
static double median(double *v, int n)
{
    if (n == 0)
        return -1;
    qsort(v, (size_t)n, sizeof v[0], cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static void on_term(int sig)
{
    (void)sig;
    g_stop = 1;
}

static void parse_ip(const char *s, struct sockaddr_in *sa, uint16_t port)
{
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_port = htons(port);
    if (inet_pton(AF_INET, s, &sa->sin_addr) != 1)
        die("%s: not an IPv4 address", s);
}

/* "IP:PORT" */
static void parse_hostport(const char *s, struct sockaddr_in *sa)
{
    char ip[64];
    const char *colon = strrchr(s, ':');
    if (!colon || (size_t)(colon - s) >= sizeof ip || atoi(colon + 1) <= 0 ||
        atoi(colon + 1) > 65535)
        die("%s: expected IP:PORT", s);
    memcpy(ip, s, (size_t)(colon - s));
    ip[colon - s] = '\0';
    parse_ip(ip, sa, (uint16_t)atoi(colon + 1));
}

static uint8_t *read_file(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) < 0)
        die("%s: %s", path, strerror(errno));
    uint8_t *b = malloc((size_t)st.st_size + 1);
    if (!b || read(fd, b, (size_t)st.st_size) != st.st_size)
        die("%s: cannot read", path);
    close(fd);
    *len = (size_t)st.st_size;
    return b;
}

static uint8_t (*read_tokens(const char *path, size_t *n))[LM_TOKEN_SIZE]
{
    size_t len;
    uint8_t *b = read_file(path, &len);
    if (len == 0 || len % LM_TOKEN_SIZE)
        die("%s: %zu bytes, not a whole number of %d-byte tokens", path, len, LM_TOKEN_SIZE);
    *n = len / LM_TOKEN_SIZE;
    return (uint8_t(*)[LM_TOKEN_SIZE])b;
}

/* The address the pings come from: the loader takes its payload only from there, so the
 * TCP connections to it are bound to the same address. */
static struct sockaddr_in g_src;
static int g_have_src;

/* A UDP socket bound to src (the source address the agent sees), non-blocking. */
static int udp_from(const char *src)
{
    struct sockaddr_in sa;
    parse_ip(src, &sa, 0);
    g_src = sa;
    g_have_src = 1;
    int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int big = 4 << 20;
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof sa) < 0)
        die("UDP socket on %s: %s", src, strerror(errno));
    return fd;
}

/* ---- mint ------------------------------------------------------------------------------------ */

static int cmd_mint(void)
{
    struct lm_keypair kp;
    struct lm_diag d;
    if (lm_key_load_secret(opt("key", NULL), &kp, &d) != 0)
        die("%s", d.msg);
    size_t ilen;
    uint8_t *img = read_file(opt("image", NULL), &ilen);
    struct lm_token t;
    memset(&t, 0, sizeof t);
    if (lm_hash(LM_DOMAIN_IMAGE, img, ilen, t.commitment) != 0)
        die("cannot hash the image");
    free(img);
    const char *host = opt("host", NULL), *ip = opt("ip", "");
    if (strlen(host) < 1 || strlen(host) > LM_SCOPE_BYTES)
        die("host=%s: 1 to %d bytes", host, LM_SCOPE_BYTES);
    t.key_id = kp.pub.key_id;
    t.issued_at = lm_now() - 60;
    t.expires_at = lm_now() + (uint64_t)opt_num("ttl", "7200", 60, 86400);
    t.scope_kind = LM_SCOPE_HOST;
    t.payload_kind = LM_PAYLOAD_IMAGE;
    t.vcpus = 1;
    t.mem_mib = (uint32_t)opt_num("mem", "16", 2, 4096);
    strcpy(t.scope, host);
    t.link_value_ms = (uint32_t)opt_num("link_ms", "1000", 1, 1000000);
    t.prepaid_units = (uint32_t)opt_num("prepaid", "600", 1, LM_MAX_PREPAID);
    if (*ip && lm_ip4_prefix_parse(ip, 1, 32, t.ipv4, &t.prefix) < 0)
        die("ip=%s: expected A.B.C.D/PREFIX", ip);
    long n = opt_num("n", NULL, 1, 1000000);
    int badsig = (int)opt_num("badsig", "0", 0, 1);
    const char *out = opt("out", NULL);
    FILE *f = fopen(out, "wb");
    if (!f)
        die("%s: %s", out, strerror(errno));
    for (long i = 0; i < n; i++) {
        uint8_t tok[LM_TOKEN_SIZE];
        randombytes_buf(t.id, sizeof t.id);
        if (lm_token_encode(&t, tok) != 0 || lm_token_sign(tok, kp.sk) != 0)
            die("cannot mint token %ld", i);
        if (badsig)
            tok[LM_TOK_OFF_SIG + 7] ^= 0x40; /* still well-formed; fails only the signature */
        if (fwrite(tok, sizeof tok, 1, f) != 1)
            die("%s: write failed", out);
    }
    if (fclose(f) != 0)
        die("%s: %s", out, strerror(errno));
    sodium_memzero(&kp, sizeof kp);
    return 0;
}

/* ---- one ping ----------------------------------------------------------------------------------
 */

static size_t make_ping(const uint8_t tok[LM_TOKEN_SIZE], uint64_t nonce, uint8_t out[LM_WIRE_MAX])
{
    struct lm_ping p;
    memset(&p, 0, sizeof p);
    p.nonce = nonce;
    memcpy(p.token, tok, LM_TOKEN_SIZE);
    int n = lm_ping_encode(&p, out, LM_WIRE_MAX);
    if (n <= 0)
        die("cannot encode a ping");
    return (size_t)n;
}

/* Sends a ping until the reply with its nonce arrives, again every 200 ms; 0, or -1 at the
 * deadline. tries counts the datagrams sent. */
static int exchange(int fd, const struct sockaddr_in *agent, const uint8_t *dgram, size_t len,
                    uint64_t nonce, double deadline, struct lm_ping_reply *r, int *tries)
{
    *tries = 0;
    double resend = 0;
    for (;;) {
        double t = now_s();
        if (t >= deadline)
            return -1;
        if (t >= resend) {
            sendto(fd, dgram, len, 0, (const struct sockaddr *)agent, sizeof *agent);
            ++*tries;
            resend = t + PING_RESEND_S;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        double wait = (resend < deadline ? resend : deadline) - now_s();
        if (poll(&p, 1, wait > 0 ? (int)(wait * 1000) + 1 : 0) <= 0)
            continue;
        uint8_t b[256];
        ssize_t n;
        while ((n = recv(fd, b, sizeof b, MSG_DONTWAIT)) > 0)
            if (lm_ping_reply_decode(b, (size_t)n, r, NULL) == 0 && r->nonce == nonce)
                return 0;
    }
}

/* ---- console lines and TCP readiness ------------------------------------------------------------
 */

/* Where a VM's console goes: a file the agent creates (opened once it exists) or a pipe. */
struct console {
    const char *path;
    int fd;
    double t; /* when its first full line was seen; 0 before */
};

static void console_poll(struct console *c)
{
    if (c->t > 0)
        return;
    if (c->fd < 0 && c->path)
        c->fd = open(c->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (c->fd < 0)
        return;
    char b[4096];
    ssize_t n;
    while ((n = read(c->fd, b, sizeof b)) > 0)
        if (memchr(b, '\n', (size_t)n)) {
            c->t = now_s();
            return;
        }
}

static void console_close(struct console *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
}

/*
 * Connects to sa, one attempt at a time: a refusal (the guest is up, the port is not yet
 * listening) is retried after 0.5 ms; an unanswered attempt (the guest is not up yet) is
 * abandoned after attempt_s. One at a time because the loader serves exactly the first
 * connection it accepts. The console is polled meanwhile. Returns the blocking descriptor,
 * or -1 at the deadline or when the child exits.
 */
static int connect_retry(const struct sockaddr_in *sa, double attempt_s, double deadline,
                         struct console *con, pid_t child)
{
    while (now_s() < deadline) {
        if (child > 0 && waitpid(child, NULL, WNOHANG) == child) {
            g_child = -1;
            die("the VM exited before it answered on TCP port %u", ntohs(sa->sin_port));
        }
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0)
            die("socket: %s", strerror(errno));
        if (g_have_src && bind(fd, (const struct sockaddr *)&g_src, sizeof g_src) < 0)
            die("binding to the ping's source address: %s", strerror(errno));
        int rc = connect(fd, (const struct sockaddr *)sa, sizeof *sa);
        int err = rc == 0 ? 0 : errno;
        double give_up = now_s() + attempt_s;
        while (err == EINPROGRESS && now_s() < give_up && now_s() < deadline) {
            if (con)
                console_poll(con);
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            struct timespec ts = {0, (long)(TICK_S * 1e9)};
            if (ppoll(&p, 1, &ts, NULL) > 0) {
                socklen_t l = sizeof err;
                getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &l);
            }
        }
        if (err == 0) {
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) & ~O_NONBLOCK);
            return fd;
        }
        close(fd);
        for (double t = now_s() + TICK_S; now_s() < t;) {
            if (con)
                console_poll(con);
            sleep_s(TICK_S / 5);
        }
    }
    return -1;
}

/* Waits (polling) for the console's first line until the deadline. */
static void console_wait(struct console *c, double deadline)
{
    while (c->t == 0 && now_s() < deadline) {
        console_poll(c);
        if (c->t == 0)
            sleep_s(TICK_S / 5);
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

/* Sends header, command line and image on a connected socket; the loader's answer line. */
static int inject(int fd, const uint8_t *img, size_t len, const char *cmdline, double deadline,
                  char *answer, size_t cap)
{
    struct lm_payload_header h = {
        .kind = LM_PAYLOAD_IMAGE, .length = len, .cmdline_len = (uint32_t)strlen(cmdline)};
    uint8_t hb[LM_PAYLOAD_HEADER_SIZE];
    lm_payload_header_encode(&h, hb);
    if (send_all(fd, hb, sizeof hb) || send_all(fd, cmdline, h.cmdline_len) ||
        send_all(fd, img, len))
        return -1;
    size_t got = 0;
    while (got < cap - 1 && now_s() < deadline) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10) <= 0)
            continue;
        ssize_t n = recv(fd, answer + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
        if (memchr(answer, '\n', got))
            break;
    }
    answer[got] = '\0';
    answer[strcspn(answer, "\n")] = '\0';
    return strncmp(answer, "OK", 2) == 0 ? 0 : -1;
}

/* ---- the agent's control socket ------------------------------------------------------------- */

static char ls_line[LM_HOSTCTL_LINE_MAX]; /* "ls\n", as lib/hostctl.c writes it */

static int control(const char *path, const char *cmd, char *ans, size_t cap)
{
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    size_t got = 0;
    if (send_all(fd, cmd, strlen(cmd)) == 0) {
        ssize_t n;
        while (got < cap - 1 && (n = recv(fd, ans + got, cap - 1 - got, 0)) > 0)
            got += (size_t)n;
    }
    ans[got] = '\0';
    close(fd);
    return got ? 0 : -1;
}

/* warm=1: waits until the agent has a warm loader booted (listed "warm", its log says it
 * waits for a buyer), so that each run measures a ping that finds one ready. */
static void wait_warm(const char *sock, const char *state, double deadline)
{
    static char ans[1 << 20];
    for (; now_s() < deadline; sleep_s(0.002)) {
        if (control(sock, ls_line, ans, sizeof ans) != 0)
            continue;
        const char *w = strstr(ans, "\"state\":\"warm\""), *id = NULL;
        for (const char *p = ans; w && (p = strstr(p, "\"id\":")) && p < w; p++)
            id = p;
        if (!id)
            continue;
        char path[512], line[256];
        snprintf(path, sizeof path, "%s/vm-%lld.log", state, atoll(id + 5));
        FILE *f = fopen(path, "r");
        bool up = false;
        while (f && !up && fgets(line, sizeof line, f))
            up = strstr(line, "loader: warm: waiting") != NULL;
        if (f)
            fclose(f);
        if (up)
            return;
    }
    die("no warm loader booted within the deadline (warm_loaders = 0 in the agent's config?)");
}

/* Destroys VM id through the agent and waits until the agent has reaped it. */
static void kill_vm(const char *sock, uint64_t id)
{
    static char ans[1 << 20];
    char cmd[LM_HOSTCTL_LINE_MAX], needle[48];
    lm_hostctl_format(&(struct lm_hostctl_cmd){.op = LM_HOSTCTL_KILL, .vm = id}, cmd, sizeof cmd);
    snprintf(needle, sizeof needle, "\"id\":%llu,", (unsigned long long)id);
    if (control(sock, cmd, ans, sizeof ans) != 0 || strstr(ans, "error"))
        die("control %s: kill %llu: %s", sock, (unsigned long long)id, ans);
    for (double end = now_s() + 5; now_s() < end; sleep_s(0.002))
        if (control(sock, ls_line, ans, sizeof ans) == 0 && !strstr(ans, needle))
            return;
    die("VM %llu still listed 5 s after kill", (unsigned long long)id);
}

/* ---- boot ------------------------------------------------------------------------------------ */

static int cmd_boot(void)
{
    struct sockaddr_in agent;
    parse_hostport(opt("agent", NULL), &agent);
    size_t ntok;
    uint8_t(*tok)[LM_TOKEN_SIZE] = read_tokens(opt("tokens", NULL), &ntok);
    long first = opt_num("first", "0", 0, (long)ntok - 1);
    int runs = (int)opt_num("runs", NULL, 1, MAX_RUNS);
    if ((size_t)first + (size_t)runs > ntok)
        die("%d runs from token %ld: the file has %zu tokens", runs, first, ntok);
    int do_inject = (int)opt_num("inject", "1", 0, 1), keep = (int)opt_num("keep", "0", 0, 1);
    int warm = (int)opt_num("warm", "0", 0, 1);
    const char *state = opt("state", NULL), *sock = opt("control", NULL);
    const char *cmdline = opt("cmdline", "app=http");
    uint16_t port = (uint16_t)opt_num("port", "80", 1, 65535);
    size_t ilen = 0;
    uint8_t *img = do_inject ? read_file(opt("image", NULL), &ilen) : NULL;
    int fd = udp_from(opt("src", NULL));
    /* A VM that has not answered by then has failed (a libvirt domain starts in seconds in
     * the KVM box). */
    double limit_s = (double)opt_num("deadline_s", "10", 1, 600);

    double *reply = calloc((size_t)runs, sizeof(double)),
           *cons = calloc((size_t)runs, sizeof(double)),
           *ldr = calloc((size_t)runs, sizeof(double)), *inj = calloc((size_t)runs, sizeof(double)),
           *serve = calloc((size_t)runs, sizeof(double));
    int max_tries = 0;
    if (!reply || !cons || !ldr || !inj || !serve)
        die("out of memory");
    for (int i = 0; i < runs; i++) {
        uint8_t dgram[LM_WIRE_MAX];
        uint64_t nonce;
        randombytes_buf(&nonce, sizeof nonce);
        size_t len = make_ping(tok[first + i], nonce, dgram);
        struct lm_ping_reply r;
        int tries;
        if (warm)
            wait_warm(sock, state, now_s() + limit_s);
        double t0 = now_s(), deadline = t0 + limit_s;
        if (exchange(fd, &agent, dgram, len, nonce, deadline, &r, &tries) != 0)
            die("run %d: no answer to the ping in %.0f s (%d sent)", i + 1, limit_s, tries);
        reply[i] = (now_s() - t0) * 1e3;
        max_tries = tries > max_tries ? tries : max_tries;
        if (r.status != 0)
            die("run %d: ping refused: %s", i + 1,
                lm_status_name(r.status) ? lm_status_name(r.status) : "?");
        char logpath[512];
        snprintf(logpath, sizeof logpath, "%s/vm-%llu.log", state, (unsigned long long)r.vm_id);
        struct console con = {.path = logpath, .fd = -1};
        struct sockaddr_in loader = {.sin_family = AF_INET, .sin_port = htons(r.loader_port)};
        memcpy(&loader.sin_addr, r.loader_ip, 4);
        int c = connect_retry(&loader, 1.0, deadline, &con, -1);
        if (c < 0)
            die("run %d: VM %llu: the loader did not accept TCP within %.0f s (log %s)", i + 1,
                (unsigned long long)r.vm_id, limit_s, logpath);
        ldr[i] = (now_s() - t0) * 1e3;
        console_wait(&con, deadline);
        console_close(&con);
        cons[i] = con.t > 0 ? (con.t - t0) * 1e3 : -1;
        if (do_inject) {
            char answer[512];
            if (inject(c, img, ilen, cmdline, deadline, answer, sizeof answer) != 0)
                die("run %d: VM %llu: the loader answered \"%s\"", i + 1,
                    (unsigned long long)r.vm_id, answer);
            inj[i] = (now_s() - t0) * 1e3;
        }
        close(c);
        if (do_inject) {
            struct sockaddr_in svc = loader;
            svc.sin_port = htons(port);
            int s = connect_retry(&svc, SYN_WAIT_S, deadline, NULL, -1);
            if (s < 0)
                die("run %d: VM %llu: the image did not accept TCP on port %u", i + 1,
                    (unsigned long long)r.vm_id, port);
            close(s);
            serve[i] = (now_s() - t0) * 1e3;
        }
        fprintf(stderr,
                "emprobe boot: run %d VM %llu: reply %.2f ms, console %.1f, loader %.1f, "
                "image %.1f, serve %.1f ms\n",
                i + 1, (unsigned long long)r.vm_id, reply[i], cons[i], ldr[i], inj[i], serve[i]);
        if (!keep)
            kill_vm(sock, r.vm_id);
    }
    double rmin = reply[0], rmax = reply[0];
    for (int i = 1; i < runs; i++) {
        rmin = reply[i] < rmin ? reply[i] : rmin;
        rmax = reply[i] > rmax ? reply[i] : rmax;
    }
    printf("runs=%d reply_ms=%.2f reply_min_ms=%.2f reply_max_ms=%.2f console_ms=%.1f "
           "loader_ms=%.1f",
           runs, median(reply, runs), rmin, rmax, median(cons, runs), median(ldr, runs));
    if (do_inject)
        printf(" image_ms=%.1f serve_ms=%.1f", median(inj, runs), median(serve, runs));
    printf(" max_tries=%d\n", max_tries);
    return 0;
}

/* ---- direct: the peer, a monitor spawned without agent or loader --------------------------- */

static int cmd_direct(char **cmd)
{
    int runs = (int)opt_num("runs", NULL, 1, MAX_RUNS);
    struct sockaddr_in svc;
    parse_ip(opt("ip", NULL), &svc, (uint16_t)opt_num("port", NULL, 1, 65535));
    double *cons = calloc((size_t)runs, sizeof(double)),
           *serve = calloc((size_t)runs, sizeof(double));
    if (!cons || !serve)
        die("out of memory");
    for (int i = 0; i < runs; i++) {
        int p[2];
        if (pipe2(p, O_CLOEXEC) < 0)
            die("pipe: %s", strerror(errno));
        pid_t parent = getpid();
        double t0 = now_s();
        pid_t pid = fork();
        if (pid < 0)
            die("fork: %s", strerror(errno));
        if (pid == 0) {
            prctl(PR_SET_PDEATHSIG, SIGKILL);
            if (getppid() != parent)
                _exit(127);
            int in = open("/dev/null", O_RDONLY);
            if (in < 0 || dup2(in, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
                _exit(127);
            execvp(cmd[0], cmd);
            _exit(127);
        }
        g_child = pid;
        close(p[1]);
        fcntl(p[0], F_SETFL, O_NONBLOCK);
        struct console con = {.fd = p[0]};
        int s = connect_retry(&svc, SYN_WAIT_S, t0 + DEADLINE_S, &con, pid);
        if (s < 0)
            die("run %d: %s did not accept TCP on port %u", i + 1, cmd[0], ntohs(svc.sin_port));
        serve[i] = (now_s() - t0) * 1e3;
        close(s);
        console_wait(&con, t0 + DEADLINE_S);
        cons[i] = con.t > 0 ? (con.t - t0) * 1e3 : -1;
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        g_child = -1;
        close(p[0]);
    }
    printf("runs=%d console_ms=%.1f serve_ms=%.1f\n", runs, median(cons, runs),
           median(serve, runs));
    return 0;
}

/* ---- verify: the peer of the admission rates ------------------------------------------------- */

static double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int cmd_verify(void)
{
    double secs = (double)opt_num("seconds", "1", 1, 60);
    struct lm_keypair kp;
    if (lm_key_generate(&kp) != 0)
        die("cannot make a key");
    struct lm_token t;
    memset(&t, 0, sizeof t);
    uint8_t tok[LM_TOKEN_SIZE];
    randombytes_buf(tok, sizeof tok); /* any 184 signed bytes: the cost does not depend on them */
    if (crypto_sign_detached(tok + LM_TOK_OFF_SIG, NULL, tok, LM_TOK_SIGNED_BYTES, kp.sk) != 0)
        die("cannot sign");
    long n = 0, ok = 0;
    double c0 = cpu_now(), w0 = now_s(), c1;
    do {
        for (int i = 0; i < 64; i++, n++)
            ok += crypto_sign_verify_detached(tok + LM_TOK_OFF_SIG, tok, LM_TOK_SIGNED_BYTES,
                                              kp.pub.pk) == 0;
        c1 = cpu_now();
    } while (c1 - c0 < secs);
    if (ok != n)
        die("a good signature failed to verify");
    printf("verify_per_cpu_s=%.0f verify_per_s=%.0f\n", (double)n / (c1 - c0),
           (double)n / (now_s() - w0));
    return 0;
}

/* ---- load and flood ----------------------------------------------------------------------------
 */

/* CPU time of every thread of pid, in seconds (scheduler run time, ns resolution). */
static double proc_cpu_s(pid_t pid)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    double sum = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char p[320];
        snprintf(p, sizeof p, "/proc/%d/task/%s/schedstat", (int)pid, e->d_name);
        FILE *f = fopen(p, "r");
        unsigned long long ns;
        if (f && fscanf(f, "%llu", &ns) == 1)
            sum += (double)ns / 1e9;
        if (f)
            fclose(f);
    }
    closedir(d);
    return sum;
}

/* UDP datagrams the kernel dropped in this network namespace for want of buffer room. */
static long udp_drops(void)
{
    FILE *f = fopen("/proc/net/snmp", "r");
    char head[512], vals[512];
    long drops = -1;
    while (f && fgets(head, sizeof head, f))
        if (strncmp(head, "Udp: ", 5) == 0 && fgets(vals, sizeof vals, f)) {
            char *hs, *vs, *h = strtok_r(head, " \n", &hs), *v = strtok_r(vals, " \n", &vs);
            for (; h && v; h = strtok_r(NULL, " \n", &hs), v = strtok_r(NULL, " \n", &vs))
                if (strcmp(h, "RcvbufErrors") == 0)
                    drops = atol(v);
            break;
        }
    if (f)
        fclose(f);
    return drops;
}

/* Admits tokens[0] for real (a VM boots and waits for an image) and returns that datagram, which
 * the agent then answers from its replay cache. */
static size_t admit_for_replay(int fd, const struct sockaddr_in *agent,
                               const uint8_t tok[LM_TOKEN_SIZE], uint8_t out[LM_WIRE_MAX])
{
    uint64_t nonce;
    randombytes_buf(&nonce, sizeof nonce);
    size_t len = make_ping(tok, nonce, out);
    struct lm_ping_reply r;
    int tries;
    if (exchange(fd, agent, out, len, nonce, now_s() + DEADLINE_S, &r, &tries) != 0)
        die("no answer to the admitting ping");
    if (r.status != 0)
        die("the admitting ping was refused: %s", lm_status_name(r.status));
    return len;
}

static void fill_garbage(uint8_t *b, size_t n)
{
    randombytes_buf(b, n);
    b[0] = 'G'; /* no message starts with G: the agent drops it unanswered */
}

enum kind { K_VALID, K_BADSIG, K_REPLAY, K_MALFORMED, K_GARBAGE };
#define NSETS 4096 /* distinct datagrams cycled through */

static int cmd_load(void)
{
    static const char *const names[] = {"valid", "badsig", "replay", "malformed", "garbage"};
    static const int want[] = {LM_BAD_NETID, LM_BAD_SIGNATURE, 0, -1, -1};
    const char *ks = opt("kind", NULL);
    enum kind k = K_VALID;
    while (k <= K_GARBAGE && strcmp(names[k], ks) != 0)
        k++;
    if (k > K_GARBAGE)
        die("kind=%s: expected valid, badsig, replay, malformed or garbage", ks);
    struct sockaddr_in agent;
    parse_hostport(opt("agent", NULL), &agent);
    size_t ntok;
    uint8_t(*tok)[LM_TOKEN_SIZE] = read_tokens(opt("tokens", NULL), &ntok);
    pid_t pid = (pid_t)opt_num("pid", NULL, 1, 1 << 22);
    double secs = (double)opt_num("seconds", "2", 1, 600);
    long window = opt_num("window", "32", 1, 4096);
    int fd = udp_from(opt("src", NULL));

    /* The datagrams, made before the clock starts. */
    static uint8_t set[NSETS][LM_WIRE_MAX];
    static size_t setlen[NSETS];
    uint8_t replay[LM_WIRE_MAX], probe[LM_WIRE_MAX];
    size_t replaylen = 0, nset = NSETS;
    if (k == K_REPLAY)
        replaylen =
            admit_for_replay(fd, &agent, tok[opt_num("admit", "0", 0, (long)ntok - 1)], replay);
    /* The probe: a ping whose token is noise, which the agent always answers (refused at the
     * token's magic), from the same sender. */
    size_t probelen = make_ping(tok[0], 0, probe);
    randombytes_buf(probe + LM_PING_OFF_TOKEN, LM_TOKEN_SIZE);
    for (size_t i = 0; i < nset; i++) {
        switch (k) {
        case K_VALID:
        case K_BADSIG:
            setlen[i] = make_ping(tok[i % ntok], (uint64_t)i, set[i]);
            break;
        case K_REPLAY:
            memcpy(set[i], replay, replaylen);
            setlen[i] = replaylen;
            break;
        case K_MALFORMED: /* a ping whose token is noise: refused at the token's magic */
            setlen[i] = make_ping(tok[0], (uint64_t)i, set[i]);
            randombytes_buf(set[i] + LM_PING_OFF_TOKEN, LM_TOKEN_SIZE);
            break;
        case K_GARBAGE:
            setlen[i] = LM_PING_SIZE;
            fill_garbage(set[i], setlen[i]);
            break;
        }
    }
    sleep_s(0.2); /* let the admitted VM's start settle */

    /* Garbage has no answer, and a replay one every 100 ms at most: each window slot is one
     * probe behind 15 of them, and a probe's answer says that what was queued before it has
     * been read. Replays' own rare answers are left out of the count. */
    const long per_probe = k == K_GARBAGE || k == K_REPLAY ? 16 : 1;
    long sent = 0, probes = 0, answered = 0, unexpected = 0;
    int first_bad = -1;
    double cpu0 = proc_cpu_s(pid), t0 = now_s(), t_last = t0;
    long drops0 = udp_drops();
    size_t next = 0;
    for (int draining = 0;;) {
        double t = now_s();
        if (!draining && t - t0 >= secs)
            draining = 1;
        if (draining && (answered >= probes || t - t0 >= secs + 1.0))
            break;
        while (!draining && probes - answered < window) {
            if (per_probe > 1) {
                for (long j = 1; j < per_probe; j++, sent++) {
                    sendto(fd, set[next], setlen[next], 0, (struct sockaddr *)&agent, sizeof agent);
                    next = (next + 1) % nset;
                }
                sendto(fd, probe, probelen, 0, (struct sockaddr *)&agent, sizeof agent);
            } else {
                sendto(fd, set[next], setlen[next], 0, (struct sockaddr *)&agent, sizeof agent);
                next = (next + 1) % nset;
            }
            sent++;
            probes++;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 1) <= 0)
            continue;
        uint8_t b[256];
        ssize_t n;
        while ((n = recv(fd, b, sizeof b, MSG_DONTWAIT)) > 0) {
            struct lm_ping_reply r;
            answered++;
            t_last = now_s();
            int st = lm_ping_reply_decode(b, (size_t)n, &r, NULL) == 0 ? r.status : -2;
            if (per_probe > 1 && st == 0) { /* a replay's answer, not a probe's */
                answered--;
                continue;
            }
            int w = want[per_probe > 1 ? K_MALFORMED : k];
            if (w >= 0 ? st != w : st <= 0) {
                unexpected++;
                if (first_bad < 0)
                    first_bad = st;
            }
        }
    }
    double cpu = proc_cpu_s(pid) - cpu0, wall = t_last - t0;
    long drops = udp_drops() - drops0;
    long processed = sent - drops;
    printf("kind=%s sent=%ld answered=%ld unexpected=%ld first_unexpected=%s drops=%ld "
           "wall_s=%.3f agent_cpu_s=%.3f per_s=%.0f per_cpu_s=%.0f\n",
           names[k], sent, answered, unexpected,
           first_bad == -1             ? "-"
           : first_bad == -2           ? "undecodable"
           : lm_status_name(first_bad) ? lm_status_name(first_bad)
                                       : "?",
           drops, wall, cpu, (double)processed / wall, cpu > 0 ? (double)processed / cpu : 0);
    return 0;
}

static int cmd_flood(void)
{
    struct sockaddr_in agent;
    parse_hostport(opt("agent", NULL), &agent);
    size_t ntok;
    uint8_t(*tok)[LM_TOKEN_SIZE] = read_tokens(opt("tokens", NULL), &ntok);
    double rate = (double)opt_num("rate", "0", 0, 10000000);
    double secs = (double)opt_num("seconds", "60", 1, 3600);
    int fd = udp_from(opt("src", NULL));
    /* mix=replay: garbage and replays of an admitted ping (a VM boots for it); mix=malformed:
     * garbage and pings whose token is noise (refused and answered; no VM, no KVM needed). */
    int malformed = !strcmp(opt("mix", "replay"), "malformed");
    uint8_t replay[LM_WIRE_MAX];
    size_t rlen;
    if (malformed) {
        rlen = make_ping(tok[0], 1, replay);
        randombytes_buf(replay + LM_PING_OFF_TOKEN, LM_TOKEN_SIZE);
    } else {
        rlen = admit_for_replay(fd, &agent, tok[opt_num("admit", "0", 0, (long)ntok - 1)], replay);
    }

    enum { BATCH = 32 };
    static uint8_t garbage[BATCH][LM_PING_SIZE];
    struct mmsghdr m[BATCH];
    struct iovec iov[BATCH];
    memset(m, 0, sizeof m);
    for (int i = 0; i < BATCH; i++) {
        int g = i % 2 == 0; /* garbage and replays, alternately */
        if (g)
            fill_garbage(garbage[i], sizeof garbage[i]);
        iov[i] = (struct iovec){g ? garbage[i] : replay, g ? sizeof garbage[i] : rlen};
        m[i].msg_hdr = (struct msghdr){
            .msg_name = &agent, .msg_namelen = sizeof agent, .msg_iov = &iov[i], .msg_iovlen = 1};
    }
    signal(SIGTERM, on_term);
    signal(SIGINT, on_term);
    long sent = 0, answered = 0;
    double t0 = now_s();
    while (!g_stop && now_s() - t0 < secs) {
        if (rate > 0)
            sleep_s(t0 + (double)sent / rate - now_s());
        int n = sendmmsg(fd, m, BATCH, 0);
        if (n > 0)
            sent += n;
        uint8_t b[256];
        while (recv(fd, b, sizeof b, MSG_DONTWAIT) > 0)
            answered++;
    }
    double wall = now_s() - t0;
    printf("sent=%ld answered=%ld seconds=%.1f per_s=%.0f\n", sent, answered, wall,
           (double)sent / wall);
    return 0;
}

/* ---- idle -------------------------------------------------------------------------------------
 */

/* The agent's monitors: its children. */
static int children(pid_t parent, pid_t *out, int cap)
{
    DIR *d = opendir("/proc");
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < cap) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char p[300], b[512];
        snprintf(p, sizeof p, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(p, "r");
        if (!f)
            continue;
        size_t len = fread(b, 1, sizeof b - 1, f);
        fclose(f);
        b[len] = '\0';
        char *rp = strrchr(b, ')'); /* the name may hold spaces: fields follow its last ')' */
        int ppid;
        if (rp && sscanf(rp + 1, " %*c %d", &ppid) == 1 && ppid == parent)
            out[n++] = atoi(e->d_name);
    }
    if (d)
        closedir(d);
    return n;
}

static long status_kib(pid_t pid, const char *field)
{
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", (int)pid);
    FILE *f = fopen(p, "r");
    long v = -1;
    size_t k = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, k) == 0 && line[k] == ':')
            v = atol(line + k + 1);
    if (f)
        fclose(f);
    return v;
}

static long meminfo_kib(const char *field)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    long v = -1;
    size_t k = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, k) == 0 && line[k] == ':')
            v = atol(line + k + 1);
    if (f)
        fclose(f);
    return v;
}

/* Pings one at a time, each a fresh nonce of the next token, and the time to any answer (a
 * refusal will do): the agent's queueing as a client sees it, with no VM involved. */
static int cmd_rtt(void)
{
    struct sockaddr_in agent;
    parse_hostport(opt("agent", NULL), &agent);
    size_t ntok;
    uint8_t(*tok)[LM_TOKEN_SIZE] = read_tokens(opt("tokens", NULL), &ntok);
    int runs = (int)opt_num("runs", "200", 1, MAX_RUNS);
    int fd = udp_from(opt("src", NULL));
    double *ms = calloc((size_t)runs, sizeof(double)), max = 0;
    int max_tries = 0;
    if (!ms)
        die("out of memory");
    for (int i = 0; i < runs; i++) {
        uint8_t dgram[LM_WIRE_MAX];
        uint64_t nonce;
        randombytes_buf(&nonce, sizeof nonce);
        size_t len = make_ping(tok[(size_t)i % ntok], nonce, dgram);
        struct lm_ping_reply r;
        int tries;
        double t0 = now_s();
        if (exchange(fd, &agent, dgram, len, nonce, t0 + DEADLINE_S, &r, &tries) != 0)
            die("ping %d: no answer in %.0f s (%d sent)", i + 1, DEADLINE_S, tries);
        ms[i] = (now_s() - t0) * 1e3;
        max = ms[i] > max ? ms[i] : max;
        max_tries = tries > max_tries ? tries : max_tries;
    }
    printf("runs=%d reply_ms=%.3f reply_max_ms=%.3f max_tries=%d\n", runs, median(ms, runs), max,
           max_tries);
    return 0;
}

static int cmd_idle(void)
{
    pid_t agent = (pid_t)opt_num("pid", NULL, 1, 1 << 22);
    double secs = (double)opt_num("seconds", "5", 1, 600);
    static pid_t kids[100000];
    int n = children(agent, kids, (int)(sizeof kids / sizeof kids[0]));
    if (n == 0)
        die("agent %d has no monitors", (int)agent);
    double *c0 = calloc((size_t)n, sizeof(double));
    long *w0 = calloc((size_t)n, sizeof(long));
    if (!c0 || !w0)
        die("out of memory");
    double a0 = proc_cpu_s(agent), t0 = now_s();
    long aw0 = status_kib(agent, "voluntary_ctxt_switches");
    for (int i = 0; i < n; i++) {
        c0[i] = proc_cpu_s(kids[i]);
        /* a monitor blocks once per wake-up of its guest (the poll hypercall's ppoll) */
        w0[i] = status_kib(kids[i], "voluntary_ctxt_switches");
    }
    sleep_s(secs);
    double a1 = proc_cpu_s(agent), wall = now_s() - t0, mon = 0;
    long aw1 = status_kib(agent, "voluntary_ctxt_switches");
    long rss = 0, alive = 0, wakes = 0;
    for (int i = 0; i < n; i++) {
        double c = proc_cpu_s(kids[i]);
        long r = status_kib(kids[i], "VmRSS");
        long w = status_kib(kids[i], "voluntary_ctxt_switches");
        if (c < 0 || r < 0 || w < 0)
            continue; /* gone meanwhile */
        alive++;
        mon += c - c0[i];
        rss += r;
        wakes += w - w0[i];
    }
    if (!alive)
        die("every monitor of agent %d ended during the sample", (int)agent);
    printf("vms=%ld agent_cpu_pct=%.3f monitors_cpu_pct=%.3f rss_kib=%ld rss_kib_per_vm=%.0f "
           "agent_rss_kib=%ld memavail_kib=%ld wakeups_per_vm_s=%.2f agent_wakeups_s=%.1f\n",
           alive, 100 * (a1 - a0) / wall, 100 * mon / wall, rss, (double)rss / (double)alive,
           status_kib(agent, "VmRSS"), meminfo_kib("MemAvailable"),
           (double)wakes / (double)alive / wall, (double)(aw1 - aw0) / wall);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fputs(usage, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    lm_hostctl_format(&(struct lm_hostctl_cmd){.op = LM_HOSTCTL_LS}, ls_line, sizeof ls_line);
    if (sodium_init() < 0)
        die("libsodium failed to initialise");
    signal(SIGPIPE, SIG_IGN);
    g_opt = argv + 2;
    char **cmd = NULL;
    for (g_nopt = 0; 2 + g_nopt < argc; g_nopt++)
        if (!strcmp(g_opt[g_nopt], "--")) {
            cmd = g_opt + g_nopt + 1;
            break;
        }
    const char *c = argv[1];
    if (!strcmp(c, "mint"))
        return cmd_mint();
    if (!strcmp(c, "boot"))
        return cmd_boot();
    if (!strcmp(c, "direct")) {
        if (!cmd || !cmd[0])
            die("direct: expected -- CMD...");
        return cmd_direct(cmd);
    }
    if (!strcmp(c, "verify"))
        return cmd_verify();
    if (!strcmp(c, "load"))
        return cmd_load();
    if (!strcmp(c, "flood"))
        return cmd_flood();
    if (!strcmp(c, "idle"))
        return cmd_idle();
    if (!strcmp(c, "rtt"))
        return cmd_rtt();
    fputs(usage, stderr);
    return 2;
}
