/*
 * Self-migration: the phases. An owner's `migrate` starts it (control.c); mig_poll, called
 * from the event loop, drives the connection (stream.c), the pre-copy rounds (precopy.c), the
 * copy-on-write final phase (cow.c) and the commit (commit.c). Until the final phase the
 * workload keeps running beside it; a failure before GO puts everything back and the guest
 * carries on where it is.
 */
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/netaddr.h"
#include "mig.h"

struct mig mig;

#define DEFAULT_MAX_ROUNDS 30
/* The destination's loader VM may still be starting when the command comes: a QEMU under
 * libvirt takes from 0.4 s to over 10 s on a loaded host (the KVM box). */
#define CONNECT_TIMEOUT_NS (30ull * 1000000000ull)

/* The region: bitmaps, table list, record buffers, snapshot stack, shadow pages. */
static struct mig_region *region_alloc(uint64_t npages)
{
    size_t bm = PAGE_ROUND_UP((npages + 63) / 64 * 8);
    size_t tables = PAGE_ROUND_UP((npages / 512 + 16) * 8);
    size_t bufs = PAGE_ROUND_UP(LM_MIG_REC_MAX) + PAGE_ROUND_UP(LM_MIG_FRAME_MAX + 4);
    size_t stack = 16384;
    size_t zstd = mig.zstd ? stream_zstd_size() : 0;
    size_t fixed = PAGE_SIZE + 2 * bm + tables + bufs + stack + zstd;
    /* Shadows: a quarter of what is free, 256 to 8192 pages; 64 of them kept for faults. (With
     * 128 a guest dirtying memory flat out ran out: the sender's first writes after the
     * snapshot fault faster than sent shadows free their slots.) */
    size_t free_pages = mm_free_pages(), fixed_pages = fixed / PAGE_SIZE;
    if (free_pages < fixed_pages + 512)
        return NULL;
    size_t cap = (free_pages - fixed_pages) / 4;
    cap = cap < 256 ? 256 : cap > 8192 ? 8192 : cap;
    /* mig_shadow=N (a benchmark's knob): fewer shadows, so the final phase write-protects and
     * its copy-on-write faults can be measured. */
    size_t knob = cmdline_ulong("mig_shadow", 0);
    if (knob >= 256 && knob < cap)
        cap = knob;
    size_t pfn_bytes = PAGE_ROUND_UP(cap * 8);
    for (;; cap /= 2) {
        pfn_bytes = PAGE_ROUND_UP(cap * 8);
        size_t total = fixed / PAGE_SIZE + pfn_bytes / PAGE_SIZE + cap;
        uint8_t *base = page_alloc(total);
        if (base) {
            struct mig_region *r = (struct mig_region *)base;
            uint8_t *p = base + PAGE_SIZE;
            r->first_pfn = (uint64_t)(uintptr_t)base / PAGE_SIZE;
            r->npages = total;
            mig.region_pages = total;
            r->dirty = (uint64_t *)p, p += bm;
            r->prot = (uint64_t *)p, p += bm;
            r->tables = (uint64_t *)p, p += tables;
            r->plain = p, p += PAGE_ROUND_UP(LM_MIG_REC_MAX);
            r->frame = p, p += PAGE_ROUND_UP(LM_MIG_FRAME_MAX + 4);
            r->cctx = zstd ? stream_zstd_init(r, p, zstd) : NULL;
            p += zstd;
            p += stack;
            r->snap_stack_top = p;
            r->shadow_pfn = (uint64_t *)p, p += pfn_bytes;
            r->shadow = p;
            r->shadow_cap = cap;
            r->cow_reserve = 64;
            return r;
        }
        if (cap <= 256)
            return NULL;
    }
}

static void region_free(void)
{
    if (mig.r)
        page_free(mig.r, mig.r->npages);
    mig.r = NULL;
}

static void end_migration(void)
{
    stream_close(false);
    region_free();
    sodium_memzero(mig.mig_secret, sizeof mig.mig_secret);
    sodium_memzero(mig.key_lg, sizeof mig.key_lg);
    sodium_memzero(mig.pay_seed, sizeof mig.pay_seed);
}

int mig_start(const struct lm_gc_migrate *m)
{
    if (mig.phase != MIG_IDLE && mig.phase != MIG_FAILED)
        return -LM_BUSY;
    memset(&mig.cur, 0, sizeof mig.cur);
    mig.status = 0;
    mig.error[0] = '\0';
    IP4_ADDR(ip_2_ip4(&mig.peer), m->ip[0], m->ip[1], m->ip[2], m->ip[3]);
    mig.peer_port = m->port;
    memcpy(mig.loader_pub, m->loader_pub, 32);
    memcpy(mig.mig_secret, m->mig_secret, 32);
    memcpy(mig.pay_token, m->pay_token, 16);
    memcpy(mig.pay_seed, m->pay_seed, 32);
    mig.pay_len = m->pay_len;
    crypto_scalarmult_curve25519_base(mig.mig_pub, mig.mig_secret);
    mig.max_rounds = m->max_rounds ? m->max_rounds : DEFAULT_MAX_ROUNDS;
    mig.zstd = m->flags & LM_GC_MIGRATE_ZSTD;
    mig.npages = boot_info->mem_size / PAGE_SIZE;
    mig.r = region_alloc(mig.npages);
    if (!mig.r) {
        mig_fail(LM_NOMEM, "no memory for the migration's bitmaps and shadow pages (%zu pages free)", mm_free_pages());
        return -LM_NOMEM;
    }
    mig.start_ns = clock_ns();
    mig.deadline_ns = mig.start_ns + CONNECT_TIMEOUT_NS;
    mig.cur.ram_pages = mig.npages;
    mig.end_sent = mig.go_sent = mig.ready = false;
    mig.refused = 0;
    mig.phase = MIG_CONNECTING;
    platform_notice(LM_NOTICE_MIGRATING); /* its host lists it as migrating out */
    if (stream_open() < 0)
        return -LM_IO;
    char ip[LM_IP4_STR];
    printf("mig: migrating to %s:%u, %llu pages of RAM, up to %u rounds, %zu shadow pages%s\n",
           lm_ip4_format(m->ip, ip), m->port, (unsigned long long)mig.npages, mig.max_rounds,
           mig.r->shadow_cap, mig.r->cctx ? ", zstd" : "");
    return 0;
}

void mig_fail(int status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(mig.error, sizeof mig.error, fmt, ap);
    va_end(ap);
    mig.status = status;
    printf("mig: failed (%s): %s; carrying on here\n", lm_status_name(status) ? lm_status_name(status) : "?", mig.error);
    if (mig.phase == MIG_FINAL || mig.phase == MIG_COMMIT || mig.phase == MIG_DOUBT) {
        final_undo();
        firewall_down();
    }
    end_migration();
    if (mig.phase != MIG_IDLE && mig.phase != MIG_FAILED)
        platform_notice(LM_NOTICE_STAYED);
    mig.phase = MIG_FAILED;
}

void mig_saved(void)
{
    final_undo();
    firewall_down();
    end_migration();
    platform_notice(LM_NOTICE_STAYED);
    mig.cur.total_ns = clock_ns() - mig.start_ns;
    mig.cur.downtime_ns = clock_ns() - mig.stop_ns;
    mig.last = mig.cur;
    mig.checkpoints++;
    mig.phase = MIG_IDLE;
    printf("mig: checkpoint saved by the recorder: %llu bytes sent for %llu pages of RAM (%llu zero pages named), %llu rounds, %llu pages in the final phase, %llu us paused; carrying on here\n", (unsigned long long)mig.last.bytes, (unsigned long long)mig.last.ram_pages, (unsigned long long)mig.last.zero_pages, (unsigned long long)mig.last.rounds, (unsigned long long)mig.last.final_pages, (unsigned long long)(mig.last.downtime_ns / 1000));
}

bool mig_poll(void)
{
    if ((mig.phase == MIG_PRECOPY || mig.phase == MIG_FINAL ||
         (mig.phase == MIG_COMMIT && !mig.go_sent)) && stream_stalled(clock_ns())) {
        mig_fail(LM_MIG_TIMEOUT, "the loader acknowledged nothing for 10 s (link cut, the destination gone, or not reading)");
        return true;
    }
    switch (mig.phase) {
    case MIG_CONNECTING:
        if (!mig.pcb && mig.retry_ns && clock_ns() >= mig.retry_ns)
            stream_open();
        if (clock_ns() > mig.deadline_ns)
            mig_fail(LM_MIG_TIMEOUT, "the loader did not accept a connection within %llu s", CONNECT_TIMEOUT_NS / 1000000000ull);
        return false;
    case MIG_PRECOPY:
        return precopy_step();
    case MIG_FINAL:
        return final_step();
    case MIG_COMMIT:
    case MIG_DOUBT:
        return commit_step();
    default:
        return false;
    }
}

bool mig_workload_stopped(void)
{
    return mig.phase == MIG_FINAL || mig.phase == MIG_COMMIT || mig.phase == MIG_DOUBT;
}

int mig_resume_here(void)
{
    if (mig.phase != MIG_DOUBT)
        return -LM_BUSY;
    /* The connection is reset: no retransmitted GO may reach the destination from now on. */
    mig_fail(LM_MIG_ABORTED, "the owner resumed this copy after GO went unconfirmed (the destination given up)");
    return 0;
}

uint64_t mig_timeout_ms(void)
{
    if (mig.phase == MIG_DOUBT)
        return 50; /* paused, waiting on a late ACK, the child's announcement or the owner */
    /* idle: no timer of its own (the owner's commands arrive as frames, which wake us) */
    return mig.phase == MIG_IDLE || mig.phase == MIG_FAILED ? UINT64_MAX : 1;
}

void mig_status(struct lm_gc_status *s)
{
    memset(s, 0, sizeof *s);
    s->phase = mig.phase;
    s->round = mig.round;
    s->pages_sent = mig.round_sent;
    s->pages_round = mig.round_pages;
    s->bytes = mig.cur.bytes;
    s->elapsed_ns = mig.phase == MIG_IDLE || mig.phase == MIG_FAILED ? 0 : clock_ns() - mig.start_ns;
    s->dirty_rate = mig.dirty_rate;
    s->ram_pages = boot_info->mem_size / PAGE_SIZE;
    s->migrations = mig.migrations;
    s->uptime_ns = clock_ns();
    const struct mig_figures *f = &mig.last;
    s->last = (struct lm_gc_figures){f->total_ns, f->downtime_ns, f->bytes, f->data_pages,
                                     f->zero_pages, f->ram_pages, f->rounds, f->final_pages,
                                     f->cow_faults, f->fw_in, f->fw_out};
    s->status = (uint32_t)mig.status;
    uint64_t evict = events_state()->evict_deadline_ns, now = clock_ns();
    s->evict_ms = !evict ? 0 : evict > now ? (uint32_t)((evict - now) / 1000000) + 1 : 1;
    memcpy(s->error, mig.error, sizeof s->error);
}

void mig_init(void)
{
    kernel_resume_hook = mig_resume_hook;
    control_init();
}
