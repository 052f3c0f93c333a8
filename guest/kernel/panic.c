/* Panic: report and end the VM. */
#include <stdarg.h>
#include <stdio.h>

#include "kernel.h"

#define EXIT_PANIC 2

void lm_panic(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    printf("PANIC: %s\n", n >= 0 ? buf : fmt);
    platform_exit(EXIT_PANIC);
}
