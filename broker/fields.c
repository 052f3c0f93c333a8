/* Checked fields of JSON request bodies: every refusal is a 400 naming the field and why. */
#include <inttypes.h>
#include <string.h>

#include "broker.h"
#include "laundromat/util.h"

int name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BROKER_NAME_MAX)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '.' || ch == '_' || ch == '-'))
            return 0;
    }
    return 1;
}

int vm_name_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > BROKER_VM_NAME_MAX || s[0] == '-')
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '-'))
            return 0;
    return 1;
}

int lower_hex_ok(const char *s, size_t digits)
{
    if (strlen(s) != digits)
        return 0;
    for (size_t i = 0; i < digits; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return 0;
    return 1;
}

int f_known(struct call *c, const char *const *names)
{
    const char *key;
    json_t *v;
    json_object_foreach(c->in, key, v)
    {
        int i;
        for (i = 0; names[i] && strcmp(names[i], key); i++)
            ;
        if (!names[i]) {
            char list[512] = "";
            for (i = 0; names[i]; i++)
                snprintf(list + strlen(list), sizeof list - strlen(list), "%s%s", i ? ", " : "",
                         names[i]);
            return call_fail(c, 400, "UNKNOWN_FIELD",
                             "unknown field \"%.40s\" in %s %s; the "
                             "fields are: %s",
                             key, c->method, c->path, list);
        }
    }
    return 0;
}

/* The field, or NULL when absent (then a 400 when required). */
static json_t *field(struct call *c, const char *name, int required, int *failed)
{
    json_t *v = json_object_get(c->in, name);
    *failed = 0;
    if ((!v || json_is_null(v)) && required) {
        *failed = 1;
        call_fail(c, 400, "MISSING_FIELD", "field \"%s\" is required in %s %s", name, c->method,
                  c->path);
    }
    return json_is_null(v) ? NULL : v;
}

int f_str(struct call *c, const char *name, int required, size_t maxlen, const char **out)
{
    int failed;
    json_t *v = field(c, name, required, &failed);
    *out = NULL;
    if (failed)
        return -1;
    if (!v)
        return 0;
    if (!json_is_string(v))
        return call_fail(c, 400, "BAD_FIELD", "field \"%s\" must be a string", name);
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v) || strlen(s) > maxlen)
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"%s\" must be a string of at most %zu "
                         "bytes without NUL",
                         name, maxlen);
    *out = s;
    return 0;
}

int f_name(struct call *c, const char *name, int required, char out[BROKER_NAME_MAX + 1])
{
    const char *s;
    out[0] = '\0';
    if (f_str(c, name, required, 256, &s) != 0)
        return -1;
    if (!s)
        return 0;
    if (!name_ok(s))
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"%s\": \"%.60s\" is not a name of 1 to %d "
                         "letters, digits, '.', '_' or '-'",
                         name, s, BROKER_NAME_MAX);
    strcpy(out, s);
    return 0;
}

int f_vm_name(struct call *c, const char *name, int required, char out[BROKER_VM_NAME_MAX + 1])
{
    const char *s;
    out[0] = '\0';
    if (f_str(c, name, required, 1024, &s) != 0)
        return -1;
    if (!s)
        return 0;
    if (!vm_name_ok(s))
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"%s\": \"%.80s\" is not a VM name: " BROKER_VM_NAME_RULE, name, s);
    strcpy(out, s);
    return 0;
}

int f_u64(struct call *c, const char *name, int required, uint64_t min, uint64_t max, uint64_t *out)
{
    int failed;
    json_t *v = field(c, name, required, &failed);
    if (failed)
        return -1;
    if (!v)
        return 0; /* *out keeps the caller's default */
    if (!json_is_integer(v) || json_integer_value(v) < 0 || (uint64_t)json_integer_value(v) < min ||
        (uint64_t)json_integer_value(v) > max)
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"%s\" must be an integer from %" PRIu64 " to %" PRIu64, name, min,
                         max);
    *out = (uint64_t)json_integer_value(v);
    return 0;
}

int f_hex(struct call *c, const char *name, int required, uint8_t *out, size_t n, int *present)
{
    const char *s;
    if (present)
        *present = 0;
    if (f_str(c, name, required, 4 * n, &s) != 0)
        return -1;
    if (!s)
        return 0;
    if (!lower_hex_ok(s, 2 * n) || lm_hex_decode(s, out, n) != 0)
        return call_fail(c, 400, "BAD_FIELD",
                         "field \"%s\" must be %zu lowercase hex digits, "
                         "got \"%.80s\"",
                         name, 2 * n, s);
    if (present)
        *present = 1;
    return 0;
}
