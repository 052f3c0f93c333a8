/* The one reader of image files: checked as the loader will check them, before anything is
 * bought, minted or sent, so that a bad file never costs a token. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "laundromat/boot.h"
#include "laundromat/elf.h"
#include "laundromat/hash.h"
#include "laundromat/payload.h"
#include "laundromat/util.h"
#include "lmctl.h"

void lmctl_image_free(struct lmctl_image *img)
{
    free(img->buf);
    img->buf = NULL;
    img->len = 0;
}

int lmctl_image_load(const char *path, const struct lm_token *t, enum lmctl_image_use use,
                     struct lmctl_image *img)
{
    static const struct lmctl_file_rule rule = {.what = "image",
                                                .kind = "an image is an ELF file",
                                                .min = 1,
                                                .max = LM_PAYLOAD_MAX,
                                                .regular = 1};
    memset(img, 0, sizeof *img);
    if (use == LMCTL_IMAGE_SEND && t && t->payload_kind != LM_PAYLOAD_IMAGE) {
        lmctl_err(
            "the token is for a checkpoint, not an image; checkpoints move with `lmctl migrate`");
        return -1;
    }
    if (lmctl_read_file(&rule, path, &img->buf, &img->len) != 0)
        return -1;
    if (lm_hash(LM_DOMAIN_IMAGE, img->buf, img->len, img->commitment) != 0) {
        lmctl_err("image %s: hashing failed", path);
        goto fail;
    }
    /* The loader places the image in the VM's RAM, above LM_KERNEL_MIN_GPA; without a token
     * the largest RAM a loader VM has bounds it. */
    uint64_t top = t ? (uint64_t)t->mem_mib << 20 : LM_LOADER_GPA;
    char vm[48] = "";
    if (t)
        snprintf(vm, sizeof vm, " of a %u MiB VM", (unsigned)t->mem_mib);
    struct lm_elf_image elf;
    struct lm_diag d;
    if (lm_elf_parse(img->buf, img->len, LM_KERNEL_MIN_GPA, top, &elf, &d) != 0) {
        if (use == LMCTL_IMAGE_SEND) {
            lmctl_err("image %s: %s; the loader%s would refuse it", path, d.msg, vm);
            goto fail;
        }
        fprintf(
            stderr,
            "lmctl: warning: image %s: %s; the loader%s will refuse it (the token commits to it all the same)\n",
            path, d.msg, vm);
    }
    if (use == LMCTL_IMAGE_SEND && t && memcmp(img->commitment, t->commitment, 32) != 0) {
        char got[65], want[65];
        lm_hex_encode(img->commitment, 32, got);
        lm_hex_encode(t->commitment, 32, want);
        lmctl_err(
            "image %s: BLAKE2b-256 %s, but the token commits to %s; the loader would refuse it (DIGEST_MISMATCH)",
            path, got, want);
        goto fail;
    }
    return 0;
fail:
    lmctl_image_free(img);
    return -1;
}

int lmctl_image_commitment(const char *path, struct lm_token *t)
{
    struct lmctl_image img;
    if (lmctl_image_load(path, t, LMCTL_IMAGE_COMMIT, &img) != 0)
        return -1;
    memcpy(t->commitment, img.commitment, sizeof t->commitment);
    lmctl_image_free(&img);
    return 0;
}
