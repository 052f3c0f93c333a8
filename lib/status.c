/* Names and texts of status codes, and the diag helper every check reports through. */
#include <stdarg.h>
#include <stdio.h>

#include "laundromat/status.h"

const char *lm_status_text(int status)
{
    if (status < 0)
        status = -status;
    switch (status) {
#define LM_STATUS_TEXT(name, value, text)                                                  \
    case value:                                                                            \
        return text;
        LM_STATUS_TABLE(LM_STATUS_TEXT)
#undef LM_STATUS_TEXT
    }
    return "unknown status";
}

const char *lm_status_name(int status)
{
    if (status < 0)
        status = -status;
    switch (status) {
#define LM_STATUS_NAME(name, value, text)                                                  \
    case value:                                                                            \
        return #name;
        LM_STATUS_TABLE(LM_STATUS_NAME)
#undef LM_STATUS_NAME
    }
    return NULL;
}

int lm_fail(struct lm_diag *d, int status, const char *fmt, ...)
{
    if (d) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(d->msg, sizeof d->msg, fmt, ap);
        va_end(ap);
    }
    return -status;
}
