/* The HTTP/1.1 message framing the broker accepts (RFC 9112 §6), checked on a request's head
 * before any of its body is read: one way to find where the body ends, or a refusal. */
#include <microhttpd.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "broker.h"

struct heads {
    unsigned content_length, transfer_encoding;
    const char *coding; /* the first Transfer-Encoding value */
    const char *bad_name;
};

/* A field name is a token (RFC 9110 §5.1, §5.6.2): no whitespace, no separators. */
static int token_ok(const char *s)
{
    if (!*s)
        return 0;
    for (; *s; s++)
        if (!(*s > 0x20 && *s < 0x7f && !strchr("\"(),/:;<=>?@[\\]{}", *s)))
            return 0;
    return 1;
}

static enum MHD_Result count(void *cls, enum MHD_ValueKind kind, const char *key, const char *value)
{
    (void)kind;
    struct heads *h = cls;
    if (!token_ok(key)) {
        if (!h->bad_name)
            h->bad_name = key;
    } else if (!strcasecmp(key, "Content-Length")) {
        h->content_length++;
    } else if (!strcasecmp(key, "Transfer-Encoding")) {
        if (!h->transfer_encoding++)
            h->coding = value ? value : "";
    }
    return MHD_YES;
}

int framing_check(struct MHD_Connection *conn, struct call *c)
{
    struct heads h = {0};
    char shown[64];
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count, &h);
    if (h.bad_name) {
        echo_clean(shown, sizeof shown, h.bad_name);
        return call_fail(
            c, 400, "BAD_HEADER",
            "header name \"%s\" is not a token (whitespace before the colon, or a separator); send \"Name: value\"",
            shown);
    }
    if (h.content_length > 1)
        return call_fail(c, 400, "BAD_FRAMING",
                         "%u Content-Length headers: the body's length is ambiguous; send one",
                         h.content_length);
    if (h.transfer_encoding && h.content_length)
        return call_fail(
            c, 400, "BAD_FRAMING",
            "both Content-Length and Transfer-Encoding: the body's length is ambiguous; send one of them");
    if (h.transfer_encoding > 1)
        return call_fail(c, 400, "BAD_FRAMING",
                         "%u Transfer-Encoding headers; send one, \"Transfer-Encoding: chunked\"",
                         h.transfer_encoding);
    if (h.transfer_encoding && strcasecmp(h.coding, "chunked")) {
        echo_clean(shown, sizeof shown, h.coding);
        return call_fail(
            c, 501, "UNKNOWN_TRANSFER_CODING",
            "Transfer-Encoding \"%s\" is not supported; send the body with Content-Length or \"Transfer-Encoding: chunked\"",
            shown);
    }
    return 0;
}
