/* The broker's configuration file: "name = value" lines, comments with '#'. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "broker.h"

void config_defaults(struct broker_config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    strcpy(cfg->listen, "127.0.0.1:8480");
    strcpy(cfg->database, "broker.db");
    cfg->max_skew_s = 300;
    cfg->settlement_grace_s = 3600;
    cfg->sweep_interval_s = 60;
    cfg->max_body = 65536;
    cfg->max_ttl_s = 30 * 86400;
    cfg->max_connections = 256;
    cfg->max_per_address = 32;
    cfg->request_timeout_s = 10;
    cfg->log_level = LM_LOG_INFO;
}

/* A path from the file: absolute as it is, relative to the file's directory otherwise. */
static int set_path(char *dst, const char *dir, const char *v)
{
    int n = v[0] == '/' || !dir[0] ? snprintf(dst, PATH_MAX, "%s", v)
                                   : snprintf(dst, PATH_MAX, "%s/%s", dir, v);
    return n > 0 && n < PATH_MAX ? 0 : -1;
}

static int set_u32(uint32_t *dst, const char *v, uint32_t min, uint32_t max)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < min || x > max)
        return -1;
    *dst = (uint32_t)x;
    return 0;
}

int config_load(const char *path, struct broker_config *cfg, struct lm_diag *d)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return lm_fail(d, LM_IO, "%s: %s", path, strerror(errno));
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = '\0';
    else
        dir[0] = '\0';
    char line[PATH_MAX + 64];
    unsigned seen = 0;
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof line, f)) {
        lineno++;
        if (!strchr(line, '\n') && !feof(f)) {
            rc = lm_fail(d, LM_INVAL, "%s:%d: line too long", path, lineno);
            break;
        }
        char *s = line + strspn(line, " \t");
        s[strcspn(s, "\r\n")] = '\0';
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = lm_fail(d, LM_INVAL, "%s:%d: expected \"name = value\", got \"%.60s\"", path,
                         lineno, s);
            break;
        }
        char *name = s, *v = eq + 1, *e = eq;
        while (e > name && (e[-1] == ' ' || e[-1] == '\t'))
            e--;
        *e = '\0';
        v += strspn(v, " \t");
        for (e = v + strlen(v); e > v && (e[-1] == ' ' || e[-1] == '\t'); e--)
            e[-1] = '\0';
        static const char *const names[] = {"listen",          "database",
                                            "signing_key",     "accepted_key",
                                            "admin_key",       "port_file",
                                            "max_skew",        "settlement_grace",
                                            "sweep_interval",  "max_body",
                                            "max_ttl",         "max_connections",
                                            "log_level",       "max_connections_per_address",
                                            "request_timeout", NULL};
        int i;
        for (i = 0; names[i] && strcmp(names[i], name); i++)
            ;
        if (!names[i]) {
            rc = lm_fail(d, LM_INVAL,
                         "%s:%d: unknown setting \"%.40s\" (known: listen, "
                         "database, signing_key, accepted_key, admin_key, port_file, max_skew, "
                         "settlement_grace, sweep_interval, max_body, max_ttl, max_connections, "
                         "max_connections_per_address, request_timeout, log_level)",
                         path, lineno, name);
            break;
        }
        if (i != 3 && (seen & (1u << i))) {
            rc = lm_fail(d, LM_INVAL, "%s:%d: %s given twice", path, lineno, name);
            break;
        }
        seen |= 1u << i;
        int bad = 0;
        const char *want = "";
        switch (i) {
        case 0:
            bad = snprintf(cfg->listen, sizeof cfg->listen, "%s", v) >= (int)sizeof cfg->listen;
            want = "ADDRESS:PORT";
            break;
        case 1:
            bad = set_path(cfg->database, dir, v);
            want = "a file path";
            break;
        case 2:
            bad = set_path(cfg->signing_key, dir, v);
            want = "a file path";
            break;
        case 3:
            if (cfg->naccepted == BROKER_MAX_KEYS - 1) {
                rc = lm_fail(d, LM_INVAL, "%s:%d: at most %d accepted_key lines", path, lineno,
                             BROKER_MAX_KEYS - 1);
                continue;
            }
            bad = set_path(cfg->accepted_keys[cfg->naccepted++], dir, v);
            want = "a file path";
            break;
        case 4:
            bad = set_path(cfg->admin_key, dir, v);
            want = "a file path";
            break;
        case 5:
            bad = set_path(cfg->port_file, dir, v);
            want = "a file path";
            break;
        case 6:
            bad = set_u32(&cfg->max_skew_s, v, 1, 86400);
            want = "seconds, 1 to 86400";
            break;
        case 7:
            bad = set_u32(&cfg->settlement_grace_s, v, 0, 400 * 86400);
            want = "seconds, 0 to 34560000";
            break;
        case 8:
            bad = set_u32(&cfg->sweep_interval_s, v, 1, 86400);
            want = "seconds, 1 to 86400";
            break;
        case 9:
            bad = set_u32(&cfg->max_body, v, 1024, 16 << 20);
            want = "bytes, 1024 to 16777216";
            break;
        case 10:
            bad = set_u32(&cfg->max_ttl_s, v, 1, 400 * 86400);
            want = "seconds, 1 to 34560000 (400 days, the token's limit)";
            break;
        case 11:
            bad = set_u32(&cfg->max_connections, v, 1, 10000);
            want = "a number, 1 to 10000";
            break;
        case 12: {
            static const char *const lv[] = {"error", "warn", "info", "debug"};
            int k;
            for (k = 0; k < 4 && strcmp(lv[k], v); k++)
                ;
            bad = k == 4;
            cfg->log_level = (enum lm_log_level)(bad ? LM_LOG_INFO : k);
            want = "error, warn, info or debug";
            break;
        }
        case 13:
            bad = set_u32(&cfg->max_per_address, v, 1, 10000);
            want = "a number, 1 to 10000";
            break;
        case 14:
            bad = set_u32(&cfg->request_timeout_s, v, 1, 3600);
            want = "seconds, 1 to 3600";
            break;
        }
        if (bad)
            rc = lm_fail(d, LM_INVAL, "%s:%d: %s = \"%.60s\": expected %s", path, lineno, name, v,
                         want);
    }
    if (rc == 0 && ferror(f))
        rc = lm_fail(d, LM_IO, "%s: read error", path);
    fclose(f);
    return rc;
}
