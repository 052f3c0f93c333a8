/* lmctl token mint | show: offline signing with a broker key, and decode + verify. */
#include <arpa/inet.h>
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/clock.h"
#include "laundromat/keys.h"
#include "laundromat/netaddr.h"
#include "laundromat/token.h"
#include "laundromat/util.h"
#include "lmctl.h"

#define MAX_KEYS 16

static const char mint_help[] =
    "usage: lmctl token mint --key FILE (--host NAME | --cluster NAME)\n"
    "                        (--image FILE | --commitment HEX)\n"
    "                        (--chain FILE | --anchor HEX --chain-len N | --prepaid N) [...]\n"
    "Signs a boot token offline with a broker secret key (for tests and operators; buyers\n"
    "buy tokens from the broker). Writes the 248-byte token to -o FILE, or hex to stdout.\n"
    "  --key FILE          broker secret key file (lmctl keygen)\n"
    "  --host NAME         scope: only the host NAME admits the token\n"
    "  --cluster NAME      scope: any host of cluster NAME admits it\n"
    "  --mem MIB           VM memory (default 16)\n"
    "  --vcpus N           VM vCPUs (default 1)\n"
    "  --payload KIND      image (default) or checkpoint\n"
    "  --image FILE        commitment = BLAKE2b-256(\"laundromat/image/v1\" || FILE); FILE\n"
    "                      must be a regular file, not empty, within the loader's size limit\n"
    "                      (a warning when it is not an ELF executable the loader takes)\n"
    "  --commitment HEX    the 32-byte commitment itself (a checkpoint stream's key)\n"
    "  --chain FILE        take anchor and length from a chain file (lmctl chain new)\n"
    "  --anchor HEX        chain anchor, with --chain-len N\n"
    "  --link-ms MS        VM time one link buys (default 1000)\n"
    "  --prepaid N         units granted at admission, before any link (default 0)\n"
    "  --ttl SECONDS       lifetime from issue to expiry (default 3600)\n"
    "  --issued UNIX       issue time (default now)\n"
    "  --ip A.B.C.D/P      network identity to keep (default: the host assigns one)\n"
    "  --mac XX:..:XX      MAC to keep (default: the host assigns one)\n"
    "  --id HEX            token id, 32 hex digits (default random)\n"
    "  -o, --out FILE      write the binary token to FILE instead of hex to stdout\n";

static const char show_help[] =
    "usage: lmctl token show [--key PUB]... [--host NAME] [--cluster NAME] [--now UNIX]\n"
    "                        [--json] FILE\n"
    "Decodes a token (FILE: binary or hex, - for stdin) and, given broker public keys,\n"
    "verifies it as a host would: key id, lifetime, scope, signature. Exit status 0 when\n"
    "it is valid, 1 when it is not (the reason is printed).\n"
    "  --key PUB       trusted broker key file (public or secret); repeatable\n"
    "  --host NAME     check host scope against NAME (default: any host name)\n"
    "  --cluster NAME  check cluster scope against NAME\n"
    "  --now UNIX      verify at this time instead of now\n"
    "  --skew S        tolerated clock skew in seconds (default 60)\n"
    "  --json          print one JSON object\n";

static int parse_ip(const char *s, struct lm_token *t)
{
    if (lm_ip4_prefix_parse(s, 1, 32, t->ipv4, &t->prefix) == 0)
        return 0;
    lmctl_err("--ip: expected A.B.C.D/PREFIX, got \"%s\"", s);
    return -1;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
    if (lm_mac_parse(s, mac, 6) == 0)
        return 0;
    lmctl_err("--mac: expected XX:XX:XX:XX:XX:XX, got \"%s\"", s);
    return -1;
}

static int mint(int argc, char **argv)
{
    enum { O_HOST = 256, O_CLUSTER, O_MEM, O_VCPUS, O_PAYLOAD, O_IMAGE, O_COMMIT, O_CHAIN,
           O_ANCHOR, O_CHAIN_LEN, O_LINK_MS, O_PREPAID, O_TTL, O_ISSUED, O_IP, O_MAC, O_ID };
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},        {"host", required_argument, NULL, O_HOST},
        {"cluster", required_argument, NULL, O_CLUSTER}, {"mem", required_argument, NULL, O_MEM},
        {"vcpus", required_argument, NULL, O_VCPUS},  {"payload", required_argument, NULL, O_PAYLOAD},
        {"image", required_argument, NULL, O_IMAGE},  {"commitment", required_argument, NULL, O_COMMIT},
        {"chain", required_argument, NULL, O_CHAIN},  {"anchor", required_argument, NULL, O_ANCHOR},
        {"chain-len", required_argument, NULL, O_CHAIN_LEN},
        {"link-ms", required_argument, NULL, O_LINK_MS},
        {"prepaid", required_argument, NULL, O_PREPAID}, {"ttl", required_argument, NULL, O_TTL},
        {"issued", required_argument, NULL, O_ISSUED}, {"ip", required_argument, NULL, O_IP},
        {"mac", required_argument, NULL, O_MAC},      {"id", required_argument, NULL, O_ID},
        {"out", required_argument, NULL, 'o'},        {"help", no_argument, NULL, 'h'},
        {0}};
    struct lm_token t;
    memset(&t, 0, sizeof t);
    t.mem_mib = 16;
    t.vcpus = 1;
    t.payload_kind = LM_PAYLOAD_IMAGE;
    t.link_value_ms = 1000;
    t.issued_at = lm_now();
    randombytes_buf(t.id, sizeof t.id);
    const char *key_path = NULL, *out_path = NULL, *scope = NULL, *image = NULL;
    uint64_t v, ttl = 3600;
    int have_commit = 0, have_anchor = 0, have_len = 0, have_chain = 0, c;
    while ((c = getopt_long(argc, argv, "k:o:h", opts, NULL)) != -1) {
        int bad = 0;
        switch (c) {
        case 'k': key_path = optarg; break;
        case 'o': out_path = optarg; break;
        case O_HOST:
        case O_CLUSTER:
            if (scope) {
                lmctl_err("give one of --host and --cluster, once");
                return LMCTL_USAGE;
            }
            scope = optarg;
            t.scope_kind = c == O_HOST ? LM_SCOPE_HOST : LM_SCOPE_CLUSTER;
            break;
        case O_MEM: bad = lmctl_u64("--mem", optarg, 1, LM_MAX_MEM_MIB, &v); t.mem_mib = (uint32_t)v; break;
        case O_VCPUS: bad = lmctl_u64("--vcpus", optarg, 1, LM_MAX_VCPUS, &v); t.vcpus = (uint16_t)v; break;
        case O_PAYLOAD:
            if (!strcmp(optarg, "image"))
                t.payload_kind = LM_PAYLOAD_IMAGE;
            else if (!strcmp(optarg, "checkpoint"))
                t.payload_kind = LM_PAYLOAD_CHECKPOINT;
            else {
                lmctl_err("--payload: \"%s\", expected image or checkpoint", optarg);
                bad = 1;
            }
            break;
        case O_IMAGE: image = optarg; have_commit++; break;
        case O_COMMIT: bad = lmctl_hex("--commitment", optarg, t.commitment, 32); have_commit++; break;
        case O_CHAIN:
            if (lmctl_chain_option(optarg, &t) != 0)
                return LMCTL_FAIL;
            have_chain = 1;
            break;
        case O_ANCHOR: bad = lmctl_hex("--anchor", optarg, t.anchor, 32); have_anchor = 1; break;
        case O_CHAIN_LEN:
            bad = lmctl_u64("--chain-len", optarg, 1, LM_MAX_CHAIN_LEN, &v);
            t.chain_len = (uint32_t)v;
            have_len = 1;
            break;
        case O_LINK_MS: bad = lmctl_u64("--link-ms", optarg, 1, UINT32_MAX, &v); t.link_value_ms = (uint32_t)v; break;
        case O_PREPAID: bad = lmctl_u64("--prepaid", optarg, 0, LM_MAX_PREPAID, &v); t.prepaid_units = (uint32_t)v; break;
        case O_TTL: bad = lmctl_u64("--ttl", optarg, 1, LM_MAX_LIFETIME_S, &ttl); break;
        case O_ISSUED: bad = lmctl_u64("--issued", optarg, 0, UINT64_MAX / 2, &t.issued_at); break;
        case O_IP: bad = parse_ip(optarg, &t); break;
        case O_MAC: bad = parse_mac(optarg, t.mac); break;
        case O_ID: bad = lmctl_hex("--id", optarg, t.id, sizeof t.id); break;
        case 'h': fputs(mint_help, stdout); return LMCTL_OK;
        default: fputs(mint_help, stderr); return LMCTL_USAGE;
        }
        if (bad)
            return LMCTL_USAGE;
    }
    const char *missing = !key_path ? "--key FILE"
                          : lmctl_token_options_missing(scope, have_commit, have_chain,
                                                        have_anchor, have_len, t.prepaid_units,
                                                        optind != argc);
    if (missing) {
        lmctl_err("token mint: needs %s (see lmctl token mint --help)", missing);
        return LMCTL_USAGE;
    }
    if (strlen(scope) > LM_SCOPE_BYTES) {
        lmctl_err("scope \"%s\" is longer than %d bytes", scope, LM_SCOPE_BYTES);
        return LMCTL_USAGE;
    }
    strcpy(t.scope, scope);
    t.expires_at = t.issued_at + ttl;
    if (image && lmctl_image_commitment(image, &t) != 0)
        return LMCTL_FAIL;

    struct lm_keypair kp;
    struct lm_diag d;
    if (lm_key_load_secret(key_path, &kp, &d) != 0) {
        lmctl_err("--key: %s", d.msg);
        return LMCTL_FAIL;
    }
    t.key_id = kp.pub.key_id;
    uint8_t tok[LM_TOKEN_SIZE];
    struct lm_token check;
    int rc = lm_token_encode(&t, tok);
    if (rc == 0)
        rc = lm_token_sign(tok, kp.sk);
    sodium_memzero(&kp, sizeof kp);
    if (rc == 0 && (rc = lm_token_decode(tok, sizeof tok, &check, &d)) != 0) {
        lmctl_err("token mint: the token would be refused: %s", d.msg);
        return LMCTL_USAGE;
    }
    if (rc) {
        lmctl_err("token mint: signing failed (%s)", lm_status_text(rc));
        return LMCTL_FAIL;
    }
    if (out_path) {
        FILE *f = fopen(out_path, "wb");
        if (!f || fwrite(tok, 1, sizeof tok, f) != sizeof tok || fclose(f) != 0) {
            lmctl_err("%s: cannot write the token", out_path);
            return LMCTL_FAIL;
        }
        char idh[33];
        lm_token_id_hex(t.id, idh);
        printf("%s\n", idh);
    } else {
        char hex[2 * LM_TOKEN_SIZE + 1];
        lm_hex_encode(tok, sizeof tok, hex);
        printf("%s\n", hex);
    }
    return LMCTL_OK;
}

static json_t *hexj(const uint8_t *p, size_t n)
{
    char h[2 * 64 + 1];
    lm_hex_encode(p, n, h);
    return json_string(h);
}

static json_t *token_json(const struct lm_token *t)
{
    char ip[INET_ADDRSTRLEN], mac[LM_MAC_STR], t1[32], t2[32], kid[17];
    inet_ntop(AF_INET, t->ipv4, ip, sizeof ip);
    lm_mac_format(t->mac, mac);
    snprintf(kid, sizeof kid, "%016llx", (unsigned long long)t->key_id);
    return json_pack("{s:o s:s s:I s:s s:I s:s s:s s:s s:I s:i s:s s:o s:o s:i s:I s:i s:I s:s s:i s:s s:o}",
        "id", hexj(t->id, sizeof t->id), "key_id", kid,
        "issued_at", (json_int_t)t->issued_at, "issued", lm_fmt_time(t->issued_at, t1),
        "expires_at", (json_int_t)t->expires_at, "expires", lm_fmt_time(t->expires_at, t2),
        "scope_kind", t->scope_kind == LM_SCOPE_HOST ? "host" : "cluster", "scope", t->scope,
        "mem_mib", (json_int_t)t->mem_mib, "vcpus", (int)t->vcpus,
        "payload", t->payload_kind == LM_PAYLOAD_IMAGE ? "image" : "checkpoint",
        "commitment", hexj(t->commitment, 32), "anchor", hexj(t->anchor, 32),
        "chain_len", (int)t->chain_len, "link_value_ms", (json_int_t)t->link_value_ms,
        "prepaid_units", (int)t->prepaid_units, "value_ms", (json_int_t)lm_token_value_ms(t),
        "ipv4", ip, "prefix", (int)t->prefix, "mac", mac, "signature", hexj(t->sig, 64));
}

static void token_print(const struct lm_token *t)
{
    char h[65], t1[32], t2[32];
    lm_token_id_hex(t->id, h);
    printf("token       %s\n", h);
    printf("key id      %016llx\n", (unsigned long long)t->key_id);
    printf("issued      %s (%llu)\n", lm_fmt_time(t->issued_at, t1), (unsigned long long)t->issued_at);
    printf("expires     %s (%llu)\n", lm_fmt_time(t->expires_at, t2), (unsigned long long)t->expires_at);
    printf("scope       %s \"%s\"\n", t->scope_kind == LM_SCOPE_HOST ? "host" : "cluster", t->scope);
    printf("shape       %u MiB, %u vCPU%s\n", t->mem_mib, t->vcpus, t->vcpus == 1 ? "" : "s");
    lm_hex_encode(t->commitment, 32, h);
    printf("payload     %s, commitment %s\n",
           t->payload_kind == LM_PAYLOAD_IMAGE ? "image" : "checkpoint", h);
    lm_hex_encode(t->anchor, 32, h);
    if (t->chain_len)
        printf("chain       %u links, anchor %s\n", t->chain_len, h);
    else
        printf("chain       none\n");
    printf("link value  %u ms\n", t->link_value_ms);
    printf("prepaid     %u units\n", t->prepaid_units);
    printf("worth       %llu ms of VM time\n", (unsigned long long)lm_token_value_ms(t));
    if (t->prefix) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop(AF_INET, t->ipv4, ip, sizeof ip);
        printf("network     %s/%u", ip, t->prefix);
    } else
        printf("network     address assigned by the host");
    char mac[LM_MAC_STR];
    if (t->mac[0] | t->mac[1] | t->mac[2] | t->mac[3] | t->mac[4] | t->mac[5])
        printf(", MAC %s\n", lm_mac_format(t->mac, mac));
    else
        printf(", MAC assigned by the host\n");
}

static int show(int argc, char **argv)
{
    enum { O_HOST = 256, O_CLUSTER, O_NOW, O_SKEW, O_JSON };
    static const struct option opts[] = {
        {"key", required_argument, NULL, 'k'},   {"host", required_argument, NULL, O_HOST},
        {"cluster", required_argument, NULL, O_CLUSTER}, {"now", required_argument, NULL, O_NOW},
        {"skew", required_argument, NULL, O_SKEW}, {"json", no_argument, NULL, O_JSON},
        {"help", no_argument, NULL, 'h'},        {0}};
    struct lm_pubkey keys[MAX_KEYS];
    struct lm_verify_ctx ctx = {.keys = keys, .now = lm_now(), .max_skew_s = 60};
    int json = 0, c;
    uint64_t v;
    struct lm_diag d;
    while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (ctx.nkeys == MAX_KEYS) {
                lmctl_err("at most %d --key options", MAX_KEYS);
                return LMCTL_USAGE;
            }
            if (lm_key_load_public(optarg, &keys[ctx.nkeys], &d) != 0) {
                lmctl_err("--key: %s", d.msg);
                return LMCTL_FAIL;
            }
            ctx.nkeys++;
            break;
        case O_HOST: ctx.host_name = optarg; break;
        case O_CLUSTER: ctx.cluster_name = optarg; break;
        case O_NOW: if (lmctl_u64("--now", optarg, 0, UINT64_MAX / 2, &ctx.now)) return LMCTL_USAGE; break;
        case O_SKEW: if (lmctl_u64("--skew", optarg, 0, 86400, &v)) return LMCTL_USAGE; ctx.max_skew_s = (uint32_t)v; break;
        case O_JSON: json = 1; break;
        case 'h': fputs(show_help, stdout); return LMCTL_OK;
        default: fputs(show_help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind != argc - 1) {
        lmctl_err("token show: expected one FILE argument");
        return LMCTL_USAGE;
    }
    uint8_t buf[LM_TOKEN_SIZE + 1];
    size_t len;
    if (lmctl_read_token(argv[optind], buf, sizeof buf, &len))
        return LMCTL_FAIL;
    struct lm_token t;
    int decoded = lm_token_decode(buf, len, &t, &d) == 0;
    int rc = !decoded ? lm_token_decode(buf, len, &t, &d)
             : ctx.nkeys ? lm_token_verify(buf, len, &ctx, &t, &d) : 0;
    const char *verdict = rc ? "invalid" : ctx.nkeys ? "valid" : "well-formed, signature not checked (give --key)";
    if (json) {
        json_t *o = decoded ? token_json(&t) : json_object();
        json_object_set_new(o, "valid", json_boolean(rc == 0 && ctx.nkeys));
        json_object_set_new(o, "verdict", json_string(verdict));
        json_object_set_new(o, "status", json_string(lm_status_name(rc)));
        json_object_set_new(o, "status_code", json_integer(-rc));
        if (rc)
            json_object_set_new(o, "error", json_string(d.msg));
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(o);
    } else {
        if (decoded)
            token_print(&t);
        if (rc)
            printf("verdict     invalid: %s (%s)\n", d.msg, lm_status_name(rc));
        else
            printf("verdict     %s\n", verdict);
    }
    return rc ? LMCTL_FAIL : LMCTL_OK;
}

int cmd_token(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "mint"))
        return mint(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "show"))
        return show(argc - 1, argv + 1);
    lmctl_err("token: expected \"mint\" or \"show\"; lmctl token mint --help, lmctl token show --help");
    return LMCTL_USAGE;
}
