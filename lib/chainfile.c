/* Chain files: a payer's secret seed with its length and anchor. */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/token.h"
#include "laundromat/util.h"
#include "lm.h"

int lm_chain_new(uint32_t n, struct lm_chain_secret *c)
{
    if (n == 0 || n > LM_MAX_CHAIN_LEN)
        return -LM_INVAL;
    if (lm_crypto_init() != 0)
        return -LM_CRYPTO;
    randombytes_buf(c->seed, sizeof c->seed);
    c->length = n;
    return lm_chain_link(c->seed, n, 0, c->anchor);
}

int lm_chainfile_write(const char *path, const struct lm_chain_secret *c, struct lm_diag *d)
{
    char text[512], seed[65], anchor[65];
    lm_hex_encode(c->seed, 32, seed);
    lm_hex_encode(c->anchor, 32, anchor);
    snprintf(text, sizeof text,
             "# Laundromat hash chain. The seed pays for VM time: keep it private (mode 0600).\n"
             "%s\nlength %u\nanchor %s\nseed %s\n",
             LM_CHAIN_FILE_TAG, c->length, anchor, seed);
    int rc = lm_textfile_write(path, 0600, text, d);
    sodium_memzero(text, sizeof text);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int lm_chainfile_load(const char *path, int check, struct lm_chain_secret *c,
                      struct lm_diag *d)
{
    static const char *const tags[] = {LM_CHAIN_FILE_TAG, NULL};
    struct lm_field f[] = {
        {"length", LM_F_U32, &c->length, 4, 0},
        {"anchor", LM_F_HEX, c->anchor, 32, 0},
        {"seed", LM_F_HEX, c->seed, 32, 0},
    };
    int tag;
    unsigned mode;
    int rc = lm_textfile_read(path, tags, &tag, f, 3, &mode, d);
    if (rc == 0 && (!f[0].seen || !f[1].seen || !f[2].seen))
        rc = lm_fail(d, LM_KEY_FORMAT, "%s: a chain file needs \"length\", \"anchor\" and \"seed\"",
                     path);
    if (rc == 0 && (c->length == 0 || c->length > LM_MAX_CHAIN_LEN))
        rc = lm_fail(d, LM_KEY_FORMAT, "%s: length %u, expected 1 to %u", path, c->length,
                     LM_MAX_CHAIN_LEN);
    if (rc == 0 && (mode & 077))
        rc = lm_fail(d, LM_KEY_PERMS, "%s: chain file has mode %04o, readable by others; run: "
                     "chmod 600 %s", path, mode, path);
    if (rc == 0 && check) {
        uint8_t a[LM_HASH_BYTES];
        rc = lm_chain_link(c->seed, c->length, 0, a);
        if (rc == 0 && sodium_memcmp(a, c->anchor, LM_HASH_BYTES) != 0)
            rc = lm_fail(d, LM_KEY_FORMAT, "%s: anchor is not H^%u(seed); the file is corrupt",
                         path, c->length);
    }
    if (rc)
        sodium_memzero(c, sizeof *c);
    return rc;
}
