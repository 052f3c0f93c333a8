/*
 * The built-in KVM backend: one lm-vmm process per VM, spawned with its tap (fd 3) and one end
 * of a SOCK_SEQPACKET control socket (fd 4, vmmctl.h). Its events come from that socket
 * (booted, notices) and from a pidfd (ended); one epoll descriptor over both is the one the
 * agent watches.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/pidfd.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../evilman.h"
#include "backend.h"
#include "laundromat/netaddr.h"
#include "laundromat/spawn.h"
#include "laundromat/util.h"
#include "laundromat/vmmctl.h"

extern char **environ;
static char vmm_path[256] = "lm-vmm";

struct be_vm {
    int pid, pidfd, ctl_fd, ep; /* ctl_fd: the agent's end; -1 once the monitor closed it */
    int tap_fd;                 /* the tap stays while its last descriptor lives */
};

void backend_kvm_set_vmm(const char *path)
{
    snprintf(vmm_path, sizeof vmm_path, "%s", path);
}

static void kvm_release(struct be_vm *b)
{
    if (b->tap_fd >= 0)
        close(b->tap_fd); /* the kernel removes the tap with its last descriptor */
    if (b->ctl_fd >= 0)
        close(b->ctl_fd);
    if (b->pidfd >= 0)
        close(b->pidfd);
    if (b->ep >= 0)
        close(b->ep);
    free(b);
}

/* Spawns the monitor with a loader's secret key in its environment (private to the process),
 * not in argv. */
static int spawn_vmm(const struct vm_spec *s, int ctl, struct lm_diag *d)
{
    char mem[16], ip[LM_IP4_PREFIX_STR], gw[LM_IP4_STR], mac[LM_MAC_STR], commit[65];
    snprintf(mem, sizeof mem, "%llu", (unsigned long long)s->mem_mib);
    lm_ip4_prefix_format(s->ip, s->prefix, ip);
    lm_ip4_format(s->gateway, gw);
    lm_mac_format(s->mac, mac);
    lm_hex_encode(s->commitment, 32, commit);
    char *argv[] = {vmm_path, "-q", "--mem", mem, "--tap-fd", "3", "--ip", ip, "--gw", gw,
                    "--mac", mac, "--commitment", commit, "--ctl-fd", "4", "-c",
                    (char *)s->cmdline, s->loader ? "--loader" : (char *)s->kernel,
                    s->loader ? (char *)s->kernel : NULL, NULL};
    if (access(vmm_path, X_OK) != 0)
        return -lm_fail(d, LM_INTERNAL, "cannot start %s: %s (the vmm setting names the monitor)", vmm_path, strerror(errno));
    size_t nenv = 0;
    while (environ[nenv])
        nenv++;
    char **envp = calloc(nenv + 2, sizeof *envp), keyvar[16 + 65];
    if (!envp)
        return -lm_fail(d, LM_INTERNAL, "out of memory");
    size_t k = 0;
    for (size_t i = 0; i < nenv; i++)
        if (strncmp(environ[i], "LM_LOADER_KEY=", 14) != 0)
            envp[k++] = environ[i];
    if (s->loader_key) {
        memcpy(keyvar, "LM_LOADER_KEY=", 14);
        lm_hex_encode(s->loader_key, 32, keyvar + 14);
        envp[k++] = keyvar;
    }
    int pid = lm_spawn(vmm_path, argv, envp, s->log_path, s->tap_fd, ctl);
    int err = errno;
    sodium_memzero(keyvar, sizeof keyvar);
    free(envp);
    if (pid < 0)
        return -lm_fail(d, LM_INTERNAL, "cannot start %s: %s", vmm_path, strerror(err));
    return pid;
}

static struct be_vm *kvm_create(const struct vm_spec *s, struct lm_diag *d)
{
    struct be_vm *b = calloc(1, sizeof *b);
    int ctl[2] = {-1, -1};
    if (!b) {
        close(s->tap_fd);
        lm_fail(d, LM_INTERNAL, "out of memory");
        return NULL;
    }
    b->pid = b->pidfd = b->ep = b->ctl_fd = -1;
    b->tap_fd = s->tap_fd;
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, ctl) < 0 ||
        (b->ep = epoll_create1(EPOLL_CLOEXEC)) < 0) {
        lm_fail(d, LM_INTERNAL, "cannot set up the VM's control socket: %s", strerror(errno));
        goto fail;
    }
    b->ctl_fd = ctl[0];
    fcntl(b->ctl_fd, F_SETFL, O_NONBLOCK);
    int pid = spawn_vmm(s, ctl[1], d);
    close(ctl[1]);
    ctl[1] = -1;
    if (pid < 0)
        goto fail;
    b->pid = pid;
    struct epoll_event e = {.events = EPOLLIN};
    if ((b->pidfd = pidfd_open(pid, 0)) < 0 || epoll_ctl(b->ep, EPOLL_CTL_ADD, b->pidfd, &e) < 0 ||
        epoll_ctl(b->ep, EPOLL_CTL_ADD, b->ctl_fd, &e) < 0) {
        lm_fail(d, LM_INTERNAL, "cannot watch the monitor (pid %d): %s", pid, strerror(errno));
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        goto fail;
    }
    return b;
fail:
    if (ctl[1] >= 0)
        close(ctl[1]);
    kvm_release(b);
    return NULL;
}

static void send_msg(struct be_vm *b, const struct lm_ctl_msg *m)
{
    /* Best effort: a monitor that is not reading sees the next update. */
    if (b->ctl_fd >= 0)
        send(b->ctl_fd, m, sizeof *m, MSG_DONTWAIT | MSG_NOSIGNAL);
}

static void kvm_credit(struct be_vm *b, uint32_t events, uint64_t credit_ms, uint64_t grace_ms)
{
    struct lm_ctl_msg m = {.type = LM_CTL_CREDIT, .events = events, .credit_ms = credit_ms,
                           .grace_ms = grace_ms};
    send_msg(b, &m);
}

static void kvm_evict(struct be_vm *b, uint64_t within_ms)
{
    struct lm_ctl_msg m = {.type = LM_CTL_EVICT, .grace_ms = within_ms};
    send_msg(b, &m);
}

/* Unlike credit news, an assignment must arrive: the warm loader listens for nobody else. */
static int kvm_assign(struct be_vm *b, const uint8_t commitment[32], uint32_t sender)
{
    struct lm_ctl_msg m = {.type = LM_CTL_ASSIGN};
    memcpy(m.commitment, commitment, 32);
    memcpy(m.sender, &sender, 4);
    return b->ctl_fd >= 0 &&
                   send(b->ctl_fd, &m, sizeof m, MSG_DONTWAIT | MSG_NOSIGNAL) == (ssize_t)sizeof m
               ? 0
               : -1;
}

static int kvm_event_fd(const struct be_vm *b)
{
    return b->ep;
}

/* The monitor's messages first (what it said before it ended comes first), then its end. */
static bool kvm_next_event(struct be_vm *b, struct be_event *ev)
{
    struct lm_ctl_msg m;
    ssize_t n;
    while (b->ctl_fd >= 0 && (n = recv(b->ctl_fd, &m, sizeof m, MSG_DONTWAIT)) != 0) {
        if (n < 0)
            break; /* nothing now (EAGAIN) */
        if (n == sizeof m && m.type == LM_CTL_BOOTED) {
            *ev = (struct be_event){.kind = BE_BOOTED};
            return true;
        }
        if (n == sizeof m && m.type == LM_CTL_NOTICE) {
            *ev = (struct be_event){.kind = BE_NOTICE, .notice = m.events};
            return true;
        }
    }
    if (b->ctl_fd >= 0 && n == 0) { /* the monitor closed its end: its exit follows */
        epoll_ctl(b->ep, EPOLL_CTL_DEL, b->ctl_fd, NULL);
        close(b->ctl_fd);
        b->ctl_fd = -1;
    }
    siginfo_t si = {0};
    if (b->pid < 0 || waitid(P_PIDFD, (id_t)b->pidfd, &si, WEXITED | WNOHANG) < 0 ||
        si.si_pid == 0)
        return false;
    b->pid = -1;
    epoll_ctl(b->ep, EPOLL_CTL_DEL, b->pidfd, NULL);
    int status = si.si_code == CLD_EXITED ? (si.si_status & 0xff) << 8 : si.si_status & 0x7f;
    *ev = (struct be_event){.kind = BE_ENDED, .status = status};
    return true;
}

static void kvm_destroy(struct be_vm *b)
{
    if (b->pid > 0)
        pidfd_send_signal(b->pidfd, SIGKILL, NULL, 0);
}

static long kvm_pid(const struct be_vm *b)
{
    return b->pid;
}

const struct backend backend_kvm = {
    .name = "kvm", .create = kvm_create, .credit = kvm_credit, .evict = kvm_evict,
    .assign = kvm_assign,
    .event_fd = kvm_event_fd, .next_event = kvm_next_event, .destroy = kvm_destroy,
    .release = kvm_release, .pid = kvm_pid,
};
