/* HTTP front of the broker: libmicrohttpd, routing, request authentication, one transaction
 * per request, JSON replies. */
#include <arpa/inet.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"
#include "laundromat/clock.h"
#include "laundromat/reqsig.h"
#include "laundromat/util.h"

struct route {
    const char *method;
    const char *pattern; /* '*' matches one path segment, copied to call.arg */
    unsigned roles;
    int (*prepare)(struct call *c);
    int (*run)(struct call *c);
    void (*cleanup)(struct call *c);
};

#define ANY (ROLE_ADMIN | ROLE_BUYER | ROLE_OPERATOR)
static const struct route routes[] = {
    {"GET", "/v1/keys", ANY, NULL, h_keys, NULL},
    {"GET", "/v1/account", ANY, NULL, h_account_self, NULL},
    {"GET", "/v1/accounts", ROLE_ADMIN, NULL, h_account_list, NULL},
    {"POST", "/v1/accounts", ROLE_ADMIN, NULL, h_account_create, NULL},
    {"POST", "/v1/deposits", ROLE_ADMIN, NULL, h_deposit, NULL},
    {"GET", "/v1/hosts", ANY, NULL, h_host_list, NULL},
    {"POST", "/v1/hosts", ROLE_OPERATOR, NULL, h_host_register, NULL},
    {"POST", "/v1/tokens", ROLE_BUYER, NULL, h_buy, NULL},
    {"GET", "/v1/tokens/*", ANY, NULL, h_token_get, NULL},
    {"POST", "/v1/tokens/*/redeem", ROLE_OPERATOR, h_redeem_prepare, h_redeem, h_redeem_free},
    {"POST", "/v1/locations", ROLE_OPERATOR, NULL, h_location_report, NULL},
    {"GET", "/v1/locations/*", ROLE_BUYER | ROLE_ADMIN, NULL, h_location_get, NULL},
    {"POST", "/v1/admin/sweep", ROLE_ADMIN, NULL, h_sweep, NULL},
    {"GET", "/v1/admin/audit", ROLE_ADMIN, NULL, h_audit, NULL},
};

static struct MHD_Daemon *httpd;

/* Per-request state, created when the request line arrives (MHD's URI callback). */
struct req {
    char *target;
    char *body;
    size_t len, cap;
    int started;
    int too_large; /* 1: the 413 is queued; 2: reading on to the end of the body */
};

const char *role_name(enum role r)
{
    return r == ROLE_ADMIN ? "admin" : r == ROLE_BUYER ? "buyer" : "operator";
}

int role_parse(const char *s, enum role *r)
{
    if (!strcmp(s, "admin"))
        *r = ROLE_ADMIN;
    else if (!strcmp(s, "buyer"))
        *r = ROLE_BUYER;
    else if (!strcmp(s, "operator"))
        *r = ROLE_OPERATOR;
    else
        return -1;
    return 0;
}

int call_fail(struct call *c, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[768], shown[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* Messages quote what the client sent, cut to a length: JSON takes only UTF-8. */
    echo_clean(shown, sizeof shown, msg);
    json_decref(c->reply);
    c->status = status;
    c->reply = json_pack("{s:s s:s}", "error", code, "message", shown);
    return -1;
}

int call_db_fail(struct call *c)
{
    return call_fail(c, 500, "INTERNAL",
                     "ledger error: %s; the operation was not recorded, "
                     "retry it",
                     ledger_errmsg(c->b));
}

int call_ok(struct call *c, unsigned status, json_t *reply)
{
    json_decref(c->reply);
    c->status = status;
    c->reply = reply;
    return 0;
}

/* Matches path against pattern; the '*' segment goes to arg. */
static int match(const char *pattern, const char *path, char *arg, size_t argcap)
{
    while (*pattern && *path) {
        if (*pattern == '*') {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= argcap)
                return 0;
            memcpy(arg, path, n);
            arg[n] = '\0';
            path += n;
            pattern++;
        } else if (*pattern++ != *path++) {
            return 0;
        }
    }
    return !*pattern && !*path;
}

/* Looks up the account of a key id; 0 found, 1 unknown, -1 ledger error. */
static int account_by_key(struct broker *b, uint64_t key_id, struct account *a, uint8_t pk[32])
{
    char kid[17];
    snprintf(kid, sizeof kid, "%016" PRIx64, key_id);
    sqlite3_stmt *st = ledger_prep(
        b, "SELECT id, name, role, balance, public_key FROM accounts WHERE key_id = ?1", "t", kid);
    if (!st)
        return -1;
    int rc = sqlite3_step(st), found = rc == SQLITE_ROW;
    if (found) {
        a->id = sqlite3_column_int64(st, 0);
        snprintf(a->name, sizeof a->name, "%s", (const char *)sqlite3_column_text(st, 1));
        role_parse((const char *)sqlite3_column_text(st, 2), &a->role);
        a->balance = sqlite3_column_int64(st, 3);
        lm_hex_decode((const char *)sqlite3_column_text(st, 4), pk, 32);
    }
    sqlite3_finalize(st);
    return found ? 0 : rc == SQLITE_DONE ? 1 : -1;
}

/* Authenticates c: headers, key, clock, signature, nonce not seen. 0 or -1 (reply set). */
static int authenticate(struct call *c, const struct auth_headers *h, struct lm_reqsig *r)
{
    struct lm_diag d;
    const char *hk = h->key, *ht = h->time, *hn = h->nonce, *hs = h->sig;
    if (lm_reqsig_parse(hk, ht, hn, hs, r, &d) != 0)
        return call_fail(c, 401, !hk || !ht || !hn || !hs ? "MISSING_AUTH" : "BAD_AUTH_HEADER",
                         "%s", d.msg);
    uint8_t pk[32];
    ledger_lock(c->b);
    int rc = account_by_key(c->b, r->key_id, &c->who, pk);
    ledger_unlock(c->b);
    if (rc < 0)
        return call_db_fail(c);
    if (rc > 0)
        return call_fail(c, 401, "UNKNOWN_KEY",
                         "no account has key id %s; the admin creates "
                         "accounts (lmctl account create)",
                         hk);
    int64_t skew = (int64_t)r->time - c->now;
    if (skew > (int64_t)c->b->cfg.max_skew_s || -skew > (int64_t)c->b->cfg.max_skew_s)
        return call_fail(c, 401, "STALE_TIMESTAMP",
                         "X-LM-Time %" PRIu64 " is %" PRId64 " s %s the broker's clock (%" PRId64
                         "); the limit is %" PRIu32 " s: check the client's clock",
                         r->time, skew < 0 ? -skew : skew, skew < 0 ? "behind" : "ahead of", c->now,
                         c->b->cfg.max_skew_s);
    struct lm_pubkey pub = {.key_id = r->key_id};
    memcpy(pub.pk, pk, 32);
    if (lm_reqsig_verify(&pub, r, c->method, c->target, c->body, c->body_len, &d) != 0)
        return call_fail(c, 401, "BAD_SIGNATURE", "%s", d.msg);
    return 0;
}

static int nonce_insert(struct call *c, const struct lm_reqsig *r, int dry)
{
    char kid[17], nonce[33];
    snprintf(kid, sizeof kid, "%016" PRIx64, r->key_id);
    lm_hex_encode(r->nonce, sizeof r->nonce, nonce);
    int64_t seen;
    if (ledger_int(c->b, &seen, "SELECT COUNT(*) FROM nonces WHERE key_id = ?1 AND nonce = ?2",
                   "tt", kid, nonce) != 0)
        return call_db_fail(c);
    if (seen)
        return call_fail(c, 401, "NONCE_REPLAYED",
                         "nonce %s was already used with key %s: a "
                         "replayed request; sign every request with a fresh nonce",
                         nonce, kid);
    if (!dry && ledger_exec(c->b, "INSERT INTO nonces (key_id, nonce, time) VALUES (?1, ?2, ?3)",
                            "tti", kid, nonce, (int64_t)r->time) != 0)
        return call_db_fail(c);
    return 0;
}

/* Runs the route's step in one transaction that also records the nonce. */
static void transact(struct call *c, const struct route *rt, const struct lm_reqsig *r)
{
    struct broker *b = c->b;
    ledger_lock(b);
    if (ledger_sql(b, "BEGIN IMMEDIATE") != 0) {
        call_db_fail(c);
        ledger_unlock(b);
        return;
    }
    int rc = nonce_insert(c, r, 0);
    if (rc == 0 && ledger_sql(b, "SAVEPOINT op") != 0)
        rc = call_db_fail(c);
    if (rc == 0) {
        /* A refused operation still spends its nonce: replaying it later, when the state
         * has changed (a deposit arrived), must not make it succeed. */
        if (rt->run(c) != 0 && ledger_sql(b, "ROLLBACK TO op") != 0)
            rc = call_db_fail(c);
        if (rc == 0 && ledger_sql(b, "RELEASE op") != 0)
            rc = call_db_fail(c);
    }
    if (rc == 0 && ledger_sql(b, "COMMIT") != 0)
        rc = call_db_fail(c);
    if (rc != 0)
        ledger_sql(b, "ROLLBACK");
    ledger_unlock(b);
}

void http_serve(struct broker *b, const char *method, const char *target, const char *body,
                size_t body_len, const struct auth_headers *h, struct call *c)
{
    const char *qm = strchr(target, '?');
    size_t plen = qm ? (size_t)(qm - target) : strlen(target);
    c->b = b;
    c->method = method;
    c->target = target;
    c->query = qm ? qm + 1 : "";
    c->body = body ? body : "";
    c->body_len = body_len;
    c->now = (int64_t)lm_now();
    if (plen >= sizeof c->path) {
        call_fail(c, 404, "NOT_FOUND", "no such path (%zu bytes long)", plen);
        return;
    }
    memcpy(c->path, target, plen);
    c->path[plen] = '\0';
    const struct route *rt = NULL;
    int path_known = 0;
    char allow[64] = "";
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        if (!match(routes[i].pattern, c->path, c->arg, sizeof c->arg))
            continue;
        path_known = 1;
        snprintf(allow + strlen(allow), sizeof allow - strlen(allow), "%s%s", allow[0] ? ", " : "",
                 routes[i].method);
        if (!strcmp(routes[i].method, method))
            rt = &routes[i];
    }
    if (!rt) {
        if (path_known)
            call_fail(c, 405, "METHOD_NOT_ALLOWED",
                      "%s %s: the method is not allowed here; "
                      "allowed: %s",
                      method, c->path, allow);
        else
            call_fail(c, 404, "NOT_FOUND",
                      "%s %.100s: no such endpoint (docs/BROKER-API.md "
                      "lists them)",
                      method, c->path);
        return;
    }
    struct lm_reqsig r;
    if (authenticate(c, h, &r) != 0)
        return;
    if (!(rt->roles & c->who.role)) {
        call_fail(c, 403, "WRONG_ROLE", "%s %s is for %s accounts; account \"%s\" is %s %s", method,
                  c->path,
                  rt->roles == ROLE_ADMIN                  ? "the admin"
                  : rt->roles == ROLE_BUYER                ? "buyer"
                  : rt->roles == (ROLE_BUYER | ROLE_ADMIN) ? "buyer and the admin"
                                                           : "operator",
                  c->who.name, c->who.role == ROLE_OPERATOR ? "an" : "a", role_name(c->who.role));
        return;
    }
    if (!strcmp(method, "POST")) {
        json_error_t err;
        c->in = json_loadb(c->body, c->body_len, JSON_REJECT_DUPLICATES, &err);
        if (!c->in) {
            call_fail(c, 400, "BAD_JSON",
                      "request body is not valid JSON: %s (line %d, column "
                      "%d)",
                      err.text, err.line, err.column);
            return;
        }
        if (!json_is_object(c->in)) {
            call_fail(c, 400, "BAD_JSON", "request body must be a JSON object");
            return;
        }
    } else if (c->body_len) {
        call_fail(c, 400, "BAD_JSON", "%s %s takes no body (got %zu bytes)", method, c->path,
                  c->body_len);
        return;
    }
    /* A cheap replay check before any expensive prepare step; the transaction decides. */
    ledger_lock(b);
    int replayed = nonce_insert(c, &r, 1);
    ledger_unlock(b);
    if (replayed)
        return;
    if (rt->prepare && rt->prepare(c) != 0)
        goto out;
    transact(c, rt, &r);
out:
    if (rt->cleanup)
        rt->cleanup(c);
}

static enum MHD_Result respond(struct MHD_Connection *conn, unsigned status, json_t *reply,
                               int close)
{
    char *text = json_dumps(reply, JSON_INDENT(2));
    size_t n = text ? strlen(text) : 0;
    char *grown = text ? realloc(text, n + 2) : NULL;
    if (grown) {
        text = grown;
        text[n++] = '\n';
        text[n] = '\0';
    } else {
        free(text);
        text = NULL;
    }
    if (!text) {
        text = strdup("{\"error\": \"INTERNAL\", \"message\": \"out of memory\"}\n");
        status = 500;
        n = text ? strlen(text) : 0;
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(n, text, MHD_RESPMEM_MUST_FREE);
    if (!resp) {
        free(text);
        return MHD_NO;
    }
    MHD_add_response_header(resp, "Content-Type", "application/json");
    if (close)
        MHD_add_response_header(resp, "Connection", "close");
    enum MHD_Result ret = MHD_queue_response(conn, status, resp);
    MHD_destroy_response(resp);
    return ret;
}

/* The connection's deadline watch (deadline.c), set up in notify_cb. */
static struct watched *watch_of(struct MHD_Connection *conn)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

/* The request is in (or refused): its deadline no longer runs. */
static void received(struct MHD_Connection *conn)
{
    deadline_set(watch_of(conn), 0);
}

/* A refusal of the request's framing: the reply closes the connection. */
static enum MHD_Result refuse(struct MHD_Connection *conn, const char *method, struct req *q,
                              struct call *c)
{
    received(conn);
    lm_info("%s %.100s: %u %s", method, q->target, c->status,
            json_string_value(json_object_get(c->reply, "error")));
    enum MHD_Result r = c->reply ? respond(conn, c->status, c->reply, 1) : MHD_NO;
    json_decref(c->reply);
    return r;
}

static enum MHD_Result too_large(struct broker *b, struct MHD_Connection *conn, const char *method,
                                 struct req *q, const char *size)
{
    received(conn);
    char msg[200];
    snprintf(msg, sizeof msg,
             "request body of %s bytes is above the broker's limit of %" PRIu32 " bytes (max_body)",
             size, b->cfg.max_body);
    json_t *j = json_pack("{s:s s:s}", "error", "BODY_TOO_LARGE", "message", msg);
    lm_info("%s %.100s: 413 BODY_TOO_LARGE (%s bytes)", method, q->target, size);
    enum MHD_Result r = respond(conn, 413, j, 1);
    json_decref(j);
    return r;
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *conn, const char *url,
                               const char *method, const char *version, const char *upload,
                               size_t *upload_size, void **con_cls)
{
    (void)url;
    (void)version;
    struct broker *b = cls;
    struct req *q = *con_cls;
    if (!q)
        return MHD_NO;
    if (!q->started) {
        /* The head is in, none of the body read: a refusal here closes the connection
         * (MHD reads nothing more from it, no pipelined request either). */
        q->started = 1;
        struct call c = {.method = method};
        if (framing_check(conn, &c) != 0)
            return refuse(conn, method, q, &c);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (cl && strtoull(cl, NULL, 10) > b->cfg.max_body) {
            q->too_large = 1;
            return too_large(b, conn, method, q, cl);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* A body without Content-Length (chunked) that grows too large is read on and
         * dropped, so the 413 can follow it; past 16 times the limit the connection is cut. */
        if (!q->too_large && q->len + *upload_size > b->cfg.max_body)
            q->too_large = 2;
        if (q->too_large) {
            q->len += *upload_size;
            *upload_size = 0;
            return q->len > 16 * (size_t)b->cfg.max_body ? MHD_NO : MHD_YES;
        } else {
            if (q->len + *upload_size + 1 > q->cap) {
                size_t cap = (q->len + *upload_size + 1) * 2;
                char *nb = realloc(q->body, cap);
                if (!nb)
                    return MHD_NO;
                q->body = nb;
                q->cap = cap;
            }
            memcpy(q->body + q->len, upload, *upload_size);
            q->len += *upload_size;
            q->body[q->len] = '\0';
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (q->too_large == 1)
        return MHD_YES; /* the 413 is queued already */
    if (q->too_large) {
        char sz[32];
        snprintf(sz, sizeof sz, "%zu", q->len);
        q->too_large = 1;
        return too_large(b, conn, method, q, sz);
    }
    received(conn);
    uint64_t t0 = lm_now_ns();
    struct call c;
    memset(&c, 0, sizeof c);
    const struct auth_headers h = {
        .key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, LM_REQSIG_HDR_KEY),
        .time = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, LM_REQSIG_HDR_TIME),
        .nonce = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, LM_REQSIG_HDR_NONCE),
        .sig = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, LM_REQSIG_HDR_SIG),
    };
    http_serve(b, method, q->target, q->body, q->len, &h, &c);
    if (!c.reply)
        call_fail(&c, 500, "INTERNAL", "the handler gave no reply");
    const char *code = json_string_value(json_object_get(c.reply, "error"));
    if (c.status >= 500)
        lm_err("%s %.100s by %s: %u %s: %s", method, q->target, c.who.name[0] ? c.who.name : "-",
               c.status, code, json_string_value(json_object_get(c.reply, "message")));
    else
        lm_info("%s %.100s by %s: %u%s%s (%" PRIu64 " ms)", method, q->target,
                c.who.name[0] ? c.who.name : "-", c.status, code ? " " : "", code ? code : "",
                (lm_now_ns() - t0) / 1000000);
    enum MHD_Result ret = respond(conn, c.status, c.reply, 0);
    json_decref(c.reply);
    json_decref(c.in);
    return ret;
}

static void *uri_cb(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)cls;
    (void)conn;
    struct req *q = calloc(1, sizeof *q);
    if (q && !(q->target = strdup(uri))) {
        free(q);
        q = NULL;
    }
    return q;
}

static void completed_cb(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    /* Replied, and the connection stays open: the next request is due. */
    if (toe == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        deadline_set(watch_of(conn), 1);
    struct req *q = *con_cls;
    if (q) {
        free(q->target);
        free(q->body);
        free(q);
    }
    *con_cls = NULL;
}

/* Every connection is watched from its start (a request due) until it is closed. */
static void notify_cb(void *cls, struct MHD_Connection *conn, void **socket_context,
                      enum MHD_ConnectionNotificationCode code)
{
    (void)cls;
    if (code == MHD_CONNECTION_NOTIFY_CLOSED) {
        deadline_forget(*socket_context);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *fd, *ad;
    fd = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    ad = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    char peer[INET6_ADDRSTRLEN] = "?";
    const struct sockaddr *sa = ad ? ad->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET)
        inet_ntop(AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, peer, sizeof peer);
    else if (sa && sa->sa_family == AF_INET6)
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, peer, sizeof peer);
    *socket_context = fd ? deadline_watch(fd->connect_fd, peer) : NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    lm_debug("http: %s", msg);
}

int http_start(struct broker *b, int listen_fd)
{
    if (deadline_start(b->cfg.request_timeout_s) != 0)
        return -1;
    /* One address holds at most max_connections_per_address of the max_connections slots,
     * each for at most request_timeout per request; the idle timeout (30 s) covers replies
     * that the client does not read. */
    struct MHD_OptionItem opts[] = {
        {MHD_OPTION_URI_LOG_CALLBACK, (intptr_t)uri_cb, NULL},
        {MHD_OPTION_NOTIFY_COMPLETED, (intptr_t)completed_cb, NULL},
        {MHD_OPTION_NOTIFY_CONNECTION, (intptr_t)notify_cb, NULL},
        {MHD_OPTION_CONNECTION_LIMIT, b->cfg.max_connections, NULL},
        {MHD_OPTION_PER_IP_CONNECTION_LIMIT, b->cfg.max_per_address, NULL},
        {MHD_OPTION_CONNECTION_TIMEOUT, 30, NULL},
        {MHD_OPTION_EXTERNAL_LOGGER, (intptr_t)mhd_log, NULL},
        {listen_fd < 0 ? MHD_OPTION_END : MHD_OPTION_LISTEN_SOCKET, listen_fd, NULL},
        {MHD_OPTION_END, 0, NULL},
    };
    httpd = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                                 MHD_USE_AUTO | MHD_USE_ERROR_LOG |
                                 (listen_fd < 0 ? MHD_USE_NO_LISTEN_SOCKET | MHD_USE_ITC : 0),
                             0, NULL, NULL, handler, b, MHD_OPTION_ARRAY, opts, MHD_OPTION_END);
    if (!httpd)
        deadline_stop();
    return httpd ? 0 : -1;
}

int http_add_connection(int fd, const struct sockaddr *addr, unsigned addrlen)
{
    return MHD_add_connection(httpd, fd, addr, (socklen_t)addrlen) == MHD_YES ? 0 : -1;
}

void http_stop(void)
{
    if (httpd)
        MHD_stop_daemon(httpd);
    httpd = NULL;
    deadline_stop();
}
