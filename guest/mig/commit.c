/*
 * The commit, and the child. Source: END with its totals; the loader checks everything and
 * answers READY (it holds a complete image and stays paused); on READY the source sends GO
 * and will never run again: once GO is acknowledged the VM exits with LM_EXIT_MIGRATED. If
 * the acknowledgement does not come in time the source is in doubt: the destination may run
 * (the ACK was lost), be paused (GO was lost) or be gone. It stays paused, never guessing:
 * it ends when the ACK comes late or when the child announces our address from the new host
 * (LM_EXIT_MIGRATED_UNCONFIRMED), and resumes only when its owner says so (LM_GC_RESUME,
 * after finding the destination gone). Without READY before the deadline the source lifts its
 * firewall and carries on. The child: the snapshot call returned a second time on the new host; it
 * re-binds to that host (clock, NIC rings, our address announced), lifts the firewall, drops
 * the parent's migration connection without a word, and the workload resumes.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "mig.h"

#define READY_TIMEOUT_NS (10ull * 1000000000ull)
#define GO_ACK_TIMEOUT_NS (2ull * 1000000000ull)

void commit_end(void)
{
    struct lm_mig_totals t = {mig.cur.data_pages, mig.cur.zero_pages, mig.records};
    uint8_t b[LM_MIG_TOTALS_SIZE];
    lm_mig_totals_encode(&t, b);
    stream_send(LM_MIG_END, 0, 0, b, sizeof b, false);
    stream_flush();
    mig.end_sent = true;
    mig.phase = MIG_COMMIT;
    mig.deadline_ns = clock_ns() + READY_TIMEOUT_NS;
}

bool commit_step(void)
{
    uint64_t now = clock_ns();
    if (!mig.go_sent) {
        if (!mig.ready) {
            if (now > mig.deadline_ns)
                mig_fail(LM_MIG_TIMEOUT, "no READY from the loader within %llu s of END", READY_TIMEOUT_NS / 1000000000ull);
            return false;
        }
        if (!stream_room(LM_MIG_REC_HDR))
            return false;
        /* From here on this copy never runs again. */
        struct lm_mig_go g = {0, 0, mig.r->cow_faults, mig.r->cow_fault_ns};
        firewall_counts(&g.fw_in, &g.fw_out);
        uint8_t b[LM_MIG_GO_SIZE];
        lm_mig_go_encode(&g, b);
        stream_send(LM_MIG_GO, 0, 0, b, sizeof b, true);
        stream_flush();
        mig.go_sent = true;
        mig.deadline_ns = now + GO_ACK_TIMEOUT_NS;
        return true;
    }
    bool acked = stream_drained(), seen = firewall_announced();
    if (!acked && !seen) {
        if (mig.phase == MIG_COMMIT && now > mig.deadline_ns) {
            mig.phase = MIG_DOUBT;
            firewall_doubt();
            printf("mig: GO not acknowledged within %llu s: in doubt, paused; this copy ends when the new one announces itself, and resumes only if its owner says so\n", GO_ACK_TIMEOUT_NS / 1000000000ull);
        }
        return false;
    }
    if (mig.readdress && acked)
        firewall_reset_peers(); /* the child has another address: our peers hear it from us */
    uint64_t in, out, faults = mig.r->cow_faults;
    firewall_counts(&in, &out);
    uint64_t fault_ns = faults ? mig.r->cow_fault_ns * 1000000000ull / boot_info->clock.tsc_hz / faults : 0;
    printf("mig: GO %s; this copy stops for good (%llu bytes sent, %llu pages in the final phase, %llu copy-on-write faults of %llu ns each, firewall dropped %llu in / %llu out, %llu us since the workload stopped)\n", acked ? "acknowledged" : "confirmed by the new copy announcing itself", (unsigned long long)mig.cur.bytes, (unsigned long long)mig.cur.final_pages, (unsigned long long)faults, (unsigned long long)fault_ns, (unsigned long long)in, (unsigned long long)out, (unsigned long long)((now - mig.stop_ns) / 1000));
    platform_exit(acked ? LM_EXIT_MIGRATED : LM_EXIT_MIGRATED_UNCONFIRMED);
}

void mig_resume_hook(struct lm_boot_info *bi)
{
    memcpy(&mig.resume_bi, bi, sizeof mig.resume_bi);
    arch_longjmp(&mig.jb);
}

void commit_child(void)
{
    arch_cow_active = 0;
    const struct lm_boot_info *bi = &mig.resume_bi;
    uint64_t wall = platform_wall_ns();
    uint64_t moved = wall > mig.stop_wall_ns ? wall - mig.stop_wall_ns : 0;
    clock_resume(mig.stop_ns + moved, bi->clock.tsc_hz, wall);
    boot_info->clock = bi->clock;
    bool new_identity = bi->resume_flags & LM_RESUME_NEW_IDENTITY;
    if (new_identity)
        boot_info->net = bi->net;
    platform_resume();
    firewall_down();
    events_moved();
    stream_close(true); /* the parent's connection: gone with the parent, no RST */
    net_resume(new_identity);
    /* A self-paying guest pays its new host from the chain the owner bought with the token
     * (the new host's agent is its gateway); without one it leaves paying to others. */
    payagent_rebind(mig.pay_token, mig.pay_seed, mig.pay_len, bi->net.gateway);
    sodium_memzero(mig.pay_seed, sizeof mig.pay_seed);
    uint64_t now = clock_ns();
    struct mig_region *r = mig.r;
    /* What happened after the snapshot only the loader (and the parent's GO) could see. */
    const struct lm_boot_resume *rs = &bi->resume;
    mig.cur.bytes = rs->bytes;
    mig.cur.data_pages = rs->data_pages;
    mig.cur.zero_pages = rs->zero_pages;
    mig.cur.final_pages = rs->final_pages;
    mig.cur.cow_faults = rs->cow_faults;
    mig.cur.fw_in = rs->fw_in;
    mig.cur.fw_out = rs->fw_out;
    mig.cur.total_ns = now - mig.start_ns;
    mig.cur.downtime_ns = now - mig.stop_ns;
    mig.last = mig.cur;
    mig.migrations++;
    page_free(r, mig.region_pages); /* not r->npages: the region arrived as zero pages */
    mig.r = NULL;
    mig.phase = MIG_IDLE;
    printf("mig: resumed on the new host: downtime %llu us, total %llu ms, %llu bytes sent for %llu pages of RAM (%llu zero pages named), %llu rounds, %llu pages in the final phase, %llu copy-on-write faults, firewall dropped %llu in / %llu out\n", (unsigned long long)(mig.last.downtime_ns / 1000), (unsigned long long)(mig.last.total_ns / 1000000), (unsigned long long)mig.last.bytes, (unsigned long long)mig.last.ram_pages, (unsigned long long)mig.last.zero_pages, (unsigned long long)mig.last.rounds, (unsigned long long)mig.last.final_pages, (unsigned long long)mig.last.cow_faults, (unsigned long long)mig.last.fw_in, (unsigned long long)mig.last.fw_out);
}
