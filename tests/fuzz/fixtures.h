/* Fixed keys, clock, names and chain shared by the fuzz targets and their seed generator. */
#ifndef LM_FUZZ_FIXTURES_H
#define LM_FUZZ_FIXTURES_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "laundromat/chain.h"
#include "laundromat/status.h"

/* The verifier's view in fuzz_token; mkseeds mints a token that is valid under it. */
#define FZ_NOW 1790000000ull /* 2026-09-21T14:13:20Z */
#define FZ_SKEW 60u
#define FZ_HOST "host-a"
#define FZ_CLUSTER "cluster-1"

/* The chain fuzz_payment drives: anchor = link 0 of a chain of FZ_CHAIN_LEN from a fixed seed. */
#define FZ_CHAIN_LEN 64u
#define FZ_CHAIN_JUMP 16u

/*
 * Chain records of fuzz_payment, read from the input until it runs out:
 *   op        1 byte: bits 0-1 link source, bit 2 wide index, bit 3 restart the chain first
 *   index     1 byte, or 4 bytes little-endian when bit 2 is set
 *   extra     source 0: nothing, the genuine link at index
 *             source 1: 1 byte j, the genuine link at j % (FZ_CHAIN_LEN + 1)
 *             source 2: 32 bytes, the link itself
 *             source 3: 1 byte b, the genuine link at index with bit b % 256 flipped
 */
enum {
    FZ_OP_GENUINE = 0,
    FZ_OP_OTHER = 1,
    FZ_OP_RAW = 2,
    FZ_OP_FLIPPED = 3,
    FZ_OP_SOURCE_MASK = 3,
    FZ_OP_WIDE = 4,
    FZ_OP_RESTART = 8,
};

/*
 * fuzz_admit's input: FZ_ADMIT_HEAD control bytes, then the datagram.
 *   byte 0  bit 0: an admitted ping is remembered in the replay cache, as Evil Man does
 *           bit 1: replay_expire(now) first, and the cache checked against the target's copy
 *           bits 2-3: the host's limits (FZ_LIM_*)
 *           bits 4-6: the clock, FZ_NOW plus one of fz_admit_clock[]
 *           bit 7: the tight rate limiter (FZ_TIGHT_* checks a second) instead of the loose one
 *   byte 1  the source address is 10.9.0.<byte 1>
 *   byte 2  the monotonic clock first advances by byte 2 squared times 10 us
 *   byte 3  nonzero: first remember a forged entry: the datagram's token id with its first
 *           byte xor byte 3, expiring at FZ_NOW + (byte 3 % 64) * 60 s
 */
enum {
    FZ_ADMIT_HEAD = 4,
    FZ_ADMIT_REMEMBER = 1,
    FZ_ADMIT_EXPIRE = 2,
    FZ_ADMIT_LIM_SHIFT = 2,
    FZ_ADMIT_CLOCK_SHIFT = 4,
    FZ_ADMIT_TIGHT = 0x80,
    FZ_LIM_ROOM = 0,      /* nothing running */
    FZ_LIM_VMS_FULL = 1,  /* max_vms reached */
    FZ_LIM_MEM_FULL = 2,  /* 15 MiB free: a 16 MiB VM does not fit */
    FZ_LIM_LAST_SLOT = 3, /* one VM and exactly 16 MiB left */
    FZ_ADMIT_MAX_VMS = 8,
    FZ_ADMIT_MAX_MEM = 1024,   /* MiB per VM */
    FZ_ADMIT_TOTAL_MEM = 4096, /* MiB in all */
    FZ_ADMIT_REPLAY_CAP = 64,
    FZ_TIGHT_GLOBAL = 2,
    FZ_TIGHT_SOURCE = 1,
};
/* Clock offsets from FZ_NOW for tokens issued at FZ_NOW - 60 and expiring at FZ_NOW + 3600:
 * now, a day later (clears the replay cache), the last valid second, expired, issued exactly
 * FZ_SKEW ahead (valid), one second beyond the skew (not yet valid). */
static const int64_t fz_admit_clock[8] = {0, 0, 0, 86400, 3599, 3600, -120, -121};

/*
 * fuzz_migrec's input: byte 0 sets the RAM, 1 + byte 0 % FZ_MIG_MAX_PAGES pages; then records
 * until the input runs out, each
 *   op        1 byte: FZ_MIG_FINAL the secretstream tag is FINAL; FZ_MIG_GROW a PAGES record
 *             whose header asks for more body than follows gets filler up to count pages
 *   len       u16 little-endian (cut to what is left)
 *   record    len bytes: what one authenticated secretstream message would hold
 */
enum {
    FZ_MIG_FINAL = 1,
    FZ_MIG_GROW = 2,
    FZ_MIG_MAX_PAGES = 16,
};

/* fuzz_guestctl: the guest's clock, the command and nonce a reply must answer. The owner's
 * Ed25519 seed is fz_owner_seed(), the control key lm_gc_ctl_key() of it. */
#define FZ_GC_NOW 1790000000000000000ull /* FZ_NOW in ns */
#define FZ_GC_REPLY_CMD 1                /* LM_GC_STATUS */

/*
 * fuzz_http's input: byte 0 says how the rest reaches the broker, on a connection of its own.
 *   bits 0-1  FZ_HTTP_RAW: the rest, raw bytes as they are; else a request signed by the
 *             admin (FZ_HTTP_ADMIN), the buyer or the operator: the rest is "METHOD TARGET\n"
 *             and then the body, sent with a fresh nonce at the broker's clock (unsigned when
 *             METHOD or TARGET cannot be signed)
 *   bit 2     the body goes chunked (in one chunk) instead of with Content-Length
 * Before the first input the ledger holds the buyer FZ_HTTP_BUYER with credit, the operator
 * FZ_HTTP_OPERATOR with its host FZ_HOST, and their token FZ_HTTP_TOKEN, paid by the fixture
 * chain (FZ_CHAIN_LEN links, anchor its link 0) and one prepaid unit; both it and the newer
 * FZ_HTTP_TOKEN2 (one prepaid unit) name the VM FZ_HTTP_VM, which FZ_HTTP_TOKEN2 has placed on
 * FZ_HOST at FZ_HTTP_VM_ADDRESS (so a report with FZ_HTTP_TOKEN is a stale one).
 */
enum {
    FZ_HTTP_RAW = 0,
    FZ_HTTP_ADMIN = 1,
    FZ_HTTP_BUYER_KEY = 2,
    FZ_HTTP_OPERATOR_KEY = 3,
    FZ_HTTP_WHO = 3,
    FZ_HTTP_CHUNKED = 4,
};
#define FZ_HTTP_BUYER "fz-buyer"
#define FZ_HTTP_OPERATOR "fz-op"
#define FZ_HTTP_TOKEN "0123456789abcdef0123456789abcdef"
#define FZ_HTTP_TOKEN2 "fedcba9876543210fedcba9876543210"
#define FZ_HTTP_VM "fz-vm"
#define FZ_HTTP_VM_ADDRESS "10.0.0.7"

/*
 * fuzz_location's input: records separated by FZ_LOC_SEP, each one request served as the
 * daemon serves it (http_serve), signed by one of the fixture's accounts:
 *   byte 0   bits 0-2: who signs, by FZ_LOC_* (5 to 7: FZ_LOC_OP again)
 *            bit 3 (FZ_LOC_GET): GET /v1/locations/ followed by the other bytes (left out when
 *            that target cannot be signed); else POST /v1/locations, the other bytes its body
 * At most FZ_LOC_MAX_RECORDS records count. Every input starts from the same ledger: the
 * accounts, hosts and tokens below, and the VMs placed as fz_loc_start says.
 */
#define FZ_LOC_SEP "\n;;\n"
enum {
    FZ_LOC_OP = 0,     /* fz-op: operates host-a, host-b and host-d */
    FZ_LOC_OP2 = 1,    /* fz-op2: operates host-c */
    FZ_LOC_BUYER = 2,  /* fz-buyer: bought every token but one */
    FZ_LOC_BUYER2 = 3, /* fz-buyer2: bought one token, for a VM of the same name */
    FZ_LOC_ADMIN = 4,
    FZ_LOC_ACCOUNTS = 5,
    FZ_LOC_WHO = 7,
    FZ_LOC_GET = 8,
    FZ_LOC_MAX_RECORDS = 8,
};
static const char *const fz_loc_account[FZ_LOC_ACCOUNTS] = {"fz-op", "fz-op2", "fz-buyer",
                                                            "fz-buyer2", "admin"};

struct fz_loc_host {
    const char *name, *cluster, *address; /* cluster NULL: in none */
    unsigned port, op;
};
static const struct fz_loc_host fz_loc_hosts[] = {
    {"host-a", "cluster-1", "192.0.2.1", 7001, FZ_LOC_OP},
    {"host-b", NULL, "192.0.2.2", 7002, FZ_LOC_OP},
    {"host-c", "cluster-1", "192.0.2.3", 7003, FZ_LOC_OP2},
    {"host-d", "cluster-2", "192.0.2.4", 7004, FZ_LOC_OP},
};

/* Bought in this order; token k's id is FZ_LOC_TOKEN_PREFIX and the hex digit k (the ids of
 * the other digits are nobody's). Its issued_at is then set to a fixed time plus `issued`:
 * tokens 0 and 1 share a second (the order of purchase tells which is newer), and token 7 is
 * older than token 2, bought before it (as when the broker's clock steps back). */
#define FZ_LOC_TOKEN_PREFIX "10ca7e0010ca7e0010ca7e0010ca7e0"
struct fz_loc_token {
    unsigned buyer;
    int cluster;              /* scope is a cluster, else a host */
    const char *scope, *name; /* name NULL: bought without one */
    int issued;
};
static const struct fz_loc_token fz_loc_tokens[] = {
    {FZ_LOC_BUYER, 0, "host-a", "vm-1", 0},    {FZ_LOC_BUYER, 0, "host-a", "vm-1", 0},
    {FZ_LOC_BUYER, 1, "cluster-1", "vm-2", 2}, {FZ_LOC_BUYER, 0, "host-b", NULL, 3},
    {FZ_LOC_BUYER, 0, "host-c", "vm-3", 4},    {FZ_LOC_BUYER2, 0, "host-a", "vm-1", 5},
    {FZ_LOC_BUYER, 0, "host-b", "vm-1", 6},    {FZ_LOC_BUYER, 1, "cluster-2", "vm-2", 1},
};

/* Reported before the first input, by fz-op: so a report with token 0 is a stale one. */
struct fz_loc_placed {
    unsigned token;
    const char *host, *address;
};
static const struct fz_loc_placed fz_loc_start[] = {
    {1, "host-a", "10.0.0.7"}, /* fz-buyer's vm-1 */
    {5, "host-a", "10.0.0.9"}, /* fz-buyer2's vm-1 */
};

/* Deterministic filler: distinct byte patterns per tag, never all zero. */
/* The broker targets' scratch ledger: its SQLite files (WAL mode) and their directory. */
static inline void fz_remove_ledger(const char *dir)
{
    static const char *const files[] = {"ledger.db", "ledger.db-wal", "ledger.db-shm"};
    for (size_t i = 0; i < 3; i++) {
        char path[96];
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    rmdir(dir);
}

static inline void fz_fill(uint8_t *p, size_t n, uint8_t tag)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(tag * 31u + i * 7u + 1u);
}

static inline void fz_key_seed(uint8_t seed[32])
{
    fz_fill(seed, 32, 0x4b); /* 'K' */
}

/* The Ed25519 seeds of fuzz_http's admin, buyer and operator (who: FZ_HTTP_ADMIN...). */
static inline void fz_http_seed(uint8_t seed[32], unsigned who)
{
    fz_fill(seed, 32, (uint8_t)(0x60 + who));
}

/* The Ed25519 seeds of fuzz_location's accounts (who: FZ_LOC_*), and of a key nobody holds
 * (FZ_LOC_ACCOUNTS). */
static inline void fz_loc_seed(uint8_t seed[32], unsigned who)
{
    fz_fill(seed, 32, (uint8_t)(0x70 + who));
}

static inline void fz_owner_seed(uint8_t seed[32])
{
    fz_fill(seed, 32, 0x4f); /* 'O' */
}

static inline void fz_reply_nonce(uint8_t nonce[16])
{
    fz_fill(nonce, 16, 0x52); /* 'R' */
}

static inline void fz_chain_seed(uint8_t seed[LM_CHAIN_SEED_BYTES])
{
    fz_fill(seed, LM_CHAIN_SEED_BYTES, 0x43); /* 'C' */
}

/* 1 when msg holds a NUL within its buffer. */
static inline int fz_diag_terminated(const struct lm_diag *d)
{
    return memchr(d->msg, '\0', sizeof d->msg) != NULL;
}

#endif
