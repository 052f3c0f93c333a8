/* lmctl buy: a buyer buys a boot token from the broker and writes it like token mint. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/util.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl buy (--host NAME | --cluster NAME) (--image FILE | --commitment HEX)\n"
    "                 (--chain FILE | --anchor HEX --chain-len N | --prepaid N) [...]\n"
    "Buys a boot token from the broker with your account's credit. The broker prices it\n"
    "(unit price = host price x ceil(mem/64 MiB) x vCPUs; cost = unit price x (prepaid +\n"
    "chain units)), reserves the cost, signs the token and returns it. Writes the 248-byte\n"
    "token to -o FILE (and prints a summary), or its hex to stdout.\n" LMCTL_BROKER_HELP
    "  --host NAME         scope: the host NAME (lmctl hosts lists them)\n"
    "  --cluster NAME      scope: any host of cluster NAME (priced at its dearest host)\n"
    "  --mem MIB           VM memory (default 64)\n"
    "  --vcpus N           VM vCPUs (default 1)\n"
    "  --payload KIND      image (default) or checkpoint\n"
    "  --image FILE        commitment = BLAKE2b-256(\"laundromat/image/v1\" || FILE), checked\n"
    "                      as token mint checks it, before the broker is asked\n"
    "  --commitment HEX    the 32-byte commitment itself\n"
    "  --chain FILE        anchor and length of your chain file (lmctl chain new)\n"
    "  --anchor HEX        chain anchor, with --chain-len N\n"
    "  --prepaid N         units granted at admission, before any link (default 0)\n"
    "  --ttl SECONDS       lifetime (default 3600)\n"
    "  --ip A.B.C.D/P      network identity to keep (default: the host assigns one)\n"
    "  --mac XX:..:XX      MAC to keep (default: the host assigns one)\n"
    "  --name NAME         the VM's name (a-z, 0-9, -; up to 63): lmctl locate NAME finds it,\n"
    "                      and status and migrate take it for its address\n"
    "  --id HEX            token id, 32 hex digits (default random). Repeating a purchase\n"
    "                      with the same id and options returns the same token: a safe retry\n"
    "  -o, --out FILE      write the binary token to FILE\n"
    "  --json              print the broker's reply as JSON\n";

/* Reads the token out of the reply, checks it decodes and says what was asked. */
static int check_token(json_t *reply, const struct lm_token *want, uint8_t tok[LM_TOKEN_SIZE])
{
    const char *hex = json_string_value(json_object_get(reply, "token"));
    struct lm_token t;
    struct lm_diag d;
    if (!hex || lm_hex_decode(hex, tok, LM_TOKEN_SIZE) != 0) {
        lmctl_err("buy: the broker's reply carries no token");
        return -1;
    }
    if (lm_token_decode(tok, LM_TOKEN_SIZE, &t, &d) != 0) {
        lmctl_err("buy: the broker's token does not decode: %s", d.msg);
        return -1;
    }
    if (t.scope_kind != want->scope_kind || strcmp(t.scope, want->scope) ||
        t.mem_mib != want->mem_mib || t.vcpus != want->vcpus ||
        t.payload_kind != want->payload_kind || memcmp(t.commitment, want->commitment, 32) ||
        memcmp(t.anchor, want->anchor, 32) || t.chain_len != want->chain_len ||
        t.prepaid_units != want->prepaid_units) {
        lmctl_err("buy: the broker's token differs from the request (scope, shape, payload or "
                  "chain); not writing it");
        return -1;
    }
    return 0;
}

int lmctl_buy_token(struct lmctl_broker *b, const struct lm_token *t, uint64_t ttl,
                    const char *ip, const char *mac, const uint8_t *id, const char *name,
                    uint8_t tok[LM_TOKEN_SIZE], json_t **reply_out)
{
    char commit[65], anchor[65], idh[33];
    lm_hex_encode(t->commitment, 32, commit);
    json_t *req =
        json_pack("{s:s s:I s:I s:s s:s s:I}", t->scope_kind == LM_SCOPE_HOST ? "host" : "cluster",
                  t->scope, "mem_mib", (json_int_t)t->mem_mib, "vcpus", (json_int_t)t->vcpus,
                  "payload", t->payload_kind == LM_PAYLOAD_IMAGE ? "image" : "checkpoint",
                  "commitment", commit, "prepaid_units", (json_int_t)t->prepaid_units);
    if (t->chain_len) {
        lm_hex_encode(t->anchor, 32, anchor);
        json_object_set_new(req, "anchor", json_string(anchor));
        json_object_set_new(req, "chain_len", json_integer(t->chain_len));
    }
    if (ttl)
        json_object_set_new(req, "ttl", json_integer((json_int_t)ttl));
    if (ip)
        json_object_set_new(req, "ip", json_string(ip));
    if (mac)
        json_object_set_new(req, "mac", json_string(mac));
    if (name)
        json_object_set_new(req, "name", json_string(name));
    if (id) {
        lm_hex_encode(id, LM_TOKEN_ID_BYTES, idh);
        json_object_set_new(req, "token_id", json_string(idh));
    }
    int rc;
    json_t *reply = lmctl_broker_do(b, "POST", "/v1/tokens", req, &rc);
    json_decref(req);
    if (!reply)
        return rc;
    if (check_token(reply, t, tok)) {
        json_decref(reply);
        return LMCTL_FAIL;
    }
    *reply_out = reply;
    return LMCTL_OK;
}

int cmd_buy(int argc, char **argv)
{
    enum {
        O_HOST = 256,
        O_CLUSTER,
        O_MEM,
        O_VCPUS,
        O_PAYLOAD,
        O_IMAGE,
        O_COMMIT,
        O_CHAIN,
        O_ANCHOR,
        O_CHAIN_LEN,
        O_PREPAID,
        O_TTL,
        O_IP,
        O_MAC,
        O_ID,
        O_NAME,
        O_JSON
    };
    static const struct option opts[] = {LMCTL_BROKER_OPTIONS,
                                         {"host", required_argument, NULL, O_HOST},
                                         {"cluster", required_argument, NULL, O_CLUSTER},
                                         {"mem", required_argument, NULL, O_MEM},
                                         {"vcpus", required_argument, NULL, O_VCPUS},
                                         {"payload", required_argument, NULL, O_PAYLOAD},
                                         {"image", required_argument, NULL, O_IMAGE},
                                         {"commitment", required_argument, NULL, O_COMMIT},
                                         {"chain", required_argument, NULL, O_CHAIN},
                                         {"anchor", required_argument, NULL, O_ANCHOR},
                                         {"chain-len", required_argument, NULL, O_CHAIN_LEN},
                                         {"prepaid", required_argument, NULL, O_PREPAID},
                                         {"ttl", required_argument, NULL, O_TTL},
                                         {"ip", required_argument, NULL, O_IP},
                                         {"mac", required_argument, NULL, O_MAC},
                                         {"id", required_argument, NULL, O_ID},
                                         {"name", required_argument, NULL, O_NAME},
                                         {"out", required_argument, NULL, 'o'},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    struct lm_token t;
    memset(&t, 0, sizeof t);
    t.mem_mib = 64;
    t.vcpus = 1;
    t.payload_kind = LM_PAYLOAD_IMAGE;
    const char *url = NULL, *key = NULL, *out = NULL, *scope = NULL, *ip = NULL, *mac = NULL,
               *image = NULL, *name = NULL;
    uint64_t v, ttl = 0;
    uint8_t id[LM_TOKEN_ID_BYTES];
    int have_commit = 0, have_anchor = 0, have_len = 0, have_chain = 0, have_id = 0, json = 0;
    int c;
    while ((c = getopt_long(argc, argv, "B:k:o:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'B':
            url = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case 'o':
            out = optarg;
            break;
        case O_HOST:
        case O_CLUSTER:
            if (scope) {
                lmctl_err("give one of --host and --cluster, once");
                return LMCTL_USAGE;
            }
            scope = optarg;
            t.scope_kind = c == O_HOST ? LM_SCOPE_HOST : LM_SCOPE_CLUSTER;
            break;
        case O_MEM:
            bad = lmctl_u64("--mem", optarg, 1, LM_MAX_MEM_MIB, &v);
            t.mem_mib = (uint32_t)v;
            break;
        case O_VCPUS:
            bad = lmctl_u64("--vcpus", optarg, 1, LM_MAX_VCPUS, &v);
            t.vcpus = (uint16_t)v;
            break;
        case O_PAYLOAD:
            if (!strcmp(optarg, "image") || !strcmp(optarg, "checkpoint"))
                t.payload_kind = optarg[0] == 'i' ? LM_PAYLOAD_IMAGE : LM_PAYLOAD_CHECKPOINT;
            else {
                lmctl_err("--payload: \"%s\", expected image or checkpoint", optarg);
                bad = 1;
            }
            break;
        case O_IMAGE:
            image = optarg;
            have_commit++;
            break;
        case O_COMMIT:
            bad = lmctl_hex("--commitment", optarg, t.commitment, 32);
            have_commit++;
            break;
        case O_CHAIN:
            if (lmctl_chain_option(optarg, &t) != 0)
                return LMCTL_FAIL;
            have_chain = 1;
            break;
        case O_ANCHOR:
            bad = lmctl_hex("--anchor", optarg, t.anchor, 32);
            have_anchor = 1;
            break;
        case O_CHAIN_LEN:
            bad = lmctl_u64("--chain-len", optarg, 1, LM_MAX_CHAIN_LEN, &v);
            t.chain_len = (uint32_t)v;
            have_len = 1;
            break;
        case O_PREPAID:
            bad = lmctl_u64("--prepaid", optarg, 0, LM_MAX_PREPAID, &v);
            t.prepaid_units = (uint32_t)v;
            break;
        case O_TTL:
            bad = lmctl_u64("--ttl", optarg, 1, LM_MAX_LIFETIME_S, &ttl);
            break;
        case O_IP:
            ip = optarg;
            break;
        case O_MAC:
            mac = optarg;
            break;
        case O_ID:
            bad = lmctl_hex("--id", optarg, id, sizeof id);
            have_id = 1;
            break;
        case O_NAME:
            name = optarg;
            if (!lmctl_name_ok(name)) {
                lmctl_err("--name %s: a VM name is 1 to %d of a-z, 0-9 and -, not starting with -", name, LMCTL_NAME_MAX);
                bad = -1;
            }
            break;
        case O_JSON:
            json = 1;
            break;
        case 'h':
            fputs(help, stdout);
            return LMCTL_OK;
        default:
            fputs(help, stderr);
            return LMCTL_USAGE;
        }
        if (bad)
            return LMCTL_USAGE;
    }
    const char *missing = lmctl_token_options_missing(scope, have_commit, have_chain,
                                                      have_anchor, have_len, t.prepaid_units,
                                                      optind != argc);
    if (missing) {
        lmctl_err("buy: needs %s (see lmctl buy --help)", missing);
        return LMCTL_USAGE;
    }
    if (strlen(scope) > LM_SCOPE_BYTES) {
        lmctl_err("scope \"%s\" is longer than %d bytes", scope, LM_SCOPE_BYTES);
        return LMCTL_USAGE;
    }
    strcpy(t.scope, scope);
    if (image && lmctl_image_commitment(image, &t) != 0) /* before the broker sells it */
        return LMCTL_FAIL;

    struct lmctl_broker b;
    int rc = lmctl_broker_open(&b, url, key);
    uint8_t tok[LM_TOKEN_SIZE];
    json_t *reply = NULL;
    if (rc == LMCTL_OK)
        rc = lmctl_buy_token(&b, &t, ttl, ip, mac, have_id ? id : NULL, name, tok, &reply);
    lmctl_broker_close(&b);
    if (rc != LMCTL_OK)
        return rc;
    if (rc == LMCTL_OK && out) {
        FILE *f = fopen(out, "wb");
        if (!f || fwrite(tok, 1, sizeof tok, f) != sizeof tok || fclose(f) != 0) {
            lmctl_err("%s: cannot write the token", out);
            rc = LMCTL_FAIL;
        }
    }
    if (rc == LMCTL_OK) {
        char when[32];
        if (json)
            lmctl_print_json(reply);
        else if (!out)
            printf("%s\n", json_string_value(json_object_get(reply, "token")));
        FILE *sum = json || !out ? stderr : stdout;
        fprintf(
            sum,
            "token %s%s: %lld credits (unit price %lld x %lld units of %lld ms), "
            "expires %s, balance %lld%s%s\n",
            json_string_value(json_object_get(reply, "token_id")),
            json_is_true(json_object_get(reply, "replayed")) ? " (bought before)" : "",
            (long long)json_integer_value(json_object_get(reply, "cost")),
            (long long)json_integer_value(json_object_get(reply, "unit_price")),
            (long long)(t.prepaid_units + (uint64_t)t.chain_len),
            (long long)json_integer_value(json_object_get(reply, "link_value_ms")),
            lm_fmt_time((uint64_t)json_integer_value(json_object_get(reply, "expires_at")), when),
            (long long)json_integer_value(json_object_get(reply, "balance")),
            out ? ", written to " : "", out ? out : "");
    }
    json_decref(reply);
    return rc;
}
