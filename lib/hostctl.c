/* The control socket's command lines (include/laundromat/hostctl.h): written by lmctl and
 * tools, read by Evil Man. */
#include <stdio.h>
#include <string.h>

#include "laundromat/hostctl.h"

int lm_hostctl_format(const struct lm_hostctl_cmd *c, char *out, size_t cap)
{
    int n;
    switch (c->op) {
    case LM_HOSTCTL_STATUS: n = snprintf(out, cap, "status\n"); break;
    case LM_HOSTCTL_LS: n = snprintf(out, cap, "ls\n"); break;
    case LM_HOSTCTL_KILL: n = snprintf(out, cap, "kill %llu\n", (unsigned long long)c->vm); break;
    case LM_HOSTCTL_EVICT:
        n = snprintf(out, cap, "evict %llu %llu\n", (unsigned long long)c->vm,
                     (unsigned long long)c->within_ms);
        break;
    default: return -LM_INVAL;
    }
    return n < 0 || (size_t)n >= cap ? -LM_INVAL : n;
}

/* A decimal number of s[*at..len) up to the next space or the end: 0, or -1. */
static int number(const char *s, size_t len, size_t *at, uint64_t *out)
{
    size_t i = *at;
    uint64_t v = 0;
    if (i >= len || s[i] < '0' || s[i] > '9' || (s[i] == '0' && i + 1 < len && s[i + 1] != ' '))
        return -1;
    for (; i < len && s[i] != ' '; i++) {
        unsigned digit = (unsigned)(s[i] - '0');
        if (s[i] < '0' || s[i] > '9' || v > (UINT64_MAX - digit) / 10)
            return -1;
        v = v * 10 + digit;
    }
    *at = i;
    *out = v;
    return 0;
}

int lm_hostctl_parse(const char *line, size_t len, struct lm_hostctl_cmd *c, struct lm_diag *d)
{
    if (len && line[len - 1] == '\n')
        len--;
    if (len && line[len - 1] == '\r')
        len--;
    static const struct {
        const char *word;
        enum lm_hostctl_op op;
        unsigned nums;
    } ops[] = {{"status", LM_HOSTCTL_STATUS, 0}, {"ls", LM_HOSTCTL_LS, 0},
               {"kill", LM_HOSTCTL_KILL, 1}, {"evict", LM_HOSTCTL_EVICT, 2}};
    for (size_t k = 0; k < sizeof ops / sizeof ops[0]; k++) {
        size_t w = strlen(ops[k].word);
        if (len < w || memcmp(line, ops[k].word, w) != 0 || (len > w && line[w] != ' '))
            continue;
        struct lm_hostctl_cmd r = {.op = ops[k].op};
        uint64_t *nums[2] = {&r.vm, &r.within_ms};
        size_t at = w;
        for (unsigned i = 0; i < ops[k].nums; i++) {
            if (at >= len || line[at] != ' ')
                goto wrong;
            at++;
            if (number(line, len, &at, nums[i]) != 0)
                goto wrong;
        }
        if (at != len)
            goto wrong;
        *c = r;
        return 0;
    wrong:
        return lm_fail(d, LM_INVAL, "%s: expected %s%s", ops[k].word, ops[k].word,
                       ops[k].nums == 0 ? " alone" : ops[k].nums == 1 ? " ID" : " ID MS");
    }
    return lm_fail(d, LM_INVAL, "unknown command (" LM_HOSTCTL_USAGE ")");
}
