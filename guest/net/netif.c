/* lwIP over the platform's NIC: the netif, frames in and out, timers, kicks. */
#include <stdio.h>
#include <string.h>

#include "lwip/etharp.h"
#include "lwip/inet_chksum.h"
#include "lwip/ip.h"
#include "lwip/init.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "lwip/priv/tcp_priv.h" /* tcp_active_pcbs: a new identity drops the old connections */
#include "lwip/timeouts.h"
#include "netif/ethernet.h"

#include "laundromat/netaddr.h"

#include "../kernel/kernel.h"

static struct netif nic;
static bool tx_pending;
static uint64_t rx_frames, tx_frames, tx_dropped;
static uint64_t last_tx_ns; /* the last frame out: an ARP request of ours may be pending */
static net_filter_fn filter; /* the migration firewall, when up */
static unsigned offloads;   /* PLATFORM_NET_*: what the NIC does for us */

/* Where a frame's IPv4 TCP header is: 0 when the frame is not IPv4 TCP, unfragmented, with
 * whole headers. */
static size_t tcp_at(const uint8_t *f, size_t len)
{
    if (len < 14 + 20 + 20 || be16(f + 12) != 0x0800 || (f[14] >> 4) != 4 || f[14 + 9] != 6 ||
        (be16(f + 14 + 6) & 0x3fff))
        return 0;
    size_t ihl = (size_t)(f[14] & 15) * 4;
    if (ihl < 20 || 14 + ihl + 20 > len || 14 + ihl + (size_t)(f[14 + ihl + 12] >> 4) * 4 > len)
        return 0;
    return 14 + ihl;
}

/* The folded sum of the IPv4 pseudo-header (addresses, protocol, length), as a NIC finishing a
 * partial checksum wants it in the checksum field. */
static uint16_t pseudo_sum(const uint8_t *ip, uint8_t proto, uint32_t l4len)
{
    uint32_t s = be16(ip + 12) + be16(ip + 14) + be16(ip + 16) + be16(ip + 18) + proto + l4len;
    while (s >> 16)
        s = (s & 0xffff) + (s >> 16);
    return (uint16_t)s;
}

static void ip_len_sum(uint8_t *f, size_t l4, size_t len)
{
    put_be16(f + 16, (uint16_t)(len - 14));
    f[24] = f[25] = 0;
    uint16_t sum = inet_chksum(f + 14, (u16_t)(l4 - 14));
    memcpy(f + 24, &sum, 2); /* lwIP's sum is in network order already */
}

/*
 * TX. With the NIC's checksum offload lwIP sums no TCP segment: each goes with NEEDS_CSUM and
 * the pseudo-header's sum. With its segmentation offload (TSO), the segments lwIP emits in a row
 * for one connection, each a full MSS but the last, in sequence, with the same headers, are
 * joined into one frame of up to 64 KiB that the host's kernel cuts again (gso_size = the MSS):
 * one record, one write on the host instead of up to 44.
 */
static struct gso_frame {
    uint8_t *buf;      /* the open frame in the NIC's ring, NULL: none open */
    size_t len, hl;    /* bytes so far; Ethernet + IP + TCP header bytes */
    uint32_t next_seq; /* the sequence number the next segment must have */
    uint16_t mss;      /* the first segment's payload: all but the last have it */
    unsigned segs;
    bool last_short;   /* a segment shorter than mss went in: nothing may follow */
} gso;

static void tx_commit(uint8_t *f, size_t len, size_t l4, unsigned segs, uint16_t mss)
{
    struct platform_net_hdr h = {0};
    if (l4 && (offloads & PLATFORM_NET_CSUM)) {
        if (segs > 1) {
            ip_len_sum(f, l4, len);
            h.gso_type = PLATFORM_NET_GSO_TCPV4;
            h.gso_size = mss;
            h.hdr_len = (uint16_t)(l4 + (size_t)(f[l4 + 12] >> 4) * 4);
        }
        put_be16(f + l4 + 16, pseudo_sum(f + 14, 6, (uint32_t)(len - l4)));
        h.flags = PLATFORM_NET_F_NEEDS_CSUM;
        h.csum_start = (uint16_t)l4;
        h.csum_offset = 16;
    }
    platform_net_tx_commit(len, &h);
    tx_pending = true;
    tx_frames++;
    last_tx_ns = clock_ns();
}

static void gso_close(void)
{
    if (!gso.buf)
        return;
    tx_commit(gso.buf, gso.len, 14 + (size_t)(gso.buf[14] & 15) * 4, gso.segs, gso.mss);
    gso.buf = NULL;
}

/* Joins segment p (its headers in hdr) to the open frame when it continues it. */
static bool gso_append(struct pbuf *p, const uint8_t *hdr, size_t l4)
{
    size_t hl = l4 + (size_t)(hdr[l4 + 12] >> 4) * 4, pay = p->tot_len - hl;
    if (!gso.buf || gso.last_short || hl != gso.hl || pay == 0 || pay > gso.mss ||
        be32(hdr + l4 + 4) != gso.next_seq || gso.len + pay > PLATFORM_FRAME_MAX)
        return false;
    /* Same addresses, ports, ACK, window and options; flags alike but for PSH. */
    if (memcmp(hdr, gso.buf, 14) || memcmp(hdr + 26, gso.buf + 26, 8) ||
        memcmp(hdr + l4, gso.buf + l4, 4) || memcmp(hdr + l4 + 8, gso.buf + l4 + 8, 5) ||
        ((hdr[l4 + 13] ^ gso.buf[l4 + 13]) & ~0x08) || memcmp(hdr + l4 + 14, gso.buf + l4 + 14, 2) ||
        memcmp(hdr + l4 + 20, gso.buf + l4 + 20, hl - l4 - 20))
        return false;
    pbuf_copy_partial(p, gso.buf + gso.len, (u16_t)pay, (u16_t)hl);
    gso.buf[l4 + 13] |= hdr[l4 + 13] & 0x08; /* PSH: the host puts it on the last segment */
    gso.len += pay;
    gso.next_seq += (uint32_t)pay;
    gso.segs++;
    gso.last_short = pay < gso.mss;
    return true;
}

static err_t link_output(struct netif *n, struct pbuf *p)
{
    (void)n;
    uint8_t hdr[14 + 60 + 60]; /* the largest Ethernet + IPv4 + TCP headers (the firewall's too) */
    size_t hn = pbuf_copy_partial(p, hdr, p->tot_len < sizeof hdr ? p->tot_len : sizeof hdr, 0);
    if (filter && !filter(hdr, hn, true))
        return ERR_OK; /* dropped silently: to lwIP, as if sent and lost on the wire */
    size_t l4 = tcp_at(hdr, hn);
    if (l4 && (offloads & PLATFORM_NET_TSO)) {
        if (gso_append(p, hdr, l4))
            return ERR_OK;
        gso_close();
        size_t hl = l4 + (size_t)(hdr[l4 + 12] >> 4) * 4;
        uint8_t fl = hdr[l4 + 13];
        /* Data, no SYN, RST or FIN: may open a frame, where the NIC has room for the largest
         * (else it goes alone, below). */
        uint8_t *f = p->tot_len > hl && !(fl & 0x07) ? platform_net_tx_buf(PLATFORM_FRAME_MAX)
                                                     : NULL;
        if (f) {
            pbuf_copy_partial(p, f, p->tot_len, 0);
            gso = (struct gso_frame){.buf = f, .len = p->tot_len, .hl = hl, .segs = 1,
                                .mss = (uint16_t)(p->tot_len - hl),
                                .next_seq = be32(hdr + l4 + 4) + (uint32_t)(p->tot_len - hl)};
            tx_pending = true;
            return ERR_OK;
        }
    } else {
        gso_close();
    }
    uint8_t *frame = platform_net_tx_buf(p->tot_len);
    if (!frame) {
        tx_dropped++;
        return ERR_MEM;
    }
    pbuf_copy_partial(p, frame, p->tot_len, 0);
    tx_commit(frame, p->tot_len, l4, 1, 0);
    return ERR_OK;
}

static void kick(void)
{
    gso_close();
    platform_net_kick();
    tx_pending = false;
}

/* What the NIC does, again after a move (another host's device may offer other offloads). TCP
 * and UDP checksums: received ones netif.c checks when the NIC did not (rx_csum_ok); sent TCP
 * ones the NIC fills in when it can. */
static void apply_offloads(struct netif *n)
{
    offloads = platform_net_offloads();
    NETIF_SET_CHECKSUM_CTRL(n, NETIF_CHECKSUM_GEN_IP | NETIF_CHECKSUM_GEN_UDP |
                                   NETIF_CHECKSUM_GEN_ICMP | NETIF_CHECKSUM_CHECK_IP |
                                   NETIF_CHECKSUM_CHECK_ICMP |
                                   (offloads & PLATFORM_NET_CSUM ? 0 : NETIF_CHECKSUM_GEN_TCP));
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
    apply_offloads(n);
    return ERR_OK;
}

static void print_identity(const char *what, const struct lm_boot_net *bn, const uint8_t mac[6])
{
    char ip[LM_IP4_PREFIX_STR], gw[LM_IP4_STR], m[LM_MAC_STR];
    printf("net: %s%s gw %s MAC %s\n", what, lm_ip4_prefix_format(bn->ip, bn->prefix, ip),
           lm_ip4_format(bn->gateway, gw), lm_mac_format(mac, m));
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
    print_identity("", bn, mac);
    return true;
}

void net_resume(bool new_identity)
{
    /* What sat in the queues belonged to the old host: TCP retransmits it. */
    uint8_t mac[6];
    gso.buf = NULL; /* its room belonged to the old host's queue */
    platform_net_rebind(mac);
    apply_offloads(&nic);
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
        print_identity("a new identity: ", bn, mac);
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

/* A received TCP or UDP segment's checksum, when the NIC vouched for nothing (lwIP's own check
 * is off for both: frames with a partial checksum from a sender on this host would fail it). */
static bool rx_csum_ok(struct pbuf *p)
{
    const uint8_t *f = p->payload;
    if (p->len < 14 + 20 || be16(f + 12) != 0x0800 || (f[14] >> 4) != 4)
        return true; /* not IPv4: lwIP drops it or (ARP) needs no sum */
    const uint8_t *ip = f + 14;
    size_t ihl = (size_t)(ip[0] & 15) * 4, tot = be16(ip + 2);
    if ((ip[9] != 6 && ip[9] != 17) || (be16(ip + 6) & 0x3fff) || ihl < 20 || tot < ihl + 8 ||
        14 + tot > p->tot_len || p->len < 14 + ihl + 8)
        return true; /* other protocols, fragments (lwIP drops them: IP_REASSEMBLY 0), runts */
    if (ip[9] == 17 && be16(ip + ihl + 6) == 0)
        return true; /* UDP without a checksum */
    ip4_addr_t src, dst;
    memcpy(&src, ip + 12, 4);
    memcpy(&dst, ip + 16, 4);
    pbuf_remove_header(p, 14 + ihl);
    u16_t l4len = (u16_t)(tot - ihl);
    pbuf_realloc(p, l4len); /* Ethernet padding is not summed */
    bool ok = ip_chksum_pseudo(p, ip[9], l4len, &src, &dst) == 0;
    pbuf_add_header(p, 14 + ihl);
    return ok;
}

static void rx_input(const uint8_t *f, size_t len, bool vouched)
{
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)len, len <= PBUF_POOL_BUFSIZE ? PBUF_POOL : PBUF_RAM);
    if (!p)
        p = pbuf_alloc(PBUF_RAW, (u16_t)len, PBUF_POOL); /* a chain, if the heap is short */
    if (!p)
        return; /* out of buffers: drop, as a NIC would */
    pbuf_take(p, f, (u16_t)len);
    if (!vouched && !rx_csum_ok(p)) {
        pbuf_free(p); /* dropped, as a NIC that checks would */
        return;
    }
    if (nic.input(p, &nic) != ERR_OK)
        pbuf_free(p);
    rx_frames++;
}

/* A coalesced TCP segment longer than a pbuf holds (an IPv4 packet of 64 KiB plus the Ethernet
 * header): two segments, the first ending on an MSS boundary, each with the headers, in place
 * (each is copied into its pbuf at once). Only for frames the NIC vouched for; lwIP checks the
 * IP header's sum, so it is redone. */
static void rx_split(uint8_t *f, size_t len, uint16_t mss)
{
    if (len >= 18 && 14u + be16(f + 16) < len)
        len = 14u + be16(f + 16); /* what follows the IP packet is padding, not data */
    size_t l4 = tcp_at(f, len);
    if (!l4 || len <= l4 + (size_t)(f[l4 + 12] >> 4) * 4)
        return; /* not a TCP segment with data: nothing lwIP could take at this length */
    size_t hl = l4 + (size_t)(f[l4 + 12] >> 4) * 4, pay = len - hl, cut = pay / 2;
    if (mss && cut > mss)
        cut -= cut % mss;
    uint8_t orig[14 + 60 + 60];
    memcpy(orig, f, hl);
    f[l4 + 13] &= (uint8_t)~0x09; /* FIN and PSH belong to the second */
    ip_len_sum(f, l4, hl + cut);
    rx_input(f, hl + cut, true);
    uint8_t *second = f + cut; /* its headers just before the rest of the data */
    memcpy(second, orig, hl);
    put_be32(second + l4 + 4, be32(orig + l4 + 4) + (uint32_t)cut);
    ip_len_sum(second, l4, len - cut);
    rx_input(second, len - cut, true);
}

/* Hands every frame the NIC holds to lwIP. Returns how many. */
static unsigned rx_drain(void)
{
    unsigned n = 0;
    size_t len;
    struct platform_net_hdr h;
    for (const uint8_t *f; (f = platform_net_rx_peek(&len, &h)) != NULL; platform_net_rx_next(), n++) {
        if (filter && !filter(f, len, false))
            continue;
        bool vouched = h.flags & (PLATFORM_NET_F_NEEDS_CSUM | PLATFORM_NET_F_DATA_VALID);
        if (len > 0xffff) {
            if (vouched) /* else no one checked it, and it does not fit a pbuf to check */
                rx_split((uint8_t *)f, len, h.gso_size);
            continue;
        }
        rx_input(f, len, vouched);
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
        struct platform_net_hdr h;
        if (!platform_net_rx_peek(&len, &h))
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
