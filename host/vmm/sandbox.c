/* Seccomp sandbox entered after setup: the run loop's system calls and nothing else. */
#include <errno.h>
#include <linux/kvm.h>
#include <seccomp.h>
#include <string.h>
#include <sys/ioctl.h>

#include "laundromat/log.h"
#include "vmm.h"

int sandbox_enter(struct vm *vm)
{
    /* Anything else kills the process: a compromised monitor gets no second try. */
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
    if (!ctx) {
        lm_err("seccomp_init failed");
        return -1;
    }
    int rc = 0;
#define ALLOW(call, ...) \
    rc |= seccomp_rule_add(ctx, SCMP_ACT_ALLOW, SCMP_SYS(call), __VA_ARGS__)
    /* The vCPU: run it, and read its registers for a fault report. */
    ALLOW(ioctl, 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vcpu_fd),
          SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)KVM_RUN));
    ALLOW(ioctl, 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vcpu_fd),
          SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)KVM_GET_REGS));
    ALLOW(ioctl, 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vcpu_fd),
          SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)KVM_GET_SREGS));
    if (vm->loader_mem) { /* LM_HC_EXEC: drop the loader block, restart the vCPU */
        ALLOW(ioctl, 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vm_fd),
              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)KVM_SET_USER_MEMORY_REGION));
        ALLOW(ioctl, 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vcpu_fd),
              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)KVM_SET_SREGS));
        ALLOW(ioctl, 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->vcpu_fd),
              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)KVM_SET_REGS));
        ALLOW(munmap, 2, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)(uintptr_t)vm->loader_mem),
              SCMP_A1(SCMP_CMP_EQ, (scmp_datum_t)vm->loader_size));
    }
    /* Console and log output. */
    ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, 1));
    ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, 2));
    if (vm->ctl_fd >= 0) { /* the agent's control socket */
        ALLOW(recvfrom, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->ctl_fd));
        ALLOW(sendto, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->ctl_fd));
        ALLOW(close, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->ctl_fd));
    }
    if (vm->net.tap_fd >= 0) { /* frames */
        ALLOW(read, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->net.tap_fd));
        ALLOW(write, 1, SCMP_A0(SCMP_CMP_EQ, (scmp_datum_t)vm->net.tap_fd));
    }
    /* Blocking in the poll hypercall, and the clock when the vDSO falls back. */
    ALLOW(ppoll, 0);
    ALLOW(clock_gettime, 0);
    /* Signals and the way out. */
    ALLOW(rt_sigreturn, 0);
    ALLOW(exit_group, 0);
    ALLOW(exit, 0);
#undef ALLOW
    if (rc == 0)
        rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) {
        lm_err("cannot install the seccomp filter: %s", strerror(-rc));
        return -1;
    }
    return 0;
}
