/* Helpers shared by lmctl's commands: errors, number and hex arguments, token files. */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "laundromat/chain.h"
#include "laundromat/util.h"
#include "lmctl.h"

void lmctl_err(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("lmctl: error: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

int lmctl_u64(const char *opt, const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *end || s[0] == '-' || v < min || v > max) {
        lmctl_err("%s: \"%s\" is not a number from %llu to %llu", opt, s,
                  (unsigned long long)min, (unsigned long long)max);
        return -1;
    }
    *out = v;
    return 0;
}

int lmctl_hex(const char *opt, const char *s, uint8_t *out, size_t n)
{
    if (lm_hex_decode(s, out, n) != 0) {
        lmctl_err("%s: expected %zu hex digits, got \"%.80s\"", opt, 2 * n, s);
        return -1;
    }
    return 0;
}

int lmctl_read_token(const char *path, uint8_t *buf, size_t cap, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    if (!f) {
        lmctl_err("%s: %s", path, strerror(errno));
        return -1;
    }
    /* Hex text is twice the size of the bytes it holds, plus some white space. */
    size_t rawcap = 2 * cap + 64;
    uint8_t *raw = malloc(rawcap);
    size_t n = raw ? fread(raw, 1, rawcap, f) : 0;
    int err = ferror(f);
    if (f != stdin)
        fclose(f);
    if (!raw || err) {
        lmctl_err("%s: read failed", path);
        free(raw);
        return -1;
    }
    /* Hex text: keep the digits, drop white space; anything else means raw bytes. */
    size_t digits = 0;
    for (size_t i = 0; i < n; i++) {
        if (!isxdigit(raw[i]) && !isspace(raw[i])) {
            digits = 0;
            break;
        }
        digits += isxdigit(raw[i]) != 0;
    }
    if (digits > 0 && digits % 2 == 0) {
        char pair[3] = {0, 0, 0};
        size_t o = 0, k = 0;
        for (size_t i = 0; i < n && o < cap; i++) {
            if (isspace(raw[i]))
                continue;
            pair[k++] = (char)raw[i];
            if (k == 2) {
                lm_hex_decode(pair, &buf[o++], 1);
                k = 0;
            }
        }
        *len = digits / 2;
    } else {
        *len = n;
        memcpy(buf, raw, n < cap ? n : cap);
    }
    free(raw);
    if (*len > cap)
        *len = cap; /* still more than any token: the decoder reports trailing bytes */
    return 0;
}

int lmctl_chain_option(const char *path, struct lm_token *t)
{
    struct lm_chain_secret cs;
    struct lm_diag d;
    if (lm_chainfile_load(path, 0, &cs, &d) != 0) {
        lmctl_err("--chain: %s", d.msg);
        return -1;
    }
    memcpy(t->anchor, cs.anchor, LM_HASH_BYTES);
    t->chain_len = cs.length;
    sodium_memzero(&cs, sizeof cs);
    return 0;
}

const char *lmctl_token_options_missing(const char *scope, int have_commit, int have_chain,
                                        int have_anchor, int have_len, uint32_t prepaid,
                                        int extra_args)
{
    return !scope                                   ? "--host NAME or --cluster NAME"
           : have_commit != 1                       ? "one of --image FILE and --commitment HEX"
           : have_chain && (have_anchor || have_len) ? "--chain without --anchor/--chain-len"
           : have_anchor != have_len                ? "--anchor and --chain-len together"
           : !have_chain && !have_anchor && !prepaid ? "a chain (--chain or --anchor) or --prepaid N"
           : extra_args                             ? "no positional arguments"
                                                    : NULL;
}
