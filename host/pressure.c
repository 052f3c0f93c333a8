/*
 * The host's own load, for eviction when it needs the room (evict_mem_below, evict_load_above):
 * MemAvailable from /proc/meminfo and the 1-minute load average from /proc/loadavg. The text
 * is parsed by pure functions with explicit lengths (tests/unit/test_evict.c, fuzzed by
 * tests/fuzz/fuzz_pressure.c); reading the files and deciding are apart from them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "evilman.h"

#define MEMINFO_KEY "MemAvailable:"
#define MEM_KIB_MAX (1ull << 50) /* an exbibyte: more is garbage, and MiB * 1024 cannot wrap */
#define LOAD_INT_DIGITS 7        /* a load of ten million is garbage, not a busy host */

/* Up to 24 bytes of untrusted text for a message: printable ASCII kept, the rest as '?'. */
static const char *snippet(const char *p, size_t n, char out[28])
{
    size_t k = 0;
    for (; k < n && k < 24 && p[k] != '\n'; k++)
        out[k] = p[k] >= 0x20 && p[k] < 0x7f && p[k] != '"' ? p[k] : '?';
    out[k] = '\0';
    return out;
}

static bool is_blank(char ch)
{
    return ch == ' ' || ch == '\t';
}

int pressure_parse_meminfo(const char *text, size_t len, uint64_t *avail_kib, struct lm_diag *d)
{
    const size_t klen = sizeof MEMINFO_KEY - 1;
    const char *found = NULL;
    for (size_t at = 0; at < len;) {
        const char *nl = memchr(text + at, '\n', len - at);
        size_t end = nl ? (size_t)(nl - text) : len;
        if (end - at >= klen && memcmp(text + at, MEMINFO_KEY, klen) == 0) {
            if (found) /* two answers: trust neither */
                return lm_fail(d, LM_INVAL, "/proc/meminfo: two MemAvailable lines");
            found = text + at;
        }
        at = end + 1;
    }
    if (!found)
        return lm_fail(d, LM_INVAL,
                       "/proc/meminfo: no MemAvailable line (kernels before 3.14 have none)");
    const char *p = found + klen, *e = text + len, *nl = memchr(p, '\n', (size_t)(e - p));
    if (nl)
        e = nl;
    char s[28];
    snippet(p, (size_t)(e - p), s);
    while (p < e && is_blank(*p))
        p++;
    uint64_t kib = 0;
    const char *digits = p;
    for (; p < e && *p >= '0' && *p <= '9'; p++) {
        kib = kib * 10 + (uint64_t)(*p - '0');
        if (kib > MEM_KIB_MAX)
            return lm_fail(d, LM_INVAL, "/proc/meminfo: MemAvailable \"%s\": more than 2^50 kB", s);
    }
    if (p == digits)
        return lm_fail(d, LM_INVAL, "/proc/meminfo: MemAvailable \"%s\": expected a number of kB",
                       s);
    while (p < e && is_blank(*p))
        p++;
    if (e - p < 2 || memcmp(p, "kB", 2) != 0)
        return lm_fail(d, LM_INVAL,
                       "/proc/meminfo: MemAvailable \"%s\": expected the unit kB after the number",
                       s);
    for (p += 2; p < e && is_blank(*p); p++)
        ;
    if (p != e)
        return lm_fail(d, LM_INVAL, "/proc/meminfo: MemAvailable \"%s\": more after its kB", s);
    *avail_kib = kib;
    return 0;
}

int pressure_parse_loadavg(const char *text, size_t len, uint64_t *centi, struct lm_diag *d)
{
    char s[28];
    snippet(text, len, s);
    size_t i = 0;
    uint64_t whole = 0, frac = 0;
    for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
        if (i == LOAD_INT_DIGITS)
            return lm_fail(d, LM_INVAL,
                           "/proc/loadavg \"%s\": a load average of more than %d digits", s,
                           LOAD_INT_DIGITS);
        whole = whole * 10 + (uint64_t)(text[i] - '0');
    }
    if (i == 0)
        return lm_fail(
            d, LM_INVAL,
            "/proc/loadavg \"%s\": expected the 1-minute load average first, such as 0.52", s);
    if (i < len && text[i] == '.') {
        size_t f0 = ++i;
        for (; i < len && text[i] >= '0' && text[i] <= '9'; i++) {
            if (i - f0 == 2)
                return lm_fail(d, LM_INVAL, "/proc/loadavg \"%s\": more than two decimals", s);
            frac = frac * 10 + (uint64_t)(text[i] - '0');
        }
        if (i == f0)
            return lm_fail(d, LM_INVAL, "/proc/loadavg \"%s\": expected digits after the point", s);
        if (i - f0 == 1)
            frac *= 10; /* "0.5": fifty hundredths */
    }
    if (i < len && !is_blank(text[i]) && text[i] != '\n')
        return lm_fail(d, LM_INVAL,
                       "/proc/loadavg \"%s\": expected a space after the 1-minute load average", s);
    *centi = whole * 100 + frac;
    return 0;
}

/* Up to cap bytes of a /proc file; the count, or -1 with errno set. */
static ssize_t read_proc(const char *path, char *buf, size_t cap)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t n = 0;
    ssize_t r = 0;
    while (n < cap && (r = read(fd, buf + n, cap - n)) > 0)
        n += (size_t)r;
    int err = errno;
    close(fd);
    errno = err;
    return r < 0 ? -1 : (ssize_t)n;
}

void pressure_read(const struct em_config *c, struct host_load *l, struct lm_diag *mem_why,
                   struct lm_diag *load_why)
{
    memset(l, 0, sizeof *l);
    char buf[16384]; /* MemAvailable is the third line; a long file's tail is not needed */
    if (c->evict_mem_below_mib) {
        ssize_t n = read_proc("/proc/meminfo", buf, sizeof buf);
        if (n < 0)
            lm_fail(mem_why, LM_IO, "/proc/meminfo: %s", strerror(errno));
        else if (pressure_parse_meminfo(buf, (size_t)n, &l->mem_available_kib, mem_why) == 0)
            l->has_mem = true;
    }
    if (c->evict_load_above_centi) {
        ssize_t n = read_proc("/proc/loadavg", buf, 256);
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        if (n < 0)
            lm_fail(load_why, LM_IO, "/proc/loadavg: %s", strerror(errno));
        else if (pressure_parse_loadavg(buf, (size_t)n, &l->load1_centi, load_why) == 0)
            l->has_load = true;
        l->cpus = cpus > 0 ? (unsigned)cpus : 1;
    }
}

bool pressure_check(const struct em_config *c, const struct host_load *l, char *why, size_t cap)
{
    uint64_t below_kib = c->evict_mem_below_mib * 1024; /* at most 2^30 MiB: no wrap */
    if (c->evict_mem_below_mib && l->has_mem && l->mem_available_kib < below_kib) {
        snprintf(why, cap, "host MemAvailable %llu MiB is below evict_mem_below = %llu MiB",
                 (unsigned long long)(l->mem_available_kib / 1024),
                 (unsigned long long)c->evict_mem_below_mib);
        return true;
    }
    /* Per CPU in whole hundredths, rounded down: the figure shown is the one compared. */
    uint64_t per_cpu = l->cpus ? l->load1_centi / l->cpus : l->load1_centi;
    if (c->evict_load_above_centi && l->has_load && per_cpu > c->evict_load_above_centi) {
        snprintf(
            why, cap,
            "host load average %llu.%02llu over %u CPUs is %llu.%02llu per CPU, above evict_load_above = %llu.%02llu",
            (unsigned long long)(l->load1_centi / 100), (unsigned long long)(l->load1_centi % 100),
            l->cpus ? l->cpus : 1, (unsigned long long)(per_cpu / 100),
            (unsigned long long)(per_cpu % 100),
            (unsigned long long)(c->evict_load_above_centi / 100),
            (unsigned long long)(c->evict_load_above_centi % 100));
        return true;
    }
    return false;
}
