/*
 * Eviction: the operator wants a VM gone (lmctl host evict VM --within 30s). Its guest hears
 * it through host events with the time left (LM_CTL_EVICT to the monitor, LM_EVENT_EVICT to
 * the guest, and its owner through the guest's status), so that the owner can move it
 * (lmctl migrate) or keep it (lmctl checkpoint); at the deadline a VM still here is reclaimed
 * like an unpaid one. A VM migrating out at the deadline gets until the move ends.
 */
#include <sys/socket.h>

#include "evilman.h"
#include "laundromat/clock.h"
#include "laundromat/log.h"
#include "laundromat/vmmctl.h"

int evict_vm(struct vm *v, uint64_t within_ms, struct lm_diag *d)
{
    if (v->state == VM_ENDED || v->state == VM_MIGRATED)
        return lm_fail(d, LM_INVAL, "VM %llu has ended already", (unsigned long long)v->id);
    if (within_ms > 86400000ull)
        return lm_fail(d, LM_INVAL, "VM %llu: %llu ms is more than a day: evict within a day at most", (unsigned long long)v->id, (unsigned long long)within_ms);
    uint64_t deadline = lm_now_ns() + within_ms * 1000000ull;
    if (v->evict_deadline_ns && v->evict_deadline_ns < deadline)
        deadline = v->evict_deadline_ns; /* a second request never extends the first */
    v->evict_deadline_ns = deadline;
    struct lm_ctl_msg m = {.type = LM_CTL_EVICT, .grace_ms = (deadline - lm_now_ns()) / 1000000};
    send(v->ctl_fd, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL);
    lm_info("VM %llu: evicted by the operator: its guest is told to leave within %llu ms", (unsigned long long)v->id, (unsigned long long)m.grace_ms);
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
