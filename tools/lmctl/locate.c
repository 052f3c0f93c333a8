/*
 * Where a named VM runs: `lmctl locate NAME` asks the broker (GET /v1/locations/NAME, your
 * own VMs only); `lmctl report-location` is the host's side (Evil Man runs it when a VM starts
 * running there: POST /v1/locations, signed with the operator's key); and commands that take
 * a VM take its name too (lmctl_vm_target).
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/util.h"
#include "lmctl.h"

int lmctl_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > LMCTL_NAME_MAX || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

json_t *lmctl_locate(const char *url, const char *key, const char *name, int *rc)
{
    char target[96];
    snprintf(target, sizeof target, "/v1/locations/%s", name);
    return lmctl_broker_once(url, key, "GET", target, NULL, rc);
}

/* A dotted IPv4 address, with an optional :PORT. */
static int is_address(const char *s)
{
    char host[32];
    const char *colon = strchr(s, ':');
    size_t n = colon ? (size_t)(colon - s) : strlen(s);
    struct in_addr a;
    if (n >= sizeof host)
        return 0;
    memcpy(host, s, n);
    host[n] = '\0';
    return inet_pton(AF_INET, host, &a) == 1;
}

int lmctl_vm_target(const char *arg, uint16_t port, const char *url, const char *key,
                    struct sockaddr_in *out, const char **name)
{
    *name = NULL;
    if (is_address(arg) || !lmctl_name_ok(arg))
        return lmctl_addr(arg, port, out) < 0 ? LMCTL_USAGE : LMCTL_OK;
    int rc;
    json_t *reply = lmctl_locate(url, key, arg, &rc);
    if (!reply) {
        lmctl_err("%s: not an address, and the broker could not say where a VM of that name "
                  "runs (above)", arg);
        return rc;
    }
    const char *addr = json_string_value(json_object_get(reply, "address"));
    memset(out, 0, sizeof *out);
    out->sin_family = AF_INET;
    out->sin_port = htons(port);
    if (!addr || inet_pton(AF_INET, addr, &out->sin_addr) != 1) {
        lmctl_err("%s: the broker's location carries no address", arg);
        json_decref(reply);
        return LMCTL_FAIL;
    }
    fprintf(stderr, "%s: at %s on host %s (the broker's location)\n", arg, addr,
            json_string_value(json_object_get(reply, "host")) ?: "?");
    json_decref(reply);
    *name = arg;
    return LMCTL_OK;
}

int cmd_locate(int argc, char **argv)
{
    static const struct option opts[] = {LMCTL_BROKER_OPTIONS,
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *url = NULL, *key = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'B': url = optarg; break;
        case 'k': key = optarg; break;
        case 'j': json = 1; break;
        case 'h':
            printf("usage: lmctl locate [--json] NAME\n"
                   "Where your VM NAME runs now (the name given when its token was bought): its\n"
                   "host and address, as the host it started on (or migrated to) told the\n"
                   "broker.\n" LMCTL_BROKER_HELP);
            return LMCTL_OK;
        default: return LMCTL_USAGE;
        }
    }
    if (optind + 1 != argc || !lmctl_name_ok(argv[optind])) {
        lmctl_err("locate: expected one VM name (1 to %d of a-z, 0-9 and -, not starting with "
                  "-)", LMCTL_NAME_MAX);
        return LMCTL_USAGE;
    }
    int rc;
    json_t *reply = lmctl_locate(url, key, argv[optind], &rc);
    if (!reply)
        return rc;
    if (json)
        lmctl_print_json(reply);
    else
        printf("%s: host %s (agent %s:%lld), address %s, since %lld (token %s)\n", argv[optind],
               json_string_value(json_object_get(reply, "host")) ?: "?",
               json_string_value(json_object_get(reply, "host_address")) ?: "?",
               (long long)json_integer_value(json_object_get(reply, "host_port")),
               json_string_value(json_object_get(reply, "address")) ?: "?",
               (long long)json_integer_value(json_object_get(reply, "updated_at")),
               json_string_value(json_object_get(reply, "token_id")) ?: "?");
    json_decref(reply);
    return LMCTL_OK;
}

int cmd_report_location(int argc, char **argv)
{
    enum { O_TOKEN = 256, O_HOST, O_ADDRESS, O_JSON };
    static const struct option opts[] = {LMCTL_BROKER_OPTIONS,
                                         {"token", required_argument, NULL, O_TOKEN},
                                         {"host", required_argument, NULL, O_HOST},
                                         {"address", required_argument, NULL, O_ADDRESS},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *url = NULL, *key = NULL, *tok = NULL, *host = NULL, *addr = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'B': url = optarg; break;
        case 'k': key = optarg; break;
        case O_TOKEN: tok = optarg; break;
        case O_HOST: host = optarg; break;
        case O_ADDRESS: addr = optarg; break;
        case O_JSON: json = 1; break;
        case 'h':
            printf("usage: lmctl report-location --token ID --host NAME --address A.B.C.D\n"
                   "An operator tells the broker that the VM of token ID runs on its host NAME at\n"
                   "address A.B.C.D (Evil Man does, when a VM boots or a migrated guest resumes\n"
                   "there); the broker records it for the token's name, if it has one, unless a\n"
                   "token bought later is located already.\n" LMCTL_BROKER_HELP);
            return LMCTL_OK;
        default: return LMCTL_USAGE;
        }
    }
    uint8_t id[LM_TOKEN_ID_BYTES];
    struct in_addr a;
    if (optind != argc || !tok || !host || !addr) {
        lmctl_err("report-location: needs --token, --host and --address (see --help)");
        return LMCTL_USAGE;
    }
    if (lmctl_hex("--token", tok, id, sizeof id) < 0)
        return LMCTL_USAGE;
    if (inet_pton(AF_INET, addr, &a) != 1) {
        lmctl_err("--address %s: expected a dotted IPv4 address", addr);
        return LMCTL_USAGE;
    }
    json_t *req = json_pack("{s:s s:s s:s}", "token_id", tok, "host", host, "address", addr);
    int rc;
    json_t *reply = lmctl_broker_once(url, key, "POST", "/v1/locations", req, &rc);
    json_decref(req);
    if (!reply)
        return rc;
    if (json)
        lmctl_print_json(reply);
    else if (json_is_true(json_object_get(reply, "recorded")))
        printf("located: %s runs on %s at %s\n",
               json_string_value(json_object_get(reply, "name")) ?: "?", host, addr);
    else
        printf("not recorded: token %s names no VM\n", tok);
    json_decref(reply);
    return LMCTL_OK;
}
