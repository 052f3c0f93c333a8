/* lmctl account create | list, deposit (the admin's), balance (anyone's own account). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "lmctl.h"

static const char create_help[] =
    "usage: lmctl account create --name NAME --role buyer|operator --pub FILE [--json]\n"
    "The admin creates an account for the holder of a key (FILE: a public key file from\n"
    "lmctl keygen, or a secret one). Signed with the admin's key.\n" LMCTL_BROKER_HELP
    "  --name NAME         1 to 32 letters, digits, '.', '_' or '-'\n"
    "  --role ROLE         buyer (buys tokens) or operator (registers hosts, redeems)\n"
    "  --pub FILE          the account holder's public key\n"
    "  --json              print the broker's reply as JSON\n";

static const char list_help[] =
    "usage: lmctl account list [--json]\n"
    "The admin lists every account with its balance.\n" LMCTL_BROKER_HELP;

static const char deposit_help[] =
    "usage: lmctl deposit --account NAME --amount CREDITS [--note TEXT] [--json]\n"
    "The admin adds prepaid credit to an account.\n" LMCTL_BROKER_HELP;

static const char balance_help[] =
    "usage: lmctl balance [--json]\n"
    "Your account: balance (available credit), reserved (in open tokens), earned (paid for\n"
    "redeemed links).\n" LMCTL_BROKER_HELP;

/* Parses the options shared by these commands; extra are handled by the caller's switch. */
static int run(const char *help, int argc, char **argv, int want_args,
               int (*body)(struct lmctl_broker *b, int json, char **args))
{
    static const struct option opts[] = {LMCTL_BROKER_OPTIONS,
                                         {"name", required_argument, NULL, 'n'},
                                         {"role", required_argument, NULL, 'r'},
                                         {"pub", required_argument, NULL, 'p'},
                                         {"account", required_argument, NULL, 'a'},
                                         {"amount", required_argument, NULL, 'm'},
                                         {"note", required_argument, NULL, 't'},
                                         {"json", no_argument, NULL, 'j'},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    /* args: name, role, pub, account, amount, note: only those the command names are allowed */
    char *args[6] = {0};
    const char *url = NULL, *key = NULL;
    int json = 0, c;
    while ((c = getopt_long(argc, argv, "B:k:h", opts, NULL)) != -1) {
        const char *letters = "nrpamt";
        const char *at = strchr(letters, c);
        if (c == 'B')
            url = optarg;
        else if (c == 'k')
            key = optarg;
        else if (c == 'j')
            json = 1;
        else if (c == 'h') {
            fputs(help, stdout);
            return LMCTL_OK;
        } else if (c && at && (want_args & (1 << (at - letters)))) {
            args[at - letters] = optarg;
        } else {
            fputs(help, stderr);
            return LMCTL_USAGE;
        }
    }
    if (optind != argc) {
        lmctl_err("unexpected argument \"%s\"", argv[optind]);
        return LMCTL_USAGE;
    }
    struct lmctl_broker b;
    int rc = lmctl_broker_open(&b, url, key);
    if (rc == LMCTL_OK)
        rc = body(&b, json, args);
    lmctl_broker_close(&b);
    return rc;
}

static int finish(json_t *reply, int rc, int json, void (*print)(json_t *))
{
    if (!reply)
        return rc;
    if (json)
        lmctl_print_json(reply);
    else
        print(reply);
    json_decref(reply);
    return LMCTL_OK;
}

static void print_account(json_t *r)
{
    printf("account %s (%s), key id %s, balance %lld credits\n",
           json_string_value(json_object_get(r, "name")),
           json_string_value(json_object_get(r, "role")),
           json_string_value(json_object_get(r, "key_id")),
           (long long)json_integer_value(json_object_get(r, "balance")));
}

static int do_create(struct lmctl_broker *b, int json, char **args)
{
    if (!args[0] || !args[1] || !args[2]) {
        lmctl_err("account create: needs --name, --role and --pub (lmctl account create --help)");
        return LMCTL_USAGE;
    }
    struct lm_pubkey pub;
    struct lm_diag d;
    if (lm_key_load_public(args[2], &pub, &d) != 0) {
        lmctl_err("--pub: %s", d.msg);
        return LMCTL_FAIL;
    }
    char pk[65];
    for (int i = 0; i < 32; i++)
        snprintf(pk + 2 * i, 3, "%02x", pub.pk[i]);
    json_t *req = json_pack("{s:s s:s s:s}", "name", args[0], "role", args[1], "public_key", pk);
    int rc;
    json_t *reply = lmctl_broker_do(b, "POST", "/v1/accounts", req, &rc);
    json_decref(req);
    return finish(reply, rc, json, print_account);
}

static void print_list(json_t *r)
{
    size_t i;
    json_t *a;
    printf("%-20s %-9s %-16s %15s %15s %15s\n", "NAME", "ROLE", "KEY ID", "BALANCE", "RESERVED",
           "EARNED");
    json_array_foreach(json_object_get(r, "accounts"), i, a)
    {
        printf("%-20s %-9s %-16s %15lld %15lld %15lld\n",
               json_string_value(json_object_get(a, "name")),
               json_string_value(json_object_get(a, "role")),
               json_string_value(json_object_get(a, "key_id")),
               (long long)json_integer_value(json_object_get(a, "balance")),
               (long long)json_integer_value(json_object_get(a, "reserved")),
               (long long)json_integer_value(json_object_get(a, "earned")));
    }
}

static int do_list(struct lmctl_broker *b, int json, char **args)
{
    (void)args;
    int rc;
    json_t *reply = lmctl_broker_do(b, "GET", "/v1/accounts", NULL, &rc);
    return finish(reply, rc, json, print_list);
}

static void print_deposit(json_t *r)
{
    printf("deposited %lld credits to %s: balance %lld\n",
           (long long)json_integer_value(json_object_get(r, "amount")),
           json_string_value(json_object_get(r, "account")),
           (long long)json_integer_value(json_object_get(r, "balance")));
}

static int do_deposit(struct lmctl_broker *b, int json, char **args)
{
    uint64_t amount;
    if (!args[3] || !args[4]) {
        lmctl_err("deposit: needs --account NAME and --amount CREDITS (lmctl deposit --help)");
        return LMCTL_USAGE;
    }
    if (lmctl_u64("--amount", args[4], 1, INT64_MAX, &amount))
        return LMCTL_USAGE;
    json_t *req = json_pack("{s:s s:I}", "account", args[3], "amount", (json_int_t)amount);
    if (args[5])
        json_object_set_new(req, "note", json_string(args[5]));
    int rc;
    json_t *reply = lmctl_broker_do(b, "POST", "/v1/deposits", req, &rc);
    json_decref(req);
    return finish(reply, rc, json, print_deposit);
}

static void print_balance(json_t *r)
{
    printf("account   %s (%s)\n", json_string_value(json_object_get(r, "name")),
           json_string_value(json_object_get(r, "role")));
    printf("balance   %lld credits available\n",
           (long long)json_integer_value(json_object_get(r, "balance")));
    const char *role = json_string_value(json_object_get(r, "role"));
    if (role && !strcmp(role, "buyer"))
        printf("reserved  %lld credits in %lld open tokens\n",
               (long long)json_integer_value(json_object_get(r, "reserved")),
               (long long)json_integer_value(json_object_get(r, "open_tokens")));
    if (role && !strcmp(role, "operator"))
        printf("earned    %lld credits from redeemed links\n",
               (long long)json_integer_value(json_object_get(r, "earned")));
}

static int do_balance(struct lmctl_broker *b, int json, char **args)
{
    (void)args;
    int rc;
    json_t *reply = lmctl_broker_do(b, "GET", "/v1/account", NULL, &rc);
    return finish(reply, rc, json, print_balance);
}

int cmd_account(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "create"))
        return run(create_help, argc - 1, argv + 1, 7, do_create);
    if (argc >= 2 && !strcmp(argv[1], "list"))
        return run(list_help, argc - 1, argv + 1, 0, do_list);
    lmctl_err("account: expected \"create\" or \"list\"; lmctl account create --help");
    return LMCTL_USAGE;
}

int cmd_deposit(int argc, char **argv)
{
    return run(deposit_help, argc, argv, 8 | 16 | 32, do_deposit);
}

int cmd_balance(int argc, char **argv)
{
    return run(balance_help, argc, argv, 0, do_balance);
}
