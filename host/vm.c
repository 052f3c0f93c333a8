/* The VM table and each VM's lifecycle: start (tap, address, monitor), destroy, reap. */
#include <errno.h>
#include <sodium.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "backend/backend.h"
#include "evilman.h"
#include "laundromat/boot.h"
#include "laundromat/clock.h"
#include "laundromat/log.h"
#include "laundromat/netaddr.h"
#include "tap.h"

#define MAX_TABLE 100000

static struct vm **table; /* dense: [0, nvms) */
static unsigned nvms, cap;
static uint64_t next_id = 1;

static const char *const state_names[] = {
    [VM_LOADING] = "loading",     [VM_RUNNING] = "running",
    [VM_GRACE] = "grace",         [VM_MIGRATING_OUT] = "migrating-out",
    [VM_RECEIVING] = "receiving", [VM_MIGRATED] = "migrated",
    [VM_ENDED] = "ended",         [VM_WARM] = "warm",
};
#define NSTATES (sizeof state_names / sizeof state_names[0])

/*
 * The legal transitions, one row per state: the states it may move to. Any state but ENDED
 * may end (destroyed, killed, reaped). Grace returns to loading, receiving or running when
 * paid, and a guest in grace may still migrate out (that is what the warning is for); a VM
 * migrating out returns to running when the migration fails, to grace when its credit runs
 * out first; a VM received goes on running, or to grace when it arrives without credit.
 */
#define TO(s) (1u << (s))
static const unsigned legal[NSTATES] = {
    [VM_LOADING] = TO(VM_RUNNING) | TO(VM_RECEIVING) | TO(VM_GRACE) | TO(VM_ENDED),
    [VM_RUNNING] = TO(VM_GRACE) | TO(VM_MIGRATING_OUT) | TO(VM_ENDED),
    [VM_GRACE] = TO(VM_LOADING) | TO(VM_RUNNING) | TO(VM_RECEIVING) | TO(VM_MIGRATING_OUT) |
                 TO(VM_ENDED),
    [VM_MIGRATING_OUT] = TO(VM_RUNNING) | TO(VM_GRACE) | TO(VM_MIGRATED) | TO(VM_ENDED),
    [VM_RECEIVING] = TO(VM_RUNNING) | TO(VM_GRACE) | TO(VM_ENDED),
    [VM_MIGRATED] = TO(VM_ENDED),
    [VM_ENDED] = 0,
    [VM_WARM] = TO(VM_LOADING) | TO(VM_ENDED), /* assigned a buyer, or destroyed */
};

const char *vm_state_name(enum vm_state s)
{
    return (unsigned)s < NSTATES ? state_names[s] : "invalid";
}

int vm_set_state(struct vm *v, enum vm_state to)
{
    enum vm_state from = v->state;
    if ((unsigned)to >= NSTATES || !(legal[from] & TO(to))) {
        lm_err("VM %llu: illegal state change %s -> %s refused; it stays %s",
               (unsigned long long)v->id, vm_state_name(from), vm_state_name(to),
               vm_state_name(from));
        return -LM_INVAL;
    }
    v->state = to;
    lm_debug("VM %llu: %s -> %s", (unsigned long long)v->id, vm_state_name(from),
             vm_state_name(to));
    return 0;
}

struct vm *vm_find_token(const uint8_t id[LM_TOKEN_ID_BYTES])
{
    for (unsigned i = 0; i < nvms; i++)
        if (table[i]->state != VM_WARM && /* it has no token: an id of zeros finds nothing */
            memcmp(table[i]->token.id, id, LM_TOKEN_ID_BYTES) == 0)
            return table[i];
    return NULL;
}

struct vm *vm_find_id(uint64_t id)
{
    for (unsigned i = 0; i < nvms; i++)
        if (table[i]->id == id)
            return table[i];
    return NULL;
}


struct vm *vm_find_ip(const uint8_t ip[4])
{
    for (unsigned i = 0; i < nvms; i++)
        if (!memcmp(table[i]->ip, ip, 4) || (table[i]->has_claim && !memcmp(table[i]->claim_ip, ip, 4)))
            return table[i];
    return NULL;
}

const struct backend *em_backend = &backend_kvm;

struct vm *vm_find_event_fd(int fd)
{
    for (unsigned i = 0; i < nvms; i++)
        if (table[i]->be && em_backend->event_fd(table[i]->be) == fd)
            return table[i];
    return NULL;
}

unsigned vm_count(void)
{
    return nvms;
}

uint64_t vm_mem_in_use(void)
{
    uint64_t m = 0;
    for (unsigned i = 0; i < nvms; i++)
        m += table[i]->token.mem_mib;
    return m;
}

void vm_foreach(void (*fn)(struct vm *, void *), void *arg)
{
    for (unsigned i = nvms; i-- > 0;) /* backwards: fn may end a VM */
        if (i < nvms)
            fn(table[i], arg);
}

struct vm *vm_warm_for(const struct em_config *c, const struct lm_token *t)
{
    /* An image of their size that names no address or MAC of its own (a warm loader has one
     * from the pool). */
    if (!em_backend->assign || !c->warm_loaders || t->payload_kind != LM_PAYLOAD_IMAGE ||
        t->prefix || !sodium_is_zero(t->mac, sizeof t->mac) || t->mem_mib != c->warm_mem_mib)
        return NULL;
    for (unsigned i = 0; i < nvms; i++)
        if (table[i]->state == VM_WARM)
            return table[i];
    return NULL;
}

void vm_warm_make_room(const struct em_config *c, const struct lm_token *t)
{
    unsigned vms = nvms;
    uint64_t mem = vm_mem_in_use();
    for (unsigned i = nvms; i-- > 0 && (vms >= c->max_vms || mem + t->mem_mib > c->total_mem_mib);)
        if (table[i]->state == VM_WARM) {
            vms--;
            mem -= table[i]->token.mem_mib;
            vm_destroy(table[i], "its room goes to a buyer's VM of another size");
        }
}

unsigned vm_warm_count(void)
{
    unsigned n = 0;
    for (unsigned i = 0; i < nvms; i++)
        n += table[i]->state == VM_WARM;
    return n;
}

/* A token's VM from now on: its credit, its chain; charged from this instant. */
static void bill(const struct em_config *c, struct vm *v, const struct lm_token *t)
{
    v->token = *t;
    v->started_ns = v->last_tick_ns = lm_now_ns();
    v->credit_ms = (int64_t)t->prepaid_units * t->link_value_ms;
    v->earned_units = t->prepaid_units;
    lm_chain_init(&v->chain, t->anchor, t->chain_len, c->jump_limit);
}

struct vm *vm_start(const struct em_config *c, const struct lm_token *t, uint32_t sender,
                    int *status, struct lm_diag *d)
{
    /* A warm loader takes the token if its monitor takes the buyer; else it goes, and the
     * token starts a VM of its own. */
    struct vm *w = t ? vm_warm_for(c, t) : NULL;
    if (w && em_backend->assign(w->be, t->commitment, sender) == 0) {
        bill(c, w, t);
        vm_set_state(w, VM_LOADING);
        return w;
    }
    if (w)
        vm_destroy(w, "its monitor did not take the assignment");
    /* No token: a warm loader, of warm_mem_mib, waiting for whoever comes. */
    const struct lm_token warm = {.mem_mib = c->warm_mem_mib, .payload_kind = LM_PAYLOAD_IMAGE};
    bool is_warm = !t;
    if (is_warm)
        t = &warm;
    uint8_t loader_sk[32] = {0};
    if (nvms == cap) {
        unsigned ncap = cap ? 2 * cap : 64;
        struct vm **nt = ncap <= MAX_TABLE ? realloc(table, ncap * sizeof *nt) : NULL;
        if (!nt) {
            *status = -lm_fail(d, LM_HOST_FULL, "VM table full");
            return NULL;
        }
        table = nt;
        cap = ncap;
    }
    struct vm *v = calloc(1, sizeof *v);
    if (!v) {
        *status = -lm_fail(d, LM_INTERNAL, "out of memory");
        return NULL;
    }
    v->id = next_id++;
    v->token = *t;
    v->checkpoint = t->payload_kind == LM_PAYLOAD_CHECKPOINT;
    bool foreign = v->checkpoint && t->prefix && !pool_in_subnet(c, t->ipv4) && !overlay_has(c, t->ipv4);
    if (v->checkpoint && (!t->prefix || (foreign && c->readdress))) {
        /* A checkpoint that names no address takes a new identity here: the loader's
         * address and MAC from the pool, which the guest adopts when it resumes (a restored
         * copy while its original runs elsewhere). */
        randombytes_buf(loader_sk, sizeof loader_sk);
        crypto_scalarmult_curve25519_base(v->loader_pub, loader_sk);
    } else if (v->checkpoint) {
        /* The guest brings its address: it must fit this network and be free here. The
         * loader receives on a temporary address meanwhile, with a MAC of this host's. */
        struct vm *holder = vm_find_ip(t->ipv4);
        char a[LM_IP4_PREFIX_STR], net[LM_IP4_PREFIX_STR];
        if (!pool_in_subnet(c, t->ipv4) && !overlay_has(c, t->ipv4))
            *status = -lm_fail(d, LM_BAD_NETID, "address %s is not in this host's network %s "
                               "(readdress = 1 in this host's config takes such guests with an "
                               "address of its own)", lm_ip4_prefix_format(t->ipv4, t->prefix, a),
                               lm_ip4_prefix_format(c->bridge_ip, c->prefix, net));
        else if (holder || pool_claim(c, t->ipv4) < 0)
            *status = -lm_fail(d, LM_BAD_NETID, "address %s is in use here%s%llu; a "
                               "guest cannot move to a host where its address is taken",
                               lm_ip4_format(t->ipv4, a), holder ? " by VM " : "",
                               holder ? (unsigned long long)holder->id : 0ull);
        else
            *status = 0;
        if (*status) {
            next_id--;
            free(v);
            return NULL;
        }
        memcpy(v->claim_ip, t->ipv4, 4);
        v->has_claim = true;
        randombytes_buf(loader_sk, sizeof loader_sk);
        crypto_scalarmult_curve25519_base(v->loader_pub, loader_sk);
    }
    if (pool_take(c, t->prefix && !v->checkpoint ? t->ipv4 : NULL, v->ip, v->mac) < 0) {
        char a[LM_IP4_STR];
        if (t->prefix && !v->checkpoint)
            *status = -lm_fail(d, LM_BAD_NETID, "address %s is outside this host's pool or in "
                               "use", lm_ip4_format(t->ipv4, a));
        else
            *status = -lm_fail(d, LM_HOST_FULL, "no free address in the pool");
        if (v->has_claim)
            pool_release(c, v->claim_ip);
        next_id--; /* ids count VMs that started */
        sodium_memzero(loader_sk, sizeof loader_sk);
        free(v);
        return NULL;
    }
    if (!v->checkpoint && !sodium_is_zero(t->mac, sizeof t->mac))
        memcpy(v->mac, t->mac, 6); /* the token keeps its identity */
    char want[16];
    snprintf(want, sizeof want, "lmvm%llu", (unsigned long long)v->id);
    int tap_fd = tap_open(want, c->bridge, v->tap, sizeof v->tap); /* the backend takes it */
    if (tap_fd < 0) {
        *status = -lm_fail(d, LM_INTERNAL, "cannot set up the VM's tap: %s", strerror(errno));
        goto fail;
    }
    snprintf(v->log_path, sizeof v->log_path, "%s/vm-%llu.log", c->state_dir,
             (unsigned long long)v->id);
    char cmdline[200];
    /* An image comes from the buyer who pinged. A checkpoint comes from the guest itself, at
     * its own address, or is restored from a file by whoever pinged. */
    char a[LM_IP4_STR];
    int n = snprintf(cmdline, sizeof cmdline, "app=loader port=%u wait_s=%u idle_s=%u",
                     c->loader_port, c->loader_wait_s, c->loader_idle_s);
    if (is_warm) /* its buyer comes with the assignment */
        n += snprintf(cmdline + n, sizeof cmdline - (size_t)n, " warm=1");
    else
        n += snprintf(cmdline + n, sizeof cmdline - (size_t)n, " sender=%s",
                      lm_ip4_format((const uint8_t *)&sender, a));
    if (v->checkpoint && t->prefix) /* the guest, re-addressed or not, sends from its own */
        n += snprintf(cmdline + n, sizeof cmdline - (size_t)n, " sender2=%s",
                      lm_ip4_format(t->ipv4, a));
    if (v->checkpoint && !v->has_claim)
        snprintf(cmdline + n, sizeof cmdline - (size_t)n, " identity=new");
    struct vm_spec spec = {
        .kernel = c->loader, .loader = 1, .mem_mib = t->mem_mib, .vcpus = 1, .cmdline = cmdline,
        .tap_fd = tap_fd, .tap_name = v->tap, .prefix = c->prefix, .log_path = v->log_path,
    };
    memcpy(spec.ip, v->ip, 4);
    memcpy(spec.gateway, c->bridge_ip, 4);
    memcpy(spec.mac, v->mac, 6);
    memcpy(spec.commitment, t->commitment, 32);
    spec.loader_key = v->checkpoint ? loader_sk : NULL;
    v->be = em_backend->create(&spec, d);
    sodium_memzero(loader_sk, sizeof loader_sk);
    if (!v->be) {
        *status = LM_INTERNAL;
        goto fail;
    }
    /* Its first state, not a change: vm_set_state() moves it on. */
    v->state = is_warm ? VM_WARM : VM_LOADING;
    lm_debug("VM %llu: %s", (unsigned long long)v->id, vm_state_name(v->state));
    if (is_warm)
        v->started_ns = v->last_tick_ns = lm_now_ns();
    else
        bill(c, v, t);
    if (v->checkpoint)
        vm_set_state(v, VM_RECEIVING);
    table[nvms++] = v;
    return v;
fail:
    sodium_memzero(loader_sk, sizeof loader_sk);
    pool_release(c, v->ip);
    if (v->has_claim)
        pool_release(c, v->claim_ip);
    next_id--;
    free(v);
    return NULL;
}

void vm_commit(const struct em_config *c, struct vm *v)
{
    if (v->state == VM_RECEIVING)
        vm_set_state(v, VM_RUNNING); /* in grace it stays there, booted, until paid */
    char a[LM_IP4_STR], b[LM_IP4_STR];
    if (!v->has_claim) {
        lm_info("VM %llu: the guest resumed from its checkpoint with a new identity: address "
                "%s", (unsigned long long)v->id, lm_ip4_format(v->ip, a));
        return;
    }
    lm_info("VM %llu: the guest resumed from its checkpoint and takes its address %s (the "
            "loader's %s goes back to the pool)", (unsigned long long)v->id,
            lm_ip4_format(v->claim_ip, a), lm_ip4_format(v->ip, b));
    pool_release(c, v->ip);
    memcpy(v->ip, v->claim_ip, 4);
    v->has_claim = false;
}

void vm_notice(struct vm *v, uint32_t what)
{
    if (what == LM_NOTICE_MIGRATING && (v->state == VM_RUNNING || v->state == VM_GRACE)) {
        v->stay_state = v->state;
        lm_info("VM %llu: its guest is migrating out", (unsigned long long)v->id);
        vm_set_state(v, VM_MIGRATING_OUT);
    } else if (what == LM_NOTICE_STAYED && v->state == VM_MIGRATING_OUT) {
        lm_info("VM %llu: its migration failed; it runs here as before", (unsigned long long)v->id);
        vm_set_state(v, v->stay_state); /* the credit tick moves it on if it must */
    } else {
        lm_debug("VM %llu: notice %u in state %s ignored", (unsigned long long)v->id, what,
                 vm_state_name(v->state));
    }
}

void vm_destroy(struct vm *v, const char *why)
{
    if (v->state == VM_ENDED)
        return;
    lm_info("VM %llu: destroying: %s", (unsigned long long)v->id, why);
    vm_set_state(v, VM_ENDED);
    em_backend->destroy(v->be);
}

/* The last line of the VM's log that says why a loader or guest stopped, if any. */
static void last_reason(const char *path, char *out, size_t outlen)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strstr(line, "refused") || strstr(line, "PANIC") || strstr(line, "EXCEPTION") ||
            strstr(line, "error:")) {
            line[strcspn(line, "\n")] = '\0';
            line[outlen - 1] = '\0';
            memcpy(out, line, outlen);
        }
    }
    fclose(f);
}

void vm_reap(const struct em_config *c, struct vm *v, int status)
{
    char why[400], reason[256];
    last_reason(v->log_path, reason, sizeof reason);
    if (WIFEXITED(status))
        snprintf(why, sizeof why, "exit status %d%s%s", WEXITSTATUS(status),
                 reason[0] ? ": " : "", reason);
    else
        snprintf(why, sizeof why, "killed by signal %d%s", WTERMSIG(status),
                 v->state == VM_ENDED ? " (destroyed)" : "");
    bool moved = WIFEXITED(status) && (WEXITSTATUS(status) == LM_EXIT_MIGRATED ||
                                       WEXITSTATUS(status) == LM_EXIT_MIGRATED_UNCONFIRMED);
    if (moved && v->state != VM_ENDED) {
        /* The guest gave itself away after GO: it never runs here again. */
        if (v->state != VM_MIGRATING_OUT)
            vm_set_state(v, VM_MIGRATING_OUT);
        vm_set_state(v, VM_MIGRATED);
        snprintf(why, sizeof why, "migrated%s", WEXITSTATUS(status) == LM_EXIT_MIGRATED ? ""
                 : " (GO unacknowledged; the new copy announced itself)");
    }
    if (v->state != VM_ENDED) /* it ended on its own */
        vm_set_state(v, VM_ENDED);
    char a[LM_IP4_STR];
    lm_info("VM %llu ended (%s); reclaiming tap %s, address %s, %llu MiB",
            (unsigned long long)v->id, why, v->tap, lm_ip4_format(v->ip, a),
            (unsigned long long)v->token.mem_mib);
    if (!sodium_is_zero(v->token.id, sizeof v->token.id)) { /* not a warm loader never used */
        credit_record_earnings(c, v, why);
        settle_vm(c, v);
    }
    em_backend->release(v->be); /* and with it the tap */
    pool_release(c, v->ip);
    if (v->has_claim)
        pool_release(c, v->claim_ip);
    for (unsigned i = 0; i < nvms; i++)
        if (table[i] == v) {
            table[i] = table[--nvms];
            break;
        }
    free(v);
}
