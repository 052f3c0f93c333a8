/* lwIP over the platform's NIC: the netif, frames in and out, timers, kicks. */
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

static struct netif nic;
static bool tx_pending;
static uint64_t rx_frames, tx_frames, tx_dropped;
static uint64_t last_tx_ns; /* the last frame out: an ARP request of ours may be pending */
static net_filter_fn filter; /* the migration firewall, when up */

static void kick(void)
{
    platform_net_kick();
    tx_pending = false;
}

static err_t link_output(struct netif *n, struct pbuf *p)
{
    (void)n;
    if (p->tot_len > PLATFORM_FRAME_MAX) {
        tx_dropped++;
        return ERR_BUF;
    }
    uint8_t *frame = platform_net_tx_buf();
    if (!frame) {
        tx_dropped++;
        return ERR_MEM;
    }
    pbuf_copy_partial(p, frame, p->tot_len, 0);
    if (filter && !filter(frame, p->tot_len, true))
        return ERR_OK; /* dropped silently: to lwIP, as if sent and lost on the wire */
    platform_net_tx_commit(p->tot_len);
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

bool net_init(void)
{
    const struct lm_boot_net *bn = &boot_info->net;
    if (bn->prefix == 0)
        return false;
    uint8_t mac[6];
    if (!platform_net_init(mac))
        return false;

    lwip_init();
    ip4_addr_t ip, mask, gw;
    IP4_ADDR(&ip, bn->ip[0], bn->ip[1], bn->ip[2], bn->ip[3]);
    IP4_ADDR(&gw, bn->gateway[0], bn->gateway[1], bn->gateway[2], bn->gateway[3]);
    ip4_addr_set_u32(&mask, bn->prefix == 0 ? 0 : lwip_htonl(0xffffffffu << (32 - bn->prefix)));
    memcpy(nic.hwaddr, mac, 6);
    if (!netif_add(&nic, &ip, &mask, &gw, NULL, nic_init, ethernet_input))
        lm_panic("netif_add failed");
    netif_set_default(&nic);
    netif_set_link_up(&nic);
    netif_set_up(&nic); /* announces our address with a gratuitous ARP */
    printf("net: %u.%u.%u.%u/%u gw %u.%u.%u.%u MAC %02x:%02x:%02x:%02x:%02x:%02x\n", bn->ip[0],
           bn->ip[1], bn->ip[2], bn->ip[3], bn->prefix, bn->gateway[0], bn->gateway[1],
           bn->gateway[2], bn->gateway[3], mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
    return true;
}

void net_resume(bool new_identity)
{
    /* What sat in the queues belonged to the old host: TCP retransmits it. */
    uint8_t mac[6];
    platform_net_rebind(mac);
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
        memcpy(nic.hwaddr, mac, 6);
        netif_set_addr(&nic, &ip, &mask, &gw);
        printf("net: a new identity: %u.%u.%u.%u/%u gw %u.%u.%u.%u MAC %02x:%02x:%02x:%02x:%02x:%02x\n", bn->ip[0], bn->ip[1], bn->ip[2], bn->ip[3], bn->prefix, bn->gateway[0], bn->gateway[1], bn->gateway[2], bn->gateway[3], mac[0], mac[1], mac[2], mac[3], mac[4], mac[5]);
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

/* Hands every frame the NIC holds to lwIP. Returns how many. */
static unsigned rx_drain(void)
{
    unsigned n = 0;
    size_t len;
    for (const uint8_t *f; (f = platform_net_rx_peek(&len)) != NULL; platform_net_rx_next(), n++) {
        if (filter && !filter(f, len, false))
            continue;
        struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL);
        if (!p)
            continue; /* out of buffers: drop, as a NIC would */
        pbuf_take(p, f, (u16_t)len);
        if (nic.input(p, &nic) != ERR_OK)
            pbuf_free(p);
        rx_frames++;
    }
    return n;
}

/* Drain, run timers, kick, repeat while the kick brought new frames (on our monitor RX fills
 * only during an exit: a kick or a poll). */
void net_poll(void)
{
    for (int round = 0; round < 64; round++) {
        rx_drain();
        sys_check_timeouts();
        if (!tx_pending)
            break;
        kick();
        size_t len;
        if (!platform_net_rx_peek(&len))
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
