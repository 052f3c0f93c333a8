/* lmctl host: the host agent's control socket (root only): status, ls, kill. */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "lmctl.h"

static const char help[] =
    "usage: lmctl host [--socket PATH] [--json] status | ls | kill VM\n"
    "Talks to the local host agent (Evil Man) through its control socket (root only).\n"
    "  --socket PATH  the control socket (default /run/laundromat/evilman.sock, or $LM_CONTROL)\n"
    "  --json         print the agent's JSON answer as it is\n";

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
    enum { O_SOCKET = 256, O_JSON };
    static const struct option opts[] = {{"socket", required_argument, NULL, O_SOCKET},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *path = getenv("LM_CONTROL") ? getenv("LM_CONTROL")
                                            : "/run/laundromat/evilman.sock";
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case O_SOCKET: path = optarg; break;
        case O_JSON: json = 1; break;
        case 'h': fputs(help, stdout); return LMCTL_OK;
        default: fputs(help, stderr); return LMCTL_USAGE;
        }
    }
    char cmd[64];
    if (optind == argc - 1 && (!strcmp(argv[optind], "status") || !strcmp(argv[optind], "ls")))
        snprintf(cmd, sizeof cmd, "%s\n", argv[optind]);
    else if (optind == argc - 2 && !strcmp(argv[optind], "kill"))
        snprintf(cmd, sizeof cmd, "kill %s\n", argv[optind + 1]);
    else {
        lmctl_err("host: expected status, ls or kill VM");
        fputs(help, stderr);
        return LMCTL_USAGE;
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_un a = {.sun_family = AF_UNIX};
    snprintf(a.sun_path, sizeof a.sun_path, "%s", path);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        lmctl_err("%s: %s; is the host agent running (and are you root)?", path,
                  strerror(errno));
        return LMCTL_FAIL;
    }
    char buf[1 << 16];
    size_t got = 0;
    ssize_t n;
    send(fd, cmd, strlen(cmd), MSG_NOSIGNAL);
    while (got < sizeof buf - 1 && (n = recv(fd, buf + got, sizeof buf - 1 - got, 0)) > 0)
        got += (size_t)n;
    close(fd);
    buf[got] = '\0';
    json_error_t err;
    json_t *o = json_loads(buf, 0, &err);
    if (!o) {
        lmctl_err("the host agent's answer is not JSON: %.80s", buf);
        return LMCTL_FAIL;
    }
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
