/* Leveled logging to stderr, one write(2) per line. */
#include <stdarg.h>
#include <stdio.h>
#include <unistd.h>

#include "laundromat/log.h"

static const char *log_prog = "laundromat";
static enum lm_log_level log_max = LM_LOG_INFO;

void lm_log_init(const char *prog, enum lm_log_level max)
{
    log_prog = prog;
    log_max = max;
}

void lm_log(enum lm_log_level level, const char *fmt, ...)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    if (level > log_max)
        return;
    char buf[1024];
    int n = snprintf(buf, sizeof buf, "%s: %s: ", log_prog, names[level]);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof buf - 2)
        len = sizeof buf - 2;
    buf[len++] = '\n';
    ssize_t w = write(STDERR_FILENO, buf, len);
    (void)w;
}
