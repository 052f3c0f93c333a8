/* lmctl redeem: an operator presents a token's newest link and is paid for the new units. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/util.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl redeem --token ID|FILE --index K (--link HEX | --chain FILE) [--host NAME]\n"
    "                    [--json]\n"
    "An operator redeems the newest link its host accepted for a token (scoped to one of\n"
    "its hosts or clusters): the broker checks the link against the anchor or the last\n"
    "redeemed link and pays the units not paid before (the prepaid units with the first\n"
    "redemption; index 0 with the anchor redeems just those).\n" LMCTL_BROKER_HELP
    "  --token ID|FILE     the token id (32 hex digits) or a token file\n"
    "  --index K           the link's index\n"
    "  --link HEX          link K as the payer sent it\n"
    "  --chain FILE        compute link K from a chain file (tests, demos)\n"
    "  --host NAME         the host that ran the VM (recorded; must be yours)\n"
    "  --json              print the broker's reply as JSON\n";

/* A token id from 32 hex digits, or from the token file it names. */
static int token_id(const char *arg, char out[33])
{
    uint8_t id[LM_TOKEN_ID_BYTES];
    if (strlen(arg) == 32 && lm_hex_decode(arg, id, sizeof id) == 0) {
        lm_hex_encode(id, sizeof id, out);
        return 0;
    }
    uint8_t buf[LM_TOKEN_SIZE + 1];
    size_t len;
    struct lm_token t;
    struct lm_diag d;
    if (lmctl_read_token(arg, buf, sizeof buf, &len))
        return -1;
    if (lm_token_decode(buf, len, &t, &d) != 0) {
        lmctl_err("--token %s: %s", arg, d.msg);
        return -1;
    }
    lm_token_id_hex(t.id, out);
    return 0;
}

int cmd_redeem(int argc, char **argv)
{
    enum { O_TOKEN = 256, O_INDEX, O_LINK, O_CHAIN, O_HOST, O_JSON };
    static const struct option opts[] = {LMCTL_BROKER_OPTIONS,
                                         {"token", required_argument, NULL, O_TOKEN},
                                         {"index", required_argument, NULL, O_INDEX},
                                         {"link", required_argument, NULL, O_LINK},
                                         {"chain", required_argument, NULL, O_CHAIN},
                                         {"host", required_argument, NULL, O_HOST},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    const char *url = NULL, *key = NULL, *tok = NULL, *link_hex = NULL, *chain = NULL, *host = NULL;
    uint64_t index = 0;
    int have_index = 0, json = 0, c;
    while ((c = getopt_long(argc, argv, "B:k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'B':
            url = optarg;
            break;
        case 'k':
            key = optarg;
            break;
        case O_TOKEN:
            tok = optarg;
            break;
        case O_INDEX:
            if (lmctl_u64("--index", optarg, 0, UINT32_MAX, &index))
                return LMCTL_USAGE;
            have_index = 1;
            break;
        case O_LINK:
            link_hex = optarg;
            break;
        case O_CHAIN:
            chain = optarg;
            break;
        case O_HOST:
            host = optarg;
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
    }
    if (!tok || !have_index || !link_hex == !chain || optind != argc) {
        lmctl_err("redeem: needs --token, --index and one of --link and --chain (lmctl redeem "
                  "--help)");
        return LMCTL_USAGE;
    }
    char id[33], hex[65];
    uint8_t link[LM_HASH_BYTES];
    if (token_id(tok, id))
        return LMCTL_FAIL;
    if (link_hex) {
        if (lmctl_hex("--link", link_hex, link, sizeof link))
            return LMCTL_USAGE;
    } else {
        struct lm_chain_secret cs;
        struct lm_diag d;
        if (lm_chainfile_load(chain, 0, &cs, &d) != 0) {
            lmctl_err("--chain: %s", d.msg);
            return LMCTL_FAIL;
        }
        uint32_t n = cs.length;
        int rc = lm_chain_link(cs.seed, n, (uint32_t)index, link);
        sodium_memzero(&cs, sizeof cs);
        if (rc) {
            lmctl_err("--index %llu is beyond the chain's %u links", (unsigned long long)index, n);
            return LMCTL_FAIL;
        }
    }
    lm_hex_encode(link, sizeof link, hex);
    json_t *req = json_pack("{s:I s:s}", "index", (json_int_t)index, "link", hex);
    if (host)
        json_object_set_new(req, "host", json_string(host));
    char target[80];
    snprintf(target, sizeof target, "/v1/tokens/%s/redeem", id);
    int rc;
    json_t *reply = lmctl_broker_once(url, key, "POST", target, req, &rc);
    json_decref(req);
    if (!reply)
        return rc;
    if (json)
        lmctl_print_json(reply);
    else
        printf("redeemed token %s up to link %llu: %lld units, %lld credits paid (token: %lld of "
               "%lld paid); your balance %lld\n",
               id, (unsigned long long)index,
               (long long)json_integer_value(json_object_get(reply, "units")),
               (long long)json_integer_value(json_object_get(reply, "amount")),
               (long long)json_integer_value(json_object_get(reply, "paid")),
               (long long)json_integer_value(json_object_get(reply, "cost")),
               (long long)json_integer_value(json_object_get(reply, "balance")));
    json_decref(reply);
    return LMCTL_OK;
}
