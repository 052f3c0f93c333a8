/*
 * The guest's payment agent: given its chain on the command line (pay_seed=HEX64
 * pay_len=N pay_token=HEX32), the guest pays its own host as it runs, sending payment
 * datagrams to the host agent (pay_host=A.B.C.D, default the gateway; pay_port=7777) every
 * pay_every_ms (default 1000), pay_step links at a time (default 1), and at once when the
 * host warns that credit is low.
 */
#include <stdio.h>
#include <string.h>

#include "laundromat/chain.h"
#include "laundromat/util.h"
#include "laundromat/wire.h"
#include "lwip/udp.h"
#include "kernel.h"

static struct {
    bool on;
    struct lm_chain_payer payer;
    uint8_t token_id[LM_TOKEN_ID_BYTES];
    uint32_t next, step;
    uint64_t every_ns, due_ns;
    struct udp_pcb *pcb;
    ip_addr_t host;
    uint16_t port;
} pa;

static void send_payment(void)
{
    if (pa.next > pa.payer.n) {
        printf("pay: chain used up at link %u\n", pa.payer.n);
        pa.on = false;
        return;
    }
    struct lm_pay p = {.index = pa.next};
    memcpy(p.token_id, pa.token_id, LM_TOKEN_ID_BYTES);
    lm_chain_payer_link(&pa.payer, pa.next, p.link);
    struct pbuf *b = pbuf_alloc(PBUF_TRANSPORT, LM_PAY_SIZE, PBUF_RAM);
    if (!b)
        return;
    lm_pay_encode(&p, b->payload, LM_PAY_SIZE);
    udp_sendto(pa.pcb, b, &pa.host, pa.port);
    pbuf_free(b);
    pa.next += pa.step;
}

/* The host's answers; the agent trusts only that its link was taken (or is old news). */
static void on_reply(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr,
                     u16_t port)
{
    (void)arg;
    (void)pcb;
    (void)addr;
    (void)port;
    struct lm_pay_reply r;
    uint8_t b[LM_PAY_REPLY_SIZE];
    if (p->tot_len == LM_PAY_REPLY_SIZE && pbuf_copy_partial(p, b, sizeof b, 0) == sizeof b &&
        lm_pay_reply_decode(b, sizeof b, &r, NULL) == 0 && r.status &&
        r.status != LM_CHAIN_DUPLICATE && r.status != LM_CHAIN_STALE)
        printf("pay: the host refused link %u: %s\n", pa.next - pa.step,
               lm_status_name(r.status) ? lm_status_name(r.status) : "?");
    pbuf_free(p);
}

void payagent_init(void)
{
    const char *seed_hex = cmdline_get("pay_seed");
    if (!seed_hex)
        return;
    uint8_t seed[LM_CHAIN_SEED_BYTES];
    if (lm_hex_decode(seed_hex, seed, sizeof seed) != 0)
        lm_panic("pay_seed: expected 64 hex digits");
    const char *tok = cmdline_get("pay_token");
    if (!tok || lm_hex_decode(tok, pa.token_id, sizeof pa.token_id) != 0)
        lm_panic("pay_token: expected the token id, 32 hex digits");
    uint32_t n = (uint32_t)cmdline_ulong("pay_len", 0);
    if (n == 0 || lm_chain_payer_init(&pa.payer, seed, n) != 0)
        lm_panic("pay_len: expected the chain's length (and memory for it)");
    pa.next = (uint32_t)cmdline_ulong("pay_from", 1);
    pa.step = (uint32_t)cmdline_ulong("pay_step", 1);
    pa.every_ns = cmdline_ulong("pay_every_ms", 1000) * 1000000ull;
    pa.port = (uint16_t)cmdline_ulong("pay_port", LM_DEFAULT_PORT);
    const uint8_t *gw = boot_info->net.gateway;
    IP_ADDR4(&pa.host, gw[0], gw[1], gw[2], gw[3]);
    const char *h = cmdline_get("pay_host");
    if (h && !ipaddr_aton(h, &pa.host))
        lm_panic("pay_host: expected A.B.C.D");
    pa.pcb = udp_new();
    if (!pa.pcb)
        lm_panic("pay: no UDP socket");
    udp_recv(pa.pcb, on_reply, NULL);
    pa.on = true;
    pa.due_ns = clock_ns();
    printf("pay: paying %u link%s every %llu ms from link %u to %s:%u\n", pa.step,
           pa.step == 1 ? "" : "s", (unsigned long long)(pa.every_ns / 1000000), pa.next,
           ipaddr_ntoa(&pa.host), pa.port);
}

uint16_t payagent_port(void)
{
    return pa.on ? pa.port : 0;
}

void payagent_rebind(const uint8_t token[16], const uint8_t seed[32], uint32_t len,
                     const uint8_t host[4])
{
    if (pa.on)
        lm_chain_payer_free(&pa.payer);
    pa.on = false;
    if (len == 0)
        return;
    if (!pa.pcb) { /* it did not pay its first host */
        pa.pcb = udp_new();
        if (!pa.pcb) {
            printf("pay: no UDP socket: not paying the new host\n");
            return;
        }
        udp_recv(pa.pcb, on_reply, NULL);
        pa.step = 1;
        pa.every_ns = 1000000000ull;
        pa.port = LM_DEFAULT_PORT;
    }
    if (lm_chain_payer_init(&pa.payer, seed, len) != 0) {
        printf("pay: no memory for the new chain: not paying the new host\n");
        return;
    }
    memcpy(pa.token_id, token, LM_TOKEN_ID_BYTES);
    IP_ADDR4(&pa.host, host[0], host[1], host[2], host[3]);
    pa.next = 1;
    pa.on = true;
    pa.due_ns = 0;
    printf("pay: paying the new host %s from a new chain of %u links\n", ipaddr_ntoa(&pa.host), len);
}

void payagent_poll(void)
{
    if (pa.on && clock_ns() >= pa.due_ns) {
        send_payment();
        pa.due_ns = clock_ns() + pa.every_ns;
    }
}

void payagent_urgent(void)
{
    if (pa.on)
        pa.due_ns = 0; /* pay at the next turn of the loop */
}

uint64_t payagent_due_ms(void)
{
    if (!pa.on)
        return UINT64_MAX;
    uint64_t now = clock_ns();
    return pa.due_ns > now ? (pa.due_ns - now) / 1000000 : 0;
}
