/* lmctl host: the host agent's control socket (root only): status, ls, kill, evict. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "laundromat/clock.h"
#include "laundromat/hostctl.h"
#include "laundromat/util.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl host [--socket PATH] [--timeout MS] [--json] status | ls | kill VM\n"
    "       lmctl host [--socket PATH] evict VM --within DURATION\n"
    "Talks to the local host agent (Evil Man) through its control socket (root only).\n"
    "evict asks VM (its number in ls) to leave: its guest and its owner are told the deadline,\n"
    "and a VM still here then is reclaimed like an unpaid one.\n"
    "  --within D     the deadline: 30s, 2m, 1500ms (default 30s)\n"
    "  --socket PATH  the control socket (default /run/laundromat/evilman.sock, or $LM_CONTROL)\n"
    "  --timeout MS   give up when no whole answer came in MS milliseconds (default 10000)\n"
    "  --json         print the agent's JSON answer as it is\n";

/*
 * Sends cmd and reads the answer: one line, or all until the agent closes. At most
 * LM_HOSTCTL_ANSWER_MAX bytes, all within timeout_ms. Returns the NUL-terminated answer (caller
 * frees), or NULL with a message naming the socket and the limit that was hit.
 */
static char *ask(const char *path, const char *cmd, unsigned timeout_ms)
{
    uint64_t deadline = lm_now_ns() + timeout_ms * 1000000ull;
    struct timeval tv = {(time_t)(timeout_ms / 1000), (suseconds_t)(timeout_ms % 1000) * 1000};
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    if (strlen(path) >= sizeof a.sun_path) {
        lmctl_err("host control socket %s: a path of %zu bytes; a socket's is at most %zu", path,
                  strlen(path), sizeof a.sun_path - 1);
        return NULL;
    }
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd >= 0) /* bounds connect (a full backlog) and send */
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        lmctl_err("host control socket %s: %s; is the host agent running (and are you root)?", path,
                  strerror(errno));
        if (fd >= 0)
            close(fd);
        return NULL;
    }
    enum { DONE, NO_SEND, LATE, TOO_BIG, NO_MEM } why = DONE;
    char *buf = malloc(4096 + 1);
    size_t got = 0, cap = 4096;
    if (!buf)
        why = NO_MEM;
    else if (send(fd, cmd, strlen(cmd), MSG_NOSIGNAL) != (ssize_t)strlen(cmd))
        why = NO_SEND;
    while (why == DONE && !memchr(buf, '\n', got)) {
        uint64_t now = lm_now_ns();
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (now >= deadline || poll(&p, 1, (int)((deadline - now + 999999) / 1000000)) == 0) {
            why = LATE;
            break;
        }
        if (got == cap && cap == LM_HOSTCTL_ANSWER_MAX) {
            why = TOO_BIG;
            break;
        }
        if (got == cap) {
            cap = cap * 2 > LM_HOSTCTL_ANSWER_MAX ? LM_HOSTCTL_ANSWER_MAX : cap * 2;
            char *nb = realloc(buf, cap + 1);
            if (!nb) {
                why = NO_MEM;
                break;
            }
            buf = nb;
        }
        ssize_t n = recv(fd, buf + got, cap - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break; /* the agent closed: what came is the answer */
        got += (size_t)n;
    }
    close(fd);
    char max[32];
    switch (why) {
    case DONE:
        if (got) {
            buf[got] = '\0';
            return buf;
        }
        lmctl_err("host control socket %s: closed without an answer", path);
        break;
    case NO_SEND:
        lmctl_err("host control socket %s: cannot send the command: %s", path, strerror(errno));
        break;
    case LATE:
        lmctl_err("host control socket %s: no answer within %g s (--timeout MS)", path,
                  timeout_ms / 1000.0);
        break;
    case TOO_BIG:
        lmctl_err("host control socket %s: answer over %s; refused", path,
                  lmctl_fmt_size(LM_HOSTCTL_ANSWER_MAX, max));
        break;
    case NO_MEM:
        lmctl_err("host control socket %s: out of memory", path);
        break;
    }
    free(buf);
    return NULL;
}

static void print_vms(json_t *vms)
{
    printf("%-5s %-13s %-15s %-9s %8s %12s %10s %s\n", "VM", "STATE", "ADDRESS", "TAP", "MEM MiB",
           "CREDIT ms", "PAID TO", "TOKEN");
    size_t i;
    json_t *v;
    json_array_foreach(vms, i, v) {
        printf("%-5lld %-13s %-15s %-9s %8lld %12lld %10lld %s\n",
               (long long)json_integer_value(json_object_get(v, "id")),
               json_string_value(json_object_get(v, "state")),
               json_string_value(json_object_get(v, "ip")),
               json_string_value(json_object_get(v, "tap")),
               (long long)json_integer_value(json_object_get(v, "mem_mib")),
               (long long)json_integer_value(json_object_get(v, "credit_ms")),
               (long long)json_integer_value(json_object_get(v, "paid_index")),
               json_string_value(json_object_get(v, "token")));
    }
}

int cmd_host(int argc, char **argv)
{
    enum { O_SOCKET = 256, O_TIMEOUT, O_JSON, O_WITHIN };
    static const struct option opts[] = {{"socket", required_argument, NULL, O_SOCKET},
                                         {"within", required_argument, NULL, O_WITHIN},
                                         {"timeout", required_argument, NULL, O_TIMEOUT},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *path = getenv("LM_CONTROL") ? getenv("LM_CONTROL")
                                            : "/run/laundromat/evilman.sock";
    uint64_t timeout = 10000, within_ms = 30000;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_SOCKET: path = optarg; break;
        case O_TIMEOUT: if (lmctl_u64("--timeout", optarg, 1, 600000, &timeout)) return LMCTL_USAGE; break;
        case O_JSON: json = 1; break;
        case O_WITHIN:
            if (lm_parse_duration_ms(optarg, 86400000ull, &within_ms) != 0) {
                lmctl_err("--within %s: a duration such as 30s, 2m or 1500ms, at most a day", optarg);
                return LMCTL_USAGE;
            }
            break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    struct lm_hostctl_cmd hc = {.within_ms = within_ms};
    const char *what = optind < argc ? argv[optind] : "";
    if (optind == argc - 1 && !strcmp(what, "status"))
        hc.op = LM_HOSTCTL_STATUS;
    else if (optind == argc - 1 && !strcmp(what, "ls"))
        hc.op = LM_HOSTCTL_LS;
    else if (optind == argc - 2 && (!strcmp(what, "kill") || !strcmp(what, "evict")))
        hc.op = !strcmp(what, "kill") ? LM_HOSTCTL_KILL : LM_HOSTCTL_EVICT;
    else {
        lmctl_err("host: expected status, ls, kill VM or evict VM --within D");
        fputs(help, stderr);
        return LMCTL_USAGE;
    }
    if ((hc.op == LM_HOSTCTL_KILL || hc.op == LM_HOSTCTL_EVICT) &&
        lmctl_u64(what, argv[optind + 1], 0, UINT64_MAX, &hc.vm))
        return LMCTL_USAGE; /* said why: a VM is its number, as ls shows it */
    char cmd[LM_HOSTCTL_LINE_MAX];
    if (lm_hostctl_format(&hc, cmd, sizeof cmd) < 0) {
        lmctl_err("host: the command does not fit a control line");
        return LMCTL_USAGE;
    }
    char *buf = ask(path, cmd, (unsigned)timeout);
    if (!buf)
        return LMCTL_FAIL;
    json_error_t err;
    json_t *o = json_loads(buf, 0, &err);
    if (!o) {
        lmctl_err("host control socket %s: the answer is not JSON: %.80s", path, buf);
        free(buf);
        return LMCTL_FAIL;
    }
    free(buf);
    int rc = json_object_get(o, "error") ? LMCTL_FAIL : LMCTL_OK;
    if (json)
        lmctl_print_json(o);
    else if (json_object_get(o, "error"))
        lmctl_err("host agent: %s", json_string_value(json_object_get(o, "error")));
    else if (json_object_get(o, "vms") && json_is_array(json_object_get(o, "vms")))
        print_vms(json_object_get(o, "vms"));
    else
        lmctl_print_json(o);
    json_decref(o);
    return rc;
}
