/* libFuzzer target: secret key, public key and chain file loaders on arbitrary file contents. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fixtures.h"
#include "laundromat/chain.h"
#include "laundromat/keys.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Chains at most this long are loaded a second time with the anchor check (it costs n hashes). */
#define CHECK_MAX_LEN 4096u

static void check_failure(int rc, const struct lm_diag *d)
{
    if (rc >= 0 || lm_status_name(rc) == NULL || !fz_diag_terminated(d))
        abort();
}

/* A loader that accepted a file at 0600 must refuse it once group or others can read it. */
static void check_perms_refused(const char *path, int secret_key)
{
    struct lm_keypair kp;
    struct lm_chain_secret cs;
    struct lm_diag d;
    if (chmod(path, 0640) != 0)
        abort();
    memset(&d, 'x', sizeof d);
    int rc = secret_key ? lm_key_load_secret(path, &kp, &d) : lm_chainfile_load(path, 0, &cs, &d);
    if (rc != -LM_KEY_PERMS || !fz_diag_terminated(&d) || chmod(path, 0600) != 0)
        abort();
}

static void load_all(const char *path)
{
    struct lm_keypair kp;
    struct lm_pubkey pub;
    struct lm_chain_secret cs;
    struct lm_diag d;

    memset(&d, 'x', sizeof d);
    int src = lm_key_load_secret(path, &kp, &d);
    if (src != 0) {
        check_failure(src, &d);
    } else {
        /* The key pair must be the one its seed derives, under the id its key gives. */
        struct lm_keypair again;
        if (kp.pub.key_id != lm_key_id(kp.pub.pk) || lm_key_from_seed(kp.seed, &again) != 0 ||
            memcmp(again.pub.pk, kp.pub.pk, 32) != 0 || memcmp(again.sk, kp.sk, 64) != 0)
            abort();
        check_perms_refused(path, 1);
    }

    memset(&d, 'x', sizeof d);
    int prc = lm_key_load_public(path, &pub, &d);
    if (prc != 0) {
        check_failure(prc, &d);
        /* A readable secret key file also serves its public half. */
        if (src == 0)
            abort();
    } else {
        if (pub.key_id != lm_key_id(pub.pk))
            abort();
        if (src == 0 && (pub.key_id != kp.pub.key_id || memcmp(pub.pk, kp.pub.pk, 32) != 0))
            abort();
    }

    memset(&d, 'x', sizeof d);
    int crc = lm_chainfile_load(path, 0, &cs, &d);
    if (crc != 0) {
        check_failure(crc, &d);
        return;
    }
    if (cs.length == 0 || cs.length > LM_MAX_CHAIN_LEN)
        abort();
    check_perms_refused(path, 0);
    if (cs.length <= CHECK_MAX_LEN) {
        /* With the check, the file loads exactly when its anchor is H^length(seed). */
        uint8_t anchor[LM_HASH_BYTES];
        struct lm_chain_secret cc;
        if (lm_chain_link(cs.seed, cs.length, 0, anchor) != 0)
            abort();
        int consistent = memcmp(anchor, cs.anchor, LM_HASH_BYTES) == 0;
        memset(&d, 'x', sizeof d);
        int rc = lm_chainfile_load(path, 1, &cc, &d);
        if (consistent ? rc != 0 || memcmp(&cc, &cs, sizeof cs) != 0 : rc != -LM_KEY_FORMAT)
            abort();
        if (rc != 0)
            check_failure(rc, &d);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char path[] = "/tmp/lm-fuzz-keyfile-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0)
        abort();
    size_t off = 0;
    while (off < size) {
        ssize_t n = write(fd, data + off, size - off);
        if (n <= 0)
            abort();
        off += (size_t)n;
    }
    if (fchmod(fd, 0600) != 0 || close(fd) != 0)
        abort();
    load_all(path);
    unlink(path);
    return 0;
}
