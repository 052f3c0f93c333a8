/*
 * The hypercall ABI between our monitor (host/vmm/) and the guest's KVM platform
 * (guest/platform/kvm/): the one contract both sides include. The boot description and what
 * means the same on every platform are in boot.h. Guests define nothing; the monitor defines LM_ABI_HOST
 * first, which turns every guest pointer into an opaque guest-physical address (uint64_t)
 * that host code must pass through its bounds check before touching guest memory.
 */
#ifndef LAUNDROMAT_ABI_H
#define LAUNDROMAT_ABI_H

#include <stddef.h>
#include <stdint.h>

#include "laundromat/boot.h"

#ifdef LM_ABI_HOST
#define LM_GUEST_PTR(type) uint64_t
#else
#define LM_GUEST_PTR(type) type
#endif
_Static_assert(sizeof(void *) == 8, "the ABI assumes 64-bit pointers on both sides");

/*
 * A hypercall is `outl %eax, %dx` with dx = LM_HC_PORT_BASE + call and eax = the
 * guest-physical address of the call's argument block (below 4 GiB, naturally aligned, not
 * crossing the end of RAM). Results are written back into the block. A bad address, a bad
 * length inside the block or an unknown call ends the VM with a message.
 */
#define LM_HC_PORT_BASE 0x500
enum lm_hypercall {
    LM_HC_CONSOLE = 1,   /* struct lm_hc_console */
    LM_HC_CLOCK = 2,     /* struct lm_hc_clock */
    LM_HC_POLL = 3,      /* struct lm_hc_poll */
    LM_HC_NET_SETUP = 4, /* struct lm_hc_net_setup */
    LM_HC_NET_KICK = 5,  /* struct lm_hc_net_kick */
    LM_HC_EXIT = 6,      /* struct lm_hc_exit; does not return */
    LM_HC_EXEC = 7,      /* struct lm_hc_exec: a loader hands the VM to what it loaded */
    LM_HC_EVENTS = 8,    /* struct lm_hc_events: host events (credit) since the last call */
    LM_HC_NOTICE = 9,    /* struct lm_hc_notice: the guest tells its host what it is doing */
    LM_HC_ASSIGN = 10,   /* struct lm_hc_assign: a warm loader's buyer, once assigned */
    /* 16..31: control calls (payments, host events, migration) as later issues add them */
    LM_HC_MAX = 32,
};

struct lm_hc_console {
    LM_GUEST_PTR(const char *) data;
    uint64_t len; /* at most LM_CONSOLE_MAX */
};
#define LM_CONSOLE_MAX 65536

struct lm_hc_clock {
    uint64_t wall_ns; /* out: the host's wall clock, Unix ns */
};

struct lm_hc_poll {
    uint64_t timeout_ns; /* in: block at most this long when nothing is ready */
    uint32_t ready;      /* out: LM_POLL_* bits */
    uint32_t reserved;
};
#define LM_POLL_NET_RX 1u /* frames wait in the RX ring */
#define LM_POLL_EVENT 2u  /* host events wait: call LM_HC_EVENTS */

/*
 * NIC rings live in guest memory, set up by the guest: a 64-byte header, then `size` bytes of
 * records (size a power of two). head and tail are free-running u32 byte counts: the producer
 * advances head, the consumer tail; head - tail <= size. TX: guest produces, host consumes. RX:
 * host produces, guest consumes. The host reads every index and length once and checks it.
 *
 * A record sits at offset (head % size), 64-byte aligned, and never wraps: it is
 * LM_NET_REC_HDR bytes of header, then `len` bytes of Ethernet frame (no FCS); the next one
 * starts LM_NET_REC_STRIDE(len) bytes on. Where a record would not fit before the ring's
 * end, the producer writes len = LM_NET_REC_WRAP there instead and goes on at offset 0 (head
 * advances to the ring's end).
 *
 * Each record carries the frame's offload header, `struct lm_net_hdr`, which is
 * `virtio_net_hdr_v1` (the tap's IFF_VNET_HDR header, 12 bytes, little-endian): on TX a guest
 * may hand the host a TCP segment of up to 64 KiB with gso_type TCPV4 and gso_size = the MSS
 * (the host kernel cuts it into MTU frames) and leave the checksum to it (NEEDS_CSUM:
 * csum_start, csum_offset, the pseudo-header sum in the field). On RX the host hands over what
 * its kernel has, GRO-coalesced segments included: NEEDS_CSUM (a local sender's partial
 * checksum: the data is good) or DATA_VALID (the host checked it) or neither (check it).
 * On the wire the MTU stays 1500; these are frames between guest and host only.
 */
#define LM_FRAME_MAX (14 + 65535) /* Ethernet header + the largest IPv4 packet */
#define LM_RING_MIN_BYTES (256u * 1024u)
#define LM_RING_MAX_BYTES (16u * 1024u * 1024u)

struct lm_ring_hdr {
    volatile uint32_t head;
    volatile uint32_t tail;
    uint32_t size; /* bytes of records: a power of two in [LM_RING_MIN_BYTES, LM_RING_MAX_BYTES] */
    uint32_t reserved[13];
};
_Static_assert(sizeof(struct lm_ring_hdr) == 64, "ring header size");

struct lm_net_hdr {
    uint8_t flags;    /* LM_NET_F_* */
    uint8_t gso_type; /* LM_NET_GSO_* */
    uint16_t hdr_len; /* Ethernet + IP + TCP header bytes of a GSO frame */
    uint16_t gso_size;
    uint16_t csum_start; /* NEEDS_CSUM: where the checksummed bytes begin (the TCP header) */
    uint16_t csum_offset; /* and where in them the checksum goes (16 for TCP, 6 for UDP) */
    uint16_t num_buffers; /* 0 */
};
_Static_assert(sizeof(struct lm_net_hdr) == 12, "virtio_net_hdr_v1 is 12 bytes");
#define LM_NET_F_NEEDS_CSUM 1u
#define LM_NET_F_DATA_VALID 2u
#define LM_NET_GSO_NONE 0u
#define LM_NET_GSO_TCPV4 1u

struct lm_net_rec {
    uint32_t len;      /* frame bytes, or LM_NET_REC_WRAP */
    uint16_t reserved; /* 0: puts the frame's IP header 32-byte aligned */
    struct lm_net_hdr hdr;
    uint8_t frame[];
} __attribute__((packed));
_Static_assert(sizeof(struct lm_net_rec) == 18, "record header size");
#define LM_NET_REC_HDR 18u
#define LM_NET_REC_WRAP 0xffffffffu
#define LM_NET_REC_STRIDE(len) ((LM_NET_REC_HDR + (uint32_t)(len) + 63u) & ~63u)
#define LM_RING_BYTES(size) (64ull + (uint64_t)(size))

struct lm_hc_net_setup {
    LM_GUEST_PTR(struct lm_ring_hdr *) rx;
    LM_GUEST_PTR(struct lm_ring_hdr *) tx;
    uint8_t mac[6];   /* out: the NIC's MAC */
    uint8_t reserved[2];
};

struct lm_hc_net_kick {
    uint32_t tx_sent;  /* out: frames taken from the TX ring */
    uint32_t rx_added; /* out: frames added to the RX ring */
};

struct lm_hc_exit {
    uint64_t status; /* 0..123 pass through as the monitor's exit code */
};

/*
 * LM_HC_EXEC: the loader has written a fresh boot info page at LM_BOOTINFO_GPA (magic,
 * version, mem_size equal to RAM, the new kernel's range, command line) and placed the new
 * kernel in RAM. The monitor drops the loader block and restarts the vCPU in the entry
 * state at `entry`, exactly as if it had loaded the kernel itself. Only a loader VM may.
 */
struct lm_hc_exec {
    uint64_t entry;
};

/* LM_HC_EVENTS: what the host wants the guest to know; pending bits clear when read. */
struct lm_hc_events {
    uint32_t pending;   /* LM_EVENT_* bits (boot.h) */
    uint32_t evict_ms;  /* evicted: time left, as of the host's word, before it reclaims the VM */
    uint64_t credit_ms; /* VM time left, as of the last update from the host */
    uint64_t grace_ms;  /* once credit is gone: time left before the VM is reclaimed */
};

/* LM_HC_NOTICE: what the guest is doing, for its host's accounting and listing. */
struct lm_hc_notice {
    uint32_t what;     /* LM_NOTICE_* (boot.h) */
    uint32_t reserved; /* 0 */
};

/*
 * LM_HC_ASSIGN: a warm loader (booted ahead of demand, without a commitment) asks what it was
 * assigned: assigned = 1 with the payload commitment of the admitted token and the address
 * the payload may come from, or assigned = 0 (not yet). The host raises LM_EVENT_ASSIGNED
 * once it has one. A VM booted with a commitment is never assigned another.
 */
struct lm_hc_assign {
    uint8_t commitment[32]; /* out */
    uint8_t sender[4];      /* out: IPv4, network order */
    uint32_t assigned;      /* out */
};

_Static_assert(sizeof(struct lm_hc_console) == 16 && sizeof(struct lm_hc_clock) == 8 &&
                   sizeof(struct lm_hc_poll) == 16 && sizeof(struct lm_hc_net_setup) == 24 &&
                   sizeof(struct lm_hc_net_kick) == 8 && sizeof(struct lm_hc_exit) == 8 &&
                   sizeof(struct lm_hc_exec) == 8 && sizeof(struct lm_hc_events) == 24 &&
                   sizeof(struct lm_hc_notice) == 8 && sizeof(struct lm_hc_assign) == 40,
               "hypercall argument blocks");

/* Monitor exit codes above the guest's range. */
#define LM_EXIT_GUEST_FAULT 124 /* guest crashed: triple fault, HLT with interrupts off, ... */
#define LM_EXIT_ABI 125         /* guest broke the ABI: bad pointer, length, unknown call */
#define LM_EXIT_MONITOR 126     /* the monitor could not set up or run the VM */

#endif
