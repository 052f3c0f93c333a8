/* app=http: an HTTP/1.1 server with keep-alive; its page shows a request counter and uptime. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../kernel/kernel.h"
#include "tcpout.h"

#define REQ_MAX 8192 /* request head limit: beyond it, 431 and close */

struct http_conn {
    char in[REQ_MAX];
    size_t in_len;
    struct outq out;
    int closing; /* close once the output is flushed */
};

static uint64_t requests;

static err_t http_close(struct tcp_pcb *pcb, struct http_conn *c)
{
    outq_free(&c->out);
    free(c);
    return tcp_finish(pcb);
}

/* Returns ERR_ABRT when the connection had to be aborted: callbacks must pass that on. */
static err_t http_flush(struct tcp_pcb *pcb, struct http_conn *c)
{
    outq_flush(pcb, &c->out);
    if (c->closing && c->out.len == 0)
        return http_close(pcb, c);
    return ERR_OK;
}

static int ieq(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tolower((unsigned char)a[i]) != tolower((unsigned char)b[i]))
            return 0;
    return 1;
}

/* Copies the next space-delimited word of [*p, end) into out (cap bytes); 0 if none fits. */
static int word(const char **p, const char *end, char *out, size_t cap)
{
    size_t n = 0;
    while (*p < end && **p == ' ')
        (*p)++;
    while (*p < end && **p != ' ') {
        if (n + 1 >= cap)
            return 0;
        out[n++] = *(*p)++;
    }
    out[n] = '\0';
    return n > 0;
}

/* Case-insensitive search for a header line "name: value" containing `token`. */
static int header_has(const char *head, size_t len, const char *name, const char *token)
{
    size_t nlen = strlen(name), tlen = strlen(token);
    for (size_t i = 0; i + nlen < len; i++) {
        if ((i == 0 || head[i - 1] == '\n') && ieq(head + i, name, nlen) &&
            head[i + nlen] == ':') {
            for (size_t j = i + nlen + 1; j + tlen <= len && head[j] != '\r' && head[j] != '\n';
                 j++)
                if (ieq(head + j, token, tlen))
                    return 1;
        }
    }
    return 0;
}

static void respond(struct http_conn *c, int status, const char *reason, const char *body,
                    int head_only, int keep)
{
    char hdr[256];
    size_t blen = strlen(body);
    int n = snprintf(hdr, sizeof hdr,
                     "HTTP/1.1 %d %s\r\nContent-Type: text/html\r\nContent-Length: %zu\r\n"
                     "Connection: %s\r\n\r\n",
                     status, reason, blen, keep ? "keep-alive" : "close");
    if (outq_append(&c->out, hdr, (size_t)n) < 0 ||
        (!head_only && outq_append(&c->out, body, blen) < 0))
        c->closing = 1; /* the client is not reading its responses: drop it */
    if (!keep)
        c->closing = 1;
}

/* Handles one complete request head in c->in[0, len). */
static void handle(struct http_conn *c, size_t len)
{
    char method[8] = "", path[128] = "", version[16] = "";
    const char *p = c->in, *eol = memchr(c->in, '\r', len);
    int ok = eol && word(&p, eol, method, sizeof method) && word(&p, eol, path, sizeof path) &&
             word(&p, eol, version, sizeof version);
    requests++;
    if (!ok || strncmp(version, "HTTP/1.", 7) != 0) {
        respond(c, 400, "Bad Request", "<html><body>bad request</body></html>\n", 0, 0);
        return;
    }
    int http10 = strcmp(version, "HTTP/1.0") == 0;
    int keep = http10 ? header_has(c->in, len, "connection", "keep-alive")
                      : !header_has(c->in, len, "connection", "close");
    int head = strcmp(method, "HEAD") == 0;
    if (!head && strcmp(method, "GET") != 0) {
        respond(c, 405, "Method Not Allowed", "<html><body>GET or HEAD only</body></html>\n", 0,
                keep);
        return;
    }
    if (strcmp(path, "/") != 0 && strcmp(path, "/index.html") != 0) {
        respond(c, 404, "Not Found", "<html><body>not found</body></html>\n", head, keep);
        return;
    }
    char body[640], credit[160] = "";
    uint64_t ms = clock_ns() / 1000000;
    const struct host_state *hs = events_state();
    if (hs->known)
        snprintf(credit, sizeof credit, "<p>host_credit_ms: %llu</p>\n<p>host_warnings: %u%s</p>\n",
                 (unsigned long long)hs->credit_ms, hs->warnings,
                 hs->in_grace ? " (in grace: pay or migrate)" : "");
    snprintf(body, sizeof body,
             "<!doctype html>\n<html><head><title>Laundromat guest</title></head><body>\n"
             "<h1>Hello from a Laundromat guest</h1>\n"
             "<p>requests: %llu</p>\n<p>uptime_ms: %llu</p>\n%s</body></html>\n",
             (unsigned long long)requests, (unsigned long long)ms, credit);
    respond(c, 200, "OK", body, head, keep);
}

static err_t http_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct http_conn *c = arg;
    (void)err;
    if (!p) {
        c->closing = 1;
        return http_flush(pcb, c);
    }
    tcp_recved(pcb, p->tot_len);
    for (struct pbuf *q = p; q && !c->closing; q = q->next) {
        const char *data = q->payload;
        for (size_t i = 0; i < q->len && !c->closing; i++) {
            if (c->in_len == REQ_MAX) {
                respond(c, 431, "Request Header Fields Too Large",
                        "<html><body>request head too large</body></html>\n", 0, 0);
                break;
            }
            c->in[c->in_len++] = data[i];
            if (c->in_len >= 4 && memcmp(c->in + c->in_len - 4, "\r\n\r\n", 4) == 0) {
                handle(c, c->in_len);
                c->in_len = 0; /* pipelined requests follow */
            }
        }
    }
    pbuf_free(p);
    return http_flush(pcb, c);
}

static err_t http_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    (void)len;
    return http_flush(pcb, arg);
}

static void http_err(void *arg, err_t err)
{
    struct http_conn *c = arg;
    (void)err;
    if (c) {
        outq_free(&c->out);
        free(c);
    }
}

static err_t http_accept(void *arg, struct tcp_pcb *pcb, err_t err)
{
    (void)arg;
    if (err != ERR_OK || !pcb)
        return ERR_VAL;
    struct http_conn *c = calloc(1, sizeof *c);
    if (!c)
        return ERR_MEM;
    c->out.limit = 256 * 1024;
    tcp_arg(pcb, c);
    tcp_recv(pcb, http_recv);
    tcp_sent(pcb, http_sent);
    tcp_err(pcb, http_err);
    tcp_nagle_disable(pcb);
    return ERR_OK;
}

static int http_init(void)
{
    unsigned long port = cmdline_ulong("port", 80);
    tcp_listen_on((uint16_t)port, http_accept);
    printf("http: listening on TCP port %lu\n", port);
    return 0;
}

const struct app app_http = {"http", true, http_init, NULL};
