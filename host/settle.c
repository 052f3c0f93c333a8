/*
 * Settlement with the broker: Evil Man redeems what each VM earned (the newest link it
 * accepted and its index) with the operator's key, when a VM ends and every
 * settle_interval_s while it runs. Each redemption runs `lmctl redeem` as a child process, so
 * a slow or absent broker never stalls the agent; the broker pays each unit once however
 * often a link is presented, so a retry is always safe. Results go to state_dir/settle.log.
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>

#include "evilman.h"
#include "laundromat/log.h"
#include "laundromat/util.h"

extern char **environ;

#define MAX_PENDING 64

static struct {
    int pid;
    uint64_t vm;
    uint32_t index;
} pending[MAX_PENDING];

void settle_vm(const struct em_config *c, struct vm *v)
{
    if (!c->broker_url[0] || v->settled_index == v->chain.last_index + 1)
        return; /* no broker configured, or this index was presented already */
    int slot = -1;
    for (int i = 0; i < MAX_PENDING && slot < 0; i++)
        if (!pending[i].pid)
            slot = i;
    if (slot < 0) {
        lm_warn("settle: %d redemptions under way; VM %llu waits for the next round",
                MAX_PENDING, (unsigned long long)v->id);
        return;
    }
    char id[33], index[16], link[65], log[256];
    lm_token_id_hex(v->token.id, id);
    snprintf(index, sizeof index, "%u", v->chain.last_index);
    lm_hex_encode(v->chain.last, LM_HASH_BYTES, link);
    snprintf(log, sizeof log, "%s/settle.log", c->state_dir);
    char *argv[] = {(char *)c->lmctl, "redeem", "--broker", (char *)c->broker_url, "--key",
                    (char *)c->operator_key, "--token", id, "--index", index, "--link", link,
                    "--host", (char *)c->host_name, NULL};
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, log, O_WRONLY | O_CREAT | O_APPEND, 0640);
    posix_spawn_file_actions_adddup2(&fa, 1, 2);
    posix_spawnattr_t at;
    posix_spawnattr_init(&at);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&at, &none);
    posix_spawnattr_setsigdefault(&at, &all);
    posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    int pid, rc = posix_spawn(&pid, c->lmctl, &fa, &at, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&at);
    if (rc != 0) {
        lm_err("settle: cannot run %s: %s", c->lmctl, strerror(rc));
        return;
    }
    pending[slot].pid = pid;
    pending[slot].vm = v->id;
    pending[slot].index = v->chain.last_index;
    v->settled_index = v->chain.last_index + 1;
    lm_info("settle: redeeming token %s up to link %u (VM %llu)", id, v->chain.last_index,
            (unsigned long long)v->id);
}

bool settle_reaped(int pid, int status)
{
    for (int i = 0; i < MAX_PENDING; i++)
        if (pending[i].pid == pid) {
            pending[i].pid = 0;
            if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
                lm_warn("settle: redemption for VM %llu up to link %u failed (status %d); "
                        "see settle.log, it is retried with the next link",
                        (unsigned long long)pending[i].vm, pending[i].index, status);
            else
                lm_info("settle: VM %llu redeemed up to link %u", (unsigned long long)pending[i].vm,
                        pending[i].index);
            return true;
        }
    return false;
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
