/* The agent's control socket: credit updates in, hand-over notices out. */
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "laundromat/log.h"
#include "laundromat/netaddr.h"
#include "laundromat/vmmctl.h"
#include "vmm.h"

void ctl_drain(struct vm *vm)
{
    if (vm->ctl_fd < 0)
        return;
    for (;;) {
        struct lm_ctl_msg m;
        ssize_t n = recv(vm->ctl_fd, &m, sizeof m, MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return;
        if (n <= 0) { /* the agent is gone: nothing may run unaccounted */
            lm_err("control socket closed by the agent (%s); ending the VM",
                   n < 0 ? strerror(errno) : "EOF");
            vm->exited = true;
            vm->exit_code = LM_EXIT_MONITOR;
            close(vm->ctl_fd);
            vm->ctl_fd = -1;
            return;
        }
        if (n == sizeof m && m.type == LM_CTL_ASSIGN) {
            if (!vm->warm || vm->assigned) {
                lm_warn("control socket: ignoring an assignment to a VM %s", vm->warm ?
                        "already assigned" : "booted with a commitment");
                continue;
            }
            vm->assigned = true;
            memcpy(vm->assign_commitment, m.commitment, 32);
            memcpy(vm->assign_sender, m.sender, 4);
            vm->events |= LM_EVENT_ASSIGNED;
            char from[LM_IP4_STR];
            lm_info("assigned: payload commitment %02x%02x%02x%02x..., from %s", m.commitment[0],
                    m.commitment[1], m.commitment[2], m.commitment[3],
                    lm_ip4_format(m.sender, from));
            continue;
        }
        if (n == sizeof m && m.type == LM_CTL_EVICT) {
            vm->events |= LM_EVENT_EVICT;
            vm->evict_ms = m.grace_ms > UINT32_MAX ? UINT32_MAX : (uint32_t)m.grace_ms;
            continue;
        }
        if (n != sizeof m || m.type != LM_CTL_CREDIT ||
            (m.events & ~(LM_EVENT_CREDIT_LOW | LM_EVENT_GRACE | LM_EVENT_CREDIT))) {
            lm_warn("control socket: ignoring a malformed %zd-byte message (type %u)", n,
                    n >= 4 ? m.type : 0);
            continue;
        }
        vm->events |= m.events;
        vm->credit_ms = m.credit_ms;
        vm->grace_ms = m.grace_ms;
    }
}

static void send_msg(struct vm *vm, const struct lm_ctl_msg *m, const char *what)
{
    if (vm->ctl_fd >= 0 &&
        send(vm->ctl_fd, m, sizeof *m, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof *m)
        lm_warn("control socket: cannot %s: %s", what, strerror(errno));
}

void ctl_send_notice(struct vm *vm, uint32_t what)
{
    struct lm_ctl_msg m = {.type = LM_CTL_NOTICE, .events = what};
    send_msg(vm, &m, "pass the guest's notice on");
}

void ctl_send_booted(struct vm *vm, uint64_t entry)
{
    struct lm_ctl_msg m = {.type = LM_CTL_BOOTED, .entry = entry};
    send_msg(vm, &m, "report the hand-over");
}
