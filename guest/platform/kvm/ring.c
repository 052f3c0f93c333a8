/* The NIC of our monitor: TX and RX rings of records (offload header + frame) in guest memory,
 * one kick per batch; the host's tap has checksum and TCP segmentation offloads. */
#include <string.h>

#include "../../kernel/kernel.h"
#include "hypercall.h"

_Static_assert(PLATFORM_FRAME_MAX == LM_FRAME_MAX, "frame size");
_Static_assert(sizeof(struct platform_net_hdr) == sizeof(struct lm_net_hdr), "offload header");
_Static_assert(PLATFORM_NET_F_NEEDS_CSUM == LM_NET_F_NEEDS_CSUM &&
                   PLATFORM_NET_F_DATA_VALID == LM_NET_F_DATA_VALID &&
                   PLATFORM_NET_GSO_TCPV4 == LM_NET_GSO_TCPV4,
               "offload header values");

/* 512 KiB each way: eight of the largest frames, or ~250 of 1514 bytes. */
#define RING_BYTES (512u * 1024u)

static struct lm_ring_hdr *rx, *tx;

static struct lm_net_rec *rec_at(struct lm_ring_hdr *r, uint32_t i)
{
    return (struct lm_net_rec *)((uint8_t *)(r + 1) + (i & (RING_BYTES - 1)));
}

static uint32_t rx_stride; /* of the record rx_peek lent, read once: rx_next steps over it */

static struct lm_ring_hdr *ring_alloc(void)
{
    struct lm_ring_hdr *r = page_alloc(PAGE_ROUND_UP(LM_RING_BYTES(RING_BYTES)) / PAGE_SIZE);
    if (!r)
        lm_panic("out of memory for the NIC rings");
    r->size = RING_BYTES;
    return r;
}

static void bind(uint8_t mac[6])
{
    struct lm_hc_net_setup a = {.rx = rx, .tx = tx};
    hypercall(LM_HC_NET_SETUP, &a);
    for (int i = 0; i < 6; i++)
        mac[i] = a.mac[i];
}

bool platform_net_init(uint8_t mac[6])
{
    if (boot_info->net.prefix == 0)
        return false;
    rx = ring_alloc();
    tx = ring_alloc();
    bind(mac);
    return true;
}

void platform_net_rebind(uint8_t mac[6])
{
    /* What sat in the rings belonged to the old host: TCP retransmits it. */
    rx->head = rx->tail = 0;
    tx->head = tx->tail = 0;
    bind(mac);
}

unsigned platform_net_offloads(void)
{
    return PLATFORM_NET_CSUM | PLATFORM_NET_TSO;
}

void platform_net_kick(void)
{
    struct lm_hc_net_kick a = {0};
    hypercall(LM_HC_NET_KICK, &a); /* the host drains the whole TX ring in one exit */
}

/* Room for a len-byte record at head: after a wrap marker when the end is too near. */
static bool tx_room(size_t len)
{
    uint32_t need = LM_NET_REC_STRIDE(len), head = tx->head;
    uint32_t used = head - __atomic_load_n(&tx->tail, __ATOMIC_ACQUIRE);
    uint32_t end = RING_BYTES - (head & (RING_BYTES - 1));
    if (end >= need)
        return used + need <= RING_BYTES;
    if (used + end + need > RING_BYTES)
        return false;
    rec_at(tx, head)->len = LM_NET_REC_WRAP;
    __atomic_store_n(&tx->head, head + end, __ATOMIC_RELEASE);
    return true;
}

uint8_t *platform_net_tx_buf(size_t len)
{
    if (len > LM_FRAME_MAX)
        return NULL;
    if (!tx_room(len)) {
        platform_net_kick();
        if (!tx_room(len))
            return NULL;
    }
    return rec_at(tx, tx->head)->frame;
}

void platform_net_tx_commit(size_t len, const struct platform_net_hdr *h)
{
    struct lm_net_rec *r = rec_at(tx, tx->head);
    r->len = (uint32_t)len;
    r->reserved = 0;
    if (h)
        memcpy(&r->hdr, h, sizeof r->hdr);
    else
        memset(&r->hdr, 0, sizeof r->hdr);
    __atomic_store_n(&tx->head, tx->head + LM_NET_REC_STRIDE(len), __ATOMIC_RELEASE);
}

/*
 * RX fills only during an exit (a kick or a poll): the records up to head are ours to read.
 * The host's words are checked as any input: a length is read once, a record must lie within
 * what head says is there (and before the ring's end, where a WRAP sends us to its start). A
 * record that breaks that drops everything up to head: the guest never walks past it.
 */
const uint8_t *platform_net_rx_peek(size_t *len, struct platform_net_hdr *h)
{
    for (;;) {
        uint32_t tail = rx->tail, avail = __atomic_load_n(&rx->head, __ATOMIC_ACQUIRE) - tail;
        if (avail == 0)
            return NULL;
        struct lm_net_rec *r = rec_at(rx, tail);
        uint32_t end = RING_BYTES - (tail & (RING_BYTES - 1)), n = r->len;
        if (n == LM_NET_REC_WRAP && end <= avail) {
            __atomic_store_n(&rx->tail, tail + end, __ATOMIC_RELEASE); /* to the ring's start */
            continue;
        }
        if (n < 14 || n > LM_FRAME_MAX || LM_NET_REC_HDR + n > end ||
            LM_NET_REC_STRIDE(n) > avail) {
            __atomic_store_n(&rx->tail, tail + avail, __ATOMIC_RELEASE);
            return NULL;
        }
        *len = n;
        rx_stride = LM_NET_REC_STRIDE(n);
        memcpy(h, &r->hdr, sizeof *h);
        return r->frame;
    }
}

void platform_net_rx_next(void)
{
    __atomic_store_n(&rx->tail, rx->tail + rx_stride, __ATOMIC_RELEASE);
}
