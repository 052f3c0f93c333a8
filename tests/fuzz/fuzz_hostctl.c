/*
 * The control socket's command lines (lib/hostctl.c): whatever a client sends, the agent's
 * parser either refuses it with a reason or yields a command that the formatter writes back
 * as the same line (one spelling per command), and that parses to the same command again.
 */
#include <stdlib.h>
#include <string.h>

#include "laundromat/hostctl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *line = malloc(size ? size : 1); /* exact size: ASan sees a read past the end */
    if (!line)
        return 0;
    memcpy(line, data, size);
    struct lm_hostctl_cmd c, again;
    struct lm_diag d = {{0}};
    memset(&c, 0xa5, sizeof c);
    int rc = lm_hostctl_parse(line, size, &c, &d);
    if (rc != 0) { /* refused with a reason, the command untouched */
        if (rc != -LM_INVAL || !d.msg[0] || !memchr(d.msg, '\0', sizeof d.msg) ||
            c.vm != 0xa5a5a5a5a5a5a5a5ull)
            abort();
        free(line);
        return 0;
    }
    if (c.op < LM_HOSTCTL_STATUS || c.op > LM_HOSTCTL_EVICT)
        abort();
    char out[LM_HOSTCTL_LINE_MAX];
    int n = lm_hostctl_format(&c, out, sizeof out);
    if (n <= 0 || out[n - 1] != '\n')
        abort();
    /* The same line, but for the newline the client may leave out or send as \r\n. */
    size_t body = size;
    while (body && (line[body - 1] == '\n' || line[body - 1] == '\r'))
        body--;
    if ((size_t)n - 1 != body || memcmp(out, line, body) != 0)
        abort();
    if (lm_hostctl_parse(out, (size_t)n, &again, NULL) != 0 || again.op != c.op ||
        again.vm != c.vm || again.within_ms != c.within_ms)
        abort();
    free(line);
    return 0;
}
