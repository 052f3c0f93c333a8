/* Fuzz target: request bytes into the broker's HTTP front (libmicrohttpd as the daemon runs it,
 * framing checks, routing, authentication, the handlers, the ledger) over a socket pair. No
 * reply may be a 500: client input, however malformed, gets a refusal of its own. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"
#include "fixtures.h"
#include "laundromat/clock.h"
#include "laundromat/reqsig.h"
#include "laundromat/util.h"

#define FZ_HTTP_MAX_INPUT 65536
#define REPLY_TIMEOUT_MS 30000

static struct broker b;
static struct lm_keypair who[4]; /* by FZ_HTTP_ADMIN, FZ_HTTP_BUYER_KEY, ... */
static char dir[64];
static uint64_t nonce_counter;

static void die(const char *what)
{
    fprintf(stderr, "fuzz_http: %s\n", what);
    abort();
}

/* Sends req on a fresh connection, half-closes it and reads every reply until the broker
 * closes; returns the bytes read (NUL-terminated, the caller frees). */
static char *exchange(const void *req, size_t len, size_t *out_len)
{
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) != 0)
        die("socketpair failed");
    struct sockaddr_in peer = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    if (http_add_connection(sv[0], (struct sockaddr *)&peer, sizeof peer) != 0)
        die("the broker did not take the connection");
    /* Inputs fit in the socket's buffer: the write never waits for the broker to read. */
    /* The broker may have refused and closed already: its replies are read all the same. */
    (void)send(sv[1], req, len, MSG_NOSIGNAL);
    shutdown(sv[1], SHUT_WR);
    size_t n = 0, cap = 4096;
    char *out = malloc(cap);
    for (;;) {
        struct pollfd p = {.fd = sv[1], .events = POLLIN};
        if (poll(&p, 1, REPLY_TIMEOUT_MS) != 1)
            die("the broker neither replied nor closed within 30 s");
        if (n + 1 == cap && !(out = realloc(out, cap *= 2)))
            die("out of memory");
        ssize_t r = recv(sv[1], out + n, cap - n - 1, 0);
        if (r <= 0)
            break;
        n += (size_t)r;
    }
    close(sv[1]);
    out[n] = '\0';
    *out_len = n;
    return out;
}

/* Checks each reply's status line; returns the first status (0: none). */
static unsigned check_replies(const char *s, size_t n, const uint8_t *req, size_t req_len)
{
    unsigned first = 0;
    const char *end = s + n;
    while (end - s >= 12 && !memcmp(s, "HTTP/1.", 7)) {
        unsigned status = (unsigned)atoi(s + 9);
        if (!first)
            first = status;
        if (status == 500) {
            fprintf(stderr, "fuzz_http: a 500 for a request of %zu bytes:\n%.*s\n---\n%s\n",
                    req_len, (int)req_len, (const char *)req, s);
            abort();
        }
        const char *body = strstr(s, "\r\n\r\n"), *cl = strcasestr(s, "\r\nContent-Length: ");
        if (!body)
            break;
        size_t blen = cl && cl < body ? strtoul(cl + 18, NULL, 10) : 0;
        s = body + 4 + blen;
        if (s > end)
            break;
    }
    return first;
}

/* A request signed by key k: "METHOD TARGET" and body; sent unsigned when it cannot be. */
static unsigned signed_request(unsigned k, const char *method, const char *target, const void *body,
                               size_t body_len, int chunked)
{
    struct lm_reqsig r;
    struct lm_reqsig_text t;
    struct lm_diag d;
    uint8_t nonce[LM_REQSIG_NONCE_BYTES] = {0};
    nonce_counter++;
    memcpy(nonce, &nonce_counter, sizeof nonce_counter);
    char head[4096];
    int h;
    if (lm_reqsig_sign(&who[k], method, target, lm_now(), nonce, body, body_len, &r, &t, &d) == 0)
        h = snprintf(head, sizeof head,
                     "%s %s HTTP/1.1\r\nHost: broker\r\n" LM_REQSIG_HDR_KEY
                     ": %s\r\n" LM_REQSIG_HDR_TIME ": %s\r\n" LM_REQSIG_HDR_NONCE
                     ": %s\r\n" LM_REQSIG_HDR_SIG ": %s\r\n",
                     method, target, t.key, t.time, t.nonce, t.sig);
    else
        h = snprintf(head, sizeof head, "%s %s HTTP/1.1\r\nHost: broker\r\n", method, target);
    if (h < 0 || (size_t)h >= sizeof head - 64)
        return 0; /* a target beyond any limit: nothing to send */
    h += chunked
             ? snprintf(head + h, sizeof head - (size_t)h,
                        "Transfer-Encoding: chunked\r\n\r\n%zx\r\n", body_len)
             : snprintf(head + h, sizeof head - (size_t)h, "Content-Length: %zu\r\n\r\n", body_len);
    size_t len = (size_t)h + body_len + 16;
    char *req = malloc(len);
    if (!req)
        die("out of memory");
    memcpy(req, head, (size_t)h);
    memcpy(req + h, body, body_len);
    len = (size_t)h + body_len;
    if (chunked) {
        memcpy(req + len, body_len ? "\r\n0\r\n\r\n" : "\r\n\r\n", body_len ? 7 : 2);
        len += body_len ? 7 : 2;
    }
    size_t n;
    char *reply = exchange(req, len, &n);
    unsigned status = check_replies(reply, n, (const uint8_t *)req, len);
    free(reply);
    free(req);
    return status;
}

/* A set-up request that must succeed. */
static void setup(unsigned k, const char *method, const char *target, const char *body)
{
    unsigned status = signed_request(k, method, target, body, strlen(body), 0);
    if (status != 200 && status != 201) {
        fprintf(stderr, "fuzz_http: set-up %s %s got %u\n", method, target, status);
        abort();
    }
}

static void cleanup(void)
{
    http_stop();
    ledger_close(&b);
    fz_remove_ledger(dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    lm_log_init("fuzz_http", LM_LOG_ERROR);
    signal(SIGPIPE, SIG_IGN);
    if (sodium_init() < 0)
        die("libsodium failed to initialise");
    /* The ledger in memory when /dev/shm is there: it syncs every request. */
    snprintf(dir, sizeof dir, "/dev/shm/lm-fuzz-http-XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof dir, "/tmp/lm-fuzz-http-XXXXXX");
        if (!mkdtemp(dir))
            die("cannot make a directory for the ledger");
    }
    config_defaults(&b.cfg);
    snprintf(b.cfg.database, sizeof b.cfg.database, "%s/ledger.db", dir);
    b.cfg.max_connections = 10000;
    b.cfg.max_per_address = 10000;
    b.cfg.request_timeout_s = 3600; /* inputs end with end of stream, not a deadline */
    uint8_t seed[32];
    fz_key_seed(seed);
    for (unsigned k = 0; k < 4; k++) {
        if (k)
            fz_http_seed(seed, k);
        if (lm_key_from_seed(seed, k ? &who[k] : &b.signer) != 0)
            die("cannot derive the keys");
    }
    b.keys[0] = b.signer.pub;
    b.nkeys = 1;
    b.admin = who[FZ_HTTP_ADMIN].pub;
    pthread_mutex_init(&b.lock, NULL);
    struct lm_diag d;
    if (ledger_open(&b, &d) != 0) {
        fprintf(stderr, "fuzz_http: %s\n", d.msg);
        abort();
    }
    if (http_start(&b, -1) != 0)
        die("cannot start the HTTP server");
    atexit(cleanup);

    char body[512], pk[65], anchor[65];
    lm_hex_encode(who[FZ_HTTP_BUYER_KEY].pub.pk, 32, pk);
    snprintf(body, sizeof body,
             "{\"name\":\"" FZ_HTTP_BUYER "\",\"role\":\"buyer\",\"public_key\":\"%s\"}", pk);
    setup(FZ_HTTP_ADMIN, "POST", "/v1/accounts", body);
    lm_hex_encode(who[FZ_HTTP_OPERATOR_KEY].pub.pk, 32, pk);
    snprintf(body, sizeof body,
             "{\"name\":\"" FZ_HTTP_OPERATOR "\",\"role\":\"operator\",\"public_key\":\"%s\"}", pk);
    setup(FZ_HTTP_ADMIN, "POST", "/v1/accounts", body);
    setup(FZ_HTTP_ADMIN, "POST", "/v1/deposits",
          "{\"account\":\"" FZ_HTTP_BUYER "\",\"amount\":1000000000000}");
    setup(FZ_HTTP_OPERATOR_KEY, "POST", "/v1/hosts",
          "{\"name\":\"" FZ_HOST
          "\",\"address\":\"127.0.0.1\",\"port\":7000,\"price_per_unit\":1,\"unit_ms\":1000}");
    uint8_t cs[LM_CHAIN_SEED_BYTES], link0[LM_HASH_BYTES];
    fz_chain_seed(cs);
    if (lm_chain_link(cs, FZ_CHAIN_LEN, 0, link0) != 0)
        die("cannot compute the chain's anchor");
    lm_hex_encode(link0, sizeof link0, anchor);
    snprintf(
        body, sizeof body,
        "{\"host\":\"" FZ_HOST
        "\",\"commitment\":\"%s\",\"anchor\":\"%s\",\"chain_len\":%u,\"prepaid_units\":1,\"token_id\":\"" FZ_HTTP_TOKEN
        "\",\"name\":\"" FZ_HTTP_VM "\"}",
        anchor, anchor, FZ_CHAIN_LEN);
    setup(FZ_HTTP_BUYER_KEY, "POST", "/v1/tokens", body);
    snprintf(body, sizeof body,
             "{\"host\":\"" FZ_HOST
             "\",\"commitment\":\"%s\",\"prepaid_units\":1,\"token_id\":\"" FZ_HTTP_TOKEN2
             "\",\"name\":\"" FZ_HTTP_VM "\"}",
             anchor);
    setup(FZ_HTTP_BUYER_KEY, "POST", "/v1/tokens", body);
    setup(FZ_HTTP_OPERATOR_KEY, "POST", "/v1/locations",
          "{\"token_id\":\"" FZ_HTTP_TOKEN2 "\",\"host\":\"" FZ_HOST
          "\",\"address\":\"" FZ_HTTP_VM_ADDRESS "\"}");
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1 || size > FZ_HTTP_MAX_INPUT)
        return 0;
    unsigned mode = data[0], k = mode & FZ_HTTP_WHO;
    data++, size--;
    if (k == FZ_HTTP_RAW) {
        size_t n;
        char *reply = exchange(data, size, &n);
        check_replies(reply, n, data, size);
        free(reply);
        return 0;
    }
    /* "METHOD TARGET\n" BODY */
    const uint8_t *nl = memchr(data, '\n', size),
                  *sp = nl ? memchr(data, ' ', (size_t)(nl - data)) : NULL;
    if (!sp)
        return 0;
    char method[64], target[LM_REQSIG_MAX_TARGET + 64];
    size_t ml = (size_t)(sp - data), tl = (size_t)(nl - sp - 1);
    if (ml >= sizeof method || tl >= sizeof target)
        return 0;
    memcpy(method, data, ml);
    method[ml] = '\0';
    memcpy(target, sp + 1, tl);
    target[tl] = '\0';
    if (strlen(method) != ml || strlen(target) != tl)
        return 0; /* a NUL: not something a client can put in a request line */
    signed_request(k, method, target, nl + 1, size - (size_t)(nl + 1 - data),
                   mode & FZ_HTTP_CHUNKED);
    return 0;
}
