/*
 * The control socket between `lmctl host` (or any tool of the operator's) and Evil Man: a
 * root-only UNIX stream socket; per connection one command line, then one JSON object as the
 * answer, newline-terminated, at most LM_HOSTCTL_ANSWER_MAX bytes. Both sides write and read
 * the command through lib/hostctl.c (fuzzed: tests/fuzz/fuzz_hostctl.c), as vmmctl.h is
 * between the agent and lm-vmm.
 *
 * Answers: status {host, cluster, vms, max_vms, mem_mib, total_mem_mib, addresses_in_use,
 * uptime_s, heap_bytes, udp_received (datagrams read), udp_shed (of those, dropped undecoded:
 * over their source's share), udp_dropped (what the kernel dropped for the socket: its filter's
 * garbage and a full queue's together; the host's /proc/net/snmp RcvbufErrors tells the second
 * apart)}; ls {vms: [{id, state, token,
 * mem_mib, ip, tap, credit_ms, paid_index, ...}]}; kill {killed, state}; evict {evicted,
 * within_ms, state}; any refusal {error: "why"}.
 */
#ifndef LAUNDROMAT_HOSTCTL_H
#define LAUNDROMAT_HOSTCTL_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/status.h"

#define LM_HOSTCTL_LINE_MAX 64             /* a command line, its newline included */
#define LM_HOSTCTL_ANSWER_MAX (4u << 20)   /* the longest answer a client reads */
#define LM_HOSTCTL_USAGE "status, ls, kill ID, evict ID MS"

enum lm_hostctl_op {
    LM_HOSTCTL_STATUS = 1, /* the host's figures */
    LM_HOSTCTL_LS,         /* every VM */
    LM_HOSTCTL_KILL,       /* destroy VM `vm` now */
    LM_HOSTCTL_EVICT,      /* VM `vm` must leave within `within_ms` */
};

struct lm_hostctl_cmd {
    enum lm_hostctl_op op;
    uint64_t vm;        /* KILL, EVICT: the VM's number (as ls shows it) */
    uint64_t within_ms; /* EVICT */
};

/* The command's line ("kill 3\n") into out: its length, or -LM_INVAL if op is unknown or
 * cap is too small. */
int lm_hostctl_format(const struct lm_hostctl_cmd *c, char *out, size_t cap);
/* One line of len bytes, its newline optional (also "\r\n"): 0, or -LM_INVAL with d naming
 * what was expected. Numbers are decimal without sign, spaces or leading zeros, below 2^64;
 * words are separated by one space. */
int lm_hostctl_parse(const char *line, size_t len, struct lm_hostctl_cmd *c, struct lm_diag *d);

#endif
