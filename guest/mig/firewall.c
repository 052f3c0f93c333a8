/*
 * The final phase's firewall: every frame but the migration connection's (and ARP about its
 * peer) is dropped, in and out, silently, and counted. What it holds back from the parent the
 * peers retransmit to the child; what the parent would have said after the snapshot, nobody
 * hears. It also watches for the child: a gratuitous ARP from our own IP and MAC, which only
 * the child on the new host sends, is how a source in doubt (GO unacknowledged) learns that
 * it may end. In doubt ARP, the owner's control port and the payment agent's datagrams pass:
 * the owner can ask and settle, and the paused copy keeps paying its host meanwhile.
 */
#include <string.h>

#include "lwip/netif.h"
#include "lwip/priv/tcp_priv.h" /* tcp_active_pcbs */
#include "mig.h"

static uint8_t peer[4], self_ip[4], self_mac[6];
static uint16_t peer_port, local_port;
static uint64_t dropped_in, dropped_out;
static bool doubt, announced;

static bool allow(const uint8_t *f, size_t len, bool out)
{
    if (len >= 42 && be16(f + 12) == 0x0806) { /* ARP: sender or target is the peer */
        if (!out && memcmp(f + 22, self_mac, 6) == 0 && memcmp(f + 28, self_ip, 4) == 0) {
            announced = true; /* the child, on the new host */
            return false;
        }
        if (doubt || memcmp(f + 28, peer, 4) == 0 || memcmp(f + 38, peer, 4) == 0)
            return true;
    } else if (doubt && len >= 34 && be16(f + 12) == 0x0800 && f[14 + 9] == 17) {
        const uint8_t *ip = f + 14;
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        if (ihl >= 20 && len >= 14 + ihl + 4) {
            uint16_t ours = be16(ip + ihl + (out ? 0 : 2)), theirs = be16(ip + ihl + (out ? 2 : 0));
            if (ours == LM_GC_PORT) /* the owner's control port (its commands are signed) */
                return true;
            if (payagent_port() && theirs == payagent_port()) /* payments: kept alive, paused */
                return true;
        }
    } else if (len >= 34 && be16(f + 12) == 0x0800 && f[14 + 9] == 6) {
        const uint8_t *ip = f + 14;
        size_t ihl = (size_t)(ip[0] & 15) * 4;
        if (ihl >= 20 && len >= 14 + ihl + 4) {
            const uint8_t *tcp = ip + ihl;
            const uint8_t *them = out ? ip + 16 : ip + 12;
            uint16_t their_port = be16(out ? tcp + 2 : tcp), our_port = be16(out ? tcp : tcp + 2);
            if (memcmp(them, peer, 4) == 0 && their_port == peer_port && our_port == local_port)
                return true;
        }
    }
    if (out)
        dropped_out++;
    else
        dropped_in++;
    return false;
}

void firewall_up(void)
{
    memcpy(peer, &ip_2_ip4(&mig.peer)->addr, 4); /* network order, as on the wire */
    peer_port = mig.peer_port;
    local_port = mig.pcb ? mig.pcb->local_port : 0;
    const struct netif *n = net_netif();
    memcpy(self_ip, &netif_ip4_addr(n)->addr, 4);
    memcpy(self_mac, n->hwaddr, 6);
    dropped_in = dropped_out = 0;
    doubt = announced = false;
    net_set_filter(allow);
}

void firewall_doubt(void)
{
    doubt = true;
}

bool firewall_announced(void)
{
    return announced;
}

void firewall_down(void)
{
    doubt = false;
    net_set_filter(NULL);
}

void firewall_counts(uint64_t *in, uint64_t *out)
{
    *in = dropped_in;
    *out = dropped_out;
}

void firewall_reset_peers(void)
{
    net_set_filter(NULL); /* the resets, and nothing else: the workload stays stopped */
    for (int i = 0; i < 100000; i++) {
        struct tcp_pcb *p = tcp_active_pcbs;
        while (p && p == mig.pcb)
            p = p->next;
        if (!p)
            break;
        tcp_abort(p); /* a RST to the peer; the application hears ERR_ABRT */
    }
    net_flush_tx();
}
