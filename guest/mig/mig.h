/* Internal header of the self-migration engine (guest/mig/): what its files share. */
#ifndef GUEST_MIG_H
#define GUEST_MIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../kernel/kernel.h"
#include "arch.h"
#include "laundromat/guestctl.h"
#include "laundromat/migrate.h"
#include "lwip/tcp.h"
#include "sodium/crypto_secretstream_xchacha20poly1305.h"

/* Phases, as `status` reports them (guestctl.h has the same numbers). */
enum mig_phase {
    MIG_IDLE = LM_GC_PHASE_IDLE,
    MIG_CONNECTING = LM_GC_PHASE_CONNECTING,
    MIG_PRECOPY = LM_GC_PHASE_PRECOPY,
    MIG_FINAL = LM_GC_PHASE_FINAL,
    MIG_COMMIT = LM_GC_PHASE_COMMIT,
    MIG_FAILED = LM_GC_PHASE_FAILED,
    MIG_DOUBT = LM_GC_PHASE_DOUBT,
};

/*
 * Scratch memory of one migration: one contiguous run of pages allocated when it starts and
 * freed when it ends (in the child too). Everything the engine writes often, and everything
 * the snapshot and the copy-on-write fault write after the snapshot, lives here, so that none
 * of it is tracked or sent: the region goes out as zero pages and the child frees it.
 */
struct mig_region {
    uint64_t first_pfn, npages;      /* the region itself */
    uint64_t *dirty;                 /* bitmap over RAM: this round's pages, then the final set */
    uint64_t *prot;                  /* bitmap over RAM: write-protected, not yet sent */
    uint64_t *tables;                /* page-table pages at the snapshot */
    size_t ntables;
    uint8_t *shadow;                 /* shadow pages: a ring of shadow_cap slots */
    uint64_t *shadow_pfn;            /* the page each holds */
    size_t nshadow, shadow_cap, cow_reserve; /* shadows taken (slot = k % cap), ring size */
    size_t shadow_sent;              /* of the shadows taken, sent: their slots are free again */
    uint64_t cow_faults, cow_fault_ns; /* faults, and their time in TSC ticks */
    uint8_t *plain, *frame;          /* one record, and its frame on the wire */
    uint8_t *stage;                  /* zstd: a still copy of the pages being compressed */
    struct ZSTD_CCtx_s *cctx;        /* zstd: a static context in the region; NULL: off */
    uint8_t *snap_stack_top;
};

struct mig_figures {
    uint64_t total_ns, downtime_ns, bytes, data_pages, zero_pages, ram_pages, rounds;
    uint64_t final_pages, cow_faults, fw_in, fw_out;
    uint64_t zpages, zbytes; /* pages sent compressed, and their compressed bytes */
};

struct mig {
    enum mig_phase phase;
    int status; /* LM_* code of the last failure */
    char error[LM_GC_ERROR_MAX];
    /* what the owner asked */
    ip_addr_t peer;
    uint16_t peer_port;
    uint8_t loader_pub[32], mig_secret[32], mig_pub[32];
    uint8_t pay_token[16], pay_seed[32]; /* the new host's chain, for the child (pay_len 0: none) */
    uint32_t pay_len;
    uint32_t max_rounds;
    bool zstd; /* pages go zstd-compressed where that is smaller (LM_GC_MIGRATE_ZSTD) */
    /* the connection */
    struct tcp_pcb *pcb;
    bool connected;
    crypto_secretstream_xchacha20poly1305_state tx, rx;
    uint8_t key_lg[32];
    uint8_t rxbuf[512];
    size_t rx_len;
    bool rx_keyed;
    bool ready;     /* READY arrived */
    bool readdress; /* READY said the child takes a new identity: our connections end here */
    /* progress */
    struct mig_region *r;
    uint64_t npages;  /* RAM pages */
    uint64_t region_pages; /* the region's size, kept here: the child finds the region zeroed
                            * (it is sent as zero pages), its header included */
    uint32_t round;
    uint64_t cursor;  /* next page number to look at in this round */
    uint64_t round_pages, round_sent, prev_dirty;
    uint64_t start_ns, round_start_ns, stop_ns, stop_wall_ns, deadline_ns, progress_ns;
    uint64_t retry_ns;  /* connecting: the loader refused (not listening yet); try again then */
    unsigned refused;   /* connections refused so far */
    uint64_t dirty_rate; /* pages/s dirtied during the last round */
    uint64_t unprot_from;    /* final phase: protected pages sent but still read-only */
    bool end_sent, go_sent;
    uint64_t records; /* records sent before END */
    struct mig_figures cur, last;
    uint64_t migrations, checkpoints; /* moves completed; streams a recorder saved */
    struct arch_jmp jb;
    struct lm_boot_info resume_bi;
};

extern struct mig mig;

/* mig.c: the phases and the owner's requests. */
int mig_start(const struct lm_gc_migrate *m);
int mig_resume_here(void); /* the owner's RESUME: in doubt only (else -LM_BUSY) */
/* SAVED from a recorder (lmctl checkpoint): the final phase ends as after a failure, but the
 * checkpoint is taken; the guest carries on here. */
void mig_saved(void);
void mig_fail(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void mig_status(struct lm_gc_status *s);

/* stream.c: the connection to the destination loader. */
int stream_open(void);
bool stream_room(size_t plain_len);              /* can a record this big go now? */
int stream_send(uint8_t type, uint32_t count, uint64_t arg, const void *body, size_t len,
                bool final);
/* n pages of data for pages pfn..: ZPAGES when zstd is on and that is smaller, else PAGES. */
void stream_send_pages(uint32_t n, uint64_t pfn, const void *data);
size_t stream_zstd_size(void); /* the region's zstd workspace, context and stage, in bytes */
struct ZSTD_CCtx_s *stream_zstd_init(struct mig_region *r, void *mem, size_t size);
void stream_flush(void);
void stream_close(bool quietly);
bool stream_drained(void);                       /* everything sent was acknowledged */
bool stream_stalled(uint64_t now);               /* data waits unacknowledged too long */

/* precopy.c: the rounds. */
void precopy_begin(void);
bool precopy_step(void); /* true: did work */
uint64_t dirty_count(bool clear);
bool page_is_zero(uint64_t pfn);
bool page_is_zero_mem(const void *page);
bool in_region(uint64_t pfn);

/* cow.c: the snapshot and the final phase. */
void final_begin(void);  /* returns in the parent (phase FINAL) or in the child (resumed) */
bool final_step(void);   /* true: did work */
void final_undo(void);   /* a failed final phase: pages writable again */

/* firewall.c */
void firewall_up(void);
void firewall_down(void);
void firewall_counts(uint64_t *in, uint64_t *out);
/* In doubt: ARP and the owner's control port pass too, so that the owner can settle it. */
void firewall_doubt(void);
/* Has a copy of us (our IP and MAC) announced itself since the firewall went up? Only the
 * child on the new host can: the loader it resumed from used other addresses. */
bool firewall_announced(void);
/* A re-addressing move committed: every TCP connection but the migration's ends with a reset
 * from here (the child answers at another address), the filter lifted for them. */
void firewall_reset_peers(void);

/* commit.c: END, READY, GO; the child's side. */
void commit_end(void);   /* everything sent: END, then wait for READY */
bool commit_step(void);
void commit_child(void);
void mig_resume_hook(struct lm_boot_info *bi);

/* control.c: the owner's channel. */
void control_init(void);

static inline uint32_t le32_get(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static inline void le32_put(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

#define BIT_TEST(bm, i) ((bm)[(i) / 64] >> ((i) % 64) & 1)
#define BIT_SET(bm, i) ((bm)[(i) / 64] |= 1ull << ((i) % 64))
#define BIT_CLEAR(bm, i) ((bm)[(i) / 64] &= ~(1ull << ((i) % 64)))

#endif
