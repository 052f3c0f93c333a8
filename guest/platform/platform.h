/*
 * The one interface between the guest kernel and the machine it runs on. Two implementations:
 * platform/kvm/ (our monitor: hypercalls, rings in guest memory) and platform/pvh/ (standard
 * virtual hardware under QEMU: PVH boot, 16550 serial, LAPIC timer, virtio-net). The build
 * links exactly one (GUEST_PLATFORM); nothing outside guest/platform/ knows which.
 */
#ifndef GUEST_PLATFORM_H
#define GUEST_PLATFORM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Console, exit, wall clock. */
void lm_console_write(const char *s, unsigned long n);
__attribute__((noreturn)) void platform_exit(int status);
uint64_t platform_wall_ns(void); /* the host's wall clock now, Unix ns */

/* Blocks until the NIC or the host needs the guest, or timeout_ns passes; PLATFORM_READY_*. */
uint32_t platform_poll(uint64_t timeout_ns);
#define PLATFORM_READY_NET 1u   /* frames wait to be received */
#define PLATFORM_READY_EVENT 2u /* host events wait: platform_events() */

/* What the host agent says about credit (platforms without an agent never report any). */
struct platform_events {
    uint32_t pending;   /* PLATFORM_EVENT_* bits; cleared by reading */
    uint32_t evict_ms;  /* evicted: time left before the host reclaims the VM */
    uint64_t credit_ms; /* VM time left */
    uint64_t grace_ms;  /* once credit is gone: time left before the VM is reclaimed */
};
#define PLATFORM_EVENT_CREDIT_LOW 1u
#define PLATFORM_EVENT_GRACE 2u
#define PLATFORM_EVENT_CREDIT 4u
#define PLATFORM_EVENT_EVICT 8u
#define PLATFORM_EVENT_ASSIGNED 16u /* a warm loader's buyer is known: platform_assignment() */
void platform_events(struct platform_events *ev);
/* A warm loader (booted ahead of demand, without a commitment): the admitted token's payload
 * commitment and the address its payload comes from, once the host assigned them; false
 * before, and always on platforms without warm loaders. */
bool platform_assignment(uint8_t commitment[32], uint8_t sender[4]);
void platform_notice(uint32_t what); /* LM_NOTICE_*: tells the host what the guest does */

/* After a migration, on the new host (before the NIC's rebind): what the platform kept of the
 * old host's devices is void. */
void platform_resume(void);

/* What this platform is in a migration's context (LM_MIG_PLATFORM_*): a loader resumes only a
 * guest built for its own. */
extern const uint32_t platform_mig_id;

/* A loader hands the VM to what it loaded (boot info at LM_BOOTINFO_GPA). */
__attribute__((noreturn)) void platform_exec(uint64_t entry);

/*
 * The I/O ports ring 3 may use (the TSS bitmap: IOPL does not survive exception round trips
 * on hosts that run ring 3 natively). Pairs [first, last], ending with {0, 0}.
 */
extern const uint16_t platform_io_ports[][2];

/*
 * The NIC: Ethernet frames without FCS, each with an offload header in virtio_net_hdr_v1's
 * layout. The TX side hands out room for a frame, takes it back filled, and sends what it holds
 * at a kick; the RX side lends the next received frame and its header until rx_next. A frame
 * is at most PLATFORM_MTU_FRAME bytes, unless the NIC offers PLATFORM_NET_TSO (TX) or hands
 * over coalesced segments (RX): then up to PLATFORM_FRAME_MAX.
 */
struct platform_net_hdr {
    uint8_t flags;        /* PLATFORM_NET_F_* */
    uint8_t gso_type;     /* PLATFORM_NET_GSO_* */
    uint16_t hdr_len;     /* a GSO frame's Ethernet + IP + TCP header bytes */
    uint16_t gso_size;    /* the MSS its segments get */
    uint16_t csum_start;  /* NEEDS_CSUM: the first byte summed (the TCP/UDP header) */
    uint16_t csum_offset; /* the checksum's place from there; the field holds the pseudo-header's */
    uint16_t num_buffers;
};
#define PLATFORM_NET_F_NEEDS_CSUM 1u /* RX: a partial checksum from a local sender, data good */
#define PLATFORM_NET_F_DATA_VALID 2u /* RX: the host checked the checksum */
#define PLATFORM_NET_GSO_NONE 0u
#define PLATFORM_NET_GSO_TCPV4 1u
#define PLATFORM_MTU_FRAME 1514
#define PLATFORM_FRAME_MAX (14 + 65535)
#define PLATFORM_NET_CSUM 1u /* TX: the NIC fills in checksums asked with NEEDS_CSUM */
#define PLATFORM_NET_TSO 2u  /* TX: the NIC cuts TCPv4 GSO frames (needs CSUM) */
bool platform_net_init(uint8_t mac[6]);   /* false: this VM has no NIC */
void platform_net_rebind(uint8_t mac[6]); /* after a migration: the new host's NIC, queues empty */
unsigned platform_net_offloads(void);     /* PLATFORM_NET_* the NIC takes, until a rebind */
uint8_t *platform_net_tx_buf(size_t len); /* room for len bytes; NULL: full even after a kick */
void platform_net_tx_commit(size_t len, const struct platform_net_hdr *h);
void platform_net_kick(void);             /* the host takes every committed frame */
const uint8_t *platform_net_rx_peek(size_t *len, struct platform_net_hdr *h); /* or NULL */
void platform_net_rx_next(void);

#endif
