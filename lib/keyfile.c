/* Ed25519 key pairs and their text files; refuses secret key files others can read. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "laundromat/keys.h"
#include "laundromat/util.h"
#include "lm.h"

uint64_t lm_key_id(const uint8_t pk[32])
{
    uint8_t h[LM_HASH_BYTES];
    if (lm_hash(LM_DOMAIN_KEYID, pk, 32, h) != 0)
        return 0;
    return lm_get64(h);
}

int lm_key_from_seed(const uint8_t seed[32], struct lm_keypair *kp)
{
    if (lm_crypto_init() != 0 || crypto_sign_seed_keypair(kp->pub.pk, kp->sk, seed) != 0)
        return -LM_CRYPTO;
    memcpy(kp->seed, seed, 32);
    kp->pub.key_id = lm_key_id(kp->pub.pk);
    return 0;
}

int lm_key_generate(struct lm_keypair *kp)
{
    uint8_t seed[32];
    if (lm_crypto_init() != 0)
        return -LM_CRYPTO;
    randombytes_buf(seed, sizeof seed);
    int rc = lm_key_from_seed(seed, kp);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int lm_key_write_secret(const char *path, const struct lm_keypair *kp, struct lm_diag *d)
{
    char text[512], seed[65];
    lm_hex_encode(kp->seed, 32, seed);
    snprintf(text, sizeof text,
             "# Laundromat Ed25519 secret key. Keep it private (mode 0600).\n"
             "%s\nkey-id %016llx\nseed %s\n",
             LM_SECRET_KEY_TAG, (unsigned long long)lm_key_id(kp->pub.pk), seed);
    int rc = lm_textfile_write(path, 0600, text, d);
    sodium_memzero(text, sizeof text);
    sodium_memzero(seed, sizeof seed);
    return rc;
}

int lm_key_write_public(const char *path, const struct lm_pubkey *pub, struct lm_diag *d)
{
    char text[256], pk[65];
    lm_hex_encode(pub->pk, 32, pk);
    snprintf(text, sizeof text, "# Laundromat Ed25519 public key.\n%s\nkey-id %016llx\npublic %s\n",
             LM_PUBLIC_KEY_TAG, (unsigned long long)lm_key_id(pub->pk), pk);
    return lm_textfile_write(path, 0644, text, d);
}

/* A key file's contents: secret or public, its key id and 32-byte value (seed or key). */
struct keyfile {
    int secret;
    uint64_t key_id;
    uint8_t value[32];
};

/* Reads and parses a key file; checks permissions when it holds a secret. */
static int read_keyfile(const char *path, struct keyfile *kf, struct lm_diag *d)
{
    static const char *const tags[] = {LM_SECRET_KEY_TAG, LM_PUBLIC_KEY_TAG, NULL};
    uint8_t id[8], seed[32], pk[32];
    struct lm_field f[] = {
        {"key-id", LM_F_HEX, id, 8, 0},
        {"seed", LM_F_HEX, seed, 32, 0},
        {"public", LM_F_HEX, pk, 32, 0},
    };
    int tag;
    unsigned mode;
    int rc = lm_textfile_read(path, tags, &tag, f, 3, &mode, d);
    kf->secret = tag == 0;
    if (rc == 0 && (!f[0].seen || !f[kf->secret ? 1 : 2].seen || f[kf->secret ? 2 : 1].seen))
        rc = lm_fail(d, LM_KEY_FORMAT, "%s: a %s key file needs exactly \"key-id\" and \"%s\"",
                     path, kf->secret ? "secret" : "public", kf->secret ? "seed" : "public");
    if (rc == 0 && kf->secret && (mode & 077))
        rc = lm_fail(d, LM_KEY_PERMS, "%s: secret key file has mode %04o, readable by others; "
                     "run: chmod 600 %s", path, mode, path);
    if (rc == 0) {
        kf->key_id = 0;
        for (int i = 0; i < 8; i++) /* written as the key id in hex, most significant first */
            kf->key_id = kf->key_id << 8 | id[i];
        memcpy(kf->value, kf->secret ? seed : pk, 32);
    }
    sodium_memzero(seed, sizeof seed);
    return rc;
}

/* Loads a key file into kp (secret files) or kp->pub (public files); checks the key id. */
static int load(const char *path, int need_secret, struct lm_keypair *kp, struct lm_diag *d)
{
    struct keyfile kf;
    int rc = read_keyfile(path, &kf, d);
    if (rc == 0 && need_secret && !kf.secret)
        rc = lm_fail(d, LM_KEY_FORMAT, "%s: a public key file, a secret key is needed", path);
    if (rc == 0 && kf.secret && lm_key_from_seed(kf.value, kp) != 0)
        rc = lm_fail(d, LM_CRYPTO, "%s: cannot derive the key pair", path);
    if (rc == 0 && !kf.secret) {
        memcpy(kp->pub.pk, kf.value, 32);
        kp->pub.key_id = lm_key_id(kf.value);
    }
    if (rc == 0 && kp->pub.key_id != kf.key_id)
        rc = lm_fail(d, LM_KEY_FORMAT, "%s: key-id %016llx does not match the key (%016llx)",
                     path, (unsigned long long)kf.key_id, (unsigned long long)kp->pub.key_id);
    sodium_memzero(&kf, sizeof kf);
    return rc;
}

int lm_key_load_secret(const char *path, struct lm_keypair *kp, struct lm_diag *d)
{
    memset(kp, 0, sizeof *kp);
    int rc = load(path, 1, kp, d);
    if (rc)
        sodium_memzero(kp, sizeof *kp);
    return rc;
}

int lm_key_load_public(const char *path, struct lm_pubkey *pub, struct lm_diag *d)
{
    struct lm_keypair kp;
    memset(&kp, 0, sizeof kp);
    int rc = load(path, 0, &kp, d);
    if (rc == 0)
        *pub = kp.pub;
    sodium_memzero(&kp, sizeof kp);
    return rc;
}
