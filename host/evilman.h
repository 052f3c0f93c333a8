/* Internal header of Evil Man, the host agent: what its files share. */
#ifndef LM_EVILMAN_H
#define LM_EVILMAN_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/token.h"
#include "laundromat/wire.h"

#define EM_MAX_KEYS 16
/* The firmware libvirt's QEMU boots the PVH loader through by default: qboot goes straight to
 * the kernel (0.15 s to the guest's first line on KVM-PVM, where SeaBIOS's real mode, emulated
 * one instruction at a time, takes ~3 s). It assigns no PCI BARs: the guest does. */
#define LM_QBOOT_ROM "/usr/share/qemu/qboot.rom"
#define EM_MAX_OVERLAYS 8

/* An IPv4 address held as 4 bytes in network order, as a u32 (network order too). */
static inline uint32_t ip4_u32(const uint8_t ip[4])
{
    uint32_t v;
    memcpy(&v, ip, 4);
    return v;
}

/* config.c: the daemon's configuration file (docs/evilman.conf.example). */
struct em_config {
    struct sockaddr_in listen;     /* UDP: pings and payments */
    char host_name[LM_SCOPE_BYTES + 1];
    char cluster[LM_SCOPE_BYTES + 1]; /* "" when in no cluster */
    struct lm_pubkey keys[EM_MAX_KEYS];
    size_t nkeys;
    char bridge[16];
    uint8_t bridge_ip[4], prefix;  /* the VMs' gateway and subnet */
    uint8_t pool_lo[4], pool_hi[4];/* VM addresses handed out, inclusive */
    uint8_t mac_prefix[3];
    unsigned max_vms;
    uint64_t max_mem_mib, total_mem_mib;
    uint64_t grace_ms, tick_ms, low_credit_ms;
    uint32_t max_skew_s, jump_limit;
    unsigned replay_capacity;
    unsigned verify_rate;          /* signature checks per second, all sources together */
    unsigned verify_rate_per_source;
    unsigned datagram_rate_per_source; /* datagrams read per second from one source while more
                                        * wait: its excess is dropped undecoded */
    unsigned warm_loaders;             /* loader VMs kept booted ahead of demand (kvm backend) */
    unsigned warm_mem_mib;             /* their RAM: they serve image tokens of this size */
    char vmm[256], loader[256];
    char backend[16];              /* kvm or libvirt */
    char libvirt_uri[256];         /* "": libvirt's embedded QEMU driver under state_dir */
    char libvirt_firmware[256];    /* -bios for libvirt's QEMU; "": QEMU's own (SeaBIOS) */
    unsigned loader_port, loader_wait_s, loader_idle_s;
    char control[108];             /* UNIX socket path */
    char broker_url[200];          /* settlement: "" for none */
    char operator_key[200];        /* the operator's secret key file */
    char lmctl[256];               /* the lmctl binary that redeems */
    uint64_t settle_interval_s;    /* redeem running VMs this often; 0: only when they end */
    uint64_t readdress;            /* a guest from another network takes an address here (1) */
    struct em_overlay {            /* overlay = VNI REMOTE SUBNET/PREFIX: a VXLAN to a cluster */
        uint32_t vni;
        uint8_t remote[4];         /* its host's underlay address */
        uint8_t subnet[4], prefix; /* its guests' subnet: they keep their addresses here */
    } overlays[EM_MAX_OVERLAYS];
    unsigned noverlays;
    char state_dir[200];           /* VM logs, earnings */
    /* Eviction when the host needs the room (0: not by that figure): MemAvailable under
     * evict_mem_below MiB, or the 1-minute load average per online CPU above
     * evict_load_above (in hundredths); the VM evicted gets evict_grace to leave. */
    uint64_t evict_mem_below_mib, evict_load_above_centi, evict_grace_ms;
};
int config_load(const char *path, struct em_config *c, struct lm_diag *d);


/* overlay.c: the VXLAN devices (lmvxVNI) joining this host's bridge to other clusters' over
 * the underlay, made with iproute2's `ip` at start and removed at exit. */
int overlay_up(const struct em_config *c);
void overlay_down(const struct em_config *c);
/* Is ip a guest address of a cluster this host is joined to (it keeps it here)? */
bool overlay_has(const struct em_config *c, const uint8_t ip[4]);

/* replay.c: token ids seen here, until they expire; bounded. */
struct replay;
struct replay *replay_new(unsigned capacity);
void replay_free(struct replay *r);
/* The reply cached for this exact datagram (*reply_len bytes), or NULL; *seen tells whether
 * the token id is known at all (then a different datagram is a replay). */
const uint8_t *replay_lookup(struct replay *r, const uint8_t id[LM_TOKEN_ID_BYTES],
                             const uint8_t *dgram, size_t len, bool *seen, size_t *reply_len);
/* Remembers an admitted token until it expires, with the datagram and its reply; -1 when
 * full (nothing is evicted early: that would let a token boot twice). */
int replay_add(struct replay *r, const uint8_t id[LM_TOKEN_ID_BYTES], uint64_t expires_at,
               const uint8_t *dgram, size_t len, const uint8_t *reply, size_t reply_len,
               uint64_t now_ns);
/* Whether a ping naming an admitted token may be answered now: at most one answer per token
 * each REPLAY_ANSWER_GAP_NS (a lost reply is asked again after 200 ms), so that a flood of
 * replays costs one lookup each and reflects nothing. 0: not admitted here; 1: known, may be
 * answered (stamped now); -1: known and answered within the gap: drop it without a word. */
#define REPLAY_ANSWER_GAP_NS 100000000ull
int replay_gate(struct replay *r, const uint8_t id[LM_TOKEN_ID_BYTES], uint64_t now_ns);
void replay_expire(struct replay *r, uint64_t now);
unsigned replay_count(const struct replay *r);

/* ratelimit.c: token buckets, global (none: 0) and per source address, for signature checks
 * and for datagrams while the agent is behind. */
struct ratelimit;
struct ratelimit *ratelimit_new(unsigned global_per_s, unsigned per_source_per_s);
void ratelimit_free(struct ratelimit *r);
bool ratelimit_take(struct ratelimit *r, uint32_t source_ip, uint64_t now_ns);

/* ping.c: admission of a magic ping, without side effects (fuzzed). */
struct admit_limits {
    unsigned vms_running, max_vms;
    uint64_t mem_in_use_mib, total_mem_mib;
    bool checkpoints; /* this host can vouch for a loader (it has the operator's key) */
    unsigned warm_vms; /* of vms_running, warm loaders (each warm_mem_mib of mem_in_use): their
                        * room counts as free */
};

struct admit {
    int status;                    /* 0 admitted, else enum lm_status */
    bool resend;                   /* an exact repeat: send `cached` again */
    bool quiet;                    /* a token answered within REPLAY_ANSWER_GAP_NS: no answer,
                                    * no log (status LM_REPLAY) */
    const uint8_t *cached;         /* with resend */
    size_t cached_len;
    struct lm_ping ping;
    struct lm_token token;
    struct lm_diag why;            /* the reason, for the log */
};
void ping_admit(const uint8_t *dgram, size_t len, uint32_t source_ip, uint64_t now_s,
                uint64_t now_ns, const struct em_config *c, const struct admit_limits *lim,
                struct replay *replay, struct ratelimit *rl, struct admit *a);

/* pool.c: VM addresses and MACs. */
int pool_take(const struct em_config *c, const uint8_t want[4], uint8_t ip[4], uint8_t mac[6]);
/* Accounts an address a guest brings with it (a checkpoint): -1 if the pool has it in use;
 * addresses outside the pool's range are accounted by the VM table alone. */
int pool_claim(const struct em_config *c, const uint8_t ip[4]);
/* ip is a host address of the VMs' subnet, not the gateway's, network or broadcast. */
bool pool_in_subnet(const struct em_config *c, const uint8_t ip[4]);
void pool_release(const struct em_config *c, const uint8_t ip[4]);
unsigned pool_in_use(void);

/* vm.c: the VM table and lifecycles. A VM's state changes only through vm_set_state(), which
 * refuses what the table of legal transitions in vm.c does not list. */
enum vm_state {
    VM_LOADING,       /* the loader waits for its payload */
    VM_RUNNING,       /* the payload booted */
    VM_GRACE,         /* credit gone: reclaimed at grace_deadline_ns unless paid */
    VM_MIGRATING_OUT, /* running here while its checkpoint streams to another host */
    VM_RECEIVING,     /* its checkpoint streams in from another host */
    VM_MIGRATED,      /* handed over: lives elsewhere, waits here only to be reaped */
    VM_ENDED,         /* destroyed: waits to be reaped */
    VM_WARM,          /* a loader booted ahead of demand, no token yet: not charged */
};
struct vm {
    uint64_t id;
    enum vm_state state;
    struct lm_token token;
    struct lm_chain_state chain;
    int64_t credit_ms;
    uint64_t earned_units;         /* prepaid + chain units credited */
    bool warned;
    uint64_t grace_deadline_ns;
    uint64_t started_ns, booted_ns, last_tick_ns;
    struct be_vm *be;              /* the backend's VM; NULL before it starts */
    char tap[16];
    uint8_t ip[4], mac[6];         /* a checkpoint's loader: a temporary address until commit */
    bool checkpoint;               /* its payload is a checkpoint stream */
    enum vm_state stay_state;      /* migrating out: the state to return to if it fails */
    bool has_claim;                /* claim_ip is reserved for it: the token's address */
    uint8_t claim_ip[4];
    uint8_t loader_pub[32];        /* a checkpoint loader's X25519 key, vouched for at the ping */
    char log_path[256];
    uint32_t settled_index;        /* 1 + the last index sent to the broker; 0: none yet */
    uint64_t evict_deadline_ns;    /* evicted: reclaimed at this time unless gone; 0: not */
};
struct vm *vm_find_token(const uint8_t id[LM_TOKEN_ID_BYTES]);
struct vm *vm_find_id(uint64_t id);
struct vm *vm_find_event_fd(int fd); /* the VM whose backend descriptor this is */
struct vm *vm_find_ip(const uint8_t ip[4]); /* its address or the one it will take */
unsigned vm_count(void);
const char *vm_state_name(enum vm_state s);
/* Moves v to state `to` if the transition is legal (logged at debug level); else logs an
 * error, leaves the state as it is and returns -LM_INVAL. */
int vm_set_state(struct vm *v, enum vm_state to);
uint64_t vm_mem_in_use(void);
void vm_foreach(void (*fn)(struct vm *, void *), void *arg);
/* Starts a VM for an admitted token: tap, address, monitor running the loader, which takes
 * its payload only from `sender` (the ping's source address, network order). NULL with
 * *status (enum lm_status) and d set when it cannot. */
struct vm *vm_start(const struct em_config *c, const struct lm_token *t, uint32_t sender,
                    int *status, struct lm_diag *d);
/* Warm loaders (warm_loaders, warm_mem_mib): VMs in VM_WARM, booted without a token (vm_start
 * with t = NULL; main.c keeps them topped up while the host has room and is not pressed). An
 * image token of warm_mem_mib that names no address or MAC of its own takes one in vm_start
 * (its commitment and the sender reach the loader through the backend's assign), which saves
 * the buyer the monitor's start and the loader's boot. vm_warm_for: the one it would take. */
struct vm *vm_warm_for(const struct em_config *c, const struct lm_token *t);
/* Before a token that takes no warm loader starts: destroys warm loaders until the host has
 * room for it (admission counts warm loaders' room as free: it is the host's to take back). */
void vm_warm_make_room(const struct em_config *c, const struct lm_token *t);
unsigned vm_warm_count(void);
/* A checkpoint VM's guest resumed (its loader handed over): it takes the token's address,
 * the temporary one goes back to the pool, and it runs. */
void vm_commit(const struct em_config *c, struct vm *v);
/* The guest's notice (LM_NOTICE_*): it started migrating out, or the migration failed. */
void vm_notice(struct vm *v, uint32_t what);
/* The backend VMs run on (main.c sets it from the configuration). */
extern const struct backend *em_backend;

/* listen.c: the UDP socket pings and payments arrive on (a kernel filter drops anything else
 * before it is queued); `received` counts the datagrams the agent read. */
struct em_udp {
    int fd;
    uint64_t received;
    uint64_t shed; /* of those, dropped undecoded: over their source's share while behind */
};
extern struct em_udp em_udp;
int udp_open(const struct sockaddr_in *at); /* the fd, or -1 having logged why */
uint64_t udp_kernel_drops(void); /* datagrams the kernel dropped: filtered out, or queue full */
/* Ends a VM: the backend destroys it if alive; vm_reap() finishes once it has ended. */
void vm_destroy(struct vm *v, const char *why);
void vm_reap(const struct em_config *c, struct vm *v, int wait_status);

/* credit.c: payments, the accounting tick, garbage collection, earnings. */
enum credit_action {
    CREDIT_NONE,    /* nothing is due before deadline_ns */
    CREDIT_WARN,    /* credit at or below low_credit_ms: warn the guest (once until paid) */
    CREDIT_GRACE,   /* credit gone: the grace period starts, ending at grace_deadline_ns */
    CREDIT_RESUME,  /* paid during grace: back to `state` */
    CREDIT_RECLAIM, /* the grace period is over: destroy the VM */
};
struct credit_decision {
    enum credit_action action;
    enum vm_state state;        /* the VM's state after the action */
    int64_t credit_ms;          /* credit left at now */
    uint64_t last_tick_ns;      /* the instant credit_ms is accounted to (a sub-ms rest waits) */
    uint64_t grace_deadline_ns; /* the end of the grace period, begun now or before */
    uint64_t deadline_ns;       /* when the next action falls due if nobody pays; 0: never */
};
/* The accounting, as a pure function of a VM's credit state (state, credit_ms, warned,
 * last_tick_ns, grace_deadline_ns, booted_ns) and the time: what is due at now_ns. Loading,
 * running, grace, migrating out and receiving are charged; a migrated or ended VM never is. */
struct credit_decision credit_decide(const struct em_config *c, const struct vm *v,
                                     uint64_t now_ns);
int credit_pay(const struct em_config *c, struct vm *v, uint32_t index,
               const uint8_t link[LM_HASH_BYTES], struct lm_diag *d);
void credit_tick(const struct em_config *c, uint64_t now_ns);
void credit_notify(struct vm *v, uint32_t events);
void credit_record_earnings(const struct em_config *c, const struct vm *v, const char *why);

/* settle.c: redemption of earnings at the broker (lmctl redeem as a child process). */
void settle_vm(const struct em_config *c, struct vm *v);
void settle_tick(const struct em_config *c);
void settle_reap(void); /* after SIGCHLD: the calls that ended */
/* Where a VM now runs (its token, this host, its address), for the broker's locate: a VM that
 * booted, or a migrated guest that resumed here (lmctl report-location as a child process). */
void settle_report_location(const struct em_config *c, const struct vm *v);
unsigned settle_pending(void);

/* control.c: the root-only UNIX socket for lmctl host. */
int control_open(const struct em_config *c);
void control_handle(const struct em_config *c, int listen_fd);

/* evict.c: a VM asked to leave, by the operator (lmctl host evict; why NULL) or because the
 * host needs the room (why names the figure and the limit): its guest is told the deadline
 * through host events; at the deadline a VM still here (and not migrating out) is reclaimed
 * like an unpaid one. 0, or -1 with why in d. */
int evict_vm(struct vm *v, uint64_t within_ms, const char *why, struct lm_diag *d);
void evict_tick(uint64_t now_ns);
/* About once a second, with evict_mem_below or evict_load_above set: when the host needs the
 * room and no VM evicted by it is still here, evicts the VM evict_prefer() picks. */
void evict_auto_tick(const struct em_config *c, uint64_t now_ns);
bool evict_pressed(void); /* the host needed room at its last look: no warm loader boots */
/* Should v rather than best (NULL: none yet) leave when the host needs the room? Only a VM
 * running or in grace and not evicted already (never one migrating out, arriving or loading);
 * the largest memory first, the newest on ties. */
bool evict_prefer(const struct vm *v, const struct vm *best);

/* pressure.c: the host's own load, read from /proc. The parsers are pure functions of len
 * bytes of text (no NUL needed): 0, or -LM_INVAL with d naming what was wrong. */
struct host_load {
    bool has_mem, has_load;     /* the figure was read (and is wanted by the config) */
    uint64_t mem_available_kib; /* MemAvailable */
    uint64_t load1_centi;       /* the 1-minute load average, in hundredths */
    unsigned cpus;              /* online CPUs */
};
/* /proc/meminfo: its one MemAvailable line, "MemAvailable:   812345 kB", in KiB. */
int pressure_parse_meminfo(const char *text, size_t len, uint64_t *avail_kib, struct lm_diag *d);
/* /proc/loadavg: its first field, the 1-minute load average ("0.52 0.58 ..."), in hundredths. */
int pressure_parse_loadavg(const char *text, size_t len, uint64_t *centi, struct lm_diag *d);
/* Reads the figures c's eviction settings need; one that cannot be read leaves has_* false
 * with the reason in mem_why or load_why. */
void pressure_read(const struct em_config *c, struct host_load *l, struct lm_diag *mem_why,
                   struct lm_diag *load_why);
/* Does the host need the room (pure)? true with why naming the figure and the config's limit:
 * "host MemAvailable 812 MiB is below evict_mem_below = 1024 MiB". */
bool pressure_check(const struct em_config *c, const struct host_load *l, char *why, size_t cap);

#endif
