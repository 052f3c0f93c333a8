/*
 * Eviction: the operator wants a VM gone (lmctl host evict VM --within 30s), or the host needs
 * the room (evict_mem_below, evict_load_above: one VM at a time, the next only once the last
 * has gone and the need holds). Its guest hears it through host events with the time left
 * (LM_CTL_EVICT to the monitor, LM_EVENT_EVICT to the guest, and its owner through the
 * guest's status), so that the owner can move it (lmctl migrate) or keep it (lmctl checkpoint
 * --on-evict); at the deadline a VM still here is reclaimed like an unpaid one. A VM migrating
 * out at the deadline gets until the move ends.
 */
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "backend/backend.h"
#include "evilman.h"
#include "laundromat/clock.h"
#include "laundromat/log.h"

int evict_vm(struct vm *v, uint64_t within_ms, const char *why, struct lm_diag *d)
{
    if (v->state == VM_ENDED || v->state == VM_MIGRATED)
        return lm_fail(d, LM_INVAL, "VM %llu has ended already", (unsigned long long)v->id);
    if (v->state == VM_WARM) { /* nobody to tell, nothing to keep: it goes now */
        vm_destroy(v, why ? why : "evicted by the operator (a warm loader: it goes at once)");
        return 0;
    }
    if (within_ms > 86400000ull)
        return lm_fail(d, LM_INVAL,
                       "VM %llu: %llu ms is more than a day: evict within a day at most",
                       (unsigned long long)v->id, (unsigned long long)within_ms);
    uint64_t deadline = lm_now_ns() + within_ms * 1000000ull;
    if (v->evict_deadline_ns && v->evict_deadline_ns < deadline)
        deadline = v->evict_deadline_ns; /* a second request never extends the first */
    v->evict_deadline_ns = deadline;
    uint64_t left_ms = (deadline - lm_now_ns()) / 1000000;
    if (v->be)
        em_backend->evict(v->be, left_ms);
    if (why)
        lm_info("VM %llu: evicted: %s; it must leave within %llu ms", (unsigned long long)v->id,
                why, (unsigned long long)left_ms);
    else
        lm_info("VM %llu: evicted by the operator: its guest is told to leave within %llu ms",
                (unsigned long long)v->id, (unsigned long long)left_ms);
    return 0;
}

static void check_one(struct vm *v, void *arg)
{
    uint64_t now = *(const uint64_t *)arg;
    if (!v->evict_deadline_ns || now < v->evict_deadline_ns || v->state == VM_ENDED ||
        v->state == VM_MIGRATED)
        return;
    if (v->state == VM_MIGRATING_OUT && now < v->evict_deadline_ns + 60000000000ull)
        return; /* leaving as asked: its move decides */
    vm_destroy(v, "evicted: it had not left by its deadline");
}

void evict_tick(uint64_t now_ns)
{
    vm_foreach(check_one, &now_ns);
}

bool evict_prefer(const struct vm *v, const struct vm *best)
{
    if ((v->state != VM_RUNNING && v->state != VM_GRACE) || v->evict_deadline_ns)
        return false;
    if (!best || v->token.mem_mib != best->token.mem_mib)
        return !best || v->token.mem_mib > best->token.mem_mib;
    return v->started_ns != best->started_ns ? v->started_ns > best->started_ns : v->id > best->id;
}

static void pick(struct vm *v, void *arg)
{
    struct vm **best = arg;
    if (v->state == VM_WARM || ((!*best || (*best)->state != VM_WARM) && evict_prefer(v, *best)))
        *best = v; /* a warm loader first: it holds room and nobody's work */
}

static bool pressed; /* the host needed room at the last look */

bool evict_pressed(void)
{
    return pressed;
}

/* A figure that cannot be read is said once, and again only when the reason changes. */
static void say_unread(const struct lm_diag *why, char *said, size_t cap)
{
    if (why->msg[0] && strcmp(why->msg, said) != 0)
        lm_warn("eviction by load: %s; that figure is left out until it can be read", why->msg);
    snprintf(said, cap, "%s", why->msg);
}

void evict_auto_tick(const struct em_config *c, uint64_t now_ns)
{
    static uint64_t auto_vm, last_ns; /* the VM evicted for the room, until it has gone */
    static bool said_none;
    static char mem_said[sizeof(struct lm_diag)], load_said[sizeof(struct lm_diag)];
    if ((!c->evict_mem_below_mib && !c->evict_load_above_centi) ||
        (last_ns && now_ns - last_ns < 1000000000ull))
        return;
    last_ns = now_ns;
    if (auto_vm && vm_find_id(auto_vm))
        return; /* the last one has not gone yet: what it frees is not measured yet */
    auto_vm = 0;
    struct host_load l;
    struct lm_diag mem_why = {""}, load_why = {""};
    pressure_read(c, &l, &mem_why, &load_why);
    say_unread(&mem_why, mem_said, sizeof mem_said);
    say_unread(&load_why, load_said, sizeof load_said);
    char why[200];
    pressed = pressure_check(c, &l, why, sizeof why);
    if (!pressed) {
        said_none = false;
        return;
    }
    struct vm *v = NULL;
    vm_foreach(pick, &v);
    if (!v) {
        if (!said_none)
            lm_warn(
                "%s, but no VM can be evicted (none running or in grace that is not leaving already)",
                why);
        said_none = true;
        return;
    }
    struct lm_diag d;
    if (evict_vm(v, c->evict_grace_ms, why, &d) != 0) {
        lm_warn("VM %llu: cannot evict it: %s", (unsigned long long)v->id, d.msg);
        return;
    }
    said_none = false;
    auto_vm = v->id;
}
