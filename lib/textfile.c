/* Reader and writer of the small text record files that hold keys and chain seeds. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "laundromat/util.h"
#include "lm.h"

#define TEXTFILE_MAX 4096

int lm_textfile_write(const char *path, mode_t mode, const char *text, struct lm_diag *d)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    if (fd < 0)
        return lm_fail(d, LM_IO, "%s: %s%s", path, strerror(errno),
                       errno == EEXIST ? "; refusing to overwrite, remove it first" : "");
    size_t n = strlen(text);
    int ok = fchmod(fd, mode) == 0 && write(fd, text, n) == (ssize_t)n && fsync(fd) == 0;
    int err = errno;
    if (close(fd) != 0 && ok) {
        ok = 0;
        err = errno;
    }
    if (!ok) {
        unlink(path);
        return lm_fail(d, LM_IO, "%s: write failed: %s", path, strerror(err));
    }
    return 0;
}

static int parse_value(struct lm_field *f, const char *v)
{
    if (f->kind == LM_F_HEX)
        return lm_hex_decode(v, f->dst, f->len);
    char *end;
    errno = 0;
    unsigned long x = strtoul(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x > UINT32_MAX)
        return -LM_INVAL;
    *(uint32_t *)f->dst = (uint32_t)x;
    return 0;
}

static int parse(char *buf, const char *path, const char *const *tags, int *tag,
                 struct lm_field *f, size_t nf, struct lm_diag *d)
{
    int lineno = 0;
    *tag = -1;
    for (char *line = buf, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next)
            *next++ = '\0';
        lineno++;
        size_t l = strlen(line);
        if (l && line[l - 1] == '\r')
            line[--l] = '\0';
        if (l == 0 || line[0] == '#')
            continue;
        if (*tag < 0) {
            for (int i = 0; tags[i]; i++)
                if (strcmp(line, tags[i]) == 0)
                    *tag = i;
            if (*tag < 0)
                return lm_fail(d, LM_KEY_FORMAT, "%s:%d: expected the line \"%s\"", path, lineno,
                               tags[0]);
            continue;
        }
        char *sp = strchr(line, ' ');
        struct lm_field *hit = NULL;
        for (size_t i = 0; sp && i < nf; i++)
            if ((size_t)(sp - line) == strlen(f[i].name) &&
                strncmp(line, f[i].name, (size_t)(sp - line)) == 0)
                hit = &f[i];
        if (!hit)
            return lm_fail(d, LM_KEY_FORMAT, "%s:%d: unknown line \"%.40s\"", path, lineno, line);
        if (hit->seen)
            return lm_fail(d, LM_KEY_FORMAT, "%s:%d: \"%s\" given twice", path, lineno, hit->name);
        if (parse_value(hit, sp + 1) != 0)
            return lm_fail(d, LM_KEY_FORMAT, "%s:%d: bad value for \"%s\" (%s expected)", path,
                           lineno, hit->name,
                           hit->kind == LM_F_HEX ? "hex digits" : "a decimal number");
        hit->seen = 1;
    }
    if (*tag < 0)
        return lm_fail(d, LM_KEY_FORMAT, "%s: empty, expected the line \"%s\"", path, tags[0]);
    return 0;
}

int lm_textfile_read(const char *path, const char *const *tags, int *tag, struct lm_field *f,
                     size_t nf, unsigned *mode, struct lm_diag *d)
{
    char buf[TEXTFILE_MAX + 1];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return lm_fail(d, LM_IO, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return lm_fail(d, LM_IO, "%s: not a regular file", path);
    }
    *mode = (unsigned)(st.st_mode & 07777);
    ssize_t n = read(fd, buf, TEXTFILE_MAX + 1);
    int err = errno;
    close(fd);
    if (n < 0)
        return lm_fail(d, LM_IO, "%s: %s", path, strerror(err));
    if (n > TEXTFILE_MAX)
        return lm_fail(d, LM_KEY_FORMAT, "%s: larger than %d bytes", path, TEXTFILE_MAX);
    buf[n] = '\0';
    int rc = memchr(buf, '\0', (size_t)n) ? lm_fail(d, LM_KEY_FORMAT, "%s: holds a NUL byte", path)
                                          : parse(buf, path, tags, tag, f, nf, d);
    sodium_memzero(buf, sizeof buf);
    return rc;
}
