/*
 * Payments and garbage collection: links credit VM time, the accounting tick drains it,
 * the guest is warned when credit runs low, a VM with none left gets a grace period and is
 * then destroyed. What each VM earned is recorded for settlement with the broker.
 */
#include <jansson.h>
#include <stdio.h>
#include <sys/socket.h>

#include "evilman.h"
#include "laundromat/clock.h"
#include "laundromat/log.h"
#include "laundromat/util.h"
#include "laundromat/abi.h"
#include "laundromat/vmmctl.h"

void credit_notify(struct vm *v, uint32_t events)
{
    uint64_t now = lm_now_ns();
    struct lm_ctl_msg m = {
        .type = LM_CTL_CREDIT, .events = events,
        .credit_ms = v->credit_ms > 0 ? (uint64_t)v->credit_ms : 0,
        .grace_ms = v->state == VM_GRACE && v->grace_deadline_ns > now
                        ? (v->grace_deadline_ns - now) / 1000000
                        : 0,
    };
    /* Best effort: a monitor that is not reading will see the next update. */
    send(v->ctl_fd, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL);
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
    if (v->state == VM_GRACE && v->credit_ms > 0) {
        vm_set_state(v, v->booted_ns ? VM_RUNNING : VM_LOADING);
        lm_info("VM %llu: paid during grace, back to %s", (unsigned long long)v->id,
                vm_state_name(v->state));
    }
    credit_notify(v, LM_EVENT_CREDIT);
    return 0;
}

static void tick_one(struct vm *v, void *arg)
{
    const struct em_config *c = ((const struct em_config **)arg)[0];
    uint64_t now = *(uint64_t *)((void **)arg)[1];
    if (v->state == VM_ENDED)
        return;
    v->credit_ms -= (int64_t)((now - v->last_tick_ns) / 1000000);
    v->last_tick_ns = now - (now - v->last_tick_ns) % 1000000; /* keep the sub-ms rest */
    if (v->state != VM_GRACE && v->credit_ms <= 0) {
        vm_set_state(v, VM_GRACE);
        v->grace_deadline_ns = now + c->grace_ms * 1000000ull;
        lm_info("VM %llu: credit exhausted; grace period of %llu ms starts",
                (unsigned long long)v->id, (unsigned long long)c->grace_ms);
        credit_notify(v, LM_EVENT_GRACE);
    } else if (v->state != VM_GRACE && !v->warned && v->credit_ms <= (int64_t)c->low_credit_ms) {
        v->warned = true;
        lm_info("VM %llu: credit low (%lld ms left), guest warned", (unsigned long long)v->id,
                (long long)v->credit_ms);
        credit_notify(v, LM_EVENT_CREDIT_LOW);
    }
    if (v->state == VM_GRACE && now >= v->grace_deadline_ns)
        vm_destroy(v, "unpaid: credit and grace period used up");
}

void credit_tick(const struct em_config *c, uint64_t now_ns)
{
    void *arg[2] = {(void *)c, &now_ns};
    vm_foreach(tick_one, arg);
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
