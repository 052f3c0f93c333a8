/* The NIC driver over the shared rings, and lwIP glue: netif, input, timers, kicks. */
#include <stdio.h>
#include <string.h>

#include "lwip/etharp.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h" /* tcp_active_pcbs: a new identity drops the old connections */
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "../kernel/kernel.h"
#include "../platform/kvm/hypercall.h"

#define RING_SLOTS 256

static struct netif nic;
static struct lm_ring_hdr *rx, *tx;
static bool tx_pending;
static uint64_t rx_frames, tx_frames, tx_dropped;
static uint64_t last_tx_ns; /* the last frame out: an ARP request of ours may be pending */
static net_filter_fn filter; /* the migration firewall, when up */

static struct lm_ring_slot *slot_of(struct lm_ring_hdr *r, uint32_t i)
{
    return (struct lm_ring_slot *)((uint8_t *)r + 64) + (i & (r->nslots - 1));
}

static void kick(void)
{
    struct lm_hc_net_kick a = {0};
    hypercall(LM_HC_NET_KICK, &a);
    tx_pending = false;
}

static err_t link_output(struct netif *n, struct pbuf *p)
{
    (void)n;
    uint32_t head = tx->head;
    if (head - __atomic_load_n(&tx->tail, __ATOMIC_ACQUIRE) >= tx->nslots) {
        kick(); /* the host drains the whole ring in one exit */
        if (head - __atomic_load_n(&tx->tail, __ATOMIC_ACQUIRE) >= tx->nslots) {
            tx_dropped++;
            return ERR_MEM;
        }
    }
    if (p->tot_len > LM_FRAME_MAX) {
        tx_dropped++;
        return ERR_BUF;
    }
    struct lm_ring_slot *s = slot_of(tx, head);
    pbuf_copy_partial(p, s->frame, p->tot_len, 0);
    if (filter && !filter(s->frame, p->tot_len, true))
        return ERR_OK; /* dropped silently: to lwIP, as if sent and lost on the wire */
    s->len = p->tot_len;
    __atomic_store_n(&tx->head, head + 1, __ATOMIC_RELEASE);
    tx_pending = true;
    tx_frames++;
    last_tx_ns = clock_ns();
    return ERR_OK;
}

static err_t nic_init(struct netif *n)
{
    n->name[0] = 'l';
    n->name[1] = 'm';
    n->output = etharp_output;
    n->linkoutput = link_output;
    n->mtu = (u16_t)boot_info->net.mtu;
    n->hwaddr_len = ETH_HWADDR_LEN;
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET;
    return ERR_OK;
}

static struct lm_ring_hdr *ring_alloc(void)
{
    struct lm_ring_hdr *r = page_alloc(PAGE_ROUND_UP(LM_RING_BYTES(RING_SLOTS)) / PAGE_SIZE);
    if (!r)
        lm_panic("out of memory for the NIC rings");
    r->nslots = RING_SLOTS;
    return r;
}

bool net_init(void)
{
    const struct lm_boot_net *bn = &boot_info->net;
    if (bn->prefix == 0)
        return false;
    rx = ring_alloc();
    tx = ring_alloc();
    struct lm_hc_net_setup a = {.rx = rx, .tx = tx};
    hypercall(LM_HC_NET_SETUP, &a);

    lwip_init();
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, bn->ip[0], bn->ip[1], bn->ip[2], bn->ip[3]);
    IP4_ADDR(&gw, bn->gateway[0], bn->gateway[1], bn->gateway[2], bn->gateway[3]);
    ip4_addr_set_u32(&mask, bn->prefix == 0 ? 0 : lwip_htonl(0xffffffffu << (32 - bn->prefix)));
    memcpy(nic.hwaddr, a.mac, 6);
    if (!netif_add(&nic, &ip, &mask, &gw, NULL, nic_init, ethernet_input))
        lm_panic("netif_add failed");
    netif_set_default(&nic);
    netif_set_link_up(&nic);
    netif_set_up(&nic); /* announces our address with a gratuitous ARP */
    printf("net: %u.%u.%u.%u/%u gw %u.%u.%u.%u MAC %02x:%02x:%02x:%02x:%02x:%02x\n", bn->ip[0],
           bn->ip[1], bn->ip[2], bn->ip[3], bn->prefix, bn->gateway[0], bn->gateway[1],
           bn->gateway[2], bn->gateway[3], a.mac[0], a.mac[1], a.mac[2], a.mac[3], a.mac[4],
           a.mac[5]);
    return true;
}

void net_resume(bool new_identity)
{
    /* What sat in the rings belonged to the old host: let TCP retransmit it. */
    rx->head = rx->tail = 0;
    tx->head = tx->tail = 0;
    struct lm_hc_net_setup a = {.rx = rx, .tx = tx};
    hypercall(LM_HC_NET_SETUP, &a);
    tx_pending = false;
    if (new_identity) {
        /* This copy takes the new host's address and MAC (boot info, the monitor's NIC). The
         * old identity's connections are dropped without a word: their peers talk to the
         * original, which may still run, and a reset from here would cut them. */
        for (int i = 0; tcp_active_pcbs && i < 100000; i++)
            tcp_abandon(tcp_active_pcbs, 0);
        const struct lm_boot_net *bn = &boot_info->net;
        ip4_addr_t ip, mask, gw;
        IP4_ADDR(&ip, bn->ip[0], bn->ip[1], bn->ip[2], bn->ip[3]);
        IP4_ADDR(&gw, bn->gateway[0], bn->gateway[1], bn->gateway[2], bn->gateway[3]);
        ip4_addr_set_u32(&mask, bn->prefix == 0 ? 0 : lwip_htonl(0xffffffffu << (32 - bn->prefix)));
        etharp_cleanup_netif(&nic);
        memcpy(nic.hwaddr, a.mac, 6);
        netif_set_addr(&nic, &ip, &mask, &gw);
        printf("net: a new identity: %u.%u.%u.%u/%u gw %u.%u.%u.%u MAC %02x:%02x:%02x:%02x:%02x:%02x\n", bn->ip[0], bn->ip[1], bn->ip[2], bn->ip[3], bn->prefix, bn->gateway[0], bn->gateway[1], bn->gateway[2], bn->gateway[3], a.mac[0], a.mac[1], a.mac[2], a.mac[3], a.mac[4], a.mac[5]);
    }
    etharp_gratuitous(&nic); /* the switches learn where our MAC is now */
    net_poll();
}

void net_flush_tx(void)
{
    if (tx_pending)
        kick();
}

void net_set_filter(net_filter_fn f)
{
    filter = f;
}

struct netif *net_netif(void)
{
    return &nic;
}

/* Hands every frame waiting in the RX ring to lwIP. Returns how many. */
static unsigned rx_drain(void)
{
    unsigned n = 0;
    uint32_t tail = rx->tail, head = __atomic_load_n(&rx->head, __ATOMIC_ACQUIRE);
    for (; tail != head; tail++, n++) {
        struct lm_ring_slot *s = slot_of(rx, tail);
        uint32_t len = s->len;
        if (len == 0 || len > LM_FRAME_MAX)
            continue;
        if (filter && !filter(s->frame, len, false))
            continue;
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
        if (!p)
            continue; /* out of buffers: drop, as a NIC would */
        pbuf_take(p, s->frame, (u16_t)len);
        if (nic.input(p, &nic) != ERR_OK)
            pbuf_free(p);
        rx_frames++;
    }
    __atomic_store_n(&rx->tail, tail, __ATOMIC_RELEASE);
    return n;
}

/* RX only fills during an exit (kick or poll): drain, run timers, kick, repeat while the kick
 * brought new frames. */
void net_poll(void)
{
    for (int round = 0; round < 64; round++) {
        rx_drain();
        sys_check_timeouts();
        if (!tx_pending)
            break;
        kick();
        if (rx->tail == __atomic_load_n(&rx->head, __ATOMIC_ACQUIRE))
            break;
    }
}

/*
 * Quiet: no TCP connection but listeners (lwIP's TCP timer is off), nothing waiting to go out
 * and nothing sent for ARP_PENDING_NS (an ARP request of ours is re-sent on lwIP's 1-second
 * ARP tick for up to 5 ticks). Then lwIP's only timers are its 1-second ARP and reassembly
 * ticks, which need not wake the guest: it sleeps up to quiet_ms, and on waking lwIP runs each
 * once (ARP entries age by wake-ups rather than seconds while quiet: they live longer, and an
 * ARP from the peer renews one anyway). A frame arriving wakes the guest at once.
 */
#define ARP_PENDING_NS (6ull * 1000000000ull)

uint32_t net_timeout_ms(uint32_t quiet_ms)
{
    u32_t t = sys_timeouts_sleeptime();
    if (quiet_ms > 1000 && !tcp_active_pcbs && !tcp_tw_pcbs && !tx_pending &&
        clock_ns() - last_tx_ns > ARP_PENDING_NS)
        return quiet_ms;
    return t > 1000 ? 1000 : t;
}

bool net_tx_pending(void)
{
    return tx_pending;
}
