/* strtoul, strtol, atoi and abs of the guest libc, with C11's base, sign and overflow rules. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

/* The value of digit c in bases up to 36, or 36 when c is no digit at all. */
static int digit_value(int c)
{
    if (isdigit(c))
        return c - '0';
    if (islower(c))
        return c - 'a' + 10;
    if (isupper(c))
        return c - 'A' + 10;
    return 36;
}

/*
 * The part strtoul and strtol share: space, sign, base prefix and digits. Returns the magnitude
 * (ULONG_MAX when it does not fit, with *overflow set) and sets *negative. With no digits at
 * all, *endptr is nptr and the result 0, as C11 says.
 */
static unsigned long parse(const char *nptr, char **endptr, int base, int *negative, int *overflow)
{
    const char *s = nptr;
    unsigned long v = 0;
    int any = 0;

    *negative = 0;
    *overflow = 0;
    if (base < 0 || base == 1 || base > 36) {
        errno = EINVAL;
        if (endptr != NULL)
            *endptr = (char *)nptr;
        return 0;
    }
    while (isspace((unsigned char)*s))
        s++;
    if (*s == '+' || *s == '-')
        *negative = *s++ == '-';
    /* "0x" is a prefix only when a hex digit follows; else the 0 is the number, x the end. */
    if ((base == 0 || base == 16) && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
        isxdigit((unsigned char)s[2])) {
        s += 2;
        base = 16;
    } else if (base == 0) {
        base = s[0] == '0' ? 8 : 10;
    }
    for (;; s++) {
        int d = digit_value((unsigned char)*s);
        if (d >= base)
            break;
        any = 1;
        if (v > (ULONG_MAX - (unsigned long)d) / (unsigned long)base)
            *overflow = 1;
        else
            v = v * (unsigned long)base + (unsigned long)d;
    }
    if (endptr != NULL)
        *endptr = (char *)(any ? s : nptr);
    return *overflow ? ULONG_MAX : v;
}

unsigned long strtoul(const char *restrict nptr, char **restrict endptr, int base)
{
    int negative, overflow;
    unsigned long v = parse(nptr, endptr, base, &negative, &overflow);

    if (overflow) {
        errno = ERANGE;
        return ULONG_MAX;
    }
    /* C11: a minus sign negates the value in the unsigned type, so "-1" is ULONG_MAX. */
    return negative ? 0 - v : v;
}

long strtol(const char *restrict nptr, char **restrict endptr, int base)
{
    int negative, overflow;
    unsigned long v = parse(nptr, endptr, base, &negative, &overflow);
    unsigned long limit = negative ? (unsigned long)LONG_MAX + 1 : (unsigned long)LONG_MAX;

    if (overflow || v > limit) {
        errno = ERANGE;
        return negative ? LONG_MIN : LONG_MAX;
    }
    if (!negative)
        return (long)v;
    return v == limit ? LONG_MIN : -(long)v;
}

int atoi(const char *s)
{
    return (int)strtol(s, NULL, 10);
}

int abs(int x)
{
    return x < 0 ? -x : x;
}
