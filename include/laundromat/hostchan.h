/*
 * The channel between a guest on standard virtual hardware (guest/platform/pvh) and its host
 * agent (host/backend/libvirt.c): the guest's second serial port (COM2), which QEMU joins to a
 * unix socket the agent listens on. Over it goes what our own monitor's hypercalls carry on
 * the other platform: the loader's key first, credit news and evictions to the guest; the
 * guest's notices, its hand-over and its exit status to the host.
 *
 * A byte stream of frames: LM_HOSTCHAN_MAGIC, the type, the payload's length, the payload.
 * Each type has one exact length; fields are little-endian. lib/hostchan.c encodes and parses
 * them for both sides (the guest's kernel and loader build it freestanding).
 */
#ifndef LAUNDROMAT_HOSTCHAN_H
#define LAUNDROMAT_HOSTCHAN_H

#include <stddef.h>
#include <stdint.h>

#define LM_HOSTCHAN_MAGIC 0xa7
#define LM_HOSTCHAN_KEY_BYTES 32

enum lm_hostchan_type {
    /* host -> guest */
    LM_HOSTCHAN_HELLO = 1,  /* the first frame: the loader's X25519 secret for checkpoint
                             * streams (32 bytes; all zero: none) */
    LM_HOSTCHAN_EVENTS = 2, /* credit news: pending LM_EVENT_* bits (u32), evict_ms (u32),
                             * credit_ms (u64), grace_ms (u64) */
    /* guest -> host */
    LM_HOSTCHAN_NOTICE = 16, /* what the guest does: LM_NOTICE_* (u32) */
    LM_HOSTCHAN_EXEC = 17,   /* the loader hands the VM to what it loaded (no payload) */
    LM_HOSTCHAN_EXIT = 18,   /* the guest's exit status (i32), just before it powers off */
};

/* The longest frame: header and a HELLO. */
#define LM_HOSTCHAN_FRAME_MAX (3 + LM_HOSTCHAN_KEY_BYTES)

struct lm_hostchan_msg {
    uint8_t type; /* enum lm_hostchan_type */
    union {
        uint8_t key[LM_HOSTCHAN_KEY_BYTES]; /* HELLO */
        struct {
            uint32_t pending, evict_ms;
            uint64_t credit_ms, grace_ms;
        } events;                           /* EVENTS */
        uint32_t notice;                    /* NOTICE */
        int32_t status;                     /* EXIT */
    } u;
};

/* The frame for m into out (LM_HOSTCHAN_FRAME_MAX bytes): its length, or 0 for an unknown
 * type. */
size_t lm_hostchan_encode(const struct lm_hostchan_msg *m, uint8_t *out);

/*
 * The first frame of buf[0..len): the bytes it takes (m filled), 0 when buf holds only part
 * of a frame (read more), or -1 when buf does not start with a frame (a wrong magic, an
 * unknown type, a length other than the type's): the stream is broken, stop reading it.
 */
int lm_hostchan_parse(const uint8_t *buf, size_t len, struct lm_hostchan_msg *m);

#endif
