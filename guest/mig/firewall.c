/*
 * The final phase's firewall: every frame but the migration connection's (and ARP about its
 * peer) is dropped, in and out, silently, and counted. What it holds back from the parent the
 * peers retransmit to the child; what the parent would have said after the snapshot, nobody
 * hears.
 */
#include <string.h>

#include "mig.h"

static uint8_t peer[4];
static uint16_t peer_port, local_port;
static uint64_t dropped_in, dropped_out;

static uint16_t be16(const uint8_t *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static bool allow(const uint8_t *f, size_t len, bool out)
{
    if (len >= 42 && be16(f + 12) == 0x0806) { /* ARP: sender or target is the peer */
        if (memcmp(f + 28, peer, 4) == 0 || memcmp(f + 38, peer, 4) == 0)
            return true;
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
    dropped_in = dropped_out = 0;
    net_set_filter(allow);
}

void firewall_down(void)
{
    net_set_filter(NULL);
}

void firewall_counts(uint64_t *in, uint64_t *out)
{
    *in = dropped_in;
    *out = dropped_out;
}
