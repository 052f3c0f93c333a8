/* Fuzz target: location reports (POST /v1/locations) and look-ups (GET /v1/locations/NAME),
 * signed by the fixture's accounts so that they pass authentication, served by http_serve()
 * as the daemon serves them, each answer checked against a model of docs/BROKER-API.md. */
#include <jansson.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "broker.h"
#include "fixtures.h"
#include "laundromat/clock.h"
#include "laundromat/reqsig.h"
#include "laundromat/util.h"

#define LOC_MAX_INPUT 16384
#define NTOKENS (sizeof fz_loc_tokens / sizeof fz_loc_tokens[0])
#define NHOSTS (sizeof fz_loc_hosts / sizeof fz_loc_hosts[0])
#define NSLOTS NTOKENS /* (buyer, VM name) pairs: at most one per token */
#define LOCATIONS_PATH "/v1/locations"

static struct broker b;
static struct lm_keypair keys[FZ_LOC_ACCOUNTS + 1]; /* by FZ_LOC_*, then a key nobody holds */
static char dir[64];
static uint64_t nonce_counter;

/*
 * The model: where each (buyer, VM name) is, by slot. Slots are ordered as the ledger query
 * in check_ledger() orders its rows (account name, then VM name).
 */
struct slot {
    unsigned buyer;
    const char *name;
    int placed;
    unsigned token, host;
    char address[16];
};
static struct slot slots[NSLOTS], start[NSLOTS];
static unsigned nslots, slot_of[NTOKENS];

/* What the request at hand is; printed when an oracle fails. */
static const uint8_t *cur_rec;
static size_t cur_len;
static unsigned cur_who, cur_get;

static void cleanup(void);

static void fail(const struct call *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fail(const struct call *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fuzz_location: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n  request: %s by %s, %zu bytes: \"", cur_get ? "GET" : "POST",
            fz_loc_account[cur_who], cur_len);
    for (size_t i = 0; cur_rec && i < cur_len; i++) {
        if (cur_rec[i] >= 0x20 && cur_rec[i] < 0x7f && cur_rec[i] != '"' && cur_rec[i] != '\\')
            fputc(cur_rec[i], stderr);
        else
            fprintf(stderr, "\\x%02x", cur_rec[i]);
    }
    fputs("\"\n", stderr);
    if (c) {
        char *r = c->reply ? json_dumps(c->reply, JSON_COMPACT) : NULL;
        fprintf(stderr, "  reply: %u %s\n", c->status, r ? r : "(none)");
        free(r);
    }
    cleanup(); /* abort() skips atexit */
    abort();
}

static void token_hex(unsigned k, char out[33])
{
    snprintf(out, 33, FZ_LOC_TOKEN_PREFIX "%x", k);
}

static void call_free(struct call *c)
{
    json_decref(c->reply);
    json_decref(c->in);
    memset(c, 0, sizeof *c);
}

/* Serves method target body with the four headers as given; body and target are copied into
 * buffers of their own as the daemon holds them (the body NUL-terminated). */
static void serve(const char *method, const char *target, const void *body, size_t len,
                  const struct lm_reqsig_text *t, struct call *c)
{
    char *tg = strdup(target), *bd = NULL;
    if (!tg)
        fail(NULL, "out of memory");
    if (body) {
        if (!(bd = malloc(len + 1)))
            fail(NULL, "out of memory");
        memcpy(bd, body, len);
        bd[len] = '\0';
    }
    const struct auth_headers h = {
        .key = t->key, .time = t->time, .nonce = t->nonce, .sig = t->sig};
    memset(c, 0, sizeof *c);
    http_serve(&b, method, tg, bd, bd ? len : 0, &h, c);
    free(tg);
    free(bd);
    if (!c->reply)
        fail(c, "%s %.60s: no reply", method, target);
}

/* Signs with kp at time now + skew, a fresh nonce; -1 when the request cannot be signed. */
static int sign(const struct lm_keypair *kp, const char *method, const char *target,
                const void *body, size_t len, int64_t skew, struct lm_reqsig_text *t)
{
    struct lm_reqsig r;
    struct lm_diag d;
    uint8_t nonce[LM_REQSIG_NONCE_BYTES] = {0};
    nonce_counter++;
    memcpy(nonce, &nonce_counter, sizeof nonce_counter);
    return lm_reqsig_sign(kp, method, target, (uint64_t)((int64_t)lm_now() + skew), nonce, body,
                          len, &r, t, &d) == 0
               ? 0
               : -1;
}

/* A request signed by account who; -1 when it cannot be signed (nothing was served). */
static int request(unsigned who, const char *method, const char *target, const void *body,
                   size_t len, struct call *c)
{
    struct lm_reqsig_text t;
    if (sign(&keys[who], method, target, body, len, 0, &t) != 0)
        return -1;
    serve(method, target, body, len, &t, c);
    return 0;
}

static const char *error_of(const struct call *c)
{
    const char *e = json_string_value(json_object_get(c->reply, "error"));
    return e ? e : "";
}

static const char *str_of(const struct call *c, const char *key)
{
    const char *s = json_string_value(json_object_get(c->reply, key));
    return s ? s : "(none)";
}

/* A set-up request that must succeed. */
static void setup(unsigned who, const char *method, const char *target, const char *body)
{
    struct call c;
    if (request(who, method, target, body, strlen(body), &c) != 0)
        fail(NULL, "set-up %s %s cannot be signed", method, target);
    if (c.status != 200 && c.status != 201)
        fail(&c, "set-up %s %s %s refused", method, target, body);
    call_free(&c);
}

/* ---- the rules, written from docs/BROKER-API.md apart from the broker's code */

static int is_name(const char *s) /* 1 to 32 of A-Z a-z 0-9 . _ - */
{
    size_t n = strlen(s);
    if (n < 1 || n > BROKER_NAME_MAX)
        return 0;
    return strspn(s, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") == n;
}

static int is_vm_name(const char *s) /* 1 to 63 of a-z 0-9 -, not starting with - */
{
    size_t n = strlen(s);
    return n >= 1 && n <= BROKER_VM_NAME_MAX && s[0] != '-' &&
           strspn(s, "abcdefghijklmnopqrstuvwxyz0123456789-") == n;
}

/* A.B.C.D, each 0 to 255 in decimal without leading zeros, nothing else. */
static int is_dotted_ipv4(const char *s)
{
    for (int part = 0; part < 4; part++) {
        if (part && *s++ != '.')
            return 0;
        size_t n = strspn(s, "0123456789");
        if (n < 1 || n > 3 || (n > 1 && s[0] == '0'))
            return 0;
        if (atoi(s) > 255) /* n <= 3 digits: no overflow, stops at the '.' */
            return 0;
        s += n;
    }
    return *s == '\0';
}

/* 1 when token j is newer than token k: issued later, or in the same second and bought later. */
static int newer(unsigned j, unsigned k)
{
    return fz_loc_tokens[j].issued != fz_loc_tokens[k].issued
               ? fz_loc_tokens[j].issued > fz_loc_tokens[k].issued
               : j > k;
}

/* A string field as a report takes it: 0 fine, else the error code. */
static const char *field_error(json_t *in, const char *name, json_t **v)
{
    *v = json_object_get(in, name);
    if (!*v || json_is_null(*v))
        return "MISSING_FIELD";
    if (!json_is_string(*v) || strlen(json_string_value(*v)) != json_string_length(*v))
        return "BAD_FIELD";
    return NULL;
}

struct expect {
    unsigned status;
    const char *error; /* NULL on success */
    int recorded;
    unsigned token, host; /* of a report whose fields pass */
    const char *address;
};

static struct expect refused(unsigned status, const char *error)
{
    return (struct expect){.status = status, .error = error};
}

/* What POST /v1/locations with body must get from account who in the model's state. *in is the
 * parsed body (the caller frees it). */
static struct expect expect_report(unsigned who, const uint8_t *body, size_t len, json_t **in)
{
    const char *err;
    *in = NULL;
    if (who != FZ_LOC_OP && who != FZ_LOC_OP2)
        return refused(403, "WRONG_ROLE");
    *in = json_loadb((const char *)body, len, JSON_REJECT_DUPLICATES, NULL);
    if (!*in || !json_is_object(*in))
        return refused(400, "BAD_JSON");
    const char *key;
    json_t *v;
    json_object_foreach(*in, key, v)
    {
        if (strcmp(key, "token_id") && strcmp(key, "host") && strcmp(key, "address"))
            return refused(400, "UNKNOWN_FIELD");
    }
    json_t *tv, *hv, *av;
    if ((err = field_error(*in, "token_id", &tv)))
        return refused(400, err);
    const char *tid = json_string_value(tv);
    if (strlen(tid) != 32 || strspn(tid, "0123456789abcdef") != 32)
        return refused(400, "BAD_FIELD");
    if ((err = field_error(*in, "host", &hv)))
        return refused(400, err);
    const char *host = json_string_value(hv);
    if (!is_name(host))
        return refused(400, "BAD_FIELD");
    if ((err = field_error(*in, "address", &av)))
        return refused(400, err);
    const char *address = json_string_value(av);
    if (!is_dotted_ipv4(address))
        return refused(400, "BAD_FIELD");

    unsigned k, h;
    char id[33];
    for (k = 0; k < NTOKENS; k++) {
        token_hex(k, id);
        if (!strcmp(id, tid))
            break;
    }
    if (k == NTOKENS)
        return refused(404, "UNKNOWN_TOKEN");
    for (h = 0; h < NHOSTS && strcmp(fz_loc_hosts[h].name, host); h++)
        ;
    if (h == NHOSTS)
        return refused(404, "UNKNOWN_HOST");
    const struct fz_loc_token *t = &fz_loc_tokens[k];
    const struct fz_loc_host *hp = &fz_loc_hosts[h];
    if (hp->op != who)
        return refused(403, "NOT_YOUR_HOST");
    if (t->cluster ? !hp->cluster || strcmp(hp->cluster, t->scope) : strcmp(hp->name, t->scope))
        return refused(403, "WRONG_SCOPE");
    struct expect e = {.status = 200, .token = k, .host = h, .address = address};
    if (!t->name)
        return e; /* nothing to locate */
    const struct slot *s = &slots[slot_of[k]];
    if (s->placed && newer(s->token, k)) {
        e.status = 409;
        e.error = "STALE_LOCATION";
        return e;
    }
    e.recorded = 1;
    return e;
}

/* ---- the oracles */

/* The ledger's locations, row by row, must be the model's. */
static void check_ledger(const struct call *c)
{
    ledger_lock(&b);
    sqlite3_stmt *st = ledger_prep(&b,
                                   "SELECT a.name, l.name, l.host, l.address, l.token_id FROM "
                                   "locations l JOIN accounts a ON a.id = l.buyer_id ORDER BY "
                                   "a.name, l.name",
                                   "");
    if (!st)
        fail(c, "the ledger cannot list its locations");
    unsigned i = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *row[5];
        for (int k = 0; k < 5; k++)
            row[k] = (const char *)sqlite3_column_text(st, k);
        while (i < nslots && !slots[i].placed)
            i++;
        if (i == nslots)
            fail(c, "the ledger locates %s's VM \"%s\" on %s at %s (token %s), the model nothing",
                 row[0], row[1], row[2], row[3], row[4]);
        const struct slot *s = &slots[i++];
        char id[33];
        token_hex(s->token, id);
        if (strcmp(row[0], fz_loc_account[s->buyer]) || strcmp(row[1], s->name) ||
            strcmp(row[2], fz_loc_hosts[s->host].name) || strcmp(row[3], s->address) ||
            strcmp(row[4], id))
            fail(c,
                 "the ledger locates %s's VM \"%s\" on %s at %s (token %s), the model %s's \"%s\" "
                 "on %s at %s (token %s)",
                 row[0], row[1], row[2], row[3], row[4], fz_loc_account[s->buyer], s->name,
                 fz_loc_hosts[s->host].name, s->address, id);
    }
    sqlite3_finalize(st);
    ledger_unlock(&b);
    if (rc != SQLITE_DONE)
        fail(c, "listing the locations failed");
    while (i < nslots && !slots[i].placed)
        i++;
    if (i < nslots)
        fail(c, "the ledger has no location for %s's VM \"%s\", the model %s at %s",
             fz_loc_account[slots[i].buyer], slots[i].name, fz_loc_hosts[slots[i].host].name,
             slots[i].address);
}

/* A 200 of GET /v1/locations/NAME must be the model's slot s, with its host's agent. */
static void check_found(const struct call *c, const struct slot *s)
{
    char id[33];
    token_hex(s->token, id);
    const struct fz_loc_host *h = &fz_loc_hosts[s->host];
    json_t *port = json_object_get(c->reply, "host_port");
    if (strcmp(str_of(c, "name"), s->name) || strcmp(str_of(c, "host"), h->name) ||
        strcmp(str_of(c, "address"), s->address) || strcmp(str_of(c, "token_id"), id) ||
        strcmp(str_of(c, "host_address"), h->address) || !json_is_integer(port) ||
        json_integer_value(port) != h->port ||
        !json_is_integer(json_object_get(c->reply, "updated_at")))
        fail(c, "located %s's VM \"%s\" wrong: the model has it on %s (%s:%u) at %s, token %s",
             fz_loc_account[s->buyer], s->name, h->name, h->address, h->port, s->address, id);
}

/* The slot of (buyer, name), or NULL when no token of that buyer carries the name. */
static struct slot *slot_find(unsigned buyer, const char *name)
{
    for (unsigned i = 0; i < nslots; i++)
        if (slots[i].buyer == buyer && !strcmp(slots[i].name, name))
            return &slots[i];
    return NULL;
}

/* buyer asks where its VM name is: the answer must be the model's. */
static void check_lookup(unsigned buyer, const char *name)
{
    char target[128];
    snprintf(target, sizeof target, LOCATIONS_PATH "/%s", name);
    struct call c;
    if (request(buyer, "GET", target, NULL, 0, &c) != 0)
        fail(NULL, "GET %s cannot be signed", target);
    const struct slot *s = slot_find(buyer, name);
    if (s && s->placed) {
        if (c.status != 200)
            fail(&c, "GET %s by %s: expected 200", target, fz_loc_account[buyer]);
        check_found(&c, s);
    } else if (c.status != 404 || strcmp(error_of(&c), "UNKNOWN_NAME")) {
        fail(&c, "GET %s by %s: expected 404 UNKNOWN_NAME", target, fz_loc_account[buyer]);
    }
    call_free(&c);
}

static void report(unsigned who, const uint8_t *body, size_t len)
{
    json_t *in;
    struct expect e = expect_report(who, body, len, &in);
    struct call c;
    if (request(who, "POST", LOCATIONS_PATH, body, len, &c) != 0)
        fail(NULL, "a report cannot be signed");
    if (c.status != e.status || strcmp(error_of(&c), e.error ? e.error : ""))
        fail(&c, "expected %u %s", e.status, e.error ? e.error : "");
    if (e.status == 409) {
        char id[33];
        token_hex(slots[slot_of[e.token]].token, id);
        if (strcmp(str_of(&c, "current_token_id"), id))
            fail(&c, "expected current_token_id %s", id);
    }
    if (e.status == 200) {
        json_t *rec = json_object_get(c.reply, "recorded");
        char id[33];
        token_hex(e.token, id);
        if (!json_is_boolean(rec) || json_is_true(rec) != e.recorded ||
            strcmp(str_of(&c, "token_id"), id))
            fail(&c, "expected recorded %s for token %s", e.recorded ? "true" : "false", id);
    }
    if (e.recorded) {
        struct slot *s = &slots[slot_of[e.token]];
        s->placed = 1;
        s->token = e.token;
        s->host = e.host;
        snprintf(s->address, sizeof s->address, "%s", e.address);
        if (strcmp(str_of(&c, "name"), s->name) ||
            strcmp(str_of(&c, "host"), fz_loc_hosts[e.host].name) ||
            strcmp(str_of(&c, "address"), e.address))
            fail(&c, "the reply does not name what was recorded");
    }
    json_decref(in);
    call_free(&c);
    check_ledger(NULL);
    if (e.recorded) {
        /* The owner finds it where it was reported; the other buyer keeps its own. */
        const struct fz_loc_token *t = &fz_loc_tokens[e.token];
        check_lookup(t->buyer, t->name);
        check_lookup(t->buyer == FZ_LOC_BUYER ? FZ_LOC_BUYER2 : FZ_LOC_BUYER, t->name);
    }
}

/* GET /v1/locations/ followed by rest, from account who. */
static void lookup(unsigned who, const uint8_t *rest, size_t len)
{
    char target[LM_REQSIG_MAX_TARGET + 1];
    size_t pl = strlen(LOCATIONS_PATH "/");
    if (pl + len >= sizeof target || memchr(rest, '\0', len))
        return;
    memcpy(target, LOCATIONS_PATH "/", pl);
    memcpy(target + pl, rest, len);
    target[pl + len] = '\0';
    struct call c;
    if (request(who, "GET", target, NULL, 0, &c) != 0)
        return; /* not a target a client can sign */

    /* The route: one non-empty segment in a path shorter than 256 bytes; then the role, the
     * query, the name. */
    char name[LM_REQSIG_MAX_TARGET + 1];
    snprintf(name, sizeof name, "%s", target + pl);
    char *q = strchr(name, '?');
    const char *query = q ? q + 1 : "";
    if (q)
        *q = '\0';
    unsigned status = 200;
    const char *error = NULL;
    if (pl + strlen(name) >= 256 || !name[0] || strchr(name, '/'))
        status = 404, error = "NOT_FOUND";
    else if (who != FZ_LOC_BUYER && who != FZ_LOC_BUYER2 && who != FZ_LOC_ADMIN)
        status = 403, error = "WRONG_ROLE";
    else if (query[0])
        status = 400, error = "BAD_QUERY";
    else if (!is_vm_name(name))
        status = 400, error = "BAD_FIELD";
    const struct slot *s = error ? NULL : slot_find(who, name);
    if (!error && (!s || !s->placed))
        status = 404, error = "UNKNOWN_NAME";
    if (c.status != status || strcmp(error_of(&c), error ? error : ""))
        fail(&c, "GET %.80s: expected %u %s", target, status, error ? error : "");
    if (!error)
        check_found(&c, s);
    call_free(&c);
}

/* ---- set-up: the fixture's ledger, and the refusals of forged reports */

/* A report of token 1 on host-a, signed as f says: SIGNED by fz-op is served; any other must
 * be refused with error (a 401) and change nothing. */
enum forgery { SIGNED, OTHER_KEY, OTHER_KEY_OUR_ID, BODY_CHANGED, TARGET_CHANGED, OLD, REPLAYED };
static const char *const forgery_name[] = {
    "a signed", "another key's", "a forged", "a changed", "a retargeted", "an old", "a replayed"};
static void forged(enum forgery f, const char *error)
{
    char body[160];
    snprintf(body, sizeof body,
             "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX "1\",\"host\":\"host-a\",\"address\":\"%s\"}",
             f == SIGNED || f == REPLAYED ? fz_loc_start[0].address : "10.0.0.66");
    static struct lm_reqsig_text last; /* of the SIGNED one, for REPLAYED */
    struct lm_reqsig_text t, op; /* op: for fz-op's key id as its header spells it */
    const struct lm_keypair *kp =
        f == OTHER_KEY || f == OTHER_KEY_OUR_ID ? &keys[FZ_LOC_ACCOUNTS] : &keys[FZ_LOC_OP];
    const char *signed_target = f == TARGET_CHANGED ? LOCATIONS_PATH "?x" : LOCATIONS_PATH;
    if (sign(kp, "POST", signed_target, body, strlen(body), f == OLD ? -3600 : 0, &t) != 0 ||
        sign(&keys[FZ_LOC_OP], "GET", "/", NULL, 0, 0, &op) != 0)
        fail(NULL, "cannot sign the forged reports");
    if (f == OTHER_KEY_OUR_ID)
        memcpy(t.key, op.key, sizeof t.key);
    if (f == BODY_CHANGED)
        memcpy(strstr(body, "10.0.0.66"), "10.0.0.67", 9);
    if (f == REPLAYED)
        t = last;
    if (f == SIGNED)
        last = t;
    struct call c;
    cur_rec = (const uint8_t *)body, cur_len = strlen(body), cur_who = FZ_LOC_OP, cur_get = 0;
    serve("POST", LOCATIONS_PATH, body, strlen(body), &t, &c);
    if (f == SIGNED ? c.status != 200 : c.status != 401 || strcmp(error_of(&c), error))
        fail(&c, "%s report: expected %s", forgery_name[f], f == SIGNED ? "200" : error);
    call_free(&c);
    check_ledger(NULL);
}

static void cleanup(void)
{
    ledger_close(&b);
    fz_remove_ledger(dir);
}

/* Slots for every (buyer, name) of the tokens, ordered by account name and then name. */
static void make_slots(void)
{
    for (unsigned k = 0; k < NTOKENS; k++) {
        const struct fz_loc_token *t = &fz_loc_tokens[k];
        if (!t->name || slot_find(t->buyer, t->name))
            continue;
        unsigned i = nslots++;
        while (i > 0 &&
               (strcmp(fz_loc_account[slots[i - 1].buyer], fz_loc_account[t->buyer]) > 0 ||
                (slots[i - 1].buyer == t->buyer && strcmp(slots[i - 1].name, t->name) > 0))) {
            slots[i] = slots[i - 1];
            i--;
        }
        slots[i] = (struct slot){.buyer = t->buyer, .name = t->name};
    }
    for (unsigned k = 0; k < NTOKENS; k++)
        if (fz_loc_tokens[k].name)
            slot_of[k] =
                (unsigned)(slot_find(fz_loc_tokens[k].buyer, fz_loc_tokens[k].name) - slots);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    lm_log_init("fuzz_location", LM_LOG_ERROR);
    if (sodium_init() < 0)
        fail(NULL, "libsodium failed to initialise");
    /* The ledger in memory when /dev/shm is there: it syncs every request. */
    snprintf(dir, sizeof dir, "/dev/shm/lm-fuzz-location-XXXXXX");
    if (!mkdtemp(dir)) {
        snprintf(dir, sizeof dir, "/tmp/lm-fuzz-location-XXXXXX");
        if (!mkdtemp(dir))
            fail(NULL, "cannot make a directory for the ledger");
    }
    config_defaults(&b.cfg);
    snprintf(b.cfg.database, sizeof b.cfg.database, "%s/ledger.db", dir);
    uint8_t seed[32];
    fz_key_seed(seed);
    if (lm_key_from_seed(seed, &b.signer) != 0)
        fail(NULL, "cannot derive the broker's key");
    for (unsigned k = 0; k <= FZ_LOC_ACCOUNTS; k++) {
        fz_loc_seed(seed, k);
        if (lm_key_from_seed(seed, &keys[k]) != 0)
            fail(NULL, "cannot derive the keys");
    }
    b.keys[0] = b.signer.pub;
    b.nkeys = 1;
    b.admin = keys[FZ_LOC_ADMIN].pub;
    pthread_mutex_init(&b.lock, NULL);
    struct lm_diag d;
    if (ledger_open(&b, &d) != 0)
        fail(NULL, "%s", d.msg);
    atexit(cleanup);

    char body[512], pk[65], commitment[65];
    for (unsigned k = 0; k < FZ_LOC_ADMIN; k++) {
        lm_hex_encode(keys[k].pub.pk, 32, pk);
        snprintf(body, sizeof body, "{\"name\":\"%s\",\"role\":\"%s\",\"public_key\":\"%s\"}",
                 fz_loc_account[k], k == FZ_LOC_OP || k == FZ_LOC_OP2 ? "operator" : "buyer", pk);
        setup(FZ_LOC_ADMIN, "POST", "/v1/accounts", body);
    }
    for (unsigned k = FZ_LOC_BUYER; k <= FZ_LOC_BUYER2; k++) {
        snprintf(body, sizeof body, "{\"account\":\"%s\",\"amount\":1000000}", fz_loc_account[k]);
        setup(FZ_LOC_ADMIN, "POST", "/v1/deposits", body);
    }
    for (unsigned i = 0; i < NHOSTS; i++) {
        const struct fz_loc_host *h = &fz_loc_hosts[i];
        snprintf(body, sizeof body,
                 "{\"name\":\"%s\",%s%s%s\"address\":\"%s\",\"port\":%u,\"price_per_unit\":1,"
                 "\"unit_ms\":1000}",
                 h->name, h->cluster ? "\"cluster\":\"" : "", h->cluster ? h->cluster : "",
                 h->cluster ? "\"," : "", h->address, h->port);
        setup(h->op, "POST", "/v1/hosts", body);
    }
    uint8_t cb[32];
    fz_fill(cb, sizeof cb, 0x63);
    lm_hex_encode(cb, sizeof cb, commitment);
    for (unsigned k = 0; k < NTOKENS; k++) {
        const struct fz_loc_token *t = &fz_loc_tokens[k];
        char id[33];
        token_hex(k, id);
        snprintf(
            body, sizeof body,
            "{\"%s\":\"%s\",\"commitment\":\"%s\",\"prepaid_units\":1,\"token_id\":\"%s\"%s%s%s}",
            t->cluster ? "cluster" : "host", t->scope, commitment, id,
            t->name ? ",\"name\":\"" : "", t->name ? t->name : "", t->name ? "\"" : "");
        setup(t->buyer, "POST", "/v1/tokens", body);
    }
    int64_t issued0 = (int64_t)lm_now() - 100;
    for (unsigned k = 0; k < NTOKENS; k++) {
        char id[33];
        token_hex(k, id);
        ledger_lock(&b);
        if (ledger_exec(&b, "UPDATE tokens SET issued_at = ?1 WHERE id = ?2", "it",
                        issued0 + fz_loc_tokens[k].issued, id) != 0)
            fail(NULL, "cannot set the issue time of token %s", id);
        ledger_unlock(&b);
    }

    make_slots();
    check_ledger(NULL);
    for (size_t i = 0; i < sizeof fz_loc_start / sizeof fz_loc_start[0]; i++) {
        const struct fz_loc_placed *p = &fz_loc_start[i];
        snprintf(body, sizeof body,
                 "{\"token_id\":\"" FZ_LOC_TOKEN_PREFIX "%x\",\"host\":\"%s\",\"address\":\"%s\"}",
                 p->token, p->host, p->address);
        cur_rec = (const uint8_t *)body, cur_len = strlen(body), cur_who = FZ_LOC_OP;
        report(FZ_LOC_OP, (const uint8_t *)body, strlen(body));
        if (!slots[slot_of[p->token]].placed)
            fail(NULL, "the fixture's report of token %u was not recorded", p->token);
    }

    /* Only the host's operator, by its own key, with the body and target it signed, in time
     * and once, moves a VM. */
    forged(SIGNED, NULL);
    forged(REPLAYED, "NONCE_REPLAYED");
    forged(OTHER_KEY, "UNKNOWN_KEY");
    forged(OTHER_KEY_OUR_ID, "BAD_SIGNATURE");
    forged(BODY_CHANGED, "BAD_SIGNATURE");
    forged(TARGET_CHANGED, "BAD_SIGNATURE");
    forged(OLD, "STALE_TIMESTAMP");

    memcpy(start, slots, sizeof slots);
    ledger_lock(&b);
    if (ledger_sql(&b, "CREATE TEMP TABLE start_locations AS SELECT * FROM main.locations") != 0)
        fail(NULL, "cannot keep the starting locations");
    ledger_unlock(&b);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > LOC_MAX_INPUT)
        return 0;
    /* Every input from the same ledger; spent nonces need not be kept, each is new. */
    ledger_lock(&b);
    if (ledger_sql(&b, "BEGIN; DELETE FROM locations; INSERT INTO locations SELECT * FROM "
                       "start_locations; DELETE FROM nonces; COMMIT") != 0)
        fail(NULL, "cannot reset the ledger");
    ledger_unlock(&b);
    memcpy(slots, start, sizeof slots);

    const size_t sep = strlen(FZ_LOC_SEP);
    for (unsigned n = 0; n < FZ_LOC_MAX_RECORDS && size > 0; n++) {
        const uint8_t *end = memmem(data, size, FZ_LOC_SEP, sep);
        size_t len = end ? (size_t)(end - data) : size;
        if (len > 0) {
            unsigned op = data[0];
            cur_rec = data + 1, cur_len = len - 1;
            cur_who = op & FZ_LOC_WHO;
            if (cur_who >= FZ_LOC_ACCOUNTS)
                cur_who = FZ_LOC_OP;
            cur_get = op & FZ_LOC_GET;
            if (cur_get)
                lookup(cur_who, cur_rec, cur_len);
            else
                report(cur_who, cur_rec, cur_len);
        }
        if (!end)
            break;
        data = end + sep;
        size -= len + sep;
    }
    return 0;
}
