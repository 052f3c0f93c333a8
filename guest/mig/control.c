/*
 * The owner's control channel (guestctl.h): UDP port LM_GC_PORT. Only commands signed by the
 * owner's key (owner= on the command line, covered by the image commitment), within the time
 * window and never seen before (by nonce) are obeyed: status, migrate, abort, resume. Replies carry a
 * MAC under the control key (ctl_key=). Without both on the command line the port stays shut.
 */
#include <sodium.h>
#include <stdio.h>
#include <string.h>

#include "laundromat/util.h"
#include "lwip/udp.h"
#include "mig.h"

#define SEEN_MAX 128 /* nonces remembered: commands come a few a second at most */

static struct udp_pcb *pcb;
static uint8_t owner_pub[32], ctl_key[32];
static uint8_t seen[SEEN_MAX][LM_GC_NONCE_BYTES];
static unsigned seen_next;
/* The last reply, sent again when its command comes again: the owner retries over UDP, and a
 * retry of an obeyed command must get the same answer, not silence and not a second run. */
static uint8_t last_nonce[LM_GC_NONCE_BYTES], last_reply[LM_GC_REPLY_MAX];
static size_t last_len;

static void send_bytes(const ip_addr_t *to, u16_t port, const uint8_t *b, size_t n)
{
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, (u16_t)n, PBUF_RAM);
    if (!p)
        return;
    memcpy(p->payload, b, n);
    udp_sendto(pcb, p, to, port);
    pbuf_free(p);
}

static bool seen_before(const uint8_t nonce[LM_GC_NONCE_BYTES])
{
    for (unsigned i = 0; i < SEEN_MAX; i++)
        if (memcmp(seen[i], nonce, LM_GC_NONCE_BYTES) == 0)
            return true;
    memcpy(seen[seen_next], nonce, LM_GC_NONCE_BYTES);
    seen_next = (seen_next + 1) % SEEN_MAX;
    return false;
}

static void reply(const ip_addr_t *to, u16_t port, const struct lm_gc_cmd *c, int status)
{
    struct lm_gc_status s;
    uint8_t body[LM_GC_STATUS_SIZE];
    mig_status(&s);
    lm_gc_status_encode(&s, body);
    last_len = lm_gc_reply_seal(c->cmd, c->nonce, (uint16_t)status, body, sizeof body, ctl_key, last_reply);
    memcpy(last_nonce, c->nonce, sizeof last_nonce);
    send_bytes(to, port, last_reply, last_len);
}

static void on_recv(void *arg, struct udp_pcb *upcb, struct pbuf *p, const ip_addr_t *addr,
                    u16_t port)
{
    (void)arg;
    (void)upcb;
    uint8_t in[LM_GC_CMD_MAX], body[LM_GC_BODY_MAX];
    size_t len = p->tot_len;
    bool fits = len <= sizeof in;
    if (fits)
        pbuf_copy_partial(p, in, (u16_t)len, 0);
    pbuf_free(p);
    if (!fits)
        return; /* not ours: silence, as for anything unauthenticated */
    struct lm_gc_cmd c;
    struct lm_diag d;
    int rc = lm_gc_cmd_open(in, len, owner_pub, ctl_key, clock_wall_ns(), &c, body, &d);
    if (rc != 0) {
        printf("control: refused a command from %s: %s\n", ipaddr_ntoa(addr), d.msg);
        return;
    }
    if (last_len && memcmp(c.nonce, last_nonce, sizeof last_nonce) == 0) {
        send_bytes(addr, port, last_reply, last_len); /* a retry: the same answer */
        return;
    }
    if (seen_before(c.nonce)) {
        printf("control: refused a replayed command from %s\n", ipaddr_ntoa(addr));
        return;
    }
    int status = 0;
    switch (c.cmd) {
    case LM_GC_STATUS:
        break;
    case LM_GC_MIGRATE: {
        struct lm_gc_migrate m;
        rc = lm_gc_migrate_decode(body, c.body_len, &m, &d);
        if (rc != 0) {
            printf("control: migrate refused: %s\n", d.msg);
            status = -rc;
            break;
        }
        rc = mig_start(&m);
        sodium_memzero(&m, sizeof m);
        status = rc < 0 ? -rc : 0;
        break;
    }
    case LM_GC_ABORT:
        if (mig.phase == MIG_CONNECTING || mig.phase == MIG_PRECOPY)
            mig_fail(LM_MIG_ABORTED, "the owner aborted the migration");
        else
            status = LM_BUSY;
        break;
    case LM_GC_RESUME:
        status = mig_resume_here() < 0 ? LM_BUSY : 0;
        break;
    default:
        status = LM_INVAL;
        break;
    }
    sodium_memzero(body, sizeof body);
    reply(addr, port, &c, status);
}

static bool key_from_cmdline(const char *name, uint8_t out[32])
{
    const char *v = cmdline_get(name);
    if (!v)
        return false;
    if (lm_hex_decode(v, out, 32) != 0)
        lm_panic("command line: %s= takes 64 hex digits", name);
    return true;
}

void control_init(void)
{
    bool have_owner = key_from_cmdline("owner", owner_pub);
    bool have_key = key_from_cmdline("ctl_key", ctl_key);
    if (!have_owner || !have_key) {
        if (have_owner || have_key)
            printf("control: owner= and ctl_key= go together; the control port stays shut\n");
        return;
    }
    pcb = udp_new();
    if (!pcb || udp_bind(pcb, IP_ADDR_ANY, LM_GC_PORT) != ERR_OK)
        lm_panic("control: cannot bind UDP port %d", LM_GC_PORT);
    udp_recv(pcb, on_recv, NULL);
    printf("control: owner %02x%02x%02x%02x..., commands on UDP port %d\n", owner_pub[0], owner_pub[1], owner_pub[2], owner_pub[3], LM_GC_PORT);
}
