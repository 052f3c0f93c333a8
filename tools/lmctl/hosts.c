/* lmctl hosts (the broker's host directory) and host-register (an operator's host). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lmctl.h"

static const char hosts_help[] =
    "usage: lmctl hosts [--cluster NAME] [--operator NAME] [--json]\n"
    "Lists the hosts registered at the broker, with their address and price: where a token\n"
    "can be bought for, and where a guest can run or migrate.\n" LMCTL_BROKER_HELP
    "  --cluster NAME      only the hosts of this cluster\n"
    "  --operator NAME     only this operator's hosts\n"
    "  --json              print the broker's reply as JSON\n";

static const char register_help[] =
    "usage: lmctl host-register --name NAME --address ADDR --port PORT --price CREDITS\n"
    "                           --unit-ms MS [--cluster NAME] [--json]\n"
    "An operator registers a host (or updates one of its own) in the broker's "
    "directory.\n" LMCTL_BROKER_HELP
    "  --name NAME         the host's name: the scope its tokens name (1 to 32 of A-Z a-z\n"
    "                      0-9 . _ -)\n"
    "  --cluster NAME      the cluster it belongs to (optional)\n"
    "  --address ADDR      where buyers send the magic ping (IPv4, IPv6 or DNS name)\n"
    "  --port PORT         its UDP port\n"
    "  --price CREDITS     credits per unit for a 64 MiB, 1-vCPU VM\n"
    "  --unit-ms MS        VM time one unit (one chain link) buys\n"
    "  --json              print the broker's reply as JSON\n";

static void print_hosts(json_t *r)
{
    size_t i;
    json_t *h;
    json_t *list = json_object_get(r, "hosts");
    if (json_array_size(list) == 0) {
        printf("no hosts registered\n");
        return;
    }
    printf("%-20s %-16s %-28s %12s %10s  %s\n", "HOST", "CLUSTER", "ADDRESS", "PRICE/UNIT",
           "UNIT MS", "OPERATOR");
    json_array_foreach(list, i, h)
    {
        char addr[300];
        const char *cl = json_string_value(json_object_get(h, "cluster"));
        snprintf(addr, sizeof addr, "%s:%lld", json_string_value(json_object_get(h, "address")),
                 (long long)json_integer_value(json_object_get(h, "port")));
        printf("%-20s %-16s %-28s %12lld %10lld  %s\n",
               json_string_value(json_object_get(h, "name")), cl ? cl : "-", addr,
               (long long)json_integer_value(json_object_get(h, "price_per_unit")),
               (long long)json_integer_value(json_object_get(h, "unit_ms")),
               json_string_value(json_object_get(h, "operator")));
    }
}

int cmd_hosts(int argc, char **argv)
{
    static const struct option opts[] = {LMCTL_BROKER_OPTIONS,
                                         {"cluster", required_argument, NULL, 'c'},
                                         {"operator", required_argument, NULL, 'O'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *url = NULL, *key = NULL, *cluster = NULL, *op = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "B:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'B':
            url = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'c':
            cluster = optarg;
            break;
        case 'O':
            op = optarg;
            break;
        case 'j':
            json = 1;
            break;
        case 'h':
            fputs(hosts_help, stdout);
            return LMCTL_OK;
        default:
            fputs(hosts_help, stderr);
            return LMCTL_USAGE;
        }
    }
    if (optind != argc) {
        lmctl_err("hosts: unexpected argument \"%s\"", argv[optind]);
        return LMCTL_USAGE;
    }
    char target[200] = "/v1/hosts";
    if (cluster || op)
        snprintf(target, sizeof target, "/v1/hosts?%s%.64s%s%s%.64s", cluster ? "cluster=" : "",
                 cluster ? cluster : "", cluster && op ? "&" : "", op ? "operator=" : "",
                 op ? op : "");
    int rc;
    json_t *reply = lmctl_broker_once(url, key, "GET", target, NULL, &rc);
    if (!reply)
        return rc;
    if (json)
        lmctl_print_json(reply);
    else
        print_hosts(reply);
    json_decref(reply);
    return LMCTL_OK;
}

int cmd_host_register(int argc, char **argv)
{
    enum { O_NAME = 256, O_CLUSTER, O_ADDRESS, O_PORT, O_PRICE, O_UNIT_MS, O_JSON };
    static const struct option opts[] = {LMCTL_BROKER_OPTIONS,
                                         {"name", required_argument, NULL, O_NAME},
                                         {"cluster", required_argument, NULL, O_CLUSTER},
                                         {"address", required_argument, NULL, O_ADDRESS},
                                         {"port", required_argument, NULL, O_PORT},
                                         {"price", required_argument, NULL, O_PRICE},
                                         {"unit-ms", required_argument, NULL, O_UNIT_MS},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *url = NULL, *key = NULL, *name = NULL, *cluster = NULL, *address = NULL;
    uint64_t port = 0, price = 0, unit_ms = 0;
    int json = 0, c, bad = 0;
    while ((c = getopt_long(argc, argv, "B:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'B':
            url = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case O_NAME:
            name = optarg;
            break;
        case O_CLUSTER:
            cluster = optarg;
            break;
        case O_ADDRESS:
            address = optarg;
            break;
        case O_PORT:
            bad = lmctl_u64("--port", optarg, 1, 65535, &port);
            break;
        case O_PRICE:
            bad = lmctl_u64("--price", optarg, 1, (uint64_t)1 << 40, &price);
            break;
        case O_UNIT_MS:
            bad = lmctl_u64("--unit-ms", optarg, 1, UINT32_MAX, &unit_ms);
            break;
        case O_JSON:
            json = 1;
            break;
        case 'h':
            fputs(register_help, stdout);
            return LMCTL_OK;
        default:
            fputs(register_help, stderr);
            return LMCTL_USAGE;
        }
        if (bad)
            return LMCTL_USAGE;
    }
    if (!name || !address || !port || !price || !unit_ms || optind != argc) {
        lmctl_err("host-register: needs --name, --address, --port, --price and --unit-ms "
                  "(lmctl host-register --help)");
        return LMCTL_USAGE;
    }
    json_t *req = json_pack("{s:s s:s s:I s:I s:I}", "name", name, "address", address, "port",
                            (json_int_t)port, "price_per_unit", (json_int_t)price, "unit_ms",
                            (json_int_t)unit_ms);
    if (cluster)
        json_object_set_new(req, "cluster", json_string(cluster));
    int rc;
    json_t *reply = lmctl_broker_once(url, key, "POST", "/v1/hosts", req, &rc);
    json_decref(req);
    if (!reply)
        return rc;
    if (json)
        lmctl_print_json(reply);
    else
        printf("host %s %s: %s:%lld, %lld credits per %lld ms unit%s%s\n", name,
               json_is_true(json_object_get(reply, "created")) ? "registered" : "updated", address,
               (long long)port, (long long)price, (long long)unit_ms, cluster ? ", cluster " : "",
               cluster ? cluster : "");
    json_decref(reply);
    return LMCTL_OK;
}
