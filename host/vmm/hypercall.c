/* Hypercall dispatch: every argument block and guest pointer is bounds-checked here. */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "laundromat/clock.h"
#include "laundromat/log.h"
#include "vmm.h"

void vm_abi_violation(struct vm *vm, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    lm_err("guest broke the ABI, VM ended: %s", msg);
    vm_dump_regs(vm);
    vm->exited = true;
    vm->exit_code = LM_EXIT_ABI;
}

/* Copies the argument block in (a snapshot the guest cannot change under us). */
static void *args_in(struct vm *vm, uint32_t gpa, void *local, size_t size, const char *call)
{
    void *p = vm_gpa(vm, gpa, size);
    if (!p || (gpa & 7)) {
        vm_abi_violation(vm, "%s: argument block at 0x%x (%zu bytes) is %s", call, gpa, size,
                         p ? "not 8-byte aligned" : "outside guest RAM");
        return NULL;
    }
    memcpy(local, p, size);
    return p;
}

static void hc_console(struct vm *vm, uint32_t gpa)
{
    struct lm_hc_console a;
    if (!args_in(vm, gpa, &a, sizeof a, "console"))
        return;
    if (a.len > LM_CONSOLE_MAX) {
        vm_abi_violation(vm, "console: length %llu exceeds %d", (unsigned long long)a.len,
                         LM_CONSOLE_MAX);
        return;
    }
    const char *s = vm_gpa(vm, a.data, a.len);
    if (!s) {
        vm_abi_violation(vm, "console: buffer [0x%llx, +%llu) is outside guest RAM",
                         (unsigned long long)a.data, (unsigned long long)a.len);
        return;
    }
    for (size_t off = 0; off < a.len;) {
        ssize_t n = write(STDOUT_FILENO, s + off, a.len - off);
        if (n <= 0)
            break; /* console output is best effort: a closed stdout must not kill the VM */
        off += (size_t)n;
    }
}

static struct timespec ns_to_ts(uint64_t ns)
{
    return (struct timespec){(time_t)(ns / 1000000000ull), (long)(ns % 1000000000ull)};
}

/* Blocks until RX frames or agent messages wait, or the timeout passes. */
static void hc_poll(struct vm *vm, uint32_t gpa)
{
    struct lm_hc_poll a;
    struct lm_hc_poll *g = args_in(vm, gpa, &a, sizeof a, "poll");
    if (!g)
        return;
    uint32_t added;
    ctl_drain(vm);
    if (vm->net.ready && !net_rx_pending(vm))
        net_rx(vm, &added);
    bool ready = vm->events || (vm->net.ready && net_rx_pending(vm));
    if (!ready && !vm->exited && a.timeout_ns > 0) {
        struct pollfd pfd[2];
        nfds_t n = 0;
        if (vm->net.ready)
            pfd[n++] = (struct pollfd){.fd = vm->net.tap_fd, .events = POLLIN};
        if (vm->ctl_fd >= 0)
            pfd[n++] = (struct pollfd){.fd = vm->ctl_fd, .events = POLLIN};
        struct timespec ts = ns_to_ts(a.timeout_ns);
        if (ppoll(n ? pfd : NULL, n, &ts, NULL) > 0) {
            ctl_drain(vm);
            if (vm->net.ready)
                net_rx(vm, &added);
        }
    }
    g->ready = (vm->net.ready && net_rx_pending(vm) ? LM_POLL_NET_RX : 0) |
               (vm->events ? LM_POLL_EVENT : 0);
}

/* A loader hands the VM over: check the boot info it wrote, drop the loader block, restart
 * the vCPU at the new kernel's entry. */
static void hc_exec(struct vm *vm, uint32_t gpa)
{
    struct lm_hc_exec a;
    if (!args_in(vm, gpa, &a, sizeof a, "exec"))
        return;
    if (!vm->loader_mem) {
        vm_abi_violation(vm, "exec: only a loader VM may hand over");
        return;
    }
    struct lm_boot_info *bi = vm_gpa(vm, LM_BOOTINFO_GPA, sizeof *bi);
    const char *why = bi->magic != LM_BOOTINFO_MAGIC ? "bad magic"
                      : bi->abi_version != LM_ABI_VERSION ? "wrong ABI version"
                      : bi->mem_size != vm->mem_size ? "mem_size is not the VM's RAM"
                      : bi->kernel_start < LM_KERNEL_MIN_GPA || bi->kernel_start >= bi->kernel_end ||
                              bi->kernel_end > vm->mem_size ? "kernel range outside RAM"
                      : a.entry < bi->kernel_start || a.entry >= bi->kernel_end
                          ? "entry outside the kernel range"
                      : !memchr(bi->cmdline, '\0', sizeof bi->cmdline) ? "unterminated cmdline"
                      : NULL;
    if (why) {
        vm_abi_violation(vm, "exec: boot info at 0x%llx refused: %s (entry 0x%llx, kernel "
                         "[0x%llx, 0x%llx))", LM_BOOTINFO_GPA, why, (unsigned long long)a.entry,
                         (unsigned long long)bi->kernel_start, (unsigned long long)bi->kernel_end);
        return;
    }
    /* What the VM is, the monitor says; what to run, the loader. */
    bi->net = vm->boot_net;
    bi->clock.tsc_hz = vm->tsc_hz;
    bi->loader_base = bi->loader_size = 0;
    /* The rings lived in the loader block, which is gone: the kernel sets up its own. */
    vm->net.ready = false;
    vm->net.rx = vm->net.tx = NULL;
    if (vm_complete_io(vm) < 0 || vm_drop_loader(vm) < 0 || vm_reset_vcpu(vm, a.entry) < 0) {
        vm->exited = true;
        vm->exit_code = LM_EXIT_MONITOR;
        return;
    }
    lm_info("loader handed over: kernel [0x%llx, 0x%llx), entry 0x%llx",
            (unsigned long long)bi->kernel_start, (unsigned long long)bi->kernel_end,
            (unsigned long long)a.entry);
    ctl_send_booted(vm, a.entry);
}

static void hc_assign(struct vm *vm, uint32_t gpa)
{
    struct lm_hc_assign a;
    struct lm_hc_assign *g = args_in(vm, gpa, &a, sizeof a, "assign");
    if (!g)
        return;
    ctl_drain(vm);
    memset(g, 0, sizeof *g);
    if (vm->assigned) {
        memcpy(g->commitment, vm->assign_commitment, 32);
        memcpy(g->sender, vm->assign_sender, 4);
        g->assigned = 1;
    }
}

static void hc_events(struct vm *vm, uint32_t gpa)
{
    struct lm_hc_events a;
    struct lm_hc_events *g = args_in(vm, gpa, &a, sizeof a, "events");
    if (!g)
        return;
    ctl_drain(vm);
    g->pending = vm->events;
    g->evict_ms = vm->evict_ms;
    g->credit_ms = vm->credit_ms;
    g->grace_ms = vm->grace_ms;
    vm->events = 0;
}

void hc_dispatch(struct vm *vm, uint16_t port, uint32_t gpa)
{
    switch (port - LM_HC_PORT_BASE) {
    case LM_HC_CONSOLE:
        hc_console(vm, gpa);
        break;
    case LM_HC_CLOCK: {
        struct lm_hc_clock a;
        struct lm_hc_clock *g = args_in(vm, gpa, &a, sizeof a, "clock");
        if (g)
            g->wall_ns = lm_wall_ns();
        break;
    }
    case LM_HC_POLL:
        vm->net.polls++;
        hc_poll(vm, gpa);
        break;
    case LM_HC_NET_SETUP: {
        struct lm_hc_net_setup a;
        struct lm_hc_net_setup *g = args_in(vm, gpa, &a, sizeof a, "net setup");
        if (g && net_setup(vm, a.rx, a.tx) == 0)
            memcpy(g->mac, vm->net.mac, 6);
        break;
    }
    case LM_HC_NET_KICK: {
        struct lm_hc_net_kick a;
        struct lm_hc_net_kick *g = args_in(vm, gpa, &a, sizeof a, "net kick");
        if (!g)
            break;
        vm->net.kicks++;
        if (!vm->net.ready) {
            vm_abi_violation(vm, "net kick before net setup");
            break;
        }
        uint32_t sent = 0, added = 0;
        net_tx(vm, &sent);
        if (!vm->exited)
            net_rx(vm, &added);
        g->tx_sent = sent;
        g->rx_added = added;
        break;
    }
    case LM_HC_EXEC:
        hc_exec(vm, gpa);
        break;
    case LM_HC_ASSIGN:
        hc_assign(vm, gpa);
        break;
    case LM_HC_EVENTS:
        hc_events(vm, gpa);
        break;
    case LM_HC_NOTICE: {
        struct lm_hc_notice a;
        if (!args_in(vm, gpa, &a, sizeof a, "notice"))
            break;
        if ((a.what != LM_NOTICE_MIGRATING && a.what != LM_NOTICE_STAYED) || a.reserved)
            vm_abi_violation(vm, "notice %u (reserved %u): not a notice", a.what, a.reserved);
        else
            ctl_send_notice(vm, a.what);
        break;
    }
    case LM_HC_EXIT: {
        struct lm_hc_exit a;
        if (!args_in(vm, gpa, &a, sizeof a, "exit"))
            break;
        vm->exited = true;
        vm->exit_code = a.status <= 123 ? (int)a.status : 123;
        if (a.status > 123)
            lm_warn("guest exit status %llu is above 123, reported as 123",
                    (unsigned long long)a.status);
        break;
    }
    default:
        vm_abi_violation(vm, "unknown hypercall %u (port 0x%x)", port - LM_HC_PORT_BASE, port);
        break;
    }
}
