/* lmctl chain new | show: a payer's hash chain, kept in a chain file. */
#include <getopt.h>
#include <jansson.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/token.h"
#include "laundromat/util.h"
#include "lmctl.h"

static const char new_help[] =
    "usage: lmctl chain new -n N FILE\n"
    "Makes a hash chain of N links from a fresh random seed and writes it to FILE (mode\n"
    "0600, never overwritten). Prints the anchor H^N(seed), which a token commits to.\n"
    "Link k (paying unit k) is H^(N-k)(seed).\n";

static const char show_help[] =
    "usage: lmctl chain show [--link K] [--check] [--json] FILE\n"
    "Prints a chain file's length and anchor and, with --link K, link K.\n"
    "  --check  recompute the anchor from the seed (costs N hashes)\n";

static int chain_new(int argc, char **argv)
{
    static const struct option opts[] = {
        {"length", required_argument, NULL, 'n'}, {"help", no_argument, NULL, 'h'}, {0}};
    uint64_t n = 0;
    int c;
    while ((c = getopt_long(argc, argv, "n:h", opts, NULL)) != -1) {
        if (c == 'n') {
            if (lmctl_u64("-n", optarg, 1, LM_MAX_CHAIN_LEN, &n))
                return LMCTL_USAGE;
        } else if (c == 'h') {
            fputs(new_help, stdout);
            return LMCTL_OK;
        } else {
            fputs(new_help, stderr);
            return LMCTL_USAGE;
        }
    }
    if (!n || optind != argc - 1) {
        lmctl_err("chain new: needs -n N and one FILE argument");
        fputs(new_help, stderr);
        return LMCTL_USAGE;
    }
    struct lm_chain_secret cs;
    struct lm_diag d;
    if (lm_chain_new((uint32_t)n, &cs) != 0) {
        lmctl_err("chain new: hashing failed");
        return LMCTL_FAIL;
    }
    int rc = lm_chainfile_write(argv[optind], &cs, &d);
    char anchor[65];
    lm_hex_encode(cs.anchor, 32, anchor);
    sodium_memzero(&cs, sizeof cs);
    if (rc) {
        lmctl_err("chain new: %s", d.msg);
        return LMCTL_FAIL;
    }
    printf("%s\n", anchor);
    return LMCTL_OK;
}

static int chain_show(int argc, char **argv)
{
    enum { O_CHECK = 256, O_JSON };
    static const struct option opts[] = {{"link", required_argument, NULL, 'k'},
                                         {"check", no_argument, NULL, O_CHECK},
                                         {"json", no_argument, NULL, O_JSON},
                                         {"help", no_argument, NULL, 'h'},
                                         {0}};
    uint64_t k = 0;
    int have_k = 0, check = 0, json = 0, c;
    while ((c = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
        switch (c) {
        case 'k':
            if (lmctl_u64("--link", optarg, 0, LM_MAX_CHAIN_LEN, &k))
                return LMCTL_USAGE;
            have_k = 1;
            break;
        case O_CHECK: check = 1; break;
        case O_JSON: json = 1; break;
        case 'h': fputs(show_help, stdout); return LMCTL_OK;
        default: fputs(show_help, stderr); return LMCTL_USAGE;
        }
    }
    if (optind != argc - 1) {
        lmctl_err("chain show: expected one FILE argument");
        return LMCTL_USAGE;
    }
    struct lm_chain_secret cs;
    struct lm_diag d;
    if (lm_chainfile_load(argv[optind], check, &cs, &d) != 0) {
        lmctl_err("chain show: %s", d.msg);
        return LMCTL_FAIL;
    }
    char anchor[65], link[65] = "";
    lm_hex_encode(cs.anchor, 32, anchor);
    if (have_k) {
        uint8_t l[LM_HASH_BYTES];
        if (lm_chain_link(cs.seed, cs.length, (uint32_t)k, l) != 0) {
            lmctl_err("chain show: --link %llu is beyond the chain's %u links",
                      (unsigned long long)k, cs.length);
            sodium_memzero(&cs, sizeof cs);
            return LMCTL_FAIL;
        }
        lm_hex_encode(l, 32, link);
    }
    uint32_t length = cs.length;
    sodium_memzero(&cs, sizeof cs);
    if (json) {
        json_t *o = json_pack("{s:I s:s s:b}", "length", (json_int_t)length, "anchor", anchor,
                              "checked", check);
        if (have_k) {
            json_object_set_new(o, "index", json_integer((json_int_t)k));
            json_object_set_new(o, "link", json_string(link));
        }
        json_dumpf(o, stdout, JSON_INDENT(2) | JSON_SORT_KEYS);
        putchar('\n');
        json_decref(o);
    } else {
        printf("length  %u\nanchor  %s%s\n", length, anchor, check ? " (checked)" : "");
        if (have_k)
            printf("link %llu  %s\n", (unsigned long long)k, link);
    }
    return LMCTL_OK;
}

int cmd_chain(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "new"))
        return chain_new(argc - 1, argv + 1);
    if (argc >= 2 && !strcmp(argv[1], "show"))
        return chain_show(argc - 1, argv + 1);
    lmctl_err("chain: expected \"new\" or \"show\"; lmctl chain new --help, lmctl chain show --help");
    return LMCTL_USAGE;
}
