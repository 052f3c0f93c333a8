/* Client bytes made safe to echo in a JSON reply: what is not UTF-8 is shown as \xNN. */
#include <stdio.h>
#include <string.h>

#include "broker.h"

/* Length of the well-formed UTF-8 sequence at s (RFC 3629: no overlong forms, surrogates or
 * code points above U+10FFFF, as jansson requires), or 0. */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], cp, min;
    size_t n;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2, cp = c & 0x1f, min = 0x80;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3, cp = c & 0x0f, min = 0x800;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4, cp = c & 0x07, min = 0x10000;
    else
        return 0;
    for (size_t i = 1; i < n; i++) {
        if ((s[i] & 0xc0) != 0x80) /* also stops at the NUL of a cut sequence */
            return 0;
        cp = cp << 6 | (s[i] & 0x3f);
    }
    if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        return 0;
    return n;
}

size_t echo_clean(char *dst, size_t cap, const char *src)
{
    size_t o = 0;
    if (!cap)
        return 0;
    for (const unsigned char *s = (const unsigned char *)src; *s;) {
        size_t n = utf8_seq(s), len = n;
        char esc[5];
        const char *from = (const char *)s;
        if (!n) {
            snprintf(esc, sizeof esc, "\\x%02x", *s);
            from = esc;
            len = 4;
            n = 1;
        }
        if (o + len >= cap) /* cut between sequences, never inside one */
            break;
        memcpy(dst + o, from, len);
        o += len;
        s += n;
    }
    dst[o] = '\0';
    return o;
}
