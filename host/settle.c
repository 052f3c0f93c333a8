/*
 * Settlement with the broker: Evil Man redeems what each VM earned (the newest link it
 * accepted and its index) with the operator's key, when a VM ends and every
 * settle_interval_s while it runs. Each redemption runs `lmctl redeem` as a child process, so
 * a slow or absent broker never stalls the agent; the broker pays each unit once however
 * often a link is presented, so a retry is always safe. Results go to state_dir/settle.log.
 * The same children carry the agent's other calls to the broker (locate.c).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "evilman.h"
#include "laundromat/log.h"
#include "laundromat/netaddr.h"
#include "laundromat/spawn.h"
#include "laundromat/util.h"

extern char **environ;

#define MAX_PENDING 64

static struct {
    int pid;
    uint64_t vm;
    uint32_t index; /* a redemption: up to this link; a location report: UINT32_MAX */
} pending[MAX_PENDING];

#define REPORT UINT32_MAX

/* Runs lmctl with argv (argv[0] is c->lmctl) for VM vm, its output to state_dir/settle.log.
 * 0, or -1 when no slot is free or the spawn failed (said in the log). */
static int spawn_lmctl(const struct em_config *c, char **argv, uint64_t vm, uint32_t index)
{
    int slot = -1;
    for (int i = 0; i < MAX_PENDING && slot < 0; i++)
        if (!pending[i].pid)
            slot = i;
    if (slot < 0) {
        lm_warn("broker: %d calls under way; VM %llu's %s waits", MAX_PENDING,
                (unsigned long long)vm, index == REPORT ? "location" : "redemption");
        return -1;
    }
    char log[256];
    snprintf(log, sizeof log, "%s/settle.log", c->state_dir);
    int pid = lm_spawn(c->lmctl, argv, environ, log, -1, -1);
    if (pid < 0) {
        lm_err("broker: cannot run %s: %s", c->lmctl, strerror(errno));
        return -1;
    }
    pending[slot].pid = pid;
    pending[slot].vm = vm;
    pending[slot].index = index;
    return 0;
}

void settle_vm(const struct em_config *c, struct vm *v)
{
    if (!c->broker_url[0] || v->settled_index == v->chain.last_index + 1)
        return; /* no broker configured, or this index was presented already */
    char id[33], index[16], link[65];
    lm_token_id_hex(v->token.id, id);
    snprintf(index, sizeof index, "%u", v->chain.last_index);
    lm_hex_encode(v->chain.last, LM_HASH_BYTES, link);
    char *argv[] = {(char *)c->lmctl, "redeem", "--broker", (char *)c->broker_url, "--key",
                    (char *)c->operator_key, "--token", id, "--index", index, "--link", link,
                    "--host", (char *)c->host_name, NULL};
    if (spawn_lmctl(c, argv, v->id, v->chain.last_index) != 0)
        return;
    v->settled_index = v->chain.last_index + 1;
    lm_info("settle: redeeming token %s up to link %u (VM %llu)", id, v->chain.last_index,
            (unsigned long long)v->id);
}

void settle_report_location(const struct em_config *c, const struct vm *v)
{
    if (!c->broker_url[0])
        return;
    char id[33], addr[LM_IP4_STR];
    lm_token_id_hex(v->token.id, id);
    lm_ip4_format(v->ip, addr);
    char *argv[] = {(char *)c->lmctl, "report-location", "--broker", (char *)c->broker_url,
                    "--key", (char *)c->operator_key, "--token", id, "--host",
                    (char *)c->host_name, "--address", addr, NULL};
    if (spawn_lmctl(c, argv, v->id, REPORT) == 0)
        lm_info("broker: VM %llu runs at %s: telling the broker (token %s)",
                (unsigned long long)v->id, addr, id);
}

/* Only our own children: the VMs' processes are their backend's to wait for. */
void settle_reap(void)
{
    int status;
    for (int i = 0; i < MAX_PENDING; i++) {
        if (!pending[i].pid || waitpid(pending[i].pid, &status, WNOHANG) != pending[i].pid)
            continue;
        pending[i].pid = 0;
        if (pending[i].index == REPORT) {
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                lm_warn("broker: the location report for VM %llu failed (status %d); see "
                        "settle.log", (unsigned long long)pending[i].vm, status);
            continue;
        }
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            lm_warn("settle: redemption for VM %llu up to link %u failed (status %d); "
                    "see settle.log, it is retried with the next link",
                    (unsigned long long)pending[i].vm, pending[i].index, status);
        else
            lm_info("settle: VM %llu redeemed up to link %u", (unsigned long long)pending[i].vm,
                    pending[i].index);
    }
}

static void settle_one(struct vm *v, void *arg)
{
    if (v->state != VM_ENDED)
        settle_vm(arg, v);
}

void settle_tick(const struct em_config *c)
{
    vm_foreach(settle_one, (void *)c);
}

unsigned settle_pending(void)
{
    unsigned n = 0;
    for (int i = 0; i < MAX_PENDING; i++)
        n += pending[i].pid != 0;
    return n;
}
