/* Evil Man's configuration file: "key = value" lines, # comments (docs/evilman.conf.example). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "evilman.h"
#include "laundromat/keys.h"
#include "laundromat/netaddr.h"
#include "laundromat/util.h"

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    char *e = s + strlen(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\n' || e[-1] == '\r'))
        *--e = '\0';
    return s;
}

static int parse_u64(const char *v, uint64_t lo, uint64_t hi, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long x = strtoull(v, &end, 10);
    if (errno || end == v || *end || v[0] == '-' || x < lo || x > hi)
        return -1;
    *out = x;
    return 0;
}

/* A decimal with at most two places ("1.5", "2", "0.75") in hundredths, at most hi_centi. */
static int parse_centi(const char *v, uint64_t hi_centi, uint64_t *out)
{
    uint64_t x = 0;
    const char *p = v;
    for (; *p >= '0' && *p <= '9' && x <= hi_centi; p++)
        x = x * 10 + (uint64_t)(*p - '0');
    if (p == v)
        return -1;
    x *= 100;
    if (*p == '.') {
        const char *f = ++p;
        for (uint64_t scale = 10; *p >= '0' && *p <= '9' && p - f < 2; p++, scale /= 10)
            x += scale * (uint64_t)(*p - '0');
        if (p == f)
            return -1;
    }
    if (*p || x > hi_centi)
        return -1;
    *out = x;
    return 0;
}

static int parse_ip(const char *v, uint8_t ip[4])
{
    return inet_pton(AF_INET, v, ip) == 1 ? 0 : -1;
}

static int set_str(char *dst, size_t cap, const char *v)
{
    if (strlen(v) >= cap || !*v)
        return -1;
    strcpy(dst, v);
    return 0;
}

static void defaults(struct em_config *c)
{
    memset(c, 0, sizeof *c);
    c->listen.sin_family = AF_INET;
    c->listen.sin_port = htons(LM_DEFAULT_PORT);
    c->max_vms = 64;
    c->max_mem_mib = 1024;
    c->total_mem_mib = 8192;
    c->grace_ms = 5000;
    c->tick_ms = 100;
    c->low_credit_ms = 3000;
    c->max_skew_s = 60;
    c->jump_limit = LM_CHAIN_DEFAULT_JUMP;
    c->replay_capacity = 65536;
    c->verify_rate = 2000;
    c->verify_rate_per_source = 200;
    c->datagram_rate_per_source = 1000;
    c->warm_mem_mib = 16;
    c->loader_port = 7700;
    c->loader_wait_s = 60;
    c->loader_idle_s = 10;
    memcpy(c->mac_prefix, "\x02\x4c\x4d", 3); /* locally administered, "LM" */
    strcpy(c->control, "/run/laundromat/evilman.sock");
    strcpy(c->state_dir, "/var/lib/laundromat");
    strcpy(c->vmm, "lm-vmm");
    strcpy(c->backend, "kvm");
    strcpy(c->libvirt_firmware, LM_QBOOT_ROM);
    strcpy(c->lmctl, "lmctl");
    c->settle_interval_s = 60;
    c->evict_grace_ms = 30000;
}

/* One "key = value" line. Returns 0, or -1 with d naming what was wrong. */
static int apply(struct em_config *c, const char *k, char *v, const char *path, int line,
                 struct lm_diag *d)
{
    uint64_t x;
    const char *want = NULL;
    if (!strcmp(k, "listen")) {
        char *colon = strrchr(v, ':');
        uint8_t ip[4];
        if (!colon || (*colon = '\0', parse_ip(v, ip) < 0) ||
            parse_u64(colon + 1, 1, 65535, &x) < 0)
            want = "ADDRESS:PORT";
        else {
            memcpy(&c->listen.sin_addr, ip, 4);
            c->listen.sin_port = htons((uint16_t)x);
        }
    } else if (!strcmp(k, "host_name")) {
        if (set_str(c->host_name, sizeof c->host_name, v) < 0)
            want = "a name of 1 to 32 bytes";
    } else if (!strcmp(k, "overlay")) {
        /* Three words; split in a copy, since a refusal quotes v whole. */
        char w[1024], *f[4], *save = NULL;
        int n = 0;
        struct em_overlay o;
        if (c->noverlays == EM_MAX_OVERLAYS)
            return lm_fail(d, LM_INVAL, "%s:%d: more than %d overlays", path, line, EM_MAX_OVERLAYS);
        snprintf(w, sizeof w, "%s", v);
        for (char *t = strtok_r(w, " \t", &save); t && n < 4; t = strtok_r(NULL, " \t", &save))
            f[n++] = t;
        if (n != 3 || parse_u64(f[0], 1, 0xffffff, &x) < 0 || parse_ip(f[1], o.remote) < 0 ||
            lm_ip4_prefix_parse(f[2], 1, 30, o.subnet, &o.prefix) < 0) {
            want = "VNI (1 to 16777215), the other host's underlay address and its guests' subnet, e.g. 42 192.0.2.7 10.62.0.0/24";
        } else {
            o.vni = (uint32_t)x;
            c->overlays[c->noverlays++] = o;
        }
    } else if (!strcmp(k, "cluster")) {
        if (set_str(c->cluster, sizeof c->cluster, v) < 0)
            want = "a name of 1 to 32 bytes";
    } else if (!strcmp(k, "broker_key")) {
        if (c->nkeys == EM_MAX_KEYS)
            return lm_fail(d, LM_INVAL, "%s:%d: more than %d broker keys", path, line,
                           EM_MAX_KEYS);
        struct lm_diag kd;
        if (lm_key_load_public(v, &c->keys[c->nkeys], &kd) != 0)
            return lm_fail(d, LM_INVAL, "%s:%d: broker_key: %s", path, line, kd.msg);
        c->nkeys++;
    } else if (!strcmp(k, "bridge")) {
        if (set_str(c->bridge, sizeof c->bridge, v) < 0)
            want = "an interface name of at most 15 bytes";
    } else if (!strcmp(k, "bridge_ip")) {
        if (lm_ip4_prefix_parse(v, 8, 30, c->bridge_ip, &c->prefix) < 0)
            want = "A.B.C.D/PREFIX (prefix 8 to 30)";
    } else if (!strcmp(k, "pool")) {
        char *dash = strchr(v, '-');
        if (!dash || (*dash = '\0', parse_ip(trim(v), c->pool_lo) < 0) ||
            parse_ip(trim(dash + 1), c->pool_hi) < 0 ||
            ntohl(ip4_u32(c->pool_lo)) > ntohl(ip4_u32(c->pool_hi)))
            want = "FIRST-LAST addresses";
    } else if (!strcmp(k, "mac_prefix")) {
        uint8_t m[3];
        if (lm_mac_parse(v, m, 3) < 0 || (m[0] & 1))
            want = "three unicast bytes XX:XX:XX";
        else
            memcpy(c->mac_prefix, m, 3);
    }
#define NUM(name, field, lo, hi)                                                           \
    else if (!strcmp(k, name))                                                             \
    {                                                                                      \
        if (parse_u64(v, lo, hi, &x) < 0)                                                  \
            want = "a number from " #lo " to " #hi;                                        \
        else                                                                               \
            c->field = x;                                                                  \
    }
    NUM("max_vms", max_vms, 1, 100000)
    NUM("max_mem_mib", max_mem_mib, 2, 1792)
    NUM("total_mem_mib", total_mem_mib, 2, 1 << 30)
    NUM("grace_ms", grace_ms, 0, 86400000)
    NUM("tick_ms", tick_ms, 10, 60000)
    NUM("low_credit_ms", low_credit_ms, 0, 86400000)
    NUM("max_skew_s", max_skew_s, 0, 86400)
    NUM("jump_limit", jump_limit, 1, 1 << 24)
    NUM("replay_capacity", replay_capacity, 16, 1 << 24)
    NUM("verify_rate", verify_rate, 1, 1000000)
    NUM("verify_rate_per_source", verify_rate_per_source, 1, 1000000)
    NUM("datagram_rate_per_source", datagram_rate_per_source, 1, 100000000)
    NUM("warm_loaders", warm_loaders, 0, 16)
    NUM("warm_mem_mib", warm_mem_mib, 2, 8192)
    NUM("loader_port", loader_port, 1, 65535)
    NUM("loader_wait_s", loader_wait_s, 1, 3600)
    NUM("loader_idle_s", loader_idle_s, 1, 3600)
    NUM("settle_interval_s", settle_interval_s, 0, 86400)
    NUM("readdress", readdress, 0, 1)
#undef NUM
    else if (!strcmp(k, "vmm")) {
        if (set_str(c->vmm, sizeof c->vmm, v) < 0)
            want = "a path";
    } else if (!strcmp(k, "backend")) {
        if (strcmp(v, "kvm") && strcmp(v, "libvirt"))
            want = "kvm (our monitor, lm-vmm) or libvirt (QEMU through libvirt)";
        else
            set_str(c->backend, sizeof c->backend, v);
    } else if (!strcmp(k, "libvirt_uri")) {
        if (set_str(c->libvirt_uri, sizeof c->libvirt_uri, v) < 0)
            want = "a libvirt connection URI such as qemu:///system";
    } else if (!strcmp(k, "libvirt_firmware")) {
        if (!strcmp(v, "qemu"))
            c->libvirt_firmware[0] = '\0'; /* QEMU's own: SeaBIOS */
        else if (set_str(c->libvirt_firmware, sizeof c->libvirt_firmware, v) < 0)
            want = "a firmware image such as " LM_QBOOT_ROM ", or qemu for QEMU's own";
    } else if (!strcmp(k, "loader")) {
        if (set_str(c->loader, sizeof c->loader, v) < 0)
            want = "a path";
    } else if (!strcmp(k, "control")) {
        if (set_str(c->control, sizeof c->control, v) < 0)
            want = "a path shorter than 108 bytes";
    } else if (!strcmp(k, "broker_url")) {
        if (set_str(c->broker_url, sizeof c->broker_url, v) < 0)
            want = "a URL such as http://127.0.0.1:8480";
    } else if (!strcmp(k, "operator_key")) {
        if (set_str(c->operator_key, sizeof c->operator_key, v) < 0)
            want = "a secret key file";
    } else if (!strcmp(k, "lmctl")) {
        if (set_str(c->lmctl, sizeof c->lmctl, v) < 0)
            want = "a path";
    } else if (!strcmp(k, "evict_mem_below")) {
        if (parse_u64(v, 0, 1 << 30, &x) < 0)
            want = "the MiB of MemAvailable under which a VM is evicted, such as 1024 (0: never)";
        else
            c->evict_mem_below_mib = x;
    } else if (!strcmp(k, "evict_load_above")) {
        if (parse_centi(v, 100000, &x) < 0)
            want = "the 1-minute load average per CPU above which a VM is evicted, such as 1.5 (at most two decimals, at most 1000; 0: never)";
        else
            c->evict_load_above_centi = x;
    } else if (!strcmp(k, "evict_grace")) {
        if (lm_parse_duration_ms(v, 86400000ull, &x) < 0)
            want = "the time an evicted VM has to leave, such as 30s, 2m or 1500ms (at most a day)";
        else
            c->evict_grace_ms = x;
    } else if (!strcmp(k, "state_dir")) {
        if (set_str(c->state_dir, sizeof c->state_dir, v) < 0)
            want = "a path";
    } else {
        return lm_fail(d, LM_INVAL, "%s:%d: unknown key \"%s\" (docs/evilman.conf.example "
                       "lists them)", path, line, k);
    }
    if (want)
        return lm_fail(d, LM_INVAL, "%s:%d: %s = \"%s\": expected %s", path, line, k, v, want);
    return 0;
}

int config_load(const char *path, struct em_config *c, struct lm_diag *d)
{
    defaults(c);
    FILE *f = fopen(path, "r");
    if (!f)
        return lm_fail(d, LM_IO, "%s: %s", path, strerror(errno));
    char buf[1024];
    int line = 0, rc = 0;
    while (!rc && fgets(buf, sizeof buf, f)) {
        line++;
        char *hash = strchr(buf, '#');
        if (hash)
            *hash = '\0';
        char *s = trim(buf);
        if (!*s)
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = lm_fail(d, LM_INVAL, "%s:%d: expected \"key = value\"", path, line);
            break;
        }
        *eq = '\0';
        rc = apply(c, trim(s), trim(eq + 1), path, line, d);
    }
    fclose(f);
    if (rc)
        return rc;
    const char *missing = !c->host_name[0] ? "host_name"
                          : !c->nkeys ? "broker_key"
                          : !c->bridge[0] ? "bridge"
                          : !c->prefix ? "bridge_ip"
                          : !c->pool_lo[0] ? "pool"
                          : !c->loader[0] ? "loader"
                          : c->broker_url[0] && !c->operator_key[0] ? "operator_key (with broker_url)"
                          : NULL;
    if (missing)
        return lm_fail(d, LM_INVAL, "%s: \"%s\" is required", path, missing);
    if (c->warm_loaders && !strcmp(c->backend, "libvirt"))
        return lm_fail(d, LM_INVAL, "%s: warm_loaders = %u: the libvirt backend boots no warm "
                       "loaders (set warm_loaders = 0, or backend = kvm)", path, c->warm_loaders);
    if (c->warm_loaders >= c->max_vms && c->warm_loaders)
        return lm_fail(d, LM_INVAL, "%s: warm_loaders = %u leaves no room of max_vms = %u for a "
                       "buyer's VM of another size (keep it below max_vms)", path, c->warm_loaders,
                       c->max_vms);
    if (c->warm_loaders && c->warm_mem_mib > c->max_mem_mib)
        return lm_fail(d, LM_INVAL, "%s: warm_mem_mib = %u is above max_mem_mib = %llu: no "
                       "token could use such a loader", path, c->warm_mem_mib,
                       (unsigned long long)c->max_mem_mib);
    uint32_t mask = lm_ip4_mask(c->prefix);
    uint32_t net = ip4_u32(c->bridge_ip) & mask;
    if ((ip4_u32(c->pool_lo) & mask) != net || (ip4_u32(c->pool_hi) & mask) != net)
        return lm_fail(d, LM_INVAL, "%s: the pool must lie inside the bridge's subnet", path);
    return 0;
}
