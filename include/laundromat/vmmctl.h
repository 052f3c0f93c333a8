/*
 * Messages on the control socket between Evil Man and one lm-vmm (--ctl-fd): a SOCK_SEQPACKET
 * pair, one fixed-size little-endian message per packet. Host-internal: both ends are ours,
 * but the monitor still checks every message.
 */
#ifndef LAUNDROMAT_VMMCTL_H
#define LAUNDROMAT_VMMCTL_H

#include <stdint.h>

enum lm_ctl_type {
    LM_CTL_CREDIT = 1, /* agent -> monitor: credit state; events = LM_EVENT_* bits to raise */
    LM_CTL_BOOTED = 2, /* monitor -> agent: the loader handed over to the loaded kernel */
    LM_CTL_NOTICE = 3, /* monitor -> agent: the guest's LM_HC_NOTICE; events = LM_NOTICE_* */
    LM_CTL_EVICT = 4,  /* agent -> monitor: evicted, grace_ms = time left (LM_EVENT_EVICT) */
    LM_CTL_ASSIGN = 5, /* agent -> monitor: a warm loader's buyer: commitment and sender
                        * (LM_EVENT_ASSIGNED, then LM_HC_ASSIGN); once, and only to a VM
                        * booted without a commitment */
};

struct lm_ctl_msg {
    uint32_t type;
    uint32_t events;
    uint64_t credit_ms;
    uint64_t grace_ms;
    uint64_t entry;    /* LM_CTL_BOOTED: the new kernel's entry */
    uint8_t commitment[32]; /* LM_CTL_ASSIGN */
    uint8_t sender[4];      /* LM_CTL_ASSIGN: IPv4, network order */
    uint32_t reserved;
};
_Static_assert(sizeof(struct lm_ctl_msg) == 72, "control message size");

#endif
