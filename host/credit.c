/*
 * Payments and garbage collection: links credit VM time, the accounting tick drains it,
 * the guest is warned when credit runs low, a VM with none left gets a grace period and is
 * then destroyed. What each VM earned is recorded for settlement with the broker.
 */
#include <jansson.h>
#include <stdio.h>
#include <sys/socket.h>

#include "backend/backend.h"
#include "evilman.h"
#include "laundromat/clock.h"
#include "laundromat/log.h"
#include "laundromat/util.h"
#include "laundromat/boot.h"

void credit_notify(struct vm *v, uint32_t events)
{
    uint64_t now = lm_now_ns();
    if (v->be)
        em_backend->credit(v->be, events, v->credit_ms > 0 ? (uint64_t)v->credit_ms : 0,
                           v->state == VM_GRACE && v->grace_deadline_ns > now
                               ? (v->grace_deadline_ns - now) / 1000000
                               : 0);
}

static bool charged(enum vm_state s)
{
    /* A migrated VM is paid for where it went; a warm loader is the host's own. */
    return s != VM_MIGRATED && s != VM_ENDED && s != VM_WARM;
}

struct credit_decision credit_decide(const struct em_config *c, const struct vm *v, uint64_t now_ns)
{
    struct credit_decision d = {
        .action = CREDIT_NONE,
        .state = v->state,
        .credit_ms = v->credit_ms,
        .last_tick_ns = v->last_tick_ns,
        .grace_deadline_ns = v->grace_deadline_ns,
    };
    if (!charged(v->state))
        return d;
    uint64_t elapsed = now_ns > v->last_tick_ns ? now_ns - v->last_tick_ns : 0;
    d.credit_ms -= (int64_t)(elapsed / 1000000);
    d.last_tick_ns += elapsed - elapsed % 1000000; /* the sub-ms rest counts next time */
    bool warned = v->warned;
    if (v->state == VM_GRACE && d.credit_ms > 0) {
        d.action = CREDIT_RESUME;
        d.state = v->booted_ns ? VM_RUNNING : v->checkpoint ? VM_RECEIVING : VM_LOADING;
    } else if (v->state == VM_GRACE) {
        if (now_ns >= v->grace_deadline_ns) {
            d.action = CREDIT_RECLAIM;
            d.state = VM_ENDED;
        } else {
            d.deadline_ns = v->grace_deadline_ns;
        }
        return d;
    } else if (d.credit_ms <= 0) {
        d.action = CREDIT_GRACE;
        d.state = VM_GRACE;
        d.grace_deadline_ns = d.deadline_ns = now_ns + c->grace_ms * 1000000ull;
        return d;
    } else if (!warned && d.credit_ms <= (int64_t)c->low_credit_ms) {
        d.action = CREDIT_WARN;
        warned = true;
    }
    /* Credit left: next comes the warning at the low mark (due at once if a payment during
     * grace left less than that), or, once warned, the grace period at 0. */
    int64_t until_ms = warned ? d.credit_ms : d.credit_ms - (int64_t)c->low_credit_ms;
    d.deadline_ns = d.last_tick_ns + (uint64_t)(until_ms > 0 ? until_ms : 0) * 1000000ull;
    return d;
}

/* Carries out a decision: the one place where the accounting changes a VM. */
static void credit_apply(const struct em_config *c, struct vm *v, const struct credit_decision *d)
{
    v->credit_ms = d->credit_ms;
    v->last_tick_ns = d->last_tick_ns;
    switch (d->action) {
    case CREDIT_NONE:
        break;
    case CREDIT_WARN:
        v->warned = true;
        lm_info("VM %llu: credit low (%lld ms left), guest warned", (unsigned long long)v->id,
                (long long)v->credit_ms);
        credit_notify(v, LM_EVENT_CREDIT_LOW);
        break;
    case CREDIT_GRACE:
        if (vm_set_state(v, VM_GRACE) != 0)
            break;
        v->grace_deadline_ns = d->grace_deadline_ns;
        lm_info("VM %llu: credit exhausted; grace period of %llu ms starts",
                (unsigned long long)v->id, (unsigned long long)c->grace_ms);
        credit_notify(v, LM_EVENT_GRACE);
        break;
    case CREDIT_RESUME:
        if (vm_set_state(v, d->state) == 0)
            lm_info("VM %llu: paid during grace, back to %s", (unsigned long long)v->id,
                    vm_state_name(v->state));
        break;
    case CREDIT_RECLAIM:
        vm_destroy(v, "unpaid: credit and grace period used up");
        break;
    }
}

int credit_pay(const struct em_config *c, struct vm *v, uint32_t index,
               const uint8_t link[LM_HASH_BYTES], struct lm_diag *d)
{
    uint32_t before = v->chain.last_index;
    int rc = lm_chain_accept(&v->chain, index, link, d);
    if (rc)
        return rc;
    uint64_t units = index - before;
    v->credit_ms += (int64_t)(units * v->token.link_value_ms);
    v->earned_units += units;
    if (v->credit_ms > (int64_t)c->low_credit_ms)
        v->warned = false;
    /* A payment ends a grace period at once; draining and warning are the tick's. Deciding
     * at the last tick's instant adds no time. */
    struct credit_decision cd = credit_decide(c, v, v->last_tick_ns);
    if (cd.action == CREDIT_RESUME)
        credit_apply(c, v, &cd);
    credit_notify(v, LM_EVENT_CREDIT);
    return 0;
}

struct tick {
    const struct em_config *c;
    uint64_t now_ns;
};

static void tick_one(struct vm *v, void *arg)
{
    const struct tick *t = arg;
    /* After a change of state, decide again at the same instant: a grace period of 0 ms ends
     * in the tick that starts it. The third round finds nothing more to do. */
    for (int round = 0; round < 3; round++) {
        enum vm_state before = v->state;
        struct credit_decision d = credit_decide(t->c, v, t->now_ns);
        credit_apply(t->c, v, &d);
        if (v->state == before)
            break;
    }
}

void credit_tick(const struct em_config *c, uint64_t now_ns)
{
    struct tick t = {c, now_ns};
    vm_foreach(tick_one, &t);
}

void credit_record_earnings(const struct em_config *c, const struct vm *v, const char *why)
{
    char path[256], id[33], link[65], t[32];
    snprintf(path, sizeof path, "%s/earnings.jsonl", c->state_dir);
    lm_token_id_hex(v->token.id, id);
    lm_hex_encode(v->chain.last, LM_HASH_BYTES, link);
    /* What settlement needs: the token, the newest link and its index; the rest explains. */
    json_t *o = json_pack("{s:I s:s s:I s:I s:I s:s s:I s:s s:s}", "vm", (json_int_t)v->id,
                          "token", id, "units", (json_int_t)v->earned_units, "prepaid",
                          (json_int_t)v->token.prepaid_units, "index",
                          (json_int_t)v->chain.last_index, "link", link, "link_value_ms",
                          (json_int_t)v->token.link_value_ms, "ended", lm_fmt_time(lm_now(), t),
                          "why", why);
    FILE *f = fopen(path, "a");
    if (!o || !f || json_dumpf(o, f, JSON_COMPACT) != 0 || fputc('\n', f) == EOF)
        lm_err("cannot record the earnings of VM %llu in %s", (unsigned long long)v->id, path);
    if (f)
        fclose(f);
    json_decref(o);
}
