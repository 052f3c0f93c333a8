/* Internal header of lm-broker: configuration, the ledger, request calls and their handlers. */
#ifndef LM_BROKER_H
#define LM_BROKER_H

#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdint.h>

#include "laundromat/keys.h"
#include "laundromat/log.h"
#include "laundromat/status.h"

#define BROKER_MAX_KEYS 16    /* signing key plus older keys still accepted */
#define BROKER_NAME_MAX 32    /* account, host and cluster names: [A-Za-z0-9._-]{1,32} */
#define BROKER_VM_NAME_MAX 63 /* a VM's name, given at purchase: [a-z0-9][a-z0-9-]{0,62} */
#define BROKER_VM_NAME_RULE "1 to 63 of a-z, 0-9 and '-', starting with a letter or digit"
#define BROKER_MAX_DEPOSIT 1000000000000000ll /* 10^15 credits in one deposit */

/* ---- config.c: the configuration file (docs/broker.conf.example) */
struct broker_config {
    char listen[128]; /* ADDR:PORT, [V6ADDR]:PORT; port 0: any free port */
    char database[PATH_MAX];
    char signing_key[PATH_MAX];                        /* secret key file: signs new tokens */
    char accepted_keys[BROKER_MAX_KEYS - 1][PATH_MAX]; /* older public keys, still listed */
    int naccepted;
    char admin_key[PATH_MAX];    /* the admin's public key file */
    char port_file[PATH_MAX];    /* written with the bound port once serving; "" none */
    uint32_t max_skew_s;         /* X-LM-Time tolerance; nonces kept 2x this */
    uint32_t settlement_grace_s; /* refund after expiry + this */
    uint32_t sweep_interval_s;   /* how often the daemon refunds and prunes */
    uint32_t max_body;           /* bytes of a request body */
    uint32_t max_ttl_s;          /* longest token lifetime sold */
    uint32_t max_connections;
    uint32_t max_per_address;   /* connections from one IP address at once */
    uint32_t request_timeout_s; /* a whole request must arrive within this */
    enum lm_log_level log_level;
};

void config_defaults(struct broker_config *cfg);
/* Reads path over the defaults; relative paths in it are relative to its directory. */
int config_load(const char *path, struct broker_config *cfg, struct lm_diag *d);

/* ---- the daemon's state, owned by main.c */
struct broker {
    struct broker_config cfg;
    struct lm_keypair signer;               /* the current signing key */
    struct lm_pubkey keys[BROKER_MAX_KEYS]; /* keys[0] = signer.pub, then accepted keys */
    int nkeys;
    struct lm_pubkey admin;
    sqlite3 *db;
    pthread_mutex_t lock; /* one connection, one user at a time: SQLite has one writer anyway */
};

/* ---- ledger.c: SQLite, schema, transactions and statement helpers (caller holds lock) */
int ledger_open(struct broker *b, struct lm_diag *d);
void ledger_close(struct broker *b);
void ledger_lock(struct broker *b);
void ledger_unlock(struct broker *b);
/* Plain SQL without parameters; 0 or -1 (logged). */
int ledger_sql(struct broker *b, const char *sql);
/*
 * Prepares sql and binds its parameters from fmt: 'i' int64_t, 't' const char * (NULL
 * binds NULL). Returns NULL on error (logged).
 */
sqlite3_stmt *ledger_prep(struct broker *b, const char *sql, const char *fmt, ...);
/* Prepares, binds and steps to completion; 0 or -1. */
int ledger_exec(struct broker *b, const char *sql, const char *fmt, ...);
/* The integer in the first column of the first row (0 when there is no row or NULL). */
int ledger_int(struct broker *b, int64_t *out, const char *sql, const char *fmt, ...);
/* A balance change and its journal line, in the caller's transaction. kind: deposit,
 * reserve, payment, refund. */
int ledger_move(struct broker *b, int64_t account, const char *kind, int64_t amount,
                const char *token_id, int64_t now);
const char *ledger_errmsg(struct broker *b);

/* ---- a request being served (http.c builds it, handlers fill the reply) */
enum role { ROLE_ADMIN = 1, ROLE_BUYER = 2, ROLE_OPERATOR = 4 };

struct account {
    int64_t id;
    char name[BROKER_NAME_MAX + 1];
    enum role role;
    int64_t balance;
};

struct call {
    struct broker *b;
    const char *method;
    const char *target; /* as sent: path and query */
    char path[256];     /* target up to '?' */
    const char *query;  /* after '?', or "" */
    char arg[256];      /* the '*' segment of the route's pattern */
    const char *body;   /* raw bytes */
    size_t body_len;
    json_t *in;         /* body parsed as a JSON object (POST), else NULL */
    struct account who; /* the authenticated account */
    int64_t now;
    void *prep;      /* state a route's prepare step hands to its run step */
    unsigned status; /* reply */
    json_t *reply;
};

/* Sets an error reply {"error": code, "message": ...}; returns -1 for `return call_fail(...)`. */
int call_fail(struct call *c, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* 500 with the ledger's error message. */
int call_db_fail(struct call *c);
/* Sets a success reply (takes the reference); returns 0. */
int call_ok(struct call *c, unsigned status, json_t *reply);
const char *role_name(enum role r);
int role_parse(const char *s, enum role *r);

/* ---- fields.c: checked fields of a JSON request body; each returns 0 or -1 with a 400 */
int f_known(struct call *c, const char *const *names);
int f_str(struct call *c, const char *name, int required, size_t maxlen, const char **out);
int f_name(struct call *c, const char *name, int required, char out[BROKER_NAME_MAX + 1]);
int f_u64(struct call *c, const char *name, int required, uint64_t min, uint64_t max,
          uint64_t *out);
int f_hex(struct call *c, const char *name, int required, uint8_t *out, size_t n, int *present);
/* A VM's name (BROKER_VM_NAME_RULE); the 400 names the rule. */
int f_vm_name(struct call *c, const char *name, int required, char out[BROKER_VM_NAME_MAX + 1]);
int name_ok(const char *s);
int vm_name_ok(const char *s);
int lower_hex_ok(const char *s, size_t digits);

/* ---- echo.c: client bytes in a reply's message. Copies src into dst (capacity cap > 0),
 * valid UTF-8 as it is and any other byte as \xNN, cut between characters to fit; returns
 * the length. JSON can carry the result, whatever src held. */
size_t echo_clean(char *dst, size_t cap, const char *src);

/* ---- handlers, one file per job; prepare steps run after authentication, outside the
 * ledger lock; run steps inside the request's transaction */
int h_account_create(struct call *c); /* accounts.c */
int h_account_list(struct call *c);
int h_account_self(struct call *c);
int h_deposit(struct call *c);
int h_host_register(struct call *c); /* directory.c */
int h_host_list(struct call *c);
int h_keys(struct call *c); /* tokens.c */
int h_buy(struct call *c);
int h_token_get(struct call *c);
int h_redeem_prepare(struct call *c); /* redeem.c */
int h_redeem(struct call *c);
void h_redeem_free(struct call *c);
int h_location_report(struct call *c); /* locations.c */
int h_location_get(struct call *c);
int h_sweep(struct call *c); /* sweep.c */
int h_audit(struct call *c); /* audit.c */

/* Unit price of a shape at a host price: price * ceil(mem_mib / 64) * vcpus; -1 on overflow. */
int64_t broker_unit_price(int64_t price_per_unit, uint32_t mem_mib, uint32_t vcpus);

/* ---- sweep.c: refunds after expiry + grace, nonce pruning; the daemon's sweeper thread */
int sweep_run(struct broker *b, int64_t now, int64_t *tokens, int64_t *credits, int64_t *nonces);
int sweeper_start(struct broker *b);
void sweeper_stop(void);

/* ---- framing.c: on a request's head, before its body: one Content-Length, or
 * "Transfer-Encoding: chunked" alone, and header names that are tokens. 0, or -1 with a 400
 * (501 for a transfer coding other than chunked) in c. */
struct MHD_Connection;
struct sockaddr;
int framing_check(struct MHD_Connection *conn, struct call *c);

/* ---- deadline.c: connections that must deliver a whole request within request_timeout */
struct watched;
int deadline_start(uint32_t seconds);
void deadline_stop(void);
/* Watches fd (peer names it in the log) with a request due from now; NULL when out of memory
 * (then the connection goes unwatched). */
struct watched *deadline_watch(int fd, const char *peer);
/* due 1: a request is due from now; 0: none is (the one received is being answered). */
void deadline_set(struct watched *w, int due);
/* Before fd is closed. */
void deadline_forget(struct watched *w);

/* ---- http.c: the HTTP server. listen_fd -1: none, connections come from
 * http_add_connection() (tests and fuzzing) */
int http_start(struct broker *b, int listen_fd);
int http_add_connection(int fd, const struct sockaddr *addr, unsigned addrlen);
void http_stop(void);
/* A request's X-LM-* header values (NULL: absent). */
struct auth_headers {
    const char *key, *time, *nonce, *sig;
};
/* Serves one request whose framing passed, as the daemon does (fuzz_location calls it
 * directly): routing, authentication, the body parsed, the route's steps in one transaction.
 * c starts zeroed and ends with c->status, c->reply (NULL when none was made) and c->in; the
 * caller json_decref()s both. */
void http_serve(struct broker *b, const char *method, const char *target, const char *body,
                size_t body_len, const struct auth_headers *h, struct call *c);

#endif
