/* lmctl's broker client: signed HTTP requests over libcurl; `lmctl broker call | headers`. */
#include <curl/curl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/clock.h"
#include "laundromat/reqsig.h"
#include "laundromat/util.h"
#include "lmctl.h"

#define DEFAULT_BROKER "http://127.0.0.1:8480"

int lmctl_broker_open(struct lmctl_broker *b, const char *url, const char *key_path)
{
    memset(b, 0, sizeof *b);
    if (!url)
        url = getenv("LM_BROKER");
    if (!url || !*url)
        url = DEFAULT_BROKER;
    size_t n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n == 0 || n >= sizeof b->url ||
        (strncmp(url, "http://", 7) && strncmp(url, "https://", 8))) {
        lmctl_err("broker URL \"%s\": expected http://HOST:PORT", url);
        return LMCTL_USAGE;
    }
    memcpy(b->url, url, n);
    b->url[n] = '\0';
    if (!key_path)
        key_path = getenv("LM_KEY");
    if (!key_path || !*key_path) {
        lmctl_err("needs --key FILE or LM_KEY: your account's secret key (lmctl keygen)");
        return LMCTL_USAGE;
    }
    struct lm_diag d;
    if (lm_key_load_secret(key_path, &b->kp, &d) != 0) {
        lmctl_err("--key: %s", d.msg);
        return LMCTL_FAIL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != 0) {
        lmctl_err("libcurl failed to initialise");
        return LMCTL_FAIL;
    }
    return LMCTL_OK;
}

void lmctl_broker_close(struct lmctl_broker *b)
{
    sodium_memzero(&b->kp, sizeof b->kp);
}

/* A reply being received: at most LMCTL_REPLY_MAX bytes are kept, more ends the transfer. */
struct buf {
    char *p;
    size_t len, cap;
    int over;
};

static size_t collect(char *data, size_t size, size_t n, void *arg)
{
    struct buf *bf = arg;
    size_t add = size * n;
    if (add > LMCTL_REPLY_MAX - bf->len) {
        bf->over = 1;
        return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    if (bf->len + add + 1 > bf->cap) {
        size_t cap = bf->cap ? bf->cap : 4096;
        while (cap < bf->len + add + 1)
            cap *= 2;
        char *np = realloc(bf->p, cap);
        if (!np)
            return 0;
        bf->p = np;
        bf->cap = cap;
    }
    memcpy(bf->p + bf->len, data, add);
    bf->len += add;
    bf->p[bf->len] = '\0';
    return add;
}

int lmctl_broker_send(struct lmctl_broker *b, const char *method, const char *target,
                      const char *body, uint64_t time, const uint8_t *nonce, long *status,
                      char **raw)
{
    size_t blen = body ? strlen(body) : 0;
    struct lm_reqsig r;
    struct lm_reqsig_text tx;
    struct lm_diag d;
    if (lm_reqsig_sign(&b->kp, method, target, time ? time : lm_now(), nonce, body, blen, &r, &tx,
                       &d) != 0) {
        lmctl_err("cannot sign the request: %s", d.msg);
        return LMCTL_USAGE;
    }
    char url[sizeof b->url + LM_REQSIG_MAX_TARGET], h[4][200];
    snprintf(url, sizeof url, "%s%s", b->url, target);
    snprintf(h[0], sizeof h[0], "%s: %s", LM_REQSIG_HDR_KEY, tx.key);
    snprintf(h[1], sizeof h[1], "%s: %s", LM_REQSIG_HDR_TIME, tx.time);
    snprintf(h[2], sizeof h[2], "%s: %s", LM_REQSIG_HDR_NONCE, tx.nonce);
    snprintf(h[3], sizeof h[3], "%s: %s", LM_REQSIG_HDR_SIG, tx.sig);
    struct curl_slist *hdrs = NULL;
    for (int i = 0; i < 4; i++)
        hdrs = curl_slist_append(hdrs, h[i]);
    hdrs = curl_slist_append(hdrs, "Expect:"); /* no 100-continue round trip */
    if (body)
        hdrs = curl_slist_append(hdrs, "Content-Type: application/json");
    CURL *cu = curl_easy_init();
    struct buf bf = {0};
    char errbuf[CURL_ERROR_SIZE] = "";
    long timeout = 30;
    const char *t = getenv("LM_BROKER_TIMEOUT");
    if (t && atol(t) > 0)
        timeout = atol(t);
    if (!cu || !hdrs) {
        lmctl_err("libcurl: out of memory");
        curl_slist_free_all(hdrs);
        return LMCTL_FAIL;
    }
    curl_easy_setopt(cu, CURLOPT_URL, url);
    curl_easy_setopt(cu, CURLOPT_CUSTOMREQUEST, method);
    if (body) {
        curl_easy_setopt(cu, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(cu, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)blen);
    }
    curl_easy_setopt(cu, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(cu, CURLOPT_WRITEFUNCTION, collect);
    curl_easy_setopt(cu, CURLOPT_WRITEDATA, &bf);
    curl_easy_setopt(cu, CURLOPT_ERRORBUFFER, errbuf);
    curl_easy_setopt(cu, CURLOPT_TIMEOUT, timeout); /* the whole exchange, connect to last byte */
    curl_easy_setopt(cu, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)LMCTL_REPLY_MAX);
    curl_easy_setopt(cu, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(cu, CURLOPT_USERAGENT, "lmctl");
    CURLcode rc = curl_easy_perform(cu);
    if (rc == CURLE_OK)
        curl_easy_getinfo(cu, CURLINFO_RESPONSE_CODE, status);
    curl_easy_cleanup(cu);
    curl_slist_free_all(hdrs);
    char max[32];
    if (bf.over || rc == CURLE_FILESIZE_EXCEEDED)
        lmctl_err("broker %s: %s %s: reply over %s; refused", b->url, method, target,
                  lmctl_fmt_size(LMCTL_REPLY_MAX, max));
    else if (rc == CURLE_OPERATION_TIMEDOUT)
        lmctl_err(
            "broker %s: %s %s: no complete reply within %ld s (LM_BROKER_TIMEOUT sets the limit)",
            b->url, method, target, timeout);
    else if (rc != CURLE_OK)
        lmctl_err("broker %s: %s %s: %s (is lm-broker running there? set --broker or LM_BROKER)",
                  b->url, method, target, errbuf[0] ? errbuf : curl_easy_strerror(rc));
    if (rc != CURLE_OK) {
        free(bf.p);
        return LMCTL_UNREACHED;
    }
    *raw = bf.p ? bf.p : strdup("");
    return LMCTL_OK;
}

json_t *lmctl_broker_once(const char *url, const char *key, const char *method,
                          const char *target, json_t *body, int *rc)
{
    struct lmctl_broker b;
    *rc = lmctl_broker_open(&b, url, key);
    json_t *reply = *rc == LMCTL_OK ? lmctl_broker_do(&b, method, target, body, rc) : NULL;
    lmctl_broker_close(&b);
    return reply;
}

json_t *lmctl_broker_do(struct lmctl_broker *b, const char *method, const char *target,
                        json_t *body, int *rc)
{
    char *text = body ? json_dumps(body, JSON_COMPACT) : NULL, *raw = NULL;
    long status = 0;
    *rc = lmctl_broker_send(b, method, target, text, 0, NULL, &status, &raw);
    free(text);
    if (*rc != LMCTL_OK)
        return NULL;
    json_t *reply = json_loads(raw, 0, NULL);
    if (status >= 200 && status < 300 && json_is_object(reply)) {
        free(raw);
        return reply;
    }
    const char *code = json_string_value(json_object_get(reply, "error")),
               *msg = json_string_value(json_object_get(reply, "message"));
    if (code)
        lmctl_err("broker: %ld %s: %s", status, code, msg ? msg : "");
    else
        lmctl_err("broker: HTTP %ld, not a broker reply: %.200s", status, raw);
    json_decref(reply);
    free(raw);
    *rc = LMCTL_FAIL;
    return NULL;
}

void lmctl_print_json(json_t *j)
{
    json_dumpf(j, stdout, JSON_INDENT(2));
    putchar('\n');
}

static const char call_help[] =
    "usage: lmctl broker call [--data JSON | --data-file FILE] [--time UNIX] [--nonce HEX]\n"
    "                         [-i] METHOD TARGET\n"
    "Signs one request with your key, sends it and prints the broker's reply body. Exit 0 on\n"
    "a 2xx reply, 1 on another reply, 3 when no reply came within LM_BROKER_TIMEOUT seconds\n"
    "(default 30) or it was over 4 MiB. For tests and debugging: any endpoint, any body, a\n"
    "chosen time or nonce.\n" LMCTL_BROKER_HELP
    "  --data JSON         the request body\n"
    "  --data-file FILE    the request body from FILE (- for stdin), at most 16 MiB\n"
    "  --time UNIX         sign with this X-LM-Time instead of now\n"
    "  --nonce HEX         sign with this nonce (32 hex digits) instead of a fresh one\n"
    "  -i, --include       print \"HTTP STATUS\" before the body\n";

static const char headers_help[] =
    "usage: lmctl broker headers [--data JSON | --data-file FILE] [--time UNIX] [--nonce HEX]\n"
    "                            METHOD TARGET\n"
    "Prints the four signature headers of a request, one per line, for curl -H @FILE:\n"
    "  lmctl broker headers POST /v1/tokens --data \"$body\" >h\n"
    "  curl -H @h --data \"$body\" $LM_BROKER/v1/tokens\n" LMCTL_BROKER_HELP
    "  --data JSON, --data-file FILE, --time UNIX, --nonce HEX: as for broker call\n";

static char *read_all(const char *path)
{
    static const struct lmctl_file_rule rule = {
        .what = "--data-file", .kind = "a request body is a file", .max = LMCTL_BODY_MAX};
    uint8_t *body;
    size_t len;
    if (lmctl_read_file(&rule, path, &body, &len) != 0)
        return NULL;
    if (memchr(body, '\0', len)) {
        lmctl_err("--data-file %s: NUL bytes in the body", path);
        free(body);
        return NULL;
    }
    return (char *)body;
}

static int call(int argc, char **argv, int headers_only)
{
    enum { O_DATA = 256, O_DATA_FILE, O_TIME, O_NONCE };
    static const struct option opts[] = {LMCTL_BROKER_OPTIONS,
                                         {"data", required_argument, NULL, O_DATA},
                                         {"data-file", required_argument, NULL, O_DATA_FILE},
                                         {"time", required_argument, NULL, O_TIME},
                                         {"nonce", required_argument, NULL, O_NONCE},
                                         {"include", no_argument, NULL, 'i'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *url = NULL, *key = NULL, *help = headers_only ? headers_help : call_help;
    char *body = NULL;
    uint64_t time = 0;
    uint8_t nonce[LM_REQSIG_NONCE_BYTES];
    int have_nonce = 0, include = 0, c, rc = LMCTL_USAGE;
    while ((c = getopt_long(argc, argv, "B:k:ih", opts, NULL)) != -1) {
        switch (c) {
        case 'B':
            url = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'i':
            include = 1;
            break;
        case O_DATA:
        case O_DATA_FILE:
            free(body);
            body = c == O_DATA ? strdup(optarg) : read_all(optarg);
            if (!body)
                return LMCTL_FAIL;
            break;
        case O_TIME:
            if (lmctl_u64("--time", optarg, 0, INT64_MAX, &time))
                goto out;
            break;
        case O_NONCE:
            if (lmctl_hex("--nonce", optarg, nonce, sizeof nonce))
                goto out;
            have_nonce = 1;
            break;
        case 'h':
            fputs(help, stdout);
            rc = LMCTL_OK;
            goto out;
        default:
            fputs(help, stderr);
            goto out;
        }
    }
    if (optind != argc - 2) {
        lmctl_err("broker %s: expected METHOD and TARGET (e.g. GET /v1/account)",
                  headers_only ? "headers" : "call");
        goto out;
    }
    struct lmctl_broker b;
    if ((rc = lmctl_broker_open(&b, url, key)) != LMCTL_OK)
        goto out;
    const char *method = argv[optind], *target = argv[optind + 1];
    if (headers_only) {
        struct lm_reqsig r;
        struct lm_reqsig_text tx;
        struct lm_diag d;
        if (lm_reqsig_sign(&b.kp, method, target, time ? time : lm_now(), have_nonce ? nonce : NULL,
                           body, body ? strlen(body) : 0, &r, &tx, &d) != 0) {
            lmctl_err("cannot sign: %s", d.msg);
            rc = LMCTL_USAGE;
        } else {
            printf("%s: %s\n%s: %s\n%s: %s\n%s: %s\n", LM_REQSIG_HDR_KEY, tx.key,
                   LM_REQSIG_HDR_TIME, tx.time, LM_REQSIG_HDR_NONCE, tx.nonce, LM_REQSIG_HDR_SIG,
                   tx.sig);
        }
    } else {
        long status = 0;
        char *raw = NULL;
        rc = lmctl_broker_send(&b, method, target, body, time, have_nonce ? nonce : NULL, &status,
                               &raw);
        if (rc == LMCTL_OK) {
            if (include)
                printf("HTTP %ld\n", status);
            fputs(raw, stdout);
            if (raw[0] && raw[strlen(raw) - 1] != '\n')
                putchar('\n');
            rc = status >= 200 && status < 300 ? LMCTL_OK : LMCTL_FAIL;
        }
        free(raw);
    }
    lmctl_broker_close(&b);
out:
    free(body);
    return rc;
}

int cmd_broker(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "call"))
        return call(argc - 1, argv + 1, 0);
    if (argc >= 2 && !strcmp(argv[1], "headers"))
        return call(argc - 1, argv + 1, 1);
    lmctl_err("broker: expected \"call\" or \"headers\"; lmctl broker call --help");
    return LMCTL_USAGE;
}
