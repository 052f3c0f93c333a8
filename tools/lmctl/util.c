/* Helpers shared by lmctl's commands: errors, number and hex arguments, bounded file reads. */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

const char *lmctl_fmt_size(uint64_t n, char out[32])
{
    if (n && n % (1u << 20) == 0)
        snprintf(out, 32, "%llu MiB", (unsigned long long)(n >> 20));
    else if (n && n % 1024 == 0)
        snprintf(out, 32, "%llu KiB", (unsigned long long)(n >> 10));
    else
        snprintf(out, 32, "%llu bytes", (unsigned long long)n);
    return out;
}

static int file_refused(const struct lmctl_file_rule *r, const char *path, const char *cause)
{
    char max[32];
    lmctl_err("%s %s: %s; %s of at most %s", r->what, path, cause, r->kind,
              lmctl_fmt_size(r->max, max));
    return -1;
}

int lmctl_read_file(const struct lmctl_file_rule *r, const char *path, uint8_t **buf, size_t *len)
{
    int in = !r->regular && !strcmp(path, "-");
    int fd = in ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    char cause[64] = "";
    *buf = NULL;
    if (fd < 0 || fstat(fd, &st) < 0) {
        snprintf(cause, sizeof cause, "cannot read it: %s", strerror(errno));
        if (fd >= 0)
            close(fd);
        return file_refused(r, path, cause);
    }
    /* A regular file's size is known before a byte is read; a stream is cut at max + 1. */
    if (S_ISDIR(st.st_mode))
        snprintf(cause, sizeof cause, "a directory");
    else if (r->regular && !S_ISREG(st.st_mode))
        snprintf(cause, sizeof cause, "not a regular file");
    else if (S_ISREG(st.st_mode) &&
             ((uint64_t)st.st_size < r->min || (uint64_t)st.st_size > r->max))
        snprintf(cause, sizeof cause, "%lld bytes", (long long)st.st_size);
    size_t cap = S_ISREG(st.st_mode) ? (size_t)st.st_size + 1 : 65536, got = 0;
    uint8_t *b = cause[0] ? NULL : malloc(cap + 1);
    while (b && got < cap && got <= r->max) {
        ssize_t n = read(fd, b + got, cap - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(cause, sizeof cause, "read failed: %s", strerror(errno));
            break;
        }
        if (n == 0)
            break;
        got += (size_t)n;
        if (got == cap && got <= r->max) {
            size_t ncap = cap * 2 > r->max + 1 ? r->max + 1 : cap * 2;
            uint8_t *nb = ncap > cap ? realloc(b, ncap + 1) : b;
            if (!nb) {
                snprintf(cause, sizeof cause, "out of memory");
                break;
            }
            b = nb;
            cap = ncap;
        }
    }
    if (!in)
        close(fd);
    char max[32];
    if (!cause[0] && !b)
        snprintf(cause, sizeof cause, "out of memory");
    else if (!cause[0] && got > r->max)
        snprintf(cause, sizeof cause, "more than %s", lmctl_fmt_size(r->max, max));
    else if (!cause[0] && got < r->min)
        snprintf(cause, sizeof cause, "%zu bytes", got);
    if (cause[0]) {
        free(b);
        return file_refused(r, path, cause);
    }
    b[got] = '\0';
    *buf = b;
    *len = got;
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
