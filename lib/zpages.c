/* ZPAGES bodies on the host side (lmctl checkpoint, checkpoint files): inflated with the
 * system's libzstd, as the loader will, to exactly the pages the record names. */
#include <zstd.h>

#include "laundromat/migrate.h"
#include "lm.h"

int lm_zpages_check(const struct lm_mig_rec *rec, struct lm_diag *d)
{
    static ZSTD_DCtx *dctx; /* one for the process: the tools are single-threaded */
    static uint8_t out[LM_MIG_PAGES_MAX * LM_MIG_PAGE];
    if (rec->type != LM_MIG_ZPAGES || rec->count == 0 || rec->count > LM_MIG_PAGES_MAX)
        return lm_fail(d, LM_BAD_RECORD, "not a ZPAGES record of 1 to %u pages", LM_MIG_PAGES_MAX);
    if (!dctx && !(dctx = ZSTD_createDCtx()))
        return lm_fail(d, LM_NOMEM, "no memory for a zstd context");
    size_t want = (size_t)rec->count * LM_MIG_PAGE;
    size_t got = ZSTD_decompressDCtx(dctx, out, want, rec->body, rec->body_len);
    if (ZSTD_isError(got))
        return lm_fail(d, LM_BAD_RECORD, "ZPAGES for pages [%llu, +%u) do not inflate: %s", (unsigned long long)rec->arg, rec->count, ZSTD_getErrorName(got));
    if (got != want)
        return lm_fail(d, LM_BAD_RECORD, "ZPAGES for pages [%llu, +%u) inflate to %zu bytes, expected %zu", (unsigned long long)rec->arg, rec->count, got, want);
    return 0;
}
