/* The NIC of our monitor: TX and RX rings of fixed slots in guest memory, one kick per batch. */
#include "../../kernel/kernel.h"
#include "hypercall.h"

_Static_assert(PLATFORM_FRAME_MAX == LM_FRAME_MAX, "frame size");

#define RING_SLOTS 256

static struct lm_ring_hdr *rx, *tx;

static struct lm_ring_slot *slot_of(struct lm_ring_hdr *r, uint32_t i)
{
    return (struct lm_ring_slot *)((uint8_t *)r + 64) + (i & (r->nslots - 1));
}

static struct lm_ring_hdr *ring_alloc(void)
{
    struct lm_ring_hdr *r = page_alloc(PAGE_ROUND_UP(LM_RING_BYTES(RING_SLOTS)) / PAGE_SIZE);
    if (!r)
        lm_panic("out of memory for the NIC rings");
    r->nslots = RING_SLOTS;
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

void platform_net_kick(void)
{
    struct lm_hc_net_kick a = {0};
    hypercall(LM_HC_NET_KICK, &a); /* the host drains the whole TX ring in one exit */
}

uint8_t *platform_net_tx_buf(void)
{
    uint32_t head = tx->head;
    if (head - __atomic_load_n(&tx->tail, __ATOMIC_ACQUIRE) >= tx->nslots) {
        platform_net_kick();
        if (head - __atomic_load_n(&tx->tail, __ATOMIC_ACQUIRE) >= tx->nslots)
            return NULL;
    }
    return slot_of(tx, head)->frame;
}

void platform_net_tx_commit(size_t len)
{
    slot_of(tx, tx->head)->len = (uint32_t)len;
    __atomic_store_n(&tx->head, tx->head + 1, __ATOMIC_RELEASE);
}

/* RX fills only during an exit (a kick or a poll): the frames up to head are ours to read. */
const uint8_t *platform_net_rx_peek(size_t *len)
{
    for (;;) {
        uint32_t tail = rx->tail;
        if (tail == __atomic_load_n(&rx->head, __ATOMIC_ACQUIRE))
            return NULL;
        struct lm_ring_slot *s = slot_of(rx, tail);
        uint32_t n = s->len;
        if (n != 0 && n <= LM_FRAME_MAX) {
            *len = n;
            return s->frame;
        }
        platform_net_rx_next(); /* a slot the host left empty: skip it */
    }
}

void platform_net_rx_next(void)
{
    __atomic_store_n(&rx->tail, rx->tail + 1, __ATOMIC_RELEASE);
}
