/* lmctl internal header: command entry points and the helpers they share. */
#ifndef LMCTL_H
#define LMCTL_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "laundromat/keys.h"
#include "laundromat/token.h"

/* Exit codes: 0 success, 1 failure (invalid token, I/O, ...), 2 usage error. */
enum { LMCTL_OK = 0, LMCTL_FAIL = 1, LMCTL_USAGE = 2 };

int cmd_keygen(int argc, char **argv);
int cmd_token(int argc, char **argv);
int cmd_chain(int argc, char **argv);

/* Broker commands, one file each: broker.c (HTTP and signing plumbing, `broker call`),
 * account.c (account create/list, deposit, balance), buy.c, hosts.c (hosts,
 * host-register), redeem.c. Exit 3: the broker did not answer (the request may or may not
 * have been applied). */
enum { LMCTL_UNREACHED = 3 };
int cmd_account(int argc, char **argv);
int cmd_deposit(int argc, char **argv);
int cmd_balance(int argc, char **argv);
int cmd_buy(int argc, char **argv);
int cmd_hosts(int argc, char **argv);
int cmd_host_register(int argc, char **argv);
int cmd_redeem(int argc, char **argv);
int cmd_broker(int argc, char **argv);

/* Logs "lmctl: error: ..." to stderr. */
void lmctl_err(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Parses a decimal number in [min, max]; on failure prints why (naming opt) and returns -1. */
int lmctl_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out);
/* Parses exactly n bytes of hex; on failure prints why and returns -1. */
int lmctl_hex(const char *opt, const char *s, uint8_t *out, size_t n);
/*
 * Reads a token from path ("-": stdin): LM_TOKEN_SIZE raw bytes, or hex (whitespace
 * ignored). Up to cap bytes land in buf; *len is the decoded length (may differ from
 * LM_TOKEN_SIZE: the decoder reports that). Returns 0 or -1 with a message printed.
 */
int lmctl_read_token(const char *path, uint8_t *buf, size_t cap, size_t *len);

/* The broker client (broker.c): a base URL and the account's key. */
struct lmctl_broker {
    char url[512];
    struct lm_keypair kp;
};
/* Options every broker command takes: --broker URL (or $LM_BROKER, default
 * http://127.0.0.1:8480) and --key FILE (or $LM_KEY): the account's secret key. */
#define LMCTL_BROKER_OPTIONS                                                                \
    {"broker", required_argument, NULL, 'B'}, {"key", required_argument, NULL, 'k'}
#define LMCTL_BROKER_HELP                                                                   \
    "  --broker URL        the broker (default $LM_BROKER, else http://127.0.0.1:8480)\n"   \
    "  --key FILE          your account's secret key (default $LM_KEY)\n"
/* Sets up b from the options (NULL: environment, defaults); loads the key. */
int lmctl_broker_open(struct lmctl_broker *b, const char *url, const char *key_path);
void lmctl_broker_close(struct lmctl_broker *b);
/*
 * Signs and sends one request (body NULL: none). On a reply, *status and *raw (the body,
 * NUL-terminated, caller frees) are set and LMCTL_OK returned; LMCTL_UNREACHED (message
 * printed) when no reply came. time 0: now; nonce NULL: a fresh one.
 */
int lmctl_broker_send(struct lmctl_broker *b, const char *method, const char *target,
                      const char *body, uint64_t time, const uint8_t *nonce, long *status,
                      char **raw);
/*
 * Sends body (a JSON object, or NULL) and returns the reply object on a 2xx; otherwise
 * prints the broker's error ("broker: 402 INSUFFICIENT_CREDIT: ...") and returns NULL with
 * *rc = LMCTL_FAIL or LMCTL_UNREACHED.
 */
json_t *lmctl_broker_do(struct lmctl_broker *b, const char *method, const char *target,
                        json_t *body, int *rc);
/* One request with the broker options (url, key; NULL: the environment's), as
 * lmctl_broker_do: the reply object or NULL with *rc set and the error printed. */
json_t *lmctl_broker_once(const char *url, const char *key, const char *method,
                          const char *target, json_t *body, int *rc);
/* Buys the token t describes (scope, shape, payload, commitment, chain, prepaid); ip, mac
 * and id optional. On LMCTL_OK, tok holds it (checked against t) and *reply the broker's
 * answer (caller frees); else the error was printed. */
int lmctl_buy_token(struct lmctl_broker *b, const struct lm_token *t, uint64_t ttl,
                    const char *ip, const char *mac, const uint8_t *id, const char *name,
                    uint8_t tok[LM_TOKEN_SIZE], json_t **reply);
/* locate.c: VM names (given when a token is bought: 1 to 63 of a-z, 0-9 and -, not starting
 * with -) and where the broker says they run. */
#define LMCTL_NAME_MAX 63
struct sockaddr_in;
int lmctl_name_ok(const char *s);
/* GET /v1/locations/NAME: the reply object (caller frees), or NULL with the error printed. */
json_t *lmctl_locate(const char *url, const char *key, const char *name, int *rc);
/* A VM argument: a dotted IPv4 address [:PORT] as it is, else a VM name looked up at the
 * broker (url, key: the broker options; NULL: the environment's). *name is arg when it was
 * a name. LMCTL_OK, or the exit status with the error printed. */
int lmctl_vm_target(const char *arg, uint16_t port, const char *url, const char *key,
                    struct sockaddr_in *out, const char **name);
int cmd_locate(int argc, char **argv);
int cmd_report_location(int argc, char **argv);
/* Prints a JSON value indented, with a newline. */
void lmctl_print_json(json_t *j);

/* What lmctl takes from a server: at most LMCTL_REPLY_MAX bytes of one broker reply, within
 * a deadline (LM_BROKER_TIMEOUT seconds, default 30); the host agent's answers are bounded by
 * hostctl.h (LM_HOSTCTL_ANSWER_MAX, host --timeout MS, default 10000). A request body from a file is at most LMCTL_BODY_MAX bytes:
 * the most a broker takes (its max_body setting goes up to 16 MiB). */
#define LMCTL_REPLY_MAX (4u << 20)
#define LMCTL_BODY_MAX (16u << 20)
/* n bytes as "32 MiB", "4 KiB" or "1000 bytes" into out. */
const char *lmctl_fmt_size(uint64_t n, char out[32]);

/* A local file lmctl reads whole before it sends anything (util.c). Every refusal reads
 * "WHAT PATH: CAUSE; KIND of at most MAX". */
struct lmctl_file_rule {
    const char *what; /* "image", "--data-file" */
    const char *kind; /* "an image is an ELF file" */
    size_t min, max;  /* bytes */
    int regular;      /* only a regular file (else also "-" for stdin, pipes) */
};
/* Reads path into a malloc'd buffer (NUL-terminated past *len); 0, or -1 with a message. */
int lmctl_read_file(const struct lmctl_file_rule *r, const char *path, uint8_t **buf, size_t *len);

/* An image file (image.c), checked as the loader will check it before anything is bought,
 * minted or sent: readable, a regular file of 1 byte to LM_PAYLOAD_MAX, an x86-64 ELF
 * executable that fits the VM's memory and, to send it for a token, the very image the
 * token commits to. */
struct lmctl_image {
    uint8_t *buf;
    size_t len;
    uint8_t commitment[32]; /* BLAKE2b-256("laundromat/image/v1" || image) */
};
enum lmctl_image_use {
    LMCTL_IMAGE_COMMIT, /* token mint, buy: a bad ELF is a warning, the token commits to it */
    LMCTL_IMAGE_SEND,   /* run, inject: every check is fatal */
};
/* t: the token (SEND: payload kind and commitment must match; both: its mem_mib bounds the
 * ELF), or NULL (any VM). 0, or -1 with the file, the cause and the limit printed. */
int lmctl_image_load(const char *path, const struct lm_token *t, enum lmctl_image_use use,
                     struct lmctl_image *img);
void lmctl_image_free(struct lmctl_image *img);
/* token mint, buy --image: loads path for t (its mem_mib set) and sets t->commitment. */
int lmctl_image_commitment(const char *path, struct lm_token *t);

/* What token mint and buy still need, given the options seen; NULL when complete. */
const char *lmctl_token_options_missing(const char *scope, int have_commit, int have_chain,
                                        int have_anchor, int have_len, uint32_t prepaid,
                                        int extra_args);
/* --chain FILE of token mint and buy: the anchor and length of a chain file into t. */
int lmctl_chain_option(const char *path, struct lm_token *t);

/* udp.c: talking to a host agent. */
struct sockaddr_in;
/* Parses HOST[:PORT] (an IPv4 address or a name); prints why not and returns -1. */
int lmctl_addr(const char *s, uint16_t default_port, struct sockaddr_in *out);
/*
 * Sends req every retry_ms until an answer for which match() returns non-zero arrives or
 * timeout_ms passes. Returns the answer's length, 0 on timeout, -1 on error; *tries counts
 * the sends.
 */
int lmctl_udp_exchange(const struct sockaddr_in *to, const uint8_t *req, size_t len,
                       uint8_t *ans, size_t cap, int (*match)(const uint8_t *, size_t, void *),
                       void *arg, unsigned timeout_ms, unsigned retry_ms, int *tries);

/* ping.c, inject.c: one ping (with retries) and one injection, shared by `run`. */
struct lm_ping_reply;
int lmctl_do_ping(const struct sockaddr_in *host, const uint8_t token[LM_TOKEN_SIZE],
                  const char *chain_path, uint32_t index, unsigned timeout_ms,
                  struct lm_ping_reply *r, double *ms, int *tries);
/* A command line the loader takes (at most LM_PAYLOAD_CMDLINE_MAX bytes); else printed. */
int lmctl_cmdline_check(const char *cmdline);
/* Sends a loaded image. 0: the loader answered OK; 1: it answered ERR (in answer); -1: no
 * answer (printed). */
int lmctl_do_inject(const struct sockaddr_in *to, const struct lmctl_image *img,
                    const char *cmdline, unsigned timeout_ms, char *answer, size_t cap,
                    double *connect_ms, double *total_ms);

/* Host agent commands (ping.c, inject.c, run.c, pay.c, hostctl.c). */
int cmd_ping(int argc, char **argv);
int cmd_inject(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_pay(int argc, char **argv);
/* lmctl_udp_exchange's match for a payment: a reply that decodes, for token id, into *r. */
struct lm_pay_reply;
struct lmctl_pay_match {
    uint8_t id[LM_TOKEN_ID_BYTES];
    struct lm_pay_reply *r;
};
int lmctl_pay_match(const uint8_t *b, size_t n, void *arg);
int cmd_host(int argc, char **argv);

/* The owner's commands to a guest (guest.c; migrate.c). */
struct lmctl_owner {
    struct lm_keypair kp;
    uint8_t ctl_key[32];
};
struct lm_gc_status;
/* Loads the owner's secret key (path NULL: says --owner is needed) and derives ctl_key. */
int lmctl_owner_load(const char *path, struct lmctl_owner *o);
/* A file holding n bytes as hex (whitespace around ignored); -1 with a message. */
int lmctl_read_hex_file(const char *path, uint8_t *out, size_t n);
/* One signed command, resent until answered; 0 with the reply's status and body decoded,
 * 1 when no reply came in timeout_ms, -1 when the reply does not decode. */
int lmctl_guest_command(const struct lmctl_owner *o, const struct sockaddr_in *vm, uint16_t cmd,
                        const uint8_t *body, size_t blen, unsigned timeout_ms, uint16_t *rstatus,
                        struct lm_gc_status *s);
void lmctl_print_status(const struct lm_gc_status *s, int json);
int cmd_status(int argc, char **argv);
int cmd_migrate(int argc, char **argv);
/* migrate --to, restore: a checkpoint token for host `to` (bought now, committing to
 * mig_pub, for a guest at ip "A.B.C.D/P" or, NULL, one that takes a new identity there; or
 * read from token_path), the magic ping, and the host's word for its loader (checked against
 * the operator key the broker lists). Fills the loader's address, port and key into m (and
 * the payment chain's seed with pay_len). 0, or -1 with the error printed. */
struct lm_gc_migrate;
int lmctl_prepare_destination(const char *to, const char *token_path, const uint8_t mig_pub[32],
                              const char *ip, uint64_t mem_mib, uint64_t prepaid,
                              uint64_t pay_len, uint64_t ttl, const char *url, const char *key,
                              const char *name, int quiet, struct lm_gc_migrate *m);
/* checkpoint.c, restore.c */
int cmd_checkpoint(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_autopilot(int argc, char **argv);
int cmd_migkey(int argc, char **argv);
int cmd_owner_cmdline(int argc, char **argv);

#endif
