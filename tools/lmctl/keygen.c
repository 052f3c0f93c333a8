/* lmctl keygen: a new Ed25519 key pair in the documented key file format. */
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/keys.h"
#include "lmctl.h"

static const char help[] =
    "usage: lmctl keygen [--seed HEX] FILE\n"
    "Writes a new Ed25519 key pair: FILE holds the secret key (mode 0600), FILE.pub the\n"
    "public key. Neither file is overwritten. Prints the key id.\n"
    "  --seed HEX  derive the key from 64 hex digits instead of the random source\n"
    "              (deterministic keys for tests and vectors only)\n";

int cmd_keygen(int argc, char **argv)
{
    static const struct option opts[] = {
        {"seed", required_argument, NULL, 's'}, {"help", no_argument, NULL, 'h'}, {0}};
    const char *seed_hex = NULL;
    int c;
    while ((c = getopt_long(argc, argv, "s:h", opts, NULL)) != -1) {
        if (c == 's')
            seed_hex = optarg;
        else if (c == 'h') {
            fputs(help, stdout);
            return LMCTL_OK;
        } else {
            fputs(help, stderr);
            return LMCTL_USAGE;
        }
    }
    if (optind != argc - 1) {
        lmctl_err("keygen: expected one FILE argument");
        fputs(help, stderr);
        return LMCTL_USAGE;
    }
    const char *path = argv[optind];
    struct lm_keypair kp;
    uint8_t seed[32];
    if (seed_hex) {
        if (lmctl_hex("--seed", seed_hex, seed, 32))
            return LMCTL_USAGE;
        lm_key_from_seed(seed, &kp);
        sodium_memzero(seed, sizeof seed);
    } else if (lm_key_generate(&kp) != 0) {
        lmctl_err("keygen: key generation failed");
        return LMCTL_FAIL;
    }
    char pub_path[4096];
    if (snprintf(pub_path, sizeof pub_path, "%s.pub", path) >= (int)sizeof pub_path) {
        lmctl_err("keygen: path too long");
        return LMCTL_USAGE;
    }
    struct lm_diag d;
    unsigned long long key_id = (unsigned long long)kp.pub.key_id;
    int rc = lm_key_write_secret(path, &kp, &d);
    if (rc == 0 && (rc = lm_key_write_public(pub_path, &kp.pub, &d)) != 0)
        remove(path);
    sodium_memzero(&kp, sizeof kp);
    if (rc) {
        lmctl_err("keygen: %s", d.msg);
        return LMCTL_FAIL;
    }
    printf("%016llx\n", key_id);
    return LMCTL_OK;
}
