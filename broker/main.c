/* lm-broker: command line, configuration, keys, start-up and shutdown of the broker daemon. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <netdb.h>
#include <netinet/in.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "broker.h"

static const char help[] =
    "usage: lm-broker [--config FILE] [OPTIONS]\n"
    "The Laundromat broker: accounts, prepaid credit, token sales, redemption and refunds,\n"
    "over an HTTP/1.1 + JSON API (docs/BROKER-API.md). Settings come from the config file\n"
    "(docs/broker.conf.example); options override them.\n"
    "  -c, --config FILE      configuration file\n"
    "  -l, --listen ADDR:PORT address to serve on (default 127.0.0.1:8480; port 0: any)\n"
    "  -d, --database FILE    the SQLite ledger (created when missing)\n"
    "      --signing-key FILE secret key that signs tokens (lmctl keygen)\n"
    "      --admin-key FILE   the admin's public key file\n"
    "      --port-file FILE   write the bound port here once serving\n"
    "  -v, --verbose          log debug messages\n"
    "  -q, --quiet            log warnings and errors only\n"
    "  -h, --help             this text\n"
    "Logs go to stderr. SIGTERM or SIGINT stops the broker cleanly; being killed at any\n"
    "moment loses no acknowledged operation (every reply follows its committed transaction).\n";

/* Binds the listen address; returns the socket or -1 with d set. */
static int bind_listen(const char *listen_spec, uint16_t *port, struct lm_diag *d)
{
    char host[128];
    const char *colon = strrchr(listen_spec, ':');
    if (!colon || colon == listen_spec || (size_t)(colon - listen_spec) >= sizeof host)
        return lm_fail(d, LM_INVAL, "listen \"%s\": expected ADDRESS:PORT", listen_spec);
    memcpy(host, listen_spec, (size_t)(colon - listen_spec));
    host[colon - listen_spec] = '\0';
    if (host[0] == '[' && host[strlen(host) - 1] == ']') {
        memmove(host, host + 1, strlen(host));
        host[strlen(host) - 1] = '\0';
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE},
                    *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0)
        return lm_fail(d, LM_INVAL, "listen \"%s\": %s (give a numeric address and port)",
                       listen_spec, gai_strerror(rc));
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, 0), one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, 128) != 0) {
        rc = lm_fail(d, LM_IO, "listen %s: %s", listen_spec, strerror(errno));
        if (fd >= 0)
            close(fd);
        freeaddrinfo(ai);
        return rc;
    }
    freeaddrinfo(ai);
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    getsockname(fd, (struct sockaddr *)&ss, &len);
    *port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                           : ((struct sockaddr_in *)&ss)->sin_port);
    return fd;
}

/* Writes the port to path atomically (temporary file, then rename). */
static int write_port_file(const char *path, uint16_t port)
{
    char tmp[PATH_MAX + 8];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        lm_err("port file %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int load_keys(struct broker *b)
{
    struct lm_diag d;
    struct broker_config *cfg = &b->cfg;
    if (!cfg->signing_key[0] || !cfg->admin_key[0]) {
        lm_err("no %s: set it in the config file or with --%s (lm-broker --help)",
               !cfg->signing_key[0] ? "signing_key" : "admin_key",
               !cfg->signing_key[0] ? "signing-key" : "admin-key");
        return -1;
    }
    if (lm_key_load_secret(cfg->signing_key, &b->signer, &d) != 0) {
        lm_err("signing_key: %s", d.msg);
        return -1;
    }
    b->keys[0] = b->signer.pub;
    b->nkeys = 1;
    for (int i = 0; i < cfg->naccepted; i++) {
        struct lm_pubkey k;
        if (lm_key_load_public(cfg->accepted_keys[i], &k, &d) != 0) {
            lm_err("accepted_key: %s", d.msg);
            return -1;
        }
        b->keys[b->nkeys++] = k;
    }
    if (lm_key_load_public(cfg->admin_key, &b->admin, &d) != 0) {
        lm_err("admin_key: %s", d.msg);
        return -1;
    }
    if (b->admin.key_id == b->signer.pub.key_id)
        lm_warn("the admin key is the token signing key; give them separate keys");
    return 0;
}

int main(int argc, char **argv)
{
    enum { O_SIGNING = 256, O_ADMIN, O_PORT_FILE };
    static const struct option opts[] = {{"config", required_argument, NULL, 'c'},
                                         {"listen", required_argument, NULL, 'l'},
                                         {"database", required_argument, NULL, 'd'},
                                         {"signing-key", required_argument, NULL, O_SIGNING},
                                         {"admin-key", required_argument, NULL, O_ADMIN},
                                         {"port-file", required_argument, NULL, O_PORT_FILE},
                                         {"verbose", no_argument, NULL, 'v'},
                                         {"quiet", no_argument, NULL, 'q'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    static struct broker b; /* holds key material: kept off the stack, wiped on exit */
    const char *config = NULL, *listen_opt = NULL, *db_opt = NULL, *signing_opt = NULL,
               *admin_opt = NULL, *port_file_opt = NULL;
    int verbosity = 0, c;
    while ((c = getopt_long(argc, argv, "c:l:d:vqh", opts, NULL)) != -1) {
        switch (c) {
        case 'c':
            config = optarg;
            break;
        case 'l':
            listen_opt = optarg;
            break;
        case 'd':
            db_opt = optarg;
            break;
        case O_SIGNING:
            signing_opt = optarg;
            break;
        case O_ADMIN:
            admin_opt = optarg;
            break;
        case O_PORT_FILE:
            port_file_opt = optarg;
            break;
        case 'v':
            verbosity = 1;
            break;
        case 'q':
            verbosity = -1;
            break;
        case 'h':
            fputs(help, stdout);
            return 0;
        default:
            fputs(help, stderr);
            return 2;
        }
    }
    lm_log_init("lm-broker", LM_LOG_INFO);
    if (optind != argc) {
        lm_err("unexpected argument \"%s\" (lm-broker --help)", argv[optind]);
        return 2;
    }
    config_defaults(&b.cfg);
    struct lm_diag d;
    if (config && config_load(config, &b.cfg, &d) != 0) {
        lm_err("%s", d.msg);
        return 2;
    }
#define OVERRIDE(opt, field)                                                                       \
    if (opt && snprintf(b.cfg.field, sizeof b.cfg.field, "%s", opt) >= (int)sizeof b.cfg.field) {  \
        lm_err(#field ": too long");                                                               \
        return 2;                                                                                  \
    }
    OVERRIDE(listen_opt, listen)
    OVERRIDE(db_opt, database)
    OVERRIDE(signing_opt, signing_key)
    OVERRIDE(admin_opt, admin_key)
    OVERRIDE(port_file_opt, port_file)
    if (verbosity)
        b.cfg.log_level = verbosity > 0 ? LM_LOG_DEBUG : LM_LOG_WARN;
    lm_log_init("lm-broker", b.cfg.log_level);
    if (sodium_init() < 0) {
        lm_err("libsodium failed to initialise");
        return 1;
    }
    if (load_keys(&b) != 0)
        return 1;
    pthread_mutex_init(&b.lock, NULL);
    if (ledger_open(&b, &d) != 0) {
        lm_err("%s", d.msg);
        return 1;
    }
    /* Signals are taken by sigwait() in this thread only; every thread started from here
     * inherits the mask. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    uint16_t port = 0;
    int fd = bind_listen(b.cfg.listen, &port, &d);
    if (fd < 0) {
        lm_err("%s", d.msg);
        ledger_close(&b);
        return 1;
    }
    if (http_start(&b, fd) != 0) {
        lm_err("cannot start the HTTP server on %s", b.cfg.listen);
        ledger_close(&b);
        return 1;
    }
    if (sweeper_start(&b) != 0) {
        lm_err("cannot start the sweeper thread");
        http_stop();
        ledger_close(&b);
        return 1;
    }
    if (b.cfg.port_file[0] && write_port_file(b.cfg.port_file, port) != 0) {
        sweeper_stop();
        http_stop();
        ledger_close(&b);
        return 1;
    }
    lm_info("serving on port %u (listen %s), ledger %s, signing key %016" PRIx64
            " (%d key%s listed), admin key %016" PRIx64,
            port, b.cfg.listen, b.cfg.database, b.signer.pub.key_id, b.nkeys,
            b.nkeys == 1 ? "" : "s", b.admin.key_id);
    int sig = 0;
    while (sigwait(&sigs, &sig) == 0 && sig == SIGHUP)
        lm_info("SIGHUP ignored: restart the broker to reload its configuration");
    lm_info("signal %d: stopping", sig);
    http_stop();
    sweeper_stop();
    ledger_close(&b);
    sodium_memzero(&b.signer, sizeof b.signer);
    return 0;
}
